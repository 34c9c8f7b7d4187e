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
