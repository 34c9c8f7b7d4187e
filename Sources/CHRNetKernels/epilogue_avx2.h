/* The fused epilogue of the AVX2 kernels (direct convolutions and Winograd's output transform):
 * 16 channels = two ymm halves (lanes 0-7, 8-15). Include it only inside a
 * `#pragma clang attribute push(target("avx2,fma,f16c"))` region (conv_avx2.c): these functions take
 * their target from it. */
#ifndef HRNET_EPILOGUE_AVX2_H
#define HRNET_EPILOGUE_AVX2_H
#include "internal.h"
#include <immintrin.h>

/* The INT8 plans' rarer parts of the epilogue, out of line so that the FP32 kernels' loops (the
 * Winograd output transform calls the epilogue per pixel) stay as compact as before:
 * the residual from its half copy (res_f16_mode 1) or rounded to half (2), added to (v0, v1); */
static __attribute__((noinline)) void
hr_residual_half_avx2(const hr_op *op, float *arena, int cb, int oy, int ox, __m256 *v0, __m256 *v1) {
    __m256 r0, r1;
    if (op->res_f16_mode == 1) {
        const uint16_t *r = hr_at_f16_of(arena, &op->res, op->res_f16, cb, oy, ox);
        r0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)r));
        r1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + 8)));
    } else {   /* FP32 values rounded to IEEE half, nearest even (F16C) */
        const float *r = hr_at(arena, &op->res, cb, oy, ox);
        r0 = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(r), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        r1 = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(r + 8), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    *v0 = _mm256_add_ps(*v0, r0);
    *v1 = _mm256_add_ps(*v1, r1);
}

/* and the stores of an op that writes copies (hr_epilogue_copies): uint8 codes as
 * hr_quantize_u8 (max returns 0 for NaN) if asked, the half copy if asked, then FP32 unless
 * skipped. */
static inline __attribute__((always_inline)) void
hr_store_copies_avx2_inline(const hr_op *op, float *arena, __m256 v0, __m256 v1, float *o, int cb, int oy, int ox) {
    if (op->out_u8_inv > 0) {
        const __m256 inv = _mm256_set1_ps(op->out_u8_inv), top = _mm256_set1_ps(255.0f);
        const __m256i q0 = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v0, inv), _mm256_setzero_ps()), top));
        const __m256i q1 = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v1, inv), _mm256_setzero_ps()), top));
        /* packus works within 128-bit lanes: [q0 0-3, q1 0-3, q0 4-7, q1 4-7], reordered. */
        const __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(q0, q1), 0xD8);
        _mm_storeu_si128((__m128i *)hr_at_u8(arena, op, cb, oy, ox),
                         _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
    }
    if (op->out_f16_on) {
        uint16_t *h = hr_at_f16_of(arena, &op->out, op->out_f16, cb, oy, ox);
        _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        _mm_storeu_si128((__m128i *)(h + 8), _mm256_cvtps_ph(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    if (!op->out_skip_fp32) {
        _mm256_storeu_ps(o, v0);
        _mm256_storeu_ps(o + 8, v1);
    }
}

/* (v0, v1) (the convolution's value plus bias) + previous output at o (accumulate) + residual +
 * upsampled tensors, ReLU, stored at o: the 16 channels of output pixel (cb, oy, ox). Same
 * order of additions and the same conversions as hr_epilogue16 and hr_epilogue_store (AVX-512).
 * `general` = 0: for ops without the INT8 plans' copies (out_u8_inv 0, res_f16_mode 0), the
 * FP32 kernels' common case, with no test for them per pixel (measured: the tests cost the FP32
 * avx2 network 2% on one core); 1: any op. */
static inline __attribute__((always_inline)) void
hr_epilogue_store_avx2_with(const hr_op *op, float *arena, __m256 v0, __m256 v1, float *o, int cb, int oy, int ox,
                            const int general) {
    if (op->accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(o));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(o + 8));
    }
    if (op->res.off >= 0) {
        if (general && op->res_f16_mode) {
            hr_residual_half_avx2(op, arena, cb, oy, ox, &v0, &v1);
        } else {
            const float *r = hr_at(arena, &op->res, cb, oy, ox);
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(r));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(r + 8));
        }
    }
    for (int u = 0; u < op->n_up; u++) {
        const float *p = hr_up_at(arena, op, u, cb, oy, ox);
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(p));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(p + 8));
    }
    if (op->relu) {
        v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
        v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
    }
    if (general && hr_epilogue_copies(op)) {
        hr_store_copies_avx2_inline(op, arena, v0, v1, o, cb, oy, ox);
        return;
    }
    _mm256_storeu_ps(o, v0);
    _mm256_storeu_ps(o + 8, v1);
}

/* Any op, out of line (for the per-pixel callers' rare case). */
static __attribute__((noinline)) void
hr_epilogue_store_avx2_general(const hr_op *op, float *arena, __m256 v0, __m256 v1, float *o, int cb, int oy, int ox) {
    hr_epilogue_store_avx2_with(op, arena, v0, v1, o, cb, oy, ox, 1);
}

/* Per pixel, `plain` = hr_epilogue_plain(op) read once by the caller. */
static inline __attribute__((always_inline)) void
hr_epilogue_store_avx2(const hr_op *op, float *arena, __m256 v0, __m256 v1, float *o, int cb, int oy, int ox, int plain) {
    if (plain) hr_epilogue_store_avx2_with(op, arena, v0, v1, o, cb, oy, ox, 0);
    else hr_epilogue_store_avx2_general(op, arena, v0, v1, o, cb, oy, ox);
}

/* Largest register tile of the AVX2 kernels: B <= 4 blocks, T <= 8 pixels (acc[b][half][t]). */
enum { HR_AVX2_MAX_B = 4, HR_AVX2_MAX_T = 8 };

/* The B x T register tile at output blocks ocb0.., row oy, pixels ox0..: bias, then the above. */
static inline __attribute__((always_inline)) void
hr_epilogue_tile_avx2(const hr_op *op, float *arena, __m256 acc[HR_AVX2_MAX_B][2][HR_AVX2_MAX_T], int ocb0, int oy,
                      int ox0, const int B, const int T) {
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b;
        const __m256 bias0 = _mm256_loadu_ps(op->bias + cb * 16), bias1 = _mm256_loadu_ps(op->bias + cb * 16 + 8);
        float *o = hr_at(arena, &op->out, cb, oy, ox0);
        const int plain = hr_epilogue_plain(op);
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++)
            hr_epilogue_store_avx2(op, arena, _mm256_add_ps(acc[b][0][t], bias0), _mm256_add_ps(acc[b][1][t], bias1),
                                   o + t * 16, cb, oy, ox0 + t, plain);
    }
}
#endif
