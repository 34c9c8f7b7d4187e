/*
 * hrnet_kernels_int8.h - opt-in INT8 convolution path: uint8 activations x int8 weights, int32
 * sums, FP32 epilogue.
 *
 * Activations in the arena are FP32 between layers where anything reads them in FP32 (the
 * epilogue adds residuals and the fused branches in FP32; the head is FP32); an INT8 convolution
 * reads a uint8 copy of its input, q = round(v / s_in) clamped to 0..255 (inputs of INT8 layers
 * are ReLU outputs, >= 0: zero point 0; hr_quantize_u8). In INT8 plans the copy is written by
 * the epilogue of the op that produces the tensor (hr_op.out_u8), which then skips the FP32
 * store if only INT8 convolutions read it; an op without that (in_u8_ready 0) quantizes its FP32
 * input into a shared copy first. Both give the same bytes. Weights are
 * quantized once, per output channel, symmetric: w_q = round(w / s_w[oc]) in -127..127. The
 * convolution sums w_q x q exactly in int32, and the epilogue computes
 * float(sum) x int8_scale[oc] + bias[oc] (int8_scale = s_in x s_w[oc]), then accumulate, residual,
 * upsampled adds and ReLU in FP32, exactly as the FP32 kernels.
 *
 * uint8 activation layout: the blocked, bordered layout of hrnet_kernels.h with bytes,
 * [cb][h+2][w+2][16], i.e. per pixel 4 quads of 4 input channels, so that the microkernel
 * broadcasts one 32-bit word per quad. The border and the channels past the real channel count
 * are zero. hr_int8_tensor_bytes() bytes.
 *
 * int8 weight layout: [Cout/16][Cin/16][k][k][4 quads][16 oc][4 ic]: for one (ocb, icb, ky, kx)
 * tap, quad j is one 64-byte vector whose byte 4*oc+e holds the weight of input channel 4j+e to
 * output channel oc. Input channels past cin are zero.
 *
 * Kernels (hr_int8_kernel picks one per kernel set and CPU), all forming the same int32 sums:
 *  - VNNI: AVX-512 VNNI (vpdpbusd: 64 products per instruction), set AVX512 on CPUs with VNNI;
 *  - AVXVNNI (conv_int8_avx2.c): sets AVX2, and AVX512 on CPUs without AVX-512 VNNI, when the
 *    CPU has AVX-VNNI (the VEX form of vpdpbusd on ymm: Alder Lake and later, Zen 5): the int8
 *    weights as they are, 32 products per instruction, the AVX2 kernel's register tile.
 *  - AVX2 (conv_int8_avx2.c): sets AVX2 and AVX512 on the other CPUs. vpmaddubsw (u8 x s8
 *    pairs into s16) saturates at 255*127*2, so it uses vpmaddwd instead: a broadcast quad of
 *    uint8 is split into its even and odd bytes zero-extended to 16 bits (vpand, vpsrlw), times
 *    int16 weights (hr_pack_weights_int8_avx2, made at plan time), pairs summed exactly into
 *    int32. 16 products per vpmaddwd plus a vpaddd, against 8 per FP32 FMA.
 *  - NEON_DOT (conv_int8_neon.c): set NEON on aarch64 CPUs with the ARMv8.2 dot product (sdot,
 *    s8 x s8): activations enter as q - 128 (XOR 0x80 as they are loaded, the zero border too),
 *    and each output channel's sum starts at 128 x the sum of its weights (hr_int8_weight_sums,
 *    made at plan time), which makes it exact.
 *  - REFERENCE: any other case (NEON without dot product, GENERIC), plain C, slow.
 * The Swift planner keeps the
 * network's first layer (its input, the normalised image, is signed) and the heatmap layer in
 * FP32, and any layer whose sums could leave int32.
 */
#ifndef HRNET_KERNELS_INT8_H
#define HRNET_KERNELS_INT8_H

#include "hrnet_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/** 1 if this CPU has AVX-512 F/VL/DQ/BW and AVX512_VNNI (the fast INT8 kernel), else 0. */
int hr_cpu_has_avx512vnni(void);

/** Bytes of the int8 weights of a cin -> cout, k x k convolution: ceil(cout/16) * ceil(cin/16) *
 *  k * k * 256. */
size_t hr_int8_weights_size(int cin, int cout, int k);

/** Bytes of the uint8 copy of tensor t: t->cb * (t->h+2) * (t->w+2) * 16. */
size_t hr_int8_tensor_bytes(const hr_tensor *t);

/** Quantizes FP32 weights in the hrnet_kernels.h packed layout into the int8 layout above:
 *  w_q = round(w x inv_scale[oc]) clamped to -127..127 (inv_scale: ceil(cout/16)*16 floats, the
 *  reciprocal of each output channel's scale; channels past cout are written as zero, as are
 *  input channels past cin). Scalar; any CPU. */
void hr_pack_weights_int8(const float *packed_fp32, int cin, int cout, int k, const float *inv_scale, int8_t *dst);

/** Quantizes padded rows y0 .. y1-1 of channel block cb of the FP32 tensor t (in `arena`) into
 *  the uint8 copy `dst` (the copy's start): q = round-to-nearest-even(v x inv) clamped to 0..255,
 *  border and channels >= c written as zero without being read. Concurrent (cb, rows) ranges are
 *  fine. Uses AVX-512 when the CPU has it, else plain C: both give the same bytes. */
void hr_to_u8_rows(const float *arena, const hr_tensor *t, int c, float inv, uint8_t *dst, int cb, int y0, int y1);

/** One output row segment [ox0, ox0+t) of output blocks [ocb0, ocb0+b) of the INT8 convolution
 *  op, from the uint8 copy in_u8 of its input: int32 sums, then the epilogue above, written to
 *  op->out. 1 <= b <= 4, 1 <= t <= hr_int8_kernel_tile_t_max(HR_INT8_VNNI, b). Needs hr_cpu_has_avx512vnni(). */
void hr_conv_rows_int8(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t);

/** Which INT8 kernel each kernel set runs on this CPU. */
enum { HR_INT8_REFERENCE = 0, HR_INT8_VNNI = 1, HR_INT8_AVX2 = 2, HR_INT8_NEON_DOT = 3, HR_INT8_AVXVNNI = 4 };
/** 1 if this CPU runs the AVX2 set and has AVX-VNNI (VEX vpdpbusd on ymm), else 0. */
int hr_cpu_has_avxvnni(void);
int hr_int8_kernel(int set);
/** 1 if this is an aarch64 CPU with the ARMv8.2 dot product (getauxval(AT_HWCAP) & HWCAP_ASIMDDP). */
int hr_cpu_has_neon_dotprod(void);

/** Register tile for the INT8 kernel that `set` runs (hr_int8_kernel) on a k x k convolution;
 *  the contract of hr_choose_tile. The reference ignores tiles (one output block per task). */
void hr_choose_tile_int8_set(int set, int k, int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t);
/** Largest pixel count of INT8 kernel `kernel`'s register tile for b blocks (0 if none). */
int hr_int8_kernel_tile_t_max(int kernel, int b);
/** Sets op->tile_b/tile_t for the INT8 kernel `set` runs: the pipelined VNNI tiles (a width that
 *  divides the row) for the layers hr_int8_pipelined accepts, else hr_choose_tile_int8_set's. Needs
 *  the op's shapes, stride, in_c, n_up and accumulate. */
void hr_choose_tile_int8_op(int set, hr_op *op, int nthreads);
/** 1 if the VNNI kernel runs op's tasks as one pipelined stream (hr_conv_tasks_int8): stride 1,
 *  no fused sums or accumulation, whole input blocks, a tile width dividing the row. 0 on other
 *  architectures. */
int hr_int8_pipelined(const hr_op *op);
/** Tasks task0..task1 of op (task = group of tile_b output blocks x row, as hr_conv_rows_int8's
 *  callers number them) with the VNNI kernel, each tile's epilogue interleaved with the next
 *  tile's sums; the last tile's epilogue before returning. Same results as hr_conv_rows_int8.
 *  Needs hr_int8_pipelined(op) and hr_cpu_has_avx512vnni(). */
void hr_conv_tasks_int8(const hr_op *op, float *arena, const uint8_t *in_u8, int task0, int task1);

/** int16 elements of the AVX2 kernel's weights, one per int8 weight (twice the bytes):
 *  ceil(cout/16) * ceil(cin/16) * k * k * 256. */
size_t hr_int8_avx2_weights_count(int cin, int cout, int k);
/** Widens int8 weights (layout above) to the AVX2 kernel's layout
 *  [Cout/16][Cin/16][k][k][4 quads][2: even, odd][2 halves][8 oc][2]: for quad j, the even
 *  vector pairs input channels (4j, 4j+2), the odd one (4j+1, 4j+3), for output channels
 *  8h..8h+7 of the block. Scalar; any CPU. */
void hr_pack_weights_int8_avx2(const int8_t *w_int8, int cin, int cout, int k, int16_t *dst);
/** Per output channel (ceil(cout/16)*16 entries) the sum of its int8 weights over every input
 *  channel and tap (the NEON kernel's correction). Scalar; any CPU. */
void hr_int8_weight_sums(const int8_t *w_int8, int cin, int cout, int k, int32_t *dst);

/** hr_conv_rows_int8 with the AVX2 kernel (needs op->weights_int8_avx2 and an AVX2 CPU) and with
 *  the NEON dot-product kernel (needs op->int8_wsum and hr_cpu_has_neon_dotprod()). Any b, t:
 *  a tile outside the kernel's table is split into tiles of the table. On other architectures
 *  they run the reference. */
void hr_conv_rows_int8_avx2(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t);
/** The same with the AVX-VNNI kernel (the int8 weights; needs hr_cpu_has_avxvnni()). */
void hr_conv_rows_int8_avxvnni(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t);
void hr_conv_rows_int8_neon(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t);
/** The reference for one row segment of output blocks (what the SIMD kernels fall back to). */
void hr_conv_int8_ref_tile(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb0, int oy, int ox0, int b, int t);

/** Plain reference of the INT8 convolution for output block ocb, row oy (all of it): the same
 *  int32 sums (computed in int64, equal when they fit int32, which the planner ensures), the same
 *  epilogue. Any CPU. */
void hr_conv_int8_ref_task(const hr_op *op, float *arena, const uint8_t *in_u8, int ocb, int oy);

#ifdef __cplusplus
}
#endif
#endif
