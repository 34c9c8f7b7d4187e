/* The fused epilogue shared by the AVX-512 kernels (FP32 and BF16 convolutions, Winograd's output
 * transform): included inside their `#pragma clang attribute push(target(avx512...))` regions. */
#ifndef HRNET_EPILOGUE_AVX512_H
#define HRNET_EPILOGUE_AVX512_H
#include "internal.h"
#include <immintrin.h>

/* hr_quantize_u8 of 16 lanes: max(., 0) turns NaN into 0 (vmaxps returns its second operand),
 * min(., 255), vcvtps2dq (nearest even), narrowed. */
static inline __attribute__((always_inline)) __m128i hr_quantize_u8x16(__m512 v, __m512 inv) {
    const __m512 x = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inv), _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
    return _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(x));
}

/* The same codes for v after ReLU (max(v, 0): no NaN, no negative): v x inv converted (nearest
 * even), then narrowed with unsigned saturation, which gives 255 for anything above, including
 * the conversion's overflow value 0x80000000 (for products of 2^31 and more, and infinity). Two
 * instructions fewer per 16 lanes in the INT8 plans' epilogues. */
static inline __attribute__((always_inline)) __m128i hr_quantize_u8x16_relu(__m512 v, __m512 inv) {
    return _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v, inv)));
}

/* IEEE halves, nearest even (hr_f32_to_f16), and back. */
static inline __attribute__((always_inline)) __m256i hr_to_f16x16(__m512 v) {
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline __attribute__((always_inline)) __m512 hr_load_f16x16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

/* v[0..T) (the convolution's values plus bias) of T consecutive pixels ox0.. of block cb, row oy:
 * + previous output (accumulate) + residual (FP32, or its half copy, res_f16_mode) + upsampled
 * tensors, ReLU, stored to op->out (unless out_skip_fp32) and as the uint8 and half copies the
 * op asks for. The op's fields are read and the row addresses computed once per call: the
 * vector stores may alias anything, so per-pixel code would reload every field after each. */
static inline __attribute__((always_inline)) void
hr_epilogue_run(const hr_op *op, float *arena, __m512 *v, int cb, int oy, int ox0, const int T) {
    const int n_up = op->n_up, rmode = op->res_f16_mode;
    const float inv = op->out_u8_inv;
    float *o = hr_at(arena, &op->out, cb, oy, ox0);
    /* One loop per feature, each branch taken once per row of the tile. */
    if (op->accumulate)
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) v[t] = _mm512_add_ps(v[t], _mm512_loadu_ps(o + t * 16));
    if (rmode == 1) {
        const uint16_t *rh = hr_at_f16_of(arena, &op->res, op->res_f16, cb, oy, ox0);
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) v[t] = _mm512_add_ps(v[t], hr_load_f16x16(rh + t * 16));
    } else if (op->res.off >= 0) {
        const float *r = hr_at(arena, &op->res, cb, oy, ox0);
        if (rmode == 2)
#pragma clang loop unroll(full)
            for (int t = 0; t < T; t++) v[t] = _mm512_add_ps(v[t], _mm512_cvtph_ps(hr_to_f16x16(_mm512_loadu_ps(r + t * 16))));
        else
#pragma clang loop unroll(full)
            for (int t = 0; t < T; t++) v[t] = _mm512_add_ps(v[t], _mm512_loadu_ps(r + t * 16));
    }
    for (int k = 0; k < n_up; k++) {   /* one row address per addend */
        const int f = op->up_f[k];
        const float *ur = hr_up_at(arena, op, k, cb, oy, 0);
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) v[t] = _mm512_add_ps(v[t], _mm512_loadu_ps(ur + (int64_t)hr_up_index(ox0 + t, f) * 16));
    }
    if (op->relu)
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) v[t] = _mm512_max_ps(v[t], _mm512_setzero_ps());
    const int skip = op->out_skip_fp32;
    uint16_t *h = op->out_f16_on ? hr_at_f16_of(arena, &op->out, op->out_f16, cb, oy, ox0) : 0;
    if (inv > 0) {
        uint8_t *u = hr_at_u8(arena, op, cb, oy, ox0);
        const __m512 vinv = _mm512_set1_ps(inv);
        if (op->relu)   /* v >= 0 and not NaN: the clamps are the conversions' saturation */
#pragma clang loop unroll(full)
            for (int t = 0; t < T; t++) _mm_storeu_si128((__m128i *)(u + t * 16), hr_quantize_u8x16_relu(v[t], vinv));
        else
#pragma clang loop unroll(full)
            for (int t = 0; t < T; t++) _mm_storeu_si128((__m128i *)(u + t * 16), hr_quantize_u8x16(v[t], vinv));
    }
    if (h)
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) _mm256_storeu_si256((__m256i *)(h + t * 16), hr_to_f16x16(v[t]));
    if (!skip)
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) _mm512_storeu_ps(o + t * 16, v[t]);
}

/* One pixel (the Winograd output transform's and the sum ops' form). */
static inline __attribute__((always_inline)) void
hr_epilogue_store(const hr_op *op, float *arena, __m512 v, int cb, int oy, int ox) {
    hr_epilogue_run(op, arena, &v, cb, oy, ox, 1);
}

/* The start of a B x T FP32-accumulator tile at output blocks ocb0.., row oy, pixels ox0..:
 * accumulators zeroed, and the output lines the epilogue will store fetched for writing. */
static inline __attribute__((always_inline)) void
hr_tile_begin(const hr_op *op, float *arena, __m512 acc[4][14], int ocb0, int oy, int ox0, const int B, const int T) {
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++)
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) acc[b][t] = _mm512_setzero_ps();
    hr_prefetch_out_tile(op, arena, ocb0, oy, ox0, B, T);
}

/* The B x T register tile at output blocks ocb0.., row oy, pixels ox0..: bias, then the above. */
static inline __attribute__((always_inline)) void
hr_epilogue_tile(const hr_op *op, float *arena, __m512 acc[4][14], int ocb0, int oy, int ox0, const int B, const int T) {
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b;
        const __m512 bias = _mm512_loadu_ps(op->bias + cb * 16);
        __m512 v[14];
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) v[t] = _mm512_add_ps(acc[b][t], bias);
        hr_epilogue_run(op, arena, v, cb, oy, ox0, T);
    }
}
#endif
