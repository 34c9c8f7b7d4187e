#!/usr/bin/env python3
"""Measures how well hrnet.keypoint_covariances predicts the actual keypoint error (a developer
script; CI checks the sample frames in python/tests/test_uncertainty.py).

For every detector box of the bundled videos (examples/videos, decoded with PyAV: `pip install
av`) and sample frames (examples/samples) that overlaps a true person (box IoU >= 0.5), the
pipeline's keypoints and covariances are compared with the true joints (all labelled ones):
d^2 = e^T C^-1 e for the error e. Prints the fraction inside the 1-, 2- and 3-sigma ellipses
(d^2 <= 1, 4, 9; a 2-D Gaussian: 39.3%, 86.5%, 98.9%) and the factor that would put 39.3% of the
videos' joints inside 1 sigma with the current covariances: Uncertainty.calibration in
Sources/HRNet/Pipeline/Uncertainty.swift times that factor is the calibrated value.

    PYTHONPATH=python python3 Tests/video/calibrate_uncertainty.py
"""
import json
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "python" / "tests"))
import hrnet  # noqa: E402
from pngio import read_png  # noqa: E402


def iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    i = ix * iy
    return i / (a[2] * a[3] + b[2] * b[3] - i)


def mahalanobis(session, frames, gt, dets):
    """d^2 of every labelled true joint of every detector box matched to a true person."""
    anns = {}
    for a in gt["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    out = []
    for image_id, img in frames:
        boxes = [d["bbox"] + [d["score"]] for d in dets if d["image_id"] == image_id]
        if not boxes:
            continue
        kp, _, _, hm = session.estimate_boxes(img, boxes, return_heatmaps=True)
        cov = hrnet.keypoint_covariances(hm, boxes, input_size=session.info.input_size)
        for i, b in enumerate(boxes):
            cands = anns.get(image_id, [])
            if not cands:
                continue
            a = max(cands, key=lambda a: iou(a["bbox"], b[:4]))
            if iou(a["bbox"], b[:4]) < 0.5:
                continue
            g = np.array(a["keypoints"], np.float64).reshape(-1, 3)
            for j in range(g.shape[0]):
                if g[j, 2] <= 0:
                    continue
                e = kp[i, j, :2].astype(np.float64) - g[j, :2]
                out.append(float(e @ np.linalg.solve(cov[i, j].astype(np.float64), e)))
    return np.array(out)


def report(name, d2):
    print("%-8s %5d joints: inside 1 sigma %.1f%%, 2 sigma %.1f%%, 3 sigma %.1f%%"
          % (name, len(d2), 100 * np.mean(d2 <= 1), 100 * np.mean(d2 <= 4), 100 * np.mean(d2 <= 9)))


def main():
    import av
    s = hrnet.Session(REPO / "models" / "synth_w16_128x96.pth", input_size=(128, 96))
    videos = REPO / "examples" / "videos"
    all_d2 = []
    for v in sorted(p for p in videos.iterdir() if (p / "video.mp4").is_file()):
        with av.open(str(v / "video.mp4")) as c:
            frames = [(k + 1, f.to_ndarray(format="rgb24")) for k, f in enumerate(c.decode(video=0))]
        d2 = mahalanobis(s, frames, json.loads((v / "gt.json").read_text()),
                         json.loads((v / "dets.json").read_text()))
        report(v.name, d2)
        all_d2.append(d2)
    d2 = np.concatenate(all_d2)
    report("videos", d2)
    samples = REPO / "examples" / "samples"
    gt = json.loads((samples / "gt.json").read_text())
    frames = [(im["id"], read_png(samples / "images" / im["file_name"])) for im in gt["images"]]
    report("samples", mahalanobis(s, frames, gt, json.loads((samples / "dets.json").read_text())))
    print("factor for 39.3%% inside 1 sigma on the videos: %.3f" % np.quantile(d2, 0.3935))


if __name__ == "__main__":
    main()
