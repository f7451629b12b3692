#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sudo bench/cost/tax.sh [ROUNDS]: build/bench/syscalltax without obi, beside obi on the
# syscall hooks and beside obi on the socket hooks, interleaved (obi selects a port nobody
# uses, so it instruments nothing: this is the cost to every other process on the host).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
obi="${OBI_BIN:-$root/build/obi}"
tax="$root/build/bench/syscalltax"
[ -x "$tax" ] || { echo "tax: $tax missing: run bench/cost/build.sh" >&2; exit 1; }
err="$(mktemp)"
trap 'rm -f "$err"' EXIT
for round in $(seq "${1:-3}"); do
	for hooks in none syscalls sockets; do
		pid=""
		if [ "$hooks" != none ]; then
			OTEL_EBPF_BPF_DATA_HOOKS=$hooks OTEL_EBPF_OPEN_PORT=1 \
				OTEL_EBPF_TRACE_PRINTER=disabled "$obi" 2>"$err" &
			pid=$!
			for _ in $(seq 300); do
				grep -q "obi ready" "$err" && break
				kill -0 "$pid" 2>/dev/null || { cat "$err" >&2; exit 1; }
				sleep 0.05
			done
		fi
		echo "round $round, $hooks: $("$tax")"
		if [ -n "$pid" ]; then
			kill -INT "$pid"
			wait "$pid" || true
		fi
	done
done
