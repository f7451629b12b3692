#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, integration as root, fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DOBI_FUZZ=ON
cd build
ctest --output-on-failure "$@"
