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
/** Most pixels accepted when reading (16384 x 16384; 768 MiB as RGB): a few bytes of header must
 *  not make the reader allocate and decode gigabytes. */
#define HIO_MAX_PIXELS ((size_t)1 << 28)
/** Most scans accepted in a progressive JPEG (each is a pass over the whole image). */
#define HIO_MAX_SCANS 500
/** Largest PNG ancillary chunk read (decompressed, for zTXt/iCCP), and most ancillary chunks
 *  kept (libpng's own defaults; distributions may build libpng without them). */
#define HIO_MAX_CHUNK 8000000
#define HIO_MAX_CHUNKS 1000
/** Largest file hio_read reads (it reads the file whole, then decodes it from memory). */
#define HIO_MAX_FILE ((size_t)1 << 31)

/** Reads a PNG or JPEG file (recognised by its signature, not its name) as 8-bit RGB:
 *  gray is replicated, palettes expanded, 16-bit samples reduced to 8 bits, alpha dropped
 *  (as OpenCV's imread(IMREAD_COLOR) does), CMYK JPEGs converted. EXIF orientation is not
 *  applied. Returns 0, or -1 with a message in err (errlen bytes, always terminated). */
int hio_read(const char *path, hio_image *out, char *err, size_t errlen);

/** Decodes a PNG or JPEG held in memory (`size` bytes at `data`, only read), as hio_read does
 *  with a file's bytes. `max_pixels`: the largest width x height accepted; 0 (or more than
 *  HIO_MAX_PIXELS) means HIO_MAX_PIXELS. Returns 0, or -1 with a message in err. */
int hio_read_memory(const void *data, size_t size, size_t max_pixels, hio_image *out, char *err, size_t errlen);

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
