#!/usr/bin/env bash
# All of libhrnet's tests: Swift (loader, kernels, equivalence, pipeline), the C ABI test
# program and the C example built with plain cc, and the Python binding's tests and example.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release
swift test
make -s -C Tests/c test
make -s -C examples/c run
PYTHONPATH=python python3 examples/python/peaks.py > /dev/null
PYTHONPATH=python python3 -m pytest -q python/tests
