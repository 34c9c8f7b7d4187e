"""The top-down pipeline (estimate_boxes / estimate_crops, decode_heatmaps, oks_nms, box_area,
skeletons): end-to-end COCO keypoint AP of the trained model on examples/samples against the
figures published with it, geometric properties that must hold exactly, hand-made heatmaps,
OKS-NMS, and bad input."""

import ctypes
import math

import numpy as np
import pytest

import hrnet
from hrnet import _lib
from coco_eval import COCO_SIGMAS, evaluate
from conftest import SYNTH_INPUT

COCO = hrnet.skeleton("coco17")


def _swap_perm(sk):
    perm = np.arange(len(sk.joints))
    for a, b in sk.flip_pairs:
        perm[a], perm[b] = b, a
    return perm


def _run_samples(session, frames, flip, decode="standard", threshold=0.9):
    """The published evaluation: every dets.json box of an image in one call, OKS-NMS at 0.9,
    one COCO result per kept person."""
    results = []
    for im, frame, boxes in frames:
        if len(boxes) == 0:
            continue
        kp, scores, areas = session.estimate_boxes(frame, boxes, flip=flip, decode=decode)
        assert kp.shape == (len(boxes), 17, 3) and kp.dtype == np.float32
        assert np.all(np.isfinite(kp)) and np.all(np.isfinite(scores)) and np.all(areas > 0)
        for i in hrnet.oks_nms(kp, scores, areas, threshold=threshold):
            results.append({"image_id": im["id"], "category_id": 1,
                            "keypoints": [float(v) for v in kp[i].reshape(-1)],
                            "score": float(scores[i])})
    return results


# --- end to end ------------------------------------------------------------------------------

# models/README.md: the published pipeline with this model on these frames, COCO keypoint
# metrics by pycocotools, in percent.
PUBLISHED = {
    True: {"AP": 67.4, "AP50": 94.8, "AP75": 84.8, "AR": 69.6},
    False: {"AP": 66.2, "AP50": 90.9, "AP75": 87.2, "AR": 69.8},
}


@pytest.mark.parametrize("flip", [True, False], ids=["flip", "noflip"])
def test_coco_keypoint_ap_matches_published(synth_session, samples, flip):
    gt, frames = samples
    n_dets = sum(len(b) for _, _, b in frames)
    results = _run_samples(synth_session, frames, flip)
    # dets.json holds duplicate detections: OKS-NMS must have removed some, not everything.
    assert len(gt["annotations"]) <= len(results) < n_dets, (len(results), n_dets)
    stats = {k: 100 * v for k, v in evaluate(gt, results).items()}
    print("flip=%s: %s" % (flip, {k: round(v, 3) for k, v in stats.items()}))
    for name, want in PUBLISHED[flip].items():
        # Our float bilinear warp differs from OpenCV's quantised uint8 warp by about one grey
        # level, which may move a keypoint by a quarter heatmap pixel here and there.
        assert abs(stats[name] - want) <= 0.5, "%s = %.3f, published %.1f (flip=%s)" % (
            name, stats[name], want, flip)


def test_flip_test_helps_ap50(synth_session, samples):
    gt, frames = samples
    on = evaluate(gt, _run_samples(synth_session, frames, True))
    off = evaluate(gt, _run_samples(synth_session, frames, False))
    assert on["AP"] > off["AP"] and on["AP50"] > off["AP50"] + 0.02


def test_dark_decoding_end_to_end_is_sane(synth_session, samples):
    gt, frames = samples
    stats = evaluate(gt, _run_samples(synth_session, frames, True, decode="dark"))
    # Not a published figure: DARK must be in the same range as the standard decoding.
    assert abs(100 * stats["AP"] - PUBLISHED[True]["AP"]) < 5, stats


# --- the evaluator itself --------------------------------------------------------------------

def test_coco_eval_perfect_predictions(samples):
    gt, _ = samples
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
                "score": 1.0} for a in gt["annotations"]]
    stats = evaluate(gt, results)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)


def test_coco_eval_known_oks(samples):
    """Every prediction displaced so that each labelled joint (hence the person) has OKS 0.82:
    matched at thresholds .50 ... .80 (7 of 10), so AP = AR = 0.7, AP50 = AP75 = 1 and 0."""
    gt, _ = samples
    results = []
    for a in gt["annotations"]:
        kp = np.array(a["keypoints"], np.float64).reshape(-1, 3)
        d = np.sqrt(-2 * math.log(0.82) * a["area"] * (2 * COCO_SIGMAS) ** 2)
        kp[:, 0] += d
        results.append({"image_id": a["image_id"], "category_id": 1,
                        "keypoints": kp.reshape(-1).tolist(), "score": 0.5})
    stats = evaluate(gt, results)
    assert stats["AP"] == pytest.approx(0.7) and stats["AR"] == pytest.approx(0.7)
    assert stats["AP50"] == pytest.approx(1.0) and stats["AP75"] == pytest.approx(1.0)


# --- geometric properties --------------------------------------------------------------------

def _aspect_k(boxes):
    """Input pixels per frame pixel of each box's region at the synth input size."""
    h_in, w_in = SYNTH_INPUT
    r = w_in / h_in
    width = np.maximum(boxes[:, 2], boxes[:, 3] * r)
    return w_in / (1.25 * width)


def test_mirrored_frame_gives_mirrored_heatmaps_and_keypoints(synth_session, samples):
    """Mirror the frame (x -> W-1-x) and put each box's centre at W-1-cx+1/k (the warp maps the
    centre to W_in/2, not (W_in-1)/2, so this is the box whose crop is exactly the mirrored
    crop). The flip test then sees the same two crops, swapped: the mirrored frame's heatmaps,
    mirrored back with left/right swapped and shifted one pixel right (the published shift),
    equal the original's except in column 0, and keypoints map back by x -> W-1-x+1/k."""
    _, frames = samples
    perm = _swap_perm(COCO)
    worst_h, close, total, worst_kp = 0.0, 0, 0, 0.0
    for im, frame, boxes in frames:
        H, W = frame.shape[:2]
        kp, sc, ar, hm = synth_session.estimate_boxes(frame, boxes, return_heatmaps=True)
        k = _aspect_k(boxes)
        mb = boxes.copy()
        mb[:, 0] = (W - 1 - (boxes[:, 0] + boxes[:, 2] / 2) + 1 / k) - boxes[:, 2] / 2
        mirrored = np.ascontiguousarray(frame[:, ::-1])
        kpm, scm, arm, hmm = synth_session.estimate_boxes(mirrored, mb, return_heatmaps=True)
        back = hmm[:, perm, :, ::-1]
        worst_h = max(worst_h, float(np.abs(back[..., :-1] - hm[..., 1:]).max()))
        np.testing.assert_allclose(arm, ar, rtol=1e-6)
        np.testing.assert_allclose(scm, sc, atol=1e-4)
        x_back = W - 1 - kpm[:, perm, 0] + (1 / k)[:, None]
        d = np.maximum(np.abs(x_back - kp[:, :, 0]), np.abs(kpm[:, perm, 1] - kp[:, :, 1]))
        close += int(np.count_nonzero(d < 1e-3))
        total += d.size
        # A quarter-offset tie broken the other way by rounding noise moves a joint by a
        # quarter heatmap pixel (= 1/k frame pixels); never more.
        worst_kp = max(worst_kp, float((d * k[:, None]).max()))
    assert worst_h < 1e-4, worst_h
    assert close >= 0.98 * total, (close, total)
    assert worst_kp <= 1.0 + 1e-3, worst_kp


@pytest.mark.parametrize("decode", ["standard", "dark"])
def test_translating_frame_and_boxes_translates_keypoints(synth_session, samples, decode):
    _, frames = samples
    for im, frame, boxes in frames[:6]:
        H, W = frame.shape[:2]
        boxes = np.round(boxes)  # integer boxes: the shifted ones are exact in float32 too
        boxes[:, 4] = 0.75
        kp, sc, ar = synth_session.estimate_boxes(frame, boxes, decode=decode)
        for dx, dy in ((7, 3), (40, 0), (1, 25)):
            canvas = np.zeros((H + 40, W + 50, 3), np.uint8)  # black, as outside the frame
            canvas[dy:dy + H, dx:dx + W] = frame
            moved = boxes.copy()
            moved[:, 0] += dx
            moved[:, 1] += dy
            kpt, sct, art = synth_session.estimate_boxes(canvas, moved, decode=decode)
            np.testing.assert_allclose(kpt[..., 0], kp[..., 0] + dx, atol=1e-3)
            np.testing.assert_allclose(kpt[..., 1], kp[..., 1] + dy, atol=1e-3)
            np.testing.assert_allclose(kpt[..., 2], kp[..., 2], atol=1e-5)
            np.testing.assert_allclose(sct, sc, atol=1e-5)
            np.testing.assert_allclose(art, ar, rtol=1e-6)


@pytest.mark.parametrize("decode", ["standard", "dark"])
def test_crop_equals_box_on_the_same_region(synth_session, samples, decode):
    """A crop of the input's aspect ratio is the region of the box 1.25x smaller around its
    centre; on a frame that is black outside the crop (so bilinear taps past the crop's edge
    read 0 in both), both paths see the same input."""
    _, frames = samples
    for (x0, y0, cw, ch), (_, frame, _) in zip(
            [(60, 20, 144, 192), (150, 0, 96, 128), (0, 30, 120, 160)], frames):
        crop = np.ascontiguousarray(frame[y0:y0 + ch, x0:x0 + cw])
        assert crop.shape == (ch, cw, 3)
        canvas = np.zeros_like(frame)
        canvas[y0:y0 + ch, x0:x0 + cw] = crop
        bw, bh = cw / 1.25, ch / 1.25
        box = [[x0 + cw / 2 - bw / 2, y0 + ch / 2 - bh / 2, bw, bh]]
        kc, sc, hc = synth_session.estimate_crops([crop], decode=decode, return_heatmaps=True)
        kb, sb, ab, hb = synth_session.estimate_boxes(canvas, box, decode=decode, return_heatmaps=True)
        assert kc.shape == (1, 17, 3) and hc.shape == (1, 17, 32, 24)
        np.testing.assert_allclose(hc, hb, atol=1e-4)
        np.testing.assert_allclose(kc[..., 0] + x0, kb[..., 0], atol=2e-3)
        np.testing.assert_allclose(kc[..., 1] + y0, kb[..., 1], atol=2e-3)
        np.testing.assert_allclose(sc, sb, atol=1e-5)
        assert ab[0] == pytest.approx(cw * ch, rel=1e-5)


def test_crops_of_other_aspect_are_fitted_and_padded(synth_session, samples):
    """A wide crop (144 x 72) is fitted by its width (k = 96/144) and centred, zero padding
    above and below: the same input as that crop centred on a black 144 x 192 canvas (aspect 3:4,
    the same k), whose centre row 96 is the crop's row 36."""
    _, frames = samples
    frame = frames[1][1]
    crop = np.ascontiguousarray(frame[40:112, 100:244])
    assert crop.shape == (72, 144, 3)
    tall = np.zeros((192, 144, 3), np.uint8)
    tall[60:132] = crop
    kc, _, hc = synth_session.estimate_crops([crop], return_heatmaps=True)
    kt, _, ht = synth_session.estimate_crops([tall], return_heatmaps=True)
    np.testing.assert_allclose(hc, ht, atol=1e-4)
    np.testing.assert_allclose(kc[..., 0], kt[..., 0], atol=2e-3)
    np.testing.assert_allclose(kc[..., 1], kt[..., 1] - 60, atol=2e-3)


def test_batched_crops_equal_single_calls(synth_session, samples):
    _, frames = samples
    crops = [np.ascontiguousarray(frames[i][1][10 + 5 * i:150 + 3 * i, 20 * i:100 + 20 * i])
             for i in range(4)]
    kb, sb = synth_session.estimate_crops(crops)
    same = np.stack([crops[0], crops[0]])                     # an N x H x W x C array works too
    k4, s4 = synth_session.estimate_crops(same)
    assert k4.shape == (2, 17, 3)
    np.testing.assert_array_equal(k4[0], k4[1])
    np.testing.assert_allclose(k4[0], kb[0], atol=1e-3)
    for i, c in enumerate(crops):
        k1, s1 = synth_session.estimate_crops([c])
        np.testing.assert_allclose(k1[0], kb[i], atol=1e-3)
        np.testing.assert_allclose(s1[0], sb[i], atol=1e-5)


def test_frame_views_formats_and_strides(synth_session, samples):
    _, frames = samples
    im, frame, boxes = frames[2]
    kp, sc, ar = synth_session.estimate_boxes(frame, boxes)
    H, W = frame.shape[:2]
    # A view into a larger image (row stride > 3W, used in place).
    big = np.zeros((H + 20, W + 30, 3), np.uint8)
    big[5:5 + H, 11:11 + W] = frame
    view = big[5:5 + H, 11:11 + W]
    assert not view.flags.c_contiguous and view.strides[1:] == (3, 1)
    k2, s2, a2 = synth_session.estimate_boxes(view, boxes)
    np.testing.assert_array_equal(k2, kp)
    # BGR given as BGR; RGBA with any alpha; a non-contiguous pixel axis (copied).
    bgr = np.ascontiguousarray(frame[..., ::-1])
    np.testing.assert_array_equal(synth_session.estimate_boxes(bgr, boxes, pixel_format="bgr")[0], kp)
    np.testing.assert_array_equal(synth_session.estimate_boxes(frame[..., ::-1], boxes, pixel_format="bgr")[0], kp)
    rgba = np.dstack([frame, np.random.default_rng(0).integers(0, 256, (H, W), np.uint8)])
    np.testing.assert_array_equal(synth_session.estimate_boxes(rgba, boxes)[0], kp)
    np.testing.assert_array_equal(synth_session.estimate_boxes(rgba, boxes, pixel_format="rgba")[0], kp)
    wide = np.zeros((H, 2 * W, 3), np.uint8)
    wide[:, ::2] = frame
    k3 = synth_session.estimate_boxes(wide[:, ::2], boxes)[0]
    np.testing.assert_array_equal(k3, kp)
    # Crops the same way.
    crop = frame[20:180, 100:220]
    kc = synth_session.estimate_crops([np.ascontiguousarray(crop)])[0]
    np.testing.assert_array_equal(synth_session.estimate_crops([crop])[0], kc)
    np.testing.assert_array_equal(
        synth_session.estimate_crops([np.ascontiguousarray(crop[..., ::-1])], pixel_format="bgr")[0], kc)


def test_scores_areas_and_box_scores(synth_session, samples):
    _, frames = samples
    _, frame, boxes = frames[0]
    kp, sc, ar = synth_session.estimate_boxes(frame, boxes)
    for i, b in enumerate(boxes):
        s = kp[i, :, 2]
        want = b[4] * (s[s > 0.2].mean() if np.any(s > 0.2) else 0)
        assert sc[i] == pytest.approx(want, rel=1e-5)
        assert ar[i] == pytest.approx(hrnet.box_area(b, SYNTH_INPUT), rel=1e-6)
    kp4, sc4, _ = synth_session.estimate_boxes(frame, boxes[:, :4])   # no score column: 1
    np.testing.assert_array_equal(kp4, kp)
    np.testing.assert_allclose(sc4 * boxes[:, 4], sc, rtol=1e-5)


def test_decode_heatmaps_matches_the_pipeline(synth_session, samples):
    _, frames = samples
    _, frame, boxes = frames[3]
    for method in ("standard", "dark"):
        kp, _, _, hm = synth_session.estimate_boxes(frame, boxes, decode=method, return_heatmaps=True)
        np.testing.assert_allclose(
            hrnet.decode_heatmaps(hm, boxes, method=method, input_size=SYNTH_INPUT), kp, atol=1e-4)
        # Without boxes: network-input pixels, which the box's transform maps to the frame.
        raw = hrnet.decode_heatmaps(hm, method=method)
        k = _aspect_k(boxes)
        cx = boxes[:, 0] + boxes[:, 2] / 2
        cy = boxes[:, 1] + boxes[:, 3] / 2
        np.testing.assert_allclose((raw[..., 0] - 48) / k[:, None] + cx[:, None], kp[..., 0], atol=1e-3)
        np.testing.assert_allclose((raw[..., 1] - 64) / k[:, None] + cy[:, None], kp[..., 1], atol=1e-3)
        np.testing.assert_array_equal(raw[..., 2], kp[..., 2])


def test_box_partly_outside_or_larger_than_frame_is_fine(synth_session):
    frame = np.full((40, 30, 3), 128, np.uint8)
    boxes = [[-50, -80, 200, 300], [20, 30, 100, 100], [-10, -10, 15, 15]]
    kp, sc, ar = synth_session.estimate_boxes(frame, boxes)
    assert kp.shape == (3, 17, 3) and np.all(np.isfinite(kp)) and np.all(np.isfinite(sc))
    kc, scc = synth_session.estimate_crops([np.zeros((1, 1, 3), np.uint8), np.zeros((500, 3, 3), np.uint8)])
    assert np.all(np.isfinite(kc)) and np.all(np.isfinite(scc))


# --- decoding hand-made heatmaps -------------------------------------------------------------

def _one(h, w, peaks):
    a = np.zeros((1, 1, h, w), np.float32)
    for (x, y), v in peaks.items():
        a[0, 0, y, x] = v
    return a


def test_standard_decoding_quarter_offset():
    # Input pixels = 4 x heatmap pixels without boxes.
    hm = _one(32, 24, {(10, 7): 1.0, (11, 7): 0.5, (10, 6): 0.3})   # right and up are higher
    kp = hrnet.decode_heatmaps(hm)
    assert kp[0, 0].tolist() == [4 * 10.25, 4 * 6.75, 1.0]
    hm = _one(32, 24, {(10, 7): 0.9, (9, 7): 0.5, (10, 8): 0.5, (11, 7): 0.2, (10, 6): 0.2})
    assert hrnet.decode_heatmaps(hm)[0, 0].tolist() == pytest.approx([4 * 9.75, 4 * 7.25, 0.9])
    # Equal neighbours: no offset on that axis.
    hm = _one(32, 24, {(10, 7): 0.9, (9, 7): 0.4, (11, 7): 0.4, (10, 8): 0.1})
    assert hrnet.decode_heatmaps(hm)[0, 0].tolist() == pytest.approx([40, 4 * 7.25, 0.9])


def test_standard_decoding_edges_get_no_offset():
    # The offset needs 1 < px < w-1 and 1 < py < h-1 (as published), and then applies to both
    # axes: at px = 1 or py = 1 neither coordinate moves; px = w-2, py = h-2 still do.
    for (x, y), want in {(1, 7): (1, 7), (0, 7): (0, 7), (23, 7): (23, 7), (22, 7): (22.25, 7.25),
                         (10, 1): (10, 1), (10, 30): (10.25, 30.25), (10, 31): (10, 31),
                         (2, 2): (2.25, 2.25)}.items():
        peaks = {(x, y): 1.0}
        if x + 1 < 24:
            peaks[(x + 1, y)] = 0.5
        if y + 1 < 32:
            peaks[(x, y + 1)] = 0.5
        kp = hrnet.decode_heatmaps(_one(32, 24, peaks))
        assert kp[0, 0, :2].tolist() == [4 * want[0], 4 * want[1]], (x, y, kp[0, 0])


def test_decoding_ties_and_non_positive_maximum():
    hm = _one(32, 24, {(5, 9): 0.7, (12, 3): 0.7})          # first maximum in row-major order
    assert hrnet.decode_heatmaps(hm)[0, 0, :2].tolist() == [48, 12]
    hm = np.full((1, 2, 32, 24), -0.5, np.float32)           # max <= 0: the heatmap origin
    hm[0, 1, 20, 20] = -0.1
    kp = hrnet.decode_heatmaps(hm)
    assert kp[0, :, :2].tolist() == [[0, 0], [0, 0]]
    assert kp[0, :, 2].tolist() == pytest.approx([-0.5, -0.1])


def test_dark_recovers_sub_pixel_gaussian_peaks():
    h, w = 32, 24
    yy, xx = np.mgrid[0:h, 0:w]
    worst_dark, worst_std = 0.0, 0.0
    for cx, cy in [(12.3, 15.7), (8.62, 10.11), (15.5, 20.25), (6.9, 9.4), (11.0, 16.0)]:
        for sigma in (1.0, 1.5, 2.0):
            g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2)).astype(np.float32)
            g = g[None, None]
            d = hrnet.decode_heatmaps(g, method="dark")[0, 0] / 4   # heatmap pixels
            s = hrnet.decode_heatmaps(g)[0, 0] / 4
            worst_dark = max(worst_dark, abs(d[0] - cx), abs(d[1] - cy))
            worst_std = max(worst_std, abs(s[0] - cx), abs(s[1] - cy))
    assert worst_dark < 0.01, worst_dark       # measured 0.0023 heatmap pixels
    assert worst_std > 0.1                     # the quarter offset cannot do that


def test_decode_with_boxes_follows_the_published_transform():
    hm = _one(32, 24, {(10, 7): 1.0, (11, 7): 0.5, (10, 8): 0.5})
    box = [[100.0, 50.0, 60.0, 100.0]]          # widened to 75 x 100, enlarged to 93.75 x 125
    kp = hrnet.decode_heatmaps(hm, box, input_size=SYNTH_INPUT)
    k_hm = 24 / 93.75
    assert kp[0, 0, 0] == pytest.approx((10.25 - 12) / k_hm + 130, abs=1e-4)
    assert kp[0, 0, 1] == pytest.approx((7.25 - 16) / k_hm + 100, abs=1e-4)
    # input_size defaults to 4 x the heatmap size, the same here.
    np.testing.assert_allclose(hrnet.decode_heatmaps(hm, box), kp, atol=1e-5)


# --- OKS-NMS, box areas, skeletons -----------------------------------------------------------

def _person(rng, cx, cy, spread=30):
    p = np.zeros((17, 3), np.float32)
    p[:, 0] = cx + rng.uniform(-spread, spread, 17)
    p[:, 1] = cy + rng.uniform(-2 * spread, 2 * spread, 17)
    p[:, 2] = 0.9
    return p


def _oks(a, b, area_a, area_b):
    var = (2 * COCO_SIGMAS) ** 2
    d2 = ((a[:, :2] - b[:, :2]).astype(np.float64) ** 2).sum(1)
    return float(np.mean(np.exp(-d2 / var / ((area_a + area_b) / 2 + np.spacing(np.float32(1))) / 2)))


def test_oks_nms_drops_a_near_duplicate_and_keeps_a_distinct_person():
    rng = np.random.default_rng(1)
    a = _person(rng, 100, 120)
    dup = a + np.array([0.7, -0.5, 0], np.float32)
    other = _person(rng, 240, 120)
    kp = np.stack([dup, a, other])
    scores = np.array([0.6, 0.8, 0.7], np.float32)
    areas = np.array([9000, 9500, 8000], np.float32)
    assert _oks(a, dup, 9500, 9000) > 0.99 and _oks(a, other, 9500, 8000) < 0.01
    assert hrnet.oks_nms(kp, scores, areas) == [1, 2]      # by score; the duplicate dropped
    assert hrnet.oks_nms(kp, scores, areas, threshold=1.0) == [1, 2, 0]
    assert hrnet.oks_nms(kp[:0], scores[:0], areas[:0]) == []


def test_oks_nms_threshold_is_strict_and_uses_the_pair_mean_area():
    rng = np.random.default_rng(2)
    a = _person(rng, 100, 100)
    b = a.copy()
    b[:, 0] += 6.0
    kp = np.stack([a, b])
    oks = _oks(a, b, 4000, 6000)
    assert 0.3 < oks < 0.95
    assert hrnet.oks_nms(kp, [0.9, 0.5], [4000, 6000], threshold=oks - 1e-4) == [0]
    assert hrnet.oks_nms(kp, [0.9, 0.5], [4000, 6000], threshold=oks + 1e-4) == [0, 1]
    # Custom sigmas: larger ones make the same pair more similar.
    big = np.full(17, 0.5, np.float32)
    assert hrnet.oks_nms(kp, [0.9, 0.5], [4000, 6000], threshold=0.95, sigmas=big) == [0]


def test_box_area():
    assert hrnet.box_area([10, 20, 60, 100], SYNTH_INPUT) == pytest.approx(75 * 1.25 * 100 * 1.25)
    assert hrnet.box_area([10, 20, 100, 60, 0.3], SYNTH_INPUT) == pytest.approx(
        100 * 1.25 * (100 / 0.75) * 1.25)
    assert hrnet.box_area([0, 0, 96, 128], (256, 192)) == pytest.approx(120 * 160)
    with pytest.raises(ValueError, match="positive"):
        hrnet.box_area([0, 0, 0, 10], SYNTH_INPUT)
    with pytest.raises(TypeError, match="input_size"):
        hrnet.box_area([0, 0, 5, 10], 128)


def test_skeletons():
    c = hrnet.skeleton("coco17")
    assert hrnet.skeleton(17) is c and hrnet.skeleton("COCO") is c
    assert c.num_joints == 17 and c.joints[0] == "nose" and c.joints[16] == "right_ankle"
    assert len(c.limbs) == 19 and (15, 13) in c.limbs
    assert c.flip_pairs == ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
    np.testing.assert_allclose(c.sigmas, COCO_SIGMAS, rtol=1e-6)
    for a, b in c.flip_pairs:
        assert c.joints[a].replace("left", "right") == c.joints[b]
    m = hrnet.skeleton(16)
    assert m.name == "mpii16" and m.sigmas is None and len(m.joints) == 16
    assert m.flip_pairs == ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
    assert all(0 <= a < 16 and 0 <= b < 16 for a, b in m.limbs)
    for bad in ("coco18", 15, 0, -1):
        with pytest.raises(ValueError, match="skeleton"):
            hrnet.skeleton(bad)
    with pytest.raises(TypeError):
        hrnet.skeleton(17.0)


def test_session_skeleton(synth_session):
    assert synth_session.skeleton is COCO


# --- bad input -------------------------------------------------------------------------------

FRAME = np.zeros((60, 80, 3), np.uint8)


def test_bad_boxes(synth_session):
    s = synth_session
    cases = [
        ([[0, 0, 0, 10]], ValueError, "box 0 has size 0x10"),
        ([[0, 0, 10, 10], [0, 0, 10, -3]], ValueError, "box 1 has size 10x-3"),
        ([[0, 0, float("nan"), 10]], ValueError, "box 0 .*non-finite"),
        ([[0, float("inf"), 10, 10]], ValueError, "non-finite"),
        ([[0, 0, 10, 10, float("nan")]], ValueError, "non-finite"),
        ([[0, 0, 1e39, 10]], ValueError, "non-finite"),          # overflows float32
        ([0, 0, 10, 10], ValueError, r"2-D.*\[\[x, y, w, h\]\]"),
        ([[0, 0, 10]], ValueError, "N x 4"),
        ([["a", "b", "c", "d"]], TypeError, "real numbers"),
    ]
    for boxes, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            s.estimate_boxes(FRAME, boxes)
    # Only the library knows the frame: no overlap at all is its INVALID_ARGUMENT.
    for box in ([80, 0, 10, 10], [-10, 0, 10, 10], [0, 60, 5, 5], [500, 500, 20, 20]):
        with pytest.raises(hrnet.HRNetError, match="outside") as e:
            s.estimate_boxes(FRAME, [box])
        assert e.value.status == hrnet.Status.ERR_INVALID_ARGUMENT


def test_bad_frames_and_crops(synth_session):
    s = synth_session
    box = [[0, 0, 10, 10]]
    with pytest.raises(TypeError, match="uint8"):
        s.estimate_boxes(FRAME.astype(np.float32), box)
    with pytest.raises(TypeError, match="numpy array"):
        s.estimate_boxes(FRAME.tolist(), box)
    with pytest.raises(ValueError, match="3-D"):
        s.estimate_boxes(FRAME[:, :, 0], box)
    with pytest.raises(ValueError, match="3 or 4 channels"):
        s.estimate_boxes(np.zeros((60, 80, 2), np.uint8), box)
    with pytest.raises(ValueError, match="empty"):
        s.estimate_boxes(np.zeros((0, 80, 3), np.uint8), box)
    with pytest.raises(ValueError, match="unknown pixel_format 'yuv'"):
        s.estimate_boxes(FRAME, box, pixel_format="yuv")
    with pytest.raises(ValueError, match="4 channels but pixel_format 'rgb' needs 3"):
        s.estimate_boxes(np.zeros((60, 80, 4), np.uint8), box, pixel_format="rgb")
    with pytest.raises(ValueError, match="unknown decode method 'soft'"):
        s.estimate_boxes(FRAME, box, decode="soft")
    with pytest.raises(ValueError, match="N = 0"):
        s.estimate_crops([])
    with pytest.raises(ValueError, match="crop 1 .*uint8|crop 1 .*3-D"):
        s.estimate_crops([FRAME, FRAME[:, :, 0]])
    with pytest.raises(TypeError, match="crop 1 must have dtype uint8"):
        s.estimate_crops([FRAME, FRAME.astype(np.int16)])
    with pytest.raises(ValueError, match="for one crop pass"):
        s.estimate_crops(FRAME)
    with pytest.raises(TypeError, match="flip must be True or False"):
        s.estimate_crops([FRAME], flip="yes")


def test_bad_flip_pairs(synth_session):
    with pytest.raises(hrnet.HRNetError, match="flip pair") as e:
        synth_session.estimate_crops([FRAME], flip_pairs=[(1, 2), (3, 17)])
    assert e.value.status == hrnet.Status.ERR_INVALID_ARGUMENT
    with pytest.raises(hrnet.HRNetError, match="flip pair"):
        synth_session.estimate_crops([FRAME], flip_pairs=[(1, 2), (2, 3)])
    with pytest.raises(ValueError, match="P x 2"):
        synth_session.estimate_crops([FRAME], flip_pairs=[1, 2, 3])
    # The model's own pairs given explicitly change nothing; no flip ignores the pairs.
    k1, _ = synth_session.estimate_crops([FRAME], flip_pairs=COCO.flip_pairs)
    k2, _ = synth_session.estimate_crops([FRAME])
    np.testing.assert_array_equal(k1, k2)


def _raw_image(frame, stride=None, fmt=_lib.PIXEL_RGB8, width=None):
    h, w = frame.shape[:2]
    return _lib.hrnet_image(
        data=frame.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), width=width or w, height=h,
        stride=frame.strides[0] if stride is None else stride, format=fmt)


def _raw_estimate_boxes(session, img):
    box = (_lib.hrnet_box * 1)(_lib.hrnet_box(0, 0, 10, 10, 1))
    kp = np.empty(17 * 3, np.float32)
    status = _lib.lib.hrnet_estimate_boxes(session._ptr, ctypes.byref(img), box, 1, None,
                                           kp.ctypes.data_as(_lib.float_p), kp.size,
                                           None, None, None, 0)
    return status, _lib.decode(_lib.lib.hrnet_last_error(session._ptr))


def test_c_abi_checks_stride_and_pixel_format(synth_session):
    """What Python never passes (its strides come from numpy) is still refused by the library."""
    status, msg = _raw_estimate_boxes(synth_session, _raw_image(FRAME, stride=80 * 3 - 1))
    assert status == hrnet.Status.ERR_INVALID_ARGUMENT and "stride 239" in msg and "240" in msg
    status, msg = _raw_estimate_boxes(synth_session, _raw_image(FRAME, fmt=7))
    assert status == hrnet.Status.ERR_INVALID_ARGUMENT and "pixel format 7" in msg
    status, msg = _raw_estimate_boxes(synth_session, _raw_image(FRAME, stride=80 * 3, fmt=_lib.PIXEL_RGBA8))
    assert status == hrnet.Status.ERR_INVALID_ARGUMENT and "stride" in msg
    status, msg = _raw_estimate_boxes(synth_session, _raw_image(FRAME))
    assert status == hrnet.Status.OK, msg


def test_bad_heatmaps():
    hm = np.zeros((2, 17, 32, 24), np.float32)
    with pytest.raises(ValueError, match="4-D"):
        hrnet.decode_heatmaps(hm[0])
    with pytest.raises(ValueError, match="N = 0"):
        hrnet.decode_heatmaps(hm[:0])
    with pytest.raises(ValueError, match="empty dimension"):
        hrnet.decode_heatmaps(hm[:, :, :0])
    with pytest.raises(ValueError, match="1 boxes for 2 heatmap sets"):
        hrnet.decode_heatmaps(hm, [[0, 0, 10, 10]])
    with pytest.raises(TypeError, match="real numbers"):
        hrnet.decode_heatmaps(hm.astype(np.complex64))
    with pytest.raises(ValueError, match="unknown decode method"):
        hrnet.decode_heatmaps(hm, method="argmax")
    bad = hm.copy()
    bad[1, 3, 4, 5] = np.nan
    with pytest.raises(hrnet.HRNetError, match=r"\[1, 3, 4, 5\] is not finite"):
        hrnet.decode_heatmaps(bad)


def test_bad_nms_arguments():
    kp = np.zeros((2, 17, 3), np.float32)
    with pytest.raises(ValueError, match="N x K x 3"):
        hrnet.oks_nms(kp[..., :2], [1, 1], [1, 1])
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\)"):
        hrnet.oks_nms(kp, [1], [1, 1])
    with pytest.raises(ValueError, match="areas"):
        hrnet.oks_nms(kp, [1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match=r"scores\[1\]"):
        hrnet.oks_nms(kp, [1, float("nan")], [1, 1])
    with pytest.raises(ValueError, match="negative"):
        hrnet.oks_nms(kp, [1, 1], [1, -1])
    with pytest.raises(ValueError, match="16 joints need sigmas"):
        hrnet.oks_nms(np.zeros((2, 16, 3)), [1, 1], [1, 1])
    with pytest.raises(ValueError, match="sigmas must have shape"):
        hrnet.oks_nms(kp, [1, 1], [1, 1], sigmas=np.ones(16))
    with pytest.raises(ValueError, match="not finite"):
        hrnet.oks_nms(kp, [1, 1], [1, 1], threshold=float("nan"))
    # 16 joints with sigmas work.
    assert hrnet.oks_nms(np.zeros((2, 16, 3)), [1, 2], [1, 1], sigmas=np.full(16, 0.1)) == [1]


def test_closed_session_refuses_the_pipeline(samples):
    from conftest import SYNTH_MODEL
    s = hrnet.Session(SYNTH_MODEL, input_size=SYNTH_INPUT, threads=1)
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.estimate_boxes(FRAME, [[0, 0, 10, 10]])
    with pytest.raises(ValueError, match="closed"):
        s.estimate_crops([FRAME])
