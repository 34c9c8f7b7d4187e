/* Affine crop + normalisation: the network input sampled from an 8-bit image. */
#include "hrnet_kernels.h"
#include <math.h>

void hr_warp_normalize(const uint8_t *img, int iw, int ih, size_t stride, int channels, int bgr,
                       double k, double cx, double cy, int W, int H, int flip,
                       const float mean[3], const float std[3], float *out) {
    const int64_t plane = (int64_t)W * H;
    float scale[3], shift[3];
    for (int c = 0; c < 3; c++) { scale[c] = 1.0f / (255.0f * std[c]); shift[c] = -mean[c] / std[c]; }
    const int cidx[3] = {bgr ? 2 : 0, 1, bgr ? 0 : 2};
    for (int v = 0; v < H; v++) {
        const double y = (v - H * 0.5) / k + cy;
        /* A huge box (a tiny k) puts the sample far outside any int: clamp first (outside the
         * image either way, so the pixel reads nothing), then convert. */
        const double y0f = floor(y);
        const int y0 = (int)fmin(fmax(y0f, -2.0), (double)ih + 1);
        const float fy = (float)(y - y0f);
        for (int u = 0; u < W; u++) {
            const int su = flip ? W - 1 - u : u;
            const double x = (su - W * 0.5) / k + cx;
            const double x0f = floor(x);
            const int x0 = (int)fmin(fmax(x0f, -2.0), (double)iw + 1);
            const float fx = (float)(x - x0f);
            float acc[3] = {0, 0, 0};
            for (int dy = 0; dy < 2; dy++) {
                const int yy = y0 + dy;
                if (yy < 0 || yy >= ih) continue;
                const float wy = dy ? fy : 1.0f - fy;
                const uint8_t *row = img + (size_t)yy * stride;
                for (int dx = 0; dx < 2; dx++) {
                    const int xx = x0 + dx;
                    if (xx < 0 || xx >= iw) continue;
                    const float w = wy * (dx ? fx : 1.0f - fx);
                    const uint8_t *p = row + (size_t)xx * channels;
                    for (int c = 0; c < 3; c++) acc[c] += w * p[cidx[c]];
                }
            }
            for (int c = 0; c < 3; c++) out[c * plane + (int64_t)v * W + u] = acc[c] * scale[c] + shift[c];
        }
    }
}
