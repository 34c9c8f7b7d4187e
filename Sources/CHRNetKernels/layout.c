/* Conversions between the caller's NCHW floats and the blocked, bordered layout. */
#include "internal.h"
#include <math.h>

int64_t hr_pack_input(const float *src, int c, int h, int w, float *dst) {
    const int cbn = (c + 15) / 16;
    const int64_t plane = (int64_t)h * w;
    for (int cb = 0; cb < cbn; cb++)
        for (int y = 0; y < h; y++) {
            float *d = dst + (((int64_t)cb * (h + 2) + y + 1) * (w + 2) + 1) * 16;
            for (int x = 0; x < w; x++)
                for (int l = 0; l < 16; l++) {
                    const int ch = cb * 16 + l;
                    float v = 0.0f;
                    if (ch < c) {
                        const int64_t i = ch * plane + (int64_t)y * w + x;
                        v = src[i];
                        if (!isfinite(v)) return i;
                    }
                    d[x * 16 + l] = v;
                }
        }
    return -1;
}

void hr_unpack_output(const float *src, int c, int h, int w, float *dst) {
    for (int ch = 0; ch < c; ch++) {
        const int cb = ch / 16, l = ch % 16;
        for (int y = 0; y < h; y++) {
            const float *s = src + (((int64_t)cb * (h + 2) + y + 1) * (w + 2) + 1) * 16 + l;
            float *d = dst + ((int64_t)ch * h + y) * w;
            for (int x = 0; x < w; x++) d[x] = s[x * 16];
        }
    }
}
