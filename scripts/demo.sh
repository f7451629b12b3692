#!/usr/bin/env bash
# First-run: install dependencies, build, and run obi. With no selector in the environment
# obi starts its demo (a proxy, a backend and a client) and prints their traces.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "obi needs root: run it with sudo" >&2
	exit 1
fi
./scripts/install-deps.sh
./scripts/build.sh
exec ./build/obi "$@"
