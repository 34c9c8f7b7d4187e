/*
 * INT8 direct convolution for AVX2 + FMA CPUs without AVX-512 VNNI: uint8 activations x int8
 * weights summed exactly in int32, FP32 epilogue (hrnet_kernels_int8.h).
 *
 * vpmaddubsw (u8 x s8, pairs summed into s16) would saturate (255*127*2 > 32767), so products are
 * formed by vpmaddwd (s16 x s16, pairs summed into s32: exact). For one quad of input channels of
 * one pixel, the 32-bit word of the uint8 copy is broadcast and split into 16-bit lanes:
 *   even = x & 0x00FF    -> channels (4j, 4j+2), zero-extended
 *   odd  = x >> 8 (16-bit shift) -> channels (4j+1, 4j+3)
 * and each 8-output-channel half of a block takes vpmaddwd(even, w_even) + vpmaddwd(odd, w_odd)
 * with the int16 weights of hr_pack_weights_int8_avx2 (the int8 weights widened at plan time).
 * Per quad and pixel: 2 shuffling ops, then 4 vpmaddwd + 4 vpaddd per output block (64 products).
 *
 * Register tile as the FP32 AVX2 kernel (conv_avx2.c): B output blocks x T pixels of one row,
 * 2*B*T ymm int32 accumulators, T <= 6, 3, 2, 1 for B = 1..4; weights are memory operands.
 * Compiled for avx2,fma,f16c only (F16C for the epilogue's half-rounded residuals).
 */
#include "internal.h"
#include "hrnet_kernels_int8.h"
#if HR_X86
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "epilogue_avx2.h"

typedef int32_t __attribute__((may_alias, aligned(1))) hr_quad32_t;

/* int32 sums -> FP32: fma(sum, int8_scale, bias) per output channel, one rounding as in the
 * reference (bit-equal results); then the FP32 epilogue, its copies inline (every op of an INT8
 * plan writes them). Shared with the AVX-VNNI kernel. */
static inline __attribute__((always_inline)) void
int8_epilogue_avx2(const hr_op *op, float *arena, __m256i acc[HR_AVX2_MAX_B][2][HR_AVX2_MAX_T], int ocb0, int oy, int ox0,
                   const int B, const int T) {
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b;
        const float *sc = op->int8_scale + cb * 16, *bias = op->bias + cb * 16;
        float *o = hr_at(arena, &op->out, cb, oy, ox0);
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++)
            hr_epilogue_store_avx2_with(op, arena,
                                   _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[b][0][t]), _mm256_loadu_ps(sc), _mm256_loadu_ps(bias)),
                                   _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[b][1][t]), _mm256_loadu_ps(sc + 8), _mm256_loadu_ps(bias + 8)),
                                   o + t * 16, cb, oy, ox0 + t, 1);
    }
}

/* The register tile of both kernels: zeroed accumulators, the loop over input blocks, kernel rows
 * and taps with STEP(j) (defined by the kernel: quad j of the tap at ip, weights at wp) for each
 * quad of input channels, then the epilogue. WT: the weights' element type; WEIGHTS: the op's
 * weights for the kernel (wstride of them per output block). */
#define INT8_AVX2_TILE(WT, WEIGHTS)                                                                            \
    const int k = op->k, s = op->stride, off = 1 - k / 2;                                                    \
    const int Hp = op->in.h + 2, Wp = op->in.w + 2;                                                          \
    const int icbN = op->in.cb;                                                                              \
    const int64_t wstride = (int64_t)icbN * k * k * 256;                                                     \
    const WT *w0 = (WEIGHTS) + (int64_t)ocb0 * wstride;                                                      \
    __m256i acc[HR_AVX2_MAX_B][2][HR_AVX2_MAX_T];                                                            \
    _Pragma("clang loop unroll(full)") for (int b = 0; b < B; b++)                                           \
        _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) acc[b][0][t] = acc[b][1][t] = _mm256_setzero_si256(); \
    for (int icb = 0; icb < icbN; icb++) {                                                                   \
        int nic = op->in_c - icb * 16;                                                                       \
        if (nic > 16) nic = 16;                                                                              \
        const int nq = (nic + 3) >> 2;                                                                       \
        for (int ky = 0; ky < k; ky++) {                                                                     \
            const uint8_t *irow = in + (((int64_t)icb * Hp + (int64_t)oy * s + ky + off) * Wp + (int64_t)ox0 * s + off) * 16; \
            const WT *wrow = w0 + ((int64_t)(icb * k + ky) * k) * 256;                                       \
            for (int kx = 0; kx < k; kx++) {                                                                 \
                const uint8_t *ip = irow + kx * 16;                                                          \
                const WT *wp = wrow + kx * 256;                                                              \
                if (nq == 4) {                                                                               \
                    STEP(0); STEP(1); STEP(2); STEP(3);                                                      \
                } else {                                                                                     \
                    for (int j = 0; j < nq; j++) STEP(j);                                                    \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    int8_epilogue_avx2(op, arena, acc, ocb0, oy, ox0, B, T)

static inline __attribute__((always_inline)) void
conv_tile_int8_avx2(const hr_op *op, float *arena, const uint8_t *in, int ocb0, int oy, int ox0, const int B, const int T) {
    const __m256i low = _mm256_set1_epi16(0x00FF);
#define STEP(j)                                                                                          \
    do {                                                                                                 \
        _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) {                                 \
            const __m256i x = _mm256_set1_epi32(*(const hr_quad32_t *)(ip + t * s * 16 + 4 * (j)));      \
            const __m256i xe = _mm256_and_si256(x, low), xo = _mm256_srli_epi16(x, 8);                  \
            _Pragma("clang loop unroll(full)") for (int b = 0; b < B; b++)                               \
                _Pragma("clang loop unroll(full)") for (int h = 0; h < 2; h++) {                         \
                    const int16_t *q = wp + b * wstride + (j) * 64 + h * 16;                             \
                    const __m256i pe = _mm256_madd_epi16(xe, _mm256_loadu_si256((const __m256i *)q));    \
                    const __m256i po = _mm256_madd_epi16(xo, _mm256_loadu_si256((const __m256i *)(q + 32))); \
                    acc[b][h][t] = _mm256_add_epi32(acc[b][h][t], _mm256_add_epi32(pe, po));             \
                }                                                                                        \
        }                                                                                                \
    } while (0)
    INT8_AVX2_TILE(int16_t, op->weights_int8_avx2);   /* int16 weights, hr_pack_weights_int8_avx2 */
#undef STEP
}

/* The register tiles of a kernel (T <= 6, 3, 2, 1 for B = 1..4, the table of
 * hr_int8_kernel_tile_t_max), as a table of functions. */
typedef void (*tile_fn)(const hr_op *, float *, const uint8_t *, int, int, int);
#define TILE(P, KERNEL, B, T)                                                                                   \
    static void P##_##B##_##T(const hr_op *op, float *a, const uint8_t *in, int ocb0, int oy, int ox0) {     \
        KERNEL(op, a, in, ocb0, oy, ox0, B, T);                                                                \
    }
#define TILES(P, KERNEL)                                                                                        \
    TILE(P, KERNEL, 1, 1) TILE(P, KERNEL, 1, 2) TILE(P, KERNEL, 1, 3) TILE(P, KERNEL, 1, 4) TILE(P, KERNEL, 1, 5) \
    TILE(P, KERNEL, 1, 6) TILE(P, KERNEL, 2, 1) TILE(P, KERNEL, 2, 2) TILE(P, KERNEL, 2, 3) TILE(P, KERNEL, 3, 1) \
    TILE(P, KERNEL, 3, 2) TILE(P, KERNEL, 4, 1)                                                                \
    static const tile_fn P[5][7] = {                                                                           \
        {0},                                                                                                   \
        {0, P##_1_1, P##_1_2, P##_1_3, P##_1_4, P##_1_5, P##_1_6},                                             \
        {0, P##_2_1, P##_2_2, P##_2_3},                                                                        \
        {0, P##_3_1, P##_3_2},                                                                                 \
        {0, P##_4_1},                                                                                          \
    };
TILES(avx2_tiles, conv_tile_int8_avx2)

/* A row segment through a kernel's table; a tile outside it (e.g. from the VNNI table) goes as
 * 2 x 3 tiles (1 x 6 for an odd block). */
static void rows_through(const tile_fn tiles[5][7], int kernel, const hr_op *op, float *arena, const uint8_t *in_u8,
                         int ocb0, int oy, int ox0, int b, int t) {
    const int tmax = hr_int8_kernel_tile_t_max(kernel, b);
    if (t >= 1 && t <= tmax) {
        tiles[b][t](op, arena, in_u8, ocb0, oy, ox0);
        return;
    }
    for (int b0 = 0; b0 < b; b0 += 2) {
        const int bb = b - b0 >= 2 ? 2 : 1, tm = hr_int8_kernel_tile_t_max(kernel, bb);
        for (int t0 = 0; t0 < t; t0 += tm) tiles[bb][t - t0 < tm ? t - t0 : tm](op, arena, in_u8, ocb0 + b0, oy, ox0 + t0);
    }
}

void hr_conv_rows_int8_avx2(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    rows_through(avx2_tiles, HR_INT8_AVX2, op, arena, in_u8, ocb0, oy, ox0, b, t);
}

#pragma clang attribute pop

/* AVX-VNNI (the VEX form of vpdpbusd on ymm: Alder Lake and later, Zen 5): the VNNI kernel's
 * arithmetic on 256-bit registers, the AVX2 kernel's register tile. Each quad of 4 input channels
 * of a pixel is broadcast once and multiplied by the two halves (output channels 0-7, 8-15) of
 * the int8 weights of hr_pack_weights_int8 (no widened copy): 32 exact products per instruction,
 * against 16 for vpmaddwd plus an add. */
int hr_cpu_has_avxvnni(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = hr_kernels_supported(HR_KERNELS_AVX2) && __builtin_cpu_supports("avxvnni");
    }
    return cached;
}

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avxvnni"))), apply_to = function)

static inline __attribute__((always_inline)) void
conv_tile_int8_avxvnni(const hr_op *op, float *arena, const uint8_t *in, int ocb0, int oy, int ox0, const int B, const int T) {
#define STEP(j)                                                                                          \
    do {                                                                                                 \
        _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) {                                 \
            const __m256i x = _mm256_set1_epi32(*(const hr_quad32_t *)(ip + t * s * 16 + 4 * (j)));      \
            _Pragma("clang loop unroll(full)") for (int b = 0; b < B; b++)                               \
                _Pragma("clang loop unroll(full)") for (int h = 0; h < 2; h++)                           \
                    acc[b][h][t] = _mm256_dpbusd_avx_epi32(                                               \
                        acc[b][h][t], x, _mm256_loadu_si256((const __m256i *)(wp + b * wstride + (j) * 64 + h * 32))); \
        }                                                                                                \
    } while (0)
    INT8_AVX2_TILE(int8_t, op->weights_int8);   /* the int8 weights as they are */
#undef STEP
}

TILES(avxvnni_tiles, conv_tile_int8_avxvnni)

void hr_conv_rows_int8_avxvnni(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    rows_through(avxvnni_tiles, HR_INT8_AVXVNNI, op, arena, in_u8, ocb0, oy, ox0, b, t);
}

#pragma clang attribute pop
#else
int hr_cpu_has_avxvnni(void) { return 0; }
void hr_conv_rows_int8_avxvnni(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    hr_conv_int8_ref_tile(op, arena, in_u8, ocb0, oy, ox0, b, t);
}
void hr_conv_rows_int8_avx2(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    hr_conv_int8_ref_tile(op, arena, in_u8, ocb0, oy, ox0, b, t);
}
#endif
