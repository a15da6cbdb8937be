# deit-server — build, test and run. `make` builds build/deit-server, build/deit-predict,
# build/deit-bench and build/deit-eval; `make run` serves the default model; `make test` runs the whole suite.

CC      ?= cc
OPT     ?= -O2
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
CSTD    := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
# The engine's three parts: load/ (checkpoint -> config + weights), image/ (bytes -> input tensor),
# nn/ (the numeric core); model/ itself holds the public header and the glue between them.
MODEL_DIRS := model model/load model/image model/nn
INCLUDES := $(MODEL_DIRS:%=-I%) -Iapi -Iserver -Itools -I. -Ibuild/gen
CFLAGS  := $(CSTD) $(OPT) -g -pthread $(WARN) $(INCLUDES) $(EXTRA_CFLAGS)
# libtiff and libwebp(demux): the decoders Pillow itself uses for TIFF and WebP; zlib for the PNG
# chunk CRCs Pillow checks; LittleCMS for the Lab -> sRGB conversion Pillow does with it.
IMAGE_LIBS := -ljpeg -ltiff -lwebpdemux -lwebp -llcms2 -lz
# libcurl + libcrypto (SHA-256): hub downloads (model/load/hub*.c)
HUB_LIBS := -lcurl -lcrypto
# protobuf-c: the gRPC message codec (server/grpc_codec.c) rides with the server objects that tests
# and sanitizer tools link too; --as-needed keeps it off binaries that do not use it.
LDLIBS  := -lopenblas -lmvec -lmicrohttpd -ljansson $(IMAGE_LIBS) $(HUB_LIBS) -lz -lm -lpthread \
           -Wl,--as-needed -lprotobuf-c -Wl,--no-as-needed
TEST_LDLIBS := $(LDLIBS)

SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer

# ---- gRPC (KServe v2 over gRPC, server/grpc_*) ------------------------------------------------------
# Messages: protobuf-c code generated here from server/proto/*.proto (protoc-c), part of the server
# objects (unit tests and the fuzz target use the codec too). Transport: grpc++ in one C++ file
# (server/grpc_transport.cc), linked with the front end (grpc_server.c, grpc_infer.c) into the servers only.
CXX      ?= c++
CXXFLAGS := -std=c++17 $(OPT) -g -pthread -Wall -Wextra -Werror -Iserver $(EXTRA_CXXFLAGS)
GRPC_LDLIBS := -Wl,--as-needed $(shell pkg-config --libs grpc++ 2>/dev/null || echo -lgrpc++ -lgrpc -lgpr) \
               -Wl,--no-as-needed
PROTOS   := $(sort $(wildcard server/proto/*.proto))
GEN_SRC  := $(PROTOS:server/proto/%.proto=build/gen/%.pb-c.c)
GEN_HDR  := $(GEN_SRC:.c=.h)
GRPC_FRONT_SRC := server/grpc_server.c server/grpc_infer.c
build/gen/%.pb-c.c build/gen/%.pb-c.h: server/proto/%.proto
	@mkdir -p build/gen
	$(Q)protoc-c --c_out=build/gen -Iserver/proto $<

# Engine and API: everything the binaries share. Server objects minus main() are linked into tests.
LIB_SRC    := $(sort $(wildcard $(MODEL_DIRS:%=%/*.c) api/*.c))
# The web page at GET / (web/*): one HTML document with its inline style and script, embedded in the
# server as bytes plus a Content-Security-Policy holding their hashes (tools/embed_web.sh).
WEB_SRC    := build/gen/web_page.c
SERVER_SRC := $(filter-out server/main.c $(GRPC_FRONT_SRC),$(sort $(wildcard server/*.c))) $(WEB_SRC) $(GEN_SRC)
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRC  := $(sort $(wildcard tests/integration/test_*.c))

# `make V=1` shows the full commands.
Q := $(if $(V),,@)

B := build
LIB_OBJ      := $(LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(B)/asan/%)
INTEG_BIN    := $(INTEG_SRC:tests/integration/%.c=$(B)/%)

BINS := $(B)/deit-server $(B)/deit-predict $(B)/deit-bench $(B)/deit-eval

.SECONDARY:
.PHONY: all deps run eval test test-unit test-pillow test-cli test-hub test-model test-integration test-grpc soak asan-server tsan-server tsan-test clean
.PHONY: fuzz fuzz-smoke fuzz-build
all: $(BINS)

# ---- object trees and what links from them ------------------------------------------------------
# Every flavour compiles the same sources into its own tree: release $(B)/obj, ASan/UBSan
# $(B)/asan/obj, ThreadSanitizer $(B)/tsan/obj (and libFuzzer $(B)/fuzz/obj, below).
# $(call obj_rules,TREE,C-COMPILE,C++-COMPILE): TREE's compile rules, each command with its flags.
define obj_rules
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(Q)$(2) $$(FILE_OPT) -MMD -MP -c $$< -o $$@
$(1)/obj/%.o: %.cc
	@mkdir -p $$(dir $$@)
	$$(Q)$(3) -MMD -MP -c $$< -o $$@
endef
# $(call tree_rules,TREE,FLAGS): TREE's objects (compiled with FLAGS) and the server, the CLI and
# image-dump linked from them. The resize loops (integer) and the normalisation (one float op chain
# per element, nothing reassociated) only vectorise at -O3: 500x375 JPEG preprocessing 1.52 ->
# 1.27 ms, same bytes; every tree gets it, so the parity tests check the code that ships.
define tree_rules
$(call obj_rules,$(1),$$(CC) $$(CFLAGS) $(2),$$(CXX) $$(CXXFLAGS) $(2))
$(1)/obj/model/image/resize.o $(1)/obj/model/image/preprocess.o: FILE_OPT := -O3
$(1)/deit-server: $(1)/obj/server/main.o $(LIB_SRC:%.c=$(1)/obj/%.o) $(SERVER_SRC:%.c=$(1)/obj/%.o) \
    $(call GRPC_OBJ,$(1))
	$$(Q)$$(CXX) $$(CFLAGS) $(2) $$^ -o $$@ $$(LDLIBS) $$(GRPC_LDLIBS)
$(1)/deit-predict: $(1)/obj/tools/deit_predict.o $(1)/obj/tools/cli_model.o $(1)/obj/tools/hub_progress.o $(LIB_SRC:%.c=$(1)/obj/%.o)
	$$(Q)$$(CC) $$(CFLAGS) $(2) $$^ -o $$@ $$(LDLIBS)
# The engine's decoder/preprocessing output for tests/pillow/compare.py (Pillow parity).
$(1)/image-dump: $(1)/obj/tests/pillow/image_dump.o $(LIB_SRC:%.c=$(1)/obj/%.o)
	$$(Q)$$(CC) $$(CFLAGS) $(2) $$^ -o $$@ $$(LDLIBS)
endef
# $(call unit_rules,TREE,FLAGS): unit tests (tests/unit/test_<t>.c -> TREE/test_<t>) link the
# library and server objects of a sanitizer tree.
define unit_rules
$(1)/test_%: $(1)/obj/tests/unit/test_%.o $(LIB_SRC:%.c=$(1)/obj/%.o) $(SERVER_SRC:%.c=$(1)/obj/%.o)
	$$(Q)$$(CC) $$(CFLAGS) $(2) $$^ -o $$@ $$(TEST_LDLIBS)
endef
# generated headers exist before anything that may include them is compiled
GEN_USERS := $(foreach t,obj asan/obj tsan/obj fuzz/obj,$(foreach f,grpc_codec grpc_server grpc_infer,$(B)/$(t)/server/$(f).o))
$(GEN_USERS) $(B)/fuzz/obj/tests/fuzz/fuzz_grpc.o $(B)/asan/obj/tests/unit/test_grpc_codec.o: | $(GEN_HDR)
GRPC_OBJ = $(GRPC_FRONT_SRC:%.c=$(1)/obj/%.o) $(1)/obj/server/grpc_transport.o

$(eval $(call tree_rules,$(B),))
$(eval $(call tree_rules,$(B)/asan,$(SAN_FLAGS)))
$(eval $(call tree_rules,$(B)/tsan,$(TSAN_FLAGS)))
$(eval $(call unit_rules,$(B)/asan,$(SAN_FLAGS)))
$(eval $(call unit_rules,$(B)/tsan,$(TSAN_FLAGS)))

# The built-in default model is assembled into hub_builtin.o with .incbin (paths relative to the
# repository root, where make runs); -MMD cannot see those, so the files are listed here.
BUILTIN_FILES := models/fashion-deit/model.safetensors models/fashion-deit/config.json
$(foreach t,$(B) $(B)/asan $(B)/tsan $(B)/fuzz,$(t)/obj/model/load/hub_builtin.o): $(BUILTIN_FILES)

$(B)/deit-bench: $(B)/obj/bench/deit_bench.o $(B)/obj/tools/cli_model.o $(B)/obj/tools/hub_progress.o $(LIB_OBJ)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
# HTTP evaluation client (no engine inside: it only talks to a server)
$(B)/deit-eval: $(B)/obj/tools/deit_eval.o
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lcurl -ljansson -lz -lm
# Decode + preprocessing per encoded image (bench/image_bench.sh).
$(B)/image-bench: $(B)/obj/bench/image_bench.o $(LIB_OBJ)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/gemm-bench: $(B)/obj/bench/gemm_bench.o $(LIB_OBJ)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
# Our bf16/int8 kernels vs oneDNN on a DeiT block's linear shapes (needs libdnnl-dev; not in `make`).
$(B)/lp-bench: $(B)/obj/bench/lp_bench.o $(LIB_OBJ)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -ldnnl -lgomp

$(WEB_SRC): $(wildcard web/*) tools/embed_web.sh
	@mkdir -p $(dir $@)
	$(Q)sh tools/embed_web.sh web $@

# ---- fuzzing (libFuzzer; clang only, separate object tree) ------------------------------------
# Library objects get coverage instrumentation (fuzzer-no-link); each tests/fuzz/fuzz_<t>.c links
# with libFuzzer's main. `make fuzz` runs each target FUZZ_SECONDS; `make fuzz-smoke` (part of
# `make test`) runs each FUZZ_SMOKE_SECONDS and replays tests/fuzz/regressions/<t>/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 6
FUZZ_CFLAGS  := $(CSTD) -O1 -g -pthread $(WARN) $(INCLUDES) $(SAN_FLAGS)
FUZZ_LIB_SRC := $(LIB_SRC) server/grpc_codec.c $(GEN_SRC)
FUZZ_TARGETS := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
FUZZ_LDLIBS  := -lopenblas -lmvec -ljansson $(IMAGE_LIBS) $(HUB_LIBS) -lz -lm -lpthread -lprotobuf-c

# Comparison tracing in the resampling loops took two thirds of fuzz_image's time for no
# coverage (pixel arithmetic, not parsing); edges are still counted there.
$(B)/fuzz/obj/model/image/resize.o: FUZZ_COV := -fno-sanitize-coverage=trace-cmp
# The packed GEMMs (f32, and bf16/int8 in gemm_lp.c) are all intrinsics and never reached by a fuzz
# target (none runs a forward pass); clang 14 spends over ten minutes instrumenting each with
# ASan/UBSan, so they are built plain.
$(B)/fuzz/obj/model/nn/gemm.o $(B)/fuzz/obj/model/nn/gemm_lp.o: $(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(CSTD) -O1 -g -pthread $(WARN) $(INCLUDES) -MMD -MP -c $< -o $@
$(eval $(call obj_rules,$(B)/fuzz,$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $$(FUZZ_COV),\
    $$(CXX) $$(CXXFLAGS) $$(SAN_FLAGS) -fsanitize=fuzzer-no-link))
$(B)/fuzz/fuzz_%: $(B)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_SRC:%.c=$(B)/fuzz/obj/%.o)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(FUZZ_LDLIBS)

fuzz-build: $(FUZZ_BIN)
fuzz: $(FUZZ_BIN)
	@bash tests/fuzz/run_fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)
fuzz-smoke: $(FUZZ_BIN)
	@bash tests/fuzz/run_fuzz.sh --smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_BIN)

# Integration tests are plain (unsanitized) libcurl clients; the server they start may be sanitized.
$(B)/test_%: $(B)/obj/tests/integration/test_%.o
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(TEST_LDLIBS)

# The soak client (tests/integration/soak.c): not a test_* binary, so run_integration.sh runs it once,
# against the release server only.
$(B)/soak: $(B)/obj/tests/integration/soak.o
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(TEST_LDLIBS)

asan-server: $(B)/asan/deit-server $(B)/asan/deit-predict
tsan-server: $(B)/tsan/deit-server
# The engine's thread team under ThreadSanitizer (bit-identical results, no reported race).
tsan-test: $(B)/tsan/test_threads
	@TSAN_OPTIONS="halt_on_error=1:$${TSAN_OPTIONS:-}" bash tests/run_unit.sh $(B)/tsan/test_threads

# ---- packages, run, test ------------------------------------------------------------------------
# `make run` and each stage of `make test` build with one job per core unless the command line
# already asks for a number (make -jN): the suite builds four object trees (release, ASan/UBSan,
# TSan, libFuzzer), most of a CI run's compile time. Expanded in recipes, where MAKEFLAGS holds -j.
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
PARALLEL = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(JOBS))

deps:
	@sh tools/install-deps.sh

run: deps
	@$(MAKE) $(PARALLEL) --no-print-directory all
	./$(B)/deit-server --model $${DEIT_MODEL:-builtin:fashion-deit}

# Accuracy of the default model over HTTP on the 10,000 Fashion-MNIST test images;
# `make eval PRECISION=bf16` (or int8) serves it at that precision.
eval: deps all
	@$(if $(PRECISION),DEIT_PRECISION=$(PRECISION)) sh tools/eval_models.sh $${EVAL_LIMIT:-10000}

# `make test-unit T=config` (or T="config parity") runs only the named unit tests;
# `make test-integration T=hostile` only the named integration binaries (no soak, no smoke).
ifneq ($(T),)
ifneq ($(filter test-unit,$(MAKECMDGOALS)),)
$(foreach t,$(T),$(if $(wildcard tests/unit/test_$(t).c),,$(error no unit test "$(t)": tests/unit/test_$(t).c does not exist)))
endif
ifneq ($(filter test-integration,$(MAKECMDGOALS)),)
$(foreach t,$(T),$(if $(wildcard tests/integration/test_$(t).c),,$(error no integration test "$(t)": tests/integration/test_$(t).c does not exist)))
endif
endif
UNIT_RUN  := $(if $(T),$(T:%=$(B)/asan/test_%),$(UNIT_BIN))
INTEG_RUN := $(if $(T),$(T:%=$(B)/test_%),$(INTEG_BIN))

# run_unit.sh runs test_parity twice: on this CPU's kernels and on the OpenBLAS backend (DEIT_ISA=blas).
test-unit: $(UNIT_RUN)
	@bash tests/run_unit.sh $(UNIT_RUN)

# Pillow parity on ../shared/fixtures/pillow-dev (tests/pillow/run.sh; python3-pil, python3-torch).
test-pillow: $(B)/asan/image-dump $(B)/deit-predict $(B)/deit-server
	@sh tests/pillow/run.sh

test-cli: $(B)/deit-predict $(B)/asan/deit-predict $(B)/deit-server $(B)/deit-eval $(B)/deit-bench
	@sh tests/test_cli.sh

# Hub models (hf://ORG/NAME) against the loopback mock hub in tests/hub/: cache layout, offline,
# failure modes, concurrent fetches, /readyz "downloading", the built-in default model.
test-hub: $(B)/deit-predict $(B)/asan/deit-predict $(B)/deit-server $(B)/deit-bench
	@bash tests/test_hub.sh

# The shipped default model through the server: examples and accuracy over HTTP.
test-model: $(B)/deit-server $(B)/deit-eval
	@sh tests/test_default_model.sh

# run_integration.sh soaks for 5 minutes unless DEIT_SOAK_SECONDS says otherwise; `make soak` runs the
# soak on its own.
test-integration: all asan-server tsan-server $(INTEG_RUN) $(B)/soak
	@$(if $(T),DEIT_TEST_ONLY=1) sh tests/run_integration.sh $(INTEG_RUN)

# KServe v2 over gRPC end to end (tests/grpc: a Node @grpc/grpc-js client on the official protocol files),
# against the release and the ASan/UBSan servers.
test-grpc: $(B)/deit-server $(B)/asan/deit-server
	@sh tests/grpc/run.sh

soak: all $(B)/soak
	@DEIT_SERVER_BIN=$(B)/deit-server DEIT_SOAK_SECONDS=$${DEIT_SOAK_SECONDS:-300} ./$(B)/soak

# The stages of `make test`, in order; `make test WITH_CONTAINER=1` (CI) also builds and runs the
# container image with podman.
TEST_STAGES := test-unit fuzz-smoke test-pillow test-cli test-hub test-model test-integration test-grpc test-deploy test-browser $(if $(WITH_CONTAINER),test-container)
test: deps
	@MAKE="$(MAKE) $(PARALLEL)" bash tests/run_all.sh $(TEST_STAGES)

# ---- deployment (deploy/, Dockerfile; scripts in tests/deploy/) ---------------------------------
# The model the nginx deployment test serves (the container test serves the built-in one).
DEPLOY_MODEL ?= models/fashion-deit

.PHONY: test-deploy test-container
# yamllint on deploy/, the start-up allowances (a hub download fits), then nginx (deploy/nginx.conf)
# in front of three loopback replicas.
test-deploy: $(B)/deit-server
	@sh tests/deploy/yamllint.sh
	@sh tests/deploy/startup_budget.sh
	@DEPLOY_MODEL=$(DEPLOY_MODEL) bash tests/deploy/nginx.sh

# The web page at / in headless chromium (playwright-core from npm into tests/browser/node_modules):
# two example images, labels as the API, heatmaps drawn, errors, API key, through deploy/nginx.conf
# and under a sub-path. Skipped (and says so) where chromium is not installed.
.PHONY: test-browser
test-browser: $(B)/deit-server
	@bash tests/browser/run.sh

# podman build of the Dockerfile and two containers (slow-ish: ~1-2 min cold, seconds when cached).
test-container:
	@DEPLOY_MODEL=$(DEPLOY_MODEL) bash tests/deploy/container.sh

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
