/*
 * AVX2 + FMA kernels (x86-64-v3): the direct convolution and Winograd F(2x2,3x3) on the same
 * blocked layout and packed weights as the AVX-512 kernels (conv_avx512.c, winograd.c), with 16
 * channels held as two ymm halves.
 *
 * Direct convolution: a register tile of B output blocks x T output pixels of one row, 2*B*T
 * ymm accumulators. AVX2 has 16 ymm registers, so per input channel a step either
 *   - keeps the 2B weight halves in registers and broadcasts one input scalar at a time
 *     (2BT + 2B + 1 registers: 1 x 6 uses 15), or
 *   - keeps the T broadcast inputs in registers and streams the weight halves one at a time
 *     (2BT + T + 1 registers: 2 x 3 uses 16, 3 x 2 uses 15, 4 x 1 uses 10).
 * conv_tile() is specialised for every (B, T) by constant propagation, as for AVX-512. The tile
 * table (tile_t_max, hr_choose_tile_avx2) and the measurements behind it are below.
 *
 * hr_conv_rows_avx2 accepts any tile: one outside the table (e.g. from a plan made with the
 * AVX-512 table) is split into tiles of the table.
 *
 * Everything here is compiled for avx2+fma only (no AVX-512 instruction may appear: this set
 * exists for CPUs without it).
 */
#include "internal.h"
#if HR_X86
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "epilogue_avx2.h"

/* XREG selects the second form above (broadcasts kept, weights streamed). */
static inline __attribute__((always_inline)) void
conv_step(__m256 acc[HR_AVX2_MAX_B][2][HR_AVX2_MAX_T], const float *wp, int64_t wstride, const float *ip, int s, int ic,
          const int B, const int T, const int XREG) {
    if (XREG) {
        __m256 x[HR_AVX2_MAX_T];
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) x[t] = _mm256_broadcast_ss(ip + t * s * 16 + ic);
#pragma clang loop unroll(full)
        for (int b = 0; b < B; b++)
#pragma clang loop unroll(full)
            for (int h = 0; h < 2; h++) {
                const __m256 w = _mm256_loadu_ps(wp + b * wstride + ic * 16 + h * 8);
#pragma clang loop unroll(full)
                for (int t = 0; t < T; t++) acc[b][h][t] = _mm256_fmadd_ps(w, x[t], acc[b][h][t]);
            }
    } else {
        __m256 w[HR_AVX2_MAX_B][2];
#pragma clang loop unroll(full)
        for (int b = 0; b < B; b++) {
            w[b][0] = _mm256_loadu_ps(wp + b * wstride + ic * 16);
            w[b][1] = _mm256_loadu_ps(wp + b * wstride + ic * 16 + 8);
        }
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) {
            const __m256 x = _mm256_broadcast_ss(ip + t * s * 16 + ic);
#pragma clang loop unroll(full)
            for (int b = 0; b < B; b++) {
                acc[b][0][t] = _mm256_fmadd_ps(w[b][0], x, acc[b][0][t]);
                acc[b][1][t] = _mm256_fmadd_ps(w[b][1], x, acc[b][1][t]);
            }
        }
    }
}

static inline __attribute__((always_inline)) void
conv_tile(const hr_op *op, float *arena, int ocb0, int oy, int ox0, const int B, const int T, const int XREG) {
    const int k = op->k, s = op->stride, off = 1 - k / 2;
    const int Hp = op->in.h + 2, Wp = op->in.w + 2;
    const float *in = arena + op->in.off;
    const int icbN = op->in.cb;
    const int64_t wstride = (int64_t)icbN * k * k * 256;
    const float *w0 = op->weights + (int64_t)ocb0 * wstride;
    __m256 acc[HR_AVX2_MAX_B][2][HR_AVX2_MAX_T];
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++)
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) acc[b][0][t] = acc[b][1][t] = _mm256_setzero_ps();

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
                    /* Unrolled by 2 only: with 4 or 16, clang 21 allocates 2 x 3's 16 registers
                     * badly (register moves and spills: 128 -> 53-81 GFLOP/s). */
#pragma clang loop unroll_count(2)
                    for (int ic = 0; ic < 16; ic++) conv_step(acc, wp, wstride, ip, s, ic, B, T, XREG);
                } else {
                    for (int ic = 0; ic < nic; ic++) conv_step(acc, wp, wstride, ip, s, ic, B, T, XREG);
                }
            }
        }
    }

    hr_epilogue_tile_avx2(op, arena, acc, ocb0, oy, ox0, B, T);
}

typedef void (*tile_fn)(const hr_op *, float *, int, int, int);
#define TILE(B, T, X) \
    static void tile_##B##_##T(const hr_op *op, float *a, int ocb0, int oy, int ox0) { conv_tile(op, a, ocb0, oy, ox0, B, T, X); }
TILE(1, 1, 0) TILE(1, 2, 0) TILE(1, 3, 0) TILE(1, 4, 0) TILE(1, 5, 0) TILE(1, 6, 0)
TILE(2, 1, 1) TILE(2, 2, 1) TILE(2, 3, 1)
TILE(3, 1, 1) TILE(3, 2, 1)
TILE(4, 1, 1)

/* Every (B, T) with T <= tile_t_max[B] has a kernel. */
static const int tile_t_max[5] = {0, 6, 3, 2, 1};
static const tile_fn tiles[5][7] = {
    {0},
    {0, tile_1_1, tile_1_2, tile_1_3, tile_1_4, tile_1_5, tile_1_6},
    {0, tile_2_1, tile_2_2, tile_2_3},
    {0, tile_3_1, tile_3_2},
    {0, tile_4_1},
};

void hr_conv_rows_avx2(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t) {
    if (b >= 1 && b <= 4 && t >= 1 && t <= tile_t_max[b]) {
        tiles[b][t](op, arena, ocb0, oy, ox0);
        return;
    }
    /* A tile outside the table (e.g. from a plan made with the AVX-512 table): split it into
     * 2 x 3 tiles (1 x 6 for an odd block left over). */
    for (int b0 = 0; b0 < b; b0 += 2) {
        const int bb = b - b0 >= 2 ? 2 : 1, tm = tile_t_max[bb];
        for (int t0 = 0; t0 < t; t0 += tm) tiles[bb][t - t0 < tm ? t - t0 : tm](op, arena, ocb0 + b0, oy, ox0 + t0);
    }
}

/* Winograd transforms (as input_row_avx512 / output_row_avx512 in winograd.c), one 8-channel
 * half at a time so that a tile's 16 values fit the 16 registers. */
static void input_row_avx2(const hr_op *op, float *arena, const hr_tensor *v, int ty) {
    const hr_tensor *x = &op->in;
    const int icbn = x->cb, tw = v->w, Hp = x->h + 2, Wp = x->w + 2;
    const int64_t pstride = (int64_t)icbn * 3 * (tw + 2) * 16; /* from position p to p+1 */
    const __m256 z = _mm256_setzero_ps();
    for (int cb = 0; cb < icbn; cb++) {
        const float *base = arena + x->off + (int64_t)cb * Hp * Wp * 16;
        float *vout = hr_at(arena, v, cb, 0, 0);
        for (int tx = 0; tx < tw; tx++) {
            const int inside = 2 * ty + 3 < Hp && 2 * tx + 3 < Wp;
            for (int h = 0; h < 2; h++) {
                __m256 d[4][4];
                for (int r = 0; r < 4; r++)
                    for (int c = 0; c < 4; c++) {
                        const int py = 2 * ty + r, px = 2 * tx + c;
                        d[r][c] = (inside || (py < Hp && px < Wp)) ? _mm256_loadu_ps(base + ((int64_t)py * Wp + px) * 16 + h * 8) : z;
                    }
                __m256 t[4][4];
                for (int c = 0; c < 4; c++) {
                    t[0][c] = _mm256_sub_ps(d[0][c], d[2][c]);
                    t[1][c] = _mm256_add_ps(d[1][c], d[2][c]);
                    t[2][c] = _mm256_sub_ps(d[2][c], d[1][c]);
                    t[3][c] = _mm256_sub_ps(d[1][c], d[3][c]);
                }
                float *o = vout + tx * 16 + h * 8;
                for (int r = 0; r < 4; r++) {
                    _mm256_storeu_ps(o + (r * 4 + 0) * pstride, _mm256_sub_ps(t[r][0], t[r][2]));
                    _mm256_storeu_ps(o + (r * 4 + 1) * pstride, _mm256_add_ps(t[r][1], t[r][2]));
                    _mm256_storeu_ps(o + (r * 4 + 2) * pstride, _mm256_sub_ps(t[r][2], t[r][1]));
                    _mm256_storeu_ps(o + (r * 4 + 3) * pstride, _mm256_sub_ps(t[r][1], t[r][3]));
                }
            }
        }
    }
}

static void output_row_avx2(const hr_op *op, float *arena, const hr_tensor *m, int ty) {
    const hr_tensor *y = &op->out;
    const int ocbn = y->cb, tw = m->w;
    const int64_t pstride = (int64_t)ocbn * 3 * (tw + 2) * 16;
    const int plain = hr_epilogue_plain(op);
    for (int cb = 0; cb < ocbn; cb++) {
        const float *min = hr_at(arena, m, cb, 0, 0);
        const __m256 bias0 = _mm256_loadu_ps(op->bias + cb * 16), bias1 = _mm256_loadu_ps(op->bias + cb * 16 + 8);
        for (int tx = 0; tx < tw; tx++) {
            const float *mp = min + tx * 16;
            __m256 s[2][4][2];
            for (int c = 0; c < 4; c++)
                for (int h = 0; h < 2; h++) {
                    const float *q = mp + h * 8;
                    const __m256 m0 = _mm256_loadu_ps(q + (0 * 4 + c) * pstride), m1 = _mm256_loadu_ps(q + (1 * 4 + c) * pstride);
                    const __m256 m2 = _mm256_loadu_ps(q + (2 * 4 + c) * pstride), m3 = _mm256_loadu_ps(q + (3 * 4 + c) * pstride);
                    s[0][c][h] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                    s[1][c][h] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
                }
            for (int r = 0; r < 2; r++) {
                const int oy = 2 * ty + r;
                if (oy >= y->h) continue;
                for (int c = 0; c < 2; c++) {
                    const int ox = 2 * tx + c;
                    if (ox >= y->w) continue;
                    __m256 val[2];
                    for (int h = 0; h < 2; h++)
                        val[h] = c == 0 ? _mm256_add_ps(_mm256_add_ps(s[r][0][h], s[r][1][h]), s[r][2][h])
                                        : _mm256_sub_ps(_mm256_sub_ps(s[r][1][h], s[r][2][h]), s[r][3][h]);
                    hr_epilogue_store_avx2(op, arena, _mm256_add_ps(val[0], bias0), _mm256_add_ps(val[1], bias1),
                                           hr_at(arena, y, cb, oy, ox), cb, oy, ox, plain);
                }
            }
        }
    }
}

void hr_wino_row_avx2(const hr_op *op, float *arena, int64_t scratch, int ty) {
    hr_wino_row_with(op, arena, scratch, ty, input_row_avx2, hr_conv_rows_avx2, output_row_avx2);
}

/* HR_OP_SUM, one row of block cb: hr_sum_task with the AVX2 epilogue (the same adds in the same
 * order, so the same values, copies included): one core, W32 FP32, the fuse sums 0.52 -> 0.37 ms. */
void hr_sum_row_avx2(const hr_op *op, float *arena, int cb, int oy) {
    for (int ox = 0; ox < op->out.w; ox++)
        hr_epilogue_store_avx2_general(op, arena, _mm256_setzero_ps(), _mm256_setzero_ps(), hr_at(arena, &op->out, cb, oy, ox), cb, oy, ox);
}

#pragma clang attribute pop

/* Tile choice. GFLOP/s of 1 x 6 / 2 x 3 / 3 x 2 / 1 x 5 / 2 x 2 / 4 x 1 on one Zen 5 core (peak
 * 2 x 256-bit FMA/cycle ~ 137 GFLOP/s at 4.3 GHz; single-thread C benchmark, data in cache):
 *   3x3 64->64 32x24: 132 / 133 / - / 126 / 119 / 95;  1x1 256->64 64x48: 124 / 129 / - / 120 / 115 / 95;
 *   3x3 3->64 s2 128x96: 91 / 115 / - / 92 / 104 / 77;  3x3 48->48 64x48: 126 / - / 127 / 123 / - / -.
 * 2 x 3 (streamed weights, all 16 registers) is the best tile wherever out_cb is even; 1 x 7 and
 * 2 x 4 spill (69 and 59). hr_choose_tile_with scores b*t and keeps the smaller b on ties, so for
 * even out_cb B = 1 is capped at 5 pixels to let 2 x 3 win; for odd out_cb 1 x 6 stays (3 x 2 is
 * no faster). */
static const int choose_even[5] = {0, 5, 3, 2, 1};

void hr_choose_tile_avx2(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    hr_choose_tile_with(out_cb % 2 ? tile_t_max : choose_even, out_cb, out_w, out_h, nthreads, tile_b, tile_t);
}
#endif
