/*
 * Opt-in BF16 direct convolution (AVX512_BF16): products in BF16, sums in FP32, FP32 epilogue.
 * See hrnet_kernels_bf16.h for the layouts and contracts.
 *
 * The microkernel is that of conv_avx512.c with half the steps: a register tile of B output
 * blocks x T output pixels of one row; for each (ic, ic+1) pair it loads B weight vectors
 * (16 oc x 2 ic bf16 each) and broadcasts T 32-bit input pairs (vbroadcastss), so one step does
 * B*T vdpbf16ps = 2*B*T*16 multiply-adds. conv_tile_bf16() is specialised for every (B, T) by
 * constant propagation (always_inline + literal arguments), so the accumulators live in zmm
 * registers. On Zen 5 (one core, 4.x GHz) a loop of independent vdpbf16ps peaks at ~525 GFLOP/s
 * and the 3x3 tiles chosen by hr_choose_tile_bf16 run at 490-530 GFLOP/s, twice the FP32 kernel.
 * (Forcing the broadcast into vdpbf16ps's embedded {1to16} memory operand with inline asm was
 * tried: 15% slower.)
 *
 * Channels past in_c: the weights are zero there (hr_pack_weights_bf16) and so are the
 * activations (hr_to_bf16_rows), so the last block runs ceil(nic/2) whole pairs.
 */
#include "internal.h"
#include "hrnet_kernels_bf16.h"
#include <string.h>
#if HR_X86
#include <immintrin.h>
#endif

int hr_cpu_has_avx512bf16(void) {
#if HR_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = hr_cpu_has_avx512() && __builtin_cpu_supports("avx512bf16");
    }
    return cached;
#else
    return 0;
#endif
}

size_t hr_bf16_weights_size(int cin, int cout, int k) {
    return (size_t)((cout + 15) / 16) * (size_t)((cin + 15) / 16) * (size_t)(k * k) * 256;
}

size_t hr_bf16_tensor_size(const hr_tensor *t) {
    return (size_t)t->cb * (size_t)(t->h + 2) * (size_t)(t->w + 2) * 16;
}

/* Bit-exact scalar twin of vcvtneps2bf16 (checked on Zen 5): subnormals become signed zero
 * (the instruction, like vdpbf16ps, treats them as zero), NaN stays NaN with the quiet bit set,
 * everything else rounds to nearest even (overflowing to infinity). */
uint16_t hr_float_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);         /* DAZ */
    u += 0x7fffu + ((u >> 16) & 1u);                                             /* RNE */
    return (uint16_t)(u >> 16);
}

static inline float bf16_to_float(uint16_t v) {
    const uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void hr_pack_weights_bf16(const float *src, int cin, int cout, int k, uint16_t *dst) {
    const int icbN = (cin + 15) / 16, ocbN = (cout + 15) / 16, kk = k * k;
    for (int ocb = 0; ocb < ocbN; ocb++)
        for (int icb = 0; icb < icbN; icb++)
            for (int tap = 0; tap < kk; tap++) {
                const int64_t base = (((int64_t)ocb * icbN + icb) * kk + tap) * 256;
                const float *s = src + base; /* [16 ic][16 oc] */
                uint16_t *d = dst + base;    /* [8 pairs][16 oc][2 ic] */
                for (int il = 0; il < 16; il++) {
                    const int real = icb * 16 + il < cin;
                    for (int ol = 0; ol < 16; ol++)
                        d[(il >> 1) * 32 + ol * 2 + (il & 1)] = real ? hr_float_to_bf16(s[il * 16 + ol]) : 0;
                }
            }
}

static inline const uint16_t *bf16_at(const uint16_t *base, const hr_tensor *t, int cb, int y, int x) {
    return base + (((int64_t)cb * (t->h + 2) + (y + 1)) * (t->w + 2) + (x + 1)) * 16;
}

static void ref_pixel(const hr_op *op, float *arena, const uint16_t *in_bf16, const uint16_t *wts, int ocb, int oy,
                      int ox) {
    const int k = op->k, s = op->stride, off = 1 - k / 2;
    const int64_t wstride = (int64_t)op->in.cb * k * k * 256;
    {
        float *o = hr_at(arena, &op->out, ocb, oy, ox);
        float v[16];
        for (int lane = 0; lane < 16; lane++) {
            double acc = 0;
            for (int ic = 0; ic < op->in_c; ic++) {
                const int icb = ic / 16, il = ic % 16;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const uint16_t *ip = bf16_at(in_bf16, &op->in, icb, oy * s + ky + off - 1, ox * s + kx + off - 1);
                        const uint16_t *wp = wts + ocb * wstride + (((int64_t)icb * k + ky) * k + kx) * 256;
                        acc += (double)bf16_to_float(ip[il]) * (double)bf16_to_float(wp[(il >> 1) * 32 + lane * 2 + (il & 1)]);
                    }
            }
            v[lane] = (float)(acc + op->bias[ocb * 16 + lane]);
        }
        hr_epilogue16(op, arena, v, o, ocb, oy, ox);
    }
}

void hr_conv_bf16_ref_task(const hr_op *op, float *arena, const uint16_t *in_bf16, const uint16_t *wts,
                           int ocb, int oy) {
    for (int ox = 0; ox < op->out.w; ox++) ref_pixel(op, arena, in_bf16, wts, ocb, oy, ox);
}

/* Tile sizes: B*T accumulators + B weight vectors + 1 broadcast register <= 32 zmm registers
 * (LLVM keeps the broadcast in a register rather than folding it into vdpbf16ps, so 4x7 would
 * spill). Measured on Zen 5, one core: B=1 peaks at T=12..13 and drops beyond. */
enum { TMAX1 = 13, TMAX2 = 14, TMAX3 = 9, TMAX4 = 6 };
static const int tile_t_max_bf16[5] = {0, TMAX1, TMAX2, TMAX3, TMAX4};

int hr_bf16_tile_t_max(int b) { return b >= 1 && b <= 4 ? tile_t_max_bf16[b] : 0; }

void hr_choose_tile_bf16(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    hr_choose_tile_with(tile_t_max_bf16, out_cb, out_w, out_h, nthreads, tile_b, tile_t);
}

#if !HR_X86
/* Other architectures have no BF16 sessions (hr_cpu_has_avx512bf16() is 0); these plain twins
 * keep every symbol of hrnet_kernels_bf16.h defined and correct. */
void hr_to_bf16_rows(const float *arena, const hr_tensor *t, int c, uint16_t *dst, int cb, int y0, int y1) {
    const int Wp = t->w + 2, Hp = t->h + 2;
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < Wp; x++)
            for (int l = 0; l < 16; l++) {
                const int inside = y > 0 && y < Hp - 1 && x > 0 && x < Wp - 1 && cb * 16 + l < c;
                const float v = inside ? arena[t->off + (((int64_t)cb * Hp + y) * Wp + x) * 16 + l] : 0.0f;
                dst[(((int64_t)cb * Hp + y) * Wp + x) * 16 + l] = inside ? hr_float_to_bf16(v) : 0;
            }
}

void hr_to_bf16(const float *arena, const hr_tensor *t, int c, uint16_t *dst) {
    for (int cb = 0; cb < t->cb; cb++) hr_to_bf16_rows(arena, t, c, dst, cb, 0, t->h + 2);
}

void hr_conv_rows_bf16(const hr_op *op, float *arena, const uint16_t *in_bf16, const uint16_t *weights_bf16,
                       int ocb0, int oy, int ox0, int b, int t) {
    for (int ocb = ocb0; ocb < ocb0 + b; ocb++)
        for (int ox = ox0; ox < ox0 + t; ox++) ref_pixel(op, arena, in_bf16, weights_bf16, ocb, oy, ox);
}
#else
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx512bf16,fma,avx2"))), apply_to = function)
#include "epilogue_avx512.h"

void hr_to_bf16_rows(const float *arena, const hr_tensor *t, int c, uint16_t *dst, int cb, int y0, int y1) {
    const int Wp = t->w + 2, Hp = t->h + 2;
    int nl = c - cb * 16;
    if (nl > 16) nl = 16;
    if (nl < 0) nl = 0;
    const __mmask16 m = (__mmask16)((1u << nl) - 1u);
    for (int y = y0; y < y1; y++) {
        uint16_t *d = dst + ((int64_t)cb * Hp + y) * Wp * 16;
        if (y == 0 || y == Hp - 1 || nl == 0) {
            memset(d, 0, (size_t)Wp * 16 * sizeof(uint16_t));
            continue;
        }
        const float *s = arena + t->off + ((int64_t)cb * Hp + y) * Wp * 16;
        /* Pixels 0 and Wp-1 are the border: zero. Interior pixels 1..w, two per 512-bit store. */
        memset(d, 0, 16 * sizeof(uint16_t));
        memset(d + (int64_t)(Wp - 1) * 16, 0, 16 * sizeof(uint16_t));
        int x = 1;
        for (; x + 1 <= t->w; x += 2) {
            const __m512 a = _mm512_maskz_loadu_ps(m, s + x * 16);
            const __m512 b = _mm512_maskz_loadu_ps(m, s + x * 16 + 16);
            _mm512_storeu_si512((void *)(d + x * 16), (__m512i)_mm512_cvtne2ps_pbh(b, a));
        }
        if (x <= t->w) {
            const __m512 a = _mm512_maskz_loadu_ps(m, s + x * 16);
            _mm256_storeu_si256((__m256i *)(d + x * 16), (__m256i)_mm512_cvtneps_pbh(a));
        }
    }
}

void hr_to_bf16(const float *arena, const hr_tensor *t, int c, uint16_t *dst) {
    for (int cb = 0; cb < t->cb; cb++) hr_to_bf16_rows(arena, t, c, dst, cb, 0, t->h + 2);
}

typedef int32_t __attribute__((may_alias, aligned(2))) pair_t;

static inline __attribute__((always_inline)) void
conv_tile_bf16(const hr_op *op, float *arena, const uint16_t *in, const uint16_t *wts,
               int ocb0, int oy, int ox0, const int B, const int T) {
    const int k = op->k, s = op->stride, off = 1 - k / 2;
    const int Hp = op->in.h + 2, Wp = op->in.w + 2;
    const int icbN = op->in.cb;
    const int64_t wstride = (int64_t)icbN * k * k * 256;
    const uint16_t *w0 = wts + (int64_t)ocb0 * wstride;
    __m512 acc[4][14];
    hr_tile_begin(op, arena, acc, ocb0, oy, ox0, B, T);

    for (int icb = 0; icb < icbN; icb++) {
        int nic = op->in_c - icb * 16;
        if (nic > 16) nic = 16;
        const int np = (nic + 1) >> 1;
        for (int ky = 0; ky < k; ky++) {
            const uint16_t *irow = in + (((int64_t)icb * Hp + (int64_t)oy * s + ky + off) * Wp + (int64_t)ox0 * s + off) * 16;
            const uint16_t *wrow = w0 + ((int64_t)(icb * k + ky) * k) * 256;
            for (int kx = 0; kx < k; kx++) {
                const uint16_t *ip = irow + kx * 16;
                const uint16_t *wp = wrow + kx * 256;
#define STEP(j)                                                                                        \
    do {                                                                                               \
        __m512bh wv[4];                                                                                \
        _Pragma("clang loop unroll(full)") for (int b = 0; b < B; b++)                                 \
            wv[b] = (__m512bh)_mm512_loadu_si512((const void *)(wp + b * wstride + (j) * 32));         \
        _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) {                               \
            const __m512bh x = (__m512bh)_mm512_set1_epi32(*(const pair_t *)(ip + t * s * 16 + 2 * (j))); \
            _Pragma("clang loop unroll(full)") for (int b = 0; b < B; b++)                             \
                acc[b][t] = _mm512_dpbf16_ps(acc[b][t], wv[b], x);                                     \
        }                                                                                              \
    } while (0)
                if (np == 8) {
#pragma clang loop unroll_count(2)
                    for (int j = 0; j < 8; j++) STEP(j);
                } else {
                    for (int j = 0; j < np; j++) STEP(j);
                }
#undef STEP
            }
        }
    }

    hr_epilogue_tile(op, arena, acc, ocb0, oy, ox0, B, T);
}

typedef void (*tile_bf16_fn)(const hr_op *, float *, const uint16_t *, const uint16_t *, int, int, int);
#define TILE(B, T)                                                                                          \
    static void tile_bf16_##B##_##T(const hr_op *op, float *a, const uint16_t *in, const uint16_t *w, int ocb0, \
                                    int oy, int ox0) {                                                      \
        conv_tile_bf16(op, a, in, w, ocb0, oy, ox0, B, T);                                                  \
    }
#define TILES6(B) TILE(B,1) TILE(B,2) TILE(B,3) TILE(B,4) TILE(B,5) TILE(B,6)
#define TILES9(B) TILES6(B) TILE(B,7) TILE(B,8) TILE(B,9)
#define TILES13(B) TILES9(B) TILE(B,10) TILE(B,11) TILE(B,12) TILE(B,13)
#define TILES14(B) TILES13(B) TILE(B,14)
TILES13(1)
TILES14(2)
TILES9(3)
TILES6(4)
#define F(B, T) tile_bf16_##B##_##T
#define ROW6(B) F(B,1), F(B,2), F(B,3), F(B,4), F(B,5), F(B,6)
#define ROW9(B) ROW6(B), F(B,7), F(B,8), F(B,9)
#define ROW13(B) ROW9(B), F(B,10), F(B,11), F(B,12), F(B,13)
#define ROW14(B) ROW13(B), F(B,14)
static const tile_bf16_fn tiles_bf16[5][15] = {
    {0},
    {0, ROW13(1)},
    {0, ROW14(2)},
    {0, ROW9(3)},
    {0, ROW6(4)},
};

void hr_conv_rows_bf16(const hr_op *op, float *arena, const uint16_t *in_bf16, const uint16_t *weights_bf16,
                       int ocb0, int oy, int ox0, int b, int t) {
    tiles_bf16[b][t](op, arena, in_bf16, weights_bf16, ocb0, oy, ox0);
}

#pragma clang attribute pop
#endif
