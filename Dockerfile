# SPDX-License-Identifier: Apache-2.0
# obi built from source on Debian 12, shipped in a small runtime image:
#   docker build -t obi:local .
#   docker run --rm --privileged --pid=host -v /sys/fs/cgroup:/sys/fs/cgroup \
#       -v /sys/fs/bpf:/sys/fs/bpf -e OTEL_EBPF_OPEN_PORT=8080 obi:local
# /sys/fs/bpf is the host's bpffs: the connections obi put in its SOCKHASH keep their
# (pass-through) programs until they close through the map obi pins there; in a bpffs of the
# container's own, the pin — and with it what those connections still hold — dies with it.
# The BPF side is compiled once (CO-RE) and relocated on the kernel it runs on. vmlinux.h comes
# from the BTF of the kernel that runs the build (/sys/kernel/btf/vmlinux, visible in build
# containers); any kernel with BTF will do.

FROM debian:12 AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev \
        protobuf-c-compiler libprotobuf-c-dev libcurl4-openssl-dev libyaml-dev libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
    && cmake --build /build --target obi -j"$(nproc)" \
    && /build/obi --version

FROM debian:12-slim
# The shared libraries obi links (libbpf is linked statically; libmicrohttpd serves the
# Prometheus endpoint), and libcurl with CA certificates,
# which obi loads at run time for https OTLP endpoints only.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libelf1 zlib1g libcurl4 libyaml-0-2 libmicrohttpd12 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/obi /usr/local/bin/obi
ENTRYPOINT ["/usr/local/bin/obi"]
