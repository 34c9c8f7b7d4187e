"""Session.info, options, versions."""

import pickle
import re
import zipfile

import numpy as np
import pytest

import hrnet
from conftest import MODELS, REPO, fixture_path


def _state_dict_shapes(pth):
    """{key: shape} of a zip-format checkpoint, read without torch (no code is executed)."""

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("collections", "OrderedDict"):
                import collections
                return collections.OrderedDict
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return lambda storage, offset, size, stride, *rest: tuple(size)
            if module == "torch" and name.endswith("Storage"):
                return name
            raise pickle.UnpicklingError("unexpected global %s.%s" % (module, name))

        def persistent_load(self, pid):
            return pid

    with zipfile.ZipFile(pth) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")]
        assert len(pkl) == 1
        import io
        sd = Unpickler(io.BytesIO(z.read(pkl[0]))).load()
    if "state_dict" in sd:
        sd = sd["state_dict"]
    return sd


def _learned_parameters(pth):
    n = 0
    for key, shape in _state_dict_shapes(pth).items():
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        n += int(np.prod(shape))
    return n


def test_version_matches_header():
    header = (REPO / "include" / "hrnet.h").read_text()
    vs = re.search(r'#define HRNET_VERSION_STRING "([^"]+)"', header).group(1)
    major, minor, patch = (int(re.search(r"#define HRNET_VERSION_%s (\d+)" % k, header).group(1))
                           for k in ("MAJOR", "MINOR", "PATCH"))
    assert hrnet.version() == vs
    assert hrnet.__version__ == vs
    assert hrnet.version_number() == (major << 16) | (minor << 8) | patch


def test_status_names():
    for status in hrnet.Status:
        assert hrnet.status_string(status) == "HRNET_" + status.name
    assert hrnet.status_string(99)  # never NULL, even for unknown values


def test_coco_info(coco_session):
    i = coco_session.info
    assert isinstance(i, hrnet.Info)
    assert i.joints == 17
    assert i.width == 8
    assert i.input_size == (256, 192)
    assert i.heatmap_size == (64, 48)
    assert i.branches == 4
    assert i.stages == 4
    assert i.precision == "fp32"
    assert i.threads >= 1
    assert i.parameters == _learned_parameters(fixture_path("coco_w8.pth"))
    assert i.gmacs_per_crop > 0
    with pytest.raises(Exception):
        i.joints = 3  # frozen


def test_mpii_info(mpii_session):
    i = mpii_session.info
    assert i.joints == 16
    assert i.width == 16
    assert i.input_size == (256, 256)  # default for a 16-joint model
    assert i.heatmap_size == (64, 64)
    assert i.branches == 4
    assert i.stages == 4
    assert i.parameters == _learned_parameters(fixture_path("mpii_w16_b2.pth"))


def test_layouts_report_same_info():
    infos = []
    for name in ("coco_w8.pth", "coco_w8_legacy.pth", "coco_w8_mmpose.pth"):
        with hrnet.Session(fixture_path(name), threads=1) as s:
            infos.append(s.info)
    assert infos[0] == infos[1] == infos[2]


def test_input_size_option(coco_session):
    with hrnet.Session(fixture_path("coco_w8.pth"), input_size=(128, 96)) as s:
        assert s.info.input_size == (128, 96)
        assert s.info.heatmap_size == (32, 24)
        y = s.forward(np.zeros((2, 3, 128, 96), np.float32))
        assert y.shape == (2, 17, 32, 24)
        assert np.all(np.isfinite(y))
        # every conv output shrinks by exactly 4x in area
        assert s.info.gmacs_per_crop * 4 == pytest.approx(coco_session.info.gmacs_per_crop,
                                                          rel=1e-6)
        # wrong size for this session: refused in Python, before the library
        with pytest.raises(ValueError):
            s.forward(np.zeros((1, 3, 256, 192), np.float32))


def test_input_size_other_aspect():
    with hrnet.Session(fixture_path("coco_w8.pth"), input_size=(384, 288)) as s:
        assert s.info.heatmap_size == (96, 72)
        assert s.forward(np.zeros((1, 3, 384, 288), np.float32)).shape == (1, 17, 96, 72)


@pytest.mark.parametrize("size", [(100, 96), (128, 100), (-32, 192), (256, -192), (0, 192),
                                  (256, 0), (31, 32)])
def test_invalid_input_size_is_invalid_argument(size):
    with pytest.raises(hrnet.HRNetError) as e:
        hrnet.Session(fixture_path("coco_w8.pth"), input_size=size)
    assert e.value.status == hrnet.Status.ERR_INVALID_ARGUMENT
    assert e.value.status_name == "HRNET_ERR_INVALID_ARGUMENT"
    assert str(e.value)  # the library's message, non-empty


@pytest.mark.parametrize("bad", ["256x192", (256,), (256, 192, 3), 256, (256.0, 192)])
def test_input_size_type_checked_in_python(bad):
    with pytest.raises(TypeError):
        hrnet.Session(fixture_path("coco_w8.pth"), input_size=bad)


def test_out_of_range_options_checked_in_python():
    with pytest.raises(ValueError):
        hrnet.Session(fixture_path("coco_w8.pth"), input_size=(2 ** 32 + 256, 192))
    with pytest.raises(ValueError):
        hrnet.Session(fixture_path("coco_w8.pth"), threads=2 ** 31)


def test_negative_threads_is_invalid_argument():
    with pytest.raises(hrnet.HRNetError) as e:
        hrnet.Session(fixture_path("coco_w8.pth"), threads=-1)
    assert e.value.status == hrnet.Status.ERR_INVALID_ARGUMENT


def test_trained_synth_model():
    with hrnet.Session(MODELS / "synth_w16_128x96.pth", input_size=(128, 96)) as s:
        i = s.info
        assert i.joints == 17
        assert i.width == 16
        assert i.heatmap_size == (32, 24)
        rng = np.random.default_rng(0)
        y = s.forward(rng.standard_normal((2, 3, 128, 96)).astype(np.float32))
        assert y.shape == (2, 17, 32, 24)
        assert np.all(np.isfinite(y))
