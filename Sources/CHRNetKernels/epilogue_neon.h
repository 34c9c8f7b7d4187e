/* The fused epilogue of the NEON kernels (conv_neon.c, conv_int8_neon.c), one quarter of a
 * 16-channel block at a time. Include it only from aarch64 code (after arm_neon.h). */
#ifndef HRNET_EPILOGUE_NEON_H
#define HRNET_EPILOGUE_NEON_H
#include "internal.h"
#include <arm_neon.h>

/* One quarter (channels 4q..4q+3) of output pixel (cb, oy, ox): v is the convolution's value plus
 * bias; + previous output (accumulate) + residual + upsampled tensors, ReLU, stored at o (which
 * points at the quarter). */
static inline __attribute__((always_inline)) void
epilogue_q(const hr_op *op, float *arena, float32x4_t v, float *o, int cb, int oy, int ox, int q) {
    if (op->accumulate) v = vaddq_f32(v, vld1q_f32(o));
    if (op->res.off >= 0) {
        /* (res_f16_mode 1, a half copy, is only planned on sets with AVX-512 epilogues.) */
        float32x4_t r = vld1q_f32(hr_at(arena, &op->res, cb, oy, ox) + 4 * q);
        if (op->res_f16_mode == 2) r = vcvt_f32_f16(vcvt_f16_f32(r));   /* IEEE half, nearest even */
        v = vaddq_f32(v, r);
    }
    for (int u = 0; u < op->n_up; u++) {
        const int f = op->up_f[u];
        v = vaddq_f32(v, vld1q_f32(hr_at(arena, &op->up[u], cb, oy / f, ox / f) + 4 * q));
    }
    if (op->relu) v = vmaxq_f32(v, vdupq_n_f32(0.0f));
    vst1q_f32(o, v);
}
#endif
