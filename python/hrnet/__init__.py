"""hrnet: Python binding (ctypes + NumPy) for libhrnet, a CPU engine for HRNet pose estimation.

    import hrnet
    with hrnet.Session("coco_w8.pth") as s:            # or hrnet.Session(hrnet.Model(path))
        heatmaps = s.forward(x)                         # x: N x 3 x H x W normalised float32
        kp, scores, areas = s.estimate_boxes(frame, boxes)  # frame H x W x 3 uint8, boxes N x 4
        keep = hrnet.oks_nms(kp, scores, areas)         # indices of the people to report
    points, valid, cov = hrnet.lift_depth(kp, depth, (fx, fy, cx, cy))  # 3D from aligned depth

The shared library is looked up in $HRNET_LIBRARY, then next to this package
(hrnet/libhrnet.so: an installed wheel carries it, with the OpenMP runtime), then in
<repo>/.build/release/libhrnet.so (build it with `swift build -c release`).
"""

from . import _lib
from .depth import lift_depth
from .errors import HRNetError, Status, status_string
from .pipeline import Skeleton, box_area, decode_heatmaps, keypoint_covariances, oks_nms, skeleton
from .session import Info, Model, Session
from .tracking import Person, Tracker
from .calibration import Calibrator, calibrate

__all__ = ["Session", "Model", "Info", "HRNetError", "Status", "status_string", "version",
           "version_number", "library_path", "__version__", "Skeleton", "skeleton",
           "decode_heatmaps", "keypoint_covariances", "oks_nms", "box_area", "kernel_sets", "Tracker",
           "Person", "lift_depth", "Calibrator", "calibrate"]


def version():
    """Runtime version string of the loaded libhrnet (hrnet_version())."""
    return _lib.decode(_lib.lib.hrnet_version())


def version_number():
    """Runtime version as (major << 16) | (minor << 8) | patch (hrnet_version_number())."""
    return int(_lib.lib.hrnet_version_number())


def kernel_sets():
    """Names of the kernel sets this library and CPU run, fastest first (e.g. ["avx512", "avx2",
    "generic"]); any of them can be passed as ``Session(..., kernels=name)``."""
    from .session import _KERNEL_VALUES
    order = ["avx512", "avx2", "neon", "generic"]
    return [k for k in order if _lib.lib.hrnet_kernels_supported(_KERNEL_VALUES[k])]


#: Path of the shared library that was loaded.
library_path = str(_lib.library_path)

__version__ = version()
