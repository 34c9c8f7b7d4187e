/*
 * tsan_sessions.c - several sessions on one model, used from several threads at once.
 *
 *   tsan_sessions [REPO_ROOT] [--threads N] [--rounds R]
 *
 * Meant to run under ThreadSanitizer (Tests/sanitize.sh builds it and libhrnet with
 * -fsanitize=thread), but it is an ordinary test program and also runs without it.
 *
 * What it does, through the C interface only (include/hrnet.h):
 *   1. loads Tests/fixtures/coco_w8.pth once (one hrnet_model shared by every session);
 *   2. sequentially, for num_threads 1 and 2, opens a session and records the reference results:
 *      hrnet_forward on the fixture input (batch 2, and batch 1 = its first crop), and
 *      hrnet_estimate_crops on the fixture crop (flip test on: the pipeline's own buffers);
 *   3. starts N host threads (default 3) at once behind a barrier; thread t creates its own
 *      session on the shared model with num_threads 1 + (t % 2) (so 1, 2, 1: sessions with an
 *      OpenMP team of their own run next to single-threaded ones). Once every session exists,
 *      the main thread releases its model reference (the sessions keep the model alive; the
 *      last one closed frees it, on a worker thread). Each thread then, for R rounds (default 3),
 *      repeats the three calls and compares every output with the sequential run bit for bit
 *      (memcmp). Each round also makes two failing calls (a wrong input_count on its session, and
 *      an hrnet_decode_heatmaps with an unknown method, reported through the calling thread's
 *      hrnet_last_error(NULL)) and checks each thread sees its own message;
 *   4. each thread closes its session.
 *
 * The last line printed is exactly "N passed, M failed"; the exit status is 0 only if M is 0.
 */
#define _POSIX_C_SOURCE 200809L

#include "hrnet.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 16
#define NCONFIGS 2 /* num_threads 1 and 2 */

static int g_passed, g_failed;
static pthread_mutex_t g_report = PTHREAD_MUTEX_INITIALIZER;

static void check(int ok, int thread, const char *fmt, const char *detail)
{
    pthread_mutex_lock(&g_report);
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        if (thread >= 0) fprintf(stdout, "FAIL [thread %d] ", thread);
        else fprintf(stdout, "FAIL ");
        fprintf(stdout, fmt, detail ? detail : "");
        fputc('\n', stdout);
        fflush(stdout);
    }
    pthread_mutex_unlock(&g_report);
}

/* ---------------------------------------------------------------------------------------- */
/* Fixtures: a minimal .npy reader (version 1 or 2, little-endian, C order, one dtype).       */

static void *load_npy(const char *path, const char *descr, size_t elem, const size_t *shape,
                      int ndim)
{
    FILE *f = fopen(path, "rb");
    if (!f) { check(0, -1, "cannot open %s", path); return NULL; }
    unsigned char magic[10];
    void *data = NULL;
    char *header = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0 ||
        (magic[6] != 1 && magic[6] != 2)) {
        check(0, -1, "%s: not a .npy file of version 1 or 2", path);
        goto out;
    }
    size_t hlen = 0;
    int lenbytes = magic[6] == 1 ? 2 : 4;
    if (fread(magic, 1, (size_t)lenbytes, f) != (size_t)lenbytes) {
        check(0, -1, "%s: truncated header", path);
        goto out;
    }
    for (int k = lenbytes - 1; k >= 0; k--) hlen = hlen << 8 | magic[k];
    header = calloc(hlen + 1, 1);
    if (!header || fread(header, 1, hlen, f) != hlen) {
        check(0, -1, "%s: truncated header", path);
        goto out;
    }
    char want[256];
    size_t count = 1;
    int n = snprintf(want, sizeof want, "'shape': (");
    for (int d = 0; d < ndim; d++) {
        n += snprintf(want + n, sizeof want - (size_t)n, d ? ", %zu" : "%zu", shape[d]);
        count *= shape[d];
    }
    snprintf(want + n, sizeof want - (size_t)n, ndim == 1 ? ",)" : ")");
    char wantd[64];
    snprintf(wantd, sizeof wantd, "'descr': '%s'", descr);
    if (!strstr(header, wantd) || !strstr(header, want) ||
        !strstr(header, "'fortran_order': False")) {
        check(0, -1, "%s: unexpected header (dtype, shape or order)", path);
        goto out;
    }
    data = malloc(count * elem);
    if (!data || fread(data, elem, count, f) != count) {
        check(0, -1, "%s: truncated data", path);
        free(data);
        data = NULL;
    }
out:
    free(header);
    fclose(f);
    return data;
}

/* ---------------------------------------------------------------------------------------- */
/* The work one session does, and its results.                                               */

typedef struct {
    float *hm2;    /* forward, batch 2 */
    float *hm1;    /* forward, batch 1 */
    float *kp;     /* estimate_crops: joints x 3 */
    float *score;  /* estimate_crops: person score */
} results;

static hrnet_model *g_model;
static float *g_input;          /* 2 x 3 x 256 x 192 */
static hrnet_image g_crop;      /* 256 x 192 RGB */
static size_t g_in1, g_hm1;     /* elements per crop: input, heatmaps */
static int g_joints;
static results g_ref[NCONFIGS]; /* sequential results, by num_threads - 1 */
static int g_rounds = 3;
static pthread_barrier_t g_start;   /* the workers: create their sessions at the same moment */
static pthread_barrier_t g_created; /* the workers and main: every session exists */

static int alloc_results(results *r)
{
    r->hm2 = malloc(2 * g_hm1 * sizeof(float));
    r->hm1 = malloc(g_hm1 * sizeof(float));
    r->kp = malloc((size_t)g_joints * 3 * sizeof(float));
    r->score = malloc(sizeof(float));
    return r->hm2 && r->hm1 && r->kp && r->score;
}

static void free_results(results *r)
{
    free(r->hm2);
    free(r->hm1);
    free(r->kp);
    free(r->score);
}

static hrnet_status make_session(int num_threads, hrnet_session **s)
{
    hrnet_options o;
    hrnet_options_init(&o);
    o.num_threads = num_threads;
    return hrnet_session_create(g_model, &o, s);
}

/* Runs the three calls; returns 0 and reports a failure if one of them fails. */
static int run(hrnet_session *s, int thread, results *r)
{
    hrnet_status st;
    /* Poison the outputs so a call that writes nothing cannot pass the comparison. */
    memset(r->hm2, 0xff, 2 * g_hm1 * sizeof(float));
    memset(r->hm1, 0xff, g_hm1 * sizeof(float));
    memset(r->kp, 0xff, (size_t)g_joints * 3 * sizeof(float));
    memset(r->score, 0xff, sizeof(float));
    st = hrnet_forward(s, g_input, 2, 2 * g_in1, r->hm2, 2 * g_hm1);
    check(st == HRNET_OK, thread, "hrnet_forward (batch 2): %s", hrnet_last_error(s));
    if (st != HRNET_OK) return 0;
    st = hrnet_forward(s, g_input, 1, g_in1, r->hm1, g_hm1);
    check(st == HRNET_OK, thread, "hrnet_forward (batch 1): %s", hrnet_last_error(s));
    if (st != HRNET_OK) return 0;
    st = hrnet_estimate_crops(s, &g_crop, 1, NULL, r->kp, (size_t)g_joints * 3, r->score, NULL, 0);
    check(st == HRNET_OK, thread, "hrnet_estimate_crops: %s", hrnet_last_error(s));
    return st == HRNET_OK;
}

static void compare(const results *got, const results *want, int thread, int round)
{
    char what[64];
    snprintf(what, sizeof what, "round %d", round);
    check(memcmp(got->hm2, want->hm2, 2 * g_hm1 * sizeof(float)) == 0, thread,
          "%s: batch-2 heatmaps differ from the sequential run", what);
    check(memcmp(got->hm1, want->hm1, g_hm1 * sizeof(float)) == 0, thread,
          "%s: batch-1 heatmaps differ from the sequential run", what);
    check(memcmp(got->kp, want->kp, (size_t)g_joints * 3 * sizeof(float)) == 0 &&
          memcmp(got->score, want->score, sizeof(float)) == 0, thread,
          "%s: estimate_crops keypoints differ from the sequential run", what);
}

/* Two failing calls; each thread must see its own error message. */
static void check_errors(hrnet_session *s, int thread)
{
    float out[1];
    hrnet_status st = hrnet_forward(s, g_input, 1, g_in1 - 1, out, 1);
    check(st == HRNET_ERR_INVALID_ARGUMENT, thread,
          "hrnet_forward with a wrong input_count did not fail with INVALID_ARGUMENT%s", NULL);
    const char *msg = hrnet_last_error(s);
    check(msg && msg[0] != '\0', thread, "no session error message after a failure%s", NULL);

    /* A failing call without a session (an unknown decode method, everything else valid):
     * reported through the calling thread's hrnet_last_error(NULL). */
    float hm[1] = {0}, kp[3];
    st = hrnet_decode_heatmaps(hm, 1, 1, 1, 1, NULL, 0, 0, 1000 + thread, kp, 3);
    check(st == HRNET_ERR_INVALID_ARGUMENT, thread,
          "hrnet_decode_heatmaps with an unknown method did not fail with INVALID_ARGUMENT%s",
          NULL);
    /* That error is per thread: the message must exist, and if it names a method (1000 + thread,
     * a different 4-digit number for each thread) it must be this thread's, never another
     * thread's failure showing through. */
    msg = hrnet_last_error(NULL);
    check(msg && msg[0] != '\0', thread, "no hrnet_last_error(NULL) message after a failure%s",
          NULL);
    for (int other = 0; msg && other < MAX_THREADS; other++) {
        char value[16];
        snprintf(value, sizeof value, "%d", 1000 + other);
        if (other != thread && strstr(msg, value)) {
            check(0, thread, "hrnet_last_error(NULL) shows another thread's failure: \"%s\"",
                  msg);
            break;
        }
    }
}

typedef struct {
    int index;
    int num_threads;
} worker_arg;

static void *worker(void *p)
{
    const worker_arg *a = p;
    results r;
    int ok = alloc_results(&r);
    check(ok, a->index, "out of memory%s", NULL);
    pthread_barrier_wait(&g_start);
    hrnet_session *s = NULL;
    hrnet_status st = ok ? make_session(a->num_threads, &s) : HRNET_ERR_OUT_OF_MEMORY;
    if (ok) check(st == HRNET_OK, a->index, "hrnet_session_create: %s", hrnet_last_error(NULL));
    /* From here on the model is held only by the sessions: main drops its reference, and the
     * last session to close (on whichever thread) frees it. */
    pthread_barrier_wait(&g_created);
    if (st == HRNET_OK) {
        for (int round = 0; round < g_rounds; round++) {
            if (run(s, a->index, &r)) compare(&r, &g_ref[a->num_threads - 1], a->index, round);
            check_errors(s, a->index);
        }
        hrnet_session_close(s);
    }
    free_results(&r);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *root = ".";
    int nthreads = 3;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc) nthreads = atoi(argv[++a]);
        else if (strcmp(argv[a], "--rounds") == 0 && a + 1 < argc) g_rounds = atoi(argv[++a]);
        else if (argv[a][0] == '-') {
            fprintf(stderr, "usage: %s [REPO_ROOT] [--threads N] [--rounds R]\n", argv[0]);
            return 2;
        } else root = argv[a];
    }
    if (nthreads < 1 || nthreads > MAX_THREADS || g_rounds < 1) {
        fprintf(stderr, "tsan_sessions: --threads must be 1..%d and --rounds at least 1\n",
                MAX_THREADS);
        return 2;
    }

    char path[4096];
    const size_t in_shape[4] = {2, 3, 256, 192}, crop_shape[3] = {256, 192, 3};
    snprintf(path, sizeof path, "%s/Tests/fixtures/coco_w8_input.npy", root);
    g_input = load_npy(path, "<f4", sizeof(float), in_shape, 4);
    snprintf(path, sizeof path, "%s/Tests/fixtures/coco_w8_crop_rgb.npy", root);
    uint8_t *crop = load_npy(path, "|u1", 1, crop_shape, 3);
    snprintf(path, sizeof path, "%s/Tests/fixtures/coco_w8.pth", root);
    hrnet_status st = g_input && crop ? hrnet_model_load(path, &g_model) : HRNET_ERR_IO;
    if (g_input && crop)
        check(st == HRNET_OK, -1, "hrnet_model_load: %s", hrnet_last_error(NULL));
    if (st != HRNET_OK) goto done;
    g_crop = (hrnet_image){crop, 192, 256, 192 * 3, HRNET_PIXEL_RGB8};

    /* Sequential reference, one session per num_threads value. */
    for (int c = 0; c < NCONFIGS; c++) {
        hrnet_session *s = NULL;
        st = make_session(c + 1, &s);
        check(st == HRNET_OK, -1, "hrnet_session_create: %s", hrnet_last_error(NULL));
        if (st != HRNET_OK) goto done;
        hrnet_info info = {.struct_size = sizeof info};
        st = hrnet_session_info(s, &info);
        check(st == HRNET_OK && info.input_height == 256 && info.input_width == 192 &&
              info.num_threads == c + 1, -1, "hrnet_session_info: unexpected result%s", NULL);
        g_joints = info.joints;
        g_in1 = (size_t)3 * 256 * 192;
        g_hm1 = (size_t)info.joints * info.heatmap_height * info.heatmap_width;
        int ok = st == HRNET_OK && alloc_results(&g_ref[c]) && run(s, -1, &g_ref[c]);
        hrnet_session_close(s);
        if (!ok) goto done;
    }

    pthread_barrier_init(&g_start, NULL, (unsigned)nthreads);
    pthread_barrier_init(&g_created, NULL, (unsigned)nthreads + 1);
    pthread_t tid[MAX_THREADS];
    worker_arg args[MAX_THREADS];
    int started = 0;
    for (int t = 0; t < nthreads; t++) {
        args[t] = (worker_arg){t, 1 + t % 2};
        if (pthread_create(&tid[t], NULL, worker, &args[t]) != 0) {
            check(0, t, "pthread_create failed%s", NULL);
            /* The barriers count nthreads: cannot wait for them with fewer. */
            abort();
        }
        started++;
    }
    pthread_barrier_wait(&g_created);
    hrnet_model_release(g_model); /* while the workers run; their sessions keep it alive */
    g_model = NULL;
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    pthread_barrier_destroy(&g_start);
    pthread_barrier_destroy(&g_created);
    printf("%d host threads x %d rounds, sessions with num_threads 1 and 2 on one model, "
           "compared with the sequential run bit for bit\n", nthreads, g_rounds);

done:
    hrnet_model_release(g_model);
    for (int c = 0; c < NCONFIGS; c++) free_results(&g_ref[c]);
    free(g_input);
    free(crop);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
