# deit-server — build, test and run. `make` builds build/deit-server, build/deit-predict and
# build/deit-bench; `make run` serves the default model; `make test` runs the whole suite.

CC      ?= cc
OPT     ?= -O2
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
CSTD    := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
CFLAGS  := $(CSTD) $(OPT) -g -pthread $(WARN) -Imodel -Iapi -Iserver -I. $(EXTRA_CFLAGS)
LDLIBS  := -lopenblas -lmvec -lmicrohttpd -ljansson -ljpeg -lm -lpthread
TEST_LDLIBS := $(LDLIBS) -lcurl

SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer

# Engine and API: everything the binaries share. Server objects minus main() are linked into tests.
LIB_SRC    := $(sort $(wildcard model/*.c api/*.c))
SERVER_SRC := $(filter-out server/main.c,$(sort $(wildcard server/*.c)))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRC  := $(sort $(wildcard tests/integration/test_*.c))

B := build
LIB_OBJ      := $(LIB_SRC:%.c=$(B)/obj/%.o)
SERVER_OBJ   := $(SERVER_SRC:%.c=$(B)/obj/%.o)
ASAN_LIB_OBJ := $(LIB_SRC:%.c=$(B)/asan/obj/%.o) $(SERVER_SRC:%.c=$(B)/asan/obj/%.o)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(B)/asan/%)
INTEG_BIN    := $(INTEG_SRC:tests/integration/%.c=$(B)/%)

BINS := $(B)/deit-server $(B)/deit-predict $(B)/deit-bench

.PHONY: all deps run test test-unit test-integration asan-server tsan-server tsan-test clean
all: $(BINS)

# ---- release objects and binaries ---------------------------------------------------------------
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/deit-server: $(B)/obj/server/main.o $(SERVER_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/deit-predict: $(B)/obj/tools/deit_predict.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/deit-bench: $(B)/obj/bench/deit_bench.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/gemm-bench: $(B)/obj/bench/gemm_bench.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# ---- sanitizer builds (same sources, separate object tree) ------------------------------------
$(B)/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@
$(B)/asan/test_%: $(B)/asan/obj/tests/unit/test_%.o $(ASAN_LIB_OBJ)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -o $@ $(TEST_LDLIBS)
$(B)/asan/deit-server: $(B)/asan/obj/server/main.o $(ASAN_LIB_OBJ)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)
$(B)/asan/deit-predict: $(B)/asan/obj/tools/deit_predict.o $(ASAN_LIB_OBJ)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

$(B)/tsan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TSAN_FLAGS) -MMD -MP -c $< -o $@
$(B)/tsan/deit-server: $(B)/tsan/obj/server/main.o $(SERVER_SRC:%.c=$(B)/tsan/obj/%.o) $(LIB_SRC:%.c=$(B)/tsan/obj/%.o)
	$(CC) $(CFLAGS) $(TSAN_FLAGS) $^ -o $@ $(LDLIBS)

$(B)/tsan/test_%: $(B)/tsan/obj/tests/unit/test_%.o $(LIB_SRC:%.c=$(B)/tsan/obj/%.o) $(SERVER_SRC:%.c=$(B)/tsan/obj/%.o)
	$(CC) $(CFLAGS) $(TSAN_FLAGS) $^ -o $@ $(TEST_LDLIBS)

# Integration tests are plain (unsanitized) libcurl clients; the server they start may be sanitized.
$(B)/test_%: $(B)/obj/tests/integration/test_%.o
	$(CC) $(CFLAGS) $^ -o $@ $(TEST_LDLIBS)

asan-server: $(B)/asan/deit-server $(B)/asan/deit-predict
tsan-server: $(B)/tsan/deit-server
# The engine's thread team under ThreadSanitizer (bit-identical results, no reported race).
tsan-test: $(B)/tsan/test_threads
	@TSAN_OPTIONS="halt_on_error=1:$${TSAN_OPTIONS:-}" sh tests/run_unit.sh $(B)/tsan/test_threads

# ---- packages, run, test ------------------------------------------------------------------------
deps:
	@sh tools/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./$(B)/deit-server --model $${DEIT_MODEL:-models/fashion-deit}

test-unit: $(UNIT_BIN)
	@sh tests/run_unit.sh $(UNIT_BIN)

test-integration: all asan-server $(INTEG_BIN)
	@sh tests/run_integration.sh $(INTEG_BIN)

test: deps
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-integration

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
