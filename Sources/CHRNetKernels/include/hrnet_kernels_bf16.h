/*
 * hrnet_kernels_bf16.h - opt-in BF16 convolution path (AVX512_BF16 vdpbf16ps, FP32 accumulation).
 *
 * Activations in the arena stay FP32: the epilogue (bias, accumulate, residual, upsampled adds,
 * ReLU) and every stored output are FP32 exactly as in the FP32 path. Only the products are
 * taken in BF16: just before a BF16 convolution its input tensor is copied, rounded to nearest
 * even, into a separate BF16 buffer; the weights are repacked once into BF16.
 *
 * BF16 activation layout: the blocked, bordered layout of hrnet_kernels.h with uint16 (bf16)
 * elements, [cb][h+2][w+2][16] -- i.e. per pixel 8 (ic, ic+1) pairs of 2 bf16, so that the
 * microkernel broadcasts one 32-bit word per pair. hr_bf16_tensor_size() elements. The border
 * and the channels past the real channel count are zero (written by hr_to_bf16_rows).
 *
 * BF16 weight layout: [Cout/16][Cin/16][k][k][8 ic-pairs][16 oc][2 ic] (uint16), i.e. for one
 * (ocb, icb, ky, kx) tap, pair j is one 64-byte vector whose element 2*oc+e holds the weight of
 * input channel 2j+e to output channel oc. Input channels past cin are zero.
 *
 * Requirements shared by all functions below: op->in.cb == ceil(op->in_c / 16) (as for the FP32
 * packing), op->weights is not read (the BF16 weights are passed separately), op->bias is.
 * The SIMD functions (hr_to_bf16_rows, hr_conv_rows_bf16) need hr_cpu_has_avx512bf16(); the
 * others are plain C and run anywhere.
 *
 * Typical use inside hr_run's parallel region, for a conv op `op`:
 *     #pragma omp for                       // convert the input, one padded row per task
 *     for (int i = 0; i < op->in.cb * (op->in.h + 2); i++)
 *         hr_to_bf16_rows(a, &op->in, op->in_c, buf, i / (op->in.h + 2), i % (op->in.h + 2),
 *                         i % (op->in.h + 2) + 1);
 *     (the implicit barrier of that omp for is needed before the convolution)
 *     #pragma omp for                       // exactly like the FP32 loop in run.c
 *     for (task ...) for (ox0 ...) hr_conv_rows_bf16(op, a, buf, wbf16, g * B, oy, ox0, B, t);
 * with B, T from hr_choose_tile_bf16 (stored in op->tile_b / tile_t or kept separately).
 */
#ifndef HRNET_KERNELS_BF16_H
#define HRNET_KERNELS_BF16_H

#include "hrnet_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/** 1 if this CPU has AVX-512 F/VL/DQ/BW and AVX512_BF16 (so the BF16 path can run), else 0. */
int hr_cpu_has_avx512bf16(void);

/** Number of uint16 elements of the BF16 weights of a cin -> cout, k x k convolution:
 *  ceil(cout/16) * ceil(cin/16) * k * k * 256 (the same count as the FP32 packing). */
size_t hr_bf16_weights_size(int cin, int cout, int k);

/** Number of uint16 elements of the BF16 copy of tensor t: t->cb * (t->h+2) * (t->w+2) * 16. */
size_t hr_bf16_tensor_size(const hr_tensor *t);

/** Repacks FP32 weights in the hrnet_kernels.h layout ([Cout/16][Cin/16][k][k][16 ic][16 oc])
 *  into the BF16 layout above at dst (hr_bf16_weights_size(cin, cout, k) elements), converting
 *  with hr_float_to_bf16 (round to nearest even, exactly as the activations are converted).
 *  Weights of input channels >= cin are written as zero whatever the source holds there.
 *  Scalar; runs on any CPU. */
void hr_pack_weights_bf16(const float *packed_fp32, int cin, int cout, int k, uint16_t *dst);

/** Converts padded rows y0 .. y1-1 (0 <= y0 <= y1 <= t->h + 2; row 0 and row h+1 are the top and
 *  bottom border) of channel block cb of the FP32 tensor t in `arena` into the BF16 copy `dst`
 *  (which points at the copy's start, i.e. corresponds to arena + t->off; the function offsets
 *  to block cb and row y0 itself). Converts with vcvtneps2bf16, bit-identical to
 *  hr_float_to_bf16 (round to nearest even; subnormal inputs become zero). Writes zero to the
 *  border pixels and to channels >= c (pass op->in_c) without reading them, so the copy is
 *  complete even if the arena holds stale data there. Different (cb, rows) ranges may be
 *  converted concurrently. Needs AVX512_BF16. */
void hr_to_bf16_rows(const float *arena, const hr_tensor *t, int c, uint16_t *dst, int cb, int y0, int y1);

/** Whole tensor: hr_to_bf16_rows over every block and padded row (single thread). */
void hr_to_bf16(const float *arena, const hr_tensor *t, int c, uint16_t *dst);

/** One output row segment [ox0, ox0+t) of output blocks [ocb0, ocb0+b) of the convolution op,
 *  reading the BF16 input copy in_bf16 (made by hr_to_bf16_rows from op->in with c = op->in_c)
 *  and the BF16 weights; accumulates in FP32 and applies the FP32 epilogue exactly like
 *  hr_conv_rows_avx512, writing op->out in the arena. 1 <= b <= 4, 1 <= t <= hr_bf16_tile_t_max(b),
 *  ocb0 + b <= op->out.cb, ox0 + t <= op->out.w. Needs AVX512_BF16. */
void hr_conv_rows_bf16(const hr_op *op, float *arena, const uint16_t *in_bf16, const uint16_t *weights_bf16,
                       int ocb0, int oy, int ox0, int b, int t);

/** Largest pixel count t of the register tile for b output blocks (0 if b is not 1..4). */
int hr_bf16_tile_t_max(int b);

/** Picks the register tile (b output blocks x t pixels) for the BF16 kernel; same contract as
 *  hr_choose_tile: out_cb % b == 0, and the row is split into equal segments of at most t. */
void hr_choose_tile_bf16(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t);

/** Plain scalar reference of hr_conv_rows_bf16 for output block ocb and row oy (all of it): reads
 *  the same BF16 input copy and weights (widened to float exactly), sums the products in double
 *  and applies the same epilogue. Runs on any CPU. For tests. */
void hr_conv_bf16_ref_task(const hr_op *op, float *arena, const uint16_t *in_bf16, const uint16_t *weights_bf16,
                           int ocb, int oy);

/** FP32 -> BF16 of one value, bit-identical to vcvtneps2bf16: round to nearest even (overflow
 *  to infinity), NaN stays NaN (quiet bit set), subnormals become signed zero (vcvtneps2bf16 and
 *  vdpbf16ps treat them as zero anyway). Runs on any CPU. */
uint16_t hr_float_to_bf16(float f);

#ifdef __cplusplus
}
#endif
#endif
