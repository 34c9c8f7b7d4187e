/*
 * peaks.c - the smallest complete libhrnet host: open a checkpoint, print what the library
 * found in it, run one synthetic crop and print each joint's heatmap peak.
 *
 *   peaks CHECKPOINT.pth [HxW]        e.g.  peaks Tests/fixtures/coco_w8.pth 256x192
 *
 * A real host would fill the input from a person crop: RGB, resized to the network input,
 * x = (v/255 - mean) / std with mean 0.485 0.456 0.406 and std 0.229 0.224 0.225, NCHW.
 * Here the input is a deterministic pseudo-random pattern so the output is reproducible.
 */
#include "hrnet.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, hrnet_status st, const hrnet_session *session)
{
    fprintf(stderr, "peaks: %s failed: %s: %s\n", what, hrnet_status_string(st),
            hrnet_last_error(session));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s CHECKPOINT.pth [HxW]\n", argv[0]);
        return 2;
    }
    if ((hrnet_version_number() >> 16) != HRNET_VERSION_MAJOR) {
        fprintf(stderr, "peaks: libhrnet %s does not match the header %s\n", hrnet_version(),
                HRNET_VERSION_STRING);
        return 1;
    }

    hrnet_options options;
    hrnet_options_init(&options);
    if (argc == 3) {
        int h = 0, w = 0;
        char end = 0;
        if (sscanf(argv[2], "%dx%d%c", &h, &w, &end) != 2) {
            fprintf(stderr, "peaks: input size must look like 256x192, got '%s'\n", argv[2]);
            return 2;
        }
        options.input_height = h; /* the library checks the values */
        options.input_width = w;
    }

    hrnet_session *session = NULL;
    hrnet_status st = hrnet_session_open(argv[1], &options, &session);
    if (st != HRNET_OK) return fail("hrnet_session_open", st, NULL);

    hrnet_info info = {0};
    info.struct_size = sizeof info; /* tells the library how large our struct is */
    st = hrnet_session_info(session, &info);
    if (st != HRNET_OK) {
        fail("hrnet_session_info", st, session);
        hrnet_session_close(session);
        return 1;
    }
    printf("libhrnet %s\n", hrnet_version());
    printf("checkpoint   %s\n", argv[1]);
    printf("joints       %d\n", info.joints);
    printf("input        %d x %d\n", info.input_height, info.input_width);
    printf("heatmaps     %d x %d\n", info.heatmap_height, info.heatmap_width);
    printf("width        %d (branches %d, stages %d)\n", info.width, info.branches, info.stages);
    printf("parameters   %lld\n", (long long)info.parameters);
    printf("GMACs/crop   %.3f\n", info.gmacs_per_crop);
    printf("threads      %d\n", info.num_threads);

    const size_t batch = 1;
    const size_t input_count = batch * 3 * (size_t)info.input_height * (size_t)info.input_width;
    const size_t plane = (size_t)info.heatmap_height * (size_t)info.heatmap_width;
    const size_t heatmap_count = batch * (size_t)info.joints * plane;
    float *input = malloc(input_count * sizeof *input);
    float *heatmaps = malloc(heatmap_count * sizeof *heatmaps);
    if (!input || !heatmaps) {
        fprintf(stderr, "peaks: out of memory\n");
        free(input);
        free(heatmaps);
        hrnet_session_close(session);
        return 1;
    }
    /* deterministic pseudo-random values in [-2, 2): the range of a normalised image */
    uint32_t state = 12345u;
    for (size_t i = 0; i < input_count; i++) {
        state = state * 1664525u + 1013904223u;
        input[i] = (float)((state >> 8) * (4.0 / 16777216.0) - 2.0);
    }

    st = hrnet_forward(session, input, batch, input_count, heatmaps, heatmap_count);
    if (st != HRNET_OK) {
        fail("hrnet_forward", st, session);
        free(input);
        free(heatmaps);
        hrnet_session_close(session);
        return 1;
    }

    printf("joint     x     y      value\n");
    for (int k = 0; k < info.joints; k++) {
        const float *h = heatmaps + (size_t)k * plane;
        size_t best = 0;
        for (size_t i = 1; i < plane; i++)
            if (h[i] > h[best]) best = i;
        printf("%5d %5d %5d %10.6f\n", k, (int)(best % (size_t)info.heatmap_width),
               (int)(best / (size_t)info.heatmap_width), h[best]);
    }

    free(input);
    free(heatmaps);
    hrnet_session_close(session);
    return 0;
}
