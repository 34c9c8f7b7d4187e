"""Tracking people through a video or a live stream (include/hrnet.h, "Tracking people"):
:class:`Tracker` over hrnet_tracker_create / hrnet_tracker_update."""

import ctypes
import dataclasses
import math
import numbers
import threading

import numpy as np

from . import _lib
from .session import _Closable
from .errors import Status, check
from .pipeline import _boxes, _estimate_options, _image


@dataclasses.dataclass(frozen=True)
class Person:
    """One person on one frame, as :meth:`Tracker.update` reports it."""
    #: The track's id: >= 1, never given twice by one tracker (nor after :meth:`Tracker.reset`).
    track_id: int
    #: K x 3 float32 (x, y, score) in frame pixels, smoothed (raw if smoothing is off).
    keypoints: np.ndarray
    #: K x 3 float32: the network's keypoints on this frame, unsmoothed.
    raw_keypoints: np.ndarray
    #: Person score (box score x mean keypoint score above 0.2).
    score: float
    #: (x, y, w, h): the box the pose was estimated in (a detector's, or carried forward).
    box: tuple
    #: 0 if a detector box gave this frame's pose, else frames since one last did.
    frames_since_detected: int
    #: K x 2 x 2 float32 covariances of ``raw_keypoints`` (frame pixels^2), if the tracker was
    #: made with ``covariances=True``, else None.
    covariances: np.ndarray = None


_DEFAULT_INTERVAL = 1.0 / 30


class Tracker(_Closable):
    """Follows people from frame to frame with stable ids (hrnet_tracker).

    ``Tracker(session, smoothing=True, min_cutoff=2.0, beta=8.0, derivative_cutoff=1.0,
    match_threshold=0.3, max_lost_frames=30, confirm_frames=1, min_carry_score=0.3,
    nms_threshold=0.9, flip=True, decode="standard", covariances=False)``

    ``covariances=True`` adds each person's per-joint 2x2 covariances (see
    :func:`hrnet.keypoint_covariances`) to the results.

    ``update(frame, boxes=None, timestamp=None)`` runs the session on this frame's detector
    boxes (``None`` or empty: no detector on this frame, every live track is carried forward
    from its last keypoints) and returns the people reported, a list of :class:`Person` in
    increasing ``track_id``. ``timestamp`` is in seconds (any origin, never decreasing);
    ``None`` means 1/30 s after the previous frame (0 for the first). A failed update raises
    and leaves the tracker as it was. Like a session, one thread at a time.
    """

    _free = "hrnet_tracker_close"

    def __init__(self, session, smoothing=True, min_cutoff=2.0, beta=8.0, derivative_cutoff=1.0,
                 match_threshold=0.3, max_lost_frames=30, confirm_frames=1, min_carry_score=0.3,
                 nms_threshold=0.9, flip=True, decode="standard", flip_pairs=None, covariances=False):
        from .session import Session
        self._ptr = None
        self._lock = threading.Lock()
        if not isinstance(session, Session):
            raise TypeError("Tracker: session must be an hrnet.Session, got %s" % type(session).__name__)
        session._require_open()
        self.session = session
        if not isinstance(smoothing, (bool, np.bool_)):
            raise TypeError("Tracker: smoothing must be True or False, got %r" % (smoothing,))
        opts = _lib.hrnet_tracker_options()
        _lib.lib.hrnet_tracker_options_init(ctypes.byref(opts))
        opts.smoothing = 1 if smoothing else 0
        values = dict(min_cutoff=min_cutoff, beta=beta, derivative_cutoff=derivative_cutoff,
                      match_threshold=match_threshold, min_carry_score=min_carry_score,
                      nms_threshold=nms_threshold)
        for name, v in values.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError("Tracker: %s must be a number, got %r" % (name, v))
            setattr(opts, name, float(v))
        for name, v in (("max_lost_frames", max_lost_frames), ("confirm_frames", confirm_frames)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError("Tracker: %s must be an integer, got %r" % (name, v))
            if not -2 ** 31 <= int(v) < 2 ** 31:
                raise ValueError("Tracker: %s %r is out of range" % (name, v))
            setattr(opts, name, int(v))
        self._estimate = _estimate_options("Tracker", flip, decode, flip_pairs)
        if not isinstance(covariances, (bool, np.bool_)):
            raise TypeError("Tracker: covariances must be True or False, got %r" % (covariances,))
        self._covariances = bool(covariances)
        ptr = _lib.tracker_p()
        check(_lib.lib.hrnet_tracker_create(ctypes.byref(opts), ctypes.byref(ptr)))
        self._ptr = ptr
        self._last = None
        self._capacity = 8

    def reset(self):
        """Forgets every track and the last timestamp (ids keep counting up)."""
        with self._lock:
            self._require_open()
            _lib.lib.hrnet_tracker_reset(self._ptr)
            self._last = None

    def _require_open(self):
        if not self._ptr:
            raise ValueError("the hrnet.Tracker is closed")

    def update(self, frame, boxes=None, timestamp=None, pixel_format=None):
        """One frame: returns the people on it (list of :class:`Person`, by track id)."""
        fn = "Tracker.update"
        s = self.session
        s._require_open()
        img, alive = _image(fn, frame, "frame", pixel_format)
        bx, n = _boxes(fn, boxes, allow_none=True, allow_empty=True)
        if timestamp is None:
            ts = 0.0 if self._last is None else self._last + _DEFAULT_INTERVAL
        else:
            if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real):
                raise TypeError("%s: timestamp must be a number of seconds or None, got %r" % (fn, timestamp))
            ts = float(timestamp)
        opts, pairs = self._estimate
        k = s._info.joints
        with self._lock, s._lock:
            self._require_open()
            s._require_open()
            while True:
                cap = self._capacity
                ids = np.empty(cap, np.int64)
                kp = np.empty((cap, k, 3), np.float32)
                raw = np.empty((cap, k, 3), np.float32)
                scores = np.empty(cap, np.float32)
                boxes_out = np.empty((cap, 4), np.float32)
                since = np.empty(cap, np.int32)
                cov = np.empty((cap, k, 2, 2), np.float32) if self._covariances else None
                res = _lib.hrnet_tracker_result(
                    struct_size=ctypes.sizeof(_lib.hrnet_tracker_result), capacity=cap, count=0,
                    track_ids=ids.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
                    keypoints=kp.ctypes.data_as(_lib.float_p),
                    raw_keypoints=raw.ctypes.data_as(_lib.float_p),
                    scores=scores.ctypes.data_as(_lib.float_p),
                    boxes=boxes_out.ctypes.data_as(_lib.float_p),
                    frames_since_detected=since.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                    covariances=cov.ctypes.data_as(_lib.float_p) if cov is not None else None)
                status = _lib.lib.hrnet_tracker_update(self._ptr, s._ptr, ctypes.byref(img), ts, bx, n,
                                                       ctypes.byref(opts), ctypes.byref(res))
                if status == Status.ERR_BUFFER_TOO_SMALL and res.count > cap:
                    # The tracker is unchanged: grow and run the frame again.
                    self._capacity = max(2 * cap, int(res.count))
                    continue
                check(status, s._ptr)
                break
            self._last = ts
        del alive, pairs
        return [Person(track_id=int(ids[i]), keypoints=kp[i].copy(), raw_keypoints=raw[i].copy(),
                       score=float(scores[i]), box=tuple(float(v) for v in boxes_out[i]),
                       frames_since_detected=int(since[i]),
                       covariances=cov[i].copy() if cov is not None else None)
                for i in range(res.count)]

    def __repr__(self):
        return "<hrnet.Tracker%s>" % (" (closed)" if self.closed else "")
