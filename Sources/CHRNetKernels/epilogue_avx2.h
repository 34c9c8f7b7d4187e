/* The fused epilogue of the AVX2 kernels (direct convolutions and Winograd's output transform):
 * 16 channels = two ymm halves (lanes 0-7, 8-15). Include it only inside a
 * `#pragma clang attribute push(target("avx2,fma,f16c"))` region (conv_avx2.c): these functions take
 * their target from it. */
#ifndef HRNET_EPILOGUE_AVX2_H
#define HRNET_EPILOGUE_AVX2_H
#include "internal.h"
#include <immintrin.h>

/* (v0, v1) (the convolution's value plus bias) + previous output at o (accumulate) + residual +
 * upsampled tensors, ReLU, stored at o: the 16 channels of output pixel (cb, oy, ox). Same
 * order of additions as hr_epilogue16 and hr_epilogue_store (AVX-512). */
static inline __attribute__((always_inline)) void
hr_epilogue_store_avx2(const hr_op *op, float *arena, __m256 v0, __m256 v1, float *o, int cb, int oy, int ox) {
    if (op->accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(o));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(o + 8));
    }
    if (op->res.off >= 0) {
        /* (res_f16_mode 1, a half copy, is only planned on sets with AVX-512 epilogues.) */
        const float *r = hr_at(arena, &op->res, cb, oy, ox);
        __m256 r0 = _mm256_loadu_ps(r), r1 = _mm256_loadu_ps(r + 8);
        if (op->res_f16_mode == 2) {   /* rounded to IEEE half, nearest even (F16C) */
            r0 = _mm256_cvtph_ps(_mm256_cvtps_ph(r0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            r1 = _mm256_cvtph_ps(_mm256_cvtps_ph(r1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        v0 = _mm256_add_ps(v0, r0);
        v1 = _mm256_add_ps(v1, r1);
    }
    for (int u = 0; u < op->n_up; u++) {
        const int f = op->up_f[u];
        const float *p = hr_at(arena, &op->up[u], cb, oy / f, ox / f);
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(p));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(p + 8));
    }
    if (op->relu) {
        v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
        v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
    }
    _mm256_storeu_ps(o, v0);
    _mm256_storeu_ps(o + 8, v1);
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
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++)
            hr_epilogue_store_avx2(op, arena, _mm256_add_ps(acc[b][0][t], bias0), _mm256_add_ps(acc[b][1][t], bias1),
                                   o + t * 16, cb, oy, ox0 + t);
    }
}
#endif
