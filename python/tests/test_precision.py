"""The opt-in BF16 precision, measured where it matters: keypoints of the trained model on the
sample frames (45 people, 54 detector boxes), against FP32."""

import json

import numpy as np
import pytest

import hrnet
from conftest import REPO
from pngio import read_png

SAMPLES = REPO / "examples" / "samples"
MODEL = REPO / "models" / "synth_w16_128x96.pth"


def _bf16_or_skip(**kw):
    try:
        return hrnet.Session(str(MODEL), input_size=(128, 96), precision="bf16", **kw)
    except hrnet.HRNetError as e:
        if "AVX512_BF16" in e.message:
            pytest.skip("no AVX512_BF16 on this CPU")
        raise


def test_bf16_keypoints_agree_with_fp32_on_samples():
    fast = _bf16_or_skip()
    exact = hrnet.Session(str(MODEL), input_size=(128, 96))
    assert fast.info.precision == "bf16" and exact.info.precision == "fp32"
    dets = json.loads((SAMPLES / "dets.json").read_text())
    images = json.loads((SAMPLES / "gt.json").read_text())["images"]
    agree = total = 0
    worst = 0.0
    for im in images:
        boxes = np.array([d["bbox"] + [d["score"]] for d in dets if d["image_id"] == im["id"]], np.float32)
        if len(boxes) == 0:
            continue
        frame = read_png(SAMPLES / "images" / im["file_name"])
        ha = exact.estimate_boxes(frame, boxes, return_heatmaps=True)[3]
        hb = fast.estimate_boxes(frame, boxes, return_heatmaps=True)[3]
        worst = max(worst, float(np.abs(ha - hb).max()))
        n, k, h, w = ha.shape
        fa, fb = ha.reshape(n, k, -1).argmax(-1), hb.reshape(n, k, -1).argmax(-1)
        d = np.maximum(np.abs(fa % w - fb % w), np.abs(fa // w - fb // w))
        agree += int((d <= 1).sum())
        total += d.size
    assert total == 54 * 17
    assert worst <= 2e-2, worst            # measured 7.8e-3
    assert agree / total >= 0.99, (agree, total)   # measured 918 / 918


def test_precision_argument():
    with pytest.raises(ValueError):
        hrnet.Session(str(MODEL), input_size=(128, 96), precision="int4")
