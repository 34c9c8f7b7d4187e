/* Video reading to packed RGB24 and MPEG-4 part 2 writing for hrnet-pose, on FFmpeg's libavformat,
 * libavcodec, libswscale and libavutil (FFmpeg 5.x-7.x APIs). Every return code is checked: a
 * damaged file is an error message, never a crash. See include/cvideoio.h. */
#include "cvideoio.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* ------------------------------------------------------------------------------------------ */
/* Messages                                                                                     */

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* FFmpeg logs details (e.g. "moov atom not found") that its error codes do not carry. Its log
 * output is silenced; the last error-level message is kept here and added to ours. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static char last_log[200];

static void log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    (void)avcl;
    if (level > AV_LOG_ERROR || !fmt) return;
    char line[sizeof last_log];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
    if (!n) return;
    pthread_mutex_lock(&log_lock);
    memcpy(last_log, line, n + 1);
    pthread_mutex_unlock(&log_lock);
}

static void log_setup(void) { av_log_set_callback(log_callback); }

static void log_clear(void) {
    pthread_once(&log_once, log_setup);
    pthread_mutex_lock(&log_lock);
    last_log[0] = 0;
    pthread_mutex_unlock(&log_lock);
}

/* "what: FFmpeg's error text (its last log message)" into buf. */
static void describe(char *buf, size_t len, const char *what, int averr) {
    char e[AV_ERROR_MAX_STRING_SIZE] = "";
    if (averr < 0) av_strerror(averr, e, sizeof e);
    char logged[sizeof last_log];
    pthread_mutex_lock(&log_lock);
    memcpy(logged, last_log, sizeof logged);
    pthread_mutex_unlock(&log_lock);
    if (logged[0] && e[0] && strcasecmp(logged, e) != 0)
        snprintf(buf, len, "%s: %s (%s)", what, e, logged);
    else if (e[0] || logged[0])
        snprintf(buf, len, "%s: %s", what, e[0] ? e : logged);
    else
        snprintf(buf, len, "%s", what);
}

static int fail_av(char *err, size_t errlen, const char *what, int averr) {
    if (err && errlen) describe(err, errlen, what, averr);
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                      */

/* Demuxers tried when probing: common video containers and raw video streams. Image sequences
 * (image2), playlists (hls, concat), network and device inputs, and the text/"art" demuxers are
 * left out, so a file that is none of these is "not a video" rather than something odd. */
static const char *const DEMUXERS =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpeg,mpegts,mpegvideo,flv,asf,ogg,h264,hevc,m4v,"
    "mjpeg,yuv4mpegpipe,nut,mxf,dv";

enum { READING, DRAINING, DRAINING_AFTER_ERROR, DONE, FAILED };

struct cvio_reader {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int stream;
    AVRational time_base;
    int64_t origin;          /* pts of time 0, or AV_NOPTS_VALUE until the first frame */
    cvio_info info;
    int has_index;           /* the container lists its frames (frame_count is exact) */
    uint8_t *buf;            /* the reader's own RGB buffer */
    size_t buf_stride;
    int state;
    char error[320];         /* the message of a failure, repeated by later calls */
    int64_t packets;         /* packets of the stream given to the decoder */
    int64_t index;           /* frames returned */
    double last_ts;
};

static void reader_free(cvio_reader *r) {
    if (!r) return;
    sws_freeContext(r->sws);
    av_frame_free(&r->frame);
    av_packet_free(&r->pkt);
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    free(r->buf);
    free(r);
}

void cvio_reader_close(cvio_reader *reader) { reader_free(reader); }

static void copy_name(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
}

int cvio_reader_open(const char *path, cvio_reader **out, char *err, size_t errlen) {
    if (!path || !out) return fail(err, errlen, "no path or output given");
    *out = NULL;
    log_clear();
    struct stat sb;
    if (stat(path, &sb) != 0) return fail(err, errlen, "cannot open: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode)) return fail(err, errlen, "not a regular file");
    if (sb.st_size == 0) return fail(err, errlen, "the file is empty");
    cvio_reader *r = calloc(1, sizeof *r);
    if (!r) return fail(err, errlen, "out of memory");
    r->origin = AV_NOPTS_VALUE;
    r->stream = -1;

    AVDictionary *opts = NULL;
    int ret = av_dict_set(&opts, "protocol_whitelist", "file", 0);
    if (ret >= 0) ret = av_dict_set(&opts, "format_whitelist", DEMUXERS, 0);
    if (ret < 0) {
        av_dict_free(&opts);
        reader_free(r);
        return fail(err, errlen, "out of memory");
    }
    /* "file:" so that a name such as "a:b.mp4" is never taken for a protocol. */
    size_t plen = strlen(path);
    char *url = malloc(plen + 6);
    if (!url) {
        av_dict_free(&opts);
        reader_free(r);
        return fail(err, errlen, "out of memory");
    }
    memcpy(url, "file:", 5);
    memcpy(url + 5, path, plen + 1);
    ret = avformat_open_input(&r->fmt, url, NULL, &opts);
    free(url);
    av_dict_free(&opts);
    if (ret < 0) {
        /* avformat_open_input frees the context on failure. */
        r->fmt = NULL;
        reader_free(r);
        char logged[sizeof last_log];
        pthread_mutex_lock(&log_lock);
        memcpy(logged, last_log, sizeof logged);
        pthread_mutex_unlock(&log_lock);
        if (strstr(logged, "whitelist"))
            return fail(err, errlen, "not a video container");
        if (strstr(logged, "moov atom not found"))
            return fail(err, errlen, "an MP4/MOV file without its index (moov atom not found): truncated, "
                                     "not finished, or not an MP4 at all");
        if (ret == AVERROR_INVALIDDATA || ret == AVERROR(EINVAL))
            return fail_av(err, errlen, "not a recognised video format", ret);
        return fail_av(err, errlen, "cannot open the video", ret);
    }
    ret = avformat_find_stream_info(r->fmt, NULL);
    if (ret < 0) {
        reader_free(r);
        return fail_av(err, errlen, "cannot read the video's streams", ret);
    }
    const AVCodec *codec = NULL;
    ret = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (ret < 0) {
        reader_free(r);
        if (ret == AVERROR_DECODER_NOT_FOUND)
            return fail(err, errlen, "no decoder in this FFmpeg build for the file's video stream");
        return fail(err, errlen, "the file has no video stream");
    }
    r->stream = ret;
    AVStream *st = r->fmt->streams[r->stream];
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
        if ((int)i != r->stream) r->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVCodecParameters *par = st->codecpar;
    if (par->width <= 0 || par->height <= 0) {
        reader_free(r);
        return fail(err, errlen, "the video stream has no frame size");
    }
    if (par->width > CVIO_MAX_SIDE || par->height > CVIO_MAX_SIDE ||
        (int64_t)par->width * par->height > CVIO_MAX_PIXELS) {
        int w = par->width, h = par->height;
        reader_free(r);
        return fail(err, errlen, "the video's frames are %dx%d, larger than the %dx%d accepted", w, h,
                    CVIO_MAX_SIDE, CVIO_MAX_SIDE);
    }
    r->dec = avcodec_alloc_context3(codec);
    if (!r->dec) {
        reader_free(r);
        return fail(err, errlen, "out of memory");
    }
    ret = avcodec_parameters_to_context(r->dec, par);
    if (ret < 0) {
        reader_free(r);
        return fail_av(err, errlen, "cannot set up the decoder", ret);
    }
    r->dec->pkt_timebase = st->time_base;
    r->dec->max_pixels = CVIO_MAX_PIXELS;
    /* Slice threads only: frame threads would hold frames back and report errors late. */
    r->dec->thread_type = FF_THREAD_SLICE;
    r->dec->thread_count = 0;
    ret = avcodec_open2(r->dec, codec, NULL);
    if (ret < 0) {
        reader_free(r);
        return fail_av(err, errlen, "cannot open the decoder", ret);
    }
    r->pkt = av_packet_alloc();
    r->frame = av_frame_alloc();
    if (!r->pkt || !r->frame) {
        reader_free(r);
        return fail(err, errlen, "out of memory");
    }

    r->time_base = st->time_base;
    if (r->time_base.num <= 0 || r->time_base.den <= 0) r->time_base = (AVRational){1, 90000};
    if (st->start_time != AV_NOPTS_VALUE) r->origin = st->start_time;
    cvio_info *in = &r->info;
    in->width = par->width;
    in->height = par->height;
    AVRational fr = st->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = st->r_frame_rate;
    double fps = (fr.num > 0 && fr.den > 0) ? av_q2d(fr) : 0;
    in->fps = (fps > 0 && fps <= 10000) ? fps : 0;
    in->duration = -1;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        in->duration = (double)st->duration * av_q2d(r->time_base);
    else if (r->fmt->duration != AV_NOPTS_VALUE && r->fmt->duration > 0)
        in->duration = (double)r->fmt->duration / AV_TIME_BASE;
    in->frame_count = st->nb_frames > 0 ? st->nb_frames : -1;
    copy_name(in->format, sizeof in->format, r->fmt->iformat ? r->fmt->iformat->name : "");
    copy_name(in->codec, sizeof in->codec, codec->name);
    /* Containers with a frame index: a stream that ends before the index says is truncated. */
    const char *fname = r->fmt->iformat ? r->fmt->iformat->name : "";
    r->has_index = in->frame_count > 0 && (strncmp(fname, "mov,", 4) == 0 || strcmp(fname, "avi") == 0);

    if (av_image_check_size((unsigned)in->width, (unsigned)in->height, 0, NULL) < 0) {
        reader_free(r);
        return fail(err, errlen, "invalid frame size %dx%d", in->width, in->height);
    }
    r->buf_stride = (size_t)in->width * 3;
    r->buf = malloc(r->buf_stride * (size_t)in->height);
    if (!r->buf) {
        reader_free(r);
        return fail(err, errlen, "out of memory for %dx%d frames", in->width, in->height);
    }
    *out = r;
    return 0;
}

void cvio_reader_info(const cvio_reader *reader, cvio_info *info) {
    if (!reader || !info) return;
    *info = reader->info;
}

/* The non-deprecated pixel format and range for the JPEG-range aliases. */
static enum AVPixelFormat unalias(enum AVPixelFormat f, int *full_range) {
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = 1; return AV_PIX_FMT_YUV411P;
    default: return f;
    }
}

/* Converts r->frame into dst (RGB24 at the reader's size). */
static int convert(cvio_reader *r, uint8_t *dst, size_t stride, char *msg, size_t msglen) {
    AVFrame *f = r->frame;
    if (f->width <= 0 || f->height <= 0 || f->width > CVIO_MAX_SIDE || f->height > CVIO_MAX_SIDE ||
        (int64_t)f->width * f->height > CVIO_MAX_PIXELS)
        return fail(msg, msglen, "the decoder gave a frame of invalid size %dx%d", f->width, f->height);
    int full = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat fmt = unalias((enum AVPixelFormat)f->format, &full);
    if (fmt == AV_PIX_FMT_NONE || !sws_isSupportedInput(fmt))
        return fail(msg, msglen, "cannot convert the decoder's pixel format %s to RGB",
                    av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "(unknown)");
    r->sws = sws_getCachedContext(r->sws, f->width, f->height, fmt, r->info.width, r->info.height,
                                  AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                                  NULL, NULL, NULL);
    if (!r->sws) return fail(msg, msglen, "cannot convert %s frames to RGB", av_get_pix_fmt_name(fmt));
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    if (d && !(d->flags & AV_PIX_FMT_FLAG_RGB)) {
        /* Colour matrix from the stream (unspecified: BT.601, as FFmpeg assumes), its range. */
        int cs = f->colorspace;
        if (cs == AVCOL_SPC_UNSPECIFIED || cs == AVCOL_SPC_RGB || cs >= AVCOL_SPC_NB) cs = SWS_CS_DEFAULT;
        (void)sws_setColorspaceDetails(r->sws, sws_getCoefficients(cs), full, sws_getCoefficients(SWS_CS_DEFAULT),
                                       1, 0, 1 << 16, 1 << 16);
    }
    if (stride > (size_t)INT32_MAX) return fail(msg, msglen, "row stride too large");
    uint8_t *planes[4] = {dst, NULL, NULL, NULL};
    int strides[4] = {(int)stride, 0, 0, 0};
    int h = sws_scale(r->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides);
    if (h != r->info.height) return fail(msg, msglen, "cannot convert the frame to RGB");
    return 0;
}

/* The frame's time in seconds from the stream's start; derived where the container has none. */
static double frame_time(cvio_reader *r, int *from_container) {
    int64_t pts = r->frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) pts = r->frame->pts;
    double step = r->info.fps > 0 ? 1.0 / r->info.fps : 1.0 / 30;
    double prev = r->last_ts;
    *from_container = 0;
    if (pts != AV_NOPTS_VALUE) {
        if (r->origin == AV_NOPTS_VALUE) r->origin = pts;
        double t = (double)(pts - r->origin) * av_q2d(r->time_base);
        if (t == t && t >= 0 && t < 1e12 && (r->index == 0 || t > prev)) {
            *from_container = 1;
            return t;
        }
    }
    return r->index == 0 ? 0 : prev + step;
}

/* Gives the decoder its end-of-stream and switches to draining (after an error: `msg`). */
static void start_draining(cvio_reader *r, const char *msg) {
    (void)avcodec_send_packet(r->dec, NULL);
    if (msg) {
        snprintf(r->error, sizeof r->error, "%s", msg);
        r->state = DRAINING_AFTER_ERROR;
    } else {
        r->state = DRAINING;
    }
}

int cvio_read(cvio_reader *r, uint8_t *dst, size_t dst_stride, cvio_frame *frame, char *err, size_t errlen) {
    if (!r || !frame) return fail(err, errlen, "no reader or frame given");
    if (dst && dst_stride < (size_t)r->info.width * 3)
        return fail(err, errlen, "row stride %zu is less than 3 x width (%d)", dst_stride, r->info.width);
    log_clear();
    char msg[sizeof r->error];
    for (;;) {
        if (r->state == DONE) return 0;
        if (r->state == FAILED) return fail(err, errlen, "%s", r->error);
        int ret = avcodec_receive_frame(r->dec, r->frame);
        if (ret == 0) {
            uint8_t *out = dst ? dst : r->buf;
            size_t stride = dst ? dst_stride : r->buf_stride;
            if (convert(r, out, stride, msg, sizeof msg) < 0) {
                av_frame_unref(r->frame);
                r->state = FAILED;
                snprintf(r->error, sizeof r->error, "%s", msg);
                return fail(err, errlen, "%s", r->error);
            }
            int from_container;
            double t = frame_time(r, &from_container);
            int corrupt = (r->frame->flags & AV_FRAME_FLAG_CORRUPT) || r->frame->decode_error_flags;
            av_frame_unref(r->frame);
            if (corrupt) {
                /* A frame the decoder had to patch up: the data is damaged from here on. */
                r->state = FAILED;
                snprintf(r->error, sizeof r->error, "the decoder found damaged data (corrupt or missing)");
                return fail(err, errlen, "%s", r->error);
            }
            frame->pixels = out;
            frame->stride = stride;
            frame->width = r->info.width;
            frame->height = r->info.height;
            frame->timestamp = t;
            frame->timestamp_from_container = from_container;
            frame->index = r->index++;
            r->last_ts = t;
            return 1;
        }
        if (ret == AVERROR_EOF) {
            if (r->state == DRAINING_AFTER_ERROR) {
                r->state = FAILED;
                return fail(err, errlen, "%s", r->error);
            }
            if (r->has_index && r->packets < r->info.frame_count) {
                r->state = FAILED;
                snprintf(r->error, sizeof r->error,
                         "the file ends after %lld of the %lld frames its index lists (truncated)",
                         (long long)r->packets, (long long)r->info.frame_count);
                return fail(err, errlen, "%s", r->error);
            }
            r->state = DONE;
            return 0;
        }
        if (ret != AVERROR(EAGAIN)) {
            describe(msg, sizeof msg, "cannot decode", ret);
            r->state = FAILED;
            snprintf(r->error, sizeof r->error, "%s", msg);
            return fail(err, errlen, "%s", r->error);
        }
        if (r->state != READING) {
            /* EAGAIN while draining cannot happen; end rather than loop. */
            r->state = r->state == DRAINING_AFTER_ERROR ? FAILED : DONE;
            continue;
        }
        ret = av_read_frame(r->fmt, r->pkt);
        if (ret == AVERROR_EOF) {
            start_draining(r, NULL);
            continue;
        }
        if (ret < 0) {
            describe(msg, sizeof msg, "cannot read the file", ret);
            start_draining(r, msg);
            continue;
        }
        if (r->pkt->stream_index != r->stream) {
            av_packet_unref(r->pkt);
            continue;
        }
        if (r->pkt->flags & AV_PKT_FLAG_CORRUPT) {
            av_packet_unref(r->pkt);
            start_draining(r, "the file ends in the middle of a frame (truncated) or its data is corrupt");
            continue;
        }
        r->packets++;
        ret = avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            describe(msg, sizeof msg, "cannot decode", ret);
            start_draining(r, msg);
            continue;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                      */

struct cvio_writer {
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    int width, height;       /* accepted (RGB) size */
    int64_t next_pts;
    char *path, *tmp;
    int header_written;
};

static void writer_free(cvio_writer *w, int remove_tmp) {
    if (!w) return;
    if (w->oc) {
        if (w->oc->pb) avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    avcodec_free_context(&w->enc);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    sws_freeContext(w->sws);
    if (remove_tmp && w->tmp) unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w);
}

void cvio_writer_abort(cvio_writer *writer) { writer_free(writer, 1); }

/* The muxer for a file name's extension, or NULL. */
static const char *muxer_for(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot) return NULL;
    if (!strcasecmp(dot, ".mp4") || !strcasecmp(dot, ".m4v")) return "mp4";
    if (!strcasecmp(dot, ".mov")) return "mov";
    if (!strcasecmp(dot, ".avi")) return "avi";
    if (!strcasecmp(dot, ".mkv")) return "matroska";
    return NULL;
}

int cvio_writer_supports(const char *path) { return path && muxer_for(path) ? 1 : 0; }

int cvio_writer_open(const char *path, int32_t width, int32_t height, double fps, cvio_writer **out,
                     char *err, size_t errlen) {
    if (!path || !out) return fail(err, errlen, "no path or output given");
    *out = NULL;
    log_clear();
    const char *muxer = muxer_for(path);
    if (!muxer) return fail(err, errlen, "unsupported video file extension: use .mp4, .m4v, .mov, .avi or .mkv");
    if (width < 2 || height < 2 || width > CVIO_MAX_SIDE || height > CVIO_MAX_SIDE)
        return fail(err, errlen, "invalid video size %dx%d (2 to %d pixels a side)", width, height, CVIO_MAX_SIDE);
    if ((width & 1) || (height & 1))
        return fail(err, errlen, "video size %dx%d: width and height must be even (yuv420p)", width, height);
    if (!(fps > 0 && fps <= 1000)) return fail(err, errlen, "invalid frame rate %g (0 < fps <= 1000)", fps);

    cvio_writer *w = calloc(1, sizeof *w);
    if (!w) return fail(err, errlen, "out of memory");
    w->width = width;
    w->height = height;
    size_t plen = strlen(path);
    w->path = malloc(plen + 1);
    w->tmp = malloc(plen + 40);
    if (!w->path || !w->tmp) {
        writer_free(w, 0);
        return fail(err, errlen, "out of memory");
    }
    memcpy(w->path, path, plen + 1);
    {
        const char *slash = strrchr(path, '/');
        size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
        snprintf(w->tmp, plen + 40, "%.*s.%s.tmp-%ld", (int)dirlen, path, path + dirlen, (long)getpid());
    }

    int ret = avformat_alloc_output_context2(&w->oc, NULL, muxer, w->tmp);
    if (ret < 0 || !w->oc) {
        writer_free(w, 0);
        return fail_av(err, errlen, "cannot set up the video container", ret);
    }
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) {
        writer_free(w, 0);
        return fail(err, errlen, "this FFmpeg build has no MPEG-4 part 2 encoder");
    }
    w->enc = avcodec_alloc_context3(codec);
    if (!w->enc) {
        writer_free(w, 0);
        return fail(err, errlen, "out of memory");
    }
    /* MPEG-4 part 2 time bases have a denominator of at most 65535. */
    AVRational rate = av_d2q(fps, 65535);
    if (rate.num <= 0 || rate.den <= 0) {
        writer_free(w, 0);
        return fail(err, errlen, "invalid frame rate %g", fps);
    }
    w->enc->width = width;
    w->enc->height = height;
    w->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    w->enc->time_base = av_inv_q(rate);
    w->enc->framerate = rate;
    w->enc->gop_size = 30;
    w->enc->max_b_frames = 0;
    w->enc->flags |= AV_CODEC_FLAG_QSCALE;
    w->enc->global_quality = 3 * FF_QP2LAMBDA;
    w->enc->color_range = AVCOL_RANGE_MPEG;
    w->enc->colorspace = AVCOL_SPC_SMPTE170M;
    w->enc->color_primaries = AVCOL_PRI_SMPTE170M;
    w->enc->color_trc = AVCOL_TRC_SMPTE170M;
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ret = avcodec_open2(w->enc, codec, NULL);
    if (ret < 0) {
        writer_free(w, 0);
        return fail_av(err, errlen, "cannot open the MPEG-4 encoder", ret);
    }
    w->st = avformat_new_stream(w->oc, NULL);
    if (!w->st) {
        writer_free(w, 0);
        return fail(err, errlen, "out of memory");
    }
    w->st->time_base = w->enc->time_base;
    w->st->avg_frame_rate = rate;
    ret = avcodec_parameters_from_context(w->st->codecpar, w->enc);
    if (ret < 0) {
        writer_free(w, 0);
        return fail_av(err, errlen, "cannot set up the video stream", ret);
    }
    w->frame = av_frame_alloc();
    w->pkt = av_packet_alloc();
    if (!w->frame || !w->pkt) {
        writer_free(w, 0);
        return fail(err, errlen, "out of memory");
    }
    w->frame->format = AV_PIX_FMT_YUV420P;
    w->frame->width = width;
    w->frame->height = height;
    ret = av_frame_get_buffer(w->frame, 0);
    if (ret < 0) {
        writer_free(w, 0);
        return fail_av(err, errlen, "cannot allocate a frame", ret);
    }
    w->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                            SWS_BILINEAR | SWS_ACCURATE_RND, NULL, NULL, NULL);
    if (!w->sws) {
        writer_free(w, 0);
        return fail(err, errlen, "cannot set up the RGB to YUV conversion");
    }
    /* RGB (full range) to BT.601 limited-range YUV, the colour description the stream carries. */
    (void)sws_setColorspaceDetails(w->sws, sws_getCoefficients(SWS_CS_ITU601), 1,
                                   sws_getCoefficients(SWS_CS_ITU601), 0, 0, 1 << 16, 1 << 16);

    ret = avio_open(&w->oc->pb, w->tmp, AVIO_FLAG_WRITE);
    if (ret < 0) {
        writer_free(w, 0);
        return fail(err, errlen, "cannot create %s: %s", w->tmp, strerror(AVUNERROR(ret)));
    }
    AVDictionary *opts = NULL;
    if (!strcmp(muxer, "mp4") || !strcmp(muxer, "mov")) {
        /* The index (moov) before the data, so a player (or this reader) can start at once. */
        if (av_dict_set(&opts, "movflags", "+faststart", 0) < 0) {
            writer_free(w, 1);
            return fail(err, errlen, "out of memory");
        }
    }
    ret = avformat_write_header(w->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        writer_free(w, 1);
        return fail_av(err, errlen, "cannot write the video header", ret);
    }
    w->header_written = 1;
    *out = w;
    return 0;
}

/* Sends `frame` (NULL: flush) to the encoder and writes the packets it gives. */
static int encode(cvio_writer *w, AVFrame *frame, char *err, size_t errlen) {
    int ret = avcodec_send_frame(w->enc, frame);
    if (ret < 0) return fail_av(err, errlen, "cannot encode the frame", ret);
    for (;;) {
        ret = avcodec_receive_packet(w->enc, w->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
        if (ret < 0) return fail_av(err, errlen, "cannot encode the frame", ret);
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        ret = av_interleaved_write_frame(w->oc, w->pkt);
        av_packet_unref(w->pkt);
        if (ret < 0) return fail_av(err, errlen, "cannot write the video", ret);
    }
}

int cvio_writer_write(cvio_writer *w, const uint8_t *rgb, size_t stride, char *err, size_t errlen) {
    if (!w || !rgb) return fail(err, errlen, "no writer or pixels given");
    if (stride < (size_t)w->width * 3 || stride > (size_t)INT32_MAX)
        return fail(err, errlen, "invalid row stride %zu for width %d", stride, w->width);
    log_clear();
    int ret = av_frame_make_writable(w->frame);
    if (ret < 0) return fail_av(err, errlen, "cannot allocate a frame", ret);
    const uint8_t *src[4] = {rgb, NULL, NULL, NULL};
    int src_stride[4] = {(int)stride, 0, 0, 0};
    int h = sws_scale(w->sws, src, src_stride, 0, w->height, w->frame->data, w->frame->linesize);
    if (h != w->height) return fail(err, errlen, "cannot convert the frame to YUV");
    w->frame->pts = w->next_pts++;
    return encode(w, w->frame, err, errlen);
}

int cvio_writer_finish(cvio_writer *w, char *err, size_t errlen) {
    if (!w) return fail(err, errlen, "no writer given");
    log_clear();
    if (encode(w, NULL, err, errlen) < 0) {
        writer_free(w, 1);
        return -1;
    }
    int ret = av_write_trailer(w->oc);
    if (ret < 0) {
        fail_av(err, errlen, "cannot finish the video file", ret);
        writer_free(w, 1);
        return -1;
    }
    int io_error = w->oc->pb->error;
    ret = avio_closep(&w->oc->pb);
    if (ret < 0 || io_error < 0) {
        fail(err, errlen, "cannot write the video: %s", strerror(AVUNERROR(ret < 0 ? ret : io_error)));
        writer_free(w, 1);
        return -1;
    }
    if (rename(w->tmp, w->path) != 0) {
        fail(err, errlen, "cannot write %s: %s", w->path, strerror(errno));
        writer_free(w, 1);
        return -1;
    }
    writer_free(w, 0);
    return 0;
}
