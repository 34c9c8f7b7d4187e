"""The top-down pipeline from images to keypoints: argument checking and the calls into
hrnet_estimate_crops / hrnet_estimate_boxes, hrnet_decode_heatmaps, hrnet_oks_nms,
hrnet_box_area and the skeleton tables (include/hrnet.h, "From images to keypoints").

Everything a Python caller can get wrong in shape, type or value is refused here with a
ValueError or TypeError naming the argument; what only the library can judge (a box with no
overlap with the frame, invalid flip pairs, non-finite heatmap values) comes back as
:class:`hrnet.HRNetError` carrying the library's status and message.
"""

import ctypes
import dataclasses
import math
import numbers

import numpy as np

from . import _lib
from .errors import check

_PIXEL_FORMATS = {"rgb": _lib.PIXEL_RGB8, "bgr": _lib.PIXEL_BGR8, "rgba": _lib.PIXEL_RGBA8}
_CHANNELS = {"rgb": 3, "bgr": 3, "rgba": 4}
_DECODE = {"standard": _lib.DECODE_STANDARD, "dark": _lib.DECODE_DARK}
_INT32_MAX = 2 ** 31 - 1


# --- small checks ----------------------------------------------------------------------------

def _decode_method(fn, method):
    if not isinstance(method, str):
        raise TypeError("%s: decode method must be a string, 'standard' or 'dark', got %r"
                        % (fn, method))
    key = method.lower()
    if key not in _DECODE:
        raise ValueError("%s: unknown decode method %r (use 'standard' or 'dark')" % (fn, method))
    return _DECODE[key]


def _pixel_format(fn, pixel_format, channels, what):
    """-> (format code, name). None picks rgb for 3 channels and rgba for 4."""
    if pixel_format is None:
        name = "rgba" if channels == 4 else "rgb"
    else:
        if not isinstance(pixel_format, str):
            raise TypeError("%s: pixel_format must be 'rgb', 'bgr' or 'rgba', got %r"
                            % (fn, pixel_format))
        name = pixel_format.lower()
        if name not in _PIXEL_FORMATS:
            raise ValueError("%s: unknown pixel_format %r (use 'rgb', 'bgr' or 'rgba')"
                             % (fn, pixel_format))
    if _CHANNELS[name] != channels:
        raise ValueError("%s: %s has %d channels but pixel_format %r needs %d"
                         % (fn, what, channels, name, _CHANNELS[name]))
    return _PIXEL_FORMATS[name], name


def _image(fn, arr, what, pixel_format):
    """Checks an H x W x C uint8 image and returns (hrnet_image, array kept alive).

    Any row stride is passed through as long as the pixels of a row are contiguous
    (strides[1] == C, strides[2] == 1) and rows do not overlap; otherwise the image is copied."""
    if not isinstance(arr, np.ndarray):
        raise TypeError("%s: %s must be a numpy array (H x W x 3 uint8), got %s"
                        % (fn, what, type(arr).__name__))
    if arr.dtype != np.uint8:
        raise TypeError("%s: %s must have dtype uint8 (8 bits per channel), got %s"
                        % (fn, what, arr.dtype))
    if arr.ndim != 3:
        raise ValueError("%s: %s must be 3-D, H x W x 3 (or x 4), got shape %s"
                         % (fn, what, arr.shape))
    h, w, c = arr.shape
    if c not in (3, 4):
        raise ValueError("%s: %s must have 3 or 4 channels (H x W x C), got shape %s"
                         % (fn, what, arr.shape))
    if h < 1 or w < 1:
        raise ValueError("%s: %s is empty (shape %s)" % (fn, what, arr.shape))
    if h > 65536 or w > 65536:
        raise ValueError("%s: %s is %dx%d, larger than 65536 per side" % (fn, what, w, h))
    code, _ = _pixel_format(fn, pixel_format, c, what)
    s0, s1, s2 = arr.strides
    if not (s2 == 1 and s1 == c and (h == 1 or s0 >= w * c)):
        arr = np.ascontiguousarray(arr)
        s0 = w * c
    if h == 1:
        s0 = w * c  # one row: the stride is never used
    img = _lib.hrnet_image(
        data=ctypes.cast(ctypes.c_void_p(arr.ctypes.data), ctypes.POINTER(ctypes.c_uint8)),
        width=w, height=h, stride=s0, format=code)
    return img, arr


def _boxes(fn, boxes, *, allow_none=False, allow_empty=False):
    """N x 4 (x, y, w, h) or N x 5 (+ score) -> (ctypes array of hrnet_box, N). Finite values and
    positive sizes are required; the score defaults to 1."""
    if boxes is None and allow_none:
        return None, 0
    if isinstance(boxes, (str, bytes)):
        raise TypeError("%s: boxes must be an N x 4 or N x 5 array of numbers, got %r" % (fn, boxes))
    try:
        b = np.asarray(boxes)
    except Exception as e:
        raise TypeError("%s: boxes must be an N x 4 or N x 5 array of numbers: %s" % (fn, e)) from None
    if not (np.issubdtype(b.dtype, np.integer) or np.issubdtype(b.dtype, np.floating)):
        raise TypeError("%s: boxes must be real numbers, got dtype %s" % (fn, b.dtype))
    if b.ndim == 1 and b.shape[0] in (4, 5):
        raise ValueError("%s: boxes must be 2-D, N x 4 or N x 5; for one box pass [[x, y, w, h]]"
                         " (got shape %s)" % (fn, b.shape))
    if allow_empty and b.size == 0 and b.ndim <= 2:
        return None, 0
    if b.ndim != 2 or b.shape[1] not in (4, 5):
        raise ValueError("%s: boxes must be N x 4 (x, y, w, h) or N x 5 (x, y, w, h, score), "
                         "got shape %s" % (fn, b.shape))
    n = b.shape[0]
    if n == 0:
        if allow_empty:
            return None, 0
        raise ValueError("%s: no boxes given (N = 0): pass at least one person box" % fn)
    b64 = b.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        b32 = b64.astype(np.float32)  # too large for float32 -> inf, refused below
    for i in range(n):
        row = b32[i]
        if not np.all(np.isfinite(row)):
            raise ValueError("%s: box %d %s has a non-finite value (NaN or infinite, or too "
                             "large for float32)" % (fn, i, b64[i].tolist()))
        if not (row[2] > 0 and row[3] > 0):
            raise ValueError("%s: box %d has size %gx%g: width and height must be positive"
                             % (fn, i, b64[i, 2], b64[i, 3]))
    arr = (_lib.hrnet_box * n)()
    for i in range(n):
        arr[i].x, arr[i].y, arr[i].width, arr[i].height = (float(v) for v in b32[i, :4])
        arr[i].score = float(b32[i, 4]) if b.shape[1] == 5 else 1.0
    return arr, n


def _estimate_options(fn, flip, decode, flip_pairs):
    opts = _lib.hrnet_estimate_options()
    _lib.lib.hrnet_estimate_options_init(ctypes.byref(opts))
    if not isinstance(flip, (bool, np.bool_)):
        raise TypeError("%s: flip must be True or False, got %r" % (fn, flip))
    opts.flip = 1 if flip else 0
    opts.decode = _decode_method(fn, decode)
    keep = None
    if flip_pairs is not None:
        try:
            p = np.asarray(flip_pairs)
        except Exception:
            raise TypeError("%s: flip_pairs must be a sequence of (left, right) index pairs" % fn) from None
        if p.size == 0:
            p = p.reshape(0, 2)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError("%s: flip_pairs must be P x 2 (left, right) pairs, got shape %s"
                             % (fn, p.shape))
        if not np.issubdtype(p.dtype, np.integer):
            raise TypeError("%s: flip_pairs must be integer joint indices, got dtype %s" % (fn, p.dtype))
        if p.size and (p.min() < -_INT32_MAX or p.max() > _INT32_MAX):
            raise ValueError("%s: flip_pairs has an index that does not fit in 32 bits" % fn)
        keep = np.ascontiguousarray(p, dtype=np.int32)
        if keep.shape[0]:
            opts.flip_pairs = keep.ctypes.data_as(_lib.int32_p)
            opts.num_flip_pairs = keep.shape[0]
        elif flip:
            raise ValueError("%s: flip_pairs is empty; pass None to use the model's skeleton, or "
                             "flip=False" % fn)
    return opts, keep


def _float_ptr(a):
    return a.ctypes.data_as(_lib.float_p)


# --- session methods (bound in session.py) ---------------------------------------------------

def estimate_crops(session, crops, flip=True, decode="standard", flip_pairs=None,
                   return_heatmaps=False, pixel_format=None):
    fn = "estimate_crops"
    session._require_open()
    if isinstance(crops, np.ndarray):
        if crops.ndim == 4:
            crops = list(crops)
        elif crops.ndim == 3:
            raise ValueError("%s: crops must be a list of H x W x C images (or an N x H x W x C "
                             "array); for one crop pass [crop] (got shape %s)" % (fn, crops.shape))
        else:
            raise ValueError("%s: crops must be a list of H x W x C images, got an array of shape %s"
                             % (fn, crops.shape))
    if not isinstance(crops, (list, tuple)):
        raise TypeError("%s: crops must be a list of H x W x C uint8 arrays, got %s"
                        % (fn, type(crops).__name__))
    n = len(crops)
    if n == 0:
        raise ValueError("%s: no crops given (N = 0): pass at least one crop" % fn)
    images = (_lib.hrnet_image * n)()
    alive = []
    for i, c in enumerate(crops):
        images[i], a = _image(fn, c, "crop %d" % i, pixel_format)
        alive.append(a)
    opts, pairs = _estimate_options(fn, flip, decode, flip_pairs)
    info = session._info
    k = info.joints
    kp = np.empty((n, k, 3), np.float32)
    scores = np.empty(n, np.float32)
    hm = np.empty((n, k) + tuple(info.heatmap_size), np.float32) if return_heatmaps else None
    with session._lock:
        session._require_open()
        status = _lib.lib.hrnet_estimate_crops(
            session._ptr, images, n, ctypes.byref(opts), _float_ptr(kp), kp.size, _float_ptr(scores),
            _float_ptr(hm) if hm is not None else None, hm.size if hm is not None else 0)
        check(status, session._ptr)
    del alive, pairs
    return (kp, scores, hm) if return_heatmaps else (kp, scores)


def estimate_boxes(session, frame, boxes, flip=True, decode="standard", flip_pairs=None,
                   return_heatmaps=False, pixel_format=None):
    fn = "estimate_boxes"
    session._require_open()
    img, alive = _image(fn, frame, "frame", pixel_format)
    # No boxes is a frame with nobody in it: empty results (the library still checks the frame).
    bx, n = _boxes(fn, boxes, allow_empty=True)
    opts, pairs = _estimate_options(fn, flip, decode, flip_pairs)
    info = session._info
    k = info.joints
    kp = np.empty((n, k, 3), np.float32)
    scores = np.empty(n, np.float32)
    areas = np.empty(n, np.float32)
    hm = np.empty((n, k) + tuple(info.heatmap_size), np.float32) if return_heatmaps else None
    with session._lock:
        session._require_open()
        status = _lib.lib.hrnet_estimate_boxes(
            session._ptr, ctypes.byref(img), bx, n, ctypes.byref(opts),
            _float_ptr(kp) if n else None, kp.size,
            _float_ptr(scores) if n else None, _float_ptr(areas) if n else None,
            _float_ptr(hm) if hm is not None and n else None, hm.size if hm is not None else 0)
        check(status, session._ptr)
    del alive, pairs
    return (kp, scores, areas, hm) if return_heatmaps else (kp, scores, areas)


# --- session-less functions ------------------------------------------------------------------

def _size_pair(fn, name, value):
    if isinstance(value, (str, bytes)):
        raise TypeError("%s: %s must be a (height, width) pair, got %r" % (fn, name, value))
    try:
        h, w = value
    except (TypeError, ValueError):
        raise TypeError("%s: %s must be a (height, width) pair, got %r" % (fn, name, value)) from None
    out = []
    for v in (h, w):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError("%s: %s must hold integers, got %r" % (fn, name, value))
        if not 0 < int(v) <= _INT32_MAX:
            raise ValueError("%s: %s %r must be positive" % (fn, name, value))
        out.append(int(v))
    return tuple(out)


def _heatmap_args(fn, heatmaps, boxes, input_size):
    """Checks decode-style arguments -> (float32 heatmaps, box array or None, n, k, hh, hw, ih, iw)."""
    if not isinstance(heatmaps, np.ndarray):
        heatmaps = np.asarray(heatmaps)
    if not (np.issubdtype(heatmaps.dtype, np.floating) or np.issubdtype(heatmaps.dtype, np.integer)):
        raise TypeError("%s: heatmaps must be real numbers (float32 preferred), got dtype %s"
                        % (fn, heatmaps.dtype))
    if heatmaps.ndim != 4:
        raise ValueError("%s: heatmaps must be 4-D, N x K x h x w, got shape %s"
                         % (fn, heatmaps.shape))
    n, k, hh, hw = heatmaps.shape
    if n == 0:
        raise ValueError("%s: no heatmaps given (N = 0)" % fn)
    if k == 0 or hh == 0 or hw == 0:
        raise ValueError("%s: heatmap shape %s has an empty dimension" % (fn, heatmaps.shape))
    if max(k, hh, hw) > _INT32_MAX:
        raise ValueError("%s: heatmap shape %s is too large" % (fn, heatmaps.shape))
    hm = np.ascontiguousarray(heatmaps, dtype=np.float32)
    bx = None
    if boxes is not None:
        bx, nb = _boxes(fn, boxes)
        if nb != n:
            raise ValueError("%s: %d boxes for %d heatmap sets: give one box per person"
                             % (fn, nb, n))
    ih = iw = 0
    if input_size is not None:
        ih, iw = _size_pair(fn, "input_size", input_size)
    return hm, bx, n, k, hh, hw, ih, iw


def keypoint_covariances(heatmaps, boxes=None, input_size=None):
    """Per-joint uncertainty: heatmaps (N x K x h x w) -> covariances N x K x 2 x 2 float32
    (pixels^2, in the coordinates :func:`decode_heatmaps` gives for the same arguments), from
    each heatmap's spread around its peak and any competing second peak, calibrated on the
    bundled synthetic data (hrnet_keypoint_covariances; README "How far to trust each joint")."""
    fn = "keypoint_covariances"
    hm, bx, n, k, hh, hw, ih, iw = _heatmap_args(fn, heatmaps, boxes, input_size)
    out = np.empty((n, k, 2, 2), np.float32)
    check(_lib.lib.hrnet_keypoint_covariances(_float_ptr(hm), n, k, hh, hw, bx, ih, iw,
                                              _float_ptr(out), out.size))
    return out


def decode_heatmaps(heatmaps, boxes=None, method="standard", input_size=None):
    """Heatmaps (N x K x h x w, any real dtype, made float32) -> keypoints N x K x 3 float32.

    ``boxes`` (N x 4 or N x 5, frame pixels): keypoints in frame pixels, each box turned into its
    region as :meth:`Session.estimate_boxes` does for a network input of ``input_size``
    ((H, W); default 4 x the heatmap size). Without boxes, keypoints are in network-input
    pixels (4 x heatmap pixels). ``method``: ``"standard"`` (argmax + quarter offset, as
    published) or ``"dark"`` (DARK: Taylor step on the log of the smoothed heatmap).
    """
    fn = "decode_heatmaps"
    m = _decode_method(fn, method)
    hm, bx, n, k, hh, hw, ih, iw = _heatmap_args(fn, heatmaps, boxes, input_size)
    out = np.empty((n, k, 3), np.float32)
    status = _lib.lib.hrnet_decode_heatmaps(_float_ptr(hm), n, k, hh, hw, bx, ih, iw, m,
                                            _float_ptr(out), out.size)
    check(status)
    return out


def box_area(box, input_size):
    """Area (pixels^2) of a box's region as the pipeline sees it: (x, y, w, h[, score]) widened to
    the aspect ratio of ``input_size`` ((H, W)) and enlarged 1.25x; what OKS-NMS compares
    people by. Equals the ``person_areas`` that :meth:`Session.estimate_boxes` returns."""
    fn = "box_area"
    bx, _ = _boxes(fn, [box] if np.ndim(box) == 1 else box)
    if len(bx) != 1:
        raise ValueError("%s: expected one box (x, y, w, h), got %d" % (fn, len(bx)))
    ih, iw = _size_pair(fn, "input_size", input_size)
    return float(_lib.lib.hrnet_box_area(ctypes.byref(bx[0]), ih, iw))


def oks_nms(keypoints, scores, areas, threshold=0.9, sigmas=None):
    """Greedy OKS-NMS over the people of one image, as the published COCO evaluation.

    ``keypoints`` N x K x 3 (x, y, score), ``scores`` and ``areas`` N each (e.g. the person
    scores and areas from :meth:`Session.estimate_boxes`). By score, highest first, a person is
    dropped when its OKS with a kept one is above ``threshold``. ``sigmas``: K per-joint OKS
    sigmas, default COCO's (K must then be 17). Returns the kept indices (list of int), in the
    order kept.
    """
    fn = "oks_nms"
    kp = np.asarray(keypoints)
    if not np.issubdtype(kp.dtype, np.number) or np.issubdtype(kp.dtype, np.complexfloating):
        raise TypeError("%s: keypoints must be real numbers, got dtype %s" % (fn, kp.dtype))
    if kp.ndim != 3 or kp.shape[2] != 3:
        raise ValueError("%s: keypoints must be N x K x 3 (x, y, score), got shape %s"
                         % (fn, kp.shape))
    n, k, _ = kp.shape
    sc = np.asarray(scores, dtype=np.float64)
    ar = np.asarray(areas, dtype=np.float64)
    if sc.shape != (n,):
        raise ValueError("%s: scores must have shape (%d,) (one per person), got %s" % (fn, n, sc.shape))
    if ar.shape != (n,):
        raise ValueError("%s: areas must have shape (%d,) (one per person), got %s" % (fn, n, ar.shape))
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, numbers.Real):
        raise TypeError("%s: threshold must be a number, got %r" % (fn, threshold))
    if not math.isfinite(threshold):
        raise ValueError("%s: threshold %r is not finite" % (fn, threshold))
    if n == 0:
        return []
    if k == 0:
        raise ValueError("%s: keypoints have no joints (K = 0)" % fn)
    kp32 = np.ascontiguousarray(kp, dtype=np.float32)
    if not np.all(np.isfinite(kp32)):
        i = int(np.argwhere(~np.isfinite(kp32))[0][0])
        raise ValueError("%s: person %d has a non-finite keypoint value" % (fn, i))
    for name, a in (("scores", sc), ("areas", ar)):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ValueError("%s: %s[%d] = %r is not finite" % (fn, name, bad[0], a[bad[0]]))
    if np.any(ar < 0):
        i = int(np.flatnonzero(ar < 0)[0])
        raise ValueError("%s: areas[%d] = %r is negative" % (fn, i, ar[i]))
    sig = None
    if sigmas is not None:
        sig = np.ascontiguousarray(np.asarray(sigmas, dtype=np.float64), dtype=np.float32)
        if sig.shape != (k,):
            raise ValueError("%s: sigmas must have shape (%d,) (one per joint), got %s"
                             % (fn, k, sig.shape))
        if not np.all(np.isfinite(sig) & (sig > 0)):
            raise ValueError("%s: sigmas must be positive and finite" % fn)
    elif k != 17:
        raise ValueError("%s: %d joints need sigmas (the built-in ones are COCO's, for 17 joints)"
                         % (fn, k))
    sc32 = np.ascontiguousarray(sc, dtype=np.float32)
    ar32 = np.ascontiguousarray(ar, dtype=np.float32)
    keep = np.empty(n, np.int32)
    num = ctypes.c_size_t(0)
    status = _lib.lib.hrnet_oks_nms(
        _float_ptr(kp32), _float_ptr(sc32), _float_ptr(ar32), n, k,
        _float_ptr(sig) if sig is not None else None, float(threshold),
        keep.ctypes.data_as(_lib.int32_p), ctypes.byref(num))
    check(status)
    return [int(i) for i in keep[:num.value]]


# --- skeletons -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Skeleton:
    """A dataset's joints: ``joints`` (names, in heatmap order), ``limbs`` (joint index pairs to
    draw), ``flip_pairs`` (left/right pairs for the flip test) and ``sigmas`` (COCO's OKS
    sigmas as a float32 array, or None where the dataset defines none, as for MPII)."""
    name: str
    joints: tuple
    limbs: tuple
    flip_pairs: tuple
    sigmas: object  # np.ndarray (float32, K) or None

    @property
    def num_joints(self):
        return len(self.joints)


_SKELETON_NAMES = {"coco17": _lib.SKELETON_COCO17, "coco": _lib.SKELETON_COCO17,
                   "mpii16": _lib.SKELETON_MPII16, "mpii": _lib.SKELETON_MPII16}
_SKELETON_CACHE = {}


def _pairs(getter, sid):
    ptr = _lib.int32_p()
    count = getter(sid, ctypes.byref(ptr))
    if count < 0:
        raise ValueError("unknown skeleton id %d" % sid)
    return tuple((int(ptr[2 * i]), int(ptr[2 * i + 1])) for i in range(count))


def skeleton(name_or_joints):
    """The skeleton named ``"coco17"`` (``"coco"``) or ``"mpii16"`` (``"mpii"``), or the one a
    model with that many joints uses (17 -> COCO, 16 -> MPII). Returns a :class:`Skeleton`."""
    fn = "skeleton"
    if isinstance(name_or_joints, str):
        key = name_or_joints.lower()
        if key not in _SKELETON_NAMES:
            raise ValueError("%s: unknown skeleton %r (use 'coco17', 'mpii16', or a joint count 17 "
                             "or 16)" % (fn, name_or_joints))
        sid = _SKELETON_NAMES[key]
    elif isinstance(name_or_joints, (int, np.integer)) and not isinstance(name_or_joints, (bool, np.bool_)):
        j = int(name_or_joints)
        sid = int(_lib.lib.hrnet_skeleton_for_joints(j)) if 0 < j <= _INT32_MAX else -1
        if sid < 0:
            raise ValueError("%s: no built-in skeleton has %d joints (COCO has 17, MPII 16)" % (fn, j))
    else:
        raise TypeError("%s: expected a skeleton name or a joint count, got %r" % (fn, name_or_joints))
    if sid in _SKELETON_CACHE:
        return _SKELETON_CACHE[sid]
    k = int(_lib.lib.hrnet_skeleton_joint_count(sid))
    joints = tuple(_lib.decode(_lib.lib.hrnet_skeleton_joint_name(sid, j)) for j in range(k))
    sp = _lib.lib.hrnet_skeleton_sigmas(sid)
    sigmas = None
    if sp:
        sigmas = np.array([sp[j] for j in range(k)], dtype=np.float32)
        sigmas.setflags(write=False)
    s = Skeleton(
        name="coco17" if sid == _lib.SKELETON_COCO17 else "mpii16",
        joints=joints,
        limbs=_pairs(_lib.lib.hrnet_skeleton_limbs, sid),
        flip_pairs=_pairs(_lib.lib.hrnet_skeleton_flip_pairs, sid),
        sigmas=sigmas)
    _SKELETON_CACHE[sid] = s
    return s
