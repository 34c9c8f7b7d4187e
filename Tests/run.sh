#!/usr/bin/env bash
# All of libhrnet's tests: Swift (loader, kernels of every set the CPU has, equivalence,
# pipeline), the C ABI test program and the C example built with plain cc, the Python binding's
# tests and example, the packaging tests (the exported symbols; make install, pkg-config, CMake,
# hrnet.hpp, the wheel and the .debs, each used from outside the repository), then the
# hostile-input checks: libFuzzer harnesses for a short run
# (HRNET_FUZZ_SECONDS, default 30 s each), the ASan/UBSan and TSan runs (Tests/sanitize.sh), and
# the NEON kernels cross-compiled for aarch64 and run under qemu (Tests/cross/aarch64.sh); last,
# the ROS node against the library's own tracker on a synthetic video (examples/ros/test.sh,
# needs ROS 1: bash .ci/setup-ros).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release
swift test
make -s -C Tests/c test
make -s -C examples/c run
PYTHONPATH=python python3 examples/python/peaks.py > /dev/null
PYTHONPATH=python python3 -m pytest -q python/tests
bash Tests/packaging/run.sh
bash Tests/fuzz/run.sh "${HRNET_FUZZ_SECONDS:-30}"
bash Tests/sanitize.sh
bash Tests/cross/aarch64.sh
bash examples/ros/test.sh
