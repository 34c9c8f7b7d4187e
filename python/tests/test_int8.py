"""INT8 precision: calibration (files, their checks), accuracy against FP32 on the demo model and
the fixtures, and what INT8 refuses."""

import json
import os

import numpy as np
import pytest

import hrnet
from conftest import MODELS, REPO, fixture_path, load_npy
from pngio import read_png

SAMPLES = REPO / "examples" / "samples"
MODEL = MODELS / "synth_w16_128x96.pth"

needs_vnni = pytest.mark.skipif(
    not {"avx512", "avx2", "neon"} & set(hrnet.kernel_sets()),
    reason="INT8 needs the avx512, avx2 or neon (with dot product) kernel set")


def samples():
    gt = json.loads((SAMPLES / "gt.json").read_text())
    dets = json.loads((SAMPLES / "dets.json").read_text())
    frames = []
    for im in gt["images"]:
        boxes = [d["bbox"] + [d["score"]] for d in dets if d["image_id"] == im["id"]]
        frames.append((im["id"], read_png(SAMPLES / "images" / im["file_name"]), boxes))
    return gt, frames


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    """The demo model calibrated on half of the sample frames (the other half is held out)."""
    path = tmp_path_factory.mktemp("int8") / "synth.cal"
    _, frames = samples()
    with hrnet.Session(MODEL, input_size=(128, 96)) as s:
        hrnet.calibrate(s, [(f, b) for i, f, b in frames if b and i % 2 == 0], path)
    return path


def _int8_session(path):
    try:
        return hrnet.Session(MODEL, input_size=(128, 96), precision="int8", calibration=path)
    except hrnet.HRNetError as e:
        if "dot product" in str(e):
            pytest.skip(str(e))
        raise


def test_calibration_file(calibration):
    data = calibration.read_bytes()
    assert data[:8] == b"HRNETCAL"
    assert int.from_bytes(data[8:12], "little") == 1          # version
    n = int.from_bytes(data[20:24], "little")
    assert len(data) == 24 + 8 * n + 8 and n > 50             # one record per convolution
    assert not any(p.name.startswith(calibration.name + ".tmp") for p in calibration.parent.iterdir())


@needs_vnni
def test_int8_accuracy_on_the_demo_model(calibration):
    """AP on the sample frames (flip test, OKS-NMS) within 0.5 of FP32's, and >= 99% of joints
    within one heatmap pixel of FP32's (README "INT8": the measured figures)."""
    import coco_eval
    gt, frames = samples()
    fp = hrnet.Session(MODEL, input_size=(128, 96))
    q = _int8_session(calibration)
    assert q.info.precision == "int8"
    res = {"fp32": [], "int8": []}
    kps = {"fp32": [], "int8": []}
    scale = []
    for i, f, b in frames:
        if not b:
            continue
        for name, s in (("fp32", fp), ("int8", q)):
            kp, sc, ar = s.estimate_boxes(f, b)
            kps[name].append(kp)
            for k in hrnet.oks_nms(kp, sc, ar):
                res[name].append(dict(image_id=i, category_id=1, keypoints=kp[k].ravel().tolist(), score=float(sc[k])))
        # one heatmap pixel in frame pixels, per box: 4 input pixels / the crop's scale
        for box in b:
            scale.append(4 * max(box[2], box[3] * 96 / 128) * 1.25 / 96)
    ap = {k: coco_eval.evaluate(gt, v)["AP"] for k, v in res.items()}
    assert ap["int8"] >= ap["fp32"] - 0.005, ap
    d = np.linalg.norm(np.concatenate(kps["int8"])[:, :, :2] - np.concatenate(kps["fp32"])[:, :, :2], axis=2)
    within = np.mean(d <= np.array(scale)[:, None])
    assert within >= 0.99, within
    fp.close()
    q.close()


@needs_vnni
def test_int8_heatmaps_on_the_fixture(tmp_path):
    """coco_w8 (random weights, 256x192): INT8 heatmaps against the float64 reference, calibrated on
    the fixture's own two crops: the error bound the README states."""
    x = load_npy("coco_w8_input.npy")
    truth = load_npy("coco_w8_heatmaps_f64.npy")
    rgb = load_npy("coco_w8_crop_rgb.npy").astype(np.uint8)
    path = tmp_path / "w8.cal"
    with hrnet.Session(fixture_path("coco_w8.pth")) as s:
        hrnet.calibrate(s, [rgb], path)
    try:
        q = hrnet.Session(fixture_path("coco_w8.pth"), precision="int8", calibration=path)
    except hrnet.HRNetError as e:
        pytest.skip(str(e))
    y = q.forward(x)
    err = np.max(np.abs(y - truth))
    rng = np.max(np.abs(truth))
    assert err <= 0.05 * rng, (err, rng)
    q.close()


def test_calibration_refused_when_damaged_or_foreign(calibration, tmp_path):
    data = calibration.read_bytes()
    cases = {
        "truncated": data[:-5],
        "empty": b"",
        "not ours": b"PK\x03\x04" + data[4:],
        "checksum": data[:30] + bytes([data[30] ^ 1]) + data[31:],
        "version": data[:8] + (2).to_bytes(4, "little") + data[12:],
    }
    for name, bad in cases.items():
        p = tmp_path / (name + ".cal")
        p.write_bytes(bad)
        for how in (str(p), bad):
            if how == b"":
                continue  # empty bytes: refused by the binding itself below
            with pytest.raises(hrnet.HRNetError) as e:
                hrnet.Session(MODEL, input_size=(128, 96), precision="int8", calibration=how)
            assert e.value.status in (hrnet.Status.ERR_FORMAT, hrnet.Status.ERR_INVALID_ARGUMENT, hrnet.Status.ERR_IO), name
            if name == "version":
                assert "version 2" in str(e.value)
    # Another checkpoint's calibration.
    other = tmp_path / "mpii.cal"
    with hrnet.Session(fixture_path("mpii_w16_b2.pth")) as s:
        hrnet.calibrate(s, [np.full((64, 48, 3), 128, np.uint8)], other)
    with pytest.raises(hrnet.HRNetError, match="another checkpoint"):
        hrnet.Session(MODEL, input_size=(128, 96), precision="int8", calibration=other)
    # Missing file.
    with pytest.raises(hrnet.HRNetError) as e:
        hrnet.Session(MODEL, input_size=(128, 96), precision="int8", calibration=tmp_path / "nope.cal")
    assert e.value.status == hrnet.Status.ERR_IO


def test_int8_argument_errors(calibration):
    with pytest.raises(ValueError, match="needs calibration"):
        hrnet.Session(MODEL, input_size=(128, 96), precision="int8")
    with pytest.raises(ValueError, match="'int8' only"):
        hrnet.Session(MODEL, input_size=(128, 96), calibration=calibration)
    with hrnet.Session(MODEL, input_size=(128, 96)) as s:
        with hrnet.Calibrator(s) as c:
            with pytest.raises(hrnet.HRNetError, match="no crops"):
                c.save(calibration.parent / "empty.cal")
            c.add_boxes(np.zeros((60, 80, 3), np.uint8), None)    # no boxes: nothing recorded
            with pytest.raises(hrnet.HRNetError, match="outside"):
                c.add_boxes(np.zeros((60, 80, 3), np.uint8), [[500, 500, 10, 10]])
    if "avx512" in hrnet.kernel_sets():
        q = _int8_session(calibration)
        with pytest.raises(hrnet.HRNetError, match="FP32"):
            hrnet.Calibrator(q)
        q.close()


def test_int8_from_bytes_equals_from_file(calibration):
    if "avx512" not in hrnet.kernel_sets():
        pytest.skip("no avx512 kernels")
    a = _int8_session(calibration)
    b = _int8_session(calibration.read_bytes())
    x = np.random.default_rng(0).standard_normal((1, 3, 128, 96)).astype(np.float32)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))


def test_int8_session_that_owns_its_model_frees_fp32_weights_and_computes_the_same(calibration):
    """Opened from a path, the model is the session's alone: the INT8 session frees the FP32
    weights its int8 copies replace. A session on a shared Model keeps them. Same heatmaps."""
    if "avx512" not in hrnet.kernel_sets() and "avx2" not in hrnet.kernel_sets():
        pytest.skip("no INT8 kernel set")
    owned = _int8_session(calibration)
    model = hrnet.Model(MODEL)
    shared = hrnet.Session(model, input_size=(128, 96), precision="int8", calibration=calibration)
    x = np.random.default_rng(1).standard_normal((2, 3, 128, 96)).astype(np.float32)
    np.testing.assert_array_equal(owned.forward(x), shared.forward(x))
    # The shared model still serves FP32 sessions (its weights were not freed).
    with hrnet.Session(model, input_size=(128, 96)) as fp, hrnet.Session(MODEL, input_size=(128, 96)) as ref:
        np.testing.assert_array_equal(fp.forward(x), ref.forward(x))
