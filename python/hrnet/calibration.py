"""INT8 calibration (include/hrnet.h, "INT8 calibration"): :class:`Calibrator` and
:func:`calibrate`, over hrnet_calibrator_*."""

import ctypes
import os

import numpy as np

from . import _lib
from .session import _Closable
from .errors import check
from .pipeline import _boxes, _estimate_options, _image


class Calibrator(_Closable):
    """Measures a model's activation ranges on an FP32 :class:`hrnet.Session` for INT8.

    ``add_boxes(frame, boxes)`` and ``add_crops(crops)`` run the pipeline (flip test on by
    default, as in deployment) and record every convolution's input; ``save(path)`` writes the
    calibration file that ``Session(..., precision="int8", calibration=path)`` takes."""

    _free = "hrnet_calibrator_close"

    def __init__(self, session):
        from .session import Session
        if not isinstance(session, Session):
            raise TypeError("Calibrator: session must be an hrnet.Session, got %s" % type(session).__name__)
        session._require_open()
        self.session = session
        self._ptr = None
        ptr = _lib.calibrator_p()
        check(_lib.lib.hrnet_calibrator_create(session._ptr, ctypes.byref(ptr)))
        self._ptr = ptr

    def _require_open(self):
        if not self._ptr:
            raise ValueError("the hrnet.Calibrator is closed")

    def add_boxes(self, frame, boxes, flip=True, pixel_format=None):
        fn = "Calibrator.add_boxes"
        self._require_open()
        img, alive = _image(fn, frame, "frame", pixel_format)
        bx, n = _boxes(fn, boxes, allow_none=True, allow_empty=True)
        opts, pairs = _estimate_options(fn, flip, "standard", None)
        with self.session._lock:
            check(_lib.lib.hrnet_calibrator_add_boxes(self._ptr, ctypes.byref(img), bx, n, ctypes.byref(opts)))
        del alive, pairs

    def add_crops(self, crops, flip=True, pixel_format=None):
        fn = "Calibrator.add_crops"
        self._require_open()
        if isinstance(crops, np.ndarray) and crops.ndim == 3:
            crops = [crops]
        imgs, alive = [], []
        for i, c in enumerate(crops):
            img, a = _image(fn, c, "crop %d" % i, pixel_format)
            imgs.append(img)
            alive.append(a)
        if not imgs:
            raise ValueError("%s: no crops given" % fn)
        arr = (_lib.hrnet_image * len(imgs))(*imgs)
        opts, pairs = _estimate_options(fn, flip, "standard", None)
        with self.session._lock:
            check(_lib.lib.hrnet_calibrator_add_crops(self._ptr, arr, len(imgs), ctypes.byref(opts)))
        del alive, pairs

    def save(self, path):
        self._require_open()
        check(_lib.lib.hrnet_calibrator_save(self._ptr, os.fsencode(os.fspath(path))))


def calibrate(session, data, path, flip=True):
    """Calibrates `session`'s model for INT8 on `data` and writes the file to `path`.

    `data`: an iterable of crops (H x W x 3 uint8 arrays, each one person) and/or
    ``(frame, boxes)`` pairs (boxes N x 4 or N x 5 in frame pixels). Returns `path`."""
    with Calibrator(session) as c:
        for item in data:
            if isinstance(item, tuple):
                frame, boxes = item
                c.add_boxes(frame, boxes, flip=flip)
            else:
                c.add_crops([item], flip=flip)
        c.save(path)
    return path
