# CPU and CUDA image (the torch wheel carries the CUDA runtime; the same binary runs on
# both). Build: docker build -t ovseg . ; run: docker run -p 50051:50051 -p 9464:9464 ovseg
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv sudo git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/setup.sh && scripts/build.sh

FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libopencv-imgcodecs406 libopencv-imgproc406 \
      libopencv-core406 libjpeg62-turbo libprometheus-cpp-pull1.0 libprometheus-cpp-core1.0 \
      libabsl20220623 libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/.venv/lib/python3.11/site-packages/torch/lib /opt/ovseg/torch/lib
COPY --from=build /src/.venv/lib/python3.11/site-packages/nvidia /opt/ovseg/nvidia
COPY --from=build /src/build/server/ovseg-server /src/build/client/ovseg \
     /src/build/tools/ovseg-train /src/build/tools/ovseg-eval /src/build/tools/ovseg-synth \
     /opt/ovseg/bin/
COPY configs /opt/ovseg/configs
# The embedded demo model configs/server.pbtxt serves (paths relative to WORKDIR).
COPY models /opt/ovseg/models
ENV LD_LIBRARY_PATH=/opt/ovseg/torch/lib
WORKDIR /opt/ovseg
EXPOSE 50051 9464
ENTRYPOINT ["/opt/ovseg/bin/ovseg-server", "--config", "/opt/ovseg/configs/server.pbtxt"]
