"""COCO keypoint evaluation, following the official COCOeval (iouType 'keypoints') step by step:

- ground truth: ``ignore`` = iscrowd or num_keypoints == 0; results get ``area`` = the area of
  their keypoints' bounding box (as COCO.loadRes does) and are ranked by score (stable);
- OKS per (detection, ground truth) over the labelled joints (v > 0), with the ground truth's
  area; a ground truth with no labelled joint is compared through its box enlarged 2x;
- greedy matching per OKS threshold (.50:.05:.95), up to 20 detections per image, crowd ground
  truth matchable many times, ignored ground truth only when nothing better is left, unmatched
  detections outside the area range ignored;
- precision interpolated at 101 recall points; AP = mean over thresholds and recall points
  (entries with no ground truth left out), AR = mean recall over thresholds.

evaluate(gt, results) -> dict with AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl, in [0, 1].
"""

import numpy as np

COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                        .87, .87, .89, .89]) / 10.0

OKS_THRESHOLDS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1)
RECALL_POINTS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1)
AREA_RANGES = {"all": (0, 1e5 ** 2), "medium": (32 ** 2, 96 ** 2), "large": (96 ** 2, 1e5 ** 2)}
MAX_DETS = 20


def _prepare_results(results):
    out = []
    for i, r in enumerate(results):
        r = dict(r)
        kp = np.asarray(r["keypoints"], np.float64)
        x, y = kp[0::3], kp[1::3]
        r["area"] = float((x.max() - x.min()) * (y.max() - y.min()))
        r["id"] = i + 1
        out.append(r)
    return out


def oks_matrix(dts, gts, sigmas=COCO_SIGMAS):
    """OKS of each detection (rows) with each ground truth (columns), as COCOeval.computeOks."""
    if not dts or not gts:
        return np.zeros((len(dts), len(gts)))
    var = (sigmas * 2) ** 2
    k = len(sigmas)
    ious = np.zeros((len(dts), len(gts)))
    for j, gt in enumerate(gts):
        g = np.asarray(gt["keypoints"], np.float64)
        xg, yg, vg = g[0::3], g[1::3], g[2::3]
        k1 = np.count_nonzero(vg > 0)
        bb = gt["bbox"]
        x0, x1 = bb[0] - bb[2], bb[0] + bb[2] * 2
        y0, y1 = bb[1] - bb[3], bb[1] + bb[3] * 2
        for i, dt in enumerate(dts):
            d = np.asarray(dt["keypoints"], np.float64)
            xd, yd = d[0::3], d[1::3]
            if k1 > 0:
                dx, dy = xd - xg, yd - yg
            else:
                z = np.zeros(k)
                dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
                dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
            e = (dx ** 2 + dy ** 2) / var / (gt["area"] + np.spacing(1)) / 2
            if k1 > 0:
                e = e[vg > 0]
            ious[i, j] = np.sum(np.exp(-e)) / e.shape[0]
    return ious


def _evaluate_image(gts, dts, ious, area_range):
    """COCOeval.evaluateImg for one image, one area range, maxDets 20. `dts` sorted by score and
    cut to 20, `ious` rows in that order. Returns None when there is nothing to evaluate."""
    if not gts and not dts:
        return None
    lo, hi = area_range
    g_ignore = np.array([1 if (g["_ignore_base"] or g["area"] < lo or g["area"] > hi) else 0
                         for g in gts], dtype=int)
    gtind = np.argsort(g_ignore, kind="mergesort")
    gts = [gts[i] for i in gtind]
    g_ignore = g_ignore[gtind]
    ious = ious[:, gtind] if ious.size else ious
    crowd = [int(g.get("iscrowd", 0)) for g in gts]
    T, G, D = len(OKS_THRESHOLDS), len(gts), len(dts)
    gtm = np.zeros((T, G))
    dtm = np.zeros((T, D))
    dt_ig = np.zeros((T, D))
    if ious.size:
        for t_i, t in enumerate(OKS_THRESHOLDS):
            for d_i, d in enumerate(dts):
                iou = min(t, 1 - 1e-10)
                m = -1
                for g_i in range(G):
                    if gtm[t_i, g_i] > 0 and not crowd[g_i]:
                        continue
                    if m > -1 and g_ignore[m] == 0 and g_ignore[g_i] == 1:
                        break
                    if ious[d_i, g_i] < iou:
                        continue
                    iou = ious[d_i, g_i]
                    m = g_i
                if m == -1:
                    continue
                dt_ig[t_i, d_i] = g_ignore[m]
                dtm[t_i, d_i] = gts[m]["id"]
                gtm[t_i, m] = d["id"]
    out_of_range = np.array([d["area"] < lo or d["area"] > hi for d in dts]).reshape(1, D)
    dt_ig = np.logical_or(dt_ig, np.logical_and(dtm == 0, np.repeat(out_of_range, T, 0)))
    return {"scores": np.array([d["score"] for d in dts]), "dtm": dtm, "dt_ig": dt_ig,
            "g_ignore": g_ignore}


def _accumulate(evals):
    """-> (precision T x R, recall T), -1 where there is no ground truth (COCOeval.accumulate)."""
    T, R = len(OKS_THRESHOLDS), len(RECALL_POINTS)
    precision = -np.ones((T, R))
    recall = -np.ones(T)
    E = [e for e in evals if e is not None]
    if not E:
        return precision, recall
    scores = np.concatenate([e["scores"][:MAX_DETS] for e in E])
    inds = np.argsort(-scores, kind="mergesort")
    dtm = np.concatenate([e["dtm"][:, :MAX_DETS] for e in E], axis=1)[:, inds]
    dt_ig = np.concatenate([e["dt_ig"][:, :MAX_DETS] for e in E], axis=1)[:, inds]
    g_ignore = np.concatenate([e["g_ignore"] for e in E])
    npig = np.count_nonzero(g_ignore == 0)
    if npig == 0:
        return precision, recall
    tps = np.logical_and(dtm, np.logical_not(dt_ig))
    fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig))
    tp_sum = np.cumsum(tps, axis=1).astype(np.float64)
    fp_sum = np.cumsum(fps, axis=1).astype(np.float64)
    for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
        nd = len(tp)
        rc = tp / npig
        pr = (tp / (fp + tp + np.spacing(1))).tolist()
        recall[t] = rc[-1] if nd else 0
        for i in range(nd - 1, 0, -1):
            if pr[i] > pr[i - 1]:
                pr[i - 1] = pr[i]
        q = np.zeros(R)
        where = np.searchsorted(rc, RECALL_POINTS, side="left")
        for ri, pi in enumerate(where):
            if pi >= nd:
                break
            q[ri] = pr[pi]
        precision[t] = q
    return precision, recall


def _mean(a):
    a = a[a > -1]
    return float(np.mean(a)) if a.size else -1.0


def evaluate(gt, results, sigmas=COCO_SIGMAS):
    """gt: a COCO keypoint ground-truth dict (images, annotations); results: a list of COCO
    keypoint results. Only category 1 (person) is evaluated, as COCO has only that one."""
    img_ids = sorted(im["id"] for im in gt["images"])
    gts_by_img = {i: [] for i in img_ids}
    for a in gt["annotations"]:
        if a.get("category_id", 1) != 1:
            continue
        a = dict(a)
        a["_ignore_base"] = int(bool(a.get("iscrowd", 0)) or a.get("num_keypoints", 1) == 0
                                or bool(a.get("ignore", 0)))
        gts_by_img[a["image_id"]].append(a)
    dts_by_img = {i: [] for i in img_ids}
    for r in _prepare_results(results):
        if r["image_id"] not in dts_by_img:
            raise ValueError("result for image_id %r, which is not in the ground truth" % r["image_id"])
        if r.get("category_id", 1) == 1:
            dts_by_img[r["image_id"]].append(r)
    per_image = {}
    for i in img_ids:
        dts = dts_by_img[i]
        order = np.argsort([-d["score"] for d in dts], kind="mergesort")
        dts = [dts[j] for j in order][:MAX_DETS]
        per_image[i] = (gts_by_img[i], dts, oks_matrix(dts, gts_by_img[i], sigmas))
    stats = {}
    for name, rng in AREA_RANGES.items():
        evals = [_evaluate_image(g, d, o, rng) for g, d, o in per_image.values()]
        precision, recall = _accumulate(evals)
        suffix = {"all": "", "medium": "m", "large": "l"}[name]
        stats["AP" + suffix] = _mean(precision)
        stats["AR" + suffix] = _mean(recall)
        if name == "all":
            t50 = int(np.where(np.isclose(OKS_THRESHOLDS, .5))[0][0])
            t75 = int(np.where(np.isclose(OKS_THRESHOLDS, .75))[0][0])
            stats["AP50"] = _mean(precision[t50])
            stats["AP75"] = _mean(precision[t75])
            stats["AR50"] = _mean(recall[t50:t50 + 1])
            stats["AR75"] = _mean(recall[t75:t75 + 1])
    return stats
