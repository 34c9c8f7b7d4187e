/*
 * NEON kernels (aarch64 Advanced SIMD: 32 q registers of 4 floats, FMA by vector element).
 *
 * Direct convolution on the blocked layout: a register tile of B output blocks (16 channels = 4
 * q registers each) x T output pixels of one row accumulates over input channels and kernel
 * taps. One step covers 4 input channels: it loads the 4 channels of each of the T pixels as one
 * q register (ldr q) and streams the 4 x 4B weight vectors, each used T times through
 * `fmla v.4s, w.4s, x.s[lane]`. So 4 input channels cost 16B + T loads for 16BT FMAs, and the
 * registers are 4BT accumulators + T inputs + 1-2 weights: the 1 x 6 tile (24 + 6 + 2 = 32) does
 * 96 FMAs per 22 loads (4.4 FMAs per load). Its tile table: T <= 6, 3, 2, 1 for B = 1..4.
 * The epilogue (bias, accumulate, residual, nearest-upsampled adds, ReLU) is fused as in the
 * other sets: one pass over memory per convolution.
 *
 * conv_tile() is specialised for every (B, T) by constant propagation (always_inline + literal
 * arguments), so the accumulators live in registers; the FMA lane must be a literal, hence the
 * LANE() macro instead of a loop.
 *
 * Winograd F(2x2,3x3): the transforms of winograd.c on q registers, one quarter (4 channels) of
 * a block at a time, around this file's 1x1 convolution (hr_wino_row_with).
 */
#include "internal.h"
#if HR_ARM64
#include <arm_neon.h>

/* Largest T for B = 1..4 output blocks: 4BT + T + 1 <= 32 (4 x 2 = 32 accumulators would leave
 * nothing for the inputs). */
static const int neon_tile_t_max[5] = {0, 6, 3, 2, 1};
enum { NEON_B = 4, NEON_T = 6 };

#include "epilogue_neon.h"

/* Input channels ic0 + 0..L-1 (L <= 4) of one kernel tap: ip points at channel ic0 of the
 * tile's first input pixel (pixels ps floats apart), wp at the weights of channel ic0 for output
 * block ocb0 (blocks wstride floats apart). */
#define LANE(l)                                                                                   \
    if (L > (l)) {                                                                                \
        _Pragma("clang loop unroll(full)") for (int b = 0; b < B; b++)                            \
            _Pragma("clang loop unroll(full)") for (int q = 0; q < 4; q++) {                      \
                const float32x4_t w = vld1q_f32(wp + b * wstride + (l) * 16 + q * 4);              \
                _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++)                    \
                    acc[b][t][q] = vfmaq_laneq_f32(acc[b][t][q], w, x[t], (l));                    \
            }                                                                                     \
    }

static inline __attribute__((always_inline)) void
step4(float32x4_t acc[NEON_B][NEON_T][4], const float *ip, const float *wp, int ps, int64_t wstride,
      const int B, const int T, const int L) {
    float32x4_t x[NEON_T];
#pragma clang loop unroll(full)
    for (int t = 0; t < T; t++) x[t] = vld1q_f32(ip + t * ps);
    LANE(0)
    LANE(1)
    LANE(2)
    LANE(3)
}
#undef LANE

static inline __attribute__((always_inline)) void
conv_tile(const hr_op *op, float *arena, int ocb0, int oy, int ox0, const int B, const int T) {
    const int k = op->k, s = op->stride, off = 1 - k / 2, ps = s * 16;
    const int Hp = op->in.h + 2, Wp = op->in.w + 2;
    const float *in = arena + op->in.off;
    const int icbN = op->in.cb;
    const int64_t wstride = (int64_t)icbN * k * k * 256;
    const float *w0 = op->weights + (int64_t)ocb0 * wstride;
    float32x4_t acc[NEON_B][NEON_T][4];
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++)
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++)
#pragma clang loop unroll(full)
            for (int q = 0; q < 4; q++) acc[b][t][q] = vdupq_n_f32(0.0f);

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
                    for (int ic = 0; ic < 16; ic += 4) step4(acc, ip + ic, wp + ic * 16, ps, wstride, B, T, 4);
                } else {
                    /* A partial last block (the stem's 3 channels): only channels < in_c are read
                     * from the weights, as in the other sets. */
                    int ic = 0;
                    for (; ic + 4 <= nic; ic += 4) step4(acc, ip + ic, wp + ic * 16, ps, wstride, B, T, 4);
                    switch (nic - ic) {
                    case 3: step4(acc, ip + ic, wp + ic * 16, ps, wstride, B, T, 3); break;
                    case 2: step4(acc, ip + ic, wp + ic * 16, ps, wstride, B, T, 2); break;
                    case 1: step4(acc, ip + ic, wp + ic * 16, ps, wstride, B, T, 1); break;
                    default: break;
                    }
                }
            }
        }
    }

#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b, plain = hr_epilogue_plain(op);
        float *o = hr_at(arena, &op->out, cb, oy, ox0);
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) {
            const float32x4_t bias = vld1q_f32(op->bias + cb * 16 + q * 4);
#pragma clang loop unroll(full)
            for (int t = 0; t < T; t++)
                epilogue_q(op, arena, vaddq_f32(acc[b][t][q], bias), o + t * 16 + q * 4, cb, oy, ox0 + t, q, plain);
        }
    }
}

typedef void (*tile_fn)(const hr_op *, float *, int, int, int);
#define TILE(B, T) \
    static void tile_##B##_##T(const hr_op *op, float *a, int ocb0, int oy, int ox0) { conv_tile(op, a, ocb0, oy, ox0, B, T); }
TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4) TILE(1, 5) TILE(1, 6)
TILE(2, 1) TILE(2, 2) TILE(2, 3)
TILE(3, 1) TILE(3, 2)
TILE(4, 1)
#undef TILE
static const tile_fn tiles[5][NEON_T + 1] = {
    {0},
    {0, tile_1_1, tile_1_2, tile_1_3, tile_1_4, tile_1_5, tile_1_6},
    {0, tile_2_1, tile_2_2, tile_2_3},
    {0, tile_3_1, tile_3_2},
    {0, tile_4_1},
};

void hr_conv_rows_neon(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t) {
    if (b >= 1 && b <= 4 && t >= 1 && t <= neon_tile_t_max[b]) {
        tiles[b][t](op, arena, ocb0, oy, ox0);
        return;
    }
    /* A tile from another set's table (e.g. a plan made with hr_choose_tile): one block at a
     * time, the row segment split evenly into pieces of at most 6 pixels. */
    const int n = (t + NEON_T - 1) / NEON_T;
    for (int cb = ocb0; cb < ocb0 + b; cb++)
        for (int i = 0, x = ox0; i < n; i++) {
            const int x1 = ox0 + (int)((int64_t)t * (i + 1) / n);
            tiles[1][x1 - x](op, arena, cb, oy, x);
            x = x1;
        }
}

void hr_choose_tile_neon(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    hr_choose_tile_with(neon_tile_t_max, out_cb, out_w, out_h, nthreads, tile_b, tile_t);
}

/* Winograd input transform V = B^T d B of the row of 4x4 tiles ty, per quarter of each block. */
static void input_row_neon(const hr_op *op, float *arena, const hr_tensor *v, int ty) {
    const hr_tensor *x = &op->in;
    const int icbn = x->cb, tw = v->w, Hp = x->h + 2, Wp = x->w + 2;
    const int64_t pstride = (int64_t)icbn * 3 * (tw + 2) * 16; /* from position p to p+1 */
    const float32x4_t z = vdupq_n_f32(0.0f);
    for (int cb = 0; cb < icbn; cb++) {
        const float *base = arena + x->off + (int64_t)cb * Hp * Wp * 16;
        float *vout = hr_at(arena, v, cb, 0, 0);
        for (int tx = 0; tx < tw; tx++) {
            const int inside = 2 * ty + 3 < Hp && 2 * tx + 3 < Wp;
            const float *p0 = base + ((int64_t)2 * ty * Wp + 2 * tx) * 16;
            float *o = vout + tx * 16;
            for (int q = 0; q < 4; q++) {
                float32x4_t d[4][4];
                for (int r = 0; r < 4; r++)
                    for (int c = 0; c < 4; c++)
                        d[r][c] = (inside || (2 * ty + r < Hp && 2 * tx + c < Wp)) ? vld1q_f32(p0 + ((int64_t)r * Wp + c) * 16 + 4 * q) : z;
                float32x4_t t[4][4];
                for (int c = 0; c < 4; c++) {
                    t[0][c] = vsubq_f32(d[0][c], d[2][c]);
                    t[1][c] = vaddq_f32(d[1][c], d[2][c]);
                    t[2][c] = vsubq_f32(d[2][c], d[1][c]);
                    t[3][c] = vsubq_f32(d[1][c], d[3][c]);
                }
                float *oq = o + 4 * q;
                for (int r = 0; r < 4; r++) {
                    vst1q_f32(oq + (r * 4 + 0) * pstride, vsubq_f32(t[r][0], t[r][2]));
                    vst1q_f32(oq + (r * 4 + 1) * pstride, vaddq_f32(t[r][1], t[r][2]));
                    vst1q_f32(oq + (r * 4 + 2) * pstride, vsubq_f32(t[r][2], t[r][1]));
                    vst1q_f32(oq + (r * 4 + 3) * pstride, vsubq_f32(t[r][1], t[r][3]));
                }
            }
        }
    }
}

/* Winograd output transform Y = A^T M A + bias and the fused epilogue, per quarter. */
static void output_row_neon(const hr_op *op, float *arena, const hr_tensor *m, int ty) {
    const hr_tensor *y = &op->out;
    const int ocbn = y->cb, tw = m->w;
    const int64_t pstride = (int64_t)ocbn * 3 * (tw + 2) * 16;
    const int plain = hr_epilogue_plain(op);
    for (int cb = 0; cb < ocbn; cb++) {
        const float *min = hr_at(arena, m, cb, 0, 0);
        for (int q = 0; q < 4; q++) {
            const float32x4_t bias = vld1q_f32(op->bias + cb * 16 + 4 * q);
            for (int tx = 0; tx < tw; tx++) {
                const float *mp = min + tx * 16 + 4 * q;
                float32x4_t s[2][4];
                for (int c = 0; c < 4; c++) {
                    const float32x4_t m0 = vld1q_f32(mp + (0 * 4 + c) * pstride), m1 = vld1q_f32(mp + (1 * 4 + c) * pstride);
                    const float32x4_t m2 = vld1q_f32(mp + (2 * 4 + c) * pstride), m3 = vld1q_f32(mp + (3 * 4 + c) * pstride);
                    s[0][c] = vaddq_f32(vaddq_f32(m0, m1), m2);
                    s[1][c] = vsubq_f32(vsubq_f32(m1, m2), m3);
                }
                for (int r = 0; r < 2; r++) {
                    const int oy = 2 * ty + r;
                    if (oy >= y->h) continue;
                    for (int c = 0; c < 2; c++) {
                        const int ox = 2 * tx + c;
                        if (ox >= y->w) continue;
                        const float32x4_t val = c == 0 ? vaddq_f32(vaddq_f32(s[r][0], s[r][1]), s[r][2])
                                                       : vsubq_f32(vsubq_f32(s[r][1], s[r][2]), s[r][3]);
                        epilogue_q(op, arena, vaddq_f32(val, bias), hr_at(arena, y, cb, oy, ox) + 4 * q, cb, oy, ox, q, plain);
                    }
                }
            }
        }
    }
}

void hr_wino_row_neon(const hr_op *op, float *arena, int64_t scratch, int ty) {
    hr_wino_row_with(op, arena, scratch, ty, input_row_neon, hr_conv_rows_neon, output_row_neon);
}
#endif
