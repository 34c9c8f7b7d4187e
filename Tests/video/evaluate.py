#!/usr/bin/env python3
"""Tracking evaluation on the synthetic videos (a developer script; CI does not run it).

For each video (videoNN/ with video.mp4, gt.json, dets.json; see examples/videos/README.md)
it runs the command-line tool in four modes and scores the results against gt.json:

    frame            per-frame estimation, no tracking     hrnet-pose ... (no flag)
    tracked          tracking, smoothed keypoints          --track
    tracked-raw      tracking, no smoothing                --track --no-smoothing
    tracked-detect5  tracking, detector every 5th frame    --track --detect-every 5

Printed per video and pooled over all videos (a Markdown table): COCO keypoint AP (pooled: image
ids made unique, video index * 1000 + image id, in ground truth and predictions alike), IDF1, ID
switches (also per 300 true person-frames), MOTA, misses, false positives, jitter, frames/s of
the CLI run (wall clock of the whole process: start, model load, video decode, estimation);
then the jitter reduction of smoothing, 1 - jitter(tracked) / jitter(tracked-raw). Metrics
are defined in python/tests/track_eval.py (IDF1, switches and MOTA are '-' for per-frame).

    python3 Tests/video/evaluate.py                           # run the CLI, print the table
    python3 Tests/video/evaluate.py --json numbers.json       # also dump every number
    python3 Tests/video/evaluate.py --save-predictions DIR    # keep DIR/videoNN.<mode>.json
    python3 Tests/video/evaluate.py --predictions DIR         # score saved files, no CLI run
    python3 Tests/video/evaluate.py --extra='--threads 4'     # passed to every CLI run
    python3 Tests/video/evaluate.py --python-tracker          # + hrnet.Tracker from Python

--videos DIR defaults to examples/videos of the repository.
If the CLI fails, its stderr is printed and the script exits with 1.

--python-tracker times the binding's hrnet.Tracker (estimation + tracking) against plain
estimate_boxes + oks_nms on the same decoded frames and boxes (the difference is the tracker's
own cost), and scores its output as modes py-tracked (smoothed) and py-tracked-raw (its
raw_keypoints). Frames are decoded with an `ffmpeg` executable (--ffmpeg); without it, or
without hrnet.Tracker, that part is skipped with a message.
"""

import argparse
import json
import math
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python" / "tests"))

import track_eval  # noqa: E402  (python/tests/track_eval.py)

MODES = {
    "frame": ("per-frame", []),
    "tracked": ("tracked", ["--track"]),
    "tracked-raw": ("tracked, no smoothing", ["--track", "--no-smoothing"]),
    "tracked-detect5": ("tracked, detect every 5", ["--track", "--detect-every", "5"]),
}
PY_MODES = {"py-tracked": "py Tracker", "py-tracked-raw": "py Tracker, raw keypoints"}
LABELS = dict({k: v[0] for k, v in MODES.items()}, **PY_MODES)
SWITCH_UNIT = 300  # id switches are also given per this many true person-frames


class Failure(Exception):
    """A problem the script reports on stderr before exiting with 1."""


# --- inputs ----------------------------------------------------------------------------------

def default_videos_dir():
    return REPO / "examples" / "videos"


def find_videos(root, only=None):
    """[(name, directory)] of the videos under root, in videos.json's order if there is one."""
    if not root.is_dir():
        raise Failure("no videos directory %s" % root)
    listing = root / "videos.json"
    if listing.is_file():
        names = [v["name"] for v in json.loads(listing.read_text())["videos"]]
    else:
        names = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "gt.json").is_file())
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise Failure("unknown video(s) %s; %s has %s" % (", ".join(unknown), root, ", ".join(names)))
        names = [n for n in names if n in only]
    if not names:
        raise Failure("no videos (videoNN/gt.json) in %s" % root)
    out = []
    for name in names:
        d = root / name
        if not (d / "gt.json").is_file():
            raise Failure("%s: gt.json missing" % d)
        out.append((name, d))
    return out


def load_json(path, what):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as e:
        raise Failure("%s: cannot read %s: %s" % (what, path, e))


def check_predictions(preds, where):
    if not isinstance(preds, list):
        raise Failure("%s: expected a JSON list of COCO keypoint results" % where)
    for p in preds:
        if not isinstance(p, dict) or not {"image_id", "keypoints", "score"} <= set(p):
            raise Failure("%s: not a COCO keypoint result: %.200r" % (where, p))
    return preds


# --- running the CLI -------------------------------------------------------------------------

def run_cli(args, video_dir, mode, out_path):
    """Runs hrnet-pose on one video in one mode; returns (predictions, seconds)."""
    cmd = ([str(args.cli), "--model", str(args.model), "--input-size", args.input_size,
            "--dets", str(video_dir / "dets.json"), str(video_dir / "video.mp4"),
            "--output", str(out_path)] + MODES[mode][1] + args.extra_args)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired as e:
        raise Failure("%s\ntimed out after %g s; stderr:\n%s" % (shlex.join(cmd), args.timeout,
                                                                 _text(e.stderr)))
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise Failure("%s\nexit status %d; stderr:\n%s" % (shlex.join(cmd), p.returncode, p.stderr))
    if not out_path.is_file():
        raise Failure("%s\nexited 0 but wrote no %s; stderr:\n%s" % (shlex.join(cmd), out_path, p.stderr))
    return check_predictions(load_json(out_path, "%s %s" % (video_dir.name, mode)),
                             "%s (%s)" % (out_path, mode)), seconds


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


# --- the binding's tracker (--python-tracker) ------------------------------------------------

def decode_frames(ffmpeg, video, width, height, count):
    """All frames of video.mp4 as count x H x W x 3 uint8 RGB (through ffmpeg)."""
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(video), "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-"]
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        raise Failure("%s\nexit status %d; stderr:\n%s" % (shlex.join(cmd), p.returncode, _text(p.stderr)))
    size = width * height * 3
    n = len(p.stdout) // size
    if n < count or len(p.stdout) % size:
        raise Failure("%s: decoded %d bytes = %.2f frames of %dx%d, expected %d frames"
                      % (video, len(p.stdout), len(p.stdout) / size, width, height, count))
    return np.frombuffer(p.stdout, np.uint8, count * size).reshape(count, height, width, 3)


def boxes_by_image(dets):
    """dets.json -> {image_id: N x 5 float64 [x, y, w, h, score]} (category 1, every score)."""
    out = {}
    for d in dets:
        if d.get("category_id", 1) == 1:
            out.setdefault(d["image_id"], []).append(list(d["bbox"]) + [d.get("score", 1.0)])
    return {k: np.array(v, np.float64).reshape(-1, 5) for k, v in out.items()}


def python_tracker_availability(args):
    """(hrnet module, ffmpeg path) or (None, reason). hrnet comes from PYTHONPATH (or an
    installed package), else from the repository's python/."""
    try:
        import hrnet
    except ImportError:
        sys.path.insert(0, str(REPO / "python"))
        try:
            import hrnet
        except Exception as e:  # the library may not be built: say why and go on
            return None, "import hrnet failed: %s" % e
    except Exception as e:
        return None, "import hrnet failed: %s" % e
    if not hasattr(hrnet, "Tracker"):
        return None, "this hrnet has no Tracker"
    ffmpeg = shutil.which(args.ffmpeg)
    if ffmpeg is None:
        return None, "no ffmpeg executable (%s) to decode the videos" % args.ffmpeg
    return (hrnet, ffmpeg), None


def run_python_tracker(hrnet, ffmpeg, args, video_dir, gt):
    """-> ({mode: predictions}, timing dict). Times, per frame, (a) estimate_boxes + oks_nms
    and (b) Tracker.update with the same boxes on the same decoded frames."""
    images = sorted(gt["images"], key=lambda im: (im.get("frame_index", im["id"] - 1), im["id"]))
    w, h = images[0]["width"], images[0]["height"]
    frames = decode_frames(ffmpeg, video_dir / "video.mp4", w, h, len(images))
    boxes = boxes_by_image(load_json(video_dir / "dets.json", video_dir.name))
    fps = float(gt.get("fps", 30.0))
    ih, iw = parse_size(args.input_size)
    session = hrnet.Session(str(args.model), input_size=(ih, iw), threads=args.python_threads)
    try:
        first = next((b for b in boxes.values() if len(b)), None)
        if first is not None:  # warm-up: the first call pays for allocations
            session.estimate_boxes(frames[0], first)
        t_plain = 0.0
        for k, im in enumerate(images):
            b = boxes.get(im["id"])
            if b is None or not len(b):
                continue
            t0 = time.perf_counter()
            kp, scores, areas = session.estimate_boxes(frames[k], b)
            hrnet.oks_nms(kp, scores, areas)
            t_plain += time.perf_counter() - t0
        smoothed, raw = [], []
        tracker = hrnet.Tracker(session, smoothing=True)
        t_track = 0.0
        try:
            for k, im in enumerate(images):
                b = boxes.get(im["id"])
                ts = float(im.get("timestamp", im.get("frame_index", k) / fps))
                t0 = time.perf_counter()
                people = tracker.update(frames[k], boxes=b if b is not None and len(b) else None,
                                        timestamp=ts)
                t_track += time.perf_counter() - t0
                for person in people:
                    base = {"image_id": im["id"], "category_id": 1, "score": float(person.score),
                            "track_id": int(person.track_id)}
                    kp = np.asarray(person.keypoints, np.float64).reshape(-1, 3)
                    smoothed.append(dict(base, keypoints=kp.ravel().tolist()))
                    rk = getattr(person, "raw_keypoints", None)
                    if rk is not None:
                        rk = np.asarray(rk, np.float64).reshape(-1, 3)
                        raw.append(dict(base, keypoints=rk.ravel().tolist()))
        finally:
            close = getattr(tracker, "close", None)
            if close is not None:
                close()
    finally:
        session.close()
    n = len(images)
    timing = {"frames": n, "estimate_seconds": t_plain, "tracker_seconds": t_track,
              "estimate_fps": n / t_plain if t_plain > 0 else None,
              "tracker_fps": n / t_track if t_track > 0 else None,
              "tracker_overhead_ms_per_frame": 1000.0 * (t_track - t_plain) / n}
    preds = {"py-tracked": smoothed}
    if len(raw) == len(smoothed):
        preds["py-tracked-raw"] = raw
    return preds, timing


def parse_size(text):
    try:
        a, b = text.lower().split("x")
        return int(a), int(b)
    except ValueError:
        raise Failure("--input-size must be HxW (e.g. 128x96), got %r" % text)


# --- scoring ---------------------------------------------------------------------------------

def score(gt, preds, mode):
    if mode == "frame":  # per-frame: identities are not defined, whatever the file carries
        preds = [{k: v for k, v in p.items() if k != "track_id"} for p in preds]
    try:
        r = track_eval.evaluate(gt, preds)
        r.update({"AP": None, "AP50": None, "AP75": None, "AR": None})
        r.update({k: v for k, v in track_eval.ap(gt, preds).items() if k in ("AP", "AP50", "AP75", "AR")})
        # The identity ceiling of these poses: IDF1 if every matched prediction had its true id.
        r["idf1_ceiling"] = None if mode == "frame" else track_eval.evaluate(gt, track_eval.with_true_ids(gt, preds))["idf1"]
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise Failure("%s: cannot score the predictions: %s: %s" % (mode, type(e).__name__, e))
    return r


def finish(r, mode, frames, seconds):
    r = dict(r)
    if mode == "frame":
        for k in ("idf1", "idp", "idr", "idf1_one_to_one", "id_switches", "mota"):
            r[k] = None
    sw = r.get("id_switches")
    r["id_switches_per_%d" % SWITCH_UNIT] = (
        SWITCH_UNIT * sw / r["person_frames"] if sw is not None and r["person_frames"] else None)
    r["frames_scored"] = frames
    r["seconds"] = seconds
    r["fps"] = frames / seconds if seconds else None
    return r


def jitter_reduction(smooth, raw):
    if smooth is None or raw is None or smooth.get("jitter") is None or not raw.get("jitter"):
        return None
    return 1.0 - smooth["jitter"] / raw["jitter"]


def fmt(v, spec="%.3f"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return spec % v


def table(results, videos, modes):
    head = ["video", "mode", "AP", "IDF1", "IDF1 ceiling", "ID sw", "sw/%d" % SWITCH_UNIT, "MOTA", "miss", "FP",
            "jitter", "frames/s"]
    rows = []
    for name in [v for v, _ in videos] + ["all"]:
        for mode in modes:
            r = results.get(name, {}).get(mode)
            if r is None:
                continue
            rows.append([name, LABELS[mode], fmt(r["AP"]), fmt(r["idf1"]), fmt(r.get("idf1_ceiling")), fmt(r["id_switches"], "%d"),
                         fmt(r["id_switches_per_%d" % SWITCH_UNIT], "%.2f"), fmt(r["mota"]),
                         fmt(r["misses"], "%d"), fmt(r["false_positives"], "%d"),
                         fmt(r["jitter"], "%.5f"), fmt(r["fps"], "%.1f")])
    width = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, width)) + " |"
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in width) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


# --- main ------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=pathlib.Path, default=None,
                    help="directory of videoNN/ folders (default: examples/videos)")
    ap.add_argument("--video", action="append", default=[], metavar="NAME",
                    help="evaluate only this video (repeatable)")
    ap.add_argument("--modes", default=",".join(MODES),
                    help="comma-separated subset of %s (default: all)" % ", ".join(MODES))
    ap.add_argument("--cli", type=pathlib.Path, default=REPO / ".build" / "release" / "hrnet-pose")
    ap.add_argument("--model", type=pathlib.Path, default=REPO / "models" / "synth_w16_128x96.pth")
    ap.add_argument("--input-size", default="128x96")
    ap.add_argument("--extra", action="append", default=[], metavar="ARGS",
                    help="arguments for every CLI run, split like a shell (repeatable; write "
                         "--extra='--threads 4' so that they are not taken as this script's)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per CLI run")
    ap.add_argument("--predictions", type=pathlib.Path, metavar="DIR",
                    help="score DIR/videoNN.<mode>.json instead of running the CLI")
    ap.add_argument("--save-predictions", type=pathlib.Path, metavar="DIR",
                    help="keep the CLI's (and the Python tracker's) outputs as DIR/videoNN.<mode>.json")
    ap.add_argument("--json", type=pathlib.Path, metavar="PATH", help="write every number to PATH")
    ap.add_argument("--python-tracker", action="store_true",
                    help="also time and score hrnet.Tracker from Python (needs ffmpeg)")
    ap.add_argument("--ffmpeg", default="ffmpeg", help="ffmpeg executable for --python-tracker")
    ap.add_argument("--python-threads", type=int, default=None,
                    help="threads of the Python session (default: the library's)")
    args = ap.parse_args(argv)
    args.extra_args = [a for e in args.extra for a in shlex.split(e)]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        ap.error("unknown mode(s) %s; known: %s" % (", ".join(unknown), ", ".join(MODES)))
    return args


def collect_predictions(args, videos):
    """-> {video: {mode: (predictions, seconds or None)}}."""
    out = {name: {} for name, _ in videos}
    if args.predictions is not None:
        d = args.predictions
        if not d.is_dir():
            raise Failure("--predictions: no directory %s" % d)
        wanted = list(args.modes) + list(PY_MODES)
        for mode in wanted:
            paths = {name: d / ("%s.%s.json" % (name, mode)) for name, _ in videos}
            present = [n for n, p in paths.items() if p.is_file()]
            if not present:
                continue
            if len(present) != len(paths):
                raise Failure("--predictions: %s has %s.json for %s but not for %s" % (
                    d, mode, ", ".join(present), ", ".join(sorted(set(paths) - set(present)))))
            for name, p in paths.items():
                out[name][mode] = (check_predictions(load_json(p, name), str(p)), None)
        if not any(out.values()):
            raise Failure("--predictions: no videoNN.<mode>.json files in %s (modes: %s)"
                          % (d, ", ".join(wanted)))
        return out
    if not args.cli.is_file() or not os.access(args.cli, os.X_OK):
        raise Failure("no executable CLI at %s (swift build -c release, or --cli PATH)" % args.cli)
    if not args.model.is_file():
        raise Failure("no model at %s (--model PATH)" % args.model)
    for name, vd in videos:
        for f in ("video.mp4", "dets.json"):
            if not (vd / f).is_file():
                raise Failure("%s: %s missing" % (vd, f))
    with tempfile.TemporaryDirectory(prefix="hrnet-video-eval-") as tmp:
        where = args.save_predictions or pathlib.Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for name, vd in videos:
            for mode in args.modes:
                out_path = where / ("%s.%s.json" % (name, mode))
                print("running %s %s ..." % (name, mode), file=sys.stderr, flush=True)
                out[name][mode] = run_cli(args, vd, mode, out_path)
    return out


def main(argv=None):
    args = parse_args(argv)
    videos = find_videos(args.videos or default_videos_dir(), args.video)
    gts = {name: load_json(vd / "gt.json", name) for name, vd in videos}
    preds = collect_predictions(args, videos)

    py_timing = {}
    if args.python_tracker:
        tools, reason = python_tracker_availability(args)
        if tools is None:
            print("python tracker: skipped (%s)" % reason, file=sys.stderr)
        else:
            for name, vd in videos:
                print("running %s with hrnet.Tracker ..." % name, file=sys.stderr, flush=True)
                try:
                    got, timing = run_python_tracker(tools[0], tools[1], args, vd, gts[name])
                except Failure:
                    raise
                except Exception as e:  # HRNetError, bad boxes, ...: one clear message
                    raise Failure("hrnet.Tracker on %s: %s: %s" % (name, type(e).__name__, e))
                py_timing[name] = timing
                for mode, p in got.items():
                    preds[name][mode] = (p, timing["tracker_seconds"])
                    if args.save_predictions:
                        args.save_predictions.mkdir(parents=True, exist_ok=True)
                        (args.save_predictions / ("%s.%s.json" % (name, mode))).write_text(json.dumps(p))

    modes = [m for m in list(MODES) + list(PY_MODES) if any(m in preds[n] for n, _ in videos)]
    results = {name: {} for name, _ in videos}
    results["all"] = {}
    for mode in modes:
        names = [n for n, _ in videos if mode in preds[n]]
        per_video = []
        for name in names:
            p, seconds = preds[name][mode]
            gt = gts[name]
            r = finish(score(gt, p, mode), mode, len(gt["images"]), seconds)
            results[name][mode] = r
            per_video.append(r)
        if len(names) != len(videos):
            continue  # pooled numbers only over every video
        pooled = track_eval.combine(per_video)
        try:
            merged_gt, merged_preds = track_eval.merge([(gts[n], preds[n][mode][0]) for n in names])
        except (ValueError, KeyError, TypeError) as e:
            raise Failure("%s: cannot pool the videos: %s: %s" % (mode, type(e).__name__, e))
        pooled.update({k: v for k, v in score(merged_gt, merged_preds, mode).items()
                       if k in ("AP", "AP50", "AP75", "AR", "idf1_ceiling")})
        secs = [r["seconds"] for r in per_video]
        frames = sum(r["frames_scored"] for r in per_video)
        total = sum(secs) if all(s is not None for s in secs) else None
        results["all"][mode] = finish(pooled, mode, frames, total)

    reduction = {}
    for name in [n for n, _ in videos] + ["all"]:
        for smooth, raw in (("tracked", "tracked-raw"), ("py-tracked", "py-tracked-raw")):
            v = jitter_reduction(results[name].get(smooth), results[name].get(raw))
            if v is not None:
                reduction.setdefault(smooth, {})[name] = v

    print(table(results, videos, modes))
    print()
    print("AP: COCO keypoint AP (OKS .50:.95). IDF1, ID sw, MOTA: per-frame OKS >= 0.5 optimal "
          "matching (python/tests/track_eval.py); '-' = not defined (per-frame mode has no ids). "
          "IDF1 ceiling: the IDF1 of the same poses with every matched one given its true id "
          "(track_eval.with_true_ids): the gap to it is the tracker's, the rest the poses'. "
          "sw/%d: ID switches per %d true person-frames. jitter: mean |second difference of "
          "(prediction - truth)| / sqrt(area) per joint. frames/s: wall clock of the whole CLI "
          "run (py Tracker rows: time in Tracker.update only)." % (SWITCH_UNIT, SWITCH_UNIT))
    for smooth, by_video in reduction.items():
        raw = "tracked-raw" if smooth == "tracked" else "py-tracked-raw"
        print()
        print("Jitter reduction of smoothing (1 - jitter %s / jitter %s): %s" % (
            smooth, raw, ", ".join("%s %.1f%%" % (n, 100 * v) for n, v in by_video.items())))
    for name, t in py_timing.items():
        print()
        print("hrnet.Tracker on %s: %s frames/s tracked, %s frames/s estimate_boxes + oks_nms, "
              "tracker's own cost %.2f ms/frame" % (name, fmt(t["tracker_fps"], "%.1f"),
                                                    fmt(t["estimate_fps"], "%.1f"),
                                                    t["tracker_overhead_ms_per_frame"]))

    if args.json:
        doc = {"videos_dir": str(args.videos or default_videos_dir()),
               "videos": [n for n, _ in videos],
               "source": str(args.predictions) if args.predictions else str(args.cli),
               "model": str(args.model), "input_size": args.input_size,
               "extra": args.extra_args,
               "modes": {m: {"label": LABELS[m], "flags": MODES[m][1] if m in MODES else None}
                         for m in modes},
               "results": results, "jitter_reduction": reduction, "python_tracker": py_timing}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("evaluate.py: %s" % e, file=sys.stderr)
        sys.exit(1)
