"""Shared fixtures. Paths are found from this file's location (python/tests -> repo root);
nothing depends on the working directory. `import hrnet` is deliberately not guarded: if the
library is missing, every test fails with the loader's error instead of being skipped."""

import pathlib

import numpy as np
import pytest

import hrnet  # noqa: F401  (fail loudly, never skip)

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests" / "fixtures"
MODELS = REPO / "models"

TOL = 1e-4  # max abs error against the float64 reference (include/hrnet.h, HRNET_PRECISION_FP32)

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def fixture_path(name):
    p = FIXTURES / name
    assert p.is_file(), "fixture missing: %s" % p
    return p


def load_npy(name):
    return np.load(fixture_path(name))


def normalise_rgb(rgb_hwc_uint8):
    """uint8 H x W x 3 RGB -> float32 1 x 3 x H x W, (v/255 - mean)/std."""
    x = (rgb_hwc_uint8.astype(np.float64) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture(scope="session")
def coco_input():
    x = load_npy("coco_w8_input.npy")
    assert x.dtype == np.float32 and x.shape == (2, 3, 256, 192)
    return x


@pytest.fixture(scope="session")
def coco_truth():
    y = load_npy("coco_w8_heatmaps_f64.npy")
    assert y.dtype == np.float64 and y.shape == (2, 17, 64, 48)
    return y


@pytest.fixture(scope="session")
def coco_session():
    s = hrnet.Session(fixture_path("coco_w8.pth"))
    yield s
    s.close()


@pytest.fixture(scope="session")
def mpii_session():
    s = hrnet.Session(fixture_path("mpii_w16_b2.pth"))
    yield s
    s.close()


# --- the trained model and the sample frames (end-to-end pipeline tests) --------------------

SAMPLES = REPO / "examples" / "samples"
SYNTH_MODEL = MODELS / "synth_w16_128x96.pth"
SYNTH_INPUT = (128, 96)  # the size it was trained at; a checkpoint does not record it


@pytest.fixture(scope="session")
def synth_session():
    assert SYNTH_MODEL.is_file(), "model missing: %s" % SYNTH_MODEL
    s = hrnet.Session(SYNTH_MODEL, input_size=SYNTH_INPUT, threads=2)
    yield s
    s.close()


@pytest.fixture(scope="session")
def samples():
    """(gt dict, list of (image record, H x W x 3 uint8 frame, N x 5 boxes [x, y, w, h, score]))
    from examples/samples, boxes from dets.json (category 1, no score filter)."""
    import json

    from pngio import read_png
    gt = json.loads((SAMPLES / "gt.json").read_text())
    dets = json.loads((SAMPLES / "dets.json").read_text())
    frames = []
    for im in gt["images"]:
        frame = read_png(SAMPLES / "images" / im["file_name"])
        assert frame.shape == (im["height"], im["width"], 3) and frame.dtype == np.uint8
        boxes = np.array([d["bbox"] + [d["score"]] for d in dets
                          if d["image_id"] == im["id"] and d["category_id"] == 1], np.float64)
        frames.append((im, frame, boxes.reshape(-1, 5)))
    return gt, frames
