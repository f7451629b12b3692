#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the cost tools into build/bench/: hotloop (for ab.py), syscalltax (for tax.sh) and
# helpercost (+ its BPF object).
# Needs obi's build (build/gen/vmlinux.h) and the packages scripts/install-deps.sh installs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/build/bench"
mkdir -p "$out"
[ -f "$root/build/gen/vmlinux.h" ] || cmake --build "$root/build" --target bpf_skeletons
cc -O2 -Wall -Wextra -o "$out/hotloop" "$here/hotloop.c"
cc -O2 -Wall -Wextra -o "$out/syscalltax" "$here/syscalltax.c"
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$root/build/gen" \
	-c "$here/helpercost.bpf.c" -o "$out/helpercost.bpf.o"
cc -O2 -Wall -Wextra -o "$out/helpercost" "$here/helpercost.c" -l:libbpf.a -lelf -lz
echo "built $out/hotloop $out/syscalltax $out/helpercost"
