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

/* v (the convolution's value plus bias) + previous output at o (accumulate) + residual +
 * upsampled tensors, ReLU, stored at o (unless out_skip_fp32) and as uint8 codes in out_u8 (if
 * out_u8_inv > 0): one output vector of pixel (cb, oy, ox). */
static inline __attribute__((always_inline)) void
hr_epilogue_store(const hr_op *op, float *arena, __m512 v, float *o, int cb, int oy, int ox) {
    if (op->accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(o));
    if (op->res.off >= 0) v = _mm512_add_ps(v, _mm512_loadu_ps(hr_at(arena, &op->res, cb, oy, ox)));
    for (int u = 0; u < op->n_up; u++) {
        const int f = op->up_f[u];
        v = _mm512_add_ps(v, _mm512_loadu_ps(hr_at(arena, &op->up[u], cb, oy / f, ox / f)));
    }
    if (op->relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (op->out_u8_inv > 0)
        _mm_storeu_si128((__m128i *)hr_at_u8(arena, op, cb, oy, ox), hr_quantize_u8x16(v, _mm512_set1_ps(op->out_u8_inv)));
    if (!op->out_skip_fp32) _mm512_storeu_ps(o, v);
}

/* The B x T register tile at output blocks ocb0.., row oy, pixels ox0..: bias, then the above. */
static inline __attribute__((always_inline)) void
hr_epilogue_tile(const hr_op *op, float *arena, __m512 acc[4][14], int ocb0, int oy, int ox0, const int B, const int T) {
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b;
        const __m512 bias = _mm512_loadu_ps(op->bias + cb * 16);
        float *o = hr_at(arena, &op->out, cb, oy, ox0);
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++)
            hr_epilogue_store(op, arena, _mm512_add_ps(acc[b][t], bias), o + t * 16, cb, oy, ox0 + t);
    }
}
#endif
