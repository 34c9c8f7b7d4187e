/*
 * frames.c - writes a video's frames as raw packed RGB (width x height x 3 bytes each, one after
 * another) with hrnet-pose's own reader (Sources/CVideoIO), so the ROS test publishes exactly the
 * pixels the CLI and the library's tracker see. Prints "WIDTH HEIGHT FRAMES" on stdout.
 *
 *     frames VIDEO OUT.rgb [MAX_FRAMES]
 */
#include <stdio.h>
#include <stdlib.h>

#include "cvideoio.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: frames VIDEO OUT.rgb [MAX_FRAMES]\n");
        return 2;
    }
    long max = argc > 3 ? atol(argv[3]) : -1;
    char err[512];
    cvio_reader *reader = NULL;
    if (cvio_reader_open(argv[1], &reader, err, sizeof err) != 0) {
        fprintf(stderr, "frames: %s: %s\n", argv[1], err);
        return 1;
    }
    FILE *out = fopen(argv[2], "wb");
    if (out == NULL) {
        perror(argv[2]);
        cvio_reader_close(reader);
        return 1;
    }
    cvio_frame frame;
    long n = 0;
    int status = 0, w = 0, h = 0;
    while ((max < 0 || n < max) && (status = cvio_read(reader, NULL, 0, &frame, err, sizeof err)) == 1) {
        w = frame.width;
        h = frame.height;
        for (int y = 0; y < h; y++)
            if (fwrite(frame.pixels + (size_t)y * frame.stride, 3, (size_t)w, out) != (size_t)w) {
                perror(argv[2]);
                return 1;
            }
        n++;
    }
    cvio_reader_close(reader);
    if (fclose(out) != 0 || status < 0) {
        fprintf(stderr, "frames: %s: %s\n", argv[1], status < 0 ? err : "write failed");
        return 1;
    }
    printf("%d %d %ld\n", w, h, n);
    return 0;
}
