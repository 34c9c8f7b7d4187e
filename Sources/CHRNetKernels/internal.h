/* Shared by the kernel files; not part of any interface. */
#ifndef HRNET_KERNELS_INTERNAL_H
#define HRNET_KERNELS_INTERNAL_H
#include "hrnet_kernels.h"

/* Index of the first of the 16 lanes of pixel (y, x) (interior coordinates, -1..h / -1..w
 * allowed) of block cb in a blocked, bordered tensor of t's shape, in elements (of whatever size:
 * the FP32 tensor and its uint8 and half copies share the layout). */
static inline int64_t hr_pixel(const hr_tensor *t, int cb, int y, int x) {
    return (((int64_t)cb * (t->h + 2) + (y + 1)) * (t->w + 2) + (x + 1)) * 16;
}

/* Address of pixel (y, x) of block cb. */
static inline float *hr_at(float *base, const hr_tensor *t, int cb, int y, int x) {
    return base + t->off + hr_pixel(t, cb, y, x);
}

/* Fetches for writing the FP32 output lines (one per pixel) that the B x T register tile at
 * blocks ocb0.., row oy, pixels ox0.. will store, unless the op skips its FP32 store: issued before
 * the tile's sums, so the epilogue's stores do not wait for those lines. The AVX-512 direct
 * kernels (FP32, BF16, INT8 VNNI); one core of this Zen 5, interleaved runs: INT8 W48 87.0 -> 84.9
 * ms, W32 21.2 -> 20.6; BF16 W32 38.8 -> 37.0; FP32 W32 57.5 -> 56.5 (the 1x1 64->256 layers
 * 4.2 -> 3.3 ms). Not in the AVX2 kernels (FP32 a little slower, AVX-VNNI unchanged) nor in
 * Winograd's output rows (unchanged); prefetching residuals and the uint8 and half copies the
 * same way gained nothing measurable. */
static inline __attribute__((always_inline)) void
hr_prefetch_out_tile(const hr_op *op, float *arena, int ocb0, int oy, int ox0, const int B, const int T) {
    if (op->out_skip_fp32) return;
    for (int b = 0; b < B; b++) {
        const char *o = (const char *)hr_at(arena, &op->out, ocb0 + b, oy, ox0);
        for (int t = 0; t < T; t++) __builtin_prefetch(o + 64 * t, 1, 3);
    }
}

/* Address of pixel (y, x) of block cb of the uint8 copy of op's output (out_u8). */
static inline uint8_t *hr_at_u8(float *base, const hr_op *op, int cb, int y, int x) {
    return (uint8_t *)(base + op->out_u8) + hr_pixel(&op->out, cb, y, x);
}

/* An activation's uint8 code: round-to-nearest-even of v x inv clamped to 0..255, NaN -> 0. The
 * clamp comes first, in float (as the SIMD forms: max, min, then vcvtps2dq), so no value is
 * converted out of int range. */
static inline uint8_t hr_quantize_u8(float v, float inv) {
    float x = v * inv;
    x = x > 0 ? x : 0;
    x = x < 255 ? x : 255;
    /* Nearest even without a libm call (this file also builds for plain SSE2, which has no
     * rounding instruction): adding 1.5 x 2^23 leaves no fraction bits, and x is in 0..255. */
    x = (x + 12582912.0f) - 12582912.0f;
    return (uint8_t)(int32_t)x;
}

/* Address of pixel (y, x) of block cb of an FP16 copy of tensor t at arena offset f16 (floats). */
static inline uint16_t *hr_at_f16_of(float *base, const hr_tensor *t, int64_t f16, int cb, int y, int x) {
    return (uint16_t *)(base + f16) + hr_pixel(t, cb, y, x);
}

/* 1 if op stores anything but its FP32 output: the INT8 plans' uint8 or half copies, or only
 * those (out_skip_fp32). A plan may ask for either copy alone. */
static inline int hr_epilogue_copies(const hr_op *op) { return op->out_u8_inv > 0 || op->out_f16_on || op->out_skip_fp32; }

/* 1 if op writes none of the INT8 plans' copies and reads no half residual: the FP32 kernels'
 * common case, whose SIMD epilogues then test for neither per pixel. */
static inline int hr_epilogue_plain(const hr_op *op) { return !hr_epilogue_copies(op) && !op->res_f16_mode; }

/* IEEE half of a float, round to nearest even, as vcvtps2ph with that rounding (and F16C, and
 * aarch64's fcvt): overflow to infinity, subnormal halves, NaN stays a quiet NaN (payload's top
 * bits kept). */
static inline uint16_t hr_f32_to_f16(float f) {
    union { float f; uint32_t u; } c = {f};
    const uint32_t x = c.u, sign = (x >> 16) & 0x8000u, absx = x & 0x7FFFFFFFu;
    if (absx > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((absx >> 13) & 0x3FFu));  /* NaN */
    if (absx >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);   /* rounds past 65504: infinity */
    if (absx < 0x38800000u) {                                       /* half subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign;              /* below half the smallest: 0 */
        const uint32_t e = absx >> 23, m = (absx & 0x7FFFFFu) | 0x800000u;
        const uint32_t shift = 126 - e;                             /* 14..24 */
        uint32_t h = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((absx >> 13) - (112u << 10));                     /* rebias 127 -> 15 */
    const uint32_t rem = absx & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* The float of an IEEE half (exact). */
static inline float hr_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    union { uint32_t u; float f; } c;
    if (e == 0x1F) c.u = sign | 0x7F800000u | (m << 13);
    else if (e != 0) c.u = sign | ((e + 112u) << 23) | (m << 13);
    else {
        c.f = (float)m * (1.0f / 16777216.0f);   /* m x 2^-24, exact */
        c.u |= sign;
    }
    return c.f;
}

/* x / f for a coordinate x >= 0 of an output and its upsampling factor f. HRNet's factors are
 * powers of two, taken as shifts: an integer division per pixel was most of the time of the
 * fuse (sum) ops. */
static inline int hr_up_index(int x, int f) {
    return (f & (f - 1)) == 0 ? x >> __builtin_ctz((unsigned)f) : x / f;
}

/* Pixel (oy, ox) of an output's nearest-upsampled addend k: pixel (oy/f, ox/f) of op->up[k]. */
static inline const float *hr_up_at(float *arena, const hr_op *op, int k, int cb, int oy, int ox) {
    const int f = op->up_f[k];
    return hr_at(arena, &op->up[k], cb, hr_up_index(oy, f), hr_up_index(ox, f));
}

/* The fused epilogue for the 16 lanes of output pixel (cb, oy, ox), given the convolution's
 * values plus bias in v: + previous output (accumulate), + residual, + upsampled tensors, ReLU,
 * stored at o. The plain form of epilogue_avx512.h, shared by every plain kernel; the 16-lane
 * loops vectorise. */
static inline void hr_epilogue16(const hr_op *op, float *arena, float *restrict v, float *restrict o, int cb, int oy,
                                 int ox) {
    if (op->accumulate) for (int l = 0; l < 16; l++) v[l] += o[l];
    if (op->res_f16_mode == 1) {
        const uint16_t *r = hr_at_f16_of(arena, &op->res, op->res_f16, cb, oy, ox);
        for (int l = 0; l < 16; l++) v[l] += hr_f16_to_f32(r[l]);
    } else if (op->res.off >= 0) {
        const float *r = hr_at(arena, &op->res, cb, oy, ox);
        if (op->res_f16_mode == 2)
            for (int l = 0; l < 16; l++) v[l] += hr_f16_to_f32(hr_f32_to_f16(r[l]));
        else
            for (int l = 0; l < 16; l++) v[l] += r[l];
    }
    for (int u = 0; u < op->n_up; u++) {
        const float *p = hr_up_at(arena, op, u, cb, oy, ox);
        for (int l = 0; l < 16; l++) v[l] += p[l];
    }
    if (op->relu)
        for (int l = 0; l < 16; l++) v[l] = v[l] < 0 ? 0 : v[l];
    if (op->out_u8_inv > 0) {
        uint8_t *u = hr_at_u8(arena, op, cb, oy, ox);
        for (int l = 0; l < 16; l++) u[l] = hr_quantize_u8(v[l], op->out_u8_inv);
    }
    if (op->out_f16_on) {
        uint16_t *h = hr_at_f16_of(arena, &op->out, op->out_f16, cb, oy, ox);
        for (int l = 0; l < 16; l++) h[l] = hr_f32_to_f16(v[l]);
    }
    if (!op->out_skip_fp32)
        for (int l = 0; l < 16; l++) o[l] = v[l];
}

/* Register-tile chooser over a table of the largest T for B = 1..4 output blocks: the largest
 * B x T (work per load), the smaller B on ties, or the larger with wide_b. */
void hr_choose_tile_ties(const int tmax[5], int wide_b, int out_cb, int out_w, int out_h, int nthreads,
                         int32_t *tile_b, int32_t *tile_t);
void hr_choose_tile_with(const int tmax[5], int out_cb, int out_w, int out_h, int nthreads,
                         int32_t *tile_b, int32_t *tile_t);

/* Architectures: x86-64 builds the AVX-512, AVX2 and BF16 kernels (each compiled for its own
 * target, chosen at run time); aarch64 builds NEON. Every build has the reference and GENERIC. */
#if defined(__x86_64__) || defined(_M_X64)
#define HR_X86 1
#endif
#if defined(__aarch64__)
#define HR_ARM64 1
#endif

/* Kernel sets whose kernels are written in this build: support.c reports the others as
 * unsupported, so nothing selects them. */
#define HR_GENERIC_BUILT 1
#define HR_AVX2_BUILT 1
#define HR_NEON_BUILT 1

/* One output row segment [ox0, ox0+t) of blocks [ocb0, ocb0+b) of a convolution, by a SIMD set. */
typedef void (*hr_conv_rows_fn)(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t);
/* A Winograd transform of one row of tiles: input (arena tensor in -> V) or output (M -> out). */
typedef void (*hr_wino_transform_fn)(const hr_op *op, float *arena, const hr_tensor *vm, int ty);

/* Scalar versions over whole ops, parallelised over tasks by the caller's `omp for`. */
void hr_conv_ref_task(const hr_op *op, float *arena, int ocb, int oy);
void hr_sum_task(const hr_op *op, float *arena, int cb, int oy);
/* Winograd F(2x2,3x3), one row of output tiles (winograd.c); scratch: arena offset of the
 * calling thread's hr_wino_scratch_floats() floats. The SIMD sets pass their transforms and
 * their 1x1 convolution (B = the op's tile_b). */
void hr_wino_row_ref(const hr_op *op, float *arena, int64_t scratch, int ty);
void hr_wino_row_with(const hr_op *op, float *arena, int64_t scratch, int ty, hr_wino_transform_fn input,
                      hr_conv_rows_fn conv, hr_wino_transform_fn output);
/* GENERIC (conv_generic.c): blocks [ocb0, ocb0+b) of output rows [oy0, oy0+rows) (a task's band
 * of tile_t rows; clipped to the output), with the calling thread's hr_generic_scratch_floats()
 * floats at arena offset `scratch`. */
void hr_conv_rows_generic(const hr_op *op, float *arena, int64_t scratch, int ocb0, int b, int oy0, int rows);
void hr_choose_tile_generic(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t);

#if HR_X86
void hr_conv_rows_avx512(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t);
void hr_sum_row_avx512(const hr_op *op, float *arena, int cb, int oy);
void hr_wino_row_avx512(const hr_op *op, float *arena, int64_t scratch, int ty);
/* AVX2 + FMA (conv_avx2.c): 16 ymm registers, so its own tile table. */
void hr_conv_rows_avx2(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t);
void hr_sum_row_avx2(const hr_op *op, float *arena, int cb, int oy);
void hr_wino_row_avx2(const hr_op *op, float *arena, int64_t scratch, int ty);
void hr_choose_tile_avx2(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t);
#endif
#if HR_ARM64
/* NEON (conv_neon.c): 32 q registers of 4 floats. */
void hr_conv_rows_neon(const hr_op *op, float *arena, int ocb0, int oy, int ox0, int b, int t);
void hr_wino_row_neon(const hr_op *op, float *arena, int64_t scratch, int ty);
void hr_choose_tile_neon(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t);
#endif
#endif
