# syntax=docker/dockerfile:1
# ovseg serving images, CPU (default) or CUDA, multi-stage and non-root:
#   docker build -t ovseg:cpu .                          # ~1 GB: no CUDA library inside
#   docker build -t ovseg:cuda --build-arg VARIANT=cuda .
#   docker run -p 50051:50051 -p 9464:9464 ovseg:cpu     # serves the demo model at once
# Layers: the Debian packages and the torch wheel (scripts/setup.sh) come before the
# sources, so a source edit rebuilds from the compile step on; ccache persists in a build
# cache mount. Listen addresses and ports: OVSEG_LISTEN_ADDRESS, OVSEG_PORT,
# OVSEG_METRICS_ADDRESS, OVSEG_METRICS_PORT, OVSEG_HTTP_ADDRESS, OVSEG_HTTP_PORT (or the
# flags of the same names).
# What goes into /opt/ovseg is scripts/stage_runtime.sh's tree (docs/deploy.md).
ARG VARIANT=cpu

FROM debian:12 AS deps
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    ca-certificates patchelf && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*

FROM deps AS build
ARG VARIANT
COPY . .
RUN --mount=type=cache,target=/root/.cache/ccache \
    scripts/build.sh && scripts/stage_runtime.sh "$VARIANT" /stage

FROM debian:12-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libopencv-imgcodecs406 libopencv-imgproc406 \
      libopencv-core406 libjpeg62-turbo libprometheus-cpp-pull1.0 libprometheus-cpp-core1.0 \
      libabsl20220623 libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/ovseg --create-home ovseg
COPY --from=build /stage /opt/ovseg
# configs/server.pbtxt keeps verified uploads in ./checkpoints: the one writable place.
RUN mkdir -p /opt/ovseg/checkpoints && chown 10001:10001 /opt/ovseg/checkpoints
WORKDIR /opt/ovseg
USER 10001:10001
ENV OVSEG_LISTEN_ADDRESS=0.0.0.0:50051 \
    OVSEG_METRICS_ADDRESS=0.0.0.0:9464 \
    OVSEG_HTTP_ADDRESS=0.0.0.0:8080 \
    OVSEG_ALLOW_INSECURE_NON_LOOPBACK=true
EXPOSE 50051 9464 8080
ENTRYPOINT ["/opt/ovseg/bin/ovseg-server", "--config", "/opt/ovseg/configs/server.pbtxt"]
