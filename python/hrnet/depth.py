"""3D keypoints from an aligned depth image (include/hrnet.h, "3D keypoints from an aligned depth
image"): :func:`lift_depth` over hrnet_lift_depth.

Everything a Python caller can get wrong in shape, type or value is refused here with a
ValueError or TypeError naming the argument; the library checks it all again.
"""

import ctypes
import math
import numbers

import numpy as np

from . import _lib
from .errors import check

_INT32_MAX = 2 ** 31 - 1
_MAX_WINDOW_RADIUS = 64


def _real_array(fn, name, value, shape_text):
    if isinstance(value, (str, bytes)):
        raise TypeError("%s: %s must be an array of numbers (%s), got %r" % (fn, name, shape_text, value))
    try:
        a = np.asarray(value)
    except Exception as e:
        raise TypeError("%s: %s must be an array of numbers (%s): %s" % (fn, name, shape_text, e)) from None
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TypeError("%s: %s must hold real numbers (%s), got dtype %s" % (fn, name, shape_text, a.dtype))
    return a


def _float32(a):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.ascontiguousarray(a, dtype=np.float32)


def _number(fn, name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError("%s: %s must be a number, got %r" % (fn, name, value))
    v = float(value)
    if not math.isfinite(v):
        raise ValueError("%s: %s is %r; it must be finite" % (fn, name, value))
    return v


def _depth_image(fn, depth):
    """2-D uint16 (millimetres) or float32 (metres) array -> (hrnet_depth_image, array kept alive).
    Any row stride is passed through as long as the pixels of a row are contiguous; otherwise
    (and for a non-native byte order) the image is copied."""
    if not isinstance(depth, np.ndarray):
        raise TypeError("%s: depth must be a numpy array (H x W uint16 millimetres or float32 metres), "
                        "got %s" % (fn, type(depth).__name__))
    kind, size = depth.dtype.kind, depth.dtype.itemsize
    if (kind, size) == ("u", 2):
        code = _lib.DEPTH_UINT16_MM
    elif (kind, size) == ("f", 4):
        code = _lib.DEPTH_FLOAT32_M
    else:
        raise TypeError("%s: depth must have dtype uint16 (millimetres) or float32 (metres), got %s "
                        "(convert with depth.astype(np.float32) for metres)" % (fn, depth.dtype))
    if depth.ndim != 2:
        raise ValueError("%s: depth must be 2-D, H x W, got shape %s" % (fn, depth.shape))
    h, w = depth.shape
    if h < 1 or w < 1:
        raise ValueError("%s: depth is empty (shape %s)" % (fn, depth.shape))
    if h > _INT32_MAX or w > _INT32_MAX:
        raise ValueError("%s: depth is %dx%d, too large" % (fn, w, h))
    if not depth.dtype.isnative:
        depth = depth.astype(depth.dtype.newbyteorder("="))
    s0, s1 = depth.strides
    if not (s1 == size and (h == 1 or s0 >= w * size)):
        depth = np.ascontiguousarray(depth)
        s0 = w * size
    if h == 1:
        s0 = w * size  # one row: the stride is never used
    img = _lib.hrnet_depth_image(data=ctypes.c_void_p(depth.ctypes.data), width=w, height=h,
                                 stride=s0, format=code)
    return img, depth


def _intrinsics(fn, intrinsics):
    if isinstance(intrinsics, (str, bytes, dict)):
        raise TypeError("%s: intrinsics must be (fx, fy, cx, cy) in pixels, got %r" % (fn, intrinsics))
    try:
        values = list(intrinsics)
    except TypeError:
        raise TypeError("%s: intrinsics must be (fx, fy, cx, cy) in pixels, got %r" % (fn, intrinsics)) from None
    if len(values) != 4:
        raise ValueError("%s: intrinsics must be 4 numbers (fx, fy, cx, cy), got %d" % (fn, len(values)))
    fx, fy, cx, cy = (_number(fn, "intrinsics " + name, v) for name, v in zip(("fx", "fy", "cx", "cy"), values))
    if not (fx > 0 and fy > 0):
        raise ValueError("%s: intrinsics fx %r and fy %r must be positive (focal lengths in pixels)"
                         % (fn, fx, fy))
    return _lib.hrnet_intrinsics(fx=fx, fy=fy, cx=cx, cy=cy)


def _options(fn, window_radius, min_score, cluster_gap, depth_noise, min_depth, max_depth):
    opts = _lib.hrnet_lift_options()
    _lib.lib.hrnet_lift_options_init(ctypes.byref(opts))
    if isinstance(window_radius, (bool, np.bool_)) or not isinstance(window_radius, numbers.Integral):
        raise TypeError("%s: window_radius must be an integer, got %r" % (fn, window_radius))
    if not 0 <= int(window_radius) <= _MAX_WINDOW_RADIUS:
        raise ValueError("%s: window_radius is %d; it must be in 0..%d"
                         % (fn, window_radius, _MAX_WINDOW_RADIUS))
    opts.window_radius = int(window_radius)
    score = _number(fn, "min_score", min_score)
    with np.errstate(over="ignore"):
        fits = math.isfinite(np.float32(score))
    if not fits:
        raise ValueError("%s: min_score %r does not fit in float32" % (fn, min_score))
    opts.min_score = score
    opts.cluster_gap = _number(fn, "cluster_gap", cluster_gap)
    if not opts.cluster_gap > 0:
        raise ValueError("%s: cluster_gap is %r; it must be a positive number of metres" % (fn, cluster_gap))
    opts.depth_noise = _number(fn, "depth_noise", depth_noise)
    if opts.depth_noise < 0:
        raise ValueError("%s: depth_noise is %r; it must be 0 or more" % (fn, depth_noise))
    opts.min_depth = _number(fn, "min_depth", min_depth)
    opts.max_depth = _number(fn, "max_depth", max_depth)
    if not 0 <= opts.min_depth < opts.max_depth:
        raise ValueError("%s: min_depth %r and max_depth %r must satisfy 0 <= min_depth < max_depth (metres)"
                         % (fn, min_depth, max_depth))
    return opts


def lift_depth(keypoints, depth, intrinsics, covariances=None, window_radius=4, min_score=0.2,
               cluster_gap=0.05, depth_noise=0.01, min_depth=0.1, max_depth=20.0):
    """Lifts keypoints to camera-frame 3D with a depth image aligned with their frame.

    ``keypoints``: N x K x 3 (x, y, score) in the depth image's pixels (or K x 3 for one
    person). ``depth``: H x W numpy array, uint16 millimetres or float32 metres (0 or NaN = no
    measurement). ``intrinsics``: (fx, fy, cx, cy) in pixels, u = fx X / Z + cx. ``covariances``:
    the keypoints' 2D covariances, N x K x 4 (xx, xy, yx, yy) or N x K x 2 x 2, pixels^2 (None:
    1 pixel^2 each way).

    Each joint's depth is the median of the nearest surface in a (2 window_radius + 1)^2 window
    around it (depths within max(cluster_gap, 2%) of each other are one surface; the nearest one
    with enough pixels wins), so a thin limb in front of a wall gets the limb's depth. Joints
    scoring below ``min_score``, outside the image or with no depth in
    [``min_depth``, ``max_depth``] metres in their window are not lifted.

    Returns ``(points, valid, covariances3d)``: float32 N x K x 3 (X, Y, Z metres), bool N x K,
    float32 N x K x 3 x 3 (m^2: the 2D covariance and the depth spread plus ``depth_noise`` x Z,
    through the projection's Jacobian); for K x 3 keypoints, K x 3, K and K x 3 x 3. Joints not
    lifted are all zeros.
    """
    fn = "lift_depth"
    kp = _real_array(fn, "keypoints", keypoints, "N x K x 3")
    single = kp.ndim == 2
    if kp.ndim not in (2, 3) or kp.shape[-1] != 3:
        raise ValueError("%s: keypoints must be N x K x 3 (x, y, score), or K x 3 for one person, "
                         "got shape %s" % (fn, kp.shape))
    if single:
        kp = kp[None]
    n, k, _ = kp.shape
    if k == 0:
        raise ValueError("%s: keypoints have no joints (K = 0)" % fn)
    if k > _INT32_MAX:
        raise ValueError("%s: %d joints is too many" % (fn, k))
    kp32 = _float32(kp)  # values too large for float32 become inf: those joints are not lifted
    cov32 = None
    if covariances is not None:
        c = _real_array(fn, "covariances", covariances, "N x K x 4 or N x K x 2 x 2")
        lead = (k,) if single else (n, k)
        if c.shape == lead + (2, 2) or c.shape == lead + (4,):
            c = c.reshape((n, k, 4))
        else:
            raise ValueError("%s: covariances must be %s x 4 (xx, xy, yx, yy) or %s x 2 x 2 to match the "
                             "keypoints, got shape %s" % (fn, " x ".join(map(str, lead)),
                                                         " x ".join(map(str, lead)), c.shape))
        cov32 = _float32(c)
        bad = ~np.isfinite(cov32).all(axis=2) | (cov32[..., 0] < 0) | (cov32[..., 3] < 0)
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            where = "joint %d" % j if single else "person %d joint %d" % (i, j)
            raise ValueError("%s: covariance of %s is %s: values must be finite (in float32) and the "
                             "variances xx, yy not negative" % (fn, where, c[i, j].tolist()))
    img, alive = _depth_image(fn, depth)
    intr = _intrinsics(fn, intrinsics)
    opts = _options(fn, window_radius, min_score, cluster_gap, depth_noise, min_depth, max_depth)
    points = np.zeros((n, k, 3), np.float32)
    valid = np.zeros((n, k), np.uint8)
    cov3d = np.zeros((n, k, 3, 3), np.float32)
    status = _lib.lib.hrnet_lift_depth(
        kp32.ctypes.data_as(_lib.float_p) if n else None,
        cov32.ctypes.data_as(_lib.float_p) if cov32 is not None and n else None,
        n, k, ctypes.byref(img), ctypes.byref(intr), ctypes.byref(opts),
        points.ctypes.data_as(_lib.float_p) if n else None,
        valid.ctypes.data_as(_lib.uint8_p) if n else None,
        cov3d.ctypes.data_as(_lib.float_p) if n else None, n * k)
    check(status)
    del alive
    valid = valid.view(np.bool_)
    if single:
        return points[0], valid[0], cov3d[0]
    return points, valid, cov3d
