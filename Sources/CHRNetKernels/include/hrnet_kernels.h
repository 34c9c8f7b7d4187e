/*
 * hrnet_kernels.h - the C kernels under libhrnet's Swift core (internal; not installed).
 *
 * Activation layout ("blocked, bordered"): a tensor of C channels and H x W pixels is stored as
 * [ceil(C/16)][H+2][W+2][16] floats: 16 channels per AVX-512 register, and a one-pixel border
 * that is zero and never written, so 3x3 convolutions with padding 1 read it without bounds
 * checks. Channels past C in the last block are zero as well.
 *
 * Weights are packed per convolution as [Cout/16][Cin/16][k][k][16 ic][16 oc] with BatchNorm
 * already folded in; the bias has ceil(Cout/16)*16 entries.
 *
 * A network is a list of hr_op run in order by hr_run(), inside one OpenMP parallel region.
 */
#ifndef HRNET_KERNELS_H
#define HRNET_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A tensor inside the arena: offset in floats (-1 = absent) and its shape. */
typedef struct hr_tensor {
    int64_t off;
    int32_t cb;   /* channel blocks of 16 */
    int32_t h, w; /* interior size; the buffer holds (h+2)*(w+2) pixels per block */
} hr_tensor;

enum { HR_OP_CONV = 0, HR_OP_SUM = 1, HR_OP_WINOGRAD = 2 };

/** Kernel sets. 1..4 are the values of hrnet_kernel_set in include/hrnet.h (0 there is AUTO);
 *  here 0 names the plain scalar reference kernels, the oracle of the tests.
 *  - GENERIC: any CPU: direct convolutions as im2col rows + OpenBLAS sgemm (conv_generic.c);
 *  - AVX2: AVX2 + FMA + F16C, x86-64-v3 (conv_avx2.c); AVX512: AVX-512 F/VL/DQ/BW (conv_avx512.c);
 *  - NEON: aarch64 Advanced SIMD (conv_neon.c).
 *  Every set reads and writes the same layouts and the same packed weights; GENERIC runs no
 *  Winograd ops (a plan for it turns them into direct convolutions). */
enum { HR_KERNELS_REFERENCE = 0, HR_KERNELS_GENERIC = 1, HR_KERNELS_AVX2 = 2, HR_KERNELS_AVX512 = 3, HR_KERNELS_NEON = 4 };

/** 1 if this build and this CPU can run kernel set `set`, else 0. */
int hr_kernels_supported(int set);
/** The fastest set this CPU runs (AVX512 > AVX2 > NEON > GENERIC). */
int hr_kernels_best(void);
/** "reference", "generic", "avx2", "avx512", "neon"; NULL for anything else. */
const char *hr_kernels_name(int set);
/** Features of this CPU that matter to the kernel sets, e.g. "avx2 fma avx512" (static text). */
const char *hr_cpu_features(void);
/** The BLAS under the GENERIC set: OpenBLAS's build configuration and the core it runs. */
const char *hr_generic_blas_info(void);
enum { HR_MAX_UP = 4 };

/** One step of the network.
 *  HR_OP_CONV: out = act(conv_k,stride(in) + bias [+ out if accumulate] [+ res] [+ sum up_u])
 *  HR_OP_SUM:  out = act(res + sum up_u)
 *  up_u is nearest-neighbour upsampled by up_f[u] (it has out's channels, h/up_f x w/up_f).
 *  HR_OP_WINOGRAD: the same as a stride-1 3x3 HR_OP_CONV, computed as Winograd F(2x2,3x3) (see
 *  winograd.c); weights = U packed as 16 consecutive 1x1 convolutions [16][Cout/16][Cin/16][16][16];
 *  tile_b/tile_t are for a 1x1 convolution over ceil(w/2) tiles; its scratch is described below. */
typedef struct hr_op {
    int32_t kind;
    int32_t k, stride;      /* kernel size (1 or 3) and stride (1 or 2); padding is k/2 */
    int32_t in_c;           /* real input channels (<= in.cb * 16) */
    int32_t relu, accumulate;
    int32_t tile_b, tile_t; /* register tile: output blocks x pixels (chosen by hr_choose_tile) */
    hr_tensor in, out, res;
    int32_t n_up;
    int32_t up_f[HR_MAX_UP];
    hr_tensor up[HR_MAX_UP];
    const float *weights;   /* packed, see above */
    const float *bias;
    /* Scratch of HR_OP_WINOGRAD ops, and of HR_OP_CONV ops run by the GENERIC set (arena offsets
     * in floats): `scratch` when one thread runs the op alone in its slot (hr_run_images);
     * thread t of a team splitting the op uses scratch_team + t * scratch_stride. */
    int64_t scratch, scratch_team, scratch_stride;
    /* BF16 mode (hrnet_kernels_bf16.h), HR_OP_CONV only: non-NULL = products in BF16 with these
     * weights (hr_pack_weights_bf16 of `weights`); the input is first copied to BF16 at arena
     * offset bf16_copy (floats). */
    const uint16_t *weights_bf16;
    int64_t bf16_copy;
    /* INT8 mode (hrnet_kernels_int8.h), HR_OP_CONV only: non-NULL = products in INT8 with these
     * weights (per output channel symmetric, hr_pack_weights_int8); the input is first quantized
     * to uint8 at arena offset int8_copy (floats) as round(v x int8_inv) clamped to 0..255; the
     * int32 sums are scaled by int8_scale[oc] (input scale x weight scale), then bias and the
     * FP32 epilogue as usual. */
    const int8_t *weights_int8;
    const float *int8_scale;
    float int8_inv;
    int64_t int8_copy;
    /* INT8 kernels other than VNNI (hrnet_kernels_int8.h): made at plan time for the session's
     * set only, NULL otherwise (the op then runs the INT8 reference). AVX2: the int8 weights
     * widened to int16 in hr_pack_weights_int8_avx2's layout. NEON dot product: per output
     * channel (ceil(cout/16)*16 entries) the sum of its int8 weights over all input channels and
     * taps (hr_int8_weight_sums). */
    const int16_t *weights_int8_avx2;
    const int32_t *int8_wsum;
    /* INT8 mode, a uint8 copy of the output written by the epilogue (any op kind, every set's
     * epilogues): out_u8_inv > 0 = the final output value v (after ReLU) is also
     * stored as hr_quantize_u8(v, out_u8_inv) at arena offset out_u8 (floats), a uint8 tensor of
     * out's shape in the layout of hrnet_kernels_int8.h. out_skip_fp32 = the FP32 store is
     * skipped (nothing reads it). in_u8_ready: an INT8 convolution's int8_copy was written that
     * way by the producer of its input, so it is not quantized again. */
    int64_t out_u8;
    float out_u8_inv;
    int32_t out_skip_fp32;
    int32_t in_u8_ready;
    /* INT8 mode, residuals in FP16 (hrnet_kernels_int8.h): out_f16_on = the epilogue also stores
     * its output rounded to IEEE half (nearest even) at arena offset out_f16 (floats), a tensor of
     * out's shape with 2 bytes per element; res_f16_mode: 0 = the residual is res's FP32 values,
     * 1 = it is read from res's half copy at res_f16, 2 = res's FP32 values rounded to half (the
     * same numbers without the copy: plans use 1, tests compare the two). */
    int64_t out_f16, res_f16;
    int32_t out_f16_on, res_f16_mode;
} hr_op;

/** Scratch floats one thread needs for an HR_OP_WINOGRAD op. */
int64_t hr_wino_scratch_floats(int in_cb, int out_cb, int out_w);
/** Scratch floats one thread needs for an HR_OP_CONV op run by the GENERIC set (its im2col row
 *  and GEMM output); 0 for the other sets. */
int64_t hr_generic_scratch_floats(const hr_op *op);

/** Picks the register tile for a convolution producing `out_cb` blocks of width `out_w`, for
 *  the AVX-512 kernels (hr_choose_tile) or for kernel set `set` (hr_choose_tile_set). */
void hr_choose_tile(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t);
void hr_choose_tile_set(int set, int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t);

/** Runs `n` ops on the arena with a team of `nthreads` threads that splits every op between
 *  them, with kernel set `set` (an HR_KERNELS_* value the CPU supports; REFERENCE for the plain
 *  scalar kernels). Convolutions with weights_bf16 run the BF16 kernels (AVX512 only). */
void hr_run(const hr_op *ops, int n, float *arena, int nthreads, int set);

/** hr_run that also adds each op's wall time, in seconds, to op_seconds[i]. */
void hr_run_profiled(const hr_op *ops, int n, float *arena, int nthreads, int set, double *op_seconds);

/** Image-parallel run: thread t (of nthreads) processes images t, t + nthreads, ... alone, in
 *  the arena slot at arena + t * slot_stride (each slot a full plan: input tensor at in_off,
 *  output tensor at out_off, Winograd scratch at the op's scratch offset). input: batch NCHW
 *  images of in_c x in_h x in_w; output: batch x out_c x out_h x out_w. *bad: -1, or the index of
 *  the first non-finite input value found (that image's output is then not written). */
void hr_run_images(const hr_op *ops, int n, float *arena, int64_t slot_stride, int nthreads, int set,
                   const float *input, int batch, int in_c, int in_h, int in_w, int64_t in_off,
                   float *output, int out_c, int out_h, int out_w, int64_t out_off, int64_t *bad);

/** Packs NCHW floats (C channels, H x W) into a blocked, bordered tensor at dst (whose border
 *  must already be zero). Returns -1 if all values are finite, else the index of the first
 *  non-finite value (dst is then partly written). */
int64_t hr_pack_input(const float *src, int c, int h, int w, float *dst);
/** Unpacks the first `c` channels of a blocked, bordered tensor into NCHW floats. */
void hr_unpack_output(const float *src, int c, int h, int w, float *dst);

/** Samples the network input (3 x H x W floats, NCHW, RGB order, (v/255 - mean)/std) from an
 *  8-bit image of `channels` (3 or 4) bytes per pixel (`bgr` != 0: B,G,R order), `stride` bytes
 *  per row: input pixel (u, v) reads the image bilinearly at ((u - W/2)/k + cx, (v - H/2)/k + cy),
 *  integer coordinates being pixel centres; pixels outside the image are 0 (black). `flip`
 *  mirrors the input horizontally (u -> W-1-u), as the flip test needs. */
void hr_warp_normalize(const uint8_t *img, int iw, int ih, size_t stride, int channels, int bgr,
                       double k, double cx, double cy, int W, int H, int flip,
                       const float mean[3], const float std[3], float *out);

/** 1 if this CPU runs the AVX-512 kernels, else 0. */
int hr_cpu_has_avx512(void);
/** Number of cores OpenMP would use by default. */
int hr_default_threads(void);

/** Thread-local error text for failures that have no session (copied; truncated at 1023 bytes). */
void hr_tls_set_error(const char *message);
const char *hr_tls_get_error(void);

#ifdef __cplusplus
}
#endif
#endif
