"""track_eval on small hand-made cases whose metrics are worked out by hand in the comments.
Needs no library build: only numpy and the project's coco_eval."""

import itertools
import math

import numpy as np
import pytest

from coco_eval import COCO_SIGMAS, oks_matrix
from track_eval import ap, combine, evaluate, hungarian, match_frame, merge

# A standing figure, 17 COCO joints relative to its centre (about 44 x 93 px).
TEMPLATE = np.array([[0, -45], [-4, -48], [4, -48], [-8, -46], [8, -46], [-15, -30], [15, -30],
                     [-20, -10], [20, -10], [-22, 8], [22, 8], [-10, 5], [10, 5], [-11, 25],
                     [11, 25], [-12, 45], [12, 45]], np.float64)
AREA = 100.0 ** 2


def pose(cx, cy):
    return TEMPLATE + np.array([cx, cy], np.float64)


def scene(tracks, frames):
    """tracks: {track_id: function t -> (xy 17 x 2, area, visibility 17 or None) or None (absent
    on that frame)}. Returns a COCO ground-truth dict with images 1..frames (frame_index t)."""
    gt = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    for t in range(frames):
        gt["images"].append({"id": t + 1, "file_name": "%06d.png" % (t + 1), "width": 640,
                             "height": 480, "frame_index": t, "timestamp": t / 30.0})
        for tid, fn in sorted(tracks.items()):
            person = fn(t)
            if person is None:
                continue
            xy, area, vis = person
            v = np.full(17, 2.0) if vis is None else np.asarray(vis, np.float64)
            x0, y0 = xy.min(0)
            x1, y1 = xy.max(0)
            gt["annotations"].append({
                "id": len(gt["annotations"]) + 1, "image_id": t + 1, "category_id": 1,
                "iscrowd": 0, "track_id": tid, "area": float(area),
                "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                "num_keypoints": int(np.count_nonzero(v > 0)),
                "keypoints": np.column_stack([xy, v]).ravel().tolist()})
    return gt


def gt_xy(ann):
    return np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)[:, :2]


def prediction(image_id, xy, track_id=None, score=1.0):
    p = {"image_id": image_id, "category_id": 1, "score": score,
         "keypoints": np.column_stack([xy, np.ones(len(xy))]).ravel().tolist()}
    if track_id is not None:
        p["track_id"] = track_id
    return p


def from_gt(gt, track_of, change=None):
    """One prediction per true person: its keypoints (passed through change(xy, t, ann) if
    given) with predicted id track_of(true track, frame) (None: no prediction)."""
    frame = {im["id"]: im["frame_index"] for im in gt["images"]}
    out = []
    for a in gt["annotations"]:
        t = frame[a["image_id"]]
        pid = track_of(a["track_id"], t)
        if pid is None:
            continue
        xy = gt_xy(a)
        if change is not None:
            xy = change(xy, t, a)
        out.append(prediction(a["image_id"], xy, pid))
    return out


def two_people(frames):
    # Far apart (OKS between them ~ 0), moving with acceleration so that the true second
    # differences are not zero (jitter must subtract them).
    return scene({1: lambda t: (pose(100 + 3 * t + 0.5 * t * t, 200), AREA, None),
                  2: lambda t: (pose(450 - 2 * t, 220 + t * t), AREA, None)}, frames)


def one_person(frames, missing=()):
    return scene({1: lambda t: None if t in missing else (pose(200 + 2 * t * t, 240), AREA, None)},
                 frames)


# --- identity ----------------------------------------------------------------------------------

def test_perfect_tracking():
    gt = two_people(8)
    r = evaluate(gt, from_gt(gt, lambda tid, t: {1: 7, 2: 9}[tid]))
    assert r["idf1"] == 1.0 and r["idp"] == 1.0 and r["idr"] == 1.0
    assert r["idf1_one_to_one"] == 1.0
    assert r["id_switches"] == 0
    assert r["person_frames"] == 16 and r["predicted_people"] == 16 and r["matches"] == 16
    assert r["misses"] == 0 and r["false_positives"] == 0 and r["mota"] == 1.0
    assert r["tracks"] == 2 and r["frames"] == 8
    assert r["mean_oks"] == pytest.approx(1.0)
    # 2 tracks x frames 1..6 (those with both neighbours) x 17 joints.
    assert r["jitter_samples"] == 2 * 6 * 17
    assert r["jitter"] == pytest.approx(0.0, abs=1e-12)


def test_ids_swapped_halfway():
    # 10 frames; frames 0-4: true 1 -> id 10, true 2 -> id 20; frames 5-9 the ids swap.
    # Switches: true 1 at frame 5 (10 -> 20), true 2 at frame 5 (20 -> 10): 2.
    # Matches per true track: 1: {10: 5, 20: 5}, 2: {20: 5, 10: 5}; IDTP = 5 + 5 = 10.
    # IDF1 = 2 * 10 / (20 true + 20 predicted) = 0.5; MOTA = 1 - 2 / 20 = 0.9.
    gt = two_people(10)
    ids = lambda tid, t: (10 if tid == 1 else 20) if t < 5 else (20 if tid == 1 else 10)
    r = evaluate(gt, from_gt(gt, ids))
    assert r["id_switches"] == 2
    assert r["matches"] == 20
    assert r["idf1"] == pytest.approx(0.5)
    assert r["idp"] == pytest.approx(0.5) and r["idr"] == pytest.approx(0.5)
    assert r["mota"] == pytest.approx(0.9)
    assert r["jitter"] == pytest.approx(0.0, abs=1e-12)  # a swap is no jitter


def test_ids_swapped_and_back():
    # Swap at frame 4, back at frame 7: true 1 gets 10 10 10 10 20 20 20 10 10 10 -> 2 switches,
    # true 2 likewise -> 4 in all. IDTP = 7 + 7 = 14; IDF1 = 2 * 14 / 40 = 0.7.
    gt = two_people(10)
    ids = lambda tid, t: ({1: 20, 2: 10} if 4 <= t < 7 else {1: 10, 2: 20})[tid]
    r = evaluate(gt, from_gt(gt, ids))
    assert r["id_switches"] == 4
    assert r["idf1"] == pytest.approx(0.7)


def test_best_id_per_true_track_not_one_to_one():
    # 6 frames. True 1 is id 10 throughout; true 2 is also id 10 on frames 0-3 (a duplicate
    # id on those frames) and id 30 on frames 4-5. Switches: true 2 at frame 4 -> 1.
    # Per true track, the id with most matches: 1 -> 10 (6), 2 -> 10 (4): IDTP = 10,
    # IDF1 = 2 * 10 / (12 + 12) = 20/24. One to one, 10 can go to one track only:
    # 1 -> 10 (6), 2 -> 30 (2): IDTP 8, IDF1 = 16/24.
    gt = two_people(6)
    r = evaluate(gt, from_gt(gt, lambda tid, t: 10 if tid == 1 or t < 4 else 30))
    assert r["id_switches"] == 1
    assert r["idf1"] == pytest.approx(20 / 24)
    assert r["idf1_one_to_one"] == pytest.approx(16 / 24)


def test_missed_frame_same_id_is_no_switch():
    # 7 frames, the prediction of frame 3 is missing, the id is 5 before and after.
    # Matches 6, misses 1, no switch; IDTP 6, IDF1 = 2 * 6 / (7 + 6) = 12/13; MOTA = 1 - 1/7.
    # Jitter triples need frames t-1, t, t+1 matched: only t = 1 and t = 5 -> 2 x 17 samples.
    gt = one_person(7)
    r = evaluate(gt, from_gt(gt, lambda tid, t: None if t == 3 else 5))
    assert r["id_switches"] == 0
    assert r["matches"] == 6 and r["misses"] == 1 and r["false_positives"] == 0
    assert r["idf1"] == pytest.approx(12 / 13)
    assert r["mota"] == pytest.approx(1 - 1 / 7)
    assert r["jitter_samples"] == 2 * 17


def test_missed_frame_new_id_is_a_switch():
    # As above but the id after the gap is 6: the previous match (frame 2) had 5 -> 1 switch.
    # Matches {5: 3, 6: 3}: IDTP 3, IDF1 = 2 * 3 / 13 = 6/13.
    gt = one_person(7)
    r = evaluate(gt, from_gt(gt, lambda tid, t: None if t == 3 else (5 if t < 3 else 6)))
    assert r["id_switches"] == 1
    assert r["idf1"] == pytest.approx(6 / 13)


def test_true_person_missing_from_ground_truth_is_not_counted():
    # The true person is absent on frame 3 (no annotation) and has no labelled joint on frame 4:
    # neither frame counts as a true person; 5 true people, 5 predictions -> IDF1 = 1.
    def person(t):
        if t == 3:
            return None
        return pose(200 + 5 * t, 240), AREA, (np.zeros(17) if t == 4 else None)
    gt = scene({1: person}, 7)
    preds = [p for p in from_gt(gt, lambda tid, t: 5) if p["image_id"] != 5]
    r = evaluate(gt, preds)
    assert r["person_frames"] == 5 and r["matches"] == 5 and r["idf1"] == 1.0


def test_false_positive_lowers_idf1():
    # 5 frames tracked perfectly (IDF1 1), plus one prediction far from anyone on frame 2.
    # IDTP 5; IDF1 = 2 * 5 / (5 + 6) = 10/11 (down by 1/11); IDP = 5/6, IDR = 1; MOTA = 0.8.
    gt = one_person(5)
    preds = from_gt(gt, lambda tid, t: 5)
    assert evaluate(gt, preds)["idf1"] == 1.0
    preds.append(prediction(3, pose(520, 80), track_id=99))
    r = evaluate(gt, preds)
    assert r["false_positives"] == 1 and r["matches"] == 5 and r["predicted_people"] == 6
    assert r["idf1"] == pytest.approx(10 / 11)
    assert r["idp"] == pytest.approx(5 / 6) and r["idr"] == 1.0
    assert r["mota"] == pytest.approx(0.8)
    assert r["id_switches"] == 0


def test_predictions_without_track_id():
    gt = two_people(5)
    preds = [{k: v for k, v in p.items() if k != "track_id"} for p in from_gt(gt, lambda tid, t: 0)]
    r = evaluate(gt, preds)
    assert r["has_track_ids"] is False
    assert r["idf1"] is None and r["id_switches"] is None and r["idp"] is None
    assert r["matches"] == 10 and r["mota"] == 1.0
    assert r["jitter"] == pytest.approx(0.0, abs=1e-12) and r["jitter_samples"] == 2 * 3 * 17


def test_prediction_for_unknown_image_is_an_error():
    gt = one_person(3)
    with pytest.raises(ValueError, match="image_id 99"):
        evaluate(gt, [prediction(99, pose(0, 0), 1)])


# --- jitter ------------------------------------------------------------------------------------

D = 2.0


def oscillate(xy, t, ann):
    # joint 0's x gets (-1)^t * D
    xy = xy.copy()
    xy[0, 0] += (-1) ** t * D
    return xy


def test_jitter_of_an_oscillation():
    # 5 frames, the true person accelerates and grows: area on frame t = (100 + 10 t)^2.
    # Prediction = truth + (-1)^t D on joint 0's x. Second difference of the offset at t:
    # D((-1)^(t+1) - 2(-1)^t + (-1)^(t-1)) = -4 D (-1)^t, norm 4 D; the other 16 joints 0.
    # Samples: t = 1, 2, 3 x 17 joints = 51; jitter = (1/51) * sum_t 4 D / (100 + 10 t).
    # The predicted id changes every frame: jitter does not look at ids.
    gt = scene({1: lambda t: (pose(200 + 2 * t * t, 240 - t), (100.0 + 10 * t) ** 2, None)}, 5)
    r = evaluate(gt, from_gt(gt, lambda tid, t: 100 + t, change=oscillate))
    assert r["matches"] == 5 and r["id_switches"] == 4
    assert r["jitter_samples"] == 51
    expected = sum(4 * D / (100 + 10 * t) for t in (1, 2, 3)) / 51
    assert r["jitter"] == pytest.approx(expected, rel=1e-12)


def test_jitter_skips_joints_hidden_on_any_of_three_frames():
    # Same oscillation, but joint 0 is unlabelled (v = 0) on frame 2, which every triple
    # (t = 1, 2, 3) contains: joint 0 is never sampled, the rest are 0 -> jitter 0 over
    # 3 x 16 = 48 samples.
    vis2 = np.full(17, 2.0)
    vis2[0] = 0
    gt = scene({1: lambda t: (pose(200 + 2 * t * t, 240), AREA, vis2 if t == 2 else None)}, 5)
    r = evaluate(gt, from_gt(gt, lambda tid, t: 1, change=oscillate))
    assert r["jitter_samples"] == 48
    assert r["jitter"] == pytest.approx(0.0, abs=1e-12)


def test_constant_offset_is_no_jitter():
    gt = scene({1: lambda t: (pose(200 + 2 * t * t, 240 + t * t), AREA, None)}, 6)
    r = evaluate(gt, from_gt(gt, lambda tid, t: 1, change=lambda xy, t, a: xy + [3.0, -2.0]))
    assert r["matches"] == 6 and r["jitter_samples"] == 4 * 17
    assert r["jitter"] == pytest.approx(0.0, abs=1e-12)
    assert r["mean_oks"] < 1.0  # the offset is there


def test_jitter_uses_the_oks_match_not_the_predicted_id():
    # Two people, ids swapped on every other frame: jitter is still 0 because each true track
    # is paired with the prediction matched to it by OKS on each frame.
    gt = two_people(6)
    r = evaluate(gt, from_gt(gt, lambda tid, t: tid if t % 2 else 3 - tid))
    assert r["id_switches"] == 2 * 5
    assert r["jitter_samples"] == 2 * 4 * 17 and r["jitter"] == pytest.approx(0.0, abs=1e-12)


# --- matching ----------------------------------------------------------------------------------

def greedy_max(w):
    w = np.array(w, np.float64)
    pairs = []
    while True:
        r, c = np.unravel_index(np.argmax(w), w.shape)
        if w[r, c] < 0.5:
            return sorted(pairs)
        pairs.append((int(r), int(c)))
        w[r, :] = -1
        w[:, c] = -1


def test_hungarian_beats_greedy():
    # OKS, predictions x true people. Greedy takes (0,0)=0.9 first, then (2,2)=0.6: 2 matches,
    # 1.5. The optimum is (0,1)=0.8 + (1,0)=0.8 + (2,2)=0.6 = 2.2, 3 matches (unique:
    # every other permutation uses a 0, the best of them is (0,0)+(2,2)=1.5).
    oks = [[0.9, 0.8, 0.0],
           [0.8, 0.0, 0.0],
           [0.0, 0.0, 0.6]]
    assert greedy_max(oks) == [(0, 0), (2, 2)]
    assert match_frame(oks) == [(0, 1), (1, 0), (2, 2)]
    # A plain cost matrix: greedy minimum (0,0)=1, (1,1)=4, (2,2)=9 -> 14; the optimum is the
    # anti-diagonal 3 + 4 + 3 = 10 (the other permutations: 11, 11, 13, 13).
    assert hungarian([[1, 2, 3], [2, 4, 6], [3, 6, 9]]) == [(0, 2), (1, 1), (2, 0)]


def brute_force_min(c):
    n, m = c.shape
    if n <= m:
        return min(sum(c[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    return brute_force_min(c.T)


def test_hungarian_is_optimal():
    # 600 random matrices up to 5 x 5 (rectangular both ways) against brute force; integer
    # costs give ties, so only the total must be optimal.
    rng = np.random.default_rng(12345)
    for case in range(600):
        n, m = rng.integers(1, 6, size=2)
        c = rng.integers(0, 10, size=(n, m)).astype(np.float64) if case % 2 else rng.random((n, m))
        pairs = hungarian(c)
        assert len(pairs) == min(n, m), c
        assert len({r for r, _ in pairs}) == len(pairs) == len({col for _, col in pairs}), c
        assert sum(c[r, col] for r, col in pairs) == pytest.approx(brute_force_min(c), abs=1e-9), c


def test_hungarian_empty():
    assert hungarian(np.zeros((0, 3))) == [] and hungarian(np.zeros((2, 0))) == []


def test_oks_threshold():
    assert match_frame([[0.4999]]) == []
    assert match_frame([[0.5]]) == [(0, 0)]
    # One labelled joint (the nose, sigma .026): OKS = exp(-d^2 / (2 area (2 sigma)^2)).
    # A prediction d px off the nose, d chosen for OKS 0.45 (no match) and 0.55 (a match).
    vis = np.zeros(17)
    vis[0] = 2
    gt = scene({1: lambda t: (pose(300, 240), AREA, vis)}, 1)
    k = 2 * COCO_SIGMAS[0]
    for target, matched in ((0.45, 0), (0.55, 1)):
        d = math.sqrt(-2 * math.log(target) * AREA * k * k)
        xy = pose(300, 240)
        xy[0, 0] += d
        xy[1:] += 40  # the unlabelled joints are not looked at
        p = prediction(1, xy, track_id=1)
        assert oks_matrix([p], gt["annotations"])[0, 0] == pytest.approx(target, rel=1e-9)
        r = evaluate(gt, [p])
        assert r["matches"] == matched
        assert r["misses"] == 1 - matched and r["false_positives"] == 1 - matched


def test_optimal_matching_in_evaluate():
    # True A at x=300 and B at x=312; prediction A' at x=308 (nearer B than A), B' 10 px below
    # B. OKS (A', B') x (A, B) ~ [[0.73, 0.91], [0.45, 0.65]]. Greedy by OKS pairs A' with B
    # (0.91) and leaves B' with A only (< 0.5): 1 match. The optimum pairs A'-A and B'-B
    # (1.38): 2 matches.
    gt = scene({1: lambda t: (pose(300, 240), AREA, None),
                2: lambda t: (pose(312, 240), AREA, None)}, 1)
    preds = [prediction(1, pose(308, 240), 1), prediction(1, pose(312, 250), 2)]
    o = oks_matrix(preds, gt["annotations"])
    assert o[0, 1] > o[0, 0] >= 0.5 and o[0, 1] > o[1, 1] >= 0.5 and o[1, 0] < 0.5
    assert greedy_max(o) == [(0, 1)]
    r = evaluate(gt, preds)
    assert r["matches"] == 2 and r["misses"] == 0 and r["false_positives"] == 0
    assert r["mean_oks"] == pytest.approx((o[0, 0] + o[1, 1]) / 2)


# --- several videos, AP ------------------------------------------------------------------------

def test_merge_equals_combine_and_ap():
    g1 = two_people(10)
    p1 = from_gt(g1, lambda tid, t: ({1: 20, 2: 10} if 4 <= t < 7 else {1: 10, 2: 20})[tid],
                 change=oscillate)
    g2 = one_person(7)
    p2 = from_gt(g2, lambda tid, t: None if t == 3 else (10 if t < 3 else 20))
    g, p = merge([(g1, p1), (g2, p2)])
    assert sorted(im["id"] for im in g["images"]) == list(range(1, 11)) + list(range(1001, 1008))
    assert len({a["id"] for a in g["annotations"]}) == len(g["annotations"]) == 27
    # Both videos use predicted ids 10 and 20 and true id 1: they must stay apart.
    assert len({a["track_id"] for a in g["annotations"]}) == 3
    assert len({q["track_id"] for q in p}) == 4
    pooled, parts = evaluate(g, p), combine([evaluate(g1, p1), evaluate(g2, p2)])
    assert pooled["id_switches"] == 4 + 1
    for key, value in parts.items():
        assert pooled[key] == pytest.approx(value), key
    # AP: the ground truth itself scores 1; a large offset does not.
    assert ap(g, from_gt(g, lambda tid, t: tid))["AP"] == pytest.approx(1.0)
    far = from_gt(g, lambda tid, t: tid, change=lambda xy, t, a: xy + 15.0)
    assert ap(g, far)["AP"] < 0.5
