# Dockerfile — deit-server image: a build stage compiles the server, the runtime stage holds only the
# binary, its shared libraries, one default model and curl (for HEALTHCHECK).
#
#   docker build -t deit-server .                                   # default model: models/fashion-deit
#   docker build --build-arg MODEL_DIR=path/to/model -t deit-server .   # bake another model dir
#   docker run -p 8080:8080 deit-server
#   docker run -p 8080:8080 -p 8081:8081 deit-server                     # and gRPC on 8081
#   docker run -p 8080:8080 -v "$PWD/my-deit:/models/default:ro" deit-server   # replace the default
#
# Configuration is by environment (every flag has a DEIT_* twin, e.g. DEIT_WORKERS, DEIT_API_KEY);
# `docker run deit-server --help` lists them.

ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- build ------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config libopenblas-dev libmicrohttpd-dev libjansson-dev \
        libjpeg62-turbo-dev libtiff-dev libwebp-dev liblcms2-dev libstb-dev zlib1g-dev libgrpc++-dev \
        libprotobuf-c-dev protobuf-c-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the server binary is built from, so edits elsewhere (docs, tests) keep this layer cached.
COPY Makefile ./
COPY model/ model/
COPY api/ api/
COPY server/ server/
RUN make -j"$(nproc)" build/deit-server \
 && strip --strip-unneeded build/deit-server \
 && ./build/deit-server --help >/dev/null

# ---- runtime ----------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}
# Runtime libraries of build/deit-server (ldd: libopenblas.so.0 from the pthread variant, which pulls
# libgfortran5; libmicrohttpd.so.12; libjansson.so.4; libjpeg.so.62; libtiff.so.6; libwebp.so.7,
# libwebpdemux.so.2; liblcms2.so.2; libz.so.1; libgrpc++.so.1.51 and libprotobuf-c.so.1 for the
# gRPC port; libmvec/libm/libc from libc6) and curl for the HEALTHCHECK. No compiler, no -dev packages.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libopenblas0-pthread libmicrohttpd12 libjansson4 libjpeg62-turbo libtiff6 libwebp7 \
        libwebpdemux2 liblcms2-2 libgrpc++1.51 libprotobuf-c1 curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 deit \
 && useradd --system --uid 10001 --gid deit --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin deit

COPY --from=build /src/build/deit-server /usr/local/bin/deit-server

# The default model. Mount a model directory over /models/default to replace it, or mount a
# directory of models at /models and point DEIT_MODEL at one of them.
ARG MODEL_DIR=models/fashion-deit
COPY ${MODEL_DIR}/ /models/default/

ENV DEIT_MODEL=/models/default \
    DEIT_PORT=8080 \
    DEIT_GRPC_PORT=8081 \
    DEIT_LOG_FORMAT=json

USER 10001:10001
# 8080: HTTP (REST, KServe v2, TorchServe, /metrics); 8081: KServe v2 over gRPC
EXPOSE 8080 8081
# Ready, not merely alive: 503 while the model loads and while draining after SIGTERM.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${DEIT_PORT:-8080}/readyz" || exit 1
# SIGTERM drains: readiness turns 503, the listener closes, accepted requests finish, exit 0 within
# DEIT_GRACE_S (default 30 s; give `docker stop -t` / terminationGracePeriodSeconds more than that).
STOPSIGNAL SIGTERM
# Exec form: deit-server is PID 1 and receives SIGTERM itself (it installs its own handler, so the
# kernel's PID-1 default-action rule does not swallow it; it forks nothing, so nothing to reap).
ENTRYPOINT ["/usr/local/bin/deit-server"]
