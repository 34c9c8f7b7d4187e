#!/usr/bin/env bash
# ARM without ARM hardware: cross-compiles the C kernels (Sources/CHRNetKernels) and the kernel
# test Tests/cross/neon_test.c for aarch64 Linux with the Swift toolchain's clang
# (--target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu; linked by aarch64-linux-gnu-gcc),
# runs it under qemu-aarch64 (NEON kernels against the scalar reference on every convolution
# shape of HRNet W32/W48; the INT8 kernels against the INT8 reference, with the dot product under
# -cpu max and without it under -cpu cortex-a53), then builds the same test natively on x86-64 and runs it with the
# AVX-512 / AVX2 sets the CPU has. No OpenMP: the kernels' `#pragma omp` are ignored and the test
# provides the few OpenMP calls.
#
#   Tests/cross/aarch64.sh [-v] [-quick]      (-v: one line per check; -quick: fewer rows/variants)
#
# Installs only what is missing (qemu-user, libc6-dev-arm64-cross, gcc-aarch64-linux-gnu), with
# apt-get. Prints "N passed, N failed" last; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${CROSS_BUILD:-$ROOT/.build/cross}
SYSROOT=/usr/aarch64-linux-gnu
KERNELS=$ROOT/Sources/CHRNetKernels
start=$(date +%s)

need=()
command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
[ -f "$SYSROOT/include/stdio.h" ] || need+=(libc6-dev-arm64-cross)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need+=(gcc-aarch64-linux-gnu)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    echo "installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The Swift toolchain's clang (it cross-compiles; Debian's gcc is only the cross linker).
CLANG=${CLANG:-}
if [ -z "$CLANG" ] && command -v swift >/dev/null 2>&1; then
    c="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
    [ -x "$c" ] && CLANG=$c
fi
[ -z "$CLANG" ] && [ -x /opt/swift/usr/bin/clang ] && CLANG=/opt/swift/usr/bin/clang
[ -z "$CLANG" ] && CLANG=clang

# Package.swift's kernel flags, without -fopenmp.
CFLAGS=(-O3 -ffp-contract=fast -fno-math-errno -std=gnu11 -Wall -Wextra -Wno-unknown-pragmas
        -I "$KERNELS/include" -I "$KERNELS")

# build <dir> <linker> <extra libs> <clang target flags...>: objects of every kernel file and
# the test, linked into <dir>/neon_test. conv_generic.c may need OpenBLAS, which the aarch64
# sysroot lacks: if it does not compile or link, a stub that runs the reference takes its place
# (the GENERIC set is not tested here).
build() {
    local dir=$1 linker=$2 libs=$3
    shift 3
    mkdir -p "$dir"
    local objs=() f o
    for f in "$KERNELS"/*.c "$ROOT/Tests/cross/neon_test.c"; do
        o="$dir/$(basename "${f%.c}").o"
        if [ "$(basename "$f")" = conv_generic.c ]; then
            "$CLANG" "$@" "${CFLAGS[@]}" -c "$f" -o "$o" 2>"$dir/generic.log" || { generic_stub "$dir" "$@"; o="$dir/generic_stub.o"; }
        else
            "$CLANG" "$@" "${CFLAGS[@]}" -c "$f" -o "$o"
        fi
        objs+=("$o")
    done
    # shellcheck disable=SC2086
    if ! $linker "${objs[@]}" $libs -lm -o "$dir/neon_test" 2>"$dir/link.log"; then
        generic_stub "$dir" "$@"
        local i
        for i in "${!objs[@]}"; do
            case "${objs[$i]}" in */conv_generic.o) objs[$i]="$dir/generic_stub.o" ;; esac
        done
        # shellcheck disable=SC2086
        $linker "${objs[@]}" $libs -lm -o "$dir/neon_test" || { cat "$dir/link.log" >&2; return 1; }
    fi
}

generic_stub() {
    local dir=$1
    shift
    echo "[$(basename "$dir")] conv_generic.c does not build here (OpenBLAS): linked with a stub (GENERIC is not tested)"
    cat > "$dir/generic_stub.c" <<'EOF'
#include "internal.h"
int64_t hr_generic_scratch_floats(const hr_op *op) { (void)op; return 0; }
void hr_conv_rows_generic(const hr_op *op, float *arena, int64_t scratch, int ocb0, int b, int oy0, int rows) {
    (void)scratch;
    for (int oy = oy0; oy < oy0 + rows && oy < op->out.h; oy++)
        for (int ocb = ocb0; ocb < ocb0 + b; ocb++) hr_conv_ref_task(op, arena, ocb, oy);
}
void hr_choose_tile_generic(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    (void)out_cb; (void)out_w; (void)out_h; (void)nthreads; *tile_b = 1; *tile_t = 1;
}
const char *hr_generic_blas_info(void) { return "none (stub)"; }
EOF
    "$CLANG" "$@" "${CFLAGS[@]}" -c "$dir/generic_stub.c" -o "$dir/generic_stub.o"
}

total_pass=0
total_fail=0
# run <name> <command...>: prints the test's output, adds its counts.
run() {
    local name=$1 log
    shift
    log=$(mktemp)
    local rc=0
    "$@" "${ARGS[@]}" >"$log" 2>&1 || rc=$?
    sed "s|^|[$name] |" "$log"
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "[$name] did not finish (exit status $rc)"
        total_fail=$((total_fail + 1))
        return
    fi
    total_pass=$((total_pass + $(echo "$line" | cut -d' ' -f1)))
    total_fail=$((total_fail + $(echo "$line" | cut -d' ' -f3)))
    if [ "$rc" != 0 ] && [ "$(echo "$line" | cut -d' ' -f3)" = 0 ]; then total_fail=$((total_fail + 1)); fi
}

ARGS=("$@")
echo "clang: $CLANG ($("$CLANG" --version | sed -n 1p))"
build "$OUT/aarch64" aarch64-linux-gnu-gcc "" --target=aarch64-linux-gnu --sysroot="$SYSROOT"
# -cpu max: ARMv8.2+ with the dot product (the NEON INT8 kernel); cortex-a53: ARMv8.0 without
# it (INT8 falls back to the reference; only the INT8 cases).
run aarch64/qemu qemu-aarch64 -cpu max -L "$SYSROOT" "$OUT/aarch64/neon_test" -dotprod yes
run aarch64/qemu-a53 qemu-aarch64 -cpu cortex-a53 -L "$SYSROOT" "$OUT/aarch64/neon_test" -int8 -dotprod no

if [ "$(uname -m)" = x86_64 ] && [ "${CROSS_NATIVE:-1}" != 0 ]; then
    build "$OUT/x86_64" "$CLANG" ""
    run x86_64 "$OUT/x86_64/neon_test"
fi

echo "time: $(( $(date +%s) - start )) s"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
