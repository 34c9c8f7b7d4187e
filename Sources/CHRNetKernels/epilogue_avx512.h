/* The fused epilogue shared by the AVX-512 convolution kernels (FP32 and BF16): included inside
 * their `#pragma clang attribute push(target(avx512...))` regions. */
#ifndef HRNET_EPILOGUE_AVX512_H
#define HRNET_EPILOGUE_AVX512_H
#include "internal.h"
#include <immintrin.h>

/* out = act(acc + bias [+ out] [+ res] [+ sum of upsampled ups]) for a B x T register tile at
 * output blocks ocb0.., row oy, pixels ox0..; one store per output vector. */
static inline __attribute__((always_inline)) void
hr_epilogue_tile(const hr_op *op, float *arena, __m512 acc[4][14], int ocb0, int oy, int ox0, const int B, const int T) {
    const __m512 zero = _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b;
        const __m512 bias = _mm512_loadu_ps(op->bias + cb * 16);
        float *o = hr_at(arena, &op->out, cb, oy, ox0);
        const float *r = op->res.off >= 0 ? hr_at(arena, &op->res, cb, oy, ox0) : 0;
#pragma clang loop unroll(full)
        for (int t = 0; t < T; t++) {
            __m512 v = _mm512_add_ps(acc[b][t], bias);
            if (op->accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(o + t * 16));
            if (r) v = _mm512_add_ps(v, _mm512_loadu_ps(r + t * 16));
            for (int u = 0; u < op->n_up; u++) {
                const int f = op->up_f[u];
                v = _mm512_add_ps(v, _mm512_loadu_ps(hr_at(arena, &op->up[u], cb, oy / f, (ox0 + t) / f)));
            }
            if (op->relu) v = _mm512_max_ps(v, zero);
            _mm512_storeu_ps(o + t * 16, v);
        }
    }
}
#endif
