/*
 * INT8 direct convolution for aarch64 CPUs with the ARMv8.2 dot product (sdot): uint8
 * activations x int8 weights summed exactly in int32, FP32 epilogue (hrnet_kernels_int8.h).
 *
 * sdot multiplies signed bytes, so each activation q (0..255) enters as q - 128 (the uint8 copy
 * XOR 0x80 as it is loaded; the zero border and padding channels become -128 as well), and each
 * output channel's sum starts at 128 x the sum of its weights over every input channel and tap
 * (op->int8_wsum, hr_int8_weight_sums at plan time):
 *   sum w*q = sum w*(q - 128) + 128 * sum w,   exactly, border included.
 * Weights past cin are zero, so whatever the padding channels hold does not count.
 *
 * The register tile is the FP32 NEON kernel's (conv_neon.c): B output blocks x T pixels, 4BT int32
 * accumulators of 4 output channels each. A pixel's 16 input channels are one q register whose
 * 32-bit lane j is quad j; the weights of quad j for 4 output channels are one q register (4 oc x 4
 * ic bytes, the int8 layout as it is), used T times by `sdot acc.4s, w.16b, x.4b[j]`: 16
 * products per instruction, 4x an FP32 fmla.
 *
 * Only the functions below the pragma are compiled with +dotprod; the library stays ARMv8.0 and
 * hr_int8_kernel() selects this kernel only if getauxval(AT_HWCAP) has HWCAP_ASIMDDP.
 */
#include "internal.h"
#include "hrnet_kernels_int8.h"
#if HR_ARM64
#include <arm_neon.h>
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#include "epilogue_neon.h"

int hr_cpu_has_neon_dotprod(void) {
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    return 1; /* every Apple arm64 CPU has it (A11 and later) */
#else
    return 0;
#endif
}

#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)

enum { I8N_B = 4, I8N_T = 6 };

#define LANE(j)                                                                                 \
    if (nq > (j)) {                                                                             \
        _Pragma("clang loop unroll(full)") for (int b = 0; b < B; b++)                          \
            _Pragma("clang loop unroll(full)") for (int q = 0; q < 4; q++) {                    \
                const int8x16_t w = vld1q_s8(wp + b * wstride + (j) * 64 + q * 16);             \
                _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++)                  \
                    acc[b][t][q] = vdotq_laneq_s32(acc[b][t][q], w, x[t], (j));                 \
            }                                                                                   \
    }

static inline __attribute__((always_inline)) void
conv_tile_int8_neon(const hr_op *op, float *arena, const uint8_t *in, int ocb0, int oy, int ox0, const int B, const int T) {
    const int k = op->k, s = op->stride, off = 1 - k / 2, ps = s * 16;
    const int Hp = op->in.h + 2, Wp = op->in.w + 2;
    const int icbN = op->in.cb;
    const int64_t wstride = (int64_t)icbN * k * k * 256;
    const int8_t *w0 = op->weights_int8 + (int64_t)ocb0 * wstride;
    const uint8x16_t flip = vdupq_n_u8(0x80);
    int32x4_t acc[I8N_B][I8N_T][4];
#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++)
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) {
            const int32x4_t start = vshlq_n_s32(vld1q_s32(op->int8_wsum + (ocb0 + b) * 16 + q * 4), 7);
#pragma clang loop unroll(full)
            for (int t = 0; t < T; t++) acc[b][t][q] = start;
        }

    for (int icb = 0; icb < icbN; icb++) {
        int nic = op->in_c - icb * 16;
        if (nic > 16) nic = 16;
        const int nq = (nic + 3) >> 2;
        for (int ky = 0; ky < k; ky++) {
            const uint8_t *irow = in + (((int64_t)icb * Hp + (int64_t)oy * s + ky + off) * Wp + (int64_t)ox0 * s + off) * 16;
            const int8_t *wrow = w0 + ((int64_t)(icb * k + ky) * k) * 256;
            for (int kx = 0; kx < k; kx++) {
                const uint8_t *ip = irow + kx * 16;
                const int8_t *wp = wrow + kx * 256;
                int8x16_t x[I8N_T];
#pragma clang loop unroll(full)
                for (int t = 0; t < T; t++) x[t] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(ip + t * ps), flip));
                LANE(0)
                LANE(1)
                LANE(2)
                LANE(3)
            }
        }
    }

#pragma clang loop unroll(full)
    for (int b = 0; b < B; b++) {
        const int cb = ocb0 + b;
        float *o = hr_at(arena, &op->out, cb, oy, ox0);
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) {
            const float32x4_t sc = vld1q_f32(op->int8_scale + cb * 16 + q * 4);
            const float32x4_t bias = vld1q_f32(op->bias + cb * 16 + q * 4);
#pragma clang loop unroll(full)
            for (int t = 0; t < T; t++)
                epilogue_q(op, arena, vfmaq_f32(bias, vcvtq_f32_s32(acc[b][t][q]), sc), o + t * 16 + q * 4,
                           cb, oy, ox0 + t, q, 2);
        }
    }
}
#undef LANE

typedef void (*tile_fn)(const hr_op *, float *, const uint8_t *, int, int, int);
#define TILE(B, T)                                                                                          \
    static void tile_##B##_##T(const hr_op *op, float *a, const uint8_t *in, int ocb0, int oy, int ox0) { \
        conv_tile_int8_neon(op, a, in, ocb0, oy, ox0, B, T);                                                \
    }
TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4) TILE(1, 5) TILE(1, 6)
TILE(2, 1) TILE(2, 2) TILE(2, 3)
TILE(3, 1) TILE(3, 2)
TILE(4, 1)
#undef TILE
static const tile_fn tiles[5][I8N_T + 1] = {
    {0},
    {0, tile_1_1, tile_1_2, tile_1_3, tile_1_4, tile_1_5, tile_1_6},
    {0, tile_2_1, tile_2_2, tile_2_3},
    {0, tile_3_1, tile_3_2},
    {0, tile_4_1},
};

#pragma clang attribute pop

void hr_conv_rows_int8_neon(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    if (!hr_cpu_has_neon_dotprod() || !op->int8_wsum) {
        hr_conv_int8_ref_tile(op, arena, in_u8, ocb0, oy, ox0, b, t);
        return;
    }
    const int tmax = hr_int8_kernel_tile_t_max(HR_INT8_NEON_DOT, b);
    if (t >= 1 && t <= tmax) {
        tiles[b][t](op, arena, in_u8, ocb0, oy, ox0);
        return;
    }
    /* A tile outside the table: one block at a time, pieces of at most 6 pixels. */
    for (int cb = ocb0; cb < ocb0 + b; cb++)
        for (int t0 = 0; t0 < t; t0 += I8N_T) tiles[1][t - t0 < I8N_T ? t - t0 : I8N_T](op, arena, in_u8, cb, oy, ox0 + t0);
}
#else
int hr_cpu_has_neon_dotprod(void) { return 0; }

void hr_conv_rows_int8_neon(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t) {
    hr_conv_int8_ref_tile(op, arena, in_u8, ocb0, oy, ox0, b, t);
}
#endif
