"""Model and Session: the loaded weights and a runnable instance of the network."""

import ctypes
import dataclasses
import os
import threading

import numpy as np

from . import _lib
from .errors import check

_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1
_PRECISION_NAMES = {0: "fp32"}  # hrnet_precision


@dataclasses.dataclass(frozen=True)
class Info:
    """Facts about a session's network (hrnet_info)."""
    joints: int                 # K: heatmaps per crop
    input_size: tuple           # (H, W) network input, pixels
    heatmap_size: tuple         # (H/4, W/4)
    width: int                  # channels of the highest-resolution branch
    branches: int
    stages: int
    threads: int                # OpenMP threads the session uses
    precision: str              # "fp32"
    parameters: int             # learned parameters (BatchNorm statistics excluded)
    gmacs_per_crop: float       # multiply-adds per crop, 1e9 units, at input_size


def _encode_path(path):
    if isinstance(path, bytes):
        return path
    if isinstance(path, (str, os.PathLike)):
        return os.fsencode(path)
    raise TypeError("expected a path (str, bytes or os.PathLike), got %s" % type(path).__name__)


def _int32(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError("%s must be an integer, got %r" % (name, value))
    value = int(value)
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise ValueError("%s=%d does not fit in a 32-bit int" % (name, value))
    return value


class Model:
    """Loaded, prepared weights (hrnet_model_load). Immutable; share it between sessions.

    ``Model(path)``; release it with :meth:`close` (or a ``with`` block). Sessions created from
    a model keep it alive inside the library, so closing the Model does not affect them.
    """

    def __init__(self, path):
        self._ptr = None
        raw = _encode_path(path)
        self.path = os.fsdecode(raw)
        ptr = _lib.model_p()
        check(_lib.lib.hrnet_model_load(raw, ctypes.byref(ptr)))
        self._ptr = ptr

    @property
    def closed(self):
        return not self._ptr

    def close(self):
        """Drops this object's reference (hrnet_model_release). Idempotent."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            _lib.lib.hrnet_model_release(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: module globals may already be gone
            pass

    def __repr__(self):
        return "<hrnet.Model %r%s>" % (self.path, " (closed)" if self.closed else "")


class Session:
    """A runnable network (hrnet_session).

    ``Session(model_or_path, input_size=None, threads=None)``

    - ``model_or_path``: a checkpoint path (str, bytes, os.PathLike), opened with
      hrnet_session_open, or a :class:`Model` (hrnet_session_create).
    - ``input_size``: network input ``(H, W)``, each a positive multiple of 32; ``None`` lets
      the library choose (256x192 for COCO, 256x256 for MPII).
    - ``threads``: OpenMP threads per call; ``None`` = all cores available.

    A session must be used by one thread at a time; :meth:`forward` holds a lock so that
    concurrent calls on the same Session object are serialised rather than undefined.
    """

    def __init__(self, model_or_path, input_size=None, threads=None):
        self._ptr = None
        self._lock = threading.Lock()
        opts = _lib.hrnet_options()
        _lib.lib.hrnet_options_init(ctypes.byref(opts))
        if input_size is not None:
            if isinstance(input_size, (str, bytes)):
                raise TypeError("input_size must be a (height, width) pair, got %r" % (input_size,))
            try:
                h, w = input_size
            except (TypeError, ValueError):
                raise TypeError(
                    "input_size must be a (height, width) pair, got %r" % (input_size,)) from None
            opts.input_height = _int32("input_size height", h)
            opts.input_width = _int32("input_size width", w)
        if threads is not None:
            opts.num_threads = _int32("threads", threads)

        ptr = _lib.session_p()
        if isinstance(model_or_path, Model):
            if model_or_path.closed:
                raise ValueError("Session: the Model has been closed")
            self.path = model_or_path.path
            status = _lib.lib.hrnet_session_create(
                model_or_path._ptr, ctypes.byref(opts), ctypes.byref(ptr))
        else:
            raw = _encode_path(model_or_path)
            self.path = os.fsdecode(raw)
            status = _lib.lib.hrnet_session_open(raw, ctypes.byref(opts), ctypes.byref(ptr))
        check(status)  # no session yet: the message is hrnet_last_error(NULL)
        self._ptr = ptr
        self._info = self._query_info()

    # --- lifetime ---------------------------------------------------------------------

    @property
    def closed(self):
        return not self._ptr

    def close(self):
        """Frees the session (hrnet_session_close). Idempotent."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            ptr, self._ptr = self._ptr, None
            if ptr:
                _lib.lib.hrnet_session_close(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self):
        if self.closed:
            return "<hrnet.Session %r (closed)>" % self.path
        i = self._info
        return "<hrnet.Session %r joints=%d input=%dx%d width=%d threads=%d>" % (
            self.path, i.joints, i.input_size[0], i.input_size[1], i.width, i.threads)

    def _require_open(self):
        if not self._ptr:
            raise ValueError("the hrnet.Session is closed")

    # --- info -------------------------------------------------------------------------

    def _query_info(self):
        raw = _lib.hrnet_info()
        raw.struct_size = ctypes.sizeof(_lib.hrnet_info)
        check(_lib.lib.hrnet_session_info(self._ptr, ctypes.byref(raw)), self._ptr)
        return Info(
            joints=raw.joints,
            input_size=(raw.input_height, raw.input_width),
            heatmap_size=(raw.heatmap_height, raw.heatmap_width),
            width=raw.width,
            branches=raw.branches,
            stages=raw.stages,
            threads=raw.num_threads,
            precision=_PRECISION_NAMES.get(raw.precision, "unknown(%d)" % raw.precision),
            parameters=raw.parameters,
            gmacs_per_crop=raw.gmacs_per_crop,
        )

    @property
    def info(self):
        """:class:`Info` of this session (fixed for its lifetime)."""
        self._require_open()
        return self._info

    # --- inference --------------------------------------------------------------------

    def forward(self, x):
        """Runs the network on normalised crops.

        ``x``: N x 3 x H x W array of real floating type (converted to C-contiguous float32),
        N >= 1, (H, W) = ``info.input_size``; RGB, ``(v/255 - mean)/std`` already applied.
        Returns a new float32 array N x K x H/4 x W/4 (K = ``info.joints``).
        """
        self._require_open()
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                "forward: input must be a real floating-point array (float32 preferred), got "
                "dtype %s" % x.dtype)
        info = self._info
        H, W = info.input_size
        if x.ndim != 4:
            raise ValueError(
                "forward: input must be 4-D N x 3 x %d x %d, got shape %s" % (H, W, x.shape))
        n, c, h, w = x.shape
        if c != 3:
            raise ValueError("forward: input must have 3 channels (N x 3 x H x W), got shape %s"
                             % (x.shape,))
        if (h, w) != (H, W):
            raise ValueError("forward: input is %dx%d but the session's input size is %dx%d"
                             % (h, w, H, W))
        if n < 1:
            raise ValueError("forward: batch is empty (N = 0)")
        x = np.ascontiguousarray(x, dtype=np.float32)
        hh, hw = info.heatmap_size
        out = np.empty((n, info.joints, hh, hw), dtype=np.float32)
        with self._lock:
            self._require_open()
            status = _lib.lib.hrnet_forward(
                self._ptr,
                x.ctypes.data_as(_lib.float_p), n, x.size,
                out.ctypes.data_as(_lib.float_p), out.size)
            check(status, self._ptr)
        return out

    __call__ = forward
