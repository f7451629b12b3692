#!/usr/bin/env bash
# Installs everything obi needs to build and test on Debian 12 (run as root).
set -euo pipefail

packages=(
	# build
	build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
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
