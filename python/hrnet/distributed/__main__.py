"""python -m hrnet.distributed: the job as a command (see --help)."""

import argparse
import os
import sys

from .video import DETS_SIDECAR, DETS_SUFFIX, PoseOptions

DESCRIPTION = """\
Estimates and tracks human poses in many videos on a Ray cluster, one video per task, and writes
one results file per video in hrnet-pose's format (COCO keypoint results; with tracking, each
entry has "track_id"). Resumable: OUT/manifest.jsonl records each video's outcome, and running
the same command again skips the videos done and does the rest (failed ones included, unless
--skip-failed).

VIDEOS: video files, directories (their *.mp4, *.mov, *.mkv, *.webm, *.avi, ... files,
recursively) or .txt files listing video paths one a line (relative to the list's folder).
Video, model and output paths must be the same on every node (shared storage).

Detections (--dets): each video's person boxes are read from a file next to it, by default
<video path>%s (clip.mp4 -> clip.mp4%s), or from the path --dets PATTERN gives, with
{video} (the video's path), {dir} (its folder), {name} (its file name), {stem} (the name without
extension): --dets '{dir}/dets.json' reads examples/videos/video01/dets.json for
examples/videos/video01/video.mp4. The file holds COCO detection results, a list of
{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, image_id = frame index + 1
(category 1 only, no score threshold), as hrnet-pose --dets. A video without one fails.
--dets none: the whole frame is one person box on every frame.

Output: OUT/<video path relative to the videos' common folder (or --root)>.json, e.g.
OUT/video01/video.mp4.json, written to a temporary file and renamed; OUT/manifest.jsonl.
""" % (DETS_SUFFIX, DETS_SUFFIX)

EPILOG = """\
exit status: 0 when every video is done, 1 when some video failed (see the manifest) or the job
could not run, 2 for bad options.

examples:
  python -m hrnet.distributed --model models/synth_w16_128x96.pth --input-size 128x96 \\
      --dets '{dir}/dets.json' --output poses/ examples/videos    # a local Ray instance
  ray start --head                                # on the head node; then on each other node:
  ray start --address=HEAD_IP:6379
  python -m hrnet.distributed --address auto --model /shared/model.pth --input-size 256x192 \\
      --actors-per-node 2 --output /shared/poses /shared/videos.txt
"""


def _size(text):
    try:
        h, w = text.lower().split("x")
        return int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError("expected HxW, e.g. 256x192, got %r" % text) from None


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError("expected an integer >= 1, got %r" % text)
    return v


def parser():
    p = argparse.ArgumentParser(prog="python -m hrnet.distributed", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="+", metavar="VIDEOS", help="video files, directories or .txt lists")
    p.add_argument("--model", required=True, help="HRNet checkpoint (.pth), readable on every node")
    p.add_argument("--output", required=True, metavar="OUT", help="output directory (shared by the nodes)")
    p.add_argument("--address", default=None,
                   help="Ray cluster to run on: 'auto' (the cluster this machine joined with "
                        "'ray start') or HOST:PORT; default: start a local Ray instance")
    p.add_argument("--num-cpus", type=_positive_int, default=None,
                   help="(local instance only) CPUs it may use; default: all")
    p.add_argument("--actors-per-node", type=_positive_int, default=1,
                   help="actors per node, each with one session of (node CPUs / actors) threads; "
                        "default 1")
    p.add_argument("--input-size", type=_size, default=None, metavar="HxW",
                   help="network input, e.g. 256x192 (models/synth_w16_128x96.pth needs 128x96)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--kernels", choices=["auto", "avx512", "avx2", "neon", "generic"], default="auto")
    p.add_argument("--no-flip", action="store_true", help="skip the flip test")
    p.add_argument("--decode", choices=["standard", "dark"], default="standard")
    p.add_argument("--no-track", action="store_true",
                   help="per-frame poses with OKS-NMS, no tracking (results without track_id)")
    p.add_argument("--no-smoothing", action="store_true", help="report the tracker's unsmoothed keypoints")
    p.add_argument("--detect-every", type=_positive_int, default=1, metavar="N",
                   help="give the tracker the boxes of every N-th frame only (default 1)")
    p.add_argument("--nms-threshold", type=float, default=0.9, help="OKS-NMS threshold (default 0.9)")
    p.add_argument("--fps", type=float, default=None,
                   help="timestamps frame index / FPS; default: the video's own timestamps")
    p.add_argument("--dets", default=DETS_SIDECAR, metavar="PATTERN|none",
                   help="each video's detections: a path pattern (default %s) or none (the whole "
                        "frame is the box)" % DETS_SIDECAR)
    p.add_argument("--root", default=None,
                   help="name outputs by the video path relative to ROOT (default: the videos' "
                        "common folder)")
    p.add_argument("--skip-failed", action="store_true",
                   help="leave videos that failed in an earlier run as they are (default: retry them)")
    p.add_argument("--max-retries", type=int, default=2,
                   help="runs of a video again after its worker process died (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        options = PoseOptions(input_size=args.input_size, precision=args.precision, kernels=args.kernels,
                              flip=not args.no_flip, decode=args.decode, track=not args.no_track,
                              smoothing=not args.no_smoothing, detect_every=args.detect_every,
                              nms_threshold=args.nms_threshold, fps=args.fps, dets=args.dets)
    except (TypeError, ValueError) as e:
        parser().error(str(e))
    if args.no_track and (args.no_smoothing or args.detect_every != 1):
        parser().error("--no-smoothing and --detect-every go with tracking (drop --no-track)")
    if args.max_retries < 0:
        parser().error("--max-retries must be >= 0")
    from .job import JobError, run_job
    try:
        s = run_job(args.videos, args.model, args.output, options, address=args.address, num_cpus=args.num_cpus,
                    actors_per_node=args.actors_per_node, root=args.root, skip_failed=args.skip_failed,
                    max_task_retries=args.max_retries, progress=None if args.quiet else "auto")
    except JobError as e:
        print("hrnet.distributed: %s" % e, file=sys.stderr)
        return 1
    done = sum(1 for r in s.processed if r["status"] == "done")
    threads = sorted({a["threads"] for a in s.actors})
    print("hrnet.distributed: %d video(s) done by this run (%d frames in %.1f s, %.1f frames/s over %d "
          "actor(s) x %s thread(s)), %d already done, %d failed; manifest %s"
          % (done, s.frames, s.seconds, s.frames_per_second, len(s.actors),
             "/".join(map(str, threads)) or "0", len(s.skipped),
             len(s.failed), os.path.join(os.path.abspath(args.output), "manifest.jsonl")),
          file=sys.stderr)
    for r in s.failed:
        print("hrnet.distributed: failed: %s: %s" % (r["video"], r.get("error")), file=sys.stderr)
    return 0 if s.ok else 1


if __name__ == "__main__":
    sys.exit(main())
