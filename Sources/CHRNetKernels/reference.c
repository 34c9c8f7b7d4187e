/* Plain scalar kernels: the definition the SIMD kernels are tested against, and the fallback on
 * CPUs without AVX-512. Sums in double so that they are the more exact of the two. */
#include "internal.h"

void hr_conv_ref_task(const hr_op *op, float *arena, int ocb, int oy) {
    const int k = op->k, s = op->stride, off = 1 - k / 2;
    const int64_t wstride = (int64_t)op->in.cb * k * k * 256;
    for (int ox = 0; ox < op->out.w; ox++) {
        float *o = hr_at(arena, &op->out, ocb, oy, ox);
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
            float v = (float)(acc + op->bias[ocb * 16 + lane]);
            if (op->accumulate) v += o[lane];
            if (op->res.off >= 0) v += hr_at(arena, &op->res, ocb, oy, ox)[lane];
            for (int u = 0; u < op->n_up; u++) {
                const int f = op->up_f[u];
                v += hr_at(arena, &op->up[u], ocb, oy / f, ox / f)[lane];
            }
            if (op->relu && v < 0) v = 0;
            o[lane] = v;
        }
    }
}

/* HR_OP_SUM: plain loops; the compiler vectorises them (16 contiguous lanes). */
void hr_sum_task(const hr_op *op, float *arena, int cb, int oy, int use_simd) {
    (void)use_simd;
    for (int ox = 0; ox < op->out.w; ox++) {
        float *o = hr_at(arena, &op->out, cb, oy, ox);
        const float *r = op->res.off >= 0 ? hr_at(arena, &op->res, cb, oy, ox) : 0;
        float v[16];
        for (int l = 0; l < 16; l++) v[l] = r ? r[l] : 0.0f;
        for (int u = 0; u < op->n_up; u++) {
            const int f = op->up_f[u];
            const float *p = hr_at(arena, &op->up[u], cb, oy / f, ox / f);
            for (int l = 0; l < 16; l++) v[l] += p[l];
        }
        for (int l = 0; l < 16; l++) o[l] = (op->relu && v[l] < 0) ? 0.0f : v[l];
    }
}
