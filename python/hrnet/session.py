"""Model and Session: the loaded weights and a runnable instance of the network."""

import ctypes
import dataclasses
import os
import threading

import numpy as np

from . import _lib, pipeline
from .errors import check

_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1
_PRECISION_NAMES = {0: "fp32", 1: "bf16", 2: "int8"}  # hrnet_precision
_PRECISION_VALUES = {v: k for k, v in _PRECISION_NAMES.items()}
_KERNEL_NAMES = {0: "auto", 1: "generic", 2: "avx2", 3: "avx512", 4: "neon"}  # hrnet_kernel_set
_KERNEL_VALUES = {v: k for k, v in _KERNEL_NAMES.items()}


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
    precision: str              # "fp32" or "bf16"
    parameters: int             # learned parameters (BatchNorm statistics excluded)
    gmacs_per_crop: float       # multiply-adds per crop, 1e9 units, at input_size
    kernels: str                # kernel set the session runs: "generic", "avx2", "avx512", "neon"


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


class _Closable:
    """A handle of the library in ``self._ptr``, freed by the C function named ``_free``:
    ``close()`` (idempotent; under ``self._lock`` when the object has one), ``closed``, context
    manager and finaliser."""

    _free = None

    @property
    def closed(self):
        return not getattr(self, "_ptr", None)

    def close(self):
        """Frees the handle (its C close or release function). Idempotent."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            self._release()
        else:
            with lock:
                self._release()

    def _release(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            getattr(_lib.lib, self._free)(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: module globals may already be gone
            pass


class Model(_Closable):
    """Loaded, prepared weights (hrnet_model_load). Immutable; share it between sessions.

    ``Model(path)``; release it with :meth:`close` (or a ``with`` block). Sessions created from
    a model keep it alive inside the library, so closing the Model does not affect them.
    """

    _free = "hrnet_model_release"

    def __init__(self, path):
        self._ptr = None
        raw = _encode_path(path)
        self.path = os.fsdecode(raw)
        ptr = _lib.model_p()
        check(_lib.lib.hrnet_model_load(raw, ctypes.byref(ptr)))
        self._ptr = ptr

    @classmethod
    def from_bytes(cls, data):
        """A model from a checkpoint's bytes (``bytes``, ``bytearray``, ``memoryview`` or anything
        with the buffer protocol), as hrnet_model_load_memory: the same formats and errors as a
        file. The bytes are only read during the call."""
        view = memoryview(data)
        if not view.contiguous:
            raise ValueError("from_bytes needs a contiguous buffer")
        view = view.cast("B")
        if view.nbytes == 0:
            raise ValueError("from_bytes: the checkpoint is empty (0 bytes)")
        self = cls.__new__(cls)
        self._ptr = None
        self.path = "<memory: %d bytes>" % view.nbytes
        ptr = _lib.model_p()
        if view.readonly:
            buf = ctypes.c_char_p(view.tobytes()) if not isinstance(data, bytes) else ctypes.c_char_p(data)
            addr = ctypes.cast(buf, ctypes.c_void_p)
        else:
            buf = (ctypes.c_char * view.nbytes).from_buffer(view)
            addr = ctypes.addressof(buf)
        check(_lib.lib.hrnet_model_load_memory(addr, view.nbytes, ctypes.byref(ptr)))
        del buf
        self._ptr = ptr
        return self

    def __repr__(self):
        return "<hrnet.Model %r%s>" % (self.path, " (closed)" if self.closed else "")


class Session(_Closable):
    """A runnable network (hrnet_session).

    ``Session(model_or_path, input_size=None, threads=None)``

    - ``model_or_path``: a checkpoint path (str, bytes, os.PathLike), opened with
      hrnet_session_open, or a :class:`Model` (hrnet_session_create).
    - ``input_size``: network input ``(H, W)``, each a positive multiple of 32; ``None`` lets
      the library choose (256x192 for COCO, 256x256 for MPII).
    - ``threads``: OpenMP threads per call; ``None`` = all cores available.
    - ``precision``: ``"fp32"`` (default, exact), ``"bf16"`` (opt-in, about twice as fast:
      products in BF16, heatmaps within 2e-2 of FP32; needs a CPU with AVX512_BF16) or
      ``"int8"`` (opt-in, fastest; needs ``calibration``; x86-64 with AVX2, or ARM with the
      dot product).
    - ``calibration``: for ``"int8"``: the path of a calibration file (:func:`hrnet.calibrate`)
      or its bytes.
    - ``kernels``: ``"auto"`` (default: the HRNET_KERNELS environment variable, else the best
      the CPU runs), ``"avx512"``, ``"avx2"``, ``"neon"`` or ``"generic"``. A set the CPU lacks
      raises :class:`HRNetError` (HRNET_ERR_INVALID_ARGUMENT) naming what the CPU has.

    A session must be used by one thread at a time; :meth:`forward` holds a lock so that
    concurrent calls on the same Session object are serialised rather than undefined.
    """

    _free = "hrnet_session_close"

    def __init__(self, model_or_path, input_size=None, threads=None, precision="fp32", kernels="auto",
                 calibration=None):
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
        if precision not in _PRECISION_VALUES:
            raise ValueError("precision must be one of %s, got %r" % (sorted(_PRECISION_VALUES), precision))
        opts.precision = _PRECISION_VALUES[precision]
        if kernels not in _KERNEL_VALUES:
            raise ValueError("kernels must be one of %s, got %r" % (sorted(_KERNEL_VALUES), kernels))
        opts.kernels = _KERNEL_VALUES[kernels]
        # INT8: the calibration file (a path) or its bytes, read during creation only.
        calib_keep = None
        if calibration is not None:
            if precision != "int8":
                raise ValueError("calibration is for precision='int8' only")
            if isinstance(calibration, (bytes, bytearray, memoryview)):
                calib_keep = ctypes.create_string_buffer(bytes(calibration), len(calibration))
                opts.calibration_data = ctypes.cast(calib_keep, ctypes.c_void_p)
                opts.calibration_size = len(calibration)
            else:
                opts.calibration_path = _encode_path(calibration)
        elif precision == "int8":
            raise ValueError("precision='int8' needs calibration= (a file from hrnet.calibrate, or its bytes)")

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

    # --- lifetime (close, closed: _Closable) -----------------------------------------

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
            kernels=_KERNEL_NAMES.get(raw.kernels, "unknown(%d)" % raw.kernels),
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

    # --- pipeline: images to keypoints ------------------------------------------------

    @property
    def skeleton(self):
        """The :class:`hrnet.Skeleton` of this model's joint count (COCO for 17, MPII for 16),
        or None if no built-in skeleton has that many joints."""
        try:
            return pipeline.skeleton(self._info.joints)
        except ValueError:
            return None

    def estimate_crops(self, crops, flip=True, decode="standard", flip_pairs=None,
                       return_heatmaps=False, pixel_format=None):
        """One pose per crop (hrnet_estimate_crops).

        ``crops``: a list of H x W x 3 (or x 4) uint8 images, each already cut around one person
        (sizes may differ), or an N x H x W x C array. Each is fitted into the network input
        with its aspect ratio kept (centred, zero padding). ``pixel_format``: ``"rgb"``,
        ``"bgr"`` (OpenCV) or ``"rgba"`` (alpha ignored); default ``"rgb"`` for 3 channels and
        ``"rgba"`` for 4. ``flip``: flip test (the mirrored crop runs in the same batch).
        ``decode``: ``"standard"`` (published) or ``"dark"``. ``flip_pairs``: left/right joint
        index pairs, default the model's skeleton.

        Returns ``(keypoints, person_scores)``: N x K x 3 float32 (x, y, score) in each crop's
        pixels, and N float32 (mean of the keypoint scores above 0.2); with
        ``return_heatmaps=True`` also the N x K x h x w heatmaps after flip merging.
        """
        return pipeline.estimate_crops(self, crops, flip=flip, decode=decode, flip_pairs=flip_pairs,
                                       return_heatmaps=return_heatmaps, pixel_format=pixel_format)

    def estimate_boxes(self, frame, boxes, flip=True, decode="standard", flip_pairs=None,
                       return_heatmaps=False, pixel_format=None):
        """One pose per person box in a frame, as the published top-down test code
        (hrnet_estimate_boxes): each box is widened to the input aspect ratio, enlarged 1.25x
        and warped onto the input (bilinear, outside the frame = black), all boxes in one batch.

        ``frame``: H x W x 3 (or x 4) uint8 image; any row stride (a slice of a larger image is
        used in place when its pixels are contiguous within a row, else copied).
        ``boxes``: N x 4 (x, y, w, h) or N x 5 (x, y, w, h, detector score) in frame pixels.
        Boxes partly outside the frame are normal; a box with no overlap with the frame raises
        HRNetError. Other arguments as for :meth:`estimate_crops`.

        Returns ``(keypoints, person_scores, person_areas)``: N x K x 3 float32 in frame pixels,
        N person scores (box score x mean keypoint score above 0.2) and N areas of the enlarged
        boxes (for :func:`hrnet.oks_nms`); with ``return_heatmaps=True`` also the heatmaps.
        """
        return pipeline.estimate_boxes(self, frame, boxes, flip=flip, decode=decode,
                                       flip_pairs=flip_pairs, return_heatmaps=return_heatmaps,
                                       pixel_format=pixel_format)
