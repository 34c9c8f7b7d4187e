"""Finding and loading libhrnet, and the ctypes prototypes of every function in hrnet.h."""

import ctypes
import os
from pathlib import Path

LIBRARY_ENV = "HRNET_LIBRARY"
_LIB_NAME = "libhrnet.so"

# Header version this binding was written against (hrnet.h: HRNET_VERSION_*).
HEADER_VERSION_MAJOR = 0
HEADER_VERSION_MINOR = 3
HEADER_VERSION_PATCH = 0


# --- structs (must match include/hrnet.h field for field) -------------------------------

class hrnet_options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("input_height", ctypes.c_int32),
        ("input_width", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("precision", ctypes.c_int32),
        ("kernels", ctypes.c_int32),
        ("calibration_path", ctypes.c_char_p),
        ("calibration_data", ctypes.c_void_p),
        ("calibration_size", ctypes.c_size_t),
    ]


class hrnet_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("joints", ctypes.c_int32),
        ("input_height", ctypes.c_int32),
        ("input_width", ctypes.c_int32),
        ("heatmap_height", ctypes.c_int32),
        ("heatmap_width", ctypes.c_int32),
        ("width", ctypes.c_int32),
        ("branches", ctypes.c_int32),
        ("stages", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("precision", ctypes.c_int32),
        ("parameters", ctypes.c_int64),
        ("gmacs_per_crop", ctypes.c_double),
        ("kernels", ctypes.c_int32),
    ]


class hrnet_image(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("width", ctypes.c_int32),
        ("height", ctypes.c_int32),
        ("stride", ctypes.c_size_t),
        ("format", ctypes.c_int32),
    ]


class hrnet_box(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_float),
        ("y", ctypes.c_float),
        ("width", ctypes.c_float),
        ("height", ctypes.c_float),
        ("score", ctypes.c_float),
    ]


class hrnet_estimate_options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("flip", ctypes.c_int32),
        ("decode", ctypes.c_int32),
        ("flip_pairs", ctypes.POINTER(ctypes.c_int32)),
        ("num_flip_pairs", ctypes.c_int32),
    ]


class hrnet_tracker_options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("smoothing", ctypes.c_int32),
        ("min_cutoff", ctypes.c_double),
        ("beta", ctypes.c_double),
        ("derivative_cutoff", ctypes.c_double),
        ("match_threshold", ctypes.c_double),
        ("max_lost_frames", ctypes.c_int32),
        ("confirm_frames", ctypes.c_int32),
        ("min_carry_score", ctypes.c_double),
        ("nms_threshold", ctypes.c_double),
    ]


class hrnet_tracker_result(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("capacity", ctypes.c_size_t),
        ("count", ctypes.c_size_t),
        ("track_ids", ctypes.POINTER(ctypes.c_int64)),
        ("keypoints", ctypes.POINTER(ctypes.c_float)),
        ("raw_keypoints", ctypes.POINTER(ctypes.c_float)),
        ("scores", ctypes.POINTER(ctypes.c_float)),
        ("boxes", ctypes.POINTER(ctypes.c_float)),
        ("frames_since_detected", ctypes.POINTER(ctypes.c_int32)),
        ("covariances", ctypes.POINTER(ctypes.c_float)),
    ]


class hrnet_depth_image(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("width", ctypes.c_int32),
        ("height", ctypes.c_int32),
        ("stride", ctypes.c_size_t),
        ("format", ctypes.c_int32),
    ]


class hrnet_intrinsics(ctypes.Structure):
    _fields_ = [
        ("fx", ctypes.c_double),
        ("fy", ctypes.c_double),
        ("cx", ctypes.c_double),
        ("cy", ctypes.c_double),
    ]


class hrnet_lift_options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("window_radius", ctypes.c_int32),
        ("min_score", ctypes.c_float),
        ("cluster_gap", ctypes.c_double),
        ("depth_noise", ctypes.c_double),
        ("min_depth", ctypes.c_double),
        ("max_depth", ctypes.c_double),
    ]


# hrnet_pixel_format, hrnet_decode_method, hrnet_skeleton values.
PIXEL_RGB8, PIXEL_BGR8, PIXEL_RGBA8 = 0, 1, 2
DECODE_STANDARD, DECODE_DARK = 0, 1
SKELETON_COCO17, SKELETON_MPII16 = 0, 1
# hrnet_depth_format values.
DEPTH_UINT16_MM, DEPTH_FLOAT32_M = 0, 1


# Opaque handles: only ever used through pointers.
class hrnet_model(ctypes.Structure):
    pass


class hrnet_session(ctypes.Structure):
    pass


class hrnet_tracker(ctypes.Structure):
    pass


class hrnet_calibrator(ctypes.Structure):
    pass


model_p = ctypes.POINTER(hrnet_model)
session_p = ctypes.POINTER(hrnet_session)
tracker_p = ctypes.POINTER(hrnet_tracker)
calibrator_p = ctypes.POINTER(hrnet_calibrator)
float_p = ctypes.POINTER(ctypes.c_float)
uint8_p = ctypes.POINTER(ctypes.c_uint8)
int32_p = ctypes.POINTER(ctypes.c_int32)
const_int32_pp = ctypes.POINTER(int32_p)
image_p = ctypes.POINTER(hrnet_image)
box_p = ctypes.POINTER(hrnet_box)
estimate_options_p = ctypes.POINTER(hrnet_estimate_options)
status_t = ctypes.c_int  # enum hrnet_status (an int-sized C enum)


def _candidates():
    """(description, path) pairs in lookup order."""
    out = []
    env = os.environ.get(LIBRARY_ENV)
    if env:
        out.append(("$" + LIBRARY_ENV, Path(env)))
    here = Path(__file__).resolve().parent           # .../python/hrnet
    out.append(("next to the package", here / _LIB_NAME))
    repo = here.parent.parent                          # parent of .../python
    out.append(("repository build", repo / ".build" / "release" / _LIB_NAME))
    return out


def _find_library():
    env = os.environ.get(LIBRARY_ENV)
    if env:
        # An explicit choice is never silently replaced by another library.
        if not Path(env).is_file():
            raise OSError(
                "libhrnet: %s=%r does not name an existing file" % (LIBRARY_ENV, env))
        return Path(env)
    tried = []
    for _, path in _candidates():
        if path.is_file():
            return path
        tried.append(str(path))
    raise OSError(
        "libhrnet shared library not found. Looked in:\n  "
        + "\n  ".join(tried)
        + "\nInstall the package with `pip install ./python` from the repository root (it builds "
        "the library and puts it in the package), or build it there with `swift build -c release` "
        "(it produces .build/release/libhrnet.so), or set %s to the full path of libhrnet.so."
        % LIBRARY_ENV)


def _declare(lib):
    proto = [
        ("hrnet_version", ctypes.c_char_p, []),
        ("hrnet_version_number", ctypes.c_uint32, []),
        ("hrnet_kernels_supported", ctypes.c_int32, [ctypes.c_int32]),
        ("hrnet_status_string", ctypes.c_char_p, [status_t]),
        ("hrnet_last_error", ctypes.c_char_p, [session_p]),
        ("hrnet_model_load", status_t, [ctypes.c_char_p, ctypes.POINTER(model_p)]),
        ("hrnet_model_load_memory", status_t, [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(model_p)]),
        ("hrnet_model_release", None, [model_p]),
        ("hrnet_options_init", None, [ctypes.POINTER(hrnet_options)]),
        ("hrnet_session_create", status_t,
         [model_p, ctypes.POINTER(hrnet_options), ctypes.POINTER(session_p)]),
        ("hrnet_session_open", status_t,
         [ctypes.c_char_p, ctypes.POINTER(hrnet_options), ctypes.POINTER(session_p)]),
        ("hrnet_session_close", None, [session_p]),
        ("hrnet_session_info", status_t, [session_p, ctypes.POINTER(hrnet_info)]),
        ("hrnet_forward", status_t,
         [session_p, float_p, ctypes.c_size_t, ctypes.c_size_t, float_p, ctypes.c_size_t]),
        # pipeline
        ("hrnet_estimate_options_init", None, [estimate_options_p]),
        ("hrnet_estimate_crops", status_t,
         [session_p, image_p, ctypes.c_size_t, estimate_options_p,
          float_p, ctypes.c_size_t, float_p, float_p, ctypes.c_size_t]),
        ("hrnet_estimate_boxes", status_t,
         [session_p, image_p, box_p, ctypes.c_size_t, estimate_options_p,
          float_p, ctypes.c_size_t, float_p, float_p, float_p, ctypes.c_size_t]),
        ("hrnet_decode_heatmaps", status_t,
         [float_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
          box_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, float_p, ctypes.c_size_t]),
        ("hrnet_keypoint_covariances", status_t,
         [float_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
          box_p, ctypes.c_int32, ctypes.c_int32, float_p, ctypes.c_size_t]),
        ("hrnet_box_area", ctypes.c_double, [box_p, ctypes.c_int32, ctypes.c_int32]),
        ("hrnet_oks_nms", status_t,
         [float_p, float_p, float_p, ctypes.c_size_t, ctypes.c_int32, float_p, ctypes.c_float,
          int32_p, ctypes.POINTER(ctypes.c_size_t)]),
        # 3D keypoints from depth
        ("hrnet_lift_options_init", None, [ctypes.POINTER(hrnet_lift_options)]),
        ("hrnet_lift_depth", status_t,
         [float_p, float_p, ctypes.c_size_t, ctypes.c_int32, ctypes.POINTER(hrnet_depth_image),
          ctypes.POINTER(hrnet_intrinsics), ctypes.POINTER(hrnet_lift_options), float_p, uint8_p,
          float_p, ctypes.c_size_t]),
        # INT8 calibration
        ("hrnet_calibrator_create", status_t, [session_p, ctypes.POINTER(calibrator_p)]),
        ("hrnet_calibrator_add_boxes", status_t,
         [calibrator_p, image_p, box_p, ctypes.c_size_t, estimate_options_p]),
        ("hrnet_calibrator_add_crops", status_t,
         [calibrator_p, image_p, ctypes.c_size_t, estimate_options_p]),
        ("hrnet_calibrator_save", status_t, [calibrator_p, ctypes.c_char_p]),
        ("hrnet_calibrator_close", None, [calibrator_p]),
        ("hrnet_calibrate", status_t, [session_p, image_p, ctypes.c_size_t, ctypes.c_char_p]),
        # tracker
        ("hrnet_tracker_options_init", None, [ctypes.POINTER(hrnet_tracker_options)]),
        ("hrnet_tracker_create", status_t,
         [ctypes.POINTER(hrnet_tracker_options), ctypes.POINTER(tracker_p)]),
        ("hrnet_tracker_close", None, [tracker_p]),
        ("hrnet_tracker_reset", None, [tracker_p]),
        ("hrnet_tracker_update", status_t,
         [tracker_p, session_p, image_p, ctypes.c_double, box_p, ctypes.c_size_t, estimate_options_p,
          ctypes.POINTER(hrnet_tracker_result)]),
        # skeletons
        ("hrnet_skeleton_for_joints", ctypes.c_int32, [ctypes.c_int32]),
        ("hrnet_skeleton_joint_count", ctypes.c_int32, [ctypes.c_int32]),
        ("hrnet_skeleton_joint_name", ctypes.c_char_p, [ctypes.c_int32, ctypes.c_int32]),
        ("hrnet_skeleton_limbs", ctypes.c_int32, [ctypes.c_int32, const_int32_pp]),
        ("hrnet_skeleton_flip_pairs", ctypes.c_int32, [ctypes.c_int32, const_int32_pp]),
        ("hrnet_skeleton_sigmas", float_p, [ctypes.c_int32]),
    ]
    for name, restype, argtypes in proto:
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise OSError("libhrnet at %s does not export %s (is it a libhrnet build?)"
                          % (lib._name, name)) from None
        fn.restype = restype
        fn.argtypes = argtypes


def load():
    path = _find_library()
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise OSError("libhrnet: cannot load %s: %s" % (path, e)) from e
    _declare(lib)
    number = lib.hrnet_version_number()
    if (number >> 16) != HEADER_VERSION_MAJOR:
        raise OSError(
            "libhrnet at %s has version %s; this binding needs major version %d"
            % (path, lib.hrnet_version().decode(), HEADER_VERSION_MAJOR))
    return lib, path


lib, library_path = load()


def decode(b):
    """C string (bytes or None) -> str."""
    if b is None:
        return ""
    return b.decode("utf-8", errors="replace")
