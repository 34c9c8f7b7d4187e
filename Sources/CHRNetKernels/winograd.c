/*
 * Winograd F(2x2, 3x3) for stride-1 3x3 convolutions, fused per row of output tiles so that the
 * transformed tiles stay in cache. For tile row ty (output rows 2ty, 2ty+1):
 *   1. V = B^T d B for each 4x4 input tile of the row, for all input channels: 16 "position"
 *      planes, V[p][icb][tile][16], in the thread's scratch;
 *   2. for each position p, M_p = V_p x U_p: a 1x1 convolution over the row of tiles with the
 *      transformed weights U_p = G g G^T (packed at load), run by the same register-tiled kernel
 *      as every other convolution;
 *   3. Y = A^T M A for each tile, plus the usual epilogue (bias, accumulate, residual, upsampled
 *      adds, ReLU).
 * 16 multiplies per 2x2 outputs instead of 36. The transforms use only 0 and +-1 (the weights'
 * 0.5s are applied once, in double, at load), so FP32 rounding stays at the direct
 * convolution's level. The transforms exist as plain 16-lane loops (the reference, any CPU)
 * and per SIMD set (AVX-512 here; AVX2 in conv_avx2.c, NEON in conv_neon.c), all driven by
 * hr_wino_row_with().
 */
#include "internal.h"

/* Scratch tensors of one task: V (16 * icb blocks) and M (16 * ocb blocks), 1 x tw each. */
static inline hr_tensor row_tensor(int64_t off, int cb, int tw) {
    hr_tensor t = {off, cb, 1, tw};
    return t;
}

int64_t hr_wino_scratch_floats(int in_cb, int out_cb, int out_w) {
    const int tw = (out_w + 1) / 2;
    return (int64_t)16 * (in_cb + out_cb) * 3 * (tw + 2) * 16;
}

static void
input_row(const hr_op *op, float *arena, const hr_tensor *v, int ty) {
    const hr_tensor *x = &op->in;
    const int icbn = x->cb, tw = v->w, Hp = x->h + 2, Wp = x->w + 2;
    for (int cb = 0; cb < icbn; cb++) {
        const float *base = arena + x->off + (int64_t)cb * Hp * Wp * 16;
        for (int tx = 0; tx < tw; tx++) {
            float d[4][4][16];
            for (int r = 0; r < 4; r++) {
                const int py = 2 * ty + r;
                for (int c = 0; c < 4; c++) {
                    const int px = 2 * tx + c;
                    if (py < Hp && px < Wp) {
                        const float *p = base + ((int64_t)py * Wp + px) * 16;
                        for (int l = 0; l < 16; l++) d[r][c][l] = p[l];
                    } else {
                        for (int l = 0; l < 16; l++) d[r][c][l] = 0;
                    }
                }
            }
            float t[4][4][16];
            for (int c = 0; c < 4; c++)
                for (int l = 0; l < 16; l++) {
                    const float d0 = d[0][c][l], d1 = d[1][c][l], d2 = d[2][c][l], d3 = d[3][c][l];
                    t[0][c][l] = d0 - d2; t[1][c][l] = d1 + d2; t[2][c][l] = d2 - d1; t[3][c][l] = d1 - d3;
                }
            for (int r = 0; r < 4; r++) {
                float *o0 = hr_at(arena, v, (r * 4 + 0) * icbn + cb, 0, tx), *o1 = hr_at(arena, v, (r * 4 + 1) * icbn + cb, 0, tx);
                float *o2 = hr_at(arena, v, (r * 4 + 2) * icbn + cb, 0, tx), *o3 = hr_at(arena, v, (r * 4 + 3) * icbn + cb, 0, tx);
                for (int l = 0; l < 16; l++) {
                    const float t0 = t[r][0][l], t1 = t[r][1][l], t2 = t[r][2][l], t3 = t[r][3][l];
                    o0[l] = t0 - t2; o1[l] = t1 + t2; o2[l] = t2 - t1; o3[l] = t1 - t3;
                }
            }
        }
    }
}

static void
output_row(const hr_op *op, float *arena, const hr_tensor *m, int ty) {
    const hr_tensor *y = &op->out;
    const int ocbn = y->cb, tw = m->w;
    for (int cb = 0; cb < ocbn; cb++) {
        for (int tx = 0; tx < tw; tx++) {
            float s[2][4][16];
            for (int c = 0; c < 4; c++) {
                const float *m0 = hr_at(arena, m, (0 * 4 + c) * ocbn + cb, 0, tx), *m1 = hr_at(arena, m, (1 * 4 + c) * ocbn + cb, 0, tx);
                const float *m2 = hr_at(arena, m, (2 * 4 + c) * ocbn + cb, 0, tx), *m3 = hr_at(arena, m, (3 * 4 + c) * ocbn + cb, 0, tx);
                for (int l = 0; l < 16; l++) {
                    s[0][c][l] = m0[l] + m1[l] + m2[l];
                    s[1][c][l] = m1[l] - m2[l] - m3[l];
                }
            }
            for (int r = 0; r < 2; r++) {
                const int oy = 2 * ty + r;
                if (oy >= y->h) continue;
                for (int c = 0; c < 2; c++) {
                    const int ox = 2 * tx + c;
                    if (ox >= y->w) continue;
                    float v[16];
                    for (int l = 0; l < 16; l++) {
                        const float a0 = s[r][0][l], a1 = s[r][1][l], a2 = s[r][2][l], a3 = s[r][3][l];
                        v[l] = (c == 0 ? a0 + a1 + a2 : a1 - a2 - a3) + op->bias[cb * 16 + l];
                    }
                    hr_epilogue16(op, arena, v, hr_at(arena, y, cb, oy, ox), cb, oy, ox);
                }
            }
        }
    }
}


#if HR_X86
#include <immintrin.h>
/* AVX-512 versions of the two transforms: one zmm register per 16 channels of a pixel. */
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma,avx2"))), apply_to = function)
#include "epilogue_avx512.h"
static void input_row_avx512(const hr_op *op, float *arena, const hr_tensor *v, int ty) {
    const hr_tensor *x = &op->in;
    const int icbn = x->cb, tw = v->w, Hp = x->h + 2, Wp = x->w + 2;
    const int64_t pstride = (int64_t)icbn * 3 * (tw + 2) * 16;  /* from position p to p+1 */
    const __m512 z = _mm512_setzero_ps();
    for (int cb = 0; cb < icbn; cb++) {
        const float *base = arena + x->off + (int64_t)cb * Hp * Wp * 16;
        float *vout = hr_at(arena, v, cb, 0, 0);
        for (int tx = 0; tx < tw; tx++) {
            __m512 d[4][4];
            const int inside = 2 * ty + 3 < Hp && 2 * tx + 3 < Wp;
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) {
                    const int py = 2 * ty + r, px = 2 * tx + c;
                    d[r][c] = (inside || (py < Hp && px < Wp)) ? _mm512_loadu_ps(base + ((int64_t)py * Wp + px) * 16) : z;
                }
            __m512 t[4][4];
            for (int c = 0; c < 4; c++) {
                t[0][c] = _mm512_sub_ps(d[0][c], d[2][c]);
                t[1][c] = _mm512_add_ps(d[1][c], d[2][c]);
                t[2][c] = _mm512_sub_ps(d[2][c], d[1][c]);
                t[3][c] = _mm512_sub_ps(d[1][c], d[3][c]);
            }
            float *o = vout + tx * 16;
            for (int r = 0; r < 4; r++) {
                _mm512_storeu_ps(o + (r * 4 + 0) * pstride, _mm512_sub_ps(t[r][0], t[r][2]));
                _mm512_storeu_ps(o + (r * 4 + 1) * pstride, _mm512_add_ps(t[r][1], t[r][2]));
                _mm512_storeu_ps(o + (r * 4 + 2) * pstride, _mm512_sub_ps(t[r][2], t[r][1]));
                _mm512_storeu_ps(o + (r * 4 + 3) * pstride, _mm512_sub_ps(t[r][1], t[r][3]));
            }
        }
    }
}

static void output_row_avx512(const hr_op *op, float *arena, const hr_tensor *m, int ty) {
    const hr_tensor *y = &op->out;
    const int ocbn = y->cb, tw = m->w;
    const int64_t pstride = (int64_t)ocbn * 3 * (tw + 2) * 16;
    for (int cb = 0; cb < ocbn; cb++) {
        const float *min = hr_at(arena, m, cb, 0, 0);
        const __m512 bias = _mm512_loadu_ps(op->bias + cb * 16);
        for (int tx = 0; tx < tw; tx++) {
            const float *mp = min + tx * 16;
            __m512 s[2][4];
            for (int c = 0; c < 4; c++) {
                const __m512 m0 = _mm512_loadu_ps(mp + (0 * 4 + c) * pstride), m1 = _mm512_loadu_ps(mp + (1 * 4 + c) * pstride);
                const __m512 m2 = _mm512_loadu_ps(mp + (2 * 4 + c) * pstride), m3 = _mm512_loadu_ps(mp + (3 * 4 + c) * pstride);
                s[0][c] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                s[1][c] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            for (int r = 0; r < 2; r++) {
                const int oy = 2 * ty + r;
                if (oy >= y->h) continue;
                for (int c = 0; c < 2; c++) {
                    const int ox = 2 * tx + c;
                    if (ox >= y->w) continue;
                    __m512 val = c == 0 ? _mm512_add_ps(_mm512_add_ps(s[r][0], s[r][1]), s[r][2])
                                        : _mm512_sub_ps(_mm512_sub_ps(s[r][1], s[r][2]), s[r][3]);
                    hr_epilogue_store(op, arena, _mm512_add_ps(val, bias), cb, oy, ox);
                }
            }
        }
    }
}
#pragma clang attribute pop
#endif

/* The 1x1 convolution of position p over the task's row of tiles. */
static hr_op gemm_position(const hr_op *op, const hr_tensor *v, const hr_tensor *m, int p) {
    static const float zeros[4096] = {0};
    hr_op g = *op;
    const int icb = op->in.cb, ocb = op->out.cb;
    const int64_t vplane = (int64_t)3 * (v->w + 2) * 16, mplane = (int64_t)3 * (m->w + 2) * 16;
    g.kind = HR_OP_CONV;
    g.k = 1; g.stride = 1;
    g.in = row_tensor(v->off + p * icb * vplane, icb, v->w);
    g.out = row_tensor(m->off + p * ocb * mplane, ocb, m->w);
    g.in_c = icb * 16;
    g.weights = op->weights + (int64_t)p * ocb * icb * 256;
    g.bias = zeros;
    g.res.off = -1; g.n_up = 0; g.relu = 0; g.accumulate = 0;
    g.weights_bf16 = 0;
    return g;
}

void hr_wino_row_with(const hr_op *op, float *arena, int64_t scratch, int ty, hr_wino_transform_fn input,
                      hr_conv_rows_fn conv, hr_wino_transform_fn output) {
    const int tw = (op->out.w + 1) / 2;
    const hr_tensor v = row_tensor(scratch, 16 * op->in.cb, tw);
    const hr_tensor m = row_tensor(scratch + (int64_t)16 * op->in.cb * 3 * (tw + 2) * 16, 16 * op->out.cb, tw);
    input(op, arena, &v, ty);
    const int B = conv ? op->tile_b : 1, T = op->tile_t;
    for (int p = 0; p < 16; p++) {
        const hr_op g = gemm_position(op, &v, &m, p);
        for (int ocb = 0; ocb < op->out.cb; ocb += B) {
            if (conv) {
                for (int t0 = 0; t0 < tw; t0 += T) conv(&g, arena, ocb, 0, t0, B, tw - t0 < T ? tw - t0 : T);
            } else {
                hr_conv_ref_task(&g, arena, ocb, 0);
            }
        }
    }
    output(op, arena, &m, ty);
}

void hr_wino_row_ref(const hr_op *op, float *arena, int64_t scratch, int ty) {
    hr_wino_row_with(op, arena, scratch, ty, input_row, 0, output_row);
}

#if HR_X86
void hr_wino_row_avx512(const hr_op *op, float *arena, int64_t scratch, int ty) {
    hr_wino_row_with(op, arena, scratch, ty, input_row_avx512, hr_conv_rows_avx512, output_row_avx512);
}
#endif
