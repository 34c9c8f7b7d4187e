#!/usr/bin/env python3
"""Open an HRNet checkpoint with libhrnet, run one deterministic synthetic crop and print each
joint's heatmap peak.

    PYTHONPATH=python python3 examples/python/peaks.py [CHECKPOINT.pth] [--input-size HxW]

CHECKPOINT defaults to the repository's Tests/fixtures/coco_w8.pth. A real program would feed
person crops: RGB, resized to the network input, x = (rgb/255 - mean)/std with
mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), as N x 3 x H x W float32.
"""

import argparse
import pathlib
import sys

import numpy as np

import hrnet

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = REPO / "Tests" / "fixtures" / "coco_w8.pth"


def parse_size(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected HxW, e.g. 256x192, got %r" % text) from None
    return h, w


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", nargs="?", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--input-size", type=parse_size, metavar="HxW",
                    help="network input size, multiples of 32 (default: the library's choice)")
    ap.add_argument("--threads", type=int, help="OpenMP threads (default: all cores)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic input")
    args = ap.parse_args(argv)

    try:
        session = hrnet.Session(args.checkpoint, input_size=args.input_size, threads=args.threads)
    except hrnet.HRNetError as e:
        print("peaks: cannot open %s: %s: %s" % (args.checkpoint, e.status_name, e),
              file=sys.stderr)
        return 1

    with session:
        info = session.info
        print("libhrnet %s (%s)" % (hrnet.version(), hrnet.library_path))
        print("checkpoint   %s" % args.checkpoint)
        print("joints       %d" % info.joints)
        print("input        %d x %d" % info.input_size)
        print("heatmaps     %d x %d" % info.heatmap_size)
        print("width        %d (branches %d, stages %d)" % (info.width, info.branches,
                                                            info.stages))
        print("parameters   %d" % info.parameters)
        print("GMACs/crop   %.3f" % info.gmacs_per_crop)
        print("threads      %d" % info.threads)

        # A zero-mean, unit-variance pseudo-random crop: the statistics of a normalised image.
        rng = np.random.default_rng(args.seed)
        x = rng.standard_normal((1, 3) + info.input_size).astype(np.float32)
        try:
            heatmaps = session.forward(x)[0]  # K x h x w
        except hrnet.HRNetError as e:
            print("peaks: forward failed: %s: %s" % (e.status_name, e), file=sys.stderr)
            return 1

    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, h * w)
    best = flat.argmax(axis=1)
    print("joint     x     y      value")
    for j in range(k):
        y, xpos = divmod(int(best[j]), w)
        print("%5d %5d %5d %10.6f" % (j, xpos, y, flat[j, best[j]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
