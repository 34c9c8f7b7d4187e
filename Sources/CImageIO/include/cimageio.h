/*
 * cimageio.h - PNG and JPEG reading (to 8-bit RGB) and PNG writing for the hrnet-pose tool,
 * on Debian's libpng and libjpeg-turbo. Errors never abort: every function returns 0 on success
 * or -1 with a one-line message in `err` (libpng's and libjpeg's longjmp stays inside the C file).
 */
#ifndef CIMAGEIO_H
#define CIMAGEIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An 8-bit RGB image, rows packed (stride = 3 x width). Free `pixels` with hio_free(). */
typedef struct hio_image {
    uint8_t *pixels;
    int32_t width;
    int32_t height;
} hio_image;

/** Largest width or height accepted when reading. */
#define HIO_MAX_SIDE 65536

/** Reads a PNG or JPEG file (recognised by its signature, not its name) as 8-bit RGB:
 *  gray is replicated, palettes expanded, 16-bit samples reduced to 8 bits, alpha dropped
 *  (as OpenCV's imread(IMREAD_COLOR) does), CMYK JPEGs converted. EXIF orientation is not
 *  applied. Returns 0, or -1 with a message in err (errlen bytes, always terminated). */
int hio_read(const char *path, hio_image *out, char *err, size_t errlen);

/** Frees an image's pixels (NULL-safe) and zeroes it. */
void hio_free(hio_image *image);

/** Writes 8-bit RGB pixels (rows `stride` bytes apart) as a PNG file.
 *  Returns 0, or -1 with a message in err. */
int hio_write_png(const char *path, const uint8_t *rgb, int32_t width, int32_t height, size_t stride,
                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
