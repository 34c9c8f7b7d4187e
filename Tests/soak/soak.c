/*
 * soak.c - runs libhrnet's C interface in a loop for a while and reports the process's memory
 * (RSS) over time, to find leaks and slow growth that one-shot tests cannot see. Not part of CI:
 * run it with Tests/soak/run.sh MINUTES.
 *
 *   soak REPO_ROOT SECONDS [INTERVAL_SECONDS]
 *
 * One iteration: load the checkpoint from the file and from memory, open and close sessions
 * (two input sizes, one and two threads), run hrnet_forward (batch 1 and 2), hrnet_estimate_boxes
 * and hrnet_estimate_crops (a varying number of people, with and without flip, both decoders,
 * heatmaps asked for or not), hrnet_decode_heatmaps and hrnet_oks_nms, and a few calls that fail
 * (a missing file, a truncated checkpoint in memory, bad arguments), whose messages are
 * allocated too. Every INTERVAL seconds (default 10) it prints the elapsed time, the iterations
 * and the RSS; at the end, the verdict: RSS growth between the end of the warm-up (the first
 * minute, or the first third of a shorter run) and the end, in total and per iteration: since
 * the RSS after an iteration swings with what malloc keeps cached, the lowest RSS of an early
 * window after the warm-up is compared with the lowest of an equally long window at the end.
 * Exit status 0 if the growth is within the allowance (SOAK_ALLOW_MIB, default 8 MiB), 1 if not,
 * 2 if a call that must succeed failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "hrnet.h"

#include <math.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_MALLINFO2 1
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_root = ".";
static int g_failures;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Resident and virtual size in MiB, from /proc/self/statm (pages). */
static void memory_mib(double *rss, double *vm)
{
    long pages_vm = 0, pages_rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages_vm, &pages_rss) != 2) pages_vm = pages_rss = 0;
        fclose(f);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    *rss = (double)pages_rss * page / 1048576.0;
    *vm = (double)pages_vm * page / 1048576.0;
}

/* Bytes malloc has handed out and not had back (glibc), in MiB; -1 where unknown. Finer than
 * the RSS: a leak of a few bytes per call shows here long before it moves the RSS. */
static double heap_in_use_mib(void)
{
#ifdef HAVE_MALLINFO2
    struct mallinfo2 mi = mallinfo2();
    return (double)(mi.uordblks + mi.hblkhd) / 1048576.0;
#else
    return -1;
#endif
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *size = buf ? (size_t)n : 0;
    return buf;
}

static int expect(hrnet_status st, hrnet_status want, const hrnet_session *s, const char *what)
{
    if (st == want) return 1;
    g_failures++;
    if (g_failures <= 20)
        fprintf(stderr, "soak: %s: %s (expected %s): %s\n", what, hrnet_status_string(st),
                hrnet_status_string(want), hrnet_last_error(s));
    return 0;
}

static unsigned char *make_frame(int w, int h, int seed)
{
    unsigned char *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                p[((size_t)y * w + x) * 3 + c] =
                    (unsigned char)(120 + 100 * sin(0.03 * x + 0.5 * c + seed) * cos(0.05 * y));
    return p;
}

typedef struct {
    const char *path;
    const unsigned char *bytes;
    size_t size;
    unsigned char *frame;
    int fw, fh;
} soak_input;

/* Runs the session through forward and the pipeline. */
static void exercise(hrnet_session *s, const soak_input *in, unsigned it)
{
    hrnet_info info = {.struct_size = sizeof info};
    if (!expect(hrnet_session_info(s, &info), HRNET_OK, s, "session_info")) return;
    size_t per_in = (size_t)3 * info.input_height * info.input_width;
    size_t per_out = (size_t)info.joints * info.heatmap_height * info.heatmap_width;
    size_t batch = 1 + it % 2;
    float *x = malloc(batch * per_in * sizeof(float)), *y = malloc(batch * per_out * sizeof(float));
    for (size_t i = 0; i < batch * per_in; i++) x[i] = (float)sin(0.001 * (double)(i + it));
    expect(hrnet_forward(s, x, batch, batch * per_in, y, batch * per_out), HRNET_OK, s, "forward");

    /* the pipeline: 1..6 people */
    size_t n = 1 + it % 6;
    hrnet_box boxes[6];
    hrnet_image crops[6];
    for (size_t i = 0; i < n; i++) {
        boxes[i] = (hrnet_box){(float)(10 + 25 * i), (float)(5 + 7 * i), 60, 120, 0.5f + 0.1f * (float)i};
        crops[i] = (hrnet_image){in->frame + (size_t)(5 * i) * 3, 80 + (int)i * 10, 120,
                                 (size_t)in->fw * 3, HRNET_PIXEL_RGB8};
    }
    hrnet_image frame = {in->frame, in->fw, in->fh, (size_t)in->fw * 3, HRNET_PIXEL_RGB8};
    hrnet_estimate_options eo;
    hrnet_estimate_options_init(&eo);
    eo.flip = (int32_t)(it % 2);
    eo.decode = (int32_t)((it / 2) % 2);
    float kp[6 * 17 * 3], scores[6], areas[6];
    float *hm = malloc(n * per_out * sizeof(float));
    int want_hm = it % 3 == 0;
    size_t kcap = n * (size_t)info.joints * 3;
    expect(hrnet_estimate_boxes(s, &frame, boxes, n, &eo, kp, kcap, scores, areas,
                                want_hm ? hm : NULL, n * per_out), HRNET_OK, s, "estimate_boxes");
    expect(hrnet_estimate_crops(s, crops, n, &eo, kp, kcap, scores, want_hm ? hm : NULL,
                                n * per_out), HRNET_OK, s, "estimate_crops");
    /* decoding and NMS on what came out */
    if (want_hm)
        expect(hrnet_decode_heatmaps(hm, n, info.joints, info.heatmap_height, info.heatmap_width,
                                     boxes, info.input_height, info.input_width, eo.decode, kp, kcap),
               HRNET_OK, NULL, "decode_heatmaps");
    if (info.joints == 17) {
        int32_t keep[6];
        size_t kept = 0;
        expect(hrnet_oks_nms(kp, scores, areas, n, 17, NULL, 0.9f, keep, &kept), HRNET_OK, NULL,
               "oks_nms");
    }
    /* failures, whose messages are allocated and replaced */
    expect(hrnet_forward(s, x, batch, batch * per_in - 1, y, batch * per_out),
           HRNET_ERR_INVALID_ARGUMENT, s, "forward with a wrong input_count");
    expect(hrnet_forward(s, x, batch, batch * per_in, y, 1), HRNET_ERR_BUFFER_TOO_SMALL, s,
           "forward into a short buffer");
    boxes[0].width = NAN;
    expect(hrnet_estimate_boxes(s, &frame, boxes, n, &eo, kp, kcap, NULL, NULL, NULL, 0),
           HRNET_ERR_INVALID_ARGUMENT, s, "estimate_boxes with a NaN box");
    free(hm);
    free(x);
    free(y);
}

static void iteration(const soak_input *in, unsigned it)
{
    /* 1. a session opened from the file, default size or 128x96, one or two threads */
    hrnet_options o;
    hrnet_options_init(&o);
    o.num_threads = 1 + (int32_t)(it % 2);
    if (it % 4 >= 2) {
        o.input_height = 128;
        o.input_width = 96;
    }
    hrnet_session *s = NULL;
    if (expect(hrnet_session_open(in->path, &o, &s), HRNET_OK, NULL, "session_open")) {
        exercise(s, in, it);
        hrnet_session_close(s);
    }

    /* 2. a model loaded from memory, two sessions on it (the model released first) */
    hrnet_model *m = NULL;
    if (expect(hrnet_model_load_memory(in->bytes, in->size, &m), HRNET_OK, NULL, "load_memory")) {
        hrnet_session *a = NULL, *b = NULL;
        o.num_threads = 1;
        expect(hrnet_session_create(m, &o, &a), HRNET_OK, NULL, "session_create a");
        o.input_height = o.input_width = 0;
        expect(hrnet_session_create(m, &o, &b), HRNET_OK, NULL, "session_create b");
        hrnet_model_release(m);
        if (a) exercise(a, in, it + 1);
        hrnet_session_close(a);
        hrnet_session_close(b);
    }

    /* 3. loads that fail */
    m = NULL;
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/Tests/fixtures/no-such-file-%u.pth", g_root, it);
    expect(hrnet_model_load(missing, &m), HRNET_ERR_IO, NULL, "load of a missing file");
    hrnet_status st = hrnet_model_load_memory(in->bytes, in->size / 2 + it % 1000, &m);
    if (st != HRNET_ERR_FORMAT && st != HRNET_ERR_MODEL)
        expect(st, HRNET_ERR_FORMAT, NULL, "load_memory of a truncated checkpoint");
    if (st == HRNET_OK) hrnet_model_release(m);
    o.input_height = 100; /* not a multiple of 32 */
    o.input_width = 96;
    s = NULL;
    expect(hrnet_session_open(in->path, &o, &s), HRNET_ERR_INVALID_ARGUMENT, NULL,
           "session_open with a bad input size");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s REPO_ROOT SECONDS [INTERVAL_SECONDS]\n", argv[0]);
        return 2;
    }
    g_root = argv[1];
    double seconds = atof(argv[2]);
    double interval = argc > 3 ? atof(argv[3]) : 10.0;
    const char *allow_env = getenv("SOAK_ALLOW_MIB");
    double allow = allow_env ? atof(allow_env) : 8.0;
    char path[4096];
    snprintf(path, sizeof path, "%s/Tests/fixtures/coco_w8.pth", g_root);
    soak_input in = {.path = path, .fw = 320, .fh = 240};
    unsigned char *bytes = read_all(path, &in.size);
    if (!bytes) {
        fprintf(stderr, "soak: cannot read %s\n", path);
        return 2;
    }
    in.bytes = bytes;
    in.frame = make_frame(in.fw, in.fh, 1);

    /* RSS after an iteration swings with what malloc keeps cached (a freed arena may stay in the
     * heap), so leaks are judged on its floor: the lowest RSS in an early window right after the
     * warm-up (the first minute, or the first third of a shorter run) against the lowest in an
     * equally long window at the end (at most a minute each). */
    double warmup = seconds / 3 < 60 ? seconds / 3 : 60;
    double window = (seconds - warmup) / 2 < 60 ? (seconds - warmup) / 2 : 60;
    double t0 = now(), next = interval, rss, vm;
    double early_min = 1e30, early_max = 0, late_min = 1e30, late_max = 0, peak = 0;
    double heap = heap_in_use_mib(), heap_early = -1, heap_late = -1;
    unsigned it = 0, early_end = 0, late_start = 0;
    memory_mib(&rss, &vm);
    printf("libhrnet soak: %s, %.0f s, library %s\n", path, seconds, hrnet_version());
    printf("windows: early %.0f-%.0f s, late %.0f-%.0f s\n", warmup, warmup + window,
           seconds - window, seconds);
    printf("%8s %10s %10s %10s %10s\n", "seconds", "iterations", "RSS MiB", "VM MiB", "heap MiB");
    printf("%8.0f %10u %10.1f %10.1f %10.3f\n", 0.0, 0u, rss, vm, heap);
    fflush(stdout);
    double t = 0;
    for (;;) {
        iteration(&in, it++);
        t = now() - t0;
        memory_mib(&rss, &vm);
        heap = heap_in_use_mib();
        if (rss > peak) peak = rss;
        if (t >= warmup && t < warmup + window) {
            if (heap_early < 0 || heap < heap_early) heap_early = heap;
            if (rss < early_min) early_min = rss;
            if (rss > early_max) early_max = rss;
            early_end = it;
        }
        if (t >= seconds - window) {
            if (late_start == 0) late_start = it;
            if (heap_late < 0 || heap < heap_late) heap_late = heap;
            if (rss < late_min) late_min = rss;
            if (rss > late_max) late_max = rss;
        }
        if (t >= next || t >= seconds) {
            printf("%8.0f %10u %10.1f %10.1f %10.3f\n", t, it, rss, vm, heap);
            fflush(stdout);
            while (next <= t) next += interval;
        }
        if (t >= seconds) break;
    }
    if (early_end == 0) { /* iterations longer than the window: use the first after warm-up */
        early_min = early_max = late_min;
        heap_early = heap_late;
        early_end = late_start;
    }
    double growth = late_min - early_min;
    unsigned between = it > early_end ? it - early_end : 1;
    printf("%u iterations in %.0f s; RSS peak %.1f MiB\n", it, t, peak);
    printf("RSS early window: %.1f-%.1f MiB; late window: %.1f-%.1f MiB\n", early_min, early_max,
           late_min, late_max);
    printf("growth of the RSS floor: %+.2f MiB (%+.0f bytes per iteration); of its peak: %+.2f MiB; "
           "allowance %.1f MiB\n", growth, growth * 1048576.0 / between, late_max - early_max, allow);
    if (heap_early >= 0)
        printf("malloc'd bytes in use (floor): %.3f -> %.3f MiB (%+.0f bytes per iteration)\n",
               heap_early, heap_late, (heap_late - heap_early) * 1048576.0 / between);
    if (g_failures) {
        printf("VERDICT: FAIL - %d calls did not give the expected status\n", g_failures);
        return 2;
    }
    if (growth > allow) {
        printf("VERDICT: FAIL - the RSS floor grew by %.1f MiB after the warm-up\n", growth);
        return 1;
    }
    printf("VERDICT: PASS - the RSS floor is flat after the warm-up (%+.2f MiB)\n", growth);
    free(bytes);
    free(in.frame);
    return 0;
}
