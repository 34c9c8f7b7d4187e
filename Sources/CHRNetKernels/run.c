/* Executes a planned network: one OpenMP parallel region per call, one worksharing loop per op. */
#include "internal.h"
#include <stdlib.h>

/* LLVM libomp extension. Under a hypervisor libomp defaults to putting waiting threads to sleep
 * at once (blocktime 0), so each of the ~300 barriers of a forward pass costs a futex wake-up:
 * measured here, W32 batch 1 on 2 threads took 77 ms instead of 38. Threads now spin for a short
 * while before sleeping, unless the host chose its own KMP_BLOCKTIME. */
extern void kmp_set_blocktime(int msec);
extern double omp_get_wtime(void);
extern int omp_get_thread_num(void);
enum { HR_BLOCKTIME_MS = 20 };

static const int tile_t_max[5] = {0, 14, 14, 9, 7};

void hr_choose_tile(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    double best = -1;
    int bb = 1, bt = out_w < 14 ? out_w : 14;
    if (nthreads < 1) nthreads = 1;
    for (int b = 1; b <= 4; b++) {
        if (out_cb % b) continue;
        int t = out_w < tile_t_max[b] ? out_w : tile_t_max[b];
        int ntiles = (out_w + t - 1) / t;
        t = (out_w + ntiles - 1) / ntiles;
        /* Work per load grows with b*t; tiles narrower than t waste nothing here because the
         * row is split evenly. Penalise too few parallel tasks for the threads. */
        double score = (double)b * t;
        int tasks = (out_cb / b) * out_h;
        if (tasks < 4 * nthreads) score *= (double)tasks / (4.0 * nthreads);
        if (score > best) { best = score; bb = b; bt = t; }
    }
    *tile_b = bb;
    *tile_t = bt;
}

static void run_op(const hr_op *op, float *a, int simd) {
    const int h = op->out.h, w = op->out.w;
    if (op->kind == HR_OP_CONV && simd) {
        const int B = op->tile_b, T = op->tile_t;
        const int tasks = (op->out.cb / B) * h;
#pragma omp for schedule(static)
        for (int task = 0; task < tasks; task++) {
            const int g = task / h, oy = task % h;
            for (int ox0 = 0; ox0 < w; ox0 += T) {
                const int t = w - ox0 < T ? w - ox0 : T;
                hr_conv_rows_avx512(op, a, g * B, oy, ox0, B, t);
            }
        }
    } else if (op->kind == HR_OP_CONV) {
        const int tasks = op->out.cb * h;
#pragma omp for schedule(static)
        for (int task = 0; task < tasks; task++) hr_conv_ref_task(op, a, task / h, task % h);
    } else if (op->kind == HR_OP_WINOGRAD) {
        const int th = (h + 1) / 2;
        const int64_t scratch = op->scratch + (int64_t)omp_get_thread_num() * op->scratch_stride;
#pragma omp for schedule(static)
        for (int ty = 0; ty < th; ty++) {
            if (simd) hr_wino_row_avx512(op, a, scratch, ty);
            else hr_wino_row_ref(op, a, scratch, ty);
        }
    } else {
        const int tasks = op->out.cb * h;
#pragma omp for schedule(static)
        for (int task = 0; task < tasks; task++) hr_sum_task(op, a, task / h, task % h, simd);
    }
}

static void run_all(const hr_op *ops, int n, float *arena, int64_t image_stride, int batch, int nthreads,
                    int reference, double *op_seconds) {
    const int simd = !reference && hr_cpu_has_avx512();
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 1 && !getenv("KMP_BLOCKTIME")) kmp_set_blocktime(HR_BLOCKTIME_MS);
#pragma omp parallel num_threads(nthreads)
    for (int img = 0; img < batch; img++) {
        float *a = arena + (int64_t)img * image_stride;
        for (int i = 0; i < n; i++) {
            double t0 = 0;
            if (op_seconds) {
#pragma omp barrier
#pragma omp master
                t0 = omp_get_wtime();
            }
            run_op(&ops[i], a, simd);  /* ends with the worksharing loop's barrier */
            if (op_seconds) {
#pragma omp master
                op_seconds[i] += omp_get_wtime() - t0;
            }
        }
    }
}

void hr_run(const hr_op *ops, int n, float *arena, int64_t image_stride, int batch, int nthreads, int reference) {
    run_all(ops, n, arena, image_stride, batch, nthreads, reference, 0);
}

void hr_run_profiled(const hr_op *ops, int n, float *arena, int64_t image_stride, int batch, int nthreads,
                     double *op_seconds) {
    run_all(ops, n, arena, image_stride, batch, nthreads, 0, op_seconds);
}
