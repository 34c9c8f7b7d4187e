/*
 * Kernel-set test without Swift: every convolution shape of HRNet W32 and W48 at 256x192 and
 * 384x288 (stem, layer1 bottlenecks, transitions, branch convolutions direct and Winograd,
 * fusion up-projections, downsamples with accumulate, sums; the network's own epilogues plus
 * variants with and without ReLU/residual), run by each SIMD kernel set this build and CPU have
 * (NEON on aarch64; AVX-512 and AVX2 on x86-64) through hr_run, against the scalar reference.
 * Widths are the network's (so the row splits into register tiles are the real ones, partial
 * tiles included), with a few rows only, so that it runs in seconds under qemu-aarch64; a few
 * odd widths are added. Built without OpenMP (the `#pragma omp` of run.c are then ignored and
 * the OpenMP calls are the stubs below).
 *
 * INT8: a few convolution shapes (int8_case) through hr_run with every set this CPU runs, each
 * set's INT8 kernel (hr_int8_kernel: the NEON dot-product kernel, or the reference on an ARM CPU
 * without it; VNNI, AVX2) against the INT8 reference hr_conv_int8_ref_task: the same int32 sums.
 *
 * Usage: neon_test [-v] [-quick] [-int8] [-dotprod yes|no]
 *   -int8: only the INT8 cases; -dotprod: the CPU must (not) report the dot product (aarch64).
 * Prints "N passed, N failed"; exit status 1 on failure.
 */
#include "hrnet_kernels.h"
#include "hrnet_kernels_int8.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef _OPENMP
int omp_get_thread_num(void) { return 0; }
int omp_get_num_procs(void) { return 1; }
int omp_get_num_threads(void) { return 1; }
double omp_get_wtime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
void kmp_set_blocktime(int msec) { (void)msec; }
#endif

static int verbose, passed, failed;

static void result(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(int ok, const char *fmt, ...) {
    if (ok) passed++; else failed++;
    if (!ok || verbose) {
        va_list ap;
        va_start(ap, fmt);
        printf("%s ", ok ? "ok  " : "FAIL");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

/* ---- Random numbers (xorshift64*), uniform in [-1, 1). ---- */
static uint64_t rng_state;
static float rnd(void) {
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    const uint64_t r = rng_state * 0x2545F4914F6CDD1DULL;
    return (float)((double)(r >> 40) / (double)(1 << 23) - 1.0);
}

/* ---- Test cases. ---- */
enum { DIRECT = 0, WINO = 1, SUM = 2 };
typedef struct {
    char what[64];
    int kind; /* DIRECT, WINO (a stride-1 3x3 convolution run as Winograd), SUM */
    int cin, cout, k, s, oh, ow, relu, res, acc, nup, upf[HR_MAX_UP];
} tcase;

static tcase cases[1024];
static int ncases;

static void add(const char *what, int kind, int cin, int cout, int k, int s, int oh, int ow, int relu, int res, int acc,
                int nup, const int *upf) {
    tcase c;
    memset(&c, 0, sizeof c);
    snprintf(c.what, sizeof c.what, "%s", what);
    c.kind = kind; c.cin = cin; c.cout = cout; c.k = k; c.s = s; c.oh = oh; c.ow = ow;
    c.relu = relu; c.res = res; c.acc = acc; c.nup = nup;
    for (int u = 0; u < nup; u++) c.upf[u] = upf[u];
    for (int i = 0; i < ncases; i++) { /* the same shape and epilogue from another network: once */
        tcase d = cases[i];
        memcpy(d.what, c.what, sizeof d.what);
        if (!memcmp(&d, &c, sizeof c)) return;
    }
    if (ncases < (int)(sizeof cases / sizeof cases[0])) cases[ncases++] = c;
}

/* Rows per case: a few (odd for Winograd: a partial tile row), at least the largest upsampling
 * factor so that every upsampled tensor has a row. */
static int rows_for(int kind, int nup, const int *upf, int quick) {
    int r = kind == WINO ? 3 : 2;
    if (quick) r = kind == WINO ? 3 : 1;
    for (int u = 0; u < nup; u++) if (upf[u] > r) r = upf[u];
    return r;
}

static void conv(const char *what, int cin, int cout, int k, int s, int ow, int relu, int res, int acc, int nup,
                 const int *upf, int quick) {
    const int wino = k == 3 && s == 1 && cin * cout <= 128 * 128; /* Model.winogradMaxChannelProduct */
    add(what, DIRECT, cin, cout, k, s, rows_for(DIRECT, nup, upf, quick), ow, relu, res, acc, nup, upf);
    if (wino) add(what, WINO, cin, cout, k, s, rows_for(WINO, nup, upf, quick), ow, relu, res, acc, nup, upf);
}

/* HRNet-W`C` (4 branches of C, 2C, 4C, 8C channels) at input ih x iw, as GraphBuilder builds it. */
static void network_cases(int C, int ih, int iw, int quick) {
    int w[4], ch[4];
    for (int i = 0; i < 4; i++) { w[i] = iw / (4 << i); ch[i] = C << i; }
    (void)ih;
    char t[64];
    const int none[1] = {0};
    /* Stem. */
    conv("stem conv1", 3, 64, 3, 2, iw / 2, 1, 0, 0, 0, none, quick);
    conv("stem conv2", 64, 64, 3, 2, w[0], 1, 0, 0, 0, none, quick);
    /* layer1 bottlenecks (64 -> 64 -> 64 -> 256, 1x1 downsample on the first). */
    conv("layer1 conv1 1x1", 64, 64, 1, 1, w[0], 1, 0, 0, 0, none, quick);
    conv("layer1 conv1 1x1", 256, 64, 1, 1, w[0], 1, 0, 0, 0, none, quick);
    conv("layer1 conv2 3x3", 64, 64, 3, 1, w[0], 1, 0, 0, 0, none, quick);
    conv("layer1 downsample", 64, 256, 1, 1, w[0], 0, 0, 0, 0, none, quick);
    conv("layer1 conv3 +res", 64, 256, 1, 1, w[0], 1, 1, 0, 0, none, quick);
    /* Transitions: 256 -> C (3x3 s1), then 3x3 s2 to each new branch. */
    conv("transition1.0", 256, ch[0], 3, 1, w[0], 1, 0, 0, 0, none, quick);
    conv("transition1.1", 256, ch[1], 3, 2, w[1], 1, 0, 0, 0, none, quick);
    conv("transition2.2", ch[1], ch[2], 3, 2, w[2], 1, 0, 0, 0, none, quick);
    conv("transition3.3", ch[2], ch[3], 3, 2, w[3], 1, 0, 0, 0, none, quick);
    /* Basic blocks of every branch: conv1 (ReLU), conv2 (+ residual, ReLU), and without ReLU. */
    for (int i = 0; i < 4; i++) {
        snprintf(t, sizeof t, "branch%d conv1", i);
        conv(t, ch[i], ch[i], 3, 1, w[i], 1, 0, 0, 0, none, quick);
        snprintf(t, sizeof t, "branch%d conv2 +res", i);
        conv(t, ch[i], ch[i], 3, 1, w[i], 1, 1, 0, 0, none, quick);
        if (!quick) {
            snprintf(t, sizeof t, "branch%d no relu", i);
            conv(t, ch[i], ch[i], 3, 1, w[i], 0, 0, 0, 0, none, quick);
        }
    }
    /* Fusion (stages of 2, 3 and 4 branches). Output i = ReLU(x_i + sum_{j>i} up(conv1x1(x_j))
     * + sum_{j<i} downsample(x_j)). */
    for (int nb = 2; nb <= 4; nb++) {
        for (int i = 0; i < nb; i++) {
            int upf[HR_MAX_UP], nup = 0;
            for (int j = i + 1; j < nb; j++) {
                snprintf(t, sizeof t, "fuse up-projection %d<-%d", i, j);
                conv(t, ch[j], ch[i], 1, 1, w[j], 0, 0, 0, 0, none, quick);
                upf[nup++] = 1 << (j - i);
            }
            if (i == 0) {
                snprintf(t, sizeof t, "fuse sum %d of %d", i, nb);
                add(t, SUM, ch[0], ch[0], 1, 1, rows_for(SUM, nup, upf, quick), w[0], 1, 1, 0, nup, upf);
                continue;
            }
            for (int j = 0; j < i; j++) {
                for (int step = 0; step < i - j - 1; step++) {
                    snprintf(t, sizeof t, "fuse down %d<-%d step %d", i, j, step);
                    conv(t, ch[j], ch[j], 3, 2, w[j + step + 1], 1, 0, 0, 0, none, quick);
                }
                const int first = j == 0, last = j == i - 1;
                snprintf(t, sizeof t, "fuse down %d<-%d%s", i, j, first ? " +res +ups" : " +acc");
                conv(t, ch[j], ch[i], 3, 2, w[i], last, first, !first, first ? nup : 0, upf, quick);
            }
        }
    }
    conv("final layer", ch[0], 17, 1, 1, w[0], 0, 0, 0, 0, none, quick);
}

/* Odd widths and channel counts: partial register tiles and partial channel blocks. */
static void odd_cases(void) {
    const int none[1] = {0}, u2[1] = {2}, u24[2] = {2, 4};
    for (int ow = 1; ow <= 13; ow += 2) {
        conv("odd width", 32, 32, 3, 1, ow, 1, ow % 3 == 0, 0, 0, none, 0);
        conv("odd width s2", 48, 64, 3, 2, ow, 1, 0, ow % 5 == 0, 0, none, 0);
        conv("odd width 1x1", 17, 33, 1, 1, ow, ow % 3 != 0, 0, 0, 0, none, 0);
    }
    conv("odd channels", 3, 20, 3, 1, 11, 1, 1, 0, 0, none, 0);
    conv("odd channels", 40, 24, 3, 1, 10, 0, 0, 1, 0, none, 0);
    conv("odd channels ups", 24, 40, 3, 1, 8, 1, 1, 1, 1, u2, 0);
    conv("odd channels ups", 36, 32, 3, 2, 12, 1, 0, 0, 2, u24, 0);
}

/* ---- Running one case. ---- */
static int64_t tsize(const hr_tensor *t) { return (int64_t)t->cb * (t->h + 2) * (t->w + 2) * 16; }

/* The next tensor of the arena, at *off. */
static hr_tensor tensor(int64_t *off, int cb, int h, int w) {
    const hr_tensor t = {*off, cb, h, w};
    *off += tsize(&t);
    return t;
}

static void fill(float *a, const hr_tensor *t, int channels) {
    for (int cb = 0; cb < t->cb; cb++)
        for (int y = 0; y < t->h; y++)
            for (int x = 0; x < t->w; x++) {
                float *p = a + t->off + (((int64_t)cb * (t->h + 2) + y + 1) * (t->w + 2) + x + 1) * 16;
                for (int l = 0; l < 16; l++) p[l] = cb * 16 + l < channels ? rnd() : 0.0f;
            }
}

typedef struct { int set, b, t; } tile;

/* The register tiles to try for a set: what hr_choose_tile_set picks for 1..64 threads and,
 * for NEON, every B of its table (conv_neon.c: T <= 6, 3, 2, 1 for B = 1..4) at its largest T
 * and one tile outside the table (another set's plan), which hr_conv_rows_neon splits. */
static int tiles_for(int set, int ocb, int w, int h, tile *out) {
    int n = 0;
    const int threads[] = {1, 2, 8, 64};
    for (int i = 0; i < 4; i++) {
        int32_t b, t;
        hr_choose_tile_set(set, ocb, w, h, threads[i], &b, &t);
        out[n++] = (tile){set, b, t};
    }
    if (set == HR_KERNELS_NEON) {
        static const int tmax[5] = {0, 6, 3, 2, 1};
        for (int b = 1; b <= 4; b++)
            if (ocb % b == 0) out[n++] = (tile){set, b, w < tmax[b] ? w : tmax[b]};
        const int fb = ocb % 4 == 0 ? 4 : ocb % 2 == 0 ? 2 : 1;
        out[n++] = (tile){set, fb, w < 14 ? w : 14};
    }
    /* Without duplicates. */
    int m = 0;
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < m; j++) dup |= out[j].b == out[i].b && out[j].t == out[i].t;
        if (!dup) out[m++] = out[i];
    }
    return m;
}

static const int sets[] = {HR_KERNELS_NEON, HR_KERNELS_AVX512, HR_KERNELS_AVX2};

/* Direct packing [Cout/16][Cin/16][k][k][16 ic][16 oc] of OIHW weights (Model.pack), and the
 * Winograd packing U = G g G^T [16][Cout/16][Cin/16][16 ic][16 oc] (Model.packWinograd). */
static void pack_direct(const double *g, int cin, int cout, int k, float *w) {
    const int icb = (cin + 15) / 16;
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    w[(((((int64_t)(o / 16) * icb + i / 16) * k + ky) * k + kx) * 16 + i % 16) * 16 + o % 16] =
                        (float)g[((o * cin + i) * k + ky) * k + kx];
}

static void pack_wino(const double *gw, int cin, int cout, float *w) {
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    const int icb = (cin + 15) / 16, ocb = (cout + 15) / 16;
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++) {
            const double *g = gw + (o * cin + i) * 9;
            double t[4][3];
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 3; c++) t[r][c] = G[r][0] * g[c] + G[r][1] * g[3 + c] + G[r][2] * g[6 + c];
            for (int r = 0; r < 4; r++)
                for (int q = 0; q < 4; q++) {
                    const double u = t[r][0] * G[q][0] + t[r][1] * G[q][1] + t[r][2] * G[q][2];
                    w[((((int64_t)(r * 4 + q) * ocb + o / 16) * icb + i / 16) * 16 + i % 16) * 16 + o % 16] = (float)u;
                }
        }
}

static void run_case(const tcase *c, int index) {
    rng_state = 0x9E3779B97F4A7C15ULL * (uint64_t)(index + 1);
    const int icb = (c->cin + 15) / 16, ocb = (c->cout + 15) / 16, k = c->k;
    hr_op op;
    memset(&op, 0, sizeof op);
    int64_t off = 0;
    op.kind = c->kind == SUM ? HR_OP_SUM : HR_OP_CONV;
    op.k = k; op.stride = c->s; op.in_c = c->cin;
    op.relu = c->relu; op.accumulate = c->acc;
    if (c->kind != SUM) op.in = tensor(&off, icb, c->oh * c->s, c->ow * c->s);
    op.out = tensor(&off, ocb, c->oh, c->ow);
    op.res = c->res ? tensor(&off, ocb, c->oh, c->ow) : (hr_tensor){-1, 0, 0, 0};
    op.n_up = c->nup;
    for (int u = 0; u < c->nup; u++) { op.up_f[u] = c->upf[u]; op.up[u] = tensor(&off, ocb, c->oh / c->upf[u], c->ow / c->upf[u]); }
    const int64_t tensors = off;
    const int64_t scratch = c->kind == WINO ? (hr_wino_scratch_floats(icb, ocb, c->ow) + 15) & ~(int64_t)15 : 0;
    op.scratch = op.scratch_team = tensors;
    op.scratch_stride = scratch;
    const int64_t total = tensors + scratch;
    float *init = calloc(total, sizeof(float)), *ref = malloc(total * sizeof(float)), *out = malloc(total * sizeof(float));
    if (c->kind != SUM) fill(init, &op.in, c->cin);
    fill(init, &op.out, 16 * ocb);
    if (c->res) fill(init, &op.res, 16 * ocb);
    for (int u = 0; u < c->nup; u++) fill(init, &op.up[u], 16 * ocb);

    const int64_t nw = (int64_t)c->cout * c->cin * k * k;
    double *g = malloc((nw ? nw : 1) * sizeof(double));
    const float scale_w = 1.0f / sqrtf((float)(c->cin * k * k));
    for (int64_t i = 0; i < nw; i++) g[i] = rnd() * scale_w;
    float *direct = calloc((size_t)ocb * icb * k * k * 256 + 1, sizeof(float));
    float *wino = c->kind == WINO ? calloc((size_t)ocb * icb * 16 * 256, sizeof(float)) : 0;
    float *bias = calloc((size_t)ocb * 16, sizeof(float));
    for (int o = 0; o < c->cout; o++) bias[o] = rnd();
    if (c->kind != SUM) pack_direct(g, c->cin, c->cout, k, direct);
    if (wino) pack_wino(g, c->cin, c->cout, wino);
    op.weights = direct;
    op.bias = bias;

    /* The oracle: the scalar reference, always as a direct convolution. */
    memcpy(ref, init, total * sizeof(float));
    hr_run(&op, 1, ref, 1, HR_KERNELS_REFERENCE);
    const int64_t o0 = op.out.off, o1 = op.out.off + tsize(&op.out);
    double scale = 1e-3;
    for (int64_t i = o0; i < o1; i++) scale = fmax(scale, fabs(ref[i]));

    char label[256];
    snprintf(label, sizeof label, "%-30s %s %3d->%-3d k%d s%d %dx%-3d relu %d res %d acc %d ups %d", c->what,
             c->kind == WINO ? "wino  " : c->kind == SUM ? "sum   " : "direct", c->cin, c->cout, k, c->s, c->oh, c->ow,
             c->relu, c->res, c->acc, c->nup);

    /* The plain Winograd (winograd.c), against the direct reference: checks the packing above. */
    hr_op wop = op;
    if (wino) {
        wop.kind = HR_OP_WINOGRAD;
        wop.weights = wino;
        memcpy(out, init, total * sizeof(float));
        hr_run(&wop, 1, out, 1, HR_KERNELS_REFERENCE);
        double worst = 0;
        for (int64_t i = o0; i < o1; i++) worst = fmax(worst, fabs(out[i] - ref[i]));
        result(worst / scale < 1e-5, "%s  reference-winograd err %.2e", label, worst / scale);
    }

    for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
        const int set = sets[si];
        if (!hr_kernels_supported(set)) continue;
        tile tl[16];
        const int ntl = c->kind == SUM ? 1 : wino ? tiles_for(set, ocb, (c->ow + 1) / 2, 16, tl) : tiles_for(set, ocb, c->ow, c->oh, tl);
        if (c->kind == SUM) tl[0] = (tile){set, 1, 1};
        for (int ti = 0; ti < ntl; ti++) {
            hr_op sop = wino ? wop : op;
            sop.tile_b = tl[ti].b;
            sop.tile_t = tl[ti].t;
            memcpy(out, init, total * sizeof(float));
            hr_run(&sop, 1, out, 1, set);
            double worst = 0;
            int64_t changed = 0, outside = -1;
            for (int64_t i = 0; i < tensors; i++) {
                if (i >= o0 && i < o1) {
                    const double d = fabs(out[i] - ref[i]);
                    worst = isnan(d) ? INFINITY : fmax(worst, d);
                    changed += out[i] != init[i];
                } else if (memcmp(&out[i], &init[i], sizeof(float)) && outside < 0) {
                    outside = i;
                }
            }
            const int ok = worst / scale < 1e-5 && changed > 0 && outside < 0;
            result(ok, "%s  %s tile %dx%d err %.2e%s%s", label, hr_kernels_name(set), sop.tile_b, sop.tile_t,
                   worst / scale, changed ? "" : " (output not written)", outside >= 0 ? " (wrote outside the output)" : "");
        }
    }
    free(init); free(ref); free(out); free(g); free(direct); free(wino); free(bias);
}

/* ---- INT8. ---- */
static const char *int8_kernel_name(int k) {
    return k == HR_INT8_VNNI ? "vnni" : k == HR_INT8_AVX2 ? "avx2-int8" : k == HR_INT8_AVXVNNI ? "avx-vnni"
         : k == HR_INT8_NEON_DOT ? "neon-dotprod" : "int8-reference";
}

/* An IEEE half's value (finite or not), for comparisons. */
static double half_to_double(uint16_t h) {
    const int e = (h >> 10) & 31, m = h & 1023;
    const double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}

static void int8_case(int index, int cin, int cout, int k, int s, int oh, int ow, int relu, int res, int acc) {
    rng_state = 0xD1B54A32D192ED03ULL * (uint64_t)(index + 1);
    const int icb = (cin + 15) / 16, ocb = (cout + 15) / 16;
    hr_op op;
    memset(&op, 0, sizeof op);
    int64_t off = 0;
    op.kind = HR_OP_CONV; op.k = k; op.stride = s; op.in_c = cin; op.relu = relu; op.accumulate = acc;
    op.in = tensor(&off, icb, oh * s, ow * s);
    op.out = tensor(&off, ocb, oh, ow);
    op.res = res && res != 4 ? tensor(&off, ocb, oh, ow) : (hr_tensor){-1, 0, 0, 0};
    op.res_f16_mode = res == 2 ? 2 : 0;   /* res 2: the residual rounded to IEEE half first */
    const int64_t tensors = off, copy_floats = ((int64_t)hr_int8_tensor_bytes(&op.in) + 3) / 4;
    op.int8_copy = tensors;
    /* res 3: a fused op of an INT8 plan: the residual is read from its half copy, and the
     * epilogue also writes the output's uint8 and half copies (compared byte for byte). */
    int64_t total = tensors + copy_floats, u8_off = 0, u8_floats = 0, f16_off = 0, f16_floats = 0, rf16_off = 0;
    if (res == 3) {
        u8_floats = ((int64_t)hr_int8_tensor_bytes(&op.out) + 3) / 4;
        f16_floats = tsize(&op.out) / 2;
        u8_off = total; f16_off = u8_off + u8_floats; rf16_off = f16_off + f16_floats;
        total = rf16_off + f16_floats;
        op.out_u8 = u8_off; op.out_u8_inv = 40.0f; op.out_f16_on = 1; op.out_f16 = f16_off;
        op.res_f16_mode = 1; op.res_f16 = rf16_off;
    }
    /* res 4: an op whose output is only ever a residual (the first bottleneck's downsample in an
     * INT8 plan): the epilogue stores the half copy alone, no uint8 codes, no FP32. */
    if (res == 4) {
        f16_floats = tsize(&op.out) / 2;
        f16_off = total;
        total = f16_off + f16_floats;
        op.out_f16_on = 1; op.out_f16 = f16_off; op.out_skip_fp32 = 1;
    }
    float *init = calloc(total, sizeof(float)), *ref = malloc(total * sizeof(float)), *out = malloc(total * sizeof(float));
    fill(init, &op.in, cin);
    for (int64_t i = op.in.off; i < op.in.off + tsize(&op.in); i++) init[i] = init[i] > 0 ? 2 * init[i] : 0; /* ReLU output */
    fill(init, &op.out, 16 * ocb);
    if (op.res.off >= 0) fill(init, &op.res, 16 * ocb);
    if (res == 3) {   /* finite halves below 2 in magnitude, some negative */
        uint16_t *h = (uint16_t *)(init + rf16_off);
        for (int64_t i = 0; i < 2 * f16_floats; i++) h[i] = (uint16_t)((rnd() < 0 ? 0x8000u : 0) | ((uint32_t)((rnd() + 1) * 7000) & 0x3BFFu));
    }
    const size_t nw = (size_t)ocb * icb * k * k * 256;
    float *w = calloc(nw, sizeof(float)), *bias = calloc(ocb * 16, sizeof(float)), *inv = calloc(ocb * 16, sizeof(float)),
          *scale = calloc(ocb * 16, sizeof(float));
    for (size_t i = 0; i < nw; i++) w[i] = rnd();
    for (int o = 0; o < ocb * 16; o++) { bias[o] = rnd(); inv[o] = 127.0f; scale[o] = 2.0f / 255 / 127; }
    int8_t *wq = malloc(nw);
    int16_t *wide = malloc(hr_int8_avx2_weights_count(cin, cout, k) * sizeof(int16_t));
    int32_t *sums = malloc(ocb * 16 * sizeof(int32_t));
    hr_pack_weights_int8(w, cin, cout, k, inv, wq);
    hr_pack_weights_int8_avx2(wq, cin, cout, k, wide);
    hr_int8_weight_sums(wq, cin, cout, k, sums);
    op.weights = w; op.bias = bias; op.weights_int8 = wq; op.int8_scale = scale; op.int8_inv = 255.0f / 2.0f;

    /* The oracle: the quantized copy, then the INT8 reference per block and row. */
    memcpy(ref, init, total * sizeof(float));
    uint8_t *u8 = (uint8_t *)(ref + op.int8_copy);
    for (int cb = 0; cb < icb; cb++) hr_to_u8_rows(ref, &op.in, cin, op.int8_inv, u8, cb, 0, op.in.h + 2);
    for (int ob = 0; ob < ocb; ob++)
        for (int oy = 0; oy < oh; oy++) hr_conv_int8_ref_task(&op, ref, u8, ob, oy);

    const int64_t o0 = op.out.off, o1 = op.out.off + tsize(&op.out);
    for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
        const int set = sets[si];
        if (!hr_kernels_supported(set)) continue;
        const int kern = hr_int8_kernel(set);
        hr_op sop = op;
        sop.weights_int8_avx2 = kern == HR_INT8_AVX2 ? wide : 0; /* what a plan for the set makes */
        sop.int8_wsum = kern == HR_INT8_NEON_DOT ? sums : 0;
        int32_t tb[2], tt[2];
        hr_choose_tile_int8_set(set, k, ocb, ow, oh, 1, &tb[0], &tt[0]);
        tb[1] = ocb % 2 == 0 ? 2 : 1; tt[1] = ow < 13 ? ow : 13; /* outside the AVX2 / NEON tables */
        for (int ti = 0; ti < (kern == HR_INT8_VNNI ? 1 : 2); ti++) {
            sop.tile_b = tb[ti]; sop.tile_t = tt[ti];
            memcpy(out, init, total * sizeof(float));
            hr_run(&sop, 1, out, 1, set);
            double worst = 0;
            int64_t changed = 0;
            for (int64_t i = o0; i < o1; i++) {
                const double d = fabs(out[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
                worst = isnan(d) ? INFINITY : fmax(worst, d);
                changed += out[i] != init[i];
            }
            const int copies_equal = res < 3 || (memcmp(out + u8_off, ref + u8_off, (size_t)u8_floats * 4) == 0 &&
                                                  memcmp(out + f16_off, ref + f16_off, (size_t)f16_floats * 4) == 0);
            int halves = 0;   /* res 4: the half copy written (and compared above), FP32 untouched */
            for (int64_t i = 0; i < 2 * f16_floats; i++) halves += ((const uint16_t *)(out + f16_off))[i] != 0;
            const int stores_ok = res == 4 ? changed == 0 && halves > 0 : changed > 0;
            result(worst < 1e-6 && stores_ok && copies_equal, "int8 %3d->%-3d k%d s%d %dx%-3d relu %d res %d acc %d  %s (%s) tile %dx%d err %.2e",
                   cin, cout, k, s, oh, ow, relu, res, acc, hr_kernels_name(set), int8_kernel_name(kern), sop.tile_b, sop.tile_t, worst);
        }
    }
    if (res >= 3) {
        /* The same op in FP32 (the first layer of an INT8 plan writes the copies from an FP32
         * kernel): each SIMD set's FP32 kernel against the scalar reference. Sums in another
         * order: outputs within 1e-5, uint8 codes within 1, halves within 1e-3 relative. */
        hr_op fop = op;
        fop.weights_int8 = 0;
        hr_choose_tile(ocb, ow, oh, 1, &fop.tile_b, &fop.tile_t);
        memcpy(ref, init, total * sizeof(float));
        hr_run(&fop, 1, ref, 1, HR_KERNELS_REFERENCE);
        for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
            const int set = sets[si];
            if (!hr_kernels_supported(set)) continue;
            hr_op sop = fop;
            hr_choose_tile_set(set, ocb, ow, oh, 1, &sop.tile_b, &sop.tile_t);
            memcpy(out, init, total * sizeof(float));
            hr_run(&sop, 1, out, 1, set);
            double worst = 0, worst_h = 0;
            int worst_u8 = 0;
            for (int64_t i = o0; i < o1; i++) worst = fmax(worst, fabs(out[i] - ref[i]) / fmax(1.0, fabs(ref[i])));
            const uint8_t *ua = (const uint8_t *)(out + u8_off), *ub = (const uint8_t *)(ref + u8_off);
            for (int64_t i = 0; i < 4 * u8_floats; i++) worst_u8 = abs(ua[i] - ub[i]) > worst_u8 ? abs(ua[i] - ub[i]) : worst_u8;
            const uint16_t *ha = (const uint16_t *)(out + f16_off), *hb = (const uint16_t *)(ref + f16_off);
            for (int64_t i = 0; i < 2 * f16_floats; i++) {
                const double a = half_to_double(ha[i]), b = half_to_double(hb[i]);
                worst_h = fmax(worst_h, fabs(a - b) / fmax(1.0, fabs(b)));
            }
            int changed = 0;
            for (int64_t i = o0; i < o1; i++) changed += out[i] != init[i];
            result(worst < 1e-5 && worst_u8 <= 1 && worst_h < 1e-3 && (res == 4) == (changed == 0), "fp32 op with int8 copies %3d->%-3d k%d s%d %dx%-3d  %s err %.2e u8 %d half %.2e",
                   cin, cout, k, s, oh, ow, hr_kernels_name(set), worst, worst_u8, worst_h);
        }
    }
    free(init); free(ref); free(out); free(w); free(bias); free(inv); free(scale); free(wq); free(wide); free(sums);
}

/* The uint8 codes an epilogue writes (out_u8_inv > 0), on values at the edges: 0 and -0,
 * negatives, halfway points of the rounding, 255 and past it, 2^31 and more, infinities, NaN.
 * A sum op (residual + nothing, with and without ReLU) run by each set against the scalar
 * reference (hr_quantize_u8): the codes byte for byte. The AVX-512 epilogue after ReLU converts
 * and saturates without clamping first; this checks that it writes the same codes. */
static void u8_edge_case(int relu) {
    static const float edge[] = {0.0f, -0.0f, -1.0f, -3e38f, 0.2f, 0.25f, 0.75f, 1.25f, 63.5f, 63.75f, 64.0f,
                                 127.5f, 127.25f, 127.75f, 128.0f, 1e9f, 2.1e9f, 3e9f, 3e38f, INFINITY, -INFINITY, NAN};
    const int n_edge = (int)(sizeof edge / sizeof edge[0]);
    const float inv = 2.0f;   /* v x 2: 127.5 -> 255 exactly, 127.75 -> 255.5 (saturates), 0.25 -> 0.5 (even: 0) */
    int64_t off = 0;
    hr_op op;
    memset(&op, 0, sizeof op);
    op.kind = HR_OP_SUM; op.relu = relu;
    op.out = tensor(&off, 2, 2, 19);
    op.res = tensor(&off, 2, 2, 19);
    const int64_t u8_floats = ((int64_t)hr_int8_tensor_bytes(&op.out) + 3) / 4;
    op.out_u8 = off; op.out_u8_inv = inv;
    const int64_t total = off + u8_floats;
    float *init = calloc(total, sizeof(float)), *ref = malloc(total * sizeof(float)), *out = malloc(total * sizeof(float));
    int i = 0;
    for (int cb = 0; cb < 2; cb++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 19; x++)
                for (int l = 0; l < 16; l++, i++)
                    init[op.res.off + (((int64_t)cb * 4 + y + 1) * 21 + x + 1) * 16 + l] = edge[i % n_edge] * (i / n_edge % 2 ? 1.0f : 0.5f);
    memcpy(ref, init, total * sizeof(float));
    hr_run(&op, 1, ref, 1, HR_KERNELS_REFERENCE);
    for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
        const int set = sets[si];
        if (!hr_kernels_supported(set)) continue;
        memcpy(out, init, total * sizeof(float));
        hr_run(&op, 1, out, 1, set);
        const uint8_t *a = (const uint8_t *)(out + op.out_u8), *b = (const uint8_t *)(ref + op.out_u8);
        int64_t bad = -1, saturated = 0;
        for (int64_t j = 0; j < 4 * u8_floats; j++) {
            if (a[j] != b[j] && bad < 0) bad = j;
            saturated += b[j] == 255;
        }
        result(bad < 0 && saturated > 0, "uint8 codes of edge values, relu %d  %s%s", relu, hr_kernels_name(set),
               bad < 0 ? "" : " (a byte differs)");
    }
    free(init); free(ref); free(out);
}

static void int8_cases(int quick) {
    u8_edge_case(1);
    u8_edge_case(0);
    int n = 0;
    int8_case(n++, 64, 64, 3, 1, 2, 48, 1, 0, 0);   /* W32-like branch conv at 256x192 */
    int8_case(n++, 32, 32, 3, 1, 2, 13, 1, 1, 0);
    int8_case(n++, 32, 48, 3, 1, 2, 13, 1, 2, 0);   /* residual rounded to half (INT8 plans) */
    int8_case(n++, 32, 48, 3, 1, 2, 13, 1, 3, 0);   /* half residual copy in, uint8 + half copies out */
    int8_case(n++, 64, 32, 1, 1, 1, 21, 0, 3, 1);   /* the same without ReLU, accumulating */
    int8_case(n++, 64, 48, 1, 1, 1, 21, 0, 4, 0);   /* the half copy alone, no FP32 store */
    int8_case(n++, 256, 64, 1, 1, 1, 48, 1, 0, 0);
    int8_case(n++, 64, 128, 3, 2, 1, 24, 1, 0, 1);
    int8_case(n++, 17, 48, 3, 1, 2, 7, 0, 1, 1);    /* a partial input block and quad */
    int8_case(n++, 8, 16, 1, 1, 1, 5, 1, 0, 0);
    if (quick) return;
    for (int ow = 1; ow <= 9; ow += 2) int8_case(n++, 48, 80, 3, ow % 3 == 0 ? 2 : 1, 2, ow, ow % 2, ow % 3 == 0, 0);
    int8_case(n++, 128, 256, 3, 2, 1, 6, 1, 0, 1);
}

int main(int argc, char **argv) {
    int quick = 0, only_int8 = 0, want_dot = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) verbose = 1;
        else if (!strcmp(argv[i], "-quick")) quick = 1;
        else if (!strcmp(argv[i], "-int8")) only_int8 = 1;
        else if (!strcmp(argv[i], "-dotprod") && i + 1 < argc) want_dot = !strcmp(argv[++i], "yes");
        else { fprintf(stderr, "usage: %s [-v] [-quick] [-int8] [-dotprod yes|no]\n", argv[0]); return 2; }
    }
    const double t0 = omp_get_wtime();
    printf("cpu: %s; kernel sets tested:", hr_cpu_features());
    int any = 0;
    for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++)
        if (hr_kernels_supported(sets[si])) { printf(" %s", hr_kernels_name(sets[si])); any = 1; }
    printf("%s\n", any ? "" : " none (reference only)");
#if defined(__aarch64__)
    /* On aarch64 the NEON set must be there: otherwise hr_run would quietly run the reference. */
    result(hr_kernels_supported(HR_KERNELS_NEON) && hr_kernels_best() == HR_KERNELS_NEON,
           "aarch64: NEON kernels built and detected (getauxval(AT_HWCAP) & HWCAP_ASIMD)");
#endif
    if (want_dot >= 0)
        result(hr_cpu_has_neon_dotprod() == want_dot, "dot product %s (hr_cpu_has_neon_dotprod() = %d); INT8 on neon runs %s",
               want_dot ? "reported" : "not reported", hr_cpu_has_neon_dotprod(), int8_kernel_name(hr_int8_kernel(HR_KERNELS_NEON)));
    if (!only_int8) {
        network_cases(32, 256, 192, quick);
        network_cases(32, 384, 288, quick);
        network_cases(48, 256, 192, quick);
        network_cases(48, 384, 288, quick);
        if (!quick) odd_cases();
    }
    for (int i = 0; i < ncases; i++) run_case(&cases[i], i);
    int8_cases(quick);
    printf("%d cases in %.1f s\n", ncases, omp_get_wtime() - t0);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
