"""Tracking metrics for pose tracking over COCO-style data (numpy only).

Ground truth: a COCO keypoints dict whose annotations carry ``track_id`` (the same person keeps
one id through a video) and whose images carry ``frame_index`` (0-based; without it, the rank of
the image id). Predictions: a list of COCO keypoint results ``{image_id, category_id,
keypoints [x, y, s] * K, score, track_id}``; ``track_id`` may be absent (per-frame estimation),
then the identity metrics are None and the rest is still computed.

Definitions (see evaluate()):

- True people: ground-truth annotations of category 1, not crowd, with at least one labelled
  joint (v > 0); the others take no part in anything. Predicted people: every prediction of
  category 1 (scoring at least ``min_score``, 0 by default).
- Per frame, predicted and true people are matched one to one by OKS (coco_eval.oks_matrix:
  COCO sigmas, the true annotation's ``area``, only joints with v > 0) with an optimal assignment
  (hungarian(), written here) that maximises the summed OKS over the pairs with OKS >= 0.5;
  only those pairs are matches.
- ID switch: a true track matched to a predicted id other than the one it was matched to on the
  last frame where it was matched (frames in which it was missed are skipped over).
- IDF1 = 2 IDTP / (true people + predicted people), with IDTP = sum over true tracks of the
  matches carrying that track's predicted id, the one predicted id per true track with the most
  matches to it (two true tracks may pick the same predicted id). IDP = IDTP / predicted people,
  IDR = IDTP / true people. ``idf1_one_to_one`` is the same with the ids given one to one
  (optimal assignment of predicted ids to true tracks), as the usual IDF1 does.
- Jitter: over every true track, every frame t at which it is matched on frames t-1, t, t+1
  (by frame_index) and every joint labelled (v > 0) on all three, the Euclidean norm of
  (p[t+1] - 2 p[t] + p[t-1]) - (g[t+1] - 2 g[t] + g[t-1]) divided by sqrt(area) of the true
  person on frame t; jitter is the mean of those samples (None if there are none). p is the
  prediction matched to the true track on that frame, whatever its predicted id.
- MOTA = 1 - (misses + false positives + id switches) / true people (switches count 0 without
  predicted ids); mean_oks = mean OKS of the matches.

evaluate(gt, predictions) -> dict; combine([dict, ...]) pools evaluations of separate videos;
merge([(gt, predictions), ...]) makes one ground truth and one prediction list of several videos
(unique image, annotation and track ids) for AP or pooled evaluation; ap(gt, predictions) is the
COCO keypoint AP (coco_eval.evaluate).
"""

import math

import numpy as np

from coco_eval import COCO_SIGMAS, oks_matrix
from coco_eval import evaluate as _coco_evaluate

OKS_THRESHOLD = 0.5


# --- optimal assignment ----------------------------------------------------------------------

def hungarian(cost):
    """Minimum-cost one-to-one assignment (Kuhn-Munkres with potentials, O(n^2 m) for n <= m).

    cost: n x m array of finite numbers (rectangular allowed). Returns the list of (row, column)
    pairs, sorted by row, of an assignment of min(n, m) pairs with the least total cost."""
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError("hungarian: cost must be a 2-D array, got shape %r" % (c.shape,))
    if c.size == 0:
        return []
    if not np.all(np.isfinite(c)):
        raise ValueError("hungarian: cost must be finite")
    transposed = c.shape[0] > c.shape[1]
    if transposed:
        c = c.T
    n, m = c.shape
    inf = math.inf
    # 1-based: rows 1..n, columns 1..m; column 0 is the virtual start of each augmenting path.
    u = [0.0] * (n + 1)          # row potentials
    v = [0.0] * (m + 1)          # column potentials
    owner = [0] * (m + 1)        # owner[j]: row assigned to column j (0 = free)
    way = [0] * (m + 1)          # previous column on the shortest alternating path
    rows = c.tolist()
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = owner[j0]
            row = rows[i0 - 1]
            delta = inf
            j1 = -1
            for j in range(1, m + 1):
                if used[j]:
                    continue
                reduced = row[j - 1] - u[i0] - v[j]
                if reduced < minv[j]:
                    minv[j] = reduced
                    way[j] = j0
                if minv[j] < delta:
                    delta = minv[j]
                    j1 = j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0 != 0:           # flip the augmenting path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    pairs = [(owner[j] - 1, j - 1) for j in range(1, m + 1) if owner[j] != 0]
    if transposed:
        pairs = [(b, a) for a, b in pairs]
    return sorted(pairs)


def match_frame(oks, threshold=OKS_THRESHOLD):
    """One-to-one matching of one frame. oks: predictions (rows) x true people (columns).
    Returns (prediction index, true index) pairs, sorted by prediction, maximising the summed
    OKS over the pairs with OKS >= threshold; pairs under the threshold are never returned."""
    o = np.asarray(oks, dtype=np.float64)
    if o.size == 0:
        return []
    ok = o >= threshold
    weight = np.where(ok, o, 0.0)    # an inadmissible pair is worth as much as no pair
    return [(r, c) for r, c in hungarian(-weight) if ok[r, c]]


# --- evaluation ------------------------------------------------------------------------------

_COUNTS = ("frames", "person_frames", "predicted_people", "matches", "misses", "false_positives",
           "id_switches", "idtp", "idtp_one_to_one", "tracks", "oks_sum", "jitter_sum",
           "jitter_samples")


def _visible(ann):
    kp = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
    return kp[:, 2] > 0


def _frame_order(images):
    """Images sorted by (frame_index, id); frame_index defaults to the rank of the id."""
    by_id = sorted(images, key=lambda im: im["id"])
    rank = {im["id"]: k for k, im in enumerate(by_id)}
    fi = {im["id"]: int(im.get("frame_index", rank[im["id"]])) for im in images}
    return sorted(images, key=lambda im: (fi[im["id"]], im["id"])), fi


def evaluate(gt, predictions, oks_threshold=OKS_THRESHOLD, min_score=0.0, sigmas=COCO_SIGMAS):
    """Tracking metrics of `predictions` against `gt` (see the module's docstring).

    Returns a dict: idf1, idp, idr, idf1_one_to_one, id_switches (None without predicted ids),
    person_frames (true people), predicted_people, matches, misses, false_positives, mota,
    mean_oks, jitter (None without samples), jitter_samples, tracks (true tracks), frames,
    has_track_ids, and the raw sums combine() needs (idtp, idtp_one_to_one, oks_sum,
    jitter_sum)."""
    images, frame_index = _frame_order(gt["images"])
    gts = {im["id"]: [] for im in images}
    for a in gt["annotations"]:
        if a.get("category_id", 1) != 1 or a.get("iscrowd", 0):
            continue
        if a["image_id"] not in gts:
            raise ValueError("annotation %r: image_id %r is not among the images"
                             % (a.get("id"), a["image_id"]))
        if "track_id" not in a:
            raise ValueError("annotation %r has no track_id" % (a.get("id"),))
        if np.any(_visible(a)):
            gts[a["image_id"]].append(a)
    dts = {im["id"]: [] for im in images}
    for p in predictions:
        if p["image_id"] not in dts:
            raise ValueError("prediction for image_id %r, which is not in the ground truth"
                             % (p["image_id"],))
        if p.get("category_id", 1) == 1 and p.get("score", 1.0) >= min_score:
            dts[p["image_id"]].append(p)
    has_ids = all(p.get("track_id") is not None for ps in dts.values() for p in ps)

    n = dict.fromkeys(_COUNTS, 0)
    n["oks_sum"] = n["jitter_sum"] = 0.0
    last_id = {}        # true track -> predicted id at its last match
    id_counts = {}      # true track -> {predicted id: matches}
    matched = {}        # true track -> {frame_index: (pred xy, gt xy, gt visible, gt area)}
    tracks = set()
    for im in images:
        g, d = gts[im["id"]], dts[im["id"]]
        n["frames"] += 1
        n["person_frames"] += len(g)
        n["predicted_people"] += len(d)
        seen = set()
        for a in g:
            if a["track_id"] in seen:
                raise ValueError("image %r: track_id %r appears twice" % (im["id"], a["track_id"]))
            seen.add(a["track_id"])
        tracks |= seen
        oks = oks_matrix(d, g, sigmas)
        pairs = match_frame(oks, oks_threshold)
        n["matches"] += len(pairs)
        n["misses"] += len(g) - len(pairs)
        n["false_positives"] += len(d) - len(pairs)
        fi = frame_index[im["id"]]
        for di, gi in pairs:
            a, p = g[gi], d[di]
            tid = a["track_id"]
            n["oks_sum"] += float(oks[di, gi])
            if has_ids:
                pid = p["track_id"]
                if tid in last_id and last_id[tid] != pid:
                    n["id_switches"] += 1
                last_id[tid] = pid
                counts = id_counts.setdefault(tid, {})
                counts[pid] = counts.get(pid, 0) + 1
            gk = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
            pk = np.asarray(p["keypoints"], np.float64).reshape(-1, 3)
            if pk.shape != gk.shape:
                raise ValueError("image %r: a prediction has %d joints, the ground truth %d"
                                 % (im["id"], pk.shape[0], gk.shape[0]))
            matched.setdefault(tid, {})[fi] = (pk[:, :2], gk[:, :2], gk[:, 2] > 0, float(a["area"]))
    n["tracks"] = len(tracks)

    if has_ids:
        n["idtp"] = sum(max(c.values()) for c in id_counts.values())
        tids = sorted(id_counts, key=repr)
        pids = sorted({pid for c in id_counts.values() for pid in c}, key=repr)
        if tids:
            w = np.array([[id_counts[t].get(pid, 0) for pid in pids] for t in tids], np.float64)
            n["idtp_one_to_one"] = int(sum(w[r, c] for r, c in hungarian(-w)))

    for frames in matched.values():
        for t, (p, g, vis, area) in frames.items():
            if t - 1 not in frames or t + 1 not in frames:
                continue
            p0, g0, vis0, _ = frames[t - 1]
            p2, g2, vis2, _ = frames[t + 1]
            both = vis0 & vis & vis2
            if not np.any(both):
                continue
            second = (p2 - 2 * p + p0) - (g2 - 2 * g + g0)
            err = np.hypot(second[:, 0], second[:, 1])[both] / math.sqrt(area)
            n["jitter_sum"] += float(np.sum(err))
            n["jitter_samples"] += int(err.size)
    n["has_track_ids"] = has_ids
    return _finish(n)


def _ratio(a, b):
    return a / b if b else None


def _finish(n):
    out = dict(n)
    has_ids = n["has_track_ids"]
    if not has_ids:
        out["id_switches"] = out["idtp"] = out["idtp_one_to_one"] = None
    people = n["person_frames"] + n["predicted_people"]
    out["idf1"] = _ratio(2.0 * n["idtp"], people) if has_ids else None
    out["idf1_one_to_one"] = _ratio(2.0 * n["idtp_one_to_one"], people) if has_ids else None
    out["idp"] = _ratio(float(n["idtp"]), n["predicted_people"]) if has_ids else None
    out["idr"] = _ratio(float(n["idtp"]), n["person_frames"]) if has_ids else None
    switches = n["id_switches"] if has_ids else 0
    errors = n["misses"] + n["false_positives"] + switches
    out["mota"] = 1.0 - errors / n["person_frames"] if n["person_frames"] else None
    out["mean_oks"] = _ratio(n["oks_sum"], n["matches"])
    out["jitter"] = _ratio(n["jitter_sum"], n["jitter_samples"])
    return out


def combine(results):
    """Pools evaluate() results of separate videos (counts added, ratios recomputed)."""
    results = list(results)
    if not results:
        raise ValueError("combine: nothing to combine")
    n = {k: sum(r[k] or 0 for r in results) for k in _COUNTS}
    n["has_track_ids"] = all(r["has_track_ids"] for r in results)
    return _finish(n)


# --- several videos, AP ----------------------------------------------------------------------

ID_STRIDE = 1000            # image ids: video index * 1000 + image id (as the CLI numbers them)
TRACK_STRIDE = 10 ** 9      # track ids (true and predicted): video index * 1e9 + id


def merge(videos, id_stride=ID_STRIDE, track_stride=TRACK_STRIDE):
    """[(gt, predictions), ...] -> (gt, predictions) of all the videos, with image ids
    k * id_stride + id (k = 0, 1, ... the video's index), annotation ids made unique, and track
    ids (true and predicted) k * track_stride + id. frame_index is kept: evaluate() relates
    frames only within a true track, so videos do not mix."""
    images, annotations, preds = [], [], []
    ann_offset = 0
    out = None
    for k, (gt, predictions) in enumerate(videos):
        if out is None:
            out = {key: val for key, val in gt.items() if key not in ("images", "annotations")}
        for im in gt["images"]:
            if not 0 <= im["id"] < id_stride:
                raise ValueError("merge: image id %r out of 0..%d" % (im["id"], id_stride - 1))
            images.append(dict(im, id=k * id_stride + im["id"]))
        top = ann_offset
        for a in gt["annotations"]:
            a = dict(a, image_id=k * id_stride + a["image_id"], id=ann_offset + a["id"])
            top = max(top, a["id"])
            if "track_id" in a:
                a["track_id"] = k * track_stride + _track(a["track_id"], track_stride)
            annotations.append(a)
        ann_offset = top
        for p in predictions:
            p = dict(p, image_id=k * id_stride + p["image_id"])
            if p.get("track_id") is not None:
                p["track_id"] = k * track_stride + _track(p["track_id"], track_stride)
            preds.append(p)
    if out is None:
        raise ValueError("merge: no videos")
    out["images"] = images
    out["annotations"] = annotations
    return out, preds


def _track(tid, stride):
    tid = int(tid)
    if not 0 <= tid < stride:
        raise ValueError("merge: track id %r out of 0..%d" % (tid, stride - 1))
    return tid


def ap(gt, predictions):
    """COCO keypoint AP/AR (coco_eval.evaluate: AP, AP50, AP75, APm, APl, AR, ...); extra fields
    such as track_id are ignored."""
    return _coco_evaluate(gt, predictions)


def with_true_ids(gt, predictions, oks_threshold=OKS_THRESHOLD, sigmas=COCO_SIGMAS):
    """The predictions with perfect identities: each one the per-frame matching pairs with a true
    person takes that person's track_id, each other one an id of its own. evaluate() of the
    result is the ceiling of IDF1 and switches for these poses: what is left below it is the
    tracker's doing, the rest is the poses' (people missed or too far off to match)."""
    gts = {}
    for a in gt["annotations"]:
        if a.get("category_id", 1) == 1 and not a.get("iscrowd", 0) and np.any(_visible(a)):
            gts.setdefault(a["image_id"], []).append(a)
    by_image = {}
    for p in predictions:
        by_image.setdefault(p["image_id"], []).append(p)
    out, spare = [], -1
    for image_id, ps in by_image.items():
        g = gts.get(image_id, [])
        pairs = match_frame(oks_matrix(ps, g, sigmas), oks_threshold) if g else []
        matched = dict(pairs)
        for i, p in enumerate(ps):
            q = dict(p)
            if i in matched:
                q["track_id"] = g[matched[i]]["track_id"]
            else:
                q["track_id"] = spare
                spare -= 1
            out.append(q)
    return out
