/* Executes a planned network: one OpenMP parallel region per call, one worksharing loop per op. */
#include "internal.h"
#include "hrnet_kernels_bf16.h"
#include "hrnet_kernels_int8.h"
#include <stdlib.h>

/* LLVM libomp extension. Under a hypervisor libomp defaults to putting waiting threads to sleep
 * at once (blocktime 0), so each of the ~300 barriers of a forward pass costs a futex wake-up:
 * measured here, W32 batch 1 on 2 threads took 77 ms instead of 38. Threads now spin for a short
 * while before sleeping, unless the host chose its own KMP_BLOCKTIME. */
extern void kmp_set_blocktime(int msec);
extern double omp_get_wtime(void);
extern int omp_get_thread_num(void);
enum { HR_BLOCKTIME_MS = 20 };

/* 4 x 7 would need 28 accumulators + 4 weight registers + a broadcast: it spills (measured
 * 208-242 GFLOP/s against ~260 for 4 x 6 on one Zen 5 core). */
static const int tile_t_max[5] = {0, 14, 14, 9, 6};

void hr_choose_tile_ties(const int tmax[5], int wide_b, int out_cb, int out_w, int out_h, int nthreads,
                         int32_t *tile_b, int32_t *tile_t) {
    double best = -1;
    int bb = 1, bt = out_w < tmax[1] ? out_w : tmax[1];
    if (nthreads < 1) nthreads = 1;
    for (int b = 1; b <= 4; b++) {
        if (out_cb % b) continue;
        int t = out_w < tmax[b] ? out_w : tmax[b];
        int ntiles = (out_w + t - 1) / t;
        t = (out_w + ntiles - 1) / ntiles;
        /* Work per load grows with b*t; tiles narrower than t waste nothing here because the
         * row is split evenly. Penalise too few parallel tasks for the threads. */
        double score = (double)b * t;
        int tasks = (out_cb / b) * out_h;
        if (tasks < 4 * nthreads) score *= (double)tasks / (4.0 * nthreads);
        if (score > best || (wide_b && score == best)) { best = score; bb = b; bt = t; }
    }
    *tile_b = bb;
    *tile_t = bt;
}

void hr_choose_tile_with(const int tmax[5], int out_cb, int out_w, int out_h, int nthreads,
                         int32_t *tile_b, int32_t *tile_t) {
    hr_choose_tile_ties(tmax, 0, out_cb, out_w, out_h, nthreads, tile_b, tile_t);
}

void hr_choose_tile(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    hr_choose_tile_with(tile_t_max, out_cb, out_w, out_h, nthreads, tile_b, tile_t);
}

void hr_choose_tile_set(int set, int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    switch (set) {
#if HR_X86
    case HR_KERNELS_AVX2: hr_choose_tile_avx2(out_cb, out_w, out_h, nthreads, tile_b, tile_t); return;
#endif
#if HR_ARM64
    case HR_KERNELS_NEON: hr_choose_tile_neon(out_cb, out_w, out_h, nthreads, tile_b, tile_t); return;
#endif
    case HR_KERNELS_GENERIC: hr_choose_tile_generic(out_cb, out_w, out_h, nthreads, tile_b, tile_t); return;
    default: hr_choose_tile(out_cb, out_w, out_h, nthreads, tile_b, tile_t);
    }
}

/* The register-tiled row kernel of a SIMD set, or NULL (REFERENCE, GENERIC). */
static inline hr_conv_rows_fn rows_fn(int set) {
    switch (set) {
#if HR_X86
    case HR_KERNELS_AVX512: return hr_conv_rows_avx512;
    case HR_KERNELS_AVX2: return hr_conv_rows_avx2;
#endif
#if HR_ARM64
    case HR_KERNELS_NEON: return hr_conv_rows_neon;
#endif
    default: return 0;
    }
}

/* The INT8 kernel an op runs with `set`: the set's (hr_int8_kernel), or the reference when the
 * plan lacks the weights that kernel needs (made for another set). */
static inline int int8_kernel(const hr_op *op, int set) {
    const int k = hr_int8_kernel(set);
    if ((k == HR_INT8_AVX2 && !op->weights_int8_avx2) || (k == HR_INT8_NEON_DOT && !op->int8_wsum)) return HR_INT8_REFERENCE;
    return k;
}

/* Every op is a list of independent tasks (rows of output, or of output tiles). */
static int op_tasks(const hr_op *op, int set) {
    const int h = op->out.h;
    switch (op->kind) {
    case HR_OP_CONV:
        if (op->weights_int8)   /* SIMD: tile_b blocks x one row per task; the reference: one block */
            return int8_kernel(op, set) != HR_INT8_REFERENCE ? (op->out.cb / op->tile_b) * h : op->out.cb * h;
        /* GENERIC: bands of tile_t rows (hr_choose_tile_generic) per group of tile_b blocks. */
        if (set == HR_KERNELS_GENERIC) {
            const int R = op->tile_t > 0 ? op->tile_t : 1;
            return (op->out.cb / op->tile_b) * ((h + R - 1) / R);
        }
        return (op->out.cb / (set != HR_KERNELS_REFERENCE ? op->tile_b : 1)) * h;
    case HR_OP_WINOGRAD: return (h + 1) / 2;
    default: return op->out.cb * h;
    }
}

static inline void run_task(const hr_op *op, float *a, int set, int task, int64_t scratch) {
    const int h = op->out.h, w = op->out.w;
    switch (op->kind) {
    case HR_OP_CONV:
        if (op->weights_int8) {
            const uint8_t *copy = (const uint8_t *)(a + op->int8_copy);
            void (*rows)(const hr_op *, float *, const uint8_t *, int, int, int, int, int) = 0;
            switch (int8_kernel(op, set)) {
            case HR_INT8_VNNI: rows = hr_conv_rows_int8; break;
            case HR_INT8_AVX2: rows = hr_conv_rows_int8_avx2; break;
            case HR_INT8_AVXVNNI: rows = hr_conv_rows_int8_avxvnni; break;
            case HR_INT8_NEON_DOT: rows = hr_conv_rows_int8_neon; break;
            default: break;
            }
            if (rows) {
                const int B = op->tile_b, T = op->tile_t, g = task / h, oy = task % h;
                for (int ox0 = 0; ox0 < w; ox0 += T) rows(op, a, copy, g * B, oy, ox0, B, w - ox0 < T ? w - ox0 : T);
                break;
            }
            hr_conv_int8_ref_task(op, a, copy, task / h, task % h);
        } else if (op->weights_bf16) {
            const uint16_t *copy = (const uint16_t *)(a + op->bf16_copy);
#if HR_X86
            if (set == HR_KERNELS_AVX512) {
                const int B = op->tile_b, T = op->tile_t, g = task / h, oy = task % h;
                for (int ox0 = 0; ox0 < w; ox0 += T)
                    hr_conv_rows_bf16(op, a, copy, op->weights_bf16, g * B, oy, ox0, B, w - ox0 < T ? w - ox0 : T);
                break;
            }
#endif
            hr_conv_bf16_ref_task(op, a, copy, op->weights_bf16, task / h, task % h);
        } else if (set == HR_KERNELS_REFERENCE) {
            hr_conv_ref_task(op, a, task / h, task % h);
        } else if (set == HR_KERNELS_GENERIC) {
            const int B = op->tile_b, R = op->tile_t > 0 ? op->tile_t : 1, bands = (h + R - 1) / R;
            hr_conv_rows_generic(op, a, scratch, (task / bands) * B, B, (task % bands) * R, R);
        } else {
            const hr_conv_rows_fn rows = rows_fn(set);
            const int B = op->tile_b, T = op->tile_t, g = task / h, oy = task % h;
            for (int ox0 = 0; ox0 < w; ox0 += T) rows(op, a, g * B, oy, ox0, B, w - ox0 < T ? w - ox0 : T);
        }
        break;
    case HR_OP_WINOGRAD:
        switch (set) {
#if HR_X86
        case HR_KERNELS_AVX512: hr_wino_row_avx512(op, a, scratch, task); break;
        case HR_KERNELS_AVX2: hr_wino_row_avx2(op, a, scratch, task); break;
#endif
#if HR_ARM64
        case HR_KERNELS_NEON: hr_wino_row_neon(op, a, scratch, task); break;
#endif
        default: hr_wino_row_ref(op, a, scratch, task);
        }
        break;
    default:
#if HR_X86
        if (set == HR_KERNELS_AVX512) {
            hr_sum_row_avx512(op, a, task / h, task % h);
            break;
        }
        if (set == HR_KERNELS_AVX2) {
            hr_sum_row_avx2(op, a, task / h, task % h);
            break;
        }
#endif
        hr_sum_task(op, a, task / h, task % h);
    }
}

/* A BF16 convolution first copies its input to BF16, an INT8 one quantizes it to uint8 (unless
 * the input's producer wrote the uint8 copy: in_u8_ready), one padded row per task. */
static inline int bf16_rows(const hr_op *op) {
    return op->kind == HR_OP_CONV && (op->weights_bf16 || (op->weights_int8 && !op->in_u8_ready)) ? op->in.cb * (op->in.h + 2) : 0;
}

static inline void bf16_row(const hr_op *op, float *a, int i) {
    const int hp = op->in.h + 2;
    if (op->weights_int8)
        hr_to_u8_rows(a, &op->in, op->in_c, op->int8_inv, (uint8_t *)(a + op->int8_copy), i / hp, i % hp, i % hp + 1);
    else
        hr_to_bf16_rows(a, &op->in, op->in_c, (uint16_t *)(a + op->bf16_copy), i / hp, i % hp, i % hp + 1);
}

/* An INT8 op the VNNI kernel runs as one pipelined stream of tasks (hr_conv_tasks_int8;
 * hr_int8_pipelined checks that it is an INT8 convolution). */
static inline int pipelined(const hr_op *op, int set) {
    return hr_int8_pipelined(op) && int8_kernel(op, set) == HR_INT8_VNNI;
}

extern int omp_get_num_threads(void);

/* Inside a parallel region: the team shares the op's tasks (implicit barrier at the end). */
static void run_op_shared(const hr_op *op, float *a, int set) {
    const int rows = bf16_rows(op);
    if (rows) {
#pragma omp for schedule(static)
        for (int i = 0; i < rows; i++) bf16_row(op, a, i);
    }
    const int tasks = op_tasks(op, set);
    if (pipelined(op, set)) {   /* each thread one contiguous run of tasks, as schedule(static) */
        const int n = omp_get_num_threads(), me = omp_get_thread_num();
        const int t0 = (int)((int64_t)tasks * me / n), t1 = (int)((int64_t)tasks * (me + 1) / n);
        if (t1 > t0) hr_conv_tasks_int8(op, a, (const uint8_t *)(a + op->int8_copy), t0, t1);
#pragma omp barrier
        return;
    }
    const int64_t scratch = op->scratch_team + (int64_t)omp_get_thread_num() * op->scratch_stride;
#pragma omp for schedule(static)
    for (int task = 0; task < tasks; task++) run_task(op, a, set, task, scratch);
}

/* One thread runs all of the op's tasks (image-parallel mode). */
static void run_op_alone(const hr_op *op, float *a, int set) {
    const int rows = bf16_rows(op);
    for (int i = 0; i < rows; i++) bf16_row(op, a, i);
    const int tasks = op_tasks(op, set);
    if (pipelined(op, set)) {
        hr_conv_tasks_int8(op, a, (const uint8_t *)(a + op->int8_copy), 0, tasks);
        return;
    }
    for (int task = 0; task < tasks; task++) run_task(op, a, set, task, op->scratch);
}

/* A set this CPU cannot run falls back to the reference kernels (the Swift layer refuses such a
 * set before planning; this keeps a direct caller of the C functions from faulting). */
static inline int usable(int set) { return hr_kernels_supported(set) ? set : HR_KERNELS_REFERENCE; }

static void run_all(const hr_op *ops, int n, float *a, int nthreads, int set, double *op_seconds) {
    set = usable(set);
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 1 && !getenv("KMP_BLOCKTIME")) kmp_set_blocktime(HR_BLOCKTIME_MS);
#pragma omp parallel num_threads(nthreads)
    {
        for (int i = 0; i < n; i++) {
            double t0 = 0;
            if (op_seconds) {
#pragma omp barrier
#pragma omp master
                t0 = omp_get_wtime();
            }
            run_op_shared(&ops[i], a, set);
            if (op_seconds) {
#pragma omp master
                op_seconds[i] += omp_get_wtime() - t0;
            }
        }
    }
}

void hr_run(const hr_op *ops, int n, float *arena, int nthreads, int set) {
    run_all(ops, n, arena, nthreads, set, 0);
}

void hr_run_profiled(const hr_op *ops, int n, float *arena, int nthreads, int set, double *op_seconds) {
    run_all(ops, n, arena, nthreads, set, op_seconds);
}

/* Image-parallel: thread t runs images t, t + nthreads, ... alone in arena slot t, packing its
 * input and unpacking its output itself. No barrier inside a pass: on small layers this scales
 * better than splitting each layer between the threads. */
void hr_run_images(const hr_op *ops, int n, float *arena, int64_t slot_stride, int nthreads, int set,
                   const float *input, int batch, int in_c, int in_h, int in_w, int64_t in_off,
                   float *output, int out_c, int out_h, int out_w, int64_t out_off, int64_t *bad) {
    set = usable(set);
    const int64_t in_count = (int64_t)in_c * in_h * in_w, out_count = (int64_t)out_c * out_h * out_w;
    if (nthreads < 1) nthreads = 1;
    *bad = -1;
#pragma omp parallel num_threads(nthreads)
    {
        const int t = omp_get_thread_num();
        float *a = arena + (int64_t)t * slot_stride;
        for (int img = t; img < batch; img += nthreads) {
            const int64_t b = hr_pack_input(input + img * in_count, in_c, in_h, in_w, a + in_off);
            if (b >= 0) {
#pragma omp critical(hr_bad_input)
                if (*bad < 0 || img * in_count + b < *bad) *bad = img * in_count + b;
                continue;
            }
            for (int i = 0; i < n; i++) run_op_alone(&ops[i], a, set);
            hr_unpack_output(a + out_off, out_c, out_h, out_w, output + img * out_count);
        }
    }
}
