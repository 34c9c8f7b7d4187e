/* The fused epilogue of the NEON kernels (conv_neon.c, conv_int8_neon.c), one quarter of a
 * 16-channel block at a time. Include it only from aarch64 code (after arm_neon.h). */
#ifndef HRNET_EPILOGUE_NEON_H
#define HRNET_EPILOGUE_NEON_H
#include "internal.h"
#include <arm_neon.h>

/* The INT8 plans' rarer parts, out of line so that the FP32 kernels' loops stay as compact as
 * before: the residual quarter from its half copy (res_f16_mode 1) or rounded to half (2); */
static __attribute__((noinline)) float32x4_t
residual_half_q(const hr_op *op, float *arena, int cb, int oy, int ox, int q) {
    if (op->res_f16_mode == 1)
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(hr_at_f16_of(arena, &op->res, op->res_f16, cb, oy, ox) + 4 * q)));
    return vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(hr_at(arena, &op->res, cb, oy, ox) + 4 * q)));   /* nearest even */
}

/* and the stores of an op that writes copies (hr_epilogue_copies): uint8 codes as
 * hr_quantize_u8 (maxnm returns 0 for NaN) if asked, the half copy if asked, then FP32 unless
 * skipped. */
static inline __attribute__((always_inline)) void
store_copies_q_inline(const hr_op *op, float *arena, float32x4_t v, float *o, int cb, int oy, int ox, int q) {
    if (op->out_u8_inv > 0) {
        float32x4_t x = vmaxnmq_f32(vmulq_f32(v, vdupq_n_f32(op->out_u8_inv)), vdupq_n_f32(0.0f));
        x = vminq_f32(x, vdupq_n_f32(255.0f));
        const uint16x4_t w = vqmovun_s32(vcvtnq_s32_f32(x));   /* nearest even */
        const uint8x8_t b = vqmovn_u16(vcombine_u16(w, w));
        vst1_lane_u32((uint32_t *)(void *)(hr_at_u8(arena, op, cb, oy, ox) + 4 * q), vreinterpret_u32_u8(b), 0);
    }
    if (op->out_f16_on)
        vst1_u16(hr_at_f16_of(arena, &op->out, op->out_f16, cb, oy, ox) + 4 * q, vreinterpret_u16_f16(vcvt_f16_f32(v)));
    if (!op->out_skip_fp32) vst1q_f32(o, v);
}

static __attribute__((noinline)) void
store_copies_q(const hr_op *op, float *arena, float32x4_t v, float *o, int cb, int oy, int ox, int q) {
    store_copies_q_inline(op, arena, v, o, cb, oy, ox, q);
}

/* One quarter (channels 4q..4q+3) of output pixel (cb, oy, ox): v is the convolution's value plus
 * bias; + previous output (accumulate) + residual + upsampled tensors, ReLU, stored at o (which
 * points at the quarter; and the copies an INT8 plan asks for, above), as hr_epilogue16.
 * `plain` = hr_epilogue_plain(op), read once by the caller: 1 for ops without those copies
 * (the FP32 kernels' common case), which then pay no test for them per quarter; 0 for any op
 * (copies out of line); 2 for any op with the copies inline (the INT8 kernel: every op of an
 * INT8 plan writes them). */
static inline __attribute__((always_inline)) void
epilogue_q(const hr_op *op, float *arena, float32x4_t v, float *o, int cb, int oy, int ox, int q, int plain) {
    if (op->accumulate) v = vaddq_f32(v, vld1q_f32(o));
    if (op->res.off >= 0)
        v = vaddq_f32(v, plain != 1 && op->res_f16_mode ? residual_half_q(op, arena, cb, oy, ox, q)
                                                         : vld1q_f32(hr_at(arena, &op->res, cb, oy, ox) + 4 * q));
    for (int u = 0; u < op->n_up; u++) v = vaddq_f32(v, vld1q_f32(hr_up_at(arena, op, u, cb, oy, ox) + 4 * q));
    if (op->relu) v = vmaxq_f32(v, vdupq_n_f32(0.0f));
    if (plain != 1 && hr_epilogue_copies(op)) {
        if (plain == 2) store_copies_q_inline(op, arena, v, o, cb, oy, ox, q);
        else store_copies_q(op, arena, v, o, cb, oy, ox, q);
        return;
    }
    vst1q_f32(o, v);
}
#endif
