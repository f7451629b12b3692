#!/usr/bin/env bash
# Installs everything obi needs to build and test on Debian 12 (run as root).
set -euo pipefail

packages=(
	# build
	build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
	# OTLP export: libcurl's headers (obi loads libcurl.so.4, which comes with them, at run
	# time for https endpoints only); protobuf-c for the unit tests, which decode obi's output
	# with C generated from proto/ by protoc-c
	libcurl4-openssl-dev protobuf-c-compiler libprotobuf-c-dev
	# the YAML configuration file
	libyaml-dev
	# examples: compose files validated with `docker-compose config` (no engine needed)
	docker-compose
	# fuzzing (libFuzzer runtime for clang 14)
	libclang-rt-14-dev
	# integration tests: real servers and clients
	curl python3 nginx-light haproxy wrk iproute2 procps
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# OTLP integration tests: a node receiver decoding with the official OpenTelemetry JS
# definitions. node and npm may come from elsewhere (NodeSource): Debian's only when absent.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "installing: nodejs npm"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
receiver="$(cd "$(dirname "$0")/.." && pwd)/test/integration/otlp_receiver"
if [ ! -e "$receiver/node_modules/@opentelemetry/otlp-proto-exporter-base/package.json" ]; then
	echo "installing: npm packages of $receiver (npm ci)"
	(cd "$receiver" && npm ci --no-audit --no-fund --loglevel=error)
fi
# W3C interop test: a Node.js service instrumented with the OpenTelemetry JS SDK.
sdk="$(cd "$(dirname "$0")/.." && pwd)/test/integration/node_sdk"
if [ ! -d "$sdk/node_modules/@opentelemetry/sdk-trace-node" ]; then
	echo "installing: npm packages of $sdk (npm ci)"
	(cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error)
fi
