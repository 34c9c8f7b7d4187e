/*
 * Direct convolution on the blocked layout with AVX-512: a register tile of B output blocks
 * (16 channels each) x T output pixels of one row accumulates over input channels and kernel
 * taps; each step loads B weight vectors and broadcasts T input scalars, so a tile does B*T
 * FMAs per B+T loads (B*T + B + 1 <= 32 zmm registers). The epilogue adds the bias,
 * the previous output (accumulate), a residual and nearest-upsampled tensors, applies ReLU and
 * stores once: one pass over memory per convolution.
 *
 * conv_tile() is specialised for every (B, T) by constant propagation (always_inline + literal
 * arguments), so the accumulators live in registers.
 */
#include "internal.h"
#if HR_X86
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma,avx2"))), apply_to = function)
#include "epilogue_avx512.h"

static inline __attribute__((always_inline)) void
conv_tile(const hr_op *op, float *arena, int ocb0, int oy, int ox0, const int B, const int T) {
    const int k = op->k, s = op->stride, off = 1 - k / 2;
    const int Hp = op->in.h + 2, Wp = op->in.w + 2;
    const float *in = arena + op->in.off;
    const int icbN = op->in.cb;
    const int64_t wstride = (int64_t)icbN * k * k * 256;
    const float *w0 = op->weights + (int64_t)ocb0 * wstride;
    __m512 acc[4][14];
    hr_tile_begin(op, arena, acc, ocb0, oy, ox0, B, T);

    for (int icb = 0; icb < icbN; icb++) {
        int nic = op->in_c - icb * 16;
        if (nic > 16) nic = 16;
        for (int ky = 0; ky < k; ky++) {
            const float *irow = in + (((int64_t)icb * Hp + (int64_t)oy * s + ky + off) * Wp + (int64_t)ox0 * s + off) * 16;
            const float *wrow = w0 + ((int64_t)(icb * k + ky) * k) * 256;
            for (int kx = 0; kx < k; kx++) {
                const float *ip = irow + kx * 16;
                const float *wp = wrow + kx * 256;
                if (nic == 16) {
#pragma clang loop unroll_count(2)
                    for (int ic = 0; ic < 16; ic++) {
                        __m512 wv[4];
#pragma clang loop unroll(full)
                        for (int b = 0; b < B; b++) wv[b] = _mm512_loadu_ps(wp + b * wstride + ic * 16);
#pragma clang loop unroll(full)
                        for (int t = 0; t < T; t++) {
                            __m512 x = _mm512_set1_ps(ip[t * s * 16 + ic]);
#pragma clang loop unroll(full)
                            for (int b = 0; b < B; b++) acc[b][t] = _mm512_fmadd_ps(wv[b], x, acc[b][t]);
                        }
                    }
                } else {
                    for (int ic = 0; ic < nic; ic++) {
                        __m512 wv[4];
#pragma clang loop unroll(full)
                        for (int b = 0; b < B; b++) wv[b] = _mm512_loadu_ps(wp + b * wstride + ic * 16);
#pragma clang loop unroll(full)
                        for (int t = 0; t < T; t++) {
                            __m512 x = _mm512_set1_ps(ip[t * s * 16 + ic]);
#pragma clang loop unroll(full)
                            for (int b = 0; b < B; b++) acc[b][t] = _mm512_fmadd_ps(wv[b], x, acc[b][t]);
                        }
                    }
                }
            }
        }
    }

    hr_epilogue_tile(op, arena, acc, ocb0, oy, ox0, B, T);
}

/* The network's first layer (3 input channels, 3x3, stride 2): in conv_tile the loop over input
 * channels has a run-time trip count of 3 there, and the compiler kept it as a loop with
 * per-pixel address registers and spills (W48 384x288, one core: 1.5-1.9 ms, 55 GFLOP/s). Here the
 * 3 channels are unrolled with constant offsets (0.53-0.61 ms, 160-180 GFLOP/s). The tap loops
 * stay loops: unrolled, the scheduler hoisted broadcasts across taps and spilled accumulators
 * (137 stack accesses in one row of taps, 9 steps; 1.0-1.2 ms). The same products in the same
 * order (ky, kx, ic) as conv_tile, so the same values. */
static inline __attribute__((always_inline)) void
conv_tile_c3s2(const hr_op *op, float *arena, int ocb0, int oy, int ox0, const int B, const int T) {
    const int Wp = op->in.w + 2;
    const float *in = arena + op->in.off;
    const int64_t wstride = 9 * 256;   /* one input block, 3x3 taps */
    const float *w0 = op->weights + (int64_t)ocb0 * wstride;
    __m512 acc[4][14];
    hr_tile_begin(op, arena, acc, ocb0, oy, ox0, B, T);
    /* Padding 1: output (oy, ox) reads padded input rows 2*oy + ky, columns 2*ox + kx. */
    const float *base = in + ((int64_t)oy * 2 * Wp + (int64_t)ox0 * 2) * 16;
#pragma clang loop unroll(disable)
    for (int ky = 0; ky < 3; ky++) {
        const float *irow = base + (int64_t)ky * Wp * 16;
#pragma clang loop unroll(disable)
        for (int kx = 0; kx < 3; kx++)
#pragma clang loop unroll(full)
            for (int ic = 0; ic < 3; ic++) {
                const float *wp = w0 + ky * 3 * 256 + kx * 256 + ic * 16;
                __m512 wv[4];
#pragma clang loop unroll(full)
                for (int b = 0; b < B; b++) wv[b] = _mm512_loadu_ps(wp + b * wstride);
#pragma clang loop unroll(full)
                for (int t = 0; t < T; t++) {
                    const __m512 x = _mm512_set1_ps(irow[(kx + 2 * t) * 16 + ic]);
#pragma clang loop unroll(full)
                    for (int b = 0; b < B; b++) acc[b][t] = _mm512_fmadd_ps(wv[b], x, acc[b][t]);
                }
            }
    }
    hr_epilogue_tile(op, arena, acc, ocb0, oy, ox0, B, T);
}

typedef void (*tile_fn)(const hr_op *, float *, int, int, int);
#define TILE(B, T) \
    static void tile_##B##_##T(const hr_op *op, float *a, int ocb0, int oy, int ox0) { conv_tile(op, a, ocb0, oy, ox0, B, T); }
#define TILES14(B) TILE(B,1) TILE(B,2) TILE(B,3) TILE(B,4) TILE(B,5) TILE(B,6) TILE(B,7) TILE(B,8) TILE(B,9) TILE(B,10) TILE(B,11) TILE(B,12) TILE(B,13) TILE(B,14)
TILES14(1)
TILES14(2)
TILE(3,1) TILE(3,2) TILE(3,3) TILE(3,4) TILE(3,5) TILE(3,6) TILE(3,7) TILE(3,8) TILE(3,9)
TILE(4,1) TILE(4,2) TILE(4,3) TILE(4,4) TILE(4,5) TILE(4,6)
#define ROW14(B) {0, tile_##B##_1, tile_##B##_2, tile_##B##_3, tile_##B##_4, tile_##B##_5, tile_##B##_6, tile_##B##_7, \
                  tile_##B##_8, tile_##B##_9, tile_##B##_10, tile_##B##_11, tile_##B##_12, tile_##B##_13, tile_##B##_14}
static const tile_fn tiles[5][15] = {
    {0},
    ROW14(1),
    ROW14(2),
    {0, tile_3_1, tile_3_2, tile_3_3, tile_3_4, tile_3_5, tile_3_6, tile_3_7, tile_3_8, tile_3_9},
    {0, tile_4_1, tile_4_2, tile_4_3, tile_4_4, tile_4_5, tile_4_6},
};

#define TILE_C3(B, T) \
    static void tile_c3_##B##_##T(const hr_op *op, float *a, int ocb0, int oy, int ox0) { conv_tile_c3s2(op, a, ocb0, oy, ox0, B, T); }
TILE_C3(2,1) TILE_C3(2,2) TILE_C3(2,3) TILE_C3(2,4) TILE_C3(2,5) TILE_C3(2,6) TILE_C3(2,7) TILE_C3(2,8) TILE_C3(2,9) TILE_C3(2,10)
TILE_C3(2,11) TILE_C3(2,12) TILE_C3(2,13) TILE_C3(2,14)
/* B = 2 only: what hr_choose_tile picks for 64 output channels at any width past 12 pixels. */
static const tile_fn tiles_c3s2[15] = {0, tile_c3_2_1, tile_c3_2_2, tile_c3_2_3, tile_c3_2_4, tile_c3_2_5, tile_c3_2_6,
                                       tile_c3_2_7, tile_c3_2_8, tile_c3_2_9, tile_c3_2_10, tile_c3_2_11, tile_c3_2_12,
                                       tile_c3_2_13, tile_c3_2_14};

void hr_conv_rows_avx512(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t) {
    if (b == 2 && op->in_c == 3 && op->k == 3 && op->stride == 2) {   /* (BF16 ops never come here) */
        tiles_c3s2[t](op, arena, ocb0, oy, ox0);
        return;
    }
    tiles[b][t](op, arena, ocb0, oy, ox0);
}

/* HR_OP_SUM, one row of block cb: hr_sum_task with the AVX-512 epilogue (the same adds in the
 * same order, so the same values; and the uint8 copy in vector code). */
void hr_sum_row_avx512(const hr_op *op, float *arena, int cb, int oy) {
    const int w = op->out.w;
    int ox = 0;
    for (; ox + 8 <= w; ox += 8) {   /* 8 pixels per call: the op's fields and row addresses once */
        __m512 v[8];
        for (int t = 0; t < 8; t++) v[t] = _mm512_setzero_ps();
        hr_epilogue_run(op, arena, v, cb, oy, ox, 8);
    }
    for (; ox < w; ox++) hr_epilogue_store(op, arena, _mm512_setzero_ps(), cb, oy, ox);
}

#pragma clang attribute pop
#endif
