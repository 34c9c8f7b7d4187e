/* Shared by the kernel files; not part of any interface. */
#ifndef HRNET_KERNELS_INTERNAL_H
#define HRNET_KERNELS_INTERNAL_H
#include "hrnet_kernels.h"

/* Address of pixel (y, x) (interior coordinates, -1..h / -1..w allowed) of block cb. */
static inline float *hr_at(float *base, const hr_tensor *t, int cb, int y, int x) {
    return base + t->off + (((int64_t)cb * (t->h + 2) + (y + 1)) * (t->w + 2) + (x + 1)) * 16;
}

/* One output row segment [ox0, ox0+t) of blocks [ocb0, ocb0+b) of a convolution. */
void hr_conv_rows_avx512(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t);
/* Scalar versions over whole ops, parallelised over tasks by the caller's `omp for`. */
void hr_conv_ref_task(const hr_op *op, float *arena, int ocb, int oy);
void hr_sum_task(const hr_op *op, float *arena, int cb, int oy, int use_simd);
/* Winograd F(2x2,3x3), one row of output tiles (winograd.c); scratch: arena offset of the
 * calling thread's hr_wino_scratch_floats() floats. */
void hr_wino_row_ref(const hr_op *op, float *arena, int64_t scratch, int ty);
void hr_wino_row_avx512(const hr_op *op, float *arena, int64_t scratch, int ty);
#endif
