#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# obi's benchmark suite in one command: sudo bench/run.sh [--quick] [--scenarios 123456789]
# Builds obi and the paced load generator, installs the Node.js SDK packages from the committed
# lock file if needed, runs bench/bench.py and writes bench/results/<date>.md (and .json).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${OBI_BUILD_DIR:-$root/build}"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root: sudo bench/run.sh $*" >&2
	exit 1
fi
for tool in nginx wrk bpftool node npm python3 cc curl; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done

# obi (retry: someone may be in the middle of an edit)
if [ ! -d "$build" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
for attempt in 1 2 3; do
	if cmake --build "$build" -j2 --target obi exportbench >"$build/bench-build.log" 2>&1; then
		break
	fi
	if [ "$attempt" = 3 ]; then
		tail -30 "$build/bench-build.log" >&2
		echo "bench: building obi failed (log: $build/bench-build.log)" >&2
		exit 1
	fi
	echo "bench: build failed, retrying in 60 s" >&2
	sleep 60
done

# the floor of obi's hooks (same hooks, programs that stop after the pid filter), its own build
floor="${OBI_FLOOR_BUILD_DIR:-$build-floor}"
if [ ! -d "$floor" ]; then
	cmake -S "$root" -B "$floor" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOBI_BENCH_FLOOR=ON >/dev/null
fi
if ! cmake --build "$floor" -j2 --target obi >"$floor/bench-build.log" 2>&1; then
	tail -30 "$floor/bench-build.log" >&2
	echo "bench: building the floor obi failed (log: $floor/bench-build.log)" >&2
	exit 1
fi

# the paced load generator
mkdir -p "$build/bench"
if [ ! -x "$build/bench/pace" ] || [ "$here/pace.c" -nt "$build/bench/pace" ]; then
	cc -O2 -Wall -Wextra -o "$build/bench/pace" "$here/pace.c"
fi
# the OTLP sink (stands in for a collector)
if [ ! -x "$build/bench/sink" ] || [ "$here/sink.c" -nt "$build/bench/sink" ]; then
	cc -O2 -Wall -Wextra -o "$build/bench/sink" "$here/sink.c" -lnghttp2 -lcjson -lz
fi

# the OpenTelemetry JS SDK for scenario 6 (versions pinned by package-lock.json)
if [ ! -e "$here/node/node_modules/@opentelemetry/sdk-trace-node/package.json" ]; then
	(cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error)
fi

# a private copy, so that a rebuild by someone else during the run cannot mix two versions
cp "$build/obi" "$build/bench/obi"
cp "$build/exportbench" "$build/bench/exportbench"
cp "$floor/obi" "$build/bench/obi-floor"
export OBI_BIN="$build/bench/obi" PACE_BIN="$build/bench/pace" SINK_BIN="$build/bench/sink" \
	EXPORTBENCH_BIN="$build/bench/exportbench" OBI_FLOOR_BIN="$build/bench/obi-floor"
exec python3 "$here/bench.py" "$@"
