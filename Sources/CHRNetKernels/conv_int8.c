/*
 * Opt-in INT8 direct convolution: uint8 activations x int8 weights summed exactly in int32
 * (AVX-512 VNNI vpdpbusd), FP32 epilogue. See hrnet_kernels_int8.h for the layouts.
 *
 * The microkernel is the BF16 one (conv_bf16.c) with quads instead of pairs: a register tile of
 * B output blocks x T pixels of one row; for each quad of input channels it loads B weight
 * vectors (16 oc x 4 ic int8) and broadcasts T 32-bit input quads, so one step does B*T
 * vpdpbusd = 64*B*T multiply-adds, twice a BF16 step and four times an FP32 one.
 */
#include "internal.h"
#include "hrnet_kernels_int8.h"
#include "hrnet_kernels_bf16.h"
#include <math.h>
#include <string.h>
#if HR_X86
#include <immintrin.h>
#endif

int hr_cpu_has_avx512vnni(void) {
#if HR_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = hr_cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
    }
    return cached;
#else
    return 0;
#endif
}

/* The same element counts as BF16's layouts (one byte per element here instead of two). */
size_t hr_int8_weights_size(int cin, int cout, int k) { return hr_bf16_weights_size(cin, cout, k); }

size_t hr_int8_tensor_bytes(const hr_tensor *t) { return hr_bf16_tensor_size(t); }

/* Round to nearest even in float, as vcvtps2dq does under the default rounding mode. */
static inline int32_t round_even(float v) { return (int32_t)nearbyintf(v); }

void hr_pack_weights_int8(const float *src, int cin, int cout, int k, const float *inv_scale, int8_t *dst) {
    const int icbN = (cin + 15) / 16, ocbN = (cout + 15) / 16, kk = k * k;
    for (int ocb = 0; ocb < ocbN; ocb++)
        for (int icb = 0; icb < icbN; icb++)
            for (int tap = 0; tap < kk; tap++) {
                const int64_t base = (((int64_t)ocb * icbN + icb) * kk + tap) * 256;
                const float *s = src + base; /* [16 ic][16 oc] */
                int8_t *d = dst + base;      /* [4 quads][16 oc][4 ic] */
                for (int il = 0; il < 16; il++)
                    for (int ol = 0; ol < 16; ol++) {
                        const int real = icb * 16 + il < cin && ocb * 16 + ol < cout;
                        int32_t q = real ? round_even(s[il * 16 + ol] * inv_scale[ocb * 16 + ol]) : 0;
                        if (q > 127) q = 127;
                        if (q < -127) q = -127;
                        d[(il >> 2) * 64 + ol * 4 + (il & 3)] = (int8_t)q;
                    }
            }
}

static void to_u8_rows_plain(const float *arena, const hr_tensor *t, int c, float inv, uint8_t *dst, int cb, int y0, int y1) {
    const int Wp = t->w + 2, Hp = t->h + 2;
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < Wp; x++)
            for (int l = 0; l < 16; l++) {
                const int inside = y > 0 && y < Hp - 1 && x > 0 && x < Wp - 1 && cb * 16 + l < c;
                const int64_t i = (((int64_t)cb * Hp + y) * Wp + x) * 16 + l;
                dst[i] = inside ? hr_quantize_u8(arena[t->off + i], inv) : 0;
            }
}

static inline const uint8_t *u8_at(const uint8_t *base, const hr_tensor *t, int cb, int y, int x) {
    return base + (((int64_t)cb * (t->h + 2) + (y + 1)) * (t->w + 2) + (x + 1)) * 16;
}

static void ref_pixel(const hr_op *op, float *arena, const uint8_t *in, int ocb, int oy, int ox) {
    const int k = op->k, s = op->stride, off = 1 - k / 2;
    const int64_t wstride = (int64_t)op->in.cb * k * k * 256;
    float v[16];
    for (int lane = 0; lane < 16; lane++) {
        int64_t acc = 0;
        for (int ic = 0; ic < op->in_c; ic++) {
            const int icb = ic / 16, il = ic % 16;
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    const uint8_t *ip = u8_at(in, &op->in, icb, oy * s + ky + off - 1, ox * s + kx + off - 1);
                    const int8_t *wp = op->weights_int8 + ocb * wstride + (((int64_t)icb * k + ky) * k + kx) * 256;
                    acc += (int64_t)ip[il] * (int64_t)wp[(il >> 2) * 64 + lane * 4 + (il & 3)];
                }
        }
        /* One rounding, as every INT8 kernel: fma(sum, scale, bias). Bit-equal outputs matter: a
         * last-bit difference can move the next INT8 layer's input across a quantization step. */
        v[lane] = fmaf((float)(int32_t)acc, op->int8_scale[ocb * 16 + lane], op->bias[ocb * 16 + lane]);
    }
    hr_epilogue16(op, arena, v, hr_at(arena, &op->out, ocb, oy, ox), ocb, oy, ox);
}

void hr_conv_int8_ref_task(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb, int oy) {
    for (int ox = 0; ox < op->out.w; ox++) ref_pixel(op, arena, in_u8, ocb, oy, ox);
}

void hr_conv_int8_ref_tile(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    for (int ocb = ocb0; ocb < ocb0 + b; ocb++)
        for (int ox = ox0; ox < ox0 + t; ox++) ref_pixel(op, arena, in_u8, ocb, oy, ox);
}

size_t hr_int8_avx2_weights_count(int cin, int cout, int k) { return hr_int8_weights_size(cin, cout, k); }

void hr_pack_weights_int8_avx2(const int8_t *src, int cin, int cout, int k, int16_t *dst) {
    const int64_t taps = (int64_t)((cout + 15) / 16) * ((cin + 15) / 16) * k * k;
    for (int64_t tap = 0; tap < taps; tap++)
        for (int j = 0; j < 4; j++)          /* quad: input channels 4j..4j+3 */
            for (int eo = 0; eo < 2; eo++)   /* even pair (4j, 4j+2), odd pair (4j+1, 4j+3) */
                for (int oc = 0; oc < 16; oc++)
                    for (int p = 0; p < 2; p++)
                        dst[tap * 256 + j * 64 + eo * 32 + oc * 2 + p] = src[tap * 256 + j * 64 + oc * 4 + 2 * p + eo];
}

void hr_int8_weight_sums(const int8_t *src, int cin, int cout, int k, int32_t *dst) {
    const int icbN = (cin + 15) / 16, ocbN = (cout + 15) / 16, kk = k * k;
    for (int ocb = 0; ocb < ocbN; ocb++)
        for (int ol = 0; ol < 16; ol++) {
            int32_t sum = 0;
            for (int64_t i = (int64_t)ocb * icbN * kk; i < (int64_t)(ocb + 1) * icbN * kk; i++)
                for (int il = 0; il < 16; il++) sum += src[i * 256 + (il >> 2) * 64 + ol * 4 + (il & 3)];
            dst[ocb * 16 + ol] = sum;
        }
}

/* Largest T per B for each INT8 kernel: VNNI below; AVX2 and NEON_DOT as their FP32 kernels
 * (2BT accumulators of 16 ymm; 4BT of 32 q registers). */
static const int tile_t_max_avx2[5] = {0, 6, 3, 2, 1};
static const int tile_t_max_neon[5] = {0, 6, 3, 2, 1};
/* VNNI: B*T accumulators + B weight vectors + 1 broadcast <= 32 zmm registers, as for BF16. */
static const int tile_t_max_int8[5] = {0, 13, 14, 9, 6};

int hr_int8_kernel_tile_t_max(int kernel, int b) {
    if (b < 1 || b > 4) return 0;
    switch (kernel) {
    case HR_INT8_VNNI: return tile_t_max_int8[b];
    case HR_INT8_AVX2: case HR_INT8_AVXVNNI: return tile_t_max_avx2[b];
    case HR_INT8_NEON_DOT: return tile_t_max_neon[b];
    default: return 1;
    }
}

int hr_int8_kernel(int set) {
    switch (set) {
    case HR_KERNELS_AVX512:
        if (!hr_kernels_supported(set)) return HR_INT8_REFERENCE;
        /* AVX512 implies the AVX2 set's features */
        return hr_cpu_has_avx512vnni() ? HR_INT8_VNNI : hr_cpu_has_avxvnni() ? HR_INT8_AVXVNNI : HR_INT8_AVX2;
    case HR_KERNELS_AVX2:
        if (!hr_kernels_supported(set)) return HR_INT8_REFERENCE;
        return hr_cpu_has_avxvnni() ? HR_INT8_AVXVNNI : HR_INT8_AVX2;
    case HR_KERNELS_NEON: return hr_kernels_supported(set) && hr_cpu_has_neon_dotprod() ? HR_INT8_NEON_DOT : HR_INT8_REFERENCE;
    default: return HR_INT8_REFERENCE;
    }
}

/* Largest T per B of the pipelined VNNI tiles (below; a width that divides the row): B*T + B + 1
 * <= 28 zmm registers, the rest for the epilogue interleaved with the sums. */
static const int pp_t_max[5] = {0, 13, 12, 8, 6};

/* The layers the pipelined tiles take, whatever their tile: stride 1, no fused sums or
 * accumulation, whole input blocks, and at least 64 vpdpbusd per output vector (in_c x k x k >=
 * 256): below that the epilogue outweighs the sums it could hide behind, and the 1x1 64->256
 * layers measured slower pipelined (0.56 -> 0.65 ms at 96x72, one Zen 5 core). */
static int pp_layer(const hr_op *op) {
    return op->kind == HR_OP_CONV && op->weights_int8 && op->stride == 1 && op->n_up == 0 && !op->accumulate &&
           op->in_c == op->in.cb * 16 && op->in_c * op->k * op->k >= 256;
}

void hr_choose_tile_int8_op(int set, hr_op *op, int nthreads) {
    const int out_cb = op->out.cb, out_w = op->out.w, out_h = op->out.h;
    if (hr_int8_kernel(set) != HR_INT8_VNNI || !pp_layer(op)) {
        hr_choose_tile_int8_set(set, op->k, out_cb, out_w, out_h, nthreads, &op->tile_b, &op->tile_t);
        return;
    }
    /* hr_choose_tile_ties over the widths that divide the row (ties: the wider B, fewer
     * broadcasts per vpdpbusd). */
    int tdiv[5] = {0};
    for (int b = 1; b <= 4; b++) {
        int t = out_w < pp_t_max[b] ? out_w : pp_t_max[b];
        while (out_w % t) t--;
        tdiv[b] = t;
    }
    int32_t bb, bt;
    hr_choose_tile_ties(tdiv, 1, out_cb, out_w, out_h, nthreads, &bb, &bt);
    /* Unless the plain tile is half as wide again: at 12x9, a plain 3 x 9 beats a pipelined 2 x 9
     * (W48's 384-channel layers, 0.314 -> 0.320 ms pipelined, one Zen 5 core). */
    int32_t pb, pt;
    hr_choose_tile_int8_set(set, op->k, out_cb, out_w, out_h, nthreads, &pb, &pt);
    if ((double)pb * pt >= 1.5 * bb * bt) { bb = pb; bt = pt; }
    op->tile_b = bb;
    op->tile_t = bt;
}

void hr_choose_tile_int8_set(int set, int k, int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    switch (hr_int8_kernel(set)) {
    case HR_INT8_AVX2:
    case HR_INT8_AVXVNNI:
        /* Unlike FP32 (where 2 x 3 wins), 1 x 6 is chosen (ties keep the smaller B). One core of
         * this Zen 5 VM, 3x3 64->64 at 64x48, noisy: 1x4 1.14 ms, 1x6 1.18, 4x1 1.17, 2x2 1.22,
         * 2x3 1.33 (clang spills accumulators of the wider tiles); FP32 AVX2 2x3: 1.74 ms. */
        hr_choose_tile_with(tile_t_max_avx2, out_cb, out_w, out_h, nthreads, tile_b, tile_t);
        return;
    case HR_INT8_NEON_DOT: hr_choose_tile_with(tile_t_max_neon, out_cb, out_w, out_h, nthreads, tile_b, tile_t); return;
    default:
        /* VNNI 1x1 layers: on a tie (4 x 6 against 2 x 12), 4 x 6: one core of this Zen 5,
         * 64->256 at 64x48 with its epilogue 0.180 ms against 0.215, 256->64 0.109 against 0.129;
         * 3x3 layers measure the same either way, so they keep the default. */
        hr_choose_tile_ties(tile_t_max_int8, k == 1, out_cb, out_w, out_h, nthreads, tile_b, tile_t);
    }
}


#if !HR_X86
void hr_to_u8_rows(const float *arena, const hr_tensor *t, int c, float inv, uint8_t *dst, int cb, int y0, int y1) {
    to_u8_rows_plain(arena, t, c, inv, dst, cb, y0, y1);
}

void hr_conv_rows_int8(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    hr_conv_int8_ref_tile(op, arena, in_u8, ocb0, oy, ox0, b, t);
}

int hr_int8_pipelined(const hr_op *op) { (void)op; return 0; }

void hr_conv_tasks_int8(const hr_op *op, float *arena, const uint8_t *in_u8, int task0, int task1) {
    (void)op; (void)arena; (void)in_u8; (void)task0; (void)task1;
}
#else
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx512vnni,fma,avx2"))), apply_to = function)
#include "epilogue_avx512.h"

static void to_u8_rows_avx512(const float *arena, const hr_tensor *t, int c, float inv, uint8_t *dst, int cb, int y0, int y1) {
    const int Wp = t->w + 2, Hp = t->h + 2;
    int nl = c - cb * 16;
    if (nl > 16) nl = 16;
    if (nl < 0) nl = 0;
    const __mmask16 m = (__mmask16)((1u << nl) - 1u);
    const __m512 vinv = _mm512_set1_ps(inv);
    for (int y = y0; y < y1; y++) {
        uint8_t *d = dst + ((int64_t)cb * Hp + y) * Wp * 16;
        if (y == 0 || y == Hp - 1 || nl == 0) {
            memset(d, 0, (size_t)Wp * 16);
            continue;
        }
        const float *s = arena + t->off + ((int64_t)cb * Hp + y) * Wp * 16;
        memset(d, 0, 16);
        memset(d + (int64_t)(Wp - 1) * 16, 0, 16);
        for (int x = 1; x <= t->w; x++)
            _mm_storeu_si128((__m128i *)(d + x * 16), hr_quantize_u8x16(_mm512_maskz_loadu_ps(m, s + x * 16), vinv));
    }
}

void hr_to_u8_rows(const float *arena, const hr_tensor *t, int c, float inv, uint8_t *dst, int cb, int y0, int y1) {
    if (hr_cpu_has_avx512()) to_u8_rows_avx512(arena, t, c, inv, dst, cb, y0, y1);
    else to_u8_rows_plain(arena, t, c, inv, dst, cb, y0, y1);
}

typedef int32_t __attribute__((may_alias, aligned(1))) hr_quad_t;

/* acc[0..B)[t] += the 4 bytes at p, broadcast, times w[0..B): one vpbroadcastd, B vpdpbusd. */
#define PP_DOT1(a, w, p) \
    __asm__("vpbroadcastd %2, %1\n\tvpdpbusd %3, %1, %0" : "+v"(a[0][t]), "=&v"(x) : "m"(*(const int32_t *)(p)), "v"(w[0]))
#define PP_DOT2(a, w, p)                                                                          \
    __asm__("vpbroadcastd %3, %2\n\tvpdpbusd %4, %2, %0\n\tvpdpbusd %5, %2, %1"                     \
            : "+v"(a[0][t]), "+v"(a[1][t]), "=&v"(x) : "m"(*(const int32_t *)(p)), "v"(w[0]), "v"(w[1]))
#define PP_DOT3(a, w, p)                                                                          \
    __asm__("vpbroadcastd %4, %3\n\tvpdpbusd %5, %3, %0\n\tvpdpbusd %6, %3, %1\n\tvpdpbusd %7, %3, %2" \
            : "+v"(a[0][t]), "+v"(a[1][t]), "+v"(a[2][t]), "=&v"(x)                                   \
            : "m"(*(const int32_t *)(p)), "v"(w[0]), "v"(w[1]), "v"(w[2]))
#define PP_DOT4(a, w, p)                                                                          \
    __asm__("vpbroadcastd %5, %4\n\tvpdpbusd %6, %4, %0\n\tvpdpbusd %7, %4, %1\n\tvpdpbusd %8, %4, %2\n\tvpdpbusd %9, %4, %3" \
            : "+v"(a[0][t]), "+v"(a[1][t]), "+v"(a[2][t]), "+v"(a[3][t]), "=&v"(x)                    \
            : "m"(*(const int32_t *)(p)), "v"(w[0]), "v"(w[1]), "v"(w[2]), "v"(w[3]))

/* The start of a B x T tile: accumulators zeroed, output lines fetched (hr_prefetch_out_tile). */
static inline __attribute__((always_inline)) void
int8_tile_begin(const hr_op *op, float *arena, __m512i acc[4][14], int ocb0, int oy, int ox0, const int B, const int T) {
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++)
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) acc[b][t] = _mm512_setzero_si512();
    hr_prefetch_out_tile(op, arena, ocb0, oy, ox0, B, T);
}

/* One kernel row (all kx) of a tile's sums: irow = the input row's first pixel for the tile
 * (stride s), wrow = its weights for output block 0 (block b at + b x wstride), nq = quads of
 * real input channels in this input block (4 unless the last block is partial). */
static inline __attribute__((always_inline)) void
int8_row_sums(__m512i acc[4][14], const uint8_t *irow, const int8_t *wrow, int64_t wstride, int k, int s, int nq,
              const int B, const int T) {
    for (int kx = 0; kx < k; kx++) {
        const uint8_t *ip = irow + kx * 16;
        const int8_t *wp = wrow + kx * 256;
#define STEP(j)                                                                                      \
    do {                                                                                             \
        __m512i wv[4];                                                                               \
        _Pragma("clang loop unroll(full)") for (int b = 0; b < B; b++)                               \
            wv[b] = _mm512_loadu_si512((const void *)(wp + b * wstride + (j) * 64));                 \
        _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) {                             \
            __m512i x;                                                                               \
            const uint8_t *xp = ip + t * s * 16 + 4 * (j);                                           \
            if (B == 1) PP_DOT1(acc, wv, xp);                                                        \
            else if (B == 2) PP_DOT2(acc, wv, xp);                                                   \
            else if (B == 3) PP_DOT3(acc, wv, xp);                                                   \
            else PP_DOT4(acc, wv, xp);                                                               \
        }                                                                                            \
    } while (0)
        if (nq == 4) {
            STEP(0); STEP(1); STEP(2); STEP(3);
        } else {
            for (int j = 0; j < nq; j++) STEP(j);
        }
#undef STEP
    }
}

static inline __attribute__((always_inline)) void
conv_tile_int8(const hr_op *op, float *arena, const uint8_t *in, int ocb0, int oy, int ox0, const int B, const int T) {
    const int k = op->k, s = op->stride, off = 1 - k / 2;
    const int Hp = op->in.h + 2, Wp = op->in.w + 2;
    const int icbN = op->in.cb;
    const int64_t wstride = (int64_t)icbN * k * k * 256;
    const int8_t *w0 = op->weights_int8 + (int64_t)ocb0 * wstride;
    __m512i acc[4][14];
    int8_tile_begin(op, arena, acc, ocb0, oy, ox0, B, T);
    for (int icb = 0; icb < icbN; icb++) {
        int nic = op->in_c - icb * 16;
        if (nic > 16) nic = 16;
        const int nq = (nic + 3) >> 2;
        for (int ky = 0; ky < k; ky++)
            int8_row_sums(acc, in + (((int64_t)icb * Hp + (int64_t)oy * s + ky + off) * Wp + (int64_t)ox0 * s + off) * 16,
                          w0 + ((int64_t)(icb * k + ky) * k) * 256, wstride, k, s, nq, B, T);
    }
    /* int32 sums -> FP32: fma(sum, scale, bias) per output channel (one rounding, as the
     * reference); then the FP32 epilogue. */
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b;
        const __m512 sc = _mm512_loadu_ps(op->int8_scale + cb * 16), bias = _mm512_loadu_ps(op->bias + cb * 16);
        __m512 v[14];
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) v[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[b][t]), sc, bias);
        hr_epilogue_run(op, arena, v, cb, oy, ox0, T);
    }
}

typedef void (*tile_int8_fn)(const hr_op *, float *, const uint8_t *, int, int, int);
#define TILE(B, T)                                                                                     \
    static void tile_int8_##B##_##T(const hr_op *op, float *a, const uint8_t *in, int ocb0, int oy, int ox0) { \
        conv_tile_int8(op, a, in, ocb0, oy, ox0, B, T);                                                \
    }
#define TILES6(B) TILE(B,1) TILE(B,2) TILE(B,3) TILE(B,4) TILE(B,5) TILE(B,6)
#define TILES9(B) TILES6(B) TILE(B,7) TILE(B,8) TILE(B,9)
#define TILES13(B) TILES9(B) TILE(B,10) TILE(B,11) TILE(B,12) TILE(B,13)
#define TILES14(B) TILES13(B) TILE(B,14)
TILES13(1)
TILES14(2)
TILES9(3)
TILES6(4)
#define F(B, T) tile_int8_##B##_##T
#define ROW6(B) F(B,1), F(B,2), F(B,3), F(B,4), F(B,5), F(B,6)
#define ROW9(B) ROW6(B), F(B,7), F(B,8), F(B,9)
#define ROW13(B) ROW9(B), F(B,10), F(B,11), F(B,12), F(B,13)
#define ROW14(B) ROW13(B), F(B,14)
static const tile_int8_fn tiles_int8[5][15] = {
    {0},
    {0, ROW13(1)},
    {0, ROW14(2)},
    {0, ROW9(3)},
    {0, ROW6(4)},
};

void hr_conv_rows_int8(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    tiles_int8[b][t](op, arena, in_u8, ocb0, oy, ox0);
}

/* ---- Pipelined tiles: each tile's epilogue runs interleaved with the next tile's sums ----
 *
 * After its sums, a tile's B x T int32 accumulators go to a small buffer (in L1), and their
 * epilogue (dequantize, residual, ReLU, the uint8/half/FP32 stores) is spread over the next
 * tile's loop, a few vectors after each kernel row: the epilogue's conversions and stores then
 * run beside vpdpbusd instead of after it, where the core had little else to do. On one Zen 5
 * core, a 48-channel 3x3 layer at 96x72 with residual and both copies: 0.314 ms with the plain
 * tiles, 0.329 with this code but the epilogue after each tile, 0.297 interleaved (a
 * register-only loop: vpdpbusd alone 1040 GOPS; with one epilogue vector per 96 vpdpbusd 1012
 * interleaved, 946 bunched). The tasks of a thread are one stream of tiles, row after row and
 * group after group, so one-tile rows (W32's 8x6) are pipelined too.
 *
 * Each broadcast and its B vpdpbusd are one asm statement (PP_DOT*, which the plain tiles above
 * use too): written as intrinsics, clang hoisted all the broadcasts of a kernel row into spilled
 * registers once the epilogue code was in the loop (2x slower). Tiles keep B*T + B + 1 <= 28
 * registers, leaving the epilogue its own. Used for the layers hr_int8_pipelined accepts (stride
 * 1, no fused sums or accumulation, whole input blocks, >= 64 vpdpbusd per output vector, a tile
 * width that divides the row); the others take the plain tiles above. Same sums, same epilogue
 * arithmetic: the same bits. */

typedef struct {
    const float *scale[4], *bias[4];
    const uint16_t *rh[4];
    const float *rf[4];
    uint8_t *u[4];
    uint16_t *h[4];
    float *o[4];
    float inv;
    int relu, rmode, has_u, has_h, has_o;
} pp_ctx;

/* Where the epilogue of the tile at blocks ocb0.., row oy, pixels ox0.. reads and writes. */
static inline __attribute__((always_inline)) void
pp_point(const hr_op *op, float *arena, pp_ctx *c, int ocb0, int oy, int ox0, const int B) {
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b;
        c->scale[b] = op->int8_scale + cb * 16;
        c->bias[b] = op->bias + cb * 16;
        if (c->rmode == 1) c->rh[b] = hr_at_f16_of(arena, &op->res, op->res_f16, cb, oy, ox0);
        if (c->rmode >= 2) c->rf[b] = hr_at(arena, &op->res, cb, oy, ox0);
        if (c->has_u) c->u[b] = hr_at_u8(arena, op, cb, oy, ox0);
        if (c->has_h) c->h[b] = hr_at_f16_of(arena, &op->out, op->out_f16, cb, oy, ox0);
        if (c->has_o) c->o[b] = hr_at(arena, &op->out, cb, oy, ox0);
    }
}

/* hr_epilogue_run for one vector (block b, pixel t of the pending tile), with the tile's addresses
 * and flags taken once (pp_point, pp_tasks): hr_epilogue_run itself on one vector at a time,
 * which recomputes them per vector, made W48 batch 8 1.4-5% slower. */
static inline __attribute__((always_inline)) void pp_epilogue(const pp_ctx *c, const int32_t *p, int b, int t) {
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512((const void *)p)), _mm512_loadu_ps(c->scale[b]),
                               _mm512_loadu_ps(c->bias[b]));
    if (c->rmode == 1) v = _mm512_add_ps(v, hr_load_f16x16(c->rh[b] + t * 16));
    else if (c->rmode == 2) v = _mm512_add_ps(v, _mm512_cvtph_ps(hr_to_f16x16(_mm512_loadu_ps(c->rf[b] + t * 16))));
    else if (c->rmode == 3) v = _mm512_add_ps(v, _mm512_loadu_ps(c->rf[b] + t * 16));
    if (c->relu) {
        v = _mm512_max_ps(v, _mm512_setzero_ps());
        if (c->has_u) _mm_storeu_si128((__m128i *)(c->u[b] + t * 16), hr_quantize_u8x16_relu(v, _mm512_set1_ps(c->inv)));
    } else if (c->has_u) {
        _mm_storeu_si128((__m128i *)(c->u[b] + t * 16), hr_quantize_u8x16(v, _mm512_set1_ps(c->inv)));
    }
    if (c->has_h) _mm256_storeu_si256((__m256i *)(c->h[b] + t * 16), hr_to_f16x16(v));
    if (c->has_o) _mm512_storeu_ps(c->o[b] + t * 16, v);
}

static inline __attribute__((always_inline)) void
pp_tasks(const hr_op *op, float *arena, const uint8_t *in, int task0, int task1, const int B, const int T) {
    const int k = op->k, off = 1 - k / 2;
    const int Hp = op->in.h + 2, Wp = op->in.w + 2, H = op->out.h, W = op->out.w;
    const int icbN = op->in.cb;
    const int64_t wstride = (int64_t)icbN * k * k * 256;
    int32_t pend[24 * 16] __attribute__((aligned(64)));   /* B*T <= 24 (pp_t_max) */
    pp_ctx c;
    c.inv = op->out_u8_inv;
    c.relu = op->relu;
    c.rmode = op->res_f16_mode == 1 ? 1 : op->res.off < 0 ? 0 : op->res_f16_mode == 2 ? 2 : 3;
    c.has_u = op->out_u8_inv > 0;
    c.has_h = op->out_f16_on != 0;
    c.has_o = !op->out_skip_fp32;
    /* Epilogue vectors of the pending tile done after each kernel row (icb, ky) of the next. (After
     * each tap instead, clang kept the accumulators in memory.) */
    const int rows = icbN * k, q = (B * T + rows - 1) / rows;
    int npend = 0, e = 0;
    for (int task = task0; task < task1; task++) {
        const int ocb0 = (task / H) * B, oy = task % H;
        const int8_t *w0 = op->weights_int8 + (int64_t)ocb0 * wstride;
        for (int ox0 = 0; ox0 < W; ox0 += T) {
            __m512i acc[4][14];
            int8_tile_begin(op, arena, acc, ocb0, oy, ox0, B, T);
            for (int icb = 0; icb < icbN; icb++) {
                for (int ky = 0; ky < k; ky++) {
                    int8_row_sums(acc, in + (((int64_t)icb * Hp + oy + ky + off) * Wp + ox0 + off) * 16,
                                  w0 + ((int64_t)(icb * k + ky) * k) * 256, wstride, k, 1, 4, B, T);
                    for (int r = 0; r < q && e < npend; r++, e++) pp_epilogue(&c, pend + e * 16, e / T, e % T);
                }
            }
            for (; e < npend; e++) pp_epilogue(&c, pend + e * 16, e / T, e % T);
#pragma clang loop unroll(full)
            for (int b = 0; b < B; b++)
#pragma clang loop unroll(full)
                for (int t = 0; t < T; t++) _mm512_store_si512((void *)(pend + (b * T + t) * 16), acc[b][t]);
            pp_point(op, arena, &c, ocb0, oy, ox0, B);
            npend = B * T;
            e = 0;
        }
    }
    for (; e < npend; e++) pp_epilogue(&c, pend + e * 16, e / T, e % T);
}

typedef void (*pp_fn)(const hr_op *, float *, const uint8_t *, int, int);
#define PPF(B, T) \
    static void pp_##B##_##T(const hr_op *op, float *a, const uint8_t *in, int t0, int t1) { pp_tasks(op, a, in, t0, t1, B, T); }
#define PPF6(B) PPF(B,1) PPF(B,2) PPF(B,3) PPF(B,4) PPF(B,5) PPF(B,6)
#define PPF8(B) PPF6(B) PPF(B,7) PPF(B,8)
#define PPF12(B) PPF8(B) PPF(B,9) PPF(B,10) PPF(B,11) PPF(B,12)
PPF12(1) PPF(1,13)
PPF12(2)
PPF8(3)
PPF6(4)
#define PR6(B) pp_##B##_1, pp_##B##_2, pp_##B##_3, pp_##B##_4, pp_##B##_5, pp_##B##_6
#define PR8(B) PR6(B), pp_##B##_7, pp_##B##_8
#define PR12(B) PR8(B), pp_##B##_9, pp_##B##_10, pp_##B##_11, pp_##B##_12
static const pp_fn pp_fns[5][14] = {
    {0},
    {0, PR12(1), pp_1_13},
    {0, PR12(2)},
    {0, PR8(3)},
    {0, PR6(4)},
};

int hr_int8_pipelined(const hr_op *op) {
    const int B = op->tile_b, T = op->tile_t;
    return pp_layer(op) && B >= 1 && B <= 4 && T >= 1 && T <= pp_t_max[B] && op->out.w % T == 0 && op->out.cb % B == 0;
}

void hr_conv_tasks_int8(const hr_op *op, float *arena, const uint8_t *in_u8, int task0, int task1) {
    pp_fns[op->tile_b][op->tile_t](op, arena, in_u8, task0, task1);
}

#pragma clang attribute pop
#endif
