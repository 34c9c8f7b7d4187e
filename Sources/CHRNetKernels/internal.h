/* Shared by the kernel files; not part of any interface. */
#ifndef HRNET_KERNELS_INTERNAL_H
#define HRNET_KERNELS_INTERNAL_H
#include "hrnet_kernels.h"

/* Address of pixel (y, x) (interior coordinates, -1..h / -1..w allowed) of block cb. */
static inline float *hr_at(float *base, const hr_tensor *t, int cb, int y, int x) {
    return base + t->off + (((int64_t)cb * (t->h + 2) + (y + 1)) * (t->w + 2) + (x + 1)) * 16;
}

/* The fused epilogue for the 16 lanes of output pixel (cb, oy, ox), given the convolution's
 * values plus bias in v: + previous output (accumulate), + residual, + upsampled tensors, ReLU,
 * stored at o. The plain form of epilogue_avx512.h, shared by every plain kernel; the 16-lane
 * loops vectorise. */
static inline void hr_epilogue16(const hr_op *op, float *arena, float *restrict v, float *restrict o, int cb, int oy,
                                 int ox) {
    if (op->accumulate) for (int l = 0; l < 16; l++) v[l] += o[l];
    if (op->res.off >= 0) {
        const float *r = hr_at(arena, &op->res, cb, oy, ox);
        for (int l = 0; l < 16; l++) v[l] += r[l];
    }
    for (int u = 0; u < op->n_up; u++) {
        const int f = op->up_f[u];
        const float *p = hr_at(arena, &op->up[u], cb, oy / f, ox / f);
        for (int l = 0; l < 16; l++) v[l] += p[l];
    }
    for (int l = 0; l < 16; l++) o[l] = op->relu && v[l] < 0 ? 0 : v[l];
}

/* Register-tile chooser over a table of the largest T for B = 1..4 output blocks. */
void hr_choose_tile_with(const int tmax[5], int out_cb, int out_w, int out_h, int nthreads,
                         int32_t *tile_b, int32_t *tile_t);

/* One output row segment [ox0, ox0+t) of blocks [ocb0, ocb0+b) of a convolution. */
void hr_conv_rows_avx512(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t);
/* Scalar versions over whole ops, parallelised over tasks by the caller's `omp for`. */
void hr_conv_ref_task(const hr_op *op, float *arena, int ocb, int oy);
void hr_sum_task(const hr_op *op, float *arena, int cb, int oy);
/* Winograd F(2x2,3x3), one row of output tiles (winograd.c); scratch: arena offset of the
 * calling thread's hr_wino_scratch_floats() floats. */
void hr_wino_row_ref(const hr_op *op, float *arena, int64_t scratch, int ty);
void hr_wino_row_avx512(const hr_op *op, float *arena, int64_t scratch, int ty);
#endif
