#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: in build/ unit, integration (as root),
# examples and fuzz (libFuzzer, OBI_FUZZ_SECONDS each), after building (only) a Release build
# in build-release/ and a clang build in build-clang/; then the unit and integration tests
# again against obi built with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/.
# Extra arguments go to both ctest runs. OBI_ASAN=0 skips the sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DOBI_FUZZ=ON
rc=0

# Build only, no tests: Release with gcc (other optimisations, other warnings) and user space
# with clang, each in its own folder, so that -Werror holds for both and for every build type.
for build in build-release:gcc:Release build-clang:clang:RelWithDebInfo; do
	IFS=: read -r dir cc type <<<"$build"
	{ CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" >/dev/null &&
		cmake --build "$dir" -j"$(nproc)"; } ||
		{ echo "test.sh: the $type build with $cc in $dir/ failed" >&2; rc=1; }
done
(cd build && ctest --output-on-failure "$@") || rc=1

if [ "${OBI_ASAN:-1}" != 0 ]; then
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOBI_SANITIZE=ON >/dev/null
	cmake --build build-asan -j"$(nproc)"
	# A finding aborts the process (a failed exit code, and the integration harness fails
	# a test whose obi printed a sanitizer report); leaks are checked at every exit. This
	# pass runs obi on the syscall hooks (the first used the socket tracepoints where the
	# kernel has them), so both kernel-side paths go through every integration test.
	(cd build-asan &&
		OBI_TEST_DATA_HOOKS=syscalls \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ctest --output-on-failure -L "unit|integration" "$@") || rc=1
fi
exit $rc
