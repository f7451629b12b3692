#!/usr/bin/env bash
# Installs everything obi needs to build and test on Debian 12 (run as root).
set -euo pipefail

packages=(
	# build
	build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
	# OTLP export: libcurl (every endpoint), cJSON and protobuf-c (OTLP/JSON reads obi's
	# protobuf back with C generated from proto/ by protoc-c; the unit tests decode with it)
	libcurl4-openssl-dev libcjson-dev protobuf-c-compiler libprotobuf-c-dev
	# the YAML configuration file
	libyaml-dev
	# HTTP/2: HPACK decoding of header blocks (nghttp2's inflater); bench/sink.c serves
	# OTLP/gRPC with nghttp2's server session
	libnghttp2-dev
	# the Prometheus scrape endpoint (an HTTP server library)
	libmicrohttpd-dev
	# examples: compose files validated with `docker-compose config` (no engine needed)
	docker-compose
	# fuzzing (libFuzzer runtime for clang 14)
	libclang-rt-14-dev
	# integration tests: real servers and clients (python3-redis, python3-psycopg2 and
	# python3-pymysql are the clients' libraries, for Debian's /usr/bin/python3; libmariadb-dev
	# for test_mysql's client of server-side prepared statements)
	curl python3 nginx-light haproxy wrk iproute2 procps redis-server python3-redis
	postgresql-15 python3-psycopg2 mariadb-server python3-pymysql libmariadb-dev
	# test_prometheus: a real Prometheus scraping obi's endpoint
	prometheus
	# test_rx_overlap: keeps the kernel from resetting the connection the test's raw-socket
	# peer answers
	nftables
	# test_otlp_grpc: a grpcio receiver decoding with classes protoc generates from proto/
	python3-grpcio python3-protobuf protobuf-compiler
	# (and google.rpc.Status for its RESOURCE_EXHAUSTED answers: protobuf's any.proto, duration.proto)
	libprotobuf-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	apt-get -o Acquire::Retries=5 update -qq
	DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=5 install -y -qq --no-install-recommends "${missing[@]}"
fi

# OTLP integration tests: a node receiver decoding with the official OpenTelemetry JS
# definitions. node and npm may come from elsewhere (NodeSource): Debian's only when absent.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "installing: nodejs npm"
	apt-get -o Acquire::Retries=5 update -qq
	DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=5 install -y -qq --no-install-recommends nodejs npm
fi
# npm ci in directory $1, retried: the registry sometimes stalls (EIDLETIMEOUT) on a fresh machine
npm_ci() {
	local attempt
	for attempt in 1 2 3 4; do
		if (cd "$1" && npm ci --no-audit --no-fund --loglevel=error --fetch-retries=5 \
			--fetch-retry-mintimeout=2000 --fetch-timeout=60000); then
			return 0
		fi
		echo "npm ci in $1 failed (attempt $attempt); retrying in $((attempt * 10)) s" >&2
		sleep $((attempt * 10))
	done
	echo "npm ci in $1 failed 4 times" >&2
	return 1
}
receiver="$(cd "$(dirname "$0")/.." && pwd)/test/integration/otlp_receiver"
if [ ! -e "$receiver/node_modules/@opentelemetry/otlp-proto-exporter-base/package.json" ]; then
	echo "installing: npm packages of $receiver (npm ci)"
	npm_ci "$receiver"
fi
# W3C interop test: a Node.js service instrumented with the OpenTelemetry JS SDK.
sdk="$(cd "$(dirname "$0")/.." && pwd)/test/integration/node_sdk"
if [ ! -d "$sdk/node_modules/@opentelemetry/sdk-trace-node" ]; then
	echo "installing: npm packages of $sdk (npm ci)"
	npm_ci "$sdk"
fi
