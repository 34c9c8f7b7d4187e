/*
 * cvideoio.h - video reading (to packed 8-bit RGB) and writing (MPEG-4 part 2) for the hrnet-pose
 * tool, on the system's FFmpeg libraries (libavformat, libavcodec, libswscale, libavutil).
 * Only hrnet-pose links this: libhrnet.so never depends on FFmpeg.
 *
 * Errors never abort: functions return 0 (or 1, see cvio_read) on success, -1 with a one-line
 * message in `err` (errlen bytes, always terminated) on failure. FFmpeg's own log output is
 * silenced; its last error message, when it gave one, is part of `err`.
 * One reader or writer is used by one thread at a time.
 */
#ifndef CVIDEOIO_H
#define CVIDEOIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest width or height read or written; larger streams are refused. */
#define CVIO_MAX_SIDE 16384
/** Most pixels per frame read or written (16384 x 16384). */
#define CVIO_MAX_PIXELS ((int64_t)1 << 28)

typedef struct cvio_reader cvio_reader;

/** What a reader knows about its video stream once opened. */
typedef struct cvio_info {
    int32_t width, height;   /**< of the frames cvio_read returns (the stream's coded display size) */
    double fps;              /**< the container's frame rate, or 0 if it gives none */
    double duration;         /**< seconds, or -1 if unknown */
    int64_t frame_count;     /**< frames the container says the stream has, or -1 if unknown */
    char format[64];         /**< the demuxer's name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    char codec[64];          /**< the decoder's name, e.g. "h264" */
} cvio_info;

/** Opens a video file: the container is probed by content and must be one of the common video
 *  containers (MP4/MOV, Matroska/WebM, AVI, MPEG-PS/TS, FLV, ASF, Ogg, raw H.264/HEVC/MPEG-4,
 *  MJPEG, Y4M); only the local file is read (no network or other protocols, no playlists).
 *  Uses the first video stream (the container's default). Returns 0 and a reader in *out, or
 *  -1 with a message (not a video, no video stream, no decoder, frames too large, ...). */
int cvio_reader_open(const char *path, cvio_reader **out, char *err, size_t errlen);

/** Copies the stream's description into *info. */
void cvio_reader_info(const cvio_reader *reader, cvio_info *info);

/** One decoded frame. */
typedef struct cvio_frame {
    /** Packed RGB24 pixels, width x height x 3, rows `stride` bytes apart: the caller's buffer
     *  when one was given to cvio_read, else the reader's own (valid until the next cvio_read
     *  or cvio_reader_close). */
    uint8_t *pixels;
    size_t stride;
    int32_t width, height;
    /** Presentation time in seconds from the stream's start (the container's timestamps);
     *  where a frame has none, or one that does not increase, the previous time + 1/fps
     *  (1/30 s if the frame rate is unknown). Never decreases. */
    double timestamp;
    /** 1 if `timestamp` came from the container, 0 if it was derived. */
    int32_t timestamp_from_container;
    int64_t index;           /**< 0-based index of this frame among those returned */
} cvio_frame;

/** Reads the next frame in presentation order, converted to RGB24 at the size cvio_info gives
 *  (frames of another size mid-stream are scaled to it). `dst`: the caller's buffer of at least
 *  dst_stride x height bytes (dst_stride >= 3 x width), or NULL to use the reader's own buffer.
 *  Returns 1 with *frame filled, 0 at the clean end of the stream (every frame the container
 *  holds was decoded), or -1 with a message when the data is corrupt or truncated, or reading
 *  fails: frames still held by the decoder are returned first (1), so -1 comes after the last
 *  frame that could be decoded; further calls return -1 again. The message does not name the
 *  file or the frame: the caller knows both. A frame the decoder reports as damaged (patched up
 *  by error concealment) is an error, not returned. */
int cvio_read(cvio_reader *reader, uint8_t *dst, size_t dst_stride, cvio_frame *frame, char *err, size_t errlen);

/** Closes the reader (NULL is a no-op). */
void cvio_reader_close(cvio_reader *reader);

typedef struct cvio_writer cvio_writer;

/** Creates a video file at `path`, MPEG-4 part 2 (FFmpeg's LGPL `mpeg4` encoder, in every FFmpeg
 *  build), yuv420p, constant frame rate `fps` (0 < fps <= 1000), near-transparent quality
 *  (qscale 3). The container follows the extension: .mp4, .m4v, .mov (MP4 with the index at the
 *  start, so players can start before the end), .avi, .mkv. Width and height: 2 to
 *  CVIO_MAX_SIDE, even (yuv420p). The frames go to a temporary file in the same directory,
 *  renamed to `path` by cvio_writer_finish; a failed write removes it. Returns 0 and a writer in
 *  *out, or -1 with a message. */
int cvio_writer_open(const char *path, int32_t width, int32_t height, double fps, cvio_writer **out,
                     char *err, size_t errlen);

/** 1 if cvio_writer_open takes `path`'s extension, else 0. */
int cvio_writer_supports(const char *path);

/** Encodes one frame of packed RGB24 pixels (width x height of the writer, rows `stride` bytes
 *  apart). Returns 0, or -1 with a message (the writer must then be given to cvio_writer_abort). */
int cvio_writer_write(cvio_writer *writer, const uint8_t *rgb, size_t stride, char *err, size_t errlen);

/** Flushes the encoder, writes the container's trailer and renames the temporary file to the
 *  path given to cvio_writer_open. Frees the writer in every case; on failure the temporary file
 *  is removed. Returns 0, or -1 with a message. */
int cvio_writer_finish(cvio_writer *writer, char *err, size_t errlen);

/** Frees the writer and removes its temporary file (NULL is a no-op). */
void cvio_writer_abort(cvio_writer *writer);

#ifdef __cplusplus
}
#endif
#endif
