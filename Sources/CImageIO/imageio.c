/* PNG/JPEG reading to 8-bit RGB and PNG writing, on libpng 1.6 and libjpeg(-turbo).
 * Both libraries report fatal errors by longjmp; it never leaves this file.
 * Images are decoded from memory (hio_read_memory); hio_read reads the file whole and decodes it
 * the same way, so the fuzz harness (Tests/fuzz) covers exactly what hrnet-pose runs.
 * Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the fuzz build only), libpng ignores CRC
 * and Adler-32 mismatches, so mutated inputs reach the decoding paths. */
#include "cimageio.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <png.h>
#include <jpeglib.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void hio_free(hio_image *image) {
    if (!image) return;
    free(image->pixels);
    image->pixels = NULL;
    image->width = image->height = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* PNG                                                                                          */

typedef struct png_ctx {
    jmp_buf jmp;
    char msg[200];
    size_t max_alloc; /* largest block libpng may allocate (reading); 0 = no limit (writing) */
} png_ctx;

/* libpng reads an ancillary chunk whole into one block of the length its header gives, before
 * looking at the data (and a too-large length is only a warning when reading), so a few bytes
 * could make it allocate 2 GiB. Reading never needs a block larger than a chunk of the input or
 * a row (HIO_MAX_SIDE x 8 bytes), so anything larger than the input plus HIO_MAX_CHUNK is
 * refused: libpng then skips the chunk or fails with "out of memory". */
static png_voidp png_malloc_cb(png_structp png, png_alloc_size_t size) {
    png_ctx *c = (png_ctx *)png_get_mem_ptr(png);
    if (c && c->max_alloc && size > c->max_alloc) return NULL;
    return malloc(size);
}

static void png_free_cb(png_structp png, png_voidp p) {
    (void)png;
    free(p);
}

static void png_error_cb(png_structp png, png_const_charp msg) {
    png_ctx *c = (png_ctx *)png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "libpng error");
    longjmp(c->jmp, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings (e.g. unknown or damaged ancillary chunks) are not failures */
}

/* The bytes being decoded, and how far libpng has read. */
typedef struct mem_src {
    const uint8_t *data;
    size_t size, pos;
} mem_src;

static void png_read_cb(png_structp png, png_bytep dst, size_t n) {
    mem_src *m = (mem_src *)png_get_io_ptr(png);
    if (n > m->size - m->pos) png_error(png, "unexpected end of data (truncated file?)");
    memcpy(dst, m->data + m->pos, n);
    m->pos += n;
}

static int read_png(const uint8_t *data, size_t size, size_t max_pixels, hio_image *out, char *err, size_t errlen) {
    png_ctx ctx;
    ctx.msg[0] = 0;
    ctx.max_alloc = size + HIO_MAX_CHUNK;
    mem_src src = {data, size, 0};
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warning_cb,
                                               &ctx, png_malloc_cb, png_free_cb);
    if (!png) return fail(err, errlen, "out of memory (libpng)");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(err, errlen, "out of memory (libpng)");
    }
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(ctx.jmp)) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return fail(err, errlen, "invalid or truncated PNG: %s", ctx.msg);
    }
    png_set_user_limits(png, HIO_MAX_SIDE, HIO_MAX_SIDE);
    /* An ancillary chunk is read whole: without a cap, its 4-byte length alone makes libpng
     * allocate up to 2 GiB (text, ICC profiles and the like are far smaller). */
    png_set_chunk_malloc_max(png, HIO_MAX_CHUNK);
    png_set_chunk_cache_max(png, HIO_MAX_CHUNKS);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
    png_set_read_fn(png, &src, png_read_cb);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if ((size_t)w * h > max_pixels) {
        snprintf(ctx.msg, sizeof ctx.msg, "image is %ux%u, more than %zu pixels", (unsigned)w, (unsigned)h, max_pixels);
        longjmp(ctx.jmp, 1);
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    /* Alpha is dropped, including the alpha that expanding a palette with a tRNS chunk adds. */
    if ((color & PNG_COLOR_MASK_ALPHA) || (color == PNG_COLOR_TYPE_PALETTE && png_get_valid(png, info, PNG_INFO_tRNS)))
        png_set_strip_alpha(png);
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 || rowbytes != (size_t)w * 3) {
        snprintf(ctx.msg, sizeof ctx.msg, "unsupported PNG layout (color type %d, depth %d)", color, depth);
        longjmp(ctx.jmp, 1);
    }
    pixels = (uint8_t *)malloc(rowbytes * h);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) {
        snprintf(ctx.msg, sizeof ctx.msg, "out of memory for a %ux%u image", (unsigned)w, (unsigned)h);
        longjmp(ctx.jmp, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->pixels = pixels;
    out->width = (int32_t)w;
    out->height = (int32_t)h;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JPEG                                                                                         */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void jpeg_error_cb(j_common_ptr cinfo) {
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, c->msg);
    longjmp(c->jmp, 1);
}

static void jpeg_message_cb(j_common_ptr cinfo, int level) {
    (void)cinfo;
    (void)level; /* no printing on stderr from the library; warnings are not failures */
}

/* A progressive JPEG can hold any number of scans, each a pass over the whole image: a small
 * hostile file would make decoding take minutes. Real files have about ten. */
static void jpeg_progress_cb(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > HIO_MAX_SCANS) {
        jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
        snprintf(c->msg, sizeof c->msg, "more than %d scans", HIO_MAX_SCANS);
        longjmp(c->jmp, 1);
    }
}

static int read_jpeg(const uint8_t *data, size_t size, size_t max_pixels, hio_image *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    jpeg_ctx ctx;
    ctx.msg[0] = 0;
    cinfo.err = jpeg_std_error(&ctx.mgr);
    ctx.mgr.error_exit = jpeg_error_cb;
    ctx.mgr.emit_message = jpeg_message_cb;
    memset(&progress, 0, sizeof progress);
    progress.progress_monitor = jpeg_progress_cb;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile line = NULL;
    if (setjmp(ctx.jmp)) {
        free(pixels);
        free(line);
        jpeg_destroy_decompress(&cinfo);
        return fail(err, errlen, "invalid or truncated JPEG: %s", ctx.msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    if (cinfo.image_width > HIO_MAX_SIDE || cinfo.image_height > HIO_MAX_SIDE) {
        snprintf(ctx.msg, sizeof ctx.msg, "image is %ux%u, larger than %d per side",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, HIO_MAX_SIDE);
        longjmp(ctx.jmp, 1);
    }
    if ((size_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(ctx.msg, sizeof ctx.msg, "image is %ux%u, more than %zu pixels",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, max_pixels);
        longjmp(ctx.jmp, 1);
    }
    jpeg_start_decompress(&cinfo);
    size_t w = cinfo.output_width, h = cinfo.output_height;
    int nc = cinfo.output_components;
    if (nc != (cmyk ? 4 : 3) || w == 0 || h == 0) {
        snprintf(ctx.msg, sizeof ctx.msg, "unsupported JPEG layout (%d components)", nc);
        longjmp(ctx.jmp, 1);
    }
    pixels = (uint8_t *)malloc(w * h * 3);
    line = (uint8_t *)malloc(w * (size_t)nc);
    if (!pixels || !line) {
        snprintf(ctx.msg, sizeof ctx.msg, "out of memory for a %zux%zu image", w, h);
        longjmp(ctx.jmp, 1);
    }
    while (cinfo.output_scanline < h) {
        size_t y = cinfo.output_scanline;
        JSAMPROW row = line;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            snprintf(ctx.msg, sizeof ctx.msg, "no data at row %zu", y);
            longjmp(ctx.jmp, 1);
        }
        uint8_t *dst = pixels + y * w * 3;
        if (cmyk) {
            /* Adobe's CMYK JPEGs store inverted values: R = C' x K' / 255 (likewise G, B). */
            int inverted = cinfo.saw_Adobe_marker;
            for (size_t x = 0; x < w; x++) {
                unsigned c = line[4 * x], m = line[4 * x + 1], yy = line[4 * x + 2], k = line[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                dst[3 * x] = (uint8_t)((c * k + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
            }
        } else {
            memcpy(dst, line, w * 3);
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(line);
    out->pixels = pixels;
    out->width = (int32_t)w;
    out->height = (int32_t)h;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

int hio_read_memory(const void *data, size_t size, size_t max_pixels, hio_image *out, char *err, size_t errlen) {
    if (!out) return fail(err, errlen, "no output given");
    out->pixels = NULL;
    out->width = out->height = 0;
    if (!data && size) return fail(err, errlen, "no data given");
    if (max_pixels == 0 || max_pixels > HIO_MAX_PIXELS) max_pixels = HIO_MAX_PIXELS;
    const uint8_t *sig = (const uint8_t *)data;
    if (size < 8) return fail(err, errlen, "not a PNG or JPEG image (the file has only %zu bytes)", size);
    if (png_sig_cmp(sig, 0, 8) == 0) return read_png(sig, size, max_pixels, out, err, errlen);
    if (sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) return read_jpeg(sig, size, max_pixels, out, err, errlen);
    return fail(err, errlen, "not a PNG or JPEG image (unrecognised file signature)");
}

int hio_read(const char *path, hio_image *out, char *err, size_t errlen) {
    if (!path || !out) return fail(err, errlen, "no path or output given");
    out->pixels = NULL;
    out->width = out->height = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, "cannot open: %s", strerror(errno));
    /* The whole file: a regular file's size is known; a pipe's buffer grows by doubling. */
    struct stat st;
    size_t cap = 1 << 16, size = 0;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > (uint64_t)HIO_MAX_FILE) {
            fclose(f);
            return fail(err, errlen, "the file is %lld bytes, more than an image may have (%zu)",
                        (long long)st.st_size, HIO_MAX_FILE);
        }
        cap = (size_t)st.st_size + 1; /* + 1: a file that grew meanwhile is read on */
    }
    uint8_t *buf = (uint8_t *)malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return fail(err, errlen, "out of memory reading the file (%zu bytes so far)", size);
        }
        size += fread(buf + size, 1, cap - size, f);
        if (size < cap || ferror(f)) break;
        if (cap >= HIO_MAX_FILE) {
            free(buf);
            fclose(f);
            return fail(err, errlen, "the file is more than %zu bytes, more than an image may have", HIO_MAX_FILE);
        }
        uint8_t *bigger = (uint8_t *)realloc(buf, cap * 2);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return fail(err, errlen, "cannot read: %s", strerror(e));
    }
    fclose(f);
    int r = hio_read_memory(buf, size, 0, out, err, errlen);
    free(buf);
    return r;
}

int hio_write_png(const char *path, const uint8_t *rgb, int32_t width, int32_t height, size_t stride,
                  char *err, size_t errlen) {
    if (!path || !rgb || width <= 0 || height <= 0 || stride < (size_t)width * 3)
        return fail(err, errlen, "invalid image to write (%dx%d, stride %zu)", width, height, stride);
    FILE *f = fopen(path, "wb");
    if (!f) return fail(err, errlen, "cannot create: %s", strerror(errno));
    png_ctx ctx;
    ctx.msg[0] = 0;
    ctx.max_alloc = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warning_cb);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        if (png) png_destroy_write_struct(&png, NULL);
        fclose(f);
        return fail(err, errlen, "out of memory (libpng)");
    }
    if (setjmp(ctx.jmp)) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return fail(err, errlen, "cannot write PNG: %s", ctx.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * stride));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return fail(err, errlen, "cannot write: %s", strerror(errno));
    return 0;
}
