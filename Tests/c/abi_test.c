/*
 * abi_test.c - tests libhrnet through its C interface (include/hrnet.h) only.
 *
 *   abi_test [REPO_ROOT] [--no-fork] [--case NAME] [--list] [-v]
 *
 * REPO_ROOT (default ".") is the repository root; fixtures are read from
 * REPO_ROOT/Tests/fixtures and REPO_ROOT/models. Each test case runs in its own child process
 * (fork + exec of this program), so a crash or a hang (300 s) of the library is reported as a
 * failure of that case and the remaining cases still run. --no-fork runs every case in this
 * process (for a debugger); --case NAME runs one case. The last line printed is exactly
 * "N passed, M failed"; the exit status is 0 only if M is 0.
 *
 * Temporary files are created under /tmp with mkstemp/mkdtemp and removed afterwards.
 */
#define _POSIX_C_SOURCE 200809L

#include "hrnet.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOL 1e-4          /* max abs error against the float64 reference */
#define THREAD_TOL 1e-5   /* num_threads 1 vs 2 */
#define CASE_TIMEOUT 300  /* seconds */

/* Learned parameters of the fixtures (sum of the element counts of every state-dict tensor
 * except BatchNorm running_mean / running_var / num_batches_tracked), computed from the
 * checkpoints' pickles. */
#define COCO_W8_PARAMETERS 2139305LL
#define MPII_W16_B2_PARAMETERS 1835312LL

/* ---------------------------------------------------------------------------------------- */
/* Reporting                                                                                 */

static int g_passed, g_failed, g_verbose;
static int g_report_fd = -1;         /* child: one byte per check, 'P' or 'F' */
static const char *g_case = "";
static const char *g_root = ".";

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int check_at(int ok, const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ok) {
        g_passed++;
        if (g_verbose) printf("  ok    [%s] %s\n", g_case, msg);
    } else {
        g_failed++;
        printf("  FAIL  [%s] %s  (%s:%d)\n", g_case, msg, file, line);
    }
    fflush(stdout);
    if (g_report_fd >= 0) {
        char c = ok ? 'P' : 'F';
        ssize_t w = write(g_report_fd, &c, 1);
        (void)w;
    }
    return ok;
}
#define CHECK(cond, ...) check_at((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

static const char *status_name(hrnet_status s) { return hrnet_status_string(s); }

/* The status is `want` and, for a failure, the relevant last-error message is non-empty. */
#define EXPECT_STATUS(got, want, session, ...) \
    expect_status_at(__FILE__, __LINE__, (got), (want), (want), (session), __VA_ARGS__)
/* The status is either of two failures. */
#define EXPECT_STATUS2(got, want1, want2, session, ...) \
    expect_status_at(__FILE__, __LINE__, (got), (want1), (want2), (session), __VA_ARGS__)

#if defined(__GNUC__)
__attribute__((format(printf, 7, 8)))
#endif
static int expect_status_at(const char *file, int line, hrnet_status got, hrnet_status want1,
                            hrnet_status want2, const hrnet_session *session,
                            const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *msg = (got != HRNET_OK) ? hrnet_last_error(session) : "";
    if (msg == NULL) msg = "(NULL)";
    int ok;
    if (want1 == want2)
        ok = check_at(got == want1, file, line, "%s: %s (expected %s)%s%s", what,
                      status_name(got), status_name(want1), *msg ? " - " : "", msg);
    else
        ok = check_at(got == want1 || got == want2, file, line, "%s: %s (expected %s or %s)%s%s",
                      what, status_name(got), status_name(want1), status_name(want2),
                      *msg ? " - " : "", msg);
    if (want1 != HRNET_OK && got != HRNET_OK) {
        const char *m = hrnet_last_error(session);
        ok &= check_at(m != NULL && m[0] != '\0', file, line,
                       "%s: hrnet_last_error(%s) gives a message", what,
                       session ? "session" : "NULL");
    }
    return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* Files                                                                                     */

static char *path_in(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", g_root, rel);
    return buf;
}
#define FIXTURE(buf, name) path_in(buf, sizeof buf, "Tests/fixtures/" name)

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : (1u << 20);
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); return NULL; }
    *size = n;
    return buf;
}

#define MAX_TEMPS 64
static char g_temps[MAX_TEMPS][64];
static int g_ntemps;

/* Writes `data` to a new file /tmp/hrnet_abi_XXXXXX; returns its path (removed at exit). */
static const char *write_temp(const void *data, size_t n)
{
    if (g_ntemps == MAX_TEMPS) return NULL;
    char *path = g_temps[g_ntemps];
    strcpy(path, "/tmp/hrnet_abi_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    g_ntemps++;
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return NULL;
        }
        p += w;
        n -= (size_t)w;
    }
    if (close(fd) != 0) return NULL;
    return path;
}

static void remove_temps(void)
{
    for (int i = 0; i < g_ntemps; i++) {
        if (rmdir(g_temps[i]) != 0) unlink(g_temps[i]);
    }
    g_ntemps = 0;
}

static const char *make_temp_dir(void)
{
    if (g_ntemps == MAX_TEMPS) return NULL;
    char *path = g_temps[g_ntemps];
    strcpy(path, "/tmp/hrnet_abi_dir_XXXXXX");
    if (!mkdtemp(path)) return NULL;
    g_ntemps++;
    return path;
}

/* ---------------------------------------------------------------------------------------- */
/* A minimal .npy reader: version 1-3, little-endian '<f4', '<f8' or '|u1', C order.        */

typedef struct {
    int ndim;
    size_t shape[8];
    size_t count;
    double *data; /* every element converted to double (exact for f4, f8, u1) */
} npy_array;

static void npy_free(npy_array *a)
{
    free(a->data);
    a->data = NULL;
}

static int npy_load(const char *path, npy_array *a, char *err, size_t errcap)
{
    memset(a, 0, sizeof *a);
    size_t size = 0;
    unsigned char *buf = read_all(path, &size);
    if (!buf) { snprintf(err, errcap, "cannot read %s", path); return 0; }
    int ok = 0;
    if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        snprintf(err, errcap, "%s: not a .npy file", path);
        goto done;
    }
    unsigned major = buf[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) { snprintf(err, errcap, "%s: truncated header", path); goto done; }
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) |
               ((size_t)buf[11] << 24);
        hstart = 12;
    } else {
        snprintf(err, errcap, "%s: unsupported .npy version %u", path, major);
        goto done;
    }
    if (hstart + hlen > size || hlen > 65535) {
        snprintf(err, errcap, "%s: truncated header", path);
        goto done;
    }
    char header[65536];
    memcpy(header, buf + hstart, hlen);
    header[hlen] = '\0';

    const char *d = strstr(header, "'descr':");
    const char *fo = strstr(header, "'fortran_order':");
    const char *sh = strstr(header, "'shape':");
    if (!d || !fo || !sh) { snprintf(err, errcap, "%s: bad header '%.200s'", path, header); goto done; }
    d = strchr(d + 8, '\'');
    if (!d) { snprintf(err, errcap, "%s: bad descr", path); goto done; }
    d++;
    size_t esize;
    int kind; /* 0 f4, 1 f8, 2 u1 */
    if (strncmp(d, "<f4'", 4) == 0) { kind = 0; esize = 4; }
    else if (strncmp(d, "<f8'", 4) == 0) { kind = 1; esize = 8; }
    else if (strncmp(d, "|u1'", 4) == 0) { kind = 2; esize = 1; }
    else { snprintf(err, errcap, "%s: unsupported dtype in '%.200s'", path, header); goto done; }
    fo += 16;
    while (*fo == ' ') fo++;
    if (strncmp(fo, "False", 5) != 0) {
        snprintf(err, errcap, "%s: Fortran order is not supported", path);
        goto done;
    }
    sh = strchr(sh, '(');
    if (!sh) { snprintf(err, errcap, "%s: bad shape", path); goto done; }
    sh++;
    a->count = 1;
    for (;;) {
        while (*sh == ' ' || *sh == ',') sh++;
        if (*sh == ')') break;
        char *end;
        unsigned long long v = strtoull(sh, &end, 10);
        if (end == sh || a->ndim == 8) {
            snprintf(err, errcap, "%s: bad shape in '%.200s'", path, header);
            goto done;
        }
        a->shape[a->ndim++] = (size_t)v;
        a->count *= (size_t)v;
        sh = end;
    }
    size_t off = hstart + hlen;
    if (size - off < a->count * esize) {
        snprintf(err, errcap, "%s: data truncated (%zu bytes for %zu elements)", path, size - off,
                 a->count);
        goto done;
    }
    a->data = malloc((a->count ? a->count : 1) * sizeof(double));
    if (!a->data) { snprintf(err, errcap, "out of memory"); goto done; }
    const unsigned char *p = buf + off;
    for (size_t i = 0; i < a->count; i++) {
        if (kind == 0) {
            float f;
            memcpy(&f, p + 4 * i, 4);
            a->data[i] = f;
        } else if (kind == 1) {
            memcpy(&a->data[i], p + 8 * i, 8);
        } else {
            a->data[i] = p[i];
        }
    }
    ok = 1;
done:
    free(buf);
    return ok;
}

/* Loads an .npy and checks its shape; reports a failed check if anything is wrong. */
static int load_fixture(npy_array *a, const char *name, int ndim, const size_t *shape)
{
    char path[4096], err[512];
    path_in(path, sizeof path, "Tests/fixtures/");
    strncat(path, name, sizeof path - strlen(path) - 1);
    if (!npy_load(path, a, err, sizeof err)) {
        CHECK(0, "load %s: %s", name, err);
        return 0;
    }
    int same = a->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = a->shape[i] == shape[i];
    if (!CHECK(same, "%s has the expected shape", name)) {
        npy_free(a);
        return 0;
    }
    return 1;
}

static float *to_float(const double *d, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof(float));
    if (f)
        for (size_t i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}

static double max_abs_err(const float *y, const double *truth, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)y[i] - truth[i]);
        if (!(e <= m)) m = e; /* NaN propagates as NaN */
        if (isnan(e)) return INFINITY;
    }
    return m;
}

static double max_abs_diff_f(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (isnan(e)) return INFINITY;
        if (e > m) m = e;
    }
    return m;
}

static int all_finite(const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i])) return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Session helpers                                                                           */

static hrnet_status open_with(const char *path, int h, int w, int threads, hrnet_session **s)
{
    hrnet_options o;
    hrnet_options_init(&o);
    o.input_height = h;
    o.input_width = w;
    o.num_threads = threads;
    *s = NULL;
    return hrnet_session_open(path, &o, s);
}

static int get_info(hrnet_session *s, hrnet_info *info)
{
    memset(info, 0, sizeof *info);
    /* The caller sets struct_size (the library writes no more than that). */
    info->struct_size = sizeof *info;
    hrnet_status st = hrnet_session_info(s, info);
    return EXPECT_STATUS(st, HRNET_OK, s, "hrnet_session_info");
}

static size_t input_len(const hrnet_info *i, size_t batch)
{
    return batch * 3u * (size_t)i->input_height * (size_t)i->input_width;
}

static size_t heatmap_len(const hrnet_info *i, size_t batch)
{
    return batch * (size_t)i->joints * (size_t)i->heatmap_height * (size_t)i->heatmap_width;
}

/* forward into a NaN-prefilled buffer; on success checks it was fully written. */
static hrnet_status forward_checked(hrnet_session *s, const hrnet_info *i, const float *x,
                                    size_t batch, float *y)
{
    size_t n = heatmap_len(i, batch);
    for (size_t k = 0; k < n; k++) y[k] = NAN;
    hrnet_status st = hrnet_forward(s, x, batch, input_len(i, batch), y, n);
    if (st == HRNET_OK) CHECK(all_finite(y, n), "forward wrote every heatmap value (finite)");
    return st;
}

static void expect_info(const hrnet_info *i, const char *what, int joints, int width, int h, int w)
{
    CHECK(i->struct_size == sizeof(hrnet_info), "%s: info.struct_size %zu == sizeof %zu", what,
          i->struct_size, sizeof(hrnet_info));
    CHECK(i->joints == joints, "%s: joints %d == %d", what, i->joints, joints);
    CHECK(i->width == width, "%s: width %d == %d", what, i->width, width);
    CHECK(i->input_height == h && i->input_width == w, "%s: input %dx%d == %dx%d", what,
          i->input_height, i->input_width, h, w);
    CHECK(i->heatmap_height == h / 4 && i->heatmap_width == w / 4,
          "%s: heatmap %dx%d == %dx%d", what, i->heatmap_height, i->heatmap_width, h / 4, w / 4);
    CHECK(i->branches == 4, "%s: branches %d == 4", what, i->branches);
    CHECK(i->stages == 4, "%s: stages %d == 4", what, i->stages);
    CHECK(i->precision == HRNET_PRECISION_FP32, "%s: precision %d == FP32", what, i->precision);
    CHECK(i->num_threads >= 1, "%s: num_threads %d >= 1", what, i->num_threads);
    CHECK(i->gmacs_per_crop > 0 && isfinite(i->gmacs_per_crop), "%s: gmacs_per_crop %g > 0",
          what, i->gmacs_per_crop);
}

/* Runs `input` (N crops) through checkpoint `ckpt` as a batch and crop by crop, comparing with
 * `truth`. If `out` is not NULL the batch result is copied there. */
static void check_equivalence(const char *ckpt_name, const npy_array *input,
                              const npy_array *truth, int joints, int width, int threads,
                              float *out)
{
    char path[4096];
    path_in(path, sizeof path, "Tests/fixtures/");
    strncat(path, ckpt_name, sizeof path - strlen(path) - 1);
    hrnet_session *s = NULL;
    hrnet_options o;
    hrnet_options_init(&o);
    o.num_threads = threads;
    hrnet_status st = hrnet_session_open(path, threads ? &o : NULL, &s);
    if (!EXPECT_STATUS(st, HRNET_OK, NULL, "open %s", ckpt_name)) return;
    hrnet_info i;
    if (get_info(s, &i)) {
        int h = (int)input->shape[2], w = (int)input->shape[3];
        expect_info(&i, ckpt_name, joints, width, h, w);
        if (threads) CHECK(i.num_threads == threads, "%s: num_threads %d", ckpt_name, i.num_threads);
        size_t n = input->shape[0];
        size_t per_in = input_len(&i, 1), per_out = heatmap_len(&i, 1);
        if (input->count == n * per_in && truth->count == n * per_out) {
            float *x = to_float(input->data, input->count);
            float *y = malloc(n * per_out * sizeof(float));
            st = forward_checked(s, &i, x, n, y);
            if (EXPECT_STATUS(st, HRNET_OK, s, "%s: forward batch %zu", ckpt_name, n)) {
                double e = max_abs_err(y, truth->data, n * per_out);
                CHECK(e <= TOL, "%s: batch %zu max abs error %.3g <= %.0e", ckpt_name, n, e, TOL);
                if (out) memcpy(out, y, n * per_out * sizeof(float));
            }
            for (size_t b = 0; b < n; b++) {
                st = forward_checked(s, &i, x + b * per_in, 1, y);
                if (EXPECT_STATUS(st, HRNET_OK, s, "%s: forward crop %zu alone", ckpt_name, b)) {
                    double e = max_abs_err(y, truth->data + b * per_out, per_out);
                    CHECK(e <= TOL, "%s: crop %zu alone max abs error %.3g <= %.0e", ckpt_name, b,
                          e, TOL);
                }
            }
            free(x);
            free(y);
        } else {
            CHECK(0, "%s: fixture sizes do not match the session (input %zu, truth %zu)",
                  ckpt_name, input->count, truth->count);
        }
        CHECK(hrnet_last_error(s) != NULL && hrnet_last_error(s)[0] == '\0',
              "%s: hrnet_last_error(session) is \"\" when nothing failed", ckpt_name);
    }
    hrnet_session_close(s);
}

/* ---------------------------------------------------------------------------------------- */
/* Cases                                                                                     */

static void case_version(void)
{
    const char *v = hrnet_version();
    CHECK(v != NULL && strcmp(v, HRNET_VERSION_STRING) == 0, "hrnet_version() \"%s\" == \"%s\"",
          v ? v : "(NULL)", HRNET_VERSION_STRING);
    CHECK(hrnet_version_number() == (uint32_t)HRNET_VERSION_NUMBER,
          "hrnet_version_number() 0x%06x == HRNET_VERSION_NUMBER 0x%06x",
          (unsigned)hrnet_version_number(), (unsigned)HRNET_VERSION_NUMBER);
    CHECK(HRNET_VERSION_NUMBER == ((HRNET_VERSION_MAJOR << 16) | (HRNET_VERSION_MINOR << 8) |
                                   HRNET_VERSION_PATCH), "HRNET_VERSION_NUMBER encodes M.m.p");
    char expect[64];
    snprintf(expect, sizeof expect, "%d.%d.%d", HRNET_VERSION_MAJOR, HRNET_VERSION_MINOR,
             HRNET_VERSION_PATCH);
    CHECK(strcmp(expect, HRNET_VERSION_STRING) == 0, "HRNET_VERSION_STRING == \"%s\"", expect);
    CHECK(v != NULL && v == hrnet_version(), "hrnet_version() is static storage");
}

static void case_status_strings(void)
{
    static const struct { hrnet_status s; const char *name; } names[] = {
        {HRNET_OK, "HRNET_OK"},
        {HRNET_ERR_INVALID_ARGUMENT, "HRNET_ERR_INVALID_ARGUMENT"},
        {HRNET_ERR_IO, "HRNET_ERR_IO"},
        {HRNET_ERR_FORMAT, "HRNET_ERR_FORMAT"},
        {HRNET_ERR_MODEL, "HRNET_ERR_MODEL"},
        {HRNET_ERR_BUFFER_TOO_SMALL, "HRNET_ERR_BUFFER_TOO_SMALL"},
        {HRNET_ERR_OUT_OF_MEMORY, "HRNET_ERR_OUT_OF_MEMORY"},
        {HRNET_ERR_INTERNAL, "HRNET_ERR_INTERNAL"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *got = hrnet_status_string(names[k].s);
        CHECK(got != NULL && strcmp(got, names[k].name) == 0, "hrnet_status_string(%d) \"%s\"",
              (int)names[k].s, got ? got : "(NULL)");
    }
    const char *u = hrnet_status_string((hrnet_status)99);
    CHECK(u != NULL && u[0] != '\0', "hrnet_status_string(99) is a non-empty string");
    u = hrnet_status_string((hrnet_status)-1);
    CHECK(u != NULL && u[0] != '\0', "hrnet_status_string(-1) is a non-empty string");
}

static void case_options(void)
{
    hrnet_options o;
    memset(&o, 0xA5, sizeof o);
    hrnet_options_init(&o);
    CHECK(o.struct_size == sizeof(hrnet_options), "options.struct_size %zu == %zu", o.struct_size,
          sizeof(hrnet_options));
    CHECK(o.input_height == 0 && o.input_width == 0, "default input size 0x0 (%dx%d)",
          o.input_height, o.input_width);
    CHECK(o.num_threads == 0, "default num_threads 0 (%d)", o.num_threads);
    CHECK(o.precision == HRNET_PRECISION_FP32, "default precision FP32 (%d)", o.precision);
    CHECK(hrnet_last_error(NULL) != NULL && hrnet_last_error(NULL)[0] == '\0',
          "hrnet_last_error(NULL) is \"\" in a fresh process");
}

static void case_equivalence_coco(void)
{
    static const size_t in_shape[] = {2, 3, 256, 192}, out_shape[] = {2, 17, 64, 48};
    npy_array x, truth;
    if (!load_fixture(&x, "coco_w8_input.npy", 4, in_shape)) return;
    if (!load_fixture(&truth, "coco_w8_heatmaps_f64.npy", 4, out_shape)) { npy_free(&x); return; }
    static const char *layouts[] = {"coco_w8.pth", "coco_w8_legacy.pth", "coco_w8_mmpose.pth"};
    size_t n = truth.count;
    float *outs[3];
    for (int k = 0; k < 3; k++) {
        outs[k] = malloc(n * sizeof(float));
        for (size_t j = 0; j < n; j++) outs[k][j] = NAN;
        check_equivalence(layouts[k], &x, &truth, 17, 8, 1, outs[k]);
    }
    /* the same weights in three layouts, the same thread count: the same numbers */
    for (int k = 1; k < 3; k++)
        CHECK(memcmp(outs[0], outs[k], n * sizeof(float)) == 0,
              "%s gives heatmaps identical to %s (max diff %.3g)", layouts[k], layouts[0],
              max_abs_diff_f(outs[0], outs[k], n));
    for (int k = 0; k < 3; k++) free(outs[k]);
    npy_free(&x);
    npy_free(&truth);
}

/* Every kernel set: those this CPU runs match the float64 fixture and are reported by
 * hrnet_session_info; the others are refused naming what the CPU has; HRNET_KERNELS applies to
 * AUTO only. Runs in its own process (setenv). */
static void case_kernel_sets(void)
{
    static const size_t in_shape[] = {2, 3, 256, 192}, out_shape[] = {2, 17, 64, 48};
    npy_array x, truth;
    if (!load_fixture(&x, "coco_w8_input.npy", 4, in_shape)) return;
    if (!load_fixture(&truth, "coco_w8_heatmaps_f64.npy", 4, out_shape)) { npy_free(&x); return; }
    char path[4096];
    FIXTURE(path, "coco_w8.pth");
    float *y = malloc(truth.count * sizeof(float)), *xf = malloc(x.count * sizeof(float));
    for (size_t j = 0; j < x.count; j++) xf[j] = (float)x.data[j];
    int runs = 0;
    CHECK(hrnet_kernels_supported(HRNET_KERNELS_AUTO) == 1, "AUTO is always supported");
    CHECK(hrnet_kernels_supported(99) == 0 && hrnet_kernels_supported(-1) == 0, "unknown sets are not supported");
    for (int set = HRNET_KERNELS_GENERIC; set <= HRNET_KERNELS_NEON; set++) {
        hrnet_options o;
        hrnet_options_init(&o);
        o.kernels = set;
        hrnet_session *s = NULL;
        hrnet_status st = hrnet_session_open(path, &o, &s);
        if (!hrnet_kernels_supported(set)) {
            EXPECT_STATUS(st, HRNET_ERR_INVALID_ARGUMENT, NULL, "kernel set %d refused on this CPU", set);
            CHECK(s == NULL && strstr(hrnet_last_error(NULL), "it has") != NULL, "message names the CPU's features: %s",
                  hrnet_last_error(NULL));
            continue;
        }
        if (!EXPECT_STATUS(st, HRNET_OK, NULL, "open with kernel set %d", set)) continue;
        hrnet_info i;
        if (get_info(s, &i)) CHECK(i.kernels == set, "info.kernels %d == %d", i.kernels, set);
        for (size_t j = 0; j < truth.count; j++) y[j] = NAN;
        if (EXPECT_STATUS(hrnet_forward(s, xf, 2, x.count, y, truth.count), HRNET_OK, s, "forward, set %d", set)) {
            double err = 0;
            for (size_t j = 0; j < truth.count; j++) err = fmax(err, fabs((double)y[j] - truth.data[j]));
            CHECK(err <= 1e-4, "kernel set %d: max abs error %.3g <= 1e-4", set, err);
            runs++;
        }
        hrnet_session_close(s);
    }
    CHECK(runs >= 1, "at least one kernel set ran (%d)", runs);
    /* The environment variable chooses for AUTO, and a set named in the options wins. */
    hrnet_options o;
    hrnet_options_init(&o);
    hrnet_session *s = NULL;
    setenv("HRNET_KERNELS", "generic", 1);
    if (EXPECT_STATUS(hrnet_session_open(path, &o, &s), HRNET_OK, NULL, "HRNET_KERNELS=generic")) {
        hrnet_info i;
        if (get_info(s, &i)) CHECK(i.kernels == HRNET_KERNELS_GENERIC, "HRNET_KERNELS=generic gives %d", i.kernels);
        hrnet_session_close(s);
    }
    if (hrnet_kernels_supported(HRNET_KERNELS_AVX2)) {
        o.kernels = HRNET_KERNELS_AVX2;
        if (EXPECT_STATUS(hrnet_session_open(path, &o, &s), HRNET_OK, NULL, "option avx2 over HRNET_KERNELS")) {
            hrnet_info i;
            if (get_info(s, &i)) CHECK(i.kernels == HRNET_KERNELS_AVX2, "the option wins: %d", i.kernels);
            hrnet_session_close(s);
        }
        o.kernels = HRNET_KERNELS_AUTO;
    }
    setenv("HRNET_KERNELS", "sse9", 1);
    EXPECT_STATUS(hrnet_session_open(path, &o, &s), HRNET_ERR_INVALID_ARGUMENT, NULL, "HRNET_KERNELS=sse9");
    CHECK(strstr(hrnet_last_error(NULL), "HRNET_KERNELS") != NULL, "message names the variable: %s", hrnet_last_error(NULL));
    unsetenv("HRNET_KERNELS");
    o.kernels = 99;
    EXPECT_STATUS(hrnet_session_open(path, &o, &s), HRNET_ERR_INVALID_ARGUMENT, NULL, "kernels = 99");
    /* BF16 runs on avx512 only. */
    o.kernels = HRNET_KERNELS_GENERIC;
    o.precision = HRNET_PRECISION_BF16;
    EXPECT_STATUS(hrnet_session_open(path, &o, &s), HRNET_ERR_INVALID_ARGUMENT, NULL, "BF16 with the generic set");
    free(y);
    free(xf);
    npy_free(&x);
    npy_free(&truth);
}

static void case_equivalence_mpii(void)
{
    static const size_t in_shape[] = {1, 3, 256, 256}, out_shape[] = {1, 16, 64, 64};
    npy_array x, truth;
    if (!load_fixture(&x, "mpii_w16_b2_input.npy", 4, in_shape)) return;
    if (!load_fixture(&truth, "mpii_w16_b2_heatmaps_f64.npy", 4, out_shape)) {
        npy_free(&x);
        return;
    }
    /* NULL options: the default input size of a 16-joint model is 256x256 */
    check_equivalence("mpii_w16_b2.pth", &x, &truth, 16, 16, 0, NULL);
    check_equivalence("mpii_w16_b2.pth", &x, &truth, 16, 16, 2, NULL);

    char path[4096];
    hrnet_session *s;
    if (EXPECT_STATUS(open_with(FIXTURE(path, "mpii_w16_b2.pth"), 0, 0, 0, &s), HRNET_OK, NULL,
                      "open mpii")) {
        hrnet_info i;
        if (get_info(s, &i))
            CHECK(i.parameters == MPII_W16_B2_PARAMETERS, "mpii parameters %lld == %lld",
                  (long long)i.parameters, MPII_W16_B2_PARAMETERS);
        hrnet_session_close(s);
    }
    npy_free(&x);
    npy_free(&truth);
}

static void case_crop(void)
{
    static const size_t rgb_shape[] = {256, 192, 3}, out_shape[] = {1, 17, 64, 48};
    static const double mean[3] = {0.485, 0.456, 0.406}, stdev[3] = {0.229, 0.224, 0.225};
    npy_array rgb, truth;
    if (!load_fixture(&rgb, "coco_w8_crop_rgb.npy", 3, rgb_shape)) return;
    if (!load_fixture(&truth, "coco_w8_crop_heatmaps.npy", 4, out_shape)) {
        npy_free(&rgb);
        return;
    }
    const int H = 256, W = 192;
    float *x = malloc(3u * H * W * sizeof(float));
    for (int c = 0; c < 3; c++)
        for (int yy = 0; yy < H; yy++)
            for (int xx = 0; xx < W; xx++) {
                double v = rgb.data[((size_t)yy * W + xx) * 3 + c];
                x[((size_t)c * H + yy) * W + xx] = (float)((v / 255.0 - mean[c]) / stdev[c]);
            }
    char path[4096];
    hrnet_session *s;
    if (EXPECT_STATUS(open_with(FIXTURE(path, "coco_w8.pth"), 0, 0, 0, &s), HRNET_OK, NULL,
                      "open coco_w8.pth")) {
        hrnet_info i;
        if (get_info(s, &i)) {
            CHECK(i.parameters == COCO_W8_PARAMETERS, "coco parameters %lld == %lld",
                  (long long)i.parameters, COCO_W8_PARAMETERS);
            float *y = malloc(heatmap_len(&i, 1) * sizeof(float));
            if (EXPECT_STATUS(forward_checked(s, &i, x, 1, y), HRNET_OK, s, "forward crop")) {
                double e = max_abs_err(y, truth.data, truth.count);
                CHECK(e <= TOL, "normalised RGB crop: max abs error %.3g <= %.0e", e, TOL);
            }
            free(y);
        }
        hrnet_session_close(s);
    }
    free(x);
    npy_free(&rgb);
    npy_free(&truth);
}

/* The opt-in BF16 precision: within its documented bound of the float64 reference, reported by
 * hrnet_session_info, and refused cleanly where the CPU lacks AVX512_BF16. */
static void case_bf16(void)
{
    static const size_t in_shape[] = {2, 3, 256, 192}, out_shape[] = {2, 17, 64, 48};
    npy_array x, truth;
    if (!load_fixture(&x, "coco_w8_input.npy", 4, in_shape)) return;
    if (!load_fixture(&truth, "coco_w8_heatmaps_f64.npy", 4, out_shape)) { npy_free(&x); return; }
    char path[4096];
    hrnet_options o;
    hrnet_options_init(&o);
    o.precision = HRNET_PRECISION_BF16;
    hrnet_session *s = NULL;
    hrnet_status st = hrnet_session_open(FIXTURE(path, "coco_w8.pth"), &o, &s);
    if (st == HRNET_ERR_INVALID_ARGUMENT && strstr(hrnet_last_error(NULL), "AVX512_BF16")) {
        CHECK(s == NULL, "no session on a CPU without AVX512_BF16");
    } else if (EXPECT_STATUS(st, HRNET_OK, NULL, "open coco_w8 in BF16")) {
        hrnet_info info;
        if (get_info(s, &info)) CHECK(info.precision == HRNET_PRECISION_BF16, "info precision BF16 (%d)", info.precision);
        float *out = malloc(truth.count * sizeof(float)), *in = malloc(x.count * sizeof(float));
        for (size_t j = 0; j < x.count; j++) in[j] = (float)x.data[j];
        if (EXPECT_STATUS(hrnet_forward(s, in, 2, x.count, out, truth.count), HRNET_OK, s, "BF16 forward")) {
            double worst = 0;
            for (size_t j = 0; j < truth.count; j++) {
                double d = fabs((double)out[j] - truth.data[j]);
                if (!(d <= worst)) worst = d;
            }
            CHECK(worst <= 2e-2, "BF16 heatmaps within 2e-2 of float64 (max abs %.3g)", worst);
            CHECK(worst > 1e-6, "BF16 really ran in reduced precision (max abs %.3g)", worst);
        }
        free(out);
        free(in);
        hrnet_session_close(s);
    }
    npy_free(&x);
    npy_free(&truth);
}

static void case_model_sharing(void)
{
    static const size_t in_shape[] = {2, 3, 256, 192}, out_shape[] = {2, 17, 64, 48};
    npy_array x, truth;
    if (!load_fixture(&x, "coco_w8_input.npy", 4, in_shape)) return;
    if (!load_fixture(&truth, "coco_w8_heatmaps_f64.npy", 4, out_shape)) { npy_free(&x); return; }
    char path[4096];
    hrnet_model *m = NULL;
    if (!EXPECT_STATUS(hrnet_model_load(FIXTURE(path, "coco_w8.pth"), &m), HRNET_OK, NULL,
                       "hrnet_model_load coco_w8.pth")) {
        npy_free(&x);
        npy_free(&truth);
        return;
    }
    CHECK(m != NULL, "model pointer set");
    hrnet_options o1, o2;
    hrnet_options_init(&o1);
    hrnet_options_init(&o2);
    o1.num_threads = 1;
    o2.num_threads = 2;
    hrnet_session *s1 = NULL, *s2 = NULL, *s3 = NULL;
    EXPECT_STATUS(hrnet_session_create(m, &o1, &s1), HRNET_OK, NULL, "session_create threads=1");
    EXPECT_STATUS(hrnet_session_create(m, &o2, &s2), HRNET_OK, NULL, "session_create threads=2");
    EXPECT_STATUS(hrnet_session_create(m, NULL, &s3), HRNET_OK, NULL,
                  "session_create NULL options");
    hrnet_model_release(m); /* the sessions keep the model alive */
    if (s1 && s2 && s3) {
        hrnet_info i1, i2, i3;
        if (get_info(s1, &i1) && get_info(s2, &i2) && get_info(s3, &i3)) {
            CHECK(i1.num_threads == 1, "threads=1 session reports %d", i1.num_threads);
            CHECK(i2.num_threads == 2, "threads=2 session reports %d", i2.num_threads);
            expect_info(&i3, "session_create(NULL options)", 17, 8, 256, 192);
            size_t n = heatmap_len(&i1, 2);
            float *xf = to_float(x.data, x.count);
            float *y1 = malloc(n * sizeof(float)), *y2 = malloc(n * sizeof(float));
            float *y3 = malloc(n * sizeof(float));
            hrnet_status a = forward_checked(s1, &i1, xf, 2, y1);
            hrnet_status b = forward_checked(s2, &i2, xf, 2, y2);
            hrnet_status c = forward_checked(s3, &i3, xf, 2, y3);
            if (EXPECT_STATUS(a, HRNET_OK, s1, "forward threads=1") &&
                EXPECT_STATUS(b, HRNET_OK, s2, "forward threads=2") &&
                EXPECT_STATUS(c, HRNET_OK, s3, "forward default threads")) {
                double d = max_abs_diff_f(y1, y2, n);
                CHECK(d <= THREAD_TOL, "threads 1 vs 2: max diff %.3g <= %.0e", d, THREAD_TOL);
                double e = max_abs_err(y2, truth.data, n);
                CHECK(e <= TOL, "shared-model session: max abs error %.3g <= %.0e", e, TOL);
                e = max_abs_err(y3, truth.data, n);
                CHECK(e <= TOL, "shared-model default session: max abs error %.3g", e);
            }
            /* a batch of 1 after a batch of 2, then 2 again on the same session */
            if (forward_checked(s1, &i1, xf + input_len(&i1, 1), 1, y1) == HRNET_OK) {
                double e = max_abs_err(y1, truth.data + heatmap_len(&i1, 1), heatmap_len(&i1, 1));
                CHECK(e <= TOL, "batch 1 after batch 2: max abs error %.3g", e);
            } else {
                CHECK(0, "batch 1 after batch 2 failed: %s", hrnet_last_error(s1));
            }
            free(xf);
            free(y1);
            free(y2);
            free(y3);
        }
    }
    hrnet_session_close(s1);
    hrnet_session_close(s2);
    hrnet_session_close(s3);
    npy_free(&x);
    npy_free(&truth);
}

static void case_input_size(void)
{
    char path[4096];
    hrnet_session *s = NULL, *d = NULL;
    double gmacs_default = 0;
    if (EXPECT_STATUS(open_with(FIXTURE(path, "coco_w8.pth"), 0, 0, 1, &d), HRNET_OK, NULL,
                      "open coco default size")) {
        hrnet_info i;
        if (get_info(d, &i)) gmacs_default = i.gmacs_per_crop;
        hrnet_session_close(d);
    }
    static const int sizes[][2] = {{128, 96}, {384, 288}, {256, 256}, {64, 32}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int h = sizes[k][0], w = sizes[k][1];
        if (!EXPECT_STATUS(open_with(path, h, w, 0, &s), HRNET_OK, NULL, "open coco %dx%d", h, w))
            continue;
        hrnet_info i;
        if (get_info(s, &i)) {
            char what[64];
            snprintf(what, sizeof what, "coco %dx%d", h, w);
            expect_info(&i, what, 17, 8, h, w);
            double ratio = gmacs_default / i.gmacs_per_crop, want = (256.0 * 192) / (h * w);
            CHECK(fabs(ratio - want) <= 1e-6 * want, "%s: gmacs scale with area (%.6g vs %.6g)",
                  what, ratio, want);
            size_t nin = input_len(&i, 2);
            float *x = malloc(nin * sizeof(float));
            for (size_t j = 0; j < nin; j++) x[j] = (float)sin(0.001 * (double)j);
            float *y = malloc(heatmap_len(&i, 2) * sizeof(float));
            EXPECT_STATUS(forward_checked(s, &i, x, 2, y), HRNET_OK, s, "forward %s", what);
            free(x);
            free(y);
        }
        hrnet_session_close(s);
    }
    /* the trained W16 model */
    if (EXPECT_STATUS(open_with(path_in(path, sizeof path, "models/synth_w16_128x96.pth"), 128, 96,
                                0, &s), HRNET_OK, NULL, "open models/synth_w16_128x96.pth")) {
        hrnet_info i;
        if (get_info(s, &i)) {
            expect_info(&i, "synth_w16_128x96", 17, 16, 128, 96);
            size_t nin = input_len(&i, 1);
            float *x = calloc(nin, sizeof(float));
            float *y = malloc(heatmap_len(&i, 1) * sizeof(float));
            EXPECT_STATUS(forward_checked(s, &i, x, 1, y), HRNET_OK, s, "forward synth");
            free(x);
            free(y);
        }
        hrnet_session_close(s);
    }
}

static void case_bad_options(void)
{
    char path[4096];
    FIXTURE(path, "coco_w8.pth");
    static const int bad[][4] = {
        /* h, w, threads, precision */
        {100, 96, 0, 0}, {96, 100, 0, 0}, {31, 32, 0, 0}, {-32, 192, 0, 0}, {256, -192, 0, 0},
        {0, 192, 0, 0}, {256, 0, 0, 0}, {-256, -192, 0, 0}, {INT32_MIN, 192, 0, 0},
        {256, 192, -1, 0}, {256, 192, 0, 2}, {256, 192, 0, -1}, {256, 192, 0, 1000},
    };
    hrnet_model *m = NULL;
    EXPECT_STATUS(hrnet_model_load(path, &m), HRNET_OK, NULL, "load coco_w8.pth");
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        hrnet_options o;
        hrnet_options_init(&o);
        o.input_height = bad[k][0];
        o.input_width = bad[k][1];
        o.num_threads = bad[k][2];
        o.precision = bad[k][3];
        hrnet_session *s = NULL;
        hrnet_status st = hrnet_session_open(path, &o, &s);
        EXPECT_STATUS(st, HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "session_open input %dx%d threads %d precision %d", o.input_height,
                      o.input_width, o.num_threads, o.precision);
        if (st == HRNET_OK) hrnet_session_close(s);
        if (m) {
            s = NULL;
            st = hrnet_session_create(m, &o, &s);
            EXPECT_STATUS(st, HRNET_ERR_INVALID_ARGUMENT, NULL,
                          "session_create input %dx%d threads %d precision %d", o.input_height,
                          o.input_width, o.num_threads, o.precision);
            if (st == HRNET_OK) hrnet_session_close(s);
        }
    }
    /* the model is still good after all that */
    if (m) {
        hrnet_session *s = NULL;
        if (EXPECT_STATUS(hrnet_session_create(m, NULL, &s), HRNET_OK, NULL,
                          "session_create after failures"))
            hrnet_session_close(s);
    }
    hrnet_model_release(m);
}

/* Both entry points fail on `path` with `want1` or `want2`. */
static void expect_load_fails(const char *path, hrnet_status want1, hrnet_status want2,
                              const char *what)
{
    hrnet_model *m = NULL;
    hrnet_status st = hrnet_model_load(path, &m);
    EXPECT_STATUS2(st, want1, want2, NULL, "hrnet_model_load(%s)", what);
    if (st == HRNET_OK) hrnet_model_release(m);
    hrnet_session *s = NULL;
    st = hrnet_session_open(path, NULL, &s);
    EXPECT_STATUS2(st, want1, want2, NULL, "hrnet_session_open(%s)", what);
    if (st == HRNET_OK) hrnet_session_close(s);
}

/* Random corruptions of real checkpoints (bytes overwritten in the pickle, the zip directory or
 * anywhere; cuts): every load must end in a status (and a message when it fails), and whatever
 * loads must run without crashing. The harness runs each case in its own process, so a crash
 * here is reported as this case failing. Deterministic (fixed seed). */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void case_fuzz_loader(void)
{
    static const char *files[] = {"mpii_w16_b2.pth", "coco_w8_legacy.pth"};
    const char *tmp = write_temp("", 0);
    if (!CHECK(tmp != NULL, "temp file")) return;
    int loaded = 0, refused = 0;
    for (size_t f = 0; f < 2; f++) {
        char path[4096];
        size_t size = 0;
        path_in(path, sizeof path, "Tests/fixtures/");
        strncat(path, files[f], sizeof path - strlen(path) - 1);
        unsigned char *orig = read_all(path, &size);
        if (!CHECK(orig != NULL && size > 200000, "read %s", files[f])) { free(orig); continue; }
        unsigned char *data = malloc(size);
        for (int it = 0; it < 120; it++) {
            memcpy(data, orig, size);
            size_t n = size;
            int edits = 1 + (int)(rnd() % 8);
            for (int e = 0; e < edits; e++) {
                size_t at;
                switch (rnd() % 4) {
                case 0: case 1: at = rnd() % 100000; break;            /* pickle / headers */
                case 2: at = size - 1 - rnd() % 65536; break;           /* zip directory / tail */
                default: at = rnd() % size;
                }
                data[at] = (unsigned char)rnd();
            }
            if (rnd() % 5 == 0) n = rnd() % size;                       /* and sometimes a cut */
            FILE *fp = fopen(tmp, "wb");
            if (!CHECK(fp != NULL, "rewrite temp file")) break;
            fwrite(data, 1, n, fp);
            fclose(fp);
            hrnet_model *m = NULL;
            hrnet_status st = hrnet_model_load(tmp, &m);
            if (st == HRNET_OK) {
                loaded++;
                CHECK(m != NULL, "%s mutation %d: OK with a model", files[f], it);
                hrnet_session *s = NULL;
                if (hrnet_session_create(m, NULL, &s) == HRNET_OK) {
                    hrnet_info info = {.struct_size = sizeof info};
                    if (hrnet_session_info(s, &info) == HRNET_OK) {
                        size_t in = (size_t)3 * info.input_height * info.input_width;
                        size_t out = (size_t)info.joints * info.heatmap_height * info.heatmap_width;
                        float *x = calloc(in, sizeof(float)), *y = malloc(out * sizeof(float));
                        hrnet_status fs = hrnet_forward(s, x, 1, in, y, out);
                        CHECK(fs == HRNET_OK, "%s mutation %d: a loaded model runs (%s)", files[f], it,
                              hrnet_status_string(fs));
                        free(x);
                        free(y);
                    }
                    hrnet_session_close(s);
                }
                hrnet_model_release(m);
            } else {
                refused++;
                CHECK(m == NULL, "%s mutation %d: no model on failure", files[f], it);
                CHECK(st == HRNET_ERR_FORMAT || st == HRNET_ERR_MODEL || st == HRNET_ERR_IO,
                      "%s mutation %d: a file status (%s)", files[f], it, hrnet_status_string(st));
                CHECK(hrnet_last_error(NULL)[0] != 0, "%s mutation %d: a message", files[f], it);
            }
        }
        free(data);
        free(orig);
    }
    CHECK(refused > 0, "some mutations are refused (%d refused, %d loaded)", refused, loaded);
}

static void case_bad_files(void)
{
    char path[4096], what[256];
    hrnet_model *m = NULL;
    hrnet_session *s = NULL;
    hrnet_options o;
    hrnet_options_init(&o);

    EXPECT_STATUS(hrnet_model_load(NULL, &m), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_model_load(NULL path)");
    EXPECT_STATUS(hrnet_session_open(NULL, &o, &s), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_open(NULL path)");
    EXPECT_STATUS(hrnet_model_load(FIXTURE(path, "coco_w8.pth"), NULL),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "hrnet_model_load(NULL out)");
    EXPECT_STATUS(hrnet_session_open(path, &o, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_open(NULL out)");
    EXPECT_STATUS(hrnet_session_open(path, NULL, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_open(NULL options, NULL out)");
    expect_load_fails("", HRNET_ERR_IO, HRNET_ERR_INVALID_ARGUMENT, "empty path string");

    const char *dir = make_temp_dir();
    if (CHECK(dir != NULL, "mkdtemp")) {
        expect_load_fails(dir, HRNET_ERR_IO, HRNET_ERR_IO, "a directory");
        snprintf(path, sizeof path, "%s/missing.pth", dir);
        expect_load_fails(path, HRNET_ERR_IO, HRNET_ERR_IO, "a missing file");
        snprintf(path, sizeof path, "%s/no/such/dir/x.pth", dir);
        expect_load_fails(path, HRNET_ERR_IO, HRNET_ERR_IO, "a missing directory");
    }

    const char *empty = write_temp("", 0);
    if (CHECK(empty != NULL, "write empty temp file"))
        expect_load_fails(empty, HRNET_ERR_FORMAT, HRNET_ERR_FORMAT, "an empty file");

    char text[1000];
    for (size_t k = 0; k < sizeof text; k++) text[k] = "This is not a checkpoint.\n"[k % 26];
    const char *txt = write_temp(text, sizeof text);
    if (CHECK(txt != NULL, "write text temp file"))
        expect_load_fails(txt, HRNET_ERR_FORMAT, HRNET_ERR_FORMAT, "1000 bytes of text");

    /* a zip magic followed by garbage, and a pickle protocol header followed by garbage */
    unsigned char fake[4096];
    for (size_t k = 0; k < sizeof fake; k++) fake[k] = (unsigned char)(k * 131u + 7u);
    memcpy(fake, "PK\x03\x04", 4);
    const char *fz = write_temp(fake, sizeof fake);
    if (fz) expect_load_fails(fz, HRNET_ERR_FORMAT, HRNET_ERR_FORMAT, "zip magic + garbage");
    fake[0] = 0x80;
    fake[1] = 0x02;
    const char *fp = write_temp(fake, sizeof fake);
    if (fp) expect_load_fails(fp, HRNET_ERR_FORMAT, HRNET_ERR_FORMAT, "pickle magic + garbage");

    static const char *files[] = {"coco_w8.pth", "coco_w8_legacy.pth", "coco_w8_mmpose.pth"};
    static const double fractions[] = {0.5, 0.01, 0.999};
    for (size_t f = 0; f < 3; f++) {
        size_t size = 0;
        path_in(path, sizeof path, "Tests/fixtures/");
        strncat(path, files[f], sizeof path - strlen(path) - 1);
        unsigned char *data = read_all(path, &size);
        if (!CHECK(data != NULL, "read %s", files[f])) continue;
        for (size_t k = 0; k < 3; k++) {
            size_t cut = (size_t)((double)size * fractions[k]);
            const char *t = write_temp(data, cut);
            snprintf(what, sizeof what, "%s truncated to %zu of %zu bytes", files[f], cut, size);
            if (CHECK(t != NULL, "write temp: %s", what))
                expect_load_fails(t, HRNET_ERR_FORMAT, HRNET_ERR_FORMAT, what);
        }
        free(data);
        remove_temps(); /* also removes dir & friends: keep the temp count low */
    }
    remove_temps();
}

/* --- zip surgery for the corrupted-pickle cases ------------------------------------------- */

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

typedef struct {
    size_t local;        /* local header offset */
    size_t data, size;   /* stored data */
    long central;        /* central directory entry offset, or -1 */
    long descriptor_crc; /* offset of the CRC in the data descriptor, or -1 */
} zip_member;

/* Finds the stored member `name` by scanning for its local header. */
static int zip_find(const unsigned char *d, size_t n, const char *name, zip_member *m)
{
    size_t nl = strlen(name);
    memset(m, 0, sizeof *m);
    m->central = m->descriptor_crc = -1;
    size_t i;
    for (i = 0; i + 30 + nl <= n; i++)
        if (memcmp(d + i, "PK\x03\x04", 4) == 0 && rd16(d + i + 26) == nl &&
            memcmp(d + i + 30, name, nl) == 0)
            break;
    if (i + 30 + nl > n) return 0;
    m->local = i;
    unsigned flags = rd16(d + i + 6);
    if (rd16(d + i + 8) != 0) return 0; /* must be stored, not deflated */
    m->data = i + 30 + nl + rd16(d + i + 28);
    m->size = rd32(d + i + 18);
    for (size_t j = n >= 46 + nl ? n - 46 - nl : 0; j > m->data; j--)
        if (memcmp(d + j, "PK\x01\x02", 4) == 0 && rd16(d + j + 28) == nl &&
            memcmp(d + j + 46, name, nl) == 0) {
            m->central = (long)j;
            break;
        }
    if (m->size == 0 && m->central >= 0) m->size = rd32(d + m->central + 20);
    if (m->size == 0 || m->data + m->size > n) return 0;
    if (flags & 8u) {
        size_t e = m->data + m->size;
        if (e + 16 <= n && memcmp(d + e, "PK\x07\x08", 4) == 0) m->descriptor_crc = (long)e + 4;
        else if (e + 12 <= n) m->descriptor_crc = (long)e;
    }
    return 1;
}

static void zip_fix_crc(unsigned char *d, const zip_member *m)
{
    uint32_t crc = crc32_of(d + m->data, m->size);
    if (rd32(d + m->local + 14) != 0) wr32(d + m->local + 14, crc);
    if (m->central >= 0) wr32(d + m->central + 16, crc);
    if (m->descriptor_crc >= 0) wr32(d + m->descriptor_crc, crc);
}

static void case_corrupt_zip(void)
{
    char path[4096];
    size_t size = 0;
    unsigned char *orig = read_all(FIXTURE(path, "coco_w8.pth"), &size);
    if (!CHECK(orig != NULL, "read coco_w8.pth")) return;
    zip_member m;
    if (!CHECK(zip_find(orig, size, "coco_w8/data.pkl", &m), "find coco_w8/data.pkl in the zip")) {
        free(orig);
        return;
    }
    CHECK(m.central >= 0, "found its central directory entry");
    unsigned char *d = malloc(size);

    /* 1. 64 bytes of 0xFF in the middle of the pickle, CRC left stale */
    memcpy(d, orig, size);
    memset(d + m.data + m.size / 2, 0xFF, 64);
    const char *t = write_temp(d, size);
    if (t) expect_load_fails(t, HRNET_ERR_FORMAT, HRNET_ERR_MODEL, "pickle clobbered, stale CRC");

    /* 2. the same with the CRC fixed: the zip is valid, only the pickle is wrong */
    zip_fix_crc(d, &m);
    t = write_temp(d, size);
    if (t) expect_load_fails(t, HRNET_ERR_FORMAT, HRNET_ERR_MODEL, "pickle clobbered, CRC fixed");

    /* 3. the start of the pickle clobbered (CRC fixed) */
    memcpy(d, orig, size);
    memset(d + m.data + 2, 0xFF, 32);
    zip_fix_crc(d, &m);
    t = write_temp(d, size);
    if (t) expect_load_fails(t, HRNET_ERR_FORMAT, HRNET_ERR_MODEL, "pickle start clobbered");

    /* 4. the pickle cut short: its last 16 bytes (the STOP opcode among them) replaced */
    memcpy(d, orig, size);
    memset(d + m.data + m.size - 16, 0xFF, 16);
    zip_fix_crc(d, &m);
    t = write_temp(d, size);
    if (t) expect_load_fails(t, HRNET_ERR_FORMAT, HRNET_ERR_MODEL, "pickle end clobbered");

    /* 5. a well-formed checkpoint with the key final_layer.weight renamed: not runnable */
    memcpy(d, orig, size);
    static const char key[] = "final_layer.weight";
    size_t klen = sizeof key - 1, found = 0, at = 0;
    for (size_t i = m.data; i + klen <= m.data + m.size; i++)
        if (memcmp(d + i, key, klen) == 0) { found++; at = i; }
    if (CHECK(found == 1, "the pickle holds \"%s\" once (%zu)", key, found)) {
        d[at + klen - 1] = 'X';
        zip_fix_crc(d, &m);
        t = write_temp(d, size);
        if (t) {
            expect_load_fails(t, HRNET_ERR_MODEL, HRNET_ERR_MODEL, "final_layer.weight renamed");
            hrnet_model *mm = NULL;
            if (hrnet_model_load(t, &mm) != HRNET_OK) {
                const char *msg = hrnet_last_error(NULL);
                CHECK(strstr(msg, "final_layer") != NULL, "the message names the key: \"%s\"",
                      msg);
            } else {
                hrnet_model_release(mm);
            }
        }
    }
    /* the untouched file still loads after all those failures */
    hrnet_model *good = NULL;
    if (EXPECT_STATUS(hrnet_model_load(path, &good), HRNET_OK, NULL, "load the original again"))
        hrnet_model_release(good);
    free(d);
    free(orig);
    remove_temps();
}

static void case_forward_args(void)
{
    static const size_t in_shape[] = {2, 3, 256, 192}, out_shape[] = {2, 17, 64, 48};
    npy_array xa, truth;
    if (!load_fixture(&xa, "coco_w8_input.npy", 4, in_shape)) return;
    if (!load_fixture(&truth, "coco_w8_heatmaps_f64.npy", 4, out_shape)) {
        npy_free(&xa);
        return;
    }
    char path[4096];
    hrnet_session *s = NULL;
    hrnet_info i;
    if (!EXPECT_STATUS(open_with(FIXTURE(path, "coco_w8.pth"), 0, 0, 0, &s), HRNET_OK, NULL,
                       "open coco_w8.pth") || !get_info(s, &i)) {
        hrnet_session_close(s);
        npy_free(&xa);
        npy_free(&truth);
        return;
    }
    float *x = to_float(xa.data, xa.count);
    size_t nin = input_len(&i, 2), nout = heatmap_len(&i, 2);
    const size_t guard = 1024;
    float *y = malloc((nout + guard) * sizeof(float));
    const float canary = -12345.5f;
#define GOOD_CALL_AFTER(what)                                                                  \
    do {                                                                                       \
        hrnet_status g_ = forward_checked(s, &i, x, 2, y);                                     \
        if (EXPECT_STATUS(g_, HRNET_OK, s, "good forward after %s", what)) {                   \
            double e_ = max_abs_err(y, truth.data, nout);                                      \
            CHECK(e_ <= TOL, "good forward after %s: max abs error %.3g", what, e_);           \
        }                                                                                      \
    } while (0)

    GOOD_CALL_AFTER("opening");
    EXPECT_STATUS(hrnet_forward(s, x, 0, 0, y, nout), HRNET_ERR_INVALID_ARGUMENT, s, "batch 0");
    EXPECT_STATUS(hrnet_forward(s, x, 0, nin, y, nout), HRNET_ERR_INVALID_ARGUMENT, s,
                  "batch 0 with a non-zero input_count");
    GOOD_CALL_AFTER("batch 0");
    EXPECT_STATUS(hrnet_forward(s, x, 2, nin - 1, y, nout), HRNET_ERR_INVALID_ARGUMENT, s,
                  "input_count one short");
    EXPECT_STATUS(hrnet_forward(s, x, 2, nin + 1, y, nout), HRNET_ERR_INVALID_ARGUMENT, s,
                  "input_count one long");
    EXPECT_STATUS(hrnet_forward(s, x, 2, nin / 2, y, nout), HRNET_ERR_INVALID_ARGUMENT, s,
                  "input_count of one crop for a batch of 2");
    EXPECT_STATUS(hrnet_forward(s, x, 1, nin, y, nout), HRNET_ERR_INVALID_ARGUMENT, s,
                  "input_count of two crops for a batch of 1");
    GOOD_CALL_AFTER("input_count mismatch");

    /* too-small output: refused, and nothing is written past the given capacity */
    for (size_t k = 0; k < nout + guard; k++) y[k] = canary;
    hrnet_status st = hrnet_forward(s, x, 2, nin, y, nout - 1);
    EXPECT_STATUS(st, HRNET_ERR_BUFFER_TOO_SMALL, s, "heatmap_capacity one short");
    if (st == HRNET_ERR_BUFFER_TOO_SMALL) {
        const char *msg = hrnet_last_error(s);
        char need[32], have[32];
        snprintf(need, sizeof need, "%zu", nout);
        snprintf(have, sizeof have, "%zu", nout - 1);
        CHECK(strstr(msg, need) && strstr(msg, have), "message gives both sizes (%s, %s): \"%s\"",
              need, have, msg);
    }
    CHECK(y[nout - 1] == canary && y[nout] == canary,
          "nothing written at or past the capacity on BUFFER_TOO_SMALL");
    EXPECT_STATUS(hrnet_forward(s, x, 2, nin, y, 0), HRNET_ERR_BUFFER_TOO_SMALL, s,
                  "heatmap_capacity 0");
    EXPECT_STATUS(hrnet_forward(s, x, 2, nin, y, nout / 2), HRNET_ERR_BUFFER_TOO_SMALL, s,
                  "heatmap_capacity of one crop for a batch of 2");
    GOOD_CALL_AFTER("BUFFER_TOO_SMALL");

    /* larger capacity than needed is fine and nothing past the result is touched */
    for (size_t k = 0; k < nout + guard; k++) y[k] = canary;
    st = hrnet_forward(s, x, 2, nin, y, nout + guard);
    if (EXPECT_STATUS(st, HRNET_OK, s, "heatmap_capacity larger than needed")) {
        int untouched = 1;
        for (size_t k = nout; k < nout + guard; k++) untouched &= (y[k] == canary);
        CHECK(untouched, "nothing written past the result");
        CHECK(max_abs_err(y, truth.data, nout) <= TOL, "result with a large capacity is right");
    }

    /* NULL buffers */
    EXPECT_STATUS(hrnet_forward(s, NULL, 2, nin, y, nout), HRNET_ERR_INVALID_ARGUMENT, s,
                  "NULL input");
    EXPECT_STATUS(hrnet_forward(s, x, 2, nin, NULL, nout), HRNET_ERR_INVALID_ARGUMENT, s,
                  "NULL heatmaps");
    GOOD_CALL_AFTER("NULL buffers");

    /* non-finite inputs, at the first, a middle and the last element */
    const float bads[3] = {NAN, INFINITY, -INFINITY};
    const size_t where[3] = {0, nin / 2 + 777, nin - 1};
    for (int b = 0; b < 3; b++)
        for (int w = 0; w < 3; w++) {
            float saved = x[where[w]];
            x[where[w]] = bads[b];
            EXPECT_STATUS(hrnet_forward(s, x, 2, nin, y, nout), HRNET_ERR_INVALID_ARGUMENT, s,
                          "%s at input[%zu]", b == 0 ? "NaN" : b == 1 ? "+Inf" : "-Inf",
                          where[w]);
            x[where[w]] = saved;
        }
    GOOD_CALL_AFTER("non-finite input");

    /* info with a NULL struct */
    EXPECT_STATUS(hrnet_session_info(s, NULL), HRNET_ERR_INVALID_ARGUMENT, s,
                  "hrnet_session_info(session, NULL)");
    GOOD_CALL_AFTER("hrnet_session_info(NULL)");
#undef GOOD_CALL_AFTER
    free(x);
    free(y);
    hrnet_session_close(s);
    npy_free(&xa);
    npy_free(&truth);
}

static void case_overflow(void)
{
    /* batch * 3*256*192 overflows size_t to exactly one crop's worth; a library that multiplies
     * with wrap-around would accept it and run off the buffers (or trap). */
    char path[4096];
    hrnet_session *s = NULL;
    hrnet_info i;
    if (!EXPECT_STATUS(open_with(FIXTURE(path, "coco_w8.pth"), 0, 0, 1, &s), HRNET_OK, NULL,
                       "open coco_w8.pth") || !get_info(s, &i)) {
        hrnet_session_close(s);
        return;
    }
    size_t per_in = input_len(&i, 1), per_out = heatmap_len(&i, 1);
    float *x = calloc(per_in, sizeof(float));
    float *y = calloc(per_out, sizeof(float));
    if (sizeof(size_t) == 8 && per_in == 147456u) {
        size_t batch = ((size_t)1 << 50) + 1; /* 2^50 * 147456 = 9 * 2^64 */
        hrnet_status st = hrnet_forward(s, x, batch, per_in, y, SIZE_MAX);
        EXPECT_STATUS(st, HRNET_ERR_INVALID_ARGUMENT, s,
                      "batch 2^50+1 whose input size wraps to one crop");
    }
    EXPECT_STATUS(hrnet_forward(s, x, SIZE_MAX, per_in, y, per_out), HRNET_ERR_INVALID_ARGUMENT,
                  s, "batch SIZE_MAX");
    EXPECT_STATUS(hrnet_forward(s, x, 1, per_in, y, per_out), HRNET_OK, s,
                  "good forward afterwards");
    free(x);
    free(y);
    hrnet_session_close(s);
}

static void case_null_session(void)
{
    hrnet_info info;
    float x[4] = {0}, y[4];
    EXPECT_STATUS(hrnet_session_info(NULL, &info), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_info(NULL session)");
    EXPECT_STATUS(hrnet_session_info(NULL, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_info(NULL, NULL)");
    EXPECT_STATUS(hrnet_forward(NULL, x, 1, 4, y, 4), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_forward(NULL session)");
    EXPECT_STATUS(hrnet_forward(NULL, NULL, 0, 0, NULL, 0), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_forward(NULL everything)");
    hrnet_session *s = NULL;
    hrnet_options o;
    hrnet_options_init(&o);
    EXPECT_STATUS(hrnet_session_create(NULL, &o, &s), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_create(NULL model)");
    EXPECT_STATUS(hrnet_session_create(NULL, NULL, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_create(NULL, NULL, NULL)");
    char path[4096];
    hrnet_model *m = NULL;
    if (EXPECT_STATUS(hrnet_model_load(FIXTURE(path, "coco_w8.pth"), &m), HRNET_OK, NULL,
                      "load coco_w8.pth")) {
        EXPECT_STATUS(hrnet_session_create(m, &o, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "hrnet_session_create(model, options, NULL out)");
        hrnet_model_release(m);
    }
    hrnet_session_close(NULL);
    hrnet_model_release(NULL);
    CHECK(1, "hrnet_session_close(NULL) and hrnet_model_release(NULL) are no-ops");
    const char *e = hrnet_last_error(NULL);
    CHECK(e != NULL, "hrnet_last_error(NULL) is never NULL");
}

static void *failing_load(void *arg)
{
    hrnet_model *m = NULL;
    *(hrnet_status *)arg = hrnet_model_load("/nonexistent/hrnet/thread.pth", &m);
    return NULL;
}

static void case_last_error(void)
{
    CHECK(hrnet_last_error(NULL) != NULL && hrnet_last_error(NULL)[0] == '\0',
          "hrnet_last_error(NULL) is \"\" before any failure");
    /* this thread fails with FORMAT */
    char text[100];
    memset(text, 'x', sizeof text);
    const char *t = write_temp(text, sizeof text);
    hrnet_model *m = NULL;
    if (!t) { CHECK(0, "write temp file"); return; }
    EXPECT_STATUS(hrnet_model_load(t, &m), HRNET_ERR_FORMAT, NULL, "text file");
    char mine[1024];
    snprintf(mine, sizeof mine, "%s", hrnet_last_error(NULL));
    /* another thread fails with IO: our message is unchanged (thread-local) */
    pthread_t th;
    hrnet_status other = HRNET_OK;
    if (CHECK(pthread_create(&th, NULL, failing_load, &other) == 0, "pthread_create")) {
        pthread_join(th, NULL);
        CHECK(other == HRNET_ERR_IO, "other thread's load: %s", status_name(other));
        CHECK(strcmp(mine, hrnet_last_error(NULL)) == 0,
              "this thread's message is not replaced by another thread's failure (\"%s\")",
              hrnet_last_error(NULL));
    }
    /* a session's messages are its own */
    char path[4096];
    hrnet_session *s = NULL;
    if (EXPECT_STATUS(open_with(FIXTURE(path, "coco_w8.pth"), 0, 0, 1, &s), HRNET_OK, NULL,
                      "open")) {
        CHECK(hrnet_last_error(s)[0] == '\0', "a new session has no message");
        float x[1] = {0}, y[1];
        EXPECT_STATUS(hrnet_forward(s, x, 1, 1, y, 1), HRNET_ERR_INVALID_ARGUMENT, s,
                      "forward with a wrong input_count");
        CHECK(strcmp(mine, hrnet_last_error(NULL)) == 0,
              "a session failure does not replace the thread's message");
        hrnet_session_close(s);
    }
    remove_temps();
}

/* ---------------------------------------------------------------------------------------- */
/* Misuse and limits: struct sizes, NULLs, sizes that overflow, memory exhaustion, threads   */

/* Where the first published (v1) layout of each growable struct ends: an older host passes
 * these sizes, a newer host larger ones. */
#define OPTIONS_V1_SIZE (offsetof(hrnet_options, precision) + sizeof(int32_t))
#define INFO_V1_SIZE (offsetof(hrnet_info, gmacs_per_crop) + sizeof(double))
#define ESTIMATE_OPTIONS_V1_SIZE (offsetof(hrnet_estimate_options, num_flip_pairs) + sizeof(int32_t))

/* A synthetic RGB frame (a smooth pattern with a bright blob, so the heatmaps have a peak). */
static unsigned char *make_frame(int w, int h)
{
    unsigned char *p = malloc((size_t)w * h * 3);
    if (!p) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                double v = 100 + 60 * sin(0.05 * x + c) * cos(0.04 * y);
                double dx = x - w / 2.0, dy = y - h / 3.0;
                if (dx * dx + dy * dy < 200) v = 250;
                p[((size_t)y * w + x) * 3 + c] = (unsigned char)v;
            }
    return p;
}

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return 0;
    return 1;
}

/* hrnet_options, hrnet_info and hrnet_estimate_options passed with struct_size smaller than the
 * first version (refused), exactly the first version (an older host), the current size and larger
 * (a newer host: accepted, unknown trailing fields ignored, and for info nothing written past the
 * library's own struct). */
static void case_struct_sizes(void)
{
    char path[4096];
    FIXTURE(path, "coco_w8.pth");
    hrnet_model *m = NULL;
    if (!EXPECT_STATUS(hrnet_model_load(path, &m), HRNET_OK, NULL, "load coco_w8.pth")) return;
    CHECK(OPTIONS_V1_SIZE <= sizeof(hrnet_options) && INFO_V1_SIZE <= sizeof(hrnet_info) &&
          ESTIMATE_OPTIONS_V1_SIZE <= sizeof(hrnet_estimate_options),
          "v1 sizes: options %zu, info %zu, estimate options %zu", (size_t)OPTIONS_V1_SIZE,
          (size_t)INFO_V1_SIZE, (size_t)ESTIMATE_OPTIONS_V1_SIZE);

    /* --- hrnet_options, in a buffer larger than the struct so larger sizes are readable */
    union { hrnet_options o; unsigned char bytes[sizeof(hrnet_options) + 256]; } ob;
    const size_t small_opts[] = {0, 1, sizeof(size_t), OPTIONS_V1_SIZE - 4, OPTIONS_V1_SIZE - 1};
    for (size_t k = 0; k < sizeof small_opts / sizeof small_opts[0]; k++) {
        memset(&ob, 0, sizeof ob);
        hrnet_options_init(&ob.o);
        ob.o.struct_size = small_opts[k];
        hrnet_session *s = (hrnet_session *)&ob; /* must be reset to NULL */
        EXPECT_STATUS(hrnet_session_create(m, &ob.o, &s), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "session_create with options.struct_size %zu (< v1 %zu)", small_opts[k],
                      (size_t)OPTIONS_V1_SIZE);
        CHECK(s == NULL, "*out_session is NULL after a refused struct_size");
        if (s && s != (hrnet_session *)&ob) hrnet_session_close(s);
        s = NULL;
        EXPECT_STATUS(hrnet_session_open(path, &ob.o, &s), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "session_open with options.struct_size %zu", small_opts[k]);
        if (s) hrnet_session_close(s);
    }
    const size_t good_opts[] = {OPTIONS_V1_SIZE, sizeof(hrnet_options), sizeof(hrnet_options) + 8,
                                sizeof ob};
    for (size_t k = 0; k < sizeof good_opts / sizeof good_opts[0]; k++) {
        memset(&ob, 0xA5, sizeof ob); /* a newer host's fields this library does not know */
        hrnet_options_init(&ob.o);
        ob.o.input_height = 128;
        ob.o.input_width = 96;
        ob.o.num_threads = 1;
        ob.o.struct_size = good_opts[k];
        /* an older host's struct ends at struct_size: what follows must not be read */
        if (good_opts[k] < sizeof ob) memset(ob.bytes + good_opts[k], 0xA5, sizeof ob - good_opts[k]);
        hrnet_session *s = NULL;
        if (EXPECT_STATUS(hrnet_session_create(m, &ob.o, &s), HRNET_OK, NULL,
                          "session_create with options.struct_size %zu", good_opts[k])) {
            hrnet_info i;
            if (get_info(s, &i))
                CHECK(i.input_height == 128 && i.input_width == 96 && i.num_threads == 1,
                      "struct_size %zu: the options are honoured (%dx%d, %d threads)",
                      good_opts[k], i.input_height, i.input_width, i.num_threads);
            hrnet_session_close(s);
        }
        s = NULL;
        if (EXPECT_STATUS(hrnet_session_open(path, &ob.o, &s), HRNET_OK, NULL,
                          "session_open with options.struct_size %zu", good_opts[k]))
            hrnet_session_close(s);
    }

    /* --- hrnet_info */
    hrnet_session *s = NULL;
    if (!EXPECT_STATUS(open_with(path, 0, 0, 1, &s), HRNET_OK, NULL, "open")) {
        hrnet_model_release(m);
        return;
    }
    hrnet_info ref;
    get_info(s, &ref);
    union { hrnet_info i; unsigned char bytes[sizeof(hrnet_info) + 256]; } ib;
    const size_t small_info[] = {0, 1, sizeof(size_t), INFO_V1_SIZE - 8, INFO_V1_SIZE - 1};
    for (size_t k = 0; k < sizeof small_info / sizeof small_info[0]; k++) {
        memset(&ib, 0x5A, sizeof ib);
        ib.i.struct_size = small_info[k];
        EXPECT_STATUS(hrnet_session_info(s, &ib.i), HRNET_ERR_INVALID_ARGUMENT, s,
                      "session_info with info.struct_size %zu (< v1 %zu)", small_info[k],
                      (size_t)INFO_V1_SIZE);
        CHECK(ib.i.struct_size == small_info[k] &&
              all_bytes(ib.bytes + sizeof(size_t), sizeof ib - sizeof(size_t), 0x5A),
              "info.struct_size %zu: nothing written", small_info[k]);
    }
    const size_t good_info[] = {INFO_V1_SIZE, sizeof(hrnet_info), sizeof(hrnet_info) + 8, sizeof ib};
    for (size_t k = 0; k < sizeof good_info / sizeof good_info[0]; k++) {
        size_t given = good_info[k];
        memset(&ib, 0x5A, sizeof ib);
        ib.i.struct_size = given;
        if (!EXPECT_STATUS(hrnet_session_info(s, &ib.i), HRNET_OK, s,
                           "session_info with info.struct_size %zu", given))
            continue;
        size_t filled = given < sizeof(hrnet_info) ? given : sizeof(hrnet_info);
        CHECK(ib.i.struct_size == filled,
              "info.struct_size %zu: reports the %zu bytes it filled (got %zu)", given, filled,
              ib.i.struct_size);
        CHECK(all_bytes(ib.bytes + filled, sizeof ib - filled, 0x5A),
              "info.struct_size %zu: nothing written past byte %zu", given, filled);
        CHECK(ib.i.joints == ref.joints && ib.i.input_height == ref.input_height &&
              ib.i.input_width == ref.input_width && ib.i.parameters == ref.parameters &&
              ib.i.gmacs_per_crop == ref.gmacs_per_crop && ib.i.precision == ref.precision,
              "info.struct_size %zu: every v1 field filled", given);
    }

    /* --- hrnet_estimate_options, through both pipeline entry points */
    const int W = 160, H = 200;
    unsigned char *frame = make_frame(W, H);
    hrnet_image fr = {frame, W, H, (size_t)W * 3, HRNET_PIXEL_RGB8};
    hrnet_box box = {30, 20, 90, 170, 1};
    float kref[51], kp[51], cref[51];
    if (!EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, NULL, kref, 51, NULL, NULL, NULL, 0),
                       HRNET_OK, s, "estimate_boxes with NULL options") ||
        !EXPECT_STATUS(hrnet_estimate_crops(s, &fr, 1, NULL, cref, 51, NULL, NULL, 0), HRNET_OK, s,
                       "estimate_crops with NULL options")) {
        free(frame);
        hrnet_session_close(s);
        hrnet_model_release(m);
        return;
    }
    union { hrnet_estimate_options e; unsigned char bytes[sizeof(hrnet_estimate_options) + 256]; } eb;
    const size_t small_est[] = {0, 1, sizeof(size_t), ESTIMATE_OPTIONS_V1_SIZE - 4,
                                ESTIMATE_OPTIONS_V1_SIZE - 1};
    for (size_t k = 0; k < sizeof small_est / sizeof small_est[0]; k++) {
        memset(&eb, 0, sizeof eb);
        hrnet_estimate_options_init(&eb.e);
        eb.e.struct_size = small_est[k];
        EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, &eb.e, kp, 51, NULL, NULL, NULL, 0),
                      HRNET_ERR_INVALID_ARGUMENT, s,
                      "estimate_boxes with options.struct_size %zu (< v1 %zu)", small_est[k],
                      (size_t)ESTIMATE_OPTIONS_V1_SIZE);
        EXPECT_STATUS(hrnet_estimate_crops(s, &fr, 1, &eb.e, kp, 51, NULL, NULL, 0),
                      HRNET_ERR_INVALID_ARGUMENT, s, "estimate_crops with options.struct_size %zu",
                      small_est[k]);
    }
    const size_t good_est[] = {ESTIMATE_OPTIONS_V1_SIZE, sizeof(hrnet_estimate_options),
                               sizeof(hrnet_estimate_options) + 8, sizeof eb};
    for (size_t k = 0; k < sizeof good_est / sizeof good_est[0]; k++) {
        memset(&eb, 0xA5, sizeof eb);
        hrnet_estimate_options_init(&eb.e);
        eb.e.struct_size = good_est[k];
        if (good_est[k] < sizeof eb) memset(eb.bytes + good_est[k], 0xA5, sizeof eb - good_est[k]);
        if (EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, &eb.e, kp, 51, NULL, NULL, NULL, 0),
                          HRNET_OK, s, "estimate_boxes with options.struct_size %zu", good_est[k]))
            CHECK(memcmp(kp, kref, sizeof kp) == 0,
                  "estimate_boxes, options.struct_size %zu: the defaults' keypoints", good_est[k]);
        if (EXPECT_STATUS(hrnet_estimate_crops(s, &fr, 1, &eb.e, kp, 51, NULL, NULL, 0), HRNET_OK, s,
                          "estimate_crops with options.struct_size %zu", good_est[k]))
            CHECK(memcmp(kp, cref, sizeof kp) == 0,
                  "estimate_crops, options.struct_size %zu: the defaults' keypoints", good_est[k]);
    }
    free(frame);
    hrnet_session_close(s);
    hrnet_model_release(m);
}

/* Every function of hrnet.h given NULL for each pointer argument: a status (with a message), or
 * the documented no-op / value. */
static void case_null_args(void)
{
    char path[4096];
    FIXTURE(path, "coco_w8.pth");
    hrnet_options_init(NULL);
    hrnet_estimate_options_init(NULL);
    hrnet_model_release(NULL);
    hrnet_session_close(NULL);
    CHECK(1, "options_init, estimate_options_init, model_release, session_close (NULL): no-ops");
    CHECK(hrnet_last_error(NULL) != NULL, "hrnet_last_error(NULL) is never NULL");

    hrnet_model *m = (hrnet_model *)path; /* must be reset to NULL on failure */
    EXPECT_STATUS(hrnet_model_load(NULL, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_model_load(NULL, NULL)");
    EXPECT_STATUS(hrnet_model_load(NULL, &m), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_model_load(NULL path)");
    CHECK(m == NULL, "hrnet_model_load(NULL path) sets *out_model to NULL");

    /* hrnet_model_load_memory: NULL data, size 0, NULL out, a size no buffer has */
    size_t fsize = 0;
    unsigned char *bytes = read_all(path, &fsize);
    if (CHECK(bytes != NULL, "read coco_w8.pth")) {
        m = (hrnet_model *)path;
        EXPECT_STATUS(hrnet_model_load_memory(NULL, fsize, &m), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "hrnet_model_load_memory(NULL data)");
        CHECK(m == NULL, "load_memory(NULL data) sets *out_model to NULL");
        EXPECT_STATUS(hrnet_model_load_memory(bytes, 0, &m), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "hrnet_model_load_memory(size 0)");
        EXPECT_STATUS(hrnet_model_load_memory(NULL, 0, &m), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "hrnet_model_load_memory(NULL, 0)");
        EXPECT_STATUS(hrnet_model_load_memory(bytes, fsize, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "hrnet_model_load_memory(NULL out)");
        EXPECT_STATUS(hrnet_model_load_memory(NULL, 0, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "hrnet_model_load_memory(NULL, 0, NULL)");
        EXPECT_STATUS(hrnet_model_load_memory(bytes, SIZE_MAX, &m), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "hrnet_model_load_memory(size SIZE_MAX)");
        m = NULL;
        EXPECT_STATUS(hrnet_model_load_memory(bytes, fsize, &m), HRNET_OK, NULL,
                      "hrnet_model_load_memory(the file's bytes)");
        hrnet_model_release(m);
        free(bytes);
    }

    hrnet_session *s = (hrnet_session *)path;
    EXPECT_STATUS(hrnet_session_open(NULL, NULL, &s), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_open(NULL, NULL, out)");
    CHECK(s == NULL, "hrnet_session_open(NULL path) sets *out_session to NULL");
    EXPECT_STATUS(hrnet_session_open(NULL, NULL, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_open(NULL, NULL, NULL)");
    s = (hrnet_session *)path;
    EXPECT_STATUS(hrnet_session_create(NULL, NULL, &s), HRNET_ERR_INVALID_ARGUMENT, NULL,
                  "hrnet_session_create(NULL model, NULL options)");
    CHECK(s == NULL, "hrnet_session_create(NULL model) sets *out_session to NULL");

    /* the pipeline, on a real session */
    s = NULL;
    if (!EXPECT_STATUS(open_with(path, 0, 0, 1, &s), HRNET_OK, NULL, "open")) return;
    const int W = 120, H = 160;
    unsigned char *frame = make_frame(W, H);
    hrnet_image fr = {frame, W, H, (size_t)W * 3, HRNET_PIXEL_RGB8};
    hrnet_image nodata = {NULL, W, H, (size_t)W * 3, HRNET_PIXEL_RGB8};
    hrnet_box box = {10, 10, 80, 140, 1};
    float kp[51], sc[1], ar[1];
    float *hm = malloc(17 * 64 * 48 * sizeof(float));
    hrnet_estimate_options eo;
    hrnet_estimate_options_init(&eo);
    eo.flip = 0;

    EXPECT_STATUS(hrnet_estimate_crops(NULL, &fr, 1, &eo, kp, 51, sc, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "estimate_crops(NULL session)");
    EXPECT_STATUS(hrnet_estimate_crops(s, NULL, 1, &eo, kp, 51, sc, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_crops(NULL crops)");
    EXPECT_STATUS(hrnet_estimate_crops(s, &fr, 1, &eo, NULL, 51, sc, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_crops(NULL keypoints)");
    EXPECT_STATUS(hrnet_estimate_crops(s, &nodata, 1, &eo, kp, 51, sc, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_crops(crop with NULL data)");
    EXPECT_STATUS(hrnet_estimate_crops(NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "estimate_crops(all NULL)");
    EXPECT_STATUS(hrnet_estimate_crops(s, &fr, 1, NULL, kp, 51, NULL, NULL, 0), HRNET_OK, s,
                  "estimate_crops(NULL options, NULL scores, NULL heatmaps)");

    EXPECT_STATUS(hrnet_estimate_boxes(NULL, &fr, &box, 1, &eo, kp, 51, sc, ar, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "estimate_boxes(NULL session)");
    EXPECT_STATUS(hrnet_estimate_boxes(s, NULL, &box, 1, &eo, kp, 51, sc, ar, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes(NULL frame)");
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, NULL, 1, &eo, kp, 51, sc, ar, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes(NULL boxes)");
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, &eo, NULL, 51, sc, ar, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes(NULL keypoints)");
    EXPECT_STATUS(hrnet_estimate_boxes(s, &nodata, &box, 1, &eo, kp, 51, sc, ar, hm, 17 * 64 * 48),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes(frame with NULL data)");
    EXPECT_STATUS(hrnet_estimate_boxes(NULL, NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "estimate_boxes(all NULL)");
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, NULL, kp, 51, NULL, NULL, NULL, 0), HRNET_OK,
                  s, "estimate_boxes(NULL options, scores, areas, heatmaps)");
    hrnet_estimate_options pairs_null = eo;
    pairs_null.flip = 1;
    pairs_null.flip_pairs = NULL;
    pairs_null.num_flip_pairs = 3;
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, &pairs_null, kp, 51, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes(flip_pairs NULL, num_flip_pairs 3)");

    /* decoding and NMS need no session */
    for (size_t k = 0; k < 17 * 64 * 48; k++) hm[k] = (float)(k % 97) * 0.01f;
    EXPECT_STATUS(hrnet_decode_heatmaps(NULL, 1, 17, 64, 48, NULL, 0, 0, 0, kp, 51),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "decode_heatmaps(NULL heatmaps)");
    EXPECT_STATUS(hrnet_decode_heatmaps(hm, 1, 17, 64, 48, NULL, 0, 0, 0, NULL, 51),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "decode_heatmaps(NULL keypoints)");
    EXPECT_STATUS(hrnet_decode_heatmaps(NULL, 0, 0, 0, 0, NULL, 0, 0, 0, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "decode_heatmaps(all NULL)");
    EXPECT_STATUS(hrnet_decode_heatmaps(hm, 1, 17, 64, 48, NULL, 0, 0, 0, kp, 51), HRNET_OK, NULL,
                  "decode_heatmaps(NULL boxes)");
    CHECK(hrnet_box_area(NULL, 256, 192) == 0, "hrnet_box_area(NULL) is 0");

    float scores[2] = {0.9f, 0.8f}, areas[2] = {1e4f, 1e4f}, two[2 * 51];
    for (int k = 0; k < 2 * 51; k++) two[k] = (float)(k % 51);
    int32_t keep[2];
    size_t nk = 99;
    EXPECT_STATUS(hrnet_oks_nms(NULL, scores, areas, 2, 17, NULL, 0.9f, keep, &nk),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms(NULL keypoints)");
    EXPECT_STATUS(hrnet_oks_nms(two, NULL, areas, 2, 17, NULL, 0.9f, keep, &nk),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms(NULL scores)");
    EXPECT_STATUS(hrnet_oks_nms(two, scores, NULL, 2, 17, NULL, 0.9f, keep, &nk),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms(NULL areas)");
    EXPECT_STATUS(hrnet_oks_nms(two, scores, areas, 2, 17, NULL, 0.9f, NULL, &nk),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms(NULL keep)");
    EXPECT_STATUS(hrnet_oks_nms(two, scores, areas, 2, 17, NULL, 0.9f, keep, NULL),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms(NULL num_kept)");
    EXPECT_STATUS(hrnet_oks_nms(NULL, NULL, NULL, 2, 17, NULL, 0.9f, NULL, NULL),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms(all NULL)");
    nk = 99;
    EXPECT_STATUS(hrnet_oks_nms(NULL, NULL, NULL, 0, 17, NULL, 0.9f, NULL, &nk), HRNET_OK, NULL,
                  "oks_nms(n = 0, NULL arrays)");
    CHECK(nk == 0, "oks_nms(n = 0): num_kept 0 (%zu)", nk);
    if (EXPECT_STATUS(hrnet_oks_nms(two, scores, areas, 2, 17, NULL, 0.9f, keep, &nk), HRNET_OK,
                      NULL, "oks_nms(NULL sigmas: COCO's)"))
        CHECK(nk == 1 && keep[0] == 0, "identical people: the first (higher score) kept");

    /* skeletons: NULL out pointers still give the count */
    const int32_t *pairs = NULL;
    int32_t nl = hrnet_skeleton_limbs(HRNET_SKELETON_COCO17, &pairs);
    CHECK(hrnet_skeleton_limbs(HRNET_SKELETON_COCO17, NULL) == nl && nl > 0,
          "hrnet_skeleton_limbs(coco, NULL) returns the count (%d)", nl);
    int32_t nf = hrnet_skeleton_flip_pairs(HRNET_SKELETON_MPII16, &pairs);
    CHECK(hrnet_skeleton_flip_pairs(HRNET_SKELETON_MPII16, NULL) == nf && nf > 0,
          "hrnet_skeleton_flip_pairs(mpii, NULL) returns the count (%d)", nf);
    CHECK(hrnet_skeleton_limbs(99, NULL) == -1 && hrnet_skeleton_flip_pairs(-1, NULL) == -1,
          "unknown skeleton with NULL pairs: -1");
    CHECK(hrnet_skeleton_joint_name(HRNET_SKELETON_COCO17, 17) == NULL &&
          hrnet_skeleton_sigmas(HRNET_SKELETON_MPII16) == NULL,
          "out-of-range joint name and MPII sigmas are NULL");

    /* the session still works after all that */
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, &eo, kp, 51, sc, ar, hm, 17 * 64 * 48),
                  HRNET_OK, s, "estimate_boxes after the NULL calls");
    free(hm);
    free(frame);
    hrnet_session_close(s);
}

/* Sizes a host computes that no buffer can have: refused before anything of that size is read
 * or allocated (a library that multiplies with wrap-around would run off the buffers, and one
 * compiled with overflow checks would trap). */
static void case_host_overflow(void)
{
    if (sizeof(size_t) != 8) { CHECK(1, "64-bit only"); return; }
    char path[4096];
    hrnet_session *s = NULL;
    if (!EXPECT_STATUS(open_with(FIXTURE(path, "coco_w8.pth"), 0, 0, 1, &s), HRNET_OK, NULL, "open"))
        return;
    const int W = 120, H = 160;
    unsigned char *frame = make_frame(W, H);
    hrnet_image fr = {frame, W, H, (size_t)W * 3, HRNET_PIXEL_RGB8};
    hrnet_box box = {10, 10, 80, 140, 1};
    float kp[51];
    const size_t big_cap = (size_t)INT64_MAX;
    /* n x 2 x 3 x 256 x 192 overflows (n x 51 keypoints does not) */
    const size_t n_overflow = (size_t)1 << 46;
    /* n x 2 x 3 x 256 x 192 floats fits in size_t but not in any memory (2^56 bytes) */
    const size_t n_huge = (size_t)1 << 36;
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, n_overflow, NULL, kp, big_cap, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes n = 2^46 (input size overflows)");
    EXPECT_STATUS(hrnet_estimate_crops(s, &fr, n_overflow, NULL, kp, big_cap, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_crops n = 2^46");
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, n_huge, NULL, kp, big_cap, NULL, NULL, NULL, 0),
                  HRNET_ERR_OUT_OF_MEMORY, s, "estimate_boxes n = 2^36 (2^56 bytes of crops)");
    EXPECT_STATUS(hrnet_estimate_crops(s, &fr, n_huge, NULL, kp, big_cap, NULL, NULL, 0),
                  HRNET_ERR_OUT_OF_MEMORY, s, "estimate_crops n = 2^36");
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, SIZE_MAX, NULL, kp, big_cap, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes n = SIZE_MAX");
    EXPECT_STATUS2(hrnet_estimate_boxes(s, &fr, &box, (size_t)1 << 60, NULL, kp, big_cap, NULL, NULL,
                                        NULL, 0),
                   HRNET_ERR_INVALID_ARGUMENT, HRNET_ERR_BUFFER_TOO_SMALL, s,
                   "estimate_boxes n = 2^60 (keypoints overflow)");
    /* heatmaps requested: n x 17 x 64 x 48 must fit too */
    float hm1[1];
    EXPECT_STATUS2(hrnet_estimate_boxes(s, &fr, &box, n_overflow, NULL, kp, big_cap, NULL, NULL, hm1,
                                        big_cap),
                   HRNET_ERR_INVALID_ARGUMENT, HRNET_ERR_BUFFER_TOO_SMALL, s,
                   "estimate_boxes n = 2^46 with heatmaps");

    /* images whose stride x height overflows, or whose stride is "negative" */
    hrnet_image bad = fr;
    bad.stride = SIZE_MAX / 2;
    EXPECT_STATUS(hrnet_estimate_boxes(s, &bad, &box, 1, NULL, kp, 51, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "frame stride SIZE_MAX/2 (stride x height overflows)");
    EXPECT_STATUS(hrnet_estimate_crops(s, &bad, 1, NULL, kp, 51, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "crop stride SIZE_MAX/2");
    bad.stride = SIZE_MAX;
    EXPECT_STATUS(hrnet_estimate_boxes(s, &bad, &box, 1, NULL, kp, 51, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "frame stride SIZE_MAX");
    bad = fr;
    bad.width = INT32_MAX;
    bad.height = INT32_MAX;
    bad.stride = (size_t)INT32_MAX * 3;
    EXPECT_STATUS(hrnet_estimate_boxes(s, &bad, &box, 1, NULL, kp, 51, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "frame of INT32_MAX x INT32_MAX pixels");
    bad = fr;
    bad.width = -1;
    EXPECT_STATUS(hrnet_estimate_crops(s, &bad, 1, NULL, kp, 51, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "crop of width -1");

    /* flip pairs: a count larger than the model can have is refused before they are read */
    int32_t one_pair[2] = {1, 2};
    hrnet_estimate_options eo;
    hrnet_estimate_options_init(&eo);
    eo.flip_pairs = one_pair;
    eo.num_flip_pairs = INT32_MAX;
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, &eo, kp, 51, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "num_flip_pairs INT32_MAX");
    eo.num_flip_pairs = 9; /* 17 joints hold at most 8 pairs */
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, &eo, kp, 51, NULL, NULL, NULL, 0),
                  HRNET_ERR_INVALID_ARGUMENT, s, "num_flip_pairs 9 for 17 joints");

    /* decoding: shapes whose float count overflows, and sides past the limit */
    float hm[64];
    for (int k = 0; k < 64; k++) hm[k] = (float)k;
    EXPECT_STATUS(hrnet_decode_heatmaps(hm, (size_t)1 << 50, 17, 64, 48, NULL, 0, 0, 0, kp, big_cap),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "decode_heatmaps n = 2^50 (n x 17 x 64 x 48 overflows)");
    EXPECT_STATUS(hrnet_decode_heatmaps(hm, SIZE_MAX, 17, 64, 48, NULL, 0, 0, 0, kp, big_cap),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "decode_heatmaps n = SIZE_MAX");
    EXPECT_STATUS(hrnet_decode_heatmaps(hm, 1, 1, INT32_MAX, INT32_MAX, NULL, 0, 0, 1, kp, 3),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "decode_heatmaps INT32_MAX x INT32_MAX (DARK)");
    EXPECT_STATUS(hrnet_decode_heatmaps(hm, 1, 1, 1, 1 << 20, NULL, 0, 0, 1, kp, 3),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "decode_heatmaps 1 x 2^20 (DARK)");
    EXPECT_STATUS(hrnet_decode_heatmaps(hm, 1, 1, 8, 8, NULL, 0, 0, 1, kp, 3), HRNET_OK, NULL,
                  "decode_heatmaps 8x8 (DARK) still fine");

    /* OKS-NMS: n past int32 (indices are int32), n x joints x 3 overflowing */
    float sc[1] = {1}, ar[1] = {1};
    int32_t keep[1];
    size_t nk = 0;
    EXPECT_STATUS(hrnet_oks_nms(hm, sc, ar, (size_t)1 << 31, 1, NULL, 0.9f, keep, &nk),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms n = 2^31");
    EXPECT_STATUS(hrnet_oks_nms(hm, sc, ar, SIZE_MAX, 17, NULL, 0.9f, keep, &nk),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms n = SIZE_MAX");
    EXPECT_STATUS(hrnet_oks_nms(hm, sc, ar, INT32_MAX, INT32_MAX, NULL, 0.9f, keep, &nk),
                  HRNET_ERR_INVALID_ARGUMENT, NULL, "oks_nms n = joints = INT32_MAX (overflows)");

    /* and the session is still good */
    EXPECT_STATUS(hrnet_estimate_boxes(s, &fr, &box, 1, NULL, kp, 51, NULL, NULL, NULL, 0), HRNET_OK,
                  s, "estimate_boxes afterwards");
    free(frame);
    hrnet_session_close(s);
}

/* --- memory exhaustion under RLIMIT_AS, in a forked child ----------------------------------- */

static long long vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) kb = atoll(line + 7);
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* Caps the address space at its current size plus `extra` bytes. */
static int limit_address_space(long long extra)
{
    long long vm = vm_size_bytes();
    if (vm < 0) return -1;
    struct rlimit r;
    r.rlim_cur = r.rlim_max = (rlim_t)(vm + extra);
    return setrlimit(RLIMIT_AS, &r);
}

/* Exit codes of the limited children: 0 = as expected; 64 + the unexpected status; 100+ for
 * a failed step of the test itself. */
#define LIMITED_SETUP 100
static char g_limited_msg[512];

/* Runs fn in a forked child (which caps its own address space) and returns its exit code, or
 * -signal if it was killed by one. The child's last message comes back through a pipe. */
static int run_limited(int (*fn)(int fd), char *msg, size_t msgcap)
{
    int fds[2];
    if (pipe(fds) != 0) return LIMITED_SETUP;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { close(fds[0]); close(fds[1]); return LIMITED_SETUP; }
    if (pid == 0) {
        close(fds[0]);
        alarm(CASE_TIMEOUT); /* alarms are not inherited: a hang ends in SIGALRM, reported */
        int code = fn(fds[1]);
        _exit(code); /* no atexit handlers: the parent owns the temp files */
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fds[0], msg + got, msgcap - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
        if (got == msgcap - 1) break;
    }
    msg[got] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : LIMITED_SETUP;
}

static void send_msg(int fd, const char *what, const char *msg)
{
    char buf[600];
    int n = snprintf(buf, sizeof buf, "%s: %s", what, msg ? msg : "(NULL)");
    if (n > 0) {
        ssize_t w = write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        (void)w;
    }
}

#define MiB (1024LL * 1024LL)

/* A session at 4096x4096 needs a ~5 GB arena: with 64 MiB to spare it fails, the arena being
 * the allocation that fails; a default session then still fits and runs. */
static int limited_session_arena(int fd)
{
    char path[4096];
    hrnet_model *m = NULL;
    if (hrnet_model_load(FIXTURE(path, "coco_w8.pth"), &m) != HRNET_OK) return LIMITED_SETUP;
    if (limit_address_space(64 * MiB) != 0) return LIMITED_SETUP + 1;
    hrnet_options o;
    hrnet_options_init(&o);
    o.input_height = o.input_width = 4096;
    o.num_threads = 1;
    hrnet_session *s = NULL;
    hrnet_status st = hrnet_session_create(m, &o, &s);
    send_msg(fd, "4096x4096 session_create", hrnet_last_error(NULL));
    if (st != HRNET_ERR_OUT_OF_MEMORY) return 64 + (int)st;
    if (s != NULL) return LIMITED_SETUP + 2;
    o.input_height = o.input_width = 0;
    if (hrnet_session_create(m, &o, &s) != HRNET_OK) return LIMITED_SETUP + 3;
    size_t nin = 3 * 256 * 192, nout = 17 * 64 * 48;
    float *x = calloc(nin, sizeof(float)), *y = malloc(nout * sizeof(float));
    if (!x || !y || hrnet_forward(s, x, 1, nin, y, nout) != HRNET_OK) return LIMITED_SETUP + 4;
    hrnet_session_close(s);
    hrnet_model_release(m);
    return 0;
}

/* hrnet_session_open under the same cap: the checkpoint loads, the arena fails. */
static int limited_session_open(int fd)
{
    char path[4096];
    FIXTURE(path, "coco_w8.pth");
    if (limit_address_space(64 * MiB) != 0) return LIMITED_SETUP + 1;
    hrnet_options o;
    hrnet_options_init(&o);
    o.input_height = o.input_width = 4096;
    o.num_threads = 1;
    hrnet_session *s = NULL;
    hrnet_status st = hrnet_session_open(path, &o, &s);
    send_msg(fd, "4096x4096 session_open", hrnet_last_error(NULL));
    return st == HRNET_ERR_OUT_OF_MEMORY && s == NULL ? 0 : 64 + (int)st;
}

/* The same for a BF16 session (whose plan also holds BF16 weight copies), where the CPU has it. */
static int limited_session_bf16(int fd)
{
    char path[4096];
    hrnet_model *m = NULL;
    if (hrnet_model_load(FIXTURE(path, "coco_w8.pth"), &m) != HRNET_OK) return LIMITED_SETUP;
    if (limit_address_space(64 * MiB) != 0) return LIMITED_SETUP + 1;
    hrnet_options o;
    hrnet_options_init(&o);
    o.input_height = o.input_width = 4096;
    o.num_threads = 1;
    o.precision = HRNET_PRECISION_BF16;
    hrnet_session *s = NULL;
    hrnet_status st = hrnet_session_create(m, &o, &s);
    send_msg(fd, "BF16 4096x4096 session_create", hrnet_last_error(NULL));
    if (st == HRNET_ERR_INVALID_ARGUMENT && strstr(hrnet_last_error(NULL), "AVX512_BF16")) return 0;
    return st == HRNET_ERR_OUT_OF_MEMORY && s == NULL ? 0 : 64 + (int)st;
}

/* The pipeline's buffers grow with n: 1000 boxes need ~1.2 GB of crops. With 64 MiB to spare
 * the call fails with OUT_OF_MEMORY (the crop buffer is the allocation that fails), and the
 * session still runs one box afterwards, with the same result as before. */
static int limited_pipeline(int fd, int crops)
{
    char path[4096];
    hrnet_session *s = NULL;
    if (open_with(FIXTURE(path, "coco_w8.pth"), 0, 0, 1, &s) != HRNET_OK) return LIMITED_SETUP;
    const int W = 160, H = 200;
    const size_t n = 1000;
    unsigned char *frame = make_frame(W, H);
    hrnet_image fr = {frame, W, H, (size_t)W * 3, HRNET_PIXEL_RGB8};
    hrnet_box *boxes = malloc(n * sizeof *boxes);
    hrnet_image *images = malloc(n * sizeof *images);
    float *kp = malloc(n * 51 * sizeof(float)), *sc = malloc(n * sizeof(float));
    float first[51];
    if (!frame || !boxes || !images || !kp || !sc) return LIMITED_SETUP + 1;
    for (size_t i = 0; i < n; i++) {
        boxes[i] = (hrnet_box){(float)(i % 50), 10, 90, 170, 1};
        images[i] = fr;
    }
    hrnet_status st = crops ? hrnet_estimate_crops(s, images, 1, NULL, first, 51, NULL, NULL, 0)
                            : hrnet_estimate_boxes(s, &fr, boxes, 1, NULL, first, 51, NULL, NULL, NULL, 0);
    if (st != HRNET_OK) return LIMITED_SETUP + 2;
    if (limit_address_space(64 * MiB) != 0) return LIMITED_SETUP + 3;
    st = crops ? hrnet_estimate_crops(s, images, n, NULL, kp, n * 51, sc, NULL, 0)
               : hrnet_estimate_boxes(s, &fr, boxes, n, NULL, kp, n * 51, sc, NULL, NULL, 0);
    send_msg(fd, crops ? "estimate_crops of 1000" : "estimate_boxes of 1000", hrnet_last_error(s));
    if (st != HRNET_ERR_OUT_OF_MEMORY) return 64 + (int)st;
    st = crops ? hrnet_estimate_crops(s, images, 1, NULL, kp, 51, NULL, NULL, 0)
               : hrnet_estimate_boxes(s, &fr, boxes, 1, NULL, kp, 51, NULL, NULL, NULL, 0);
    if (st != HRNET_OK) return LIMITED_SETUP + 4;
    if (memcmp(kp, first, sizeof first) != 0) return LIMITED_SETUP + 5;
    hrnet_session_close(s);
    return 0;
}
static int limited_boxes(int fd) { return limited_pipeline(fd, 0); }
static int limited_crops(int fd) { return limited_pipeline(fd, 1); }

/* hrnet_forward allocates nothing: once the session has run (its OpenMP threads started), it
 * runs with the address space capped at its current size. */
static int limited_forward(int fd)
{
    char path[4096];
    hrnet_session *s = NULL;
    if (open_with(FIXTURE(path, "coco_w8.pth"), 0, 0, 2, &s) != HRNET_OK) return LIMITED_SETUP;
    size_t nin = 3 * 256 * 192, nout = 17 * 64 * 48;
    float *x = malloc(2 * nin * sizeof(float)), *y = malloc(2 * nout * sizeof(float));
    float *y2 = malloc(2 * nout * sizeof(float));
    if (!x || !y || !y2) return LIMITED_SETUP + 1;
    for (size_t i = 0; i < 2 * nin; i++) x[i] = (float)sin(0.001 * (double)i);
    /* batch 1 (layers split between threads) and 2 (a crop per thread) */
    if (hrnet_forward(s, x, 1, nin, y, nout) != HRNET_OK ||
        hrnet_forward(s, x, 2, 2 * nin, y, 2 * nout) != HRNET_OK)
        return LIMITED_SETUP + 2;
    if (limit_address_space(0) != 0) return LIMITED_SETUP + 3;
    hrnet_status st = hrnet_forward(s, x, 1, nin, y2, nout);
    send_msg(fd, "forward batch 1", hrnet_last_error(s));
    if (st != HRNET_OK) return 64 + (int)st;
    st = hrnet_forward(s, x, 2, 2 * nin, y2, 2 * nout);
    send_msg(fd, "forward batch 2", hrnet_last_error(s));
    if (st != HRNET_OK) return 64 + (int)st;
    if (memcmp(y, y2, 2 * nout * sizeof(float)) != 0) return LIMITED_SETUP + 4;
    hrnet_session_close(s);
    return 0;
}

/* Loading under caps where the loader's tensor and packed-weight allocations are the ones that
 * fail (measured: below about +12 MiB the file mapping and the pickle's own small allocations
 * fail first; from about +30 MiB the load succeeds). Each cap must end in a status. */
static long long g_load_cap;
static int limited_load(int fd)
{
    char path[4096];
    FIXTURE(path, "coco_w8.pth");
    if (limit_address_space(g_load_cap) != 0) return LIMITED_SETUP + 1;
    hrnet_model *m = NULL;
    hrnet_status st = hrnet_model_load(path, &m);
    send_msg(fd, "model_load", st == HRNET_OK ? "ok" : hrnet_last_error(NULL));
    if (st == HRNET_OK) return 0;
    return m == NULL ? 64 + (int)st : LIMITED_SETUP + 2;
}
static unsigned char *g_load_bytes;
static size_t g_load_size;
static int limited_load_memory(int fd)
{
    if (limit_address_space(g_load_cap) != 0) return LIMITED_SETUP + 1;
    hrnet_model *m = NULL;
    hrnet_status st = hrnet_model_load_memory(g_load_bytes, g_load_size, &m);
    send_msg(fd, "model_load_memory", st == HRNET_OK ? "ok" : hrnet_last_error(NULL));
    if (st == HRNET_OK) return 0;
    return m == NULL ? 64 + (int)st : LIMITED_SETUP + 2;
}

static void expect_limited(const char *what, int (*fn)(int fd))
{
    int code = run_limited(fn, g_limited_msg, sizeof g_limited_msg);
    if (code < 0)
        CHECK(0, "%s under RLIMIT_AS: killed by signal %d (%s) - an allocation aborted instead of "
                 "reporting HRNET_ERR_OUT_OF_MEMORY; last message \"%s\"", what, -code,
              -code == SIGABRT ? "SIGABRT" : -code == SIGSEGV ? "SIGSEGV" : "?", g_limited_msg);
    else if (code >= 64 && code < LIMITED_SETUP)
        CHECK(0, "%s under RLIMIT_AS: %s, expected HRNET_ERR_OUT_OF_MEMORY (\"%s\")", what,
              status_name((hrnet_status)(code - 64)), g_limited_msg);
    else
        CHECK(code == 0, "%s under RLIMIT_AS: %s (\"%s\")", what,
              code == 0 ? "as expected" : "test setup failed", g_limited_msg);
}

static void case_out_of_memory(void)
{
    expect_limited("4096x4096 session_create, 64 MiB to spare", limited_session_arena);
    CHECK(strstr(g_limited_msg, "allocate") != NULL, "the message names the failed allocation: \"%s\"",
          g_limited_msg);
    expect_limited("4096x4096 session_open, 64 MiB to spare", limited_session_open);
    expect_limited("BF16 4096x4096 session_create, 64 MiB to spare", limited_session_bf16);
    expect_limited("estimate_boxes of 1000 boxes, 64 MiB to spare", limited_boxes);
    expect_limited("estimate_crops of 1000 crops, 64 MiB to spare", limited_crops);
    expect_limited("hrnet_forward with no memory to spare", limited_forward);

    char path[4096];
    g_load_bytes = read_all(FIXTURE(path, "coco_w8.pth"), &g_load_size);
    if (!CHECK(g_load_bytes != NULL, "read coco_w8.pth")) return;
    static const int caps_mib[] = {16, 20, 24};
    int refused = 0;
    for (size_t k = 0; k < sizeof caps_mib / sizeof caps_mib[0]; k++) {
        g_load_cap = caps_mib[k] * MiB;
        char what[96];
        snprintf(what, sizeof what, "hrnet_model_load with %d MiB to spare", caps_mib[k]);
        int code = run_limited(limited_load, g_limited_msg, sizeof g_limited_msg);
        CHECK(code == 0 || code == 64 + HRNET_ERR_OUT_OF_MEMORY,
              "%s: OK or HRNET_ERR_OUT_OF_MEMORY (%s%d: \"%s\")", what,
              code < 0 ? "signal " : "exit ", code < 0 ? -code : code, g_limited_msg);
        refused += code == 64 + HRNET_ERR_OUT_OF_MEMORY;
        snprintf(what, sizeof what, "hrnet_model_load_memory with %d MiB to spare", caps_mib[k]);
        code = run_limited(limited_load_memory, g_limited_msg, sizeof g_limited_msg);
        CHECK(code == 0 || code == 64 + HRNET_ERR_OUT_OF_MEMORY,
              "%s: OK or HRNET_ERR_OUT_OF_MEMORY (%s%d: \"%s\")", what,
              code < 0 ? "signal " : "exit ", code < 0 ? -code : code, g_limited_msg);
        refused += code == 64 + HRNET_ERR_OUT_OF_MEMORY;
    }
    CHECK(refused > 0, "some capped loads fail with HRNET_ERR_OUT_OF_MEMORY (%d)", refused);
    free(g_load_bytes);
}

/* hrnet_model_load of the same file from several threads at once (and hrnet_model_load_memory of
 * one shared buffer): every load succeeds and every model gives the same heatmaps. */
#define LOAD_THREADS 4
#define LOADS_PER_THREAD 3
typedef struct {
    const char *path;
    const unsigned char *bytes;
    size_t size;
    const float *x;
    float *y[LOADS_PER_THREAD];
    hrnet_status status[LOADS_PER_THREAD];
    char error[256];
} load_job;

static void *concurrent_loader(void *arg)
{
    load_job *j = arg;
    for (int k = 0; k < LOADS_PER_THREAD; k++) {
        hrnet_model *m = NULL;
        j->status[k] = j->bytes ? hrnet_model_load_memory(j->bytes, j->size, &m)
                                : hrnet_model_load(j->path, &m);
        if (j->status[k] != HRNET_OK) {
            snprintf(j->error, sizeof j->error, "%s", hrnet_last_error(NULL));
            continue;
        }
        hrnet_options o;
        hrnet_options_init(&o);
        o.num_threads = 1;
        hrnet_session *s = NULL;
        j->status[k] = hrnet_session_create(m, &o, &s);
        hrnet_model_release(m);
        if (j->status[k] != HRNET_OK) {
            snprintf(j->error, sizeof j->error, "%s", hrnet_last_error(NULL));
            continue;
        }
        j->status[k] = hrnet_forward(s, j->x, 1, 3 * 256 * 192, j->y[k], 17 * 64 * 48);
        if (j->status[k] != HRNET_OK) snprintf(j->error, sizeof j->error, "%s", hrnet_last_error(s));
        hrnet_session_close(s);
    }
    return NULL;
}

static void case_concurrent_load(void)
{
    static const size_t in_shape[] = {2, 3, 256, 192};
    npy_array xa;
    if (!load_fixture(&xa, "coco_w8_input.npy", 4, in_shape)) return;
    float *x = to_float(xa.data, 3 * 256 * 192);
    char path[4096];
    FIXTURE(path, "coco_w8.pth");
    size_t size = 0;
    unsigned char *bytes = read_all(path, &size);
    if (!CHECK(bytes != NULL, "read coco_w8.pth")) { free(x); npy_free(&xa); return; }
    const size_t nout = 17 * 64 * 48;
    load_job jobs[LOAD_THREADS];
    pthread_t th[LOAD_THREADS];
    int started[LOAD_THREADS];
    memset(jobs, 0, sizeof jobs);
    for (int t = 0; t < LOAD_THREADS; t++) {
        jobs[t].path = path;
        /* threads 0 and 2 load the file, 1 and 3 the same bytes from one shared buffer */
        jobs[t].bytes = (t % 2) ? bytes : NULL;
        jobs[t].size = size;
        jobs[t].x = x;
        for (int k = 0; k < LOADS_PER_THREAD; k++) {
            jobs[t].y[k] = malloc(nout * sizeof(float));
            for (size_t i = 0; i < nout; i++) jobs[t].y[k][i] = NAN;
        }
    }
    for (int t = 0; t < LOAD_THREADS; t++)
        started[t] = pthread_create(&th[t], NULL, concurrent_loader, &jobs[t]) == 0;
    for (int t = 0; t < LOAD_THREADS; t++)
        if (started[t]) pthread_join(th[t], NULL);
    const float *ref = NULL;
    for (int t = 0; t < LOAD_THREADS; t++) {
        if (!CHECK(started[t], "pthread_create %d", t)) continue;
        for (int k = 0; k < LOADS_PER_THREAD; k++) {
            CHECK(jobs[t].status[k] == HRNET_OK, "thread %d (%s) load %d: %s%s%s", t,
                  jobs[t].bytes ? "memory" : "file", k, status_name(jobs[t].status[k]),
                  jobs[t].error[0] ? " - " : "", jobs[t].error);
            if (jobs[t].status[k] != HRNET_OK) continue;
            if (!ref) ref = jobs[t].y[k];
            else
                CHECK(memcmp(ref, jobs[t].y[k], nout * sizeof(float)) == 0,
                      "thread %d load %d: heatmaps identical to the first (max diff %.3g)", t, k,
                      max_abs_diff_f(ref, jobs[t].y[k], nout));
        }
    }
    static const size_t out_shape[] = {2, 17, 64, 48};
    npy_array truth;
    if (ref && load_fixture(&truth, "coco_w8_heatmaps_f64.npy", 4, out_shape)) {
        double e = max_abs_err(ref, truth.data, nout);
        CHECK(e <= TOL, "concurrently loaded model: max abs error %.3g <= %.0e", e, TOL);
        npy_free(&truth);
    }
    CHECK(bytes[0] == 'P' && bytes[1] == 'K', "the shared buffer was not written");
    for (int t = 0; t < LOAD_THREADS; t++)
        for (int k = 0; k < LOADS_PER_THREAD; k++) free(jobs[t].y[k]);
    free(bytes);
    free(x);
    npy_free(&xa);
}

/* ---------------------------------------------------------------------------------------- */
/* Driver                                                                                    */

typedef struct { const char *name; void (*fn)(void); } test_case;

/* ---------------------------------------------------------------------------------------- */
/* The tracker: a figure (Tests/fixtures/tracker_figure_rgb.npy, made by make_tracker_figure.py)
 * walking right over a plain background.                                                    */

#define TRK_W 480
#define TRK_H 240
static const float FIGURE_BOX[4] = {9.920f, 15.270f, 66.697f, 159.031f};

typedef struct {
    int64_t ids[16];
    float kp[16 * 17 * 3], raw[16 * 17 * 3], scores[16], boxes[16 * 4], cov[16 * 17 * 4];
    int32_t since[16];
    hrnet_tracker_result r;
} trk_out;

static void trk_out_init(trk_out *o, size_t capacity)
{
    memset(o, 0, sizeof *o);
    o->r.struct_size = sizeof o->r;
    o->r.capacity = capacity;
    o->r.track_ids = o->ids;
    o->r.keypoints = o->kp;
    o->r.raw_keypoints = o->raw;
    o->r.scores = o->scores;
    o->r.boxes = o->boxes;
    o->r.frames_since_detected = o->since;
    o->r.covariances = o->cov;
}

/* The scene with the figure's left edge at x. */
static void trk_scene(uint8_t *frame, const npy_array *fig, int x)
{
    for (size_t i = 0; i < (size_t)TRK_W * TRK_H; i++) {
        frame[3 * i] = 60; frame[3 * i + 1] = 110; frame[3 * i + 2] = 90;
    }
    size_t fh = fig->shape[0], fw = fig->shape[1];
    for (size_t r = 0; r < fh && r < TRK_H; r++)
        for (size_t c = 0; c < fw; c++) {
            long X = x + (long)c;
            if (X < 0 || X >= TRK_W) continue;
            for (int ch = 0; ch < 3; ch++)
                frame[(r * TRK_W + (size_t)X) * 3 + ch] = (uint8_t)fig->data[(r * fw + c) * 3 + ch];
        }
}

/* One update with the figure at x, boxed by a detector if `detect`. */
static hrnet_status trk_step(hrnet_tracker *t, hrnet_session *s, uint8_t *frame, const npy_array *fig,
                             int x, int detect, double ts, trk_out *o)
{
    trk_scene(frame, fig, x);
    hrnet_image img = {frame, TRK_W, TRK_H, TRK_W * 3, HRNET_PIXEL_RGB8};
    hrnet_box b = {FIGURE_BOX[0] + (float)x, FIGURE_BOX[1], FIGURE_BOX[2], FIGURE_BOX[3], 0.9f};
    return hrnet_tracker_update(t, s, &img, ts, detect ? &b : NULL, detect ? 1 : 0, NULL, &o->r);
}

static void case_tracker(void)
{
    char path[4096];
    npy_array fig;
    size_t shape[3] = {240, 90, 3};
    if (!load_fixture(&fig, "tracker_figure_rgb.npy", 3, shape)) return;
    hrnet_session *s = NULL;
    if (!EXPECT_STATUS(open_with(path_in(path, sizeof path, "models/synth_w16_128x96.pth"), 128, 96, 1, &s),
                       HRNET_OK, NULL, "open the synthetic model")) { npy_free(&fig); return; }
    uint8_t *frame = malloc((size_t)TRK_W * TRK_H * 3);
    trk_out o, o2;

    /* options: defaults, and each bad value refused with *out reset to NULL */
    hrnet_tracker_options opt;
    hrnet_tracker_options_init(&opt);
    CHECK(opt.struct_size == sizeof opt && opt.smoothing == 1 && opt.confirm_frames == 1 &&
          opt.max_lost_frames == 30 && opt.match_threshold > 0 && opt.min_cutoff > 0,
          "tracker options defaults");
    hrnet_tracker_options_init(NULL);
    hrnet_tracker_close(NULL);
    hrnet_tracker_reset(NULL);
    for (int k = 0; k < 9; k++) {
        hrnet_tracker_options b;
        hrnet_tracker_options_init(&b);
        switch (k) {
        case 0: b.min_cutoff = 0; break;
        case 1: b.beta = -1; break;
        case 2: b.derivative_cutoff = NAN; break;
        case 3: b.match_threshold = 1.5; break;
        case 4: b.max_lost_frames = -1; break;
        case 5: b.confirm_frames = 0; break;
        case 6: b.smoothing = 2; break;
        case 7: b.nms_threshold = INFINITY; break;
        case 8: b.struct_size = sizeof b - 1; break;
        }
        hrnet_tracker *t = (hrnet_tracker *)frame;
        EXPECT_STATUS(hrnet_tracker_create(&b, &t), HRNET_ERR_INVALID_ARGUMENT, NULL, "tracker option case %d", k);
        CHECK(t == NULL, "*out_tracker is NULL after a refused option (case %d)", k);
        CHECK(strlen(hrnet_last_error(NULL)) > 0, "a message for bad option case %d", k);
    }
    EXPECT_STATUS(hrnet_tracker_create(NULL, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "tracker_create(NULL out)");

    hrnet_tracker *t = NULL, *ref = NULL;
    if (!EXPECT_STATUS(hrnet_tracker_create(NULL, &t), HRNET_OK, NULL, "tracker_create(defaults)") ||
        !EXPECT_STATUS(hrnet_tracker_create(&opt, &ref), HRNET_OK, NULL, "tracker_create(options)")) goto done;

    /* NULL and out-of-range arguments */
    trk_out_init(&o, 16);
    hrnet_image img = {frame, TRK_W, TRK_H, TRK_W * 3, HRNET_PIXEL_RGB8};
    hrnet_box box = {10, 10, 50, 100, 1};
    EXPECT_STATUS(hrnet_tracker_update(NULL, s, &img, 0, &box, 1, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(NULL tracker)");
    EXPECT_STATUS(hrnet_tracker_update(t, NULL, &img, 0, &box, 1, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, NULL, "update(NULL session)");
    EXPECT_STATUS(hrnet_tracker_update(t, s, NULL, 0, &box, 1, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(NULL frame)");
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, 0, NULL, 1, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(NULL boxes, n 1)");
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, 0, &box, 1, NULL, NULL), HRNET_ERR_INVALID_ARGUMENT, s, "update(NULL result)");
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, 0, &box, (size_t)1 << 40, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(n 2^40)");
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, 0, &box, SIZE_MAX, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(n SIZE_MAX)");
    o.r.struct_size = 8;
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, 0, &box, 1, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(result struct_size 8)");
    trk_out_init(&o, 16);
    o.r.track_ids = NULL;
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, 0, &box, 1, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(NULL track_ids)");
    trk_out_init(&o, 16);
    hrnet_box outside = {1000, 0, 10, 10, 1};
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, 0, &outside, 1, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(box outside the frame)");
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, NAN, NULL, 0, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(NaN timestamp)");
    EXPECT_STATUS(hrnet_tracker_update(t, s, &img, INFINITY, NULL, 0, NULL, &o.r), HRNET_ERR_INVALID_ARGUMENT, s, "update(infinite timestamp)");
    /* no boxes and no tracks: zero people */
    if (EXPECT_STATUS(hrnet_tracker_update(t, s, &img, 0, NULL, 0, NULL, &o.r), HRNET_OK, s, "update(no boxes, no tracks)"))
        CHECK(o.r.count == 0, "no boxes and no tracks: %zu people", o.r.count);
    /* estimate_boxes with zero boxes: OK, nothing written, outputs may be NULL */
    EXPECT_STATUS(hrnet_estimate_boxes(s, &img, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, 0), HRNET_OK, s, "estimate_boxes(n 0)");
    EXPECT_STATUS(hrnet_estimate_boxes(s, NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, 0), HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes(n 0, NULL frame)");
    hrnet_tracker_reset(t);

    /* The figure walks right 8 px a frame; the detector runs on every third frame. Each failure
     * in between must leave the tracker as it was: `t` gets bad calls, `ref` does not, and both
     * must report exactly the same people. */
    int64_t first_id = -1;
    for (int f = 0; f < 12; f++) {
        int x = 40 + 8 * f, detect = f % 3 == 0;
        double ts = f / 30.0;
        if (f == 5) {
            EXPECT_STATUS(trk_step(t, s, frame, &fig, x, detect, ts - 1.0, &o), HRNET_ERR_INVALID_ARGUMENT, s, "decreasing timestamp");
            CHECK(strstr(hrnet_last_error(s), "timestamp") != NULL, "the message names the timestamp: %s", hrnet_last_error(s));
            trk_out_init(&o, 0);
            EXPECT_STATUS(trk_step(t, s, frame, &fig, x, detect, ts, &o), HRNET_ERR_BUFFER_TOO_SMALL, s, "capacity 0 for one person");
            CHECK(o.r.count == 1, "result->count gives the people needed (%zu)", o.r.count);
        }
        trk_out_init(&o, 16);
        trk_out_init(&o2, 16);
        hrnet_status a = trk_step(t, s, frame, &fig, x, detect, ts, &o);
        hrnet_status b = trk_step(ref, s, frame, &fig, x, detect, ts, &o2);
        if (!EXPECT_STATUS(a, HRNET_OK, s, "frame %d", f) || !EXPECT_STATUS(b, HRNET_OK, s, "frame %d (reference)", f)) break;
        if (!CHECK(o.r.count == 1 && o2.r.count == 1, "frame %d: one person (%zu, %zu)", f, o.r.count, o2.r.count)) break;
        if (f == 0) first_id = o.ids[0];
        CHECK(o.ids[0] == first_id && first_id >= 1, "frame %d: the same id (%lld, first %lld)", f, (long long)o.ids[0], (long long)first_id);
        CHECK(o.since[0] == f % 3, "frame %d: frames since detected %d", f, o.since[0]);
        CHECK(o.cov[0] > 0 && o.cov[3] > 0 && o.cov[1] == o.cov[2], "frame %d: covariances reported", f);
        CHECK(memcmp(o.kp, o2.kp, 17 * 3 * sizeof(float)) == 0 && memcmp(o.raw, o2.raw, 17 * 3 * sizeof(float)) == 0 &&
              o.scores[0] == o2.scores[0] && memcmp(o.boxes, o2.boxes, 4 * sizeof(float)) == 0,
              "frame %d: the same result as a tracker that saw no failed call", f);
        /* the nose is near the figure's head (within its box) */
        CHECK(o.raw[0] > x + FIGURE_BOX[0] && o.raw[0] < x + FIGURE_BOX[0] + FIGURE_BOX[2] && o.raw[2] > 0.2f,
              "frame %d: nose at x %.1f in the figure's box", f, o.raw[0]);
        if (detect) CHECK(o.boxes[0] == FIGURE_BOX[0] + (float)x && o.scores[0] > 0 && o.scores[0] <= 0.9f,
                          "frame %d: the detector's box and a score scaled by its 0.9", f);
    }
    /* an equal timestamp is allowed */
    trk_out_init(&o, 16);
    EXPECT_STATUS(trk_step(t, s, frame, &fig, 40 + 8 * 11, 1, 11 / 30.0, &o), HRNET_OK, s, "equal timestamp");
    /* reset: tracks forgotten, ids never given again */
    hrnet_tracker_reset(t);
    trk_out_init(&o, 16);
    if (EXPECT_STATUS(trk_step(t, s, frame, &fig, 100, 1, 0.0, &o), HRNET_OK, s, "after reset (time starts again)"))
        CHECK(o.r.count == 1 && o.ids[0] > first_id, "after reset: a new id %lld > %lld", (long long)o.ids[0], (long long)first_id);
    /* only track_ids and keypoints are required */
    trk_out_init(&o, 16);
    o.r.raw_keypoints = NULL; o.r.scores = NULL; o.r.boxes = NULL; o.r.frames_since_detected = NULL; o.r.covariances = NULL;
    EXPECT_STATUS(trk_step(t, s, frame, &fig, 108, 0, 1 / 30.0, &o), HRNET_OK, s, "optional arrays NULL");
    /* a model with another joint count is refused until reset */
    hrnet_session *mpii = NULL;
    if (EXPECT_STATUS(open_with(FIXTURE(path, "mpii_w16_b2.pth"), 0, 0, 1, &mpii), HRNET_OK, NULL, "open mpii")) {
        trk_out_init(&o, 16);
        EXPECT_STATUS(trk_step(t, mpii, frame, &fig, 116, 1, 2 / 30.0, &o), HRNET_ERR_INVALID_ARGUMENT, mpii, "16-joint session on 17-joint tracks");
        hrnet_tracker_reset(t);
        EXPECT_STATUS(trk_step(t, mpii, frame, &fig, 116, 1, 2 / 30.0, &o), HRNET_OK, mpii, "16-joint session after reset");
        hrnet_session_close(mpii);
    }
done:
    hrnet_tracker_close(t);
    hrnet_tracker_close(ref);
    hrnet_session_close(s);
    free(frame);
    npy_free(&fig);
}


/* hrnet_keypoint_covariances: arguments, and a valid call's shape. */
static void case_covariances(void)
{
    enum { K = 2, HH = 32, HW = 24 };
    float *hm = malloc(sizeof(float) * K * HH * HW), cov[K * 4];
    for (int j = 0; j < K; j++)
        for (int y = 0; y < HH; y++)
            for (int x = 0; x < HW; x++) {
                double dx = x - 10, dy = y - 14, s = j == 0 ? 2.0 : 4.0;
                hm[(j * HH + y) * HW + x] = (float)exp(-(dx * dx + dy * dy) / (2 * s * s));
            }
    hrnet_box box = {40, 30, 60, 80, 1};
    if (EXPECT_STATUS(hrnet_keypoint_covariances(hm, 1, K, HH, HW, &box, 128, 96, cov, K * 4), HRNET_OK, NULL, "covariances")) {
        for (int j = 0; j < K; j++)
            CHECK(cov[4 * j + 1] == cov[4 * j + 2] && cov[4 * j] > 0 && cov[4 * j + 3] > 0 &&
                  cov[4 * j] * cov[4 * j + 3] > cov[4 * j + 1] * cov[4 * j + 1],
                  "joint %d: symmetric positive definite (%g %g %g %g)", j, cov[4 * j], cov[4 * j + 1], cov[4 * j + 2], cov[4 * j + 3]);
        CHECK(cov[4] > cov[0], "the flatter heatmap is less sure (%g > %g)", cov[4], cov[0]);
    }
    EXPECT_STATUS(hrnet_keypoint_covariances(NULL, 1, K, HH, HW, NULL, 0, 0, cov, K * 4), HRNET_ERR_INVALID_ARGUMENT, NULL, "covariances(NULL heatmaps)");
    EXPECT_STATUS(hrnet_keypoint_covariances(hm, 1, K, HH, HW, NULL, 0, 0, NULL, K * 4), HRNET_ERR_INVALID_ARGUMENT, NULL, "covariances(NULL out)");
    EXPECT_STATUS(hrnet_keypoint_covariances(hm, 1, K, HH, HW, NULL, 0, 0, cov, K * 4 - 1), HRNET_ERR_BUFFER_TOO_SMALL, NULL, "covariances(capacity short by one)");
    EXPECT_STATUS(hrnet_keypoint_covariances(hm, 0, K, HH, HW, NULL, 0, 0, cov, K * 4), HRNET_ERR_INVALID_ARGUMENT, NULL, "covariances(n 0)");
    EXPECT_STATUS(hrnet_keypoint_covariances(hm, 1, K, 0, HW, NULL, 0, 0, cov, K * 4), HRNET_ERR_INVALID_ARGUMENT, NULL, "covariances(height 0)");
    EXPECT_STATUS(hrnet_keypoint_covariances(hm, (size_t)1 << 62, K, HH, HW, NULL, 0, 0, cov, SIZE_MAX), HRNET_ERR_INVALID_ARGUMENT, NULL, "covariances(n 2^62)");
    EXPECT_STATUS(hrnet_keypoint_covariances(hm, 1, K, HH, HW, NULL, 128, 0, cov, K * 4), HRNET_ERR_INVALID_ARGUMENT, NULL, "covariances(input 128x0)");
    hrnet_box bad = {0, 0, 0, 10, 1};
    EXPECT_STATUS(hrnet_keypoint_covariances(hm, 1, K, HH, HW, &bad, 0, 0, cov, K * 4), HRNET_ERR_INVALID_ARGUMENT, NULL, "covariances(box of width 0)");
    hm[5] = NAN;
    EXPECT_STATUS(hrnet_keypoint_covariances(hm, 1, K, HH, HW, NULL, 0, 0, cov, K * 4), HRNET_ERR_INVALID_ARGUMENT, NULL, "covariances(NaN heatmap)");
    free(hm);
}

/* ---------------------------------------------------------------------------------------- */
/* hrnet_lift_depth: arguments, sizes, and a flat wall's exact back-projection               */

enum { DEPTH_W = 64, DEPTH_H = 48, DEPTH_J = 4 };

/* A wall at 2.345 m: uint16 millimetres with rows of `stride` bytes, float32 metres likewise. */
static void *depth_wall(int format, size_t stride)
{
    unsigned char *d = malloc(stride * DEPTH_H);
    if (!d) return NULL;
    memset(d, 0xEE, stride * DEPTH_H); /* padding past each row: never read as depth */
    for (int y = 0; y < DEPTH_H; y++)
        for (int x = 0; x < DEPTH_W; x++) {
            if (format == HRNET_DEPTH_UINT16_MM) {
                uint16_t v = 2345;
                memcpy(d + y * stride + 2 * (size_t)x, &v, 2);
            } else {
                float v = 2.345f;
                memcpy(d + y * stride + 4 * (size_t)x, &v, 4);
            }
        }
    return d;
}

static void case_depth(void)
{
    hrnet_lift_options opt;
    hrnet_lift_options_init(&opt);
    hrnet_lift_options_init(NULL);
    CHECK(opt.struct_size == sizeof opt && opt.window_radius == 4 && fabsf(opt.min_score - 0.2f) < 1e-7f &&
          opt.cluster_gap == 0.05 && opt.depth_noise == 0.01 && opt.min_depth == 0.1 && opt.max_depth == 20.0,
          "lift options defaults");
    const hrnet_intrinsics in = {500.0, 520.0, 31.5, 23.5};
    /* two people of DEPTH_J joints: inside, fractional, at a corner, and not lifted */
    const float kp[2 * DEPTH_J * 3] = {
        10.25f, 20.75f, 0.9f,   0.0f, 0.0f, 1.0f,   63.4f, 47.4f, 0.5f,   30.0f, 30.0f, 0.1f /* low score */,
        -0.6f, 10.0f, 0.9f /* outside */,   5.5f, 7.5f, 0.3f,   NAN, 3.0f, 1.0f /* NaN */,   40.0f, 12.0f, 0.2f,
    };
    const int lifted[2 * DEPTH_J] = {1, 1, 1, 0, 0, 1, 0, 1};
    const size_t nj = 2 * DEPTH_J;
    float pts[2 * DEPTH_J * 3 + 3], cov[2 * DEPTH_J * 9];
    uint8_t valid[2 * DEPTH_J + 1];

    /* a flat wall in both formats, rows padded (stride larger than width x bytes per pixel) */
    const int formats[2] = {HRNET_DEPTH_UINT16_MM, HRNET_DEPTH_FLOAT32_M};
    const size_t strides[2] = {DEPTH_W * 2 + 38, DEPTH_W * 4 + 12};
    void *walls[2] = {depth_wall(formats[0], strides[0]), depth_wall(formats[1], strides[1])};
    if (!CHECK(walls[0] && walls[1], "allocate the walls")) { free(walls[0]); free(walls[1]); return; }
    for (int f = 0; f < 2; f++) {
        hrnet_depth_image img = {walls[f], DEPTH_W, DEPTH_H, strides[f], formats[f]};
        memset(pts, 0x7F, sizeof pts);
        memset(valid, 0x7F, sizeof valid);
        memset(cov, 0x7F, sizeof cov);
        if (!EXPECT_STATUS(hrnet_lift_depth(kp, NULL, 2, DEPTH_J, &img, &in, &opt, pts, valid, cov, nj), HRNET_OK, NULL,
                           "flat wall, format %d, stride %zu", formats[f], strides[f]))
            continue;
        const double z = f == 0 ? 2.345 : (double)2.345f;
        int exact = 1, flags = 1, zeros = 1, var = 1;
        for (size_t j = 0; j < nj; j++) {
            flags &= valid[j] == lifted[j];
            if (!lifted[j]) {
                for (int c = 0; c < 3; c++) zeros &= pts[3 * j + c] == 0.0f;
                for (int c = 0; c < 9; c++) zeros &= cov[9 * j + c] == 0.0f;
                continue;
            }
            const double want[3] = {(kp[3 * j] - in.cx) * z / in.fx, (kp[3 * j + 1] - in.cy) * z / in.fy, z};
            for (int c = 0; c < 3; c++) exact &= fabs(pts[3 * j + c] - want[c]) <= 1e-6 * fabs(want[c]) + 1e-7;
            /* no spread on a wall: var_Z is the sensor's, (0.01 Z)^2; symmetric */
            var &= fabs(cov[9 * j + 8] - 1e-4 * z * z) <= 1e-6 * z * z && cov[9 * j + 1] == cov[9 * j + 3] &&
                   cov[9 * j + 2] == cov[9 * j + 6] && cov[9 * j + 5] == cov[9 * j + 7];
        }
        CHECK(flags, "format %d: the lifted joints are the expected ones", formats[f]);
        CHECK(exact, "format %d: the pinhole back-projection (u - cx) Z / fx, (v - cy) Z / fy, Z", formats[f]);
        CHECK(zeros, "format %d: joints not lifted are all zeros", formats[f]);
        CHECK(var, "format %d: Z variance (0.01 Z)^2 and symmetric covariances", formats[f]);
        CHECK(valid[nj] == 0x7F && pts[3 * nj] != 0.0f, "format %d: nothing written past n x joints", formats[f]);
    }

    hrnet_depth_image img = {walls[0], DEPTH_W, DEPTH_H, strides[0], HRNET_DEPTH_UINT16_MM};
#define LIFT(kp_, cov_, n_, j_, img_, in_, opt_, pts_, valid_, cov3_, cap_) \
    hrnet_lift_depth((kp_), (cov_), (n_), (j_), (img_), (in_), (opt_), (pts_), (valid_), (cov3_), (cap_))
    /* NULL arguments; NULL options and covariances3d are allowed */
    EXPECT_STATUS(LIFT(NULL, NULL, 2, DEPTH_J, &img, &in, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "NULL keypoints");
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, NULL, &in, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "NULL depth");
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, NULL, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "NULL intrinsics");
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &opt, NULL, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "NULL points");
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &opt, pts, NULL, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "NULL valid");
    hrnet_depth_image nodata = img;
    nodata.data = NULL;
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &nodata, &in, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "NULL depth->data");
    if (EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, NULL, pts, valid, NULL, nj), HRNET_OK, NULL, "NULL options and covariances3d"))
        CHECK(valid[0] == 1 && valid[3] == 0 && pts[2] == 2.345f, "NULL options: the defaults");
    /* n = 0: nothing written, the arrays may be NULL; the rest is still checked */
    EXPECT_STATUS(LIFT(NULL, NULL, 0, DEPTH_J, &img, &in, &opt, NULL, NULL, NULL, 0), HRNET_OK, NULL, "n 0");
    EXPECT_STATUS(LIFT(NULL, NULL, 0, DEPTH_J, NULL, &in, &opt, NULL, NULL, NULL, 0), HRNET_ERR_INVALID_ARGUMENT, NULL, "n 0, NULL depth");
    EXPECT_STATUS(LIFT(NULL, NULL, 0, 0, &img, &in, &opt, NULL, NULL, NULL, 0), HRNET_ERR_INVALID_ARGUMENT, NULL, "n 0, joints 0");
    EXPECT_STATUS(LIFT(kp, NULL, 2, 0, &img, &in, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "joints 0");
    EXPECT_STATUS(LIFT(kp, NULL, 2, -3, &img, &in, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "joints -3");

    /* options: struct_size, then each field out of range */
    union { hrnet_lift_options o; unsigned char bytes[sizeof(hrnet_lift_options) + 64]; } ob;
    const size_t sizes[] = {0, sizeof(size_t), sizeof opt - 1};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        hrnet_lift_options b = opt;
        b.struct_size = sizes[k];
        EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &b, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL,
                      "options struct_size %zu", sizes[k]);
        CHECK(strstr(hrnet_last_error(NULL), "struct_size") != NULL, "the message names struct_size: %s", hrnet_last_error(NULL));
    }
    memset(&ob, 0xA5, sizeof ob); /* a newer host's fields past the struct: not read */
    hrnet_lift_options_init(&ob.o);
    ob.o.struct_size = sizeof ob;
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &ob.o, pts, valid, cov, nj), HRNET_OK, NULL, "options struct_size %zu (newer host)", sizeof ob);
    for (int k = 0; k < 11; k++) {
        hrnet_lift_options b = opt;
        const char *what = "";
        switch (k) {
        case 0: b.window_radius = 65; what = "window_radius"; break;
        case 1: b.window_radius = -1; what = "window_radius"; break;
        case 2: b.min_score = NAN; what = "min_score"; break;
        case 3: b.cluster_gap = 0; what = "cluster_gap"; break;
        case 4: b.cluster_gap = INFINITY; what = "cluster_gap"; break;
        case 5: b.depth_noise = -0.01; what = "depth_noise"; break;
        case 6: b.depth_noise = NAN; what = "depth_noise"; break;
        case 7: b.min_depth = 5; b.max_depth = 5; what = "min_depth"; break;
        case 8: b.min_depth = -1; what = "min_depth"; break;
        case 9: b.max_depth = INFINITY; what = "max_depth"; break;
        case 10: b.min_depth = NAN; what = "min_depth"; break;
        }
        EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &b, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "option case %d (%s)", k, what);
        CHECK(strstr(hrnet_last_error(NULL), what) != NULL, "option case %d: the message names %s: %s", k, what, hrnet_last_error(NULL));
    }
    hrnet_lift_options edge = opt;
    edge.window_radius = 64;
    edge.min_depth = 0;
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &edge, pts, valid, cov, nj), HRNET_OK, NULL, "window_radius 64, min_depth 0");
    edge.window_radius = 0;
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &edge, pts, valid, cov, nj), HRNET_OK, NULL, "window_radius 0");

    /* the depth image */
    for (int k = 0; k < 8; k++) {
        hrnet_depth_image b = img;
        switch (k) {
        case 0: b.format = 2; break;
        case 1: b.format = -1; break;
        case 2: b.width = 0; break;
        case 3: b.height = -1; break;
        case 4: b.stride = DEPTH_W * 2 - 1; break;
        case 5: b.format = HRNET_DEPTH_FLOAT32_M; b.stride = DEPTH_W * 2; break; /* half a float row */
        case 6: b.stride = SIZE_MAX / 4; break;                                  /* stride x height overflows */
        case 7: b.stride = SIZE_MAX; break;
        }
        EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &b, &in, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "depth image case %d", k);
    }
    /* a one-row image: the stride is width x 2 at least, no more needed */
    hrnet_depth_image row = {walls[0], DEPTH_W, 1, DEPTH_W * 2, HRNET_DEPTH_UINT16_MM};
    const float kp_row[3] = {7.0f, 0.2f, 1.0f};
    if (EXPECT_STATUS(LIFT(kp_row, NULL, 1, 1, &row, &in, &opt, pts, valid, cov, 1), HRNET_OK, NULL, "a one-row image"))
        CHECK(valid[0] == 1 && pts[2] == 2.345f, "one row: lifted at 2.345 m");

    /* intrinsics */
    for (int k = 0; k < 5; k++) {
        hrnet_intrinsics b = in;
        switch (k) {
        case 0: b.fx = 0; break;
        case 1: b.fy = -500; break;
        case 2: b.cx = NAN; break;
        case 3: b.cy = INFINITY; break;
        case 4: b.fx = NAN; break;
        }
        EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &b, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "intrinsics case %d", k);
    }

    /* capacity and sizes no buffer can have */
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &opt, pts, valid, cov, nj - 1), HRNET_ERR_BUFFER_TOO_SMALL, NULL, "capacity n x joints - 1");
    CHECK(strstr(hrnet_last_error(NULL), "capacity") != NULL, "the message names the capacity: %s", hrnet_last_error(NULL));
    EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &opt, pts, valid, cov, 0), HRNET_ERR_BUFFER_TOO_SMALL, NULL, "capacity 0");
    if (sizeof(size_t) == 8) {
        EXPECT_STATUS(LIFT(kp, NULL, SIZE_MAX, DEPTH_J, &img, &in, &opt, pts, valid, cov, SIZE_MAX), HRNET_ERR_INVALID_ARGUMENT, NULL, "n SIZE_MAX");
        EXPECT_STATUS(LIFT(kp, NULL, (size_t)1 << 62, DEPTH_J, &img, &in, &opt, pts, valid, cov, (size_t)INT64_MAX), HRNET_ERR_INVALID_ARGUMENT, NULL, "n 2^62: n x joints x 3 overflows");
        /* n x 1 x 3 fits, n x 1 x 9 (the 3D covariances) does not, nor n x 1 x 4 (2D ones) */
        const size_t n9 = (size_t)INT64_MAX / 9 + 1;
        EXPECT_STATUS(LIFT(kp, NULL, n9, 1, &img, &in, &opt, pts, valid, cov, (size_t)INT64_MAX), HRNET_ERR_INVALID_ARGUMENT, NULL, "n x joints x 9 overflows");
        EXPECT_STATUS(LIFT(kp, NULL, n9, 1, &img, &in, &opt, pts, valid, NULL, 1), HRNET_ERR_BUFFER_TOO_SMALL, NULL, "without covariances3d: only the capacity is short");
        const size_t n4 = (size_t)INT64_MAX / 4 + 1;
        EXPECT_STATUS(LIFT(kp, cov, n4, 1, &img, &in, &opt, pts, valid, NULL, (size_t)INT64_MAX), HRNET_ERR_INVALID_ARGUMENT, NULL, "n x joints x 4 (2D covariances) overflows");
    }

    /* 2D covariances: used through the Jacobian; non-finite or negative variances refused */
    float c2[2 * DEPTH_J * 4];
    for (size_t j = 0; j < nj; j++) { c2[4 * j] = 4.0f; c2[4 * j + 1] = 1.0f; c2[4 * j + 2] = 1.0f; c2[4 * j + 3] = 9.0f; }
    float cov1[2 * DEPTH_J * 9];
    if (EXPECT_STATUS(LIFT(kp, NULL, 2, DEPTH_J, &img, &in, &opt, pts, valid, cov1, nj), HRNET_OK, NULL, "1 px^2") &&
        EXPECT_STATUS(LIFT(kp, c2, 2, DEPTH_J, &img, &in, &opt, pts, valid, cov, nj), HRNET_OK, NULL, "given 2D covariances")) {
        const double z = 2.345, p = z / in.fx, q = z / in.fy;
        const double s = (kp[0] - in.cx) / in.fx, t = (kp[1] - in.cy) / in.fy, vz = 1e-4 * z * z;
        CHECK(fabs(cov[0] - (p * p * 4 + s * s * vz)) <= 1e-5 * cov[0] && fabs(cov[1] - (p * q + s * t * vz)) <= 1e-5 * fabs(cov[1]) &&
              fabs(cov[4] - (q * q * 9 + t * t * vz)) <= 1e-5 * cov[4],
              "J Sigma J^T: XX %g, XY %g, YY %g", cov[0], cov[1], cov[4]);
        CHECK(cov[0] > cov1[0] && cov[4] > cov1[4] && cov[8] == cov1[8], "a larger 2D covariance gives larger X and Y variances, the same Z");
    }
    c2[4 * 5 + 3] = NAN;
    EXPECT_STATUS(LIFT(kp, c2, 2, DEPTH_J, &img, &in, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "a NaN 2D covariance");
    CHECK(strstr(hrnet_last_error(NULL), "person 1 joint 1") != NULL, "the message names the joint: %s", hrnet_last_error(NULL));
    c2[4 * 5 + 3] = -1.0f;
    EXPECT_STATUS(LIFT(kp, c2, 2, DEPTH_J, &img, &in, &opt, pts, valid, cov, nj), HRNET_ERR_INVALID_ARGUMENT, NULL, "a negative 2D variance");

    /* a window with no data: not lifted, not an error */
    uint16_t holes[DEPTH_W * DEPTH_H];
    memset(holes, 0, sizeof holes);
    holes[40 * DEPTH_W + 60] = 1500;
    hrnet_depth_image empty = {holes, DEPTH_W, DEPTH_H, sizeof holes[0] * DEPTH_W, HRNET_DEPTH_UINT16_MM};
    const float kp2[6] = {10.0f, 10.0f, 1.0f, 58.0f, 42.0f, 1.0f};
    if (EXPECT_STATUS(LIFT(kp2, NULL, 1, 2, &empty, &in, &opt, pts, valid, cov, 2), HRNET_OK, NULL, "zeros around a joint"))
        CHECK(valid[0] == 0 && pts[0] == 0 && pts[2] == 0 && valid[1] == 1 && pts[5] == 1.5f,
              "no depth in the window: not lifted; one valid pixel in the window: its depth");
#undef LIFT
    free(walls[0]);
    free(walls[1]);
}


/* INT8: the calibrator's arguments, a calibration made and used, and files that are refused. */
static void case_int8(void)
{
    char path[4096], cal[4096], bad[4096];
    hrnet_session *s = NULL;
    if (!EXPECT_STATUS(open_with(path_in(path, sizeof path, "models/synth_w16_128x96.pth"), 128, 96, 1, &s), HRNET_OK,
                       NULL, "open the synthetic model")) return;
    const char *dir = make_temp_dir();
    snprintf(cal, sizeof cal, "%s/synth.cal", dir);
    snprintf(bad, sizeof bad, "%s/bad.cal", dir);
    hrnet_calibrator *c = (hrnet_calibrator *)path;
    EXPECT_STATUS(hrnet_calibrator_create(NULL, &c), HRNET_ERR_INVALID_ARGUMENT, NULL, "calibrator_create(NULL session)");
    CHECK(c == NULL, "*out_calibrator is NULL after a failure");
    EXPECT_STATUS(hrnet_calibrator_create(s, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "calibrator_create(NULL out)");
    hrnet_calibrator_close(NULL);
    if (!EXPECT_STATUS(hrnet_calibrator_create(s, &c), HRNET_OK, NULL, "calibrator_create")) { hrnet_session_close(s); return; }
    /* a gray frame with a bright figure-like block, and crops of it */
    enum { FW = 160, FH = 120 };
    uint8_t *frame = malloc(FW * FH * 3);
    for (int i = 0; i < FW * FH * 3; i++) frame[i] = (uint8_t)(60 + (i * 7) % 150);
    hrnet_image img = {frame, FW, FH, FW * 3, HRNET_PIXEL_RGB8};
    hrnet_box boxes[2] = {{20, 10, 50, 90, 0.9f}, {80, 5, 60, 100, 0.8f}};
    EXPECT_STATUS(hrnet_calibrator_save(c, cal), HRNET_ERR_INVALID_ARGUMENT, NULL, "save before anything was recorded");
    EXPECT_STATUS(hrnet_calibrator_add_boxes(NULL, &img, boxes, 2, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "add_boxes(NULL calibrator)");
    EXPECT_STATUS(hrnet_calibrator_add_boxes(c, NULL, boxes, 2, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "add_boxes(NULL frame)");
    EXPECT_STATUS(hrnet_calibrator_add_boxes(c, &img, NULL, 2, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "add_boxes(NULL boxes)");
    EXPECT_STATUS(hrnet_calibrator_add_boxes(c, &img, boxes, SIZE_MAX, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "add_boxes(n SIZE_MAX)");
    EXPECT_STATUS(hrnet_calibrator_add_boxes(c, &img, NULL, 0, NULL), HRNET_OK, NULL, "add_boxes(no boxes)");
    EXPECT_STATUS(hrnet_calibrator_add_crops(c, NULL, 1, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "add_crops(NULL crops)");
    EXPECT_STATUS(hrnet_calibrator_add_crops(c, &img, 0, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "add_crops(n 0)");
    EXPECT_STATUS(hrnet_calibrator_add_boxes(c, &img, boxes, 2, NULL), HRNET_OK, NULL, "add_boxes");
    EXPECT_STATUS(hrnet_calibrator_add_crops(c, &img, 1, NULL), HRNET_OK, NULL, "add_crops");
    EXPECT_STATUS(hrnet_calibrator_save(c, NULL), HRNET_ERR_INVALID_ARGUMENT, NULL, "save(NULL path)");
    char nodir[4200];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.cal", dir);
    EXPECT_STATUS(hrnet_calibrator_save(c, nodir), HRNET_ERR_IO, NULL, "save into a missing directory");
    EXPECT_STATUS(hrnet_calibrator_save(c, cal), HRNET_OK, NULL, "save");
    hrnet_calibrator_close(c);

    hrnet_options o;
    hrnet_options_init(&o);
    o.input_height = 128; o.input_width = 96; o.num_threads = 1; o.precision = HRNET_PRECISION_INT8;
    hrnet_session *q = NULL;
    EXPECT_STATUS(hrnet_session_open(path, &o, &q), HRNET_ERR_INVALID_ARGUMENT, NULL, "INT8 without a calibration");
    o.calibration_path = cal;
    hrnet_status st = hrnet_session_open(path, &o, &q);
    if (st == HRNET_ERR_INVALID_ARGUMENT && strstr(hrnet_last_error(NULL), "dot product")) {
        CHECK(1, "ARM without the dot product: INT8 refused with a message");
    } else if (EXPECT_STATUS(st, HRNET_OK, NULL, "INT8 session from the file")) {
        hrnet_info info;
        if (get_info(q, &info)) CHECK(info.precision == HRNET_PRECISION_INT8, "info.precision is INT8");
        float kp8[2 * 17 * 3], kp32[2 * 17 * 3];
        if (EXPECT_STATUS(hrnet_estimate_boxes(q, &img, boxes, 2, NULL, kp8, sizeof kp8 / 4, NULL, NULL, NULL, 0), HRNET_OK, q, "INT8 estimate") &&
            EXPECT_STATUS(hrnet_estimate_boxes(s, &img, boxes, 2, NULL, kp32, sizeof kp32 / 4, NULL, NULL, NULL, 0), HRNET_OK, s, "FP32 estimate"))
            CHECK(all_finite(kp8, 2 * 17 * 3), "INT8 keypoints are finite");
        /* the same calibration from memory */
        size_t n = 0;
        unsigned char *bytes = read_all(cal, &n);
        hrnet_session *m = NULL;
        o.calibration_path = NULL; o.calibration_data = bytes; o.calibration_size = n;
        if (EXPECT_STATUS(hrnet_session_open(path, &o, &m), HRNET_OK, NULL, "INT8 session from memory")) {
            float kpm[2 * 17 * 3];
            if (EXPECT_STATUS(hrnet_estimate_boxes(m, &img, boxes, 2, NULL, kpm, sizeof kpm / 4, NULL, NULL, NULL, 0), HRNET_OK, m, "estimate"))
                CHECK(memcmp(kpm, kp8, sizeof kpm) == 0, "file and memory calibrations give the same keypoints");
            hrnet_session_close(m);
        }
        /* damaged copies: truncated, a flipped byte (checksum), another version */
        for (int k = 0; k < 3 && bytes; k++) {
            unsigned char *copy = malloc(n);
            memcpy(copy, bytes, n);
            size_t len = n;
            if (k == 0) len = n - 3;
            if (k == 1) copy[30] ^= 1;
            if (k == 2) copy[8] = 9;
            o.calibration_data = copy; o.calibration_size = len;
            EXPECT_STATUS(hrnet_session_open(path, &o, &m), HRNET_ERR_FORMAT, NULL, "damaged calibration %d", k);
            CHECK(m == NULL, "no session from a damaged calibration");
            free(copy);
        }
        /* another checkpoint's calibration */
        o.calibration_data = bytes; o.calibration_size = n;
        o.input_height = 0; o.input_width = 0;
        EXPECT_STATUS(hrnet_session_open(FIXTURE(bad, "coco_w8.pth"), &o, &m), HRNET_ERR_INVALID_ARGUMENT, NULL, "calibration of another checkpoint");
        CHECK(strstr(hrnet_last_error(NULL), "another checkpoint") != NULL, "the message says so: %s", hrnet_last_error(NULL));
        free(bytes);
        hrnet_session_close(q);
    }
    /* hrnet_calibrate in one call */
    EXPECT_STATUS(hrnet_calibrate(s, &img, 1, cal), HRNET_OK, NULL, "hrnet_calibrate");
    EXPECT_STATUS(hrnet_calibrate(NULL, &img, 1, cal), HRNET_ERR_INVALID_ARGUMENT, NULL, "hrnet_calibrate(NULL session)");
    free(frame);
    hrnet_session_close(s);
}

static const test_case g_cases[] = {
    {"version", case_version},
    {"status_strings", case_status_strings},
    {"options", case_options},
    {"last_error", case_last_error},
    {"equivalence_coco", case_equivalence_coco},
    {"equivalence_mpii", case_equivalence_mpii},
    {"kernel_sets", case_kernel_sets},
    {"crop", case_crop},
    {"model_sharing", case_model_sharing},
    {"bf16", case_bf16},
    {"input_size", case_input_size},
    {"bad_options", case_bad_options},
    {"bad_files", case_bad_files},
    {"fuzz_loader", case_fuzz_loader},
    {"corrupt_zip", case_corrupt_zip},
    {"forward_args", case_forward_args},
    {"null_session", case_null_session},
    {"overflow", case_overflow},
    {"struct_sizes", case_struct_sizes},
    {"null_args", case_null_args},
    {"host_overflow", case_host_overflow},
    {"out_of_memory", case_out_of_memory},
    {"concurrent_load", case_concurrent_load},
    {"tracker", case_tracker},
    {"covariances", case_covariances},
    {"depth", case_depth},
    {"int8", case_int8},
};
#define NCASES (sizeof g_cases / sizeof g_cases[0])

static void on_exit_cleanup(void) { remove_temps(); }

static void run_case_here(const test_case *c)
{
    g_case = c->name;
    c->fn();
    remove_temps();
}

/* Runs a case in a fresh process (fork + exec of this program); crashes and hangs count as a
 * failure of the case. Returns via the global counters. */
static void run_case_child(const char *self, const test_case *c)
{
    int fds[2];
    g_case = c->name;
    if (pipe(fds) != 0) { CHECK(0, "pipe: %s", strerror(errno)); return; }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        CHECK(0, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        char fd[16];
        snprintf(fd, sizeof fd, "%d", fds[1]);
        char *args[] = {(char *)self, (char *)g_root, "--case", (char *)c->name, "--report-fd", fd,
                        g_verbose ? "-v" : NULL, NULL};
        execv(self, args);
        fprintf(stderr, "exec %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    int passed = 0, failed = 0;
    char buf[256];
    for (;;) {
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        for (ssize_t k = 0; k < r; k++) {
            if (buf[k] == 'P') passed++;
            else failed++;
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    g_passed += passed;
    g_failed += failed;
    if (WIFSIGNALED(status)) {
        failed++;
        int sig = WTERMSIG(status);
        CHECK(0, "case crashed with signal %d (%s)%s", sig,
              sig == SIGSEGV ? "SIGSEGV" : sig == SIGABRT ? "SIGABRT" : sig == SIGILL ? "SIGILL"
              : sig == SIGTRAP ? "SIGTRAP" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE"
              : sig == SIGALRM ? "SIGALRM: timed out" : "?",
              sig == SIGALRM ? "" : " - the library must report a status, never abort");
    } else if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && failed == 0)) {
        failed++;
        CHECK(0, "case exited with status %d without reporting a failure", WEXITSTATUS(status));
    } else if (passed + failed == 0) {
        failed++;
        CHECK(0, "case ran no checks");
    }
    printf("%-18s %3d passed, %d failed\n", c->name, passed, failed);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    int no_fork = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--case") == 0 && a + 1 < argc) only = argv[++a];
        else if (strcmp(argv[a], "--report-fd") == 0 && a + 1 < argc) g_report_fd = atoi(argv[++a]);
        else if (strcmp(argv[a], "--no-fork") == 0) no_fork = 1;
        else if (strcmp(argv[a], "-v") == 0) g_verbose = 1;
        else if (strcmp(argv[a], "--list") == 0) {
            for (size_t k = 0; k < NCASES; k++) puts(g_cases[k].name);
            return 0;
        } else if (argv[a][0] == '-') {
            fprintf(stderr, "usage: %s [REPO_ROOT] [--no-fork] [--case NAME] [--list] [-v]\n",
                    argv[0]);
            return 2;
        } else g_root = argv[a];
    }
    atexit(on_exit_cleanup);
    char fx[4096];
    struct stat st;
    if (stat(FIXTURE(fx, "coco_w8.pth"), &st) != 0) {
        fprintf(stderr, "abi_test: %s not found; pass the repository root as the first argument\n",
                fx);
        printf("0 passed, 1 failed\n");
        return 1;
    }

    if (g_report_fd >= 0) { /* a child running one case */
        alarm(CASE_TIMEOUT);
        for (size_t k = 0; k < NCASES; k++)
            if (only && strcmp(only, g_cases[k].name) == 0) {
                run_case_here(&g_cases[k]);
                return g_failed ? 1 : 0;
            }
        return 3;
    }

    printf("libhrnet ABI test: header %s, library %s\n", HRNET_VERSION_STRING, hrnet_version());
    const char *self = "/proc/self/exe";
    if (access(self, X_OK) != 0) self = argv[0];
    int ran = 0;
    for (size_t k = 0; k < NCASES; k++) {
        if (only && strcmp(only, g_cases[k].name) != 0) continue;
        ran++;
        if (no_fork) {
            int p0 = g_passed, f0 = g_failed;
            run_case_here(&g_cases[k]);
            printf("%-18s %3d passed, %d failed\n", g_cases[k].name, g_passed - p0, g_failed - f0);
        } else {
            run_case_child(self, &g_cases[k]);
        }
    }
    if (!ran) {
        fprintf(stderr, "abi_test: no case named '%s' (see --list)\n", only ? only : "");
        g_failed++;
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
