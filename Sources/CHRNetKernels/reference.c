/* Plain scalar kernels: the definition the SIMD kernels are tested against, and the fallback on
 * CPUs without AVX-512. Sums in double so that they are the more exact of the two. */
#include "internal.h"

void hr_conv_ref_task(const hr_op *op, float *arena, int ocb, int oy) {
    const int k = op->k, s = op->stride, off = 1 - k / 2;
    const int64_t wstride = (int64_t)op->in.cb * k * k * 256;
    for (int ox = 0; ox < op->out.w; ox++) {
        float *o = hr_at(arena, &op->out, ocb, oy, ox);
        float v[16];
        for (int lane = 0; lane < 16; lane++) {
            double acc = 0;
            for (int ic = 0; ic < op->in_c; ic++) {
                const int icb = ic / 16, il = ic % 16;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const float *ip = hr_at(arena, &op->in, icb, oy * s + ky + off - 1, ox * s + kx + off - 1);
                        const float *wp = op->weights + ocb * wstride + (((int64_t)icb * k + ky) * k + kx) * 256;
                        acc += (double)ip[il] * (double)wp[il * 16 + lane];
                    }
            }
            v[lane] = (float)(acc + op->bias[ocb * 16 + lane]);
        }
        hr_epilogue16(op, arena, v, o, ocb, oy, ox);
    }
}

/* HR_OP_SUM: the epilogue alone (residual + upsampled sums, ReLU; the op has no accumulate). */
void hr_sum_task(const hr_op *op, float *arena, int cb, int oy) {
    for (int ox = 0; ox < op->out.w; ox++) {
        float v[16] = {0};
        hr_epilogue16(op, arena, v, hr_at(arena, &op->out, cb, oy, ox), cb, oy, ox);
    }
}
