# Dockerfile — deit-server image: a build stage compiles the server (the default model,
# models/fashion-deit, is compiled into the binary), the runtime stage holds only the binary, its
# shared libraries and curl (for HEALTHCHECK).
#
#   docker build -t deit-server .
#   docker run -p 8080:8080 deit-server                                   # the built-in model
#   docker run -p 8080:8080 -p 8081:8081 deit-server                      # and KServe v2 gRPC on 8081
#   docker run -p 8080:8080 -v hf:/data -e DEIT_MODEL=hf://facebook/deit-base-distilled-patch16-224 deit-server
#   docker run -p 8080:8080 -v "$PWD/my-deit:/models/default:ro" -e DEIT_MODEL=/models/default deit-server
#
# Hub models are fetched into the Hugging Face cache under HF_HOME=/data (mount a volume there to keep
# it across containers; a read-only mount of a filled cache works with HF_HUB_OFFLINE=1).
#
# Configuration is by environment (every flag has a DEIT_* twin, e.g. DEIT_WORKERS, DEIT_API_KEY);
# `docker run deit-server --help` lists them.

ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- build ------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config libopenblas-dev libmicrohttpd-dev libjansson-dev \
        libjpeg62-turbo-dev libtiff-dev libwebp-dev liblcms2-dev libstb-dev zlib1g-dev libcurl4-openssl-dev libssl-dev \
        libgrpc++-dev libprotobuf-c-dev protobuf-c-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the server binary is built from, so edits elsewhere (docs, tests) keep this layer cached.
COPY Makefile ./
COPY model/ model/
COPY api/ api/
COPY server/ server/
# the page served at / (embedded by tools/embed_web.sh)
COPY web/ web/
COPY tools/embed_web.sh tools/
# assembled into the binary (.incbin) as builtin:fashion-deit
COPY models/fashion-deit/config.json models/fashion-deit/model.safetensors models/fashion-deit/
RUN make -j"$(nproc)" build/deit-server \
 && strip --strip-unneeded build/deit-server \
 && ./build/deit-server --help >/dev/null

# ---- runtime ----------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}
# Runtime libraries of build/deit-server (ldd: libopenblas.so.0 from the pthread variant, which pulls
# libgfortran5; libmicrohttpd.so.12; libjansson.so.4; libjpeg.so.62; libtiff.so.6; libwebp.so.7,
# libwebpdemux.so.2; liblcms2.so.2; libz.so.1; libcurl.so.4 and libcrypto.so.3 for hub downloads;
# libgrpc++.so.1.51 and libprotobuf-c.so.1 for the gRPC port; libmvec/libm/libc from libc6)
# and curl for the HEALTHCHECK. No compiler, no -dev packages.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libopenblas0-pthread libmicrohttpd12 libjansson4 libjpeg62-turbo libtiff6 libwebp7 \
        libwebpdemux2 liblcms2-2 libcurl4 libssl3 libgrpc++1.51 libprotobuf-c1 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 deit \
 && useradd --system --uid 10001 --gid deit --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin deit \
 && mkdir -p /data && chown 10001:10001 /data

COPY --from=build /src/build/deit-server /usr/local/bin/deit-server

# No model file in the image: DEIT_MODEL unset serves builtin:fashion-deit. Point DEIT_MODEL at a
# mounted model directory, or at hf://ORG/NAME to fetch one into the cache at /data.
ENV HF_HOME=/data \
    DEIT_PORT=8080 \
    DEIT_GRPC_PORT=8081 \
    DEIT_LOG_FORMAT=json

USER 10001:10001
# 8080: HTTP (REST, KServe v2, TorchServe, /metrics); 8081: KServe v2 over gRPC
EXPOSE 8080 8081
# Ready, not merely alive: 503 while the model loads and while draining after SIGTERM. With
# DEIT_TLS_CERT the port speaks HTTPS only, and plain HTTP gets no answer: the check follows the
# scheme (-k: the certificate names the service, not 127.0.0.1; nothing secret is sent). The port
# comes from DEIT_PORT: give it there, not as --port, or the check looks at 8080.
# --start-period: failed checks count only after 10 min, time to fetch a hub model first (deit-base,
# ~350 MB, on a slow link); the first check that passes makes the container healthy at once.
HEALTHCHECK --interval=10s --timeout=3s --start-period=600s --retries=3 \
    CMD scheme=http; [ -z "$DEIT_TLS_CERT" ] || scheme=https; \
        curl -fsSk -o /dev/null "$scheme://127.0.0.1:${DEIT_PORT:-8080}/readyz" || exit 1
# SIGTERM drains: readiness turns 503, the listener closes, accepted requests finish, exit 0 within
# DEIT_GRACE_S (default 30 s; give `docker stop -t` / terminationGracePeriodSeconds more than that).
STOPSIGNAL SIGTERM
# Exec form: deit-server is PID 1 and receives SIGTERM itself (it installs its own handler, so the
# kernel's PID-1 default-action rule does not swallow it; it forks nothing, so nothing to reap).
ENTRYPOINT ["/usr/local/bin/deit-server"]
