"""One video, start to end, in one process: decode it with PyAV, run the tracker (or per-frame
estimation) on each frame with the video's detections, and format the results as hrnet-pose
does. The job's actors call :func:`process_video`; so can anyone with a :class:`hrnet.Session`.

Nothing here imports Ray."""

import dataclasses
import json
import math
import numbers
import os
import time

import numpy as np

from ..pipeline import oks_nms
from ..session import Session
from ..tracking import Tracker

#: Where a video's detections are by default: ``<video path>.dets.json`` next to it
#: (``clip.mp4`` -> ``clip.mp4.dets.json``), COCO detection results with image_id = frame
#: index + 1. Other layouts: a pattern with ``{video}`` (the video's path), ``{dir}`` (its
#: folder), ``{name}`` (its file name), ``{stem}`` (the name without its extension), e.g.
#: ``{dir}/dets.json`` for examples/videos/videoNN/.
DETS_SUFFIX = ".dets.json"
DETS_SIDECAR = "{video}" + DETS_SUFFIX
_DETS_FIELDS = ("video", "dir", "name", "stem")

#: What a directory walk picks up as a video (by extension, case-insensitive).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv")

#: The demuxers a video may be read with: those hrnet-pose allows (Sources/CVideoIO), so neither
#: reads a playlist or a concat list that points at other files or URLs.
_DEMUXERS = ("mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpeg,mpegts,mpegvideo,flv,asf,ogg,h264,"
             "hevc,m4v,mjpeg,yuv4mpegpipe,nut,mxf,dv")


def dets_path(video, pattern=DETS_SIDECAR):
    """Where a video's detections are: ``pattern`` (default ``{video}.dets.json``) filled in
    with the video's path, folder, file name and stem."""
    video = os.fspath(video)
    name = os.path.basename(video)
    return pattern.format(video=video, dir=os.path.dirname(video) or ".", name=name,
                          stem=os.path.splitext(name)[0])


@dataclasses.dataclass(frozen=True)
class PoseOptions:
    """What a job computes for each video; two jobs with equal options give equal results.

    - ``input_size``: network input ``(H, W)`` (None: the library's default for the model).
    - ``precision``, ``kernels``: as :class:`hrnet.Session`.
    - ``flip``, ``decode``: the flip test and heatmap decoding (as hrnet-pose ``--no-flip``,
      ``--decode``).
    - ``track``: follow people with :class:`hrnet.Tracker` (results get ``track_id``); False:
      per-frame poses with OKS-NMS, as hrnet-pose without ``--track``.
    - ``smoothing``, ``detect_every``: the tracker's smoothing, and boxes given on every N-th
      frame only (as ``--no-smoothing``, ``--detect-every``).
    - ``nms_threshold``: OKS-NMS threshold (the tracker's too).
    - ``fps``: timestamps frame index / fps instead of the container's.
    - ``dets``: where each video's boxes are: ``"{video}.dets.json"`` (the default: next to the
      video, ``clip.mp4.dets.json``) or another pattern of ``{video}``, ``{dir}``, ``{name}``,
      ``{stem}`` (:func:`dets_path`); a video without its file fails. ``"none"``: the whole frame
      is one box with score 1 on every frame.
    """
    input_size: tuple = None
    precision: str = "fp32"
    kernels: str = "auto"
    flip: bool = True
    decode: str = "standard"
    track: bool = True
    smoothing: bool = True
    detect_every: int = 1
    nms_threshold: float = 0.9
    fps: float = None
    dets: str = DETS_SIDECAR

    def __post_init__(self):
        if self.input_size is not None:
            h, w = self.input_size
            object.__setattr__(self, "input_size", (int(h), int(w)))
        for name in ("flip", "track", "smoothing"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError("PoseOptions: %s must be True or False" % name)
        if self.decode not in ("standard", "dark"):
            raise ValueError("PoseOptions: decode must be 'standard' or 'dark', got %r" % (self.decode,))
        if self.dets != "none":
            if not isinstance(self.dets, str):
                raise TypeError("PoseOptions: dets must be a path pattern or 'none', got %r" % (self.dets,))
            try:
                dets_path("v/x.mp4", self.dets)
            except (KeyError, IndexError, ValueError):
                raise ValueError("PoseOptions: dets pattern %r: the fields are {video}, {dir}, {name}, {stem}"
                                 % (self.dets,)) from None
            if not any("{%s}" % f in self.dets for f in _DETS_FIELDS):
                raise ValueError("PoseOptions: dets pattern %r names no field of the video ({video}, {dir}, "
                                 "{name}, {stem}): every video would share one file" % (self.dets,))
        d = self.detect_every
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise ValueError("PoseOptions: detect_every must be an integer >= 1, got %r" % (d,))
        if d != 1 and not self.track:
            raise ValueError("PoseOptions: detect_every goes with track=True")
        t = self.nms_threshold
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t):
            raise ValueError("PoseOptions: nms_threshold must be a finite number, got %r" % (t,))
        if self.fps is not None and not (isinstance(self.fps, numbers.Real) and 0 < self.fps < 1e6):
            raise ValueError("PoseOptions: fps must be a positive number, got %r" % (self.fps,))

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["input_size"] = list(self.input_size) if self.input_size else None
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        if d.get("input_size") is not None:
            d["input_size"] = tuple(d["input_size"])
        return cls(**d)

    def open_session(self, model, threads=None):
        """A session for these options on ``model`` (a path or an :class:`hrnet.Model`)."""
        return Session(model, input_size=self.input_size, threads=threads, precision=self.precision,
                       kernels=self.kernels)


class VideoError(Exception):
    """A video that could not be read to its end: ``frames`` good frames were read before it."""

    def __init__(self, message, frames=0):
        super().__init__(message)
        self.frames = frames


def load_detections(path):
    """``{image_id: N x 5 float64 [x, y, w, h, score]}`` from a COCO detection results file
    (category 1 only, the score defaulting to 1), as hrnet-pose ``--dets`` reads it."""
    try:
        with open(path, "rb") as f:
            dets = json.load(f)
    except FileNotFoundError:
        raise VideoError("no detections file %s" % path) from None
    except (OSError, ValueError) as e:
        raise VideoError("cannot read the detections %s: %s" % (path, e)) from None
    if not isinstance(dets, list):
        raise VideoError("detections %s: expected a JSON list of {image_id, category_id, bbox, score}" % path)
    by_image = {}
    for i, d in enumerate(dets):
        if not isinstance(d, dict) or not isinstance(d.get("image_id"), int) or "bbox" not in d:
            raise VideoError("detections %s: entry [%d] is not {image_id, category_id, bbox, score}" % (path, i))
        if d.get("category_id") != 1:
            continue
        b = d["bbox"]
        score = d.get("score", 1)
        if (not isinstance(b, list) or len(b) != 4
                or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in b + [score])):
            raise VideoError("detections %s: entry [%d]: bbox must be [x, y, w, h] numbers" % (path, i))
        by_image.setdefault(d["image_id"], []).append([float(v) for v in b] + [float(score)])
    return {k: np.array(v, np.float64).reshape(-1, 5) for k, v in by_image.items()}


def usable_boxes(boxes, width, height):
    """The boxes the pipeline can use (hrnet-pose's rule): finite, a positive size, some overlap
    with the ``width x height`` frame."""
    if boxes.shape[0] == 0:
        return boxes
    x, y, w, h, s = boxes.T
    with np.errstate(over="ignore", invalid="ignore"):
        finite32 = np.all(np.isfinite(boxes.astype(np.float32)), axis=1)
    keep = (np.all(np.isfinite(boxes), axis=1) & finite32 & (w > 0) & (h > 0)
            & (x < width) & (y < height) & (x + w > 0) & (y + h > 0))
    return boxes[keep]


def decode_video(path, threads=0, fps=None):
    """Yields ``(index, frame, timestamp)`` for each frame of the video's first video stream, in
    presentation order: ``frame`` H x W x 3 uint8 RGB, ``timestamp`` in seconds from the
    stream's start (``index / fps`` if ``fps`` is given). Decoding is PyAV's (FFmpeg), with the
    same RGB conversion and timestamp rules as hrnet-pose. Raises :class:`VideoError` for a file
    that is not a video, a damaged frame, or a stream that ends before its index says."""
    import av
    from av.video.reformatter import Interpolation

    # hrnet-pose's conversion: bilinear, accurate rounding, full chroma interpolation.
    interp = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
    path = os.fspath(path)
    index = 0
    try:
        container = av.open(path, "r", options={"protocol_whitelist": "file",
                                                 "format_whitelist": _DEMUXERS})
    except av.FFmpegError as e:
        raise VideoError("cannot open the video: %s" % _av_message(e)) from None
    except OSError as e:
        raise VideoError("cannot open the video: %s" % e) from None
    with container:
        if not container.streams.video:
            raise VideoError("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = max(0, int(threads))
        tb = stream.time_base
        tb = (tb.numerator / tb.denominator) if tb and tb.numerator > 0 and tb.denominator > 0 else 1 / 90000
        rate = stream.average_rate or stream.guessed_rate
        rate = float(rate) if rate and 0 < float(rate) <= 10000 else 0
        step = 1 / rate if rate > 0 else 1 / 30
        origin = stream.start_time
        expected = stream.frames if stream.frames > 0 else 0
        indexed = expected > 0 and (container.format.name.startswith("mov,") or container.format.name == "avi")
        packets = 0
        last = 0.0
        try:
            for packet in container.demux(stream):
                if packet.size:
                    if packet.is_corrupt:
                        raise VideoError("the file ends in the middle of a frame (truncated) or its data is corrupt")
                    packets += 1
                for frame in packet.decode():
                    if frame.is_corrupt:
                        raise VideoError("the decoder found damaged data (corrupt or missing)")
                    rgb = frame.to_ndarray(format="rgb24", interpolation=interp)
                    if fps is not None:
                        t = index / fps
                    else:
                        t = None
                        if frame.pts is not None:
                            if origin is None:
                                origin = frame.pts
                            t = (frame.pts - origin) * tb
                            if not (0 <= t < 1e12 and (index == 0 or t > last)):
                                t = None
                        if t is None:
                            t = 0.0 if index == 0 else last + step
                    last = t
                    yield index, rgb, t
                    index += 1
        except VideoError as e:
            e.frames = index
            raise
        except av.FFmpegError as e:
            raise VideoError("cannot decode frame %d: %s" % (index + 1, _av_message(e)), index) from None
        if indexed and packets < expected:
            raise VideoError("the file ends after %d of the %d frames its index lists (truncated)"
                             % (packets, expected), index)


def frame_count(path):
    """The frames the container lists (0 if it does not say); for progress only."""
    import av
    try:
        with av.open(os.fspath(path), "r", options={"protocol_whitelist": "file",
                                                     "format_whitelist": _DEMUXERS}) as c:
            return max(0, int(c.streams.video[0].frames)) if c.streams.video else 0
    except Exception:
        return 0


def _av_message(e):
    # PyAV's messages end with the file name (": 'path'"); the job reports the video by itself.
    msg = getattr(e, "strerror", None) or str(e)
    return msg


def _number(v):
    """A float32 as hrnet-pose writes it: the shortest text that reads back as the same float32;
    null for NaN or infinity."""
    v = np.float32(v)
    return str(v) if np.isfinite(v) else "null"


def result_entry(image_id, keypoints, score, track_id=None):
    """One person on one frame as hrnet-pose writes it: ``{"image_id", "category_id": 1,
    "keypoints": [x, y, score] x K, "score"[, "track_id"]}``."""
    text = ('{"image_id": %d, "category_id": 1, "keypoints": [%s], "score": %s'
            % (image_id, ", ".join(_number(v) for v in np.asarray(keypoints).ravel()), _number(score)))
    if track_id is not None:
        text += ', "track_id": %d' % track_id
    return text + "}"


def results_text(entries):
    """The results file: hrnet-pose's layout (a JSON list, one person and frame a line)."""
    return "[\n  " + ",\n  ".join(entries) + "\n]\n" if entries else "[]\n"


@dataclasses.dataclass
class VideoResult:
    """What :func:`process_video` gives back."""
    #: The results JSON text (hrnet-pose's format), ready to write.
    text: str
    #: Frames read and processed.
    frames: int
    #: People reported, summed over the frames.
    person_frames: int
    #: Distinct track ids (0 without tracking).
    tracks: int
    #: Wall time of the whole video, and of decoding alone (RGB conversion included).
    seconds: float
    decode_seconds: float


def process_video(session, video, options=PoseOptions(), dets=None, on_frame=None, frame_delay=0.0):
    """Runs ``options`` over one video with ``session`` and returns a :class:`VideoResult`.

    ``dets``: the detections (``{image_id: N x 5}`` as :func:`load_detections` gives), or None to
    read them from ``options.dets`` (:func:`dets_path`; ``"none"``: whole frames). ``on_frame(frames_done)`` is
    called after each frame (progress). ``frame_delay`` seconds of sleep per frame exist for the
    fault tests only (a video slow enough to be killed in the middle of). Raises
    :class:`VideoError` when the video cannot be read to its end (no partial result)."""
    started = time.perf_counter()
    if options.dets != "none" and dets is None:
        dets = load_detections(dets_path(video, options.dets))
    k = session.info.joints
    tracker = None
    if options.track:
        tracker = Tracker(session, smoothing=options.smoothing, nms_threshold=options.nms_threshold,
                          flip=options.flip, decode=options.decode)
    entries = []
    person_frames = 0
    track_ids = set()
    decode_seconds = 0.0
    frames = 0
    try:
        t_dec = time.perf_counter()
        for index, frame, timestamp in decode_video(video, threads=session.info.threads, fps=options.fps):
            decode_seconds += time.perf_counter() - t_dec
            image_id = index + 1
            h, w = frame.shape[:2]
            boxes = np.zeros((0, 5))
            if index % options.detect_every == 0:
                if options.dets == "none":
                    boxes = np.array([[0, 0, w, h, 1]], np.float64)
                else:
                    boxes = usable_boxes(dets.get(image_id, boxes), w, h)
            if tracker is not None:
                people = tracker.update(frame, boxes if len(boxes) else None, timestamp=timestamp)
                for p in people:
                    entries.append(result_entry(image_id, p.keypoints, p.score, p.track_id))
                    track_ids.add(p.track_id)
                person_frames += len(people)
            elif len(boxes):
                kp, scores, areas = session.estimate_boxes(frame, boxes, flip=options.flip, decode=options.decode)
                kept = oks_nms(kp, scores, areas, options.nms_threshold) if k == 17 else range(len(boxes))
                for p in kept:
                    entries.append(result_entry(image_id, kp[p], scores[p]))
                person_frames += len(kept)
            frames = index + 1
            if frame_delay:
                time.sleep(frame_delay)
            if on_frame is not None:
                on_frame(frames)
            t_dec = time.perf_counter()
    finally:
        if tracker is not None:
            tracker.close()
    return VideoResult(text=results_text(entries), frames=frames, person_frames=person_frames,
                       tracks=len(track_ids), seconds=time.perf_counter() - started,
                       decode_seconds=decode_seconds)


def write_atomically(path, text):
    """Writes ``text`` to ``path`` through a temporary file in the same directory (``.NAME.tmp``,
    flushed to disk) renamed over it: ``path`` is either absent, the old file or the whole new one,
    never a part. A writer killed half-way leaves only the temporary file, which the next write of
    the same path replaces (and a job's start removes)."""
    path = os.fspath(path)
    directory, name = os.path.split(path)
    os.makedirs(directory or ".", exist_ok=True)
    tmp = os.path.join(directory, "." + name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_directory(directory or ".")


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
