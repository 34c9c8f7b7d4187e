/*
 * GENERIC kernels: the direct convolution for any CPU, as im2col rows + OpenBLAS sgemm. No
 * intrinsics: the speed comes from OpenBLAS, which picks its GEMM kernels for the CPU at run
 * time (Debian builds it with DYNAMIC_ARCH). A GENERIC plan has no Winograd ops.
 *
 * One task is blocks [ocb0, ocb0+b) of output row oy (or of a band of rows: band_rows()):
 *   1. im2col: A[W][K] in the calling thread's scratch, K = in.cb * k * k * 16 ordered
 *      (icb, ky, kx, 16 ic), i.e. exactly the order of the packed weights. The k taps of one
 *      (icb, ky) are k consecutive pixels of one input row for both strides, so A is built from
 *      contiguous copies of k * 64 bytes out of the blocked layout (the zero border supplies the
 *      padding). A 1x1 stride-1 convolution with one input block needs no copy: its input row
 *      is already a W x 16 matrix. The first convolution (3 real input channels in a block of
 *      16) is "compact": K = k * k * in_c, with its weights gathered to match (see compact()).
 *   2. per output block p: C[W][16] = A[W][K] x Wp[K][16], where Wp is the packed weights of
 *      block p ([icb][ky][kx][16 ic][16 oc] is a row-major K x 16 matrix, ldb 16), straight into
 *      the output row of block p (which is a row-major W x 16 matrix, ldc 16), beta = 1 when
 *      the op accumulates into its output (a band's rows are not contiguous: C in scratch).
 *   3. the epilogue (bias, residual, upsampled sums, ReLU) on that row while it is in cache.
 * Padding channels (in_c < in.cb * 16) are zero in the activations, so including them in K is
 * harmless; output padding lanes get zero weights and bias, as in the other sets.
 *
 * The packed weights of consecutive blocks are consecutive K x 16 panels, not one K x 16b
 * matrix, so a task makes b GEMMs of N = 16 that share one im2col (see hr_choose_tile_generic
 * for b); repacking b panels into one K x 16b matrix per task would copy about as much as it
 * saves. hr_conv_rows_generic also takes a band of rows (M = rows * W): see band_rows().
 *
 * Threads: every GEMM here runs on the calling OpenMP thread only. OpenBLAS is linked as
 * Debian's single-threaded (serial) build, statically and with its symbols hidden, so it starts
 * no threads of its own, shares no state with a BLAS the host process loads, and no setting of
 * ours reaches the host's BLAS (README "GENERIC kernels and linking"). That build is not
 * compiled with OpenBLAS's USE_LOCKING, so its buffer allocator is not safe for concurrent
 * callers: it is wrapped below (ld --wrap), with one buffer per thread.
 */
#include "internal.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The CBLAS interface, declared here rather than through cblas.h: each OpenBLAS variant keeps
 * its own header in its own directory. LP64 OpenBLAS: blasint is int; the enums are ints. */
enum { HR_CBLAS_ROW_MAJOR = 101, HR_CBLAS_NO_TRANS = 111 };
extern void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                        int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* OpenBLAS takes a pack buffer for every GEMM from a process-wide table (blas_memory_alloc) and
 * gives it back at the end (blas_memory_free). The serial build searches and marks that table
 * without a lock, so two threads can get the same buffer (measured: wrong results, README), and
 * every call writes table entries that the other threads read, which bounced between the cores
 * (2 threads: 1x1 64->256 at 64x48 took 1.06 ms instead of 0.64). The link passes
 * --wrap=blas_memory_alloc and --wrap=blas_memory_free, so OpenBLAS's own calls land here:
 * each thread takes one buffer from the table once (under a mutex), reuses it for all its GEMMs
 * and returns it when the thread exits (a pthread key destructor); a nested request, if any,
 * takes another buffer under the mutex. An OpenBLAS built with its own lock is merely locked
 * twice; one without these symbols fails to link rather than racing silently. */
extern void *__real_blas_memory_alloc(int procpos);
extern void __real_blas_memory_free(void *buffer);
__attribute__((visibility("hidden"))) void *__wrap_blas_memory_alloc(int procpos);
__attribute__((visibility("hidden"))) void __wrap_blas_memory_free(void *buffer);
static pthread_mutex_t alloc_mutex = PTHREAD_MUTEX_INITIALIZER;
typedef struct { void *buffer; int busy; } thread_buffer;
static _Thread_local thread_buffer mine;
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static int key_made;

static void *locked_alloc(int procpos) {
    pthread_mutex_lock(&alloc_mutex);
    void *p = __real_blas_memory_alloc(procpos);
    pthread_mutex_unlock(&alloc_mutex);
    return p;
}
static void locked_free(void *buffer) {
    pthread_mutex_lock(&alloc_mutex);
    __real_blas_memory_free(buffer);
    pthread_mutex_unlock(&alloc_mutex);
}
static void release_buffer(void *p) {
    thread_buffer *t = p;
    if (t->buffer) locked_free(t->buffer);
    t->buffer = 0;
}
static void make_key(void) { key_made = pthread_key_create(&buffer_key, release_buffer) == 0; }
/* If this library is unloaded while threads live, no destructor of it may run at their exit. */
__attribute__((destructor)) static void drop_key(void) {
    if (key_made) pthread_key_delete(buffer_key);
}

void *__wrap_blas_memory_alloc(int procpos) {
    if (mine.busy) return locked_alloc(procpos);
    if (!mine.buffer) {
        pthread_once(&buffer_once, make_key);
        if (!key_made) return locked_alloc(procpos);
        mine.buffer = locked_alloc(procpos);
        if (!mine.buffer) return 0;
        pthread_setspecific(buffer_key, &mine);
    }
    mine.busy = 1;
    return mine.buffer;
}

void __wrap_blas_memory_free(void *buffer) {
    if (buffer && buffer == mine.buffer) {
        mine.busy = 0;
        return;
    }
    locked_free(buffer);
}

/* Which OpenBLAS the GENERIC kernels call and which core it picked, e.g. "OpenBLAS 0.3.21
 * NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Haswell SINGLE_THREADED; core Haswell" (static text).
 * OpenBLAS's own symbols are not exported (see the top of this file), so dlsym cannot find
 * openblas_get_config; callers declare this function instead. */
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
const char *hr_generic_blas_info(void);
static char blas_info[256];
static pthread_once_t blas_info_once = PTHREAD_ONCE_INIT;
static void make_blas_info(void) {
    const char *config = openblas_get_config(), *core = openblas_get_corename();
    snprintf(blas_info, sizeof blas_info, "%s; core %s", config ? config : "OpenBLAS", core ? core : "?");
}
const char *hr_generic_blas_info(void) {
    pthread_once(&blas_info_once, make_blas_info);
    return blas_info;
}

/* A single input block with fewer than 16 real channels (the network's first convolution: 3)
 * is "compact": K holds only the real channels, k * k * in_c instead of k * k * 16, and each
 * block's weights are gathered to match (a few KB per task); the stem then does 16/in_c times
 * fewer multiplications by zero. */
static inline int compact(const hr_op *op) { return op->in.cb == 1 && op->in_c > 0 && op->in_c < 16; }
static inline int gemm_k(const hr_op *op) { return op->k * op->k * (compact(op) ? op->in_c : op->in.cb * 16); }

/* A 1x1 stride-1 convolution over one full input block reads its input row in place. */
static inline int direct_rows(const hr_op *op) { return op->k == 1 && op->stride == 1 && op->in.cb == 1 && !compact(op); }

/* Rows per task. A GEMM over one output row has M = out_w; OpenBLAS packs both operands on
 * every call, so a row of 6 or 12 pixels uses each packed weight only 6 or 12 times (Haswell
 * kernels, one Zen 5 core: 46 GFLOP/s at M = 6, 86 at 12, ~98 from 24 up). A task over a band of
 * rows makes M = rows * out_w: up to band_rows() rows, enough for M >= BAND_M, for rows narrower
 * than BAND_MIN_W only (wider ones gain nothing, and OpenBLAS's SkylakeX kernels lose up to 15%
 * there: they have a no-packing path for small matrices that one-row GEMMs take). */
#define BAND_M 48
#define BAND_MIN_W 16
static int band_rows(int out_w, int out_h) {
    int r = out_w > 0 && out_w < BAND_MIN_W ? (BAND_M + out_w - 1) / out_w : 1;
    if (r > out_h) r = out_h;
    return r < 1 ? 1 : r;
}

/* Scratch of one thread: A (band_rows * W x K), C (band_rows * W x 16: the GEMM's output when a
 * task has several rows; one row is written in place) and, for compact ops, one block's
 * gathered weights (K x 16). */
static inline int64_t a_floats(const hr_op *op) {
    return ((int64_t)band_rows(op->out.w, op->out.h) * op->out.w * gemm_k(op) + 15) & ~(int64_t)15;
}
static inline int64_t c_floats(const hr_op *op) { return (int64_t)band_rows(op->out.w, op->out.h) * op->out.w * 16; }

int64_t hr_generic_scratch_floats(const hr_op *op) {
    if (op->kind != HR_OP_CONV) return 0;
    return a_floats(op) + c_floats(op) + (compact(op) ? (int64_t)gemm_k(op) * 16 : 0);
}

/* A[ox][(icb, ky, kx, ic)] for output row oy (row stride K). */
static void im2col_row(const hr_op *op, float *arena, float *restrict a, int oy) {
    const int k = op->k, s = op->stride, pad = k / 2, W = op->out.w, icbN = op->in.cb;
    const int64_t K = gemm_k(op);
    if (compact(op)) {
        const int c = op->in_c;
        for (int ky = 0; ky < k; ky++) {
            const float *src = hr_at(arena, &op->in, 0, oy * s + ky - pad, -pad);
            for (int ox = 0; ox < W; ox++)
                for (int kx = 0; kx < k; kx++)
                    for (int ic = 0; ic < c; ic++) a[ox * K + (ky * k + kx) * c + ic] = src[((int64_t)ox * s + kx) * 16 + ic];
        }
        return;
    }
    for (int icb = 0; icb < icbN; icb++)
        for (int ky = 0; ky < k; ky++) {
            /* Pixel (iy, -pad) of block icb; output pixel ox starts at column ox * s. */
            const float *src = hr_at(arena, &op->in, icb, oy * s + ky - pad, -pad);
            float *dst = a + (int64_t)(icb * k + ky) * k * 16;
            if (k == 3) {
                for (int ox = 0; ox < W; ox++) memcpy(dst + ox * K, src + (int64_t)ox * s * 16, 3 * 16 * sizeof(float));
            } else {
                for (int ox = 0; ox < W; ox++) memcpy(dst + ox * K, src + (int64_t)ox * s * 16, 16 * sizeof(float));
            }
        }
}

/* Blocks [ocb0, ocb0+b) of output rows [oy0, oy0+rows), 1 <= rows <= band_rows(). */
static void conv_band(const hr_op *op, float *arena, int64_t scratch, int ocb0, int b, int oy0, int rows) {
    const int W = op->out.w, K = gemm_k(op);
    const float *a;
    int lda;
    float *abuf = arena + scratch;
    if (rows == 1 && direct_rows(op)) {
        a = hr_at(arena, &op->in, 0, oy0, 0);
        lda = 16;
    } else {
        for (int r = 0; r < rows; r++) im2col_row(op, arena, abuf + (int64_t)r * W * K, oy0 + r);
        a = abuf;
        lda = K;
    }
    float *cbuf = abuf + a_floats(op);
    /* Compact: this block's weight rows of the real input channels, [ky][kx][ic < in_c][16 oc]. */
    float *wc = compact(op) ? cbuf + c_floats(op) : 0;
    /* The epilogue without accumulate: the GEMM has already added the previous output. */
    hr_op ep = *op;
    ep.accumulate = 0;
    for (int p = ocb0; p < ocb0 + b; p++) {
        const float *w = op->weights + (int64_t)p * op->in.cb * op->k * op->k * 256;
        if (wc) {
            const int c = op->in_c;
            for (int t = 0; t < op->k * op->k; t++) memcpy(wc + t * c * 16, w + t * 256, (size_t)c * 16 * sizeof(float));
            w = wc;
        }
        const float *bias = op->bias + p * 16;
        if (rows == 1) {
            /* Straight into the output row (a W x 16 matrix), adding the previous output. */
            float *o = hr_at(arena, &op->out, p, oy0, 0);
            cblas_sgemm(HR_CBLAS_ROW_MAJOR, HR_CBLAS_NO_TRANS, HR_CBLAS_NO_TRANS, W, 16, K, 1.0f, a, lda, w, 16,
                        op->accumulate ? 1.0f : 0.0f, o, 16);
            for (int ox = 0; ox < W; ox++) {
                float v[16];
                float *po = o + ox * 16;
                for (int l = 0; l < 16; l++) v[l] = po[l] + bias[l];
                hr_epilogue16(&ep, arena, v, po, p, oy0, ox);
            }
        } else {
            /* The rows are not contiguous in the output (borders): C in scratch. */
            cblas_sgemm(HR_CBLAS_ROW_MAJOR, HR_CBLAS_NO_TRANS, HR_CBLAS_NO_TRANS, rows * W, 16, K, 1.0f, a, lda, w, 16,
                        0.0f, cbuf, 16);
            for (int r = 0; r < rows; r++) {
                float *o = hr_at(arena, &op->out, p, oy0 + r, 0);
                const float *c = cbuf + (int64_t)r * W * 16;
                for (int ox = 0; ox < W; ox++) {
                    float v[16];
                    float *po = o + ox * 16;
                    if (op->accumulate)
                        for (int l = 0; l < 16; l++) v[l] = c[ox * 16 + l] + bias[l] + po[l];
                    else
                        for (int l = 0; l < 16; l++) v[l] = c[ox * 16 + l] + bias[l];
                    hr_epilogue16(&ep, arena, v, po, p, oy0 + r, ox);
                }
            }
        }
    }
}

/* Blocks [ocb0, ocb0+b) of output rows [oy0, oy0+rows) (clipped to the output), in bands of at
 * most band_rows() rows. run.c gives each task a band of op->tile_t rows (hr_choose_tile_generic's
 * choice), which is faster than single rows on narrow layers (README "Kernel sets"). */
void hr_conv_rows_generic(const hr_op *op, float *arena, int64_t scratch, int ocb0, int b, int oy0, int rows) {
    if (op->out.w < 1 || oy0 < 0) return;
    const int end = oy0 + rows < op->out.h ? oy0 + rows : op->out.h, band = band_rows(op->out.w, op->out.h);
    for (int y = oy0; y < end; y += band) conv_band(op, arena, scratch, ocb0, b, y, end - y < band ? end - y : band);
}

/* Tasks are (group of b output blocks, band of R output rows). A task costs b GEMMs of M = R * W, each taken as R * W + OVH
 * rows (the per-call packing and edge cost, fitted to the M = 6 .. 48 figures above), plus the
 * im2col of its rows (0.1-0.2 of a one-block GEMM: IM2COL_BLOCKS); an op takes
 * ceil(tasks / nthreads) tasks on the busiest thread. The chooser minimises that over the
 * divisors b of out_cb and R <= band_rows() and returns tile_b = b, tile_t = R. */
#define IM2COL_BLOCKS 0.2
#define OVH 6.0
void hr_choose_tile_generic(int out_cb, int out_w, int out_h, int nthreads, int32_t *tile_b, int32_t *tile_t) {
    if (nthreads < 1) nthreads = 1;
    if (out_h < 1) out_h = 1;
    if (out_w < 1) out_w = 1;
    const int rmax = band_rows(out_w, out_h);
    int best_b = 1, best_r = 1;
    double best = -1;
    for (int b = 1; b <= out_cb; b++) {
        if (out_cb % b) continue;
        for (int r = 1; r <= rmax; r++) {
            const long tasks = (long)(out_cb / b) * ((out_h + r - 1) / r);
            const double m = (double)r * out_w;
            const double cost = (double)((tasks + nthreads - 1) / nthreads) * (b * (m + OVH) + IM2COL_BLOCKS * m);
            if (best < 0 || cost < best - 1e-9) { best = cost; best_b = b; best_r = r; }
        }
    }
    *tile_b = best_b;
    *tile_t = best_r;
}
