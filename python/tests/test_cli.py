"""The hrnet-pose command-line tool (.build/release/hrnet-pose, built by `swift build -c release`):
results JSON, drawings, image formats, directories, and failures that must be one clear line
on stderr with a non-zero exit and no output file."""

import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import hrnet
from coco_eval import evaluate
from conftest import REPO, SAMPLES, SYNTH_INPUT, SYNTH_MODEL
from jpegenc import write_jpeg
from pngio import PNG_SIGNATURE, read_png, write_png

# HRNET_POSE may point at another build of the tool (development only).
TOOL = pathlib.Path(os.environ.get("HRNET_POSE", REPO / ".build" / "release" / "hrnet-pose"))
BASE = ["--model", str(SYNTH_MODEL), "--input-size", "%dx%d" % SYNTH_INPUT, "--threads", "2"]
OPTIONS = ["--model", "--input-size", "--dets", "--gt", "--output", "--draw", "--draw-dir",
           "--no-flip", "--decode", "--threads", "--kernels", "--precision", "--nms-threshold", "--no-nms",
           "--help"]
CRASH_SIGNS = ("Traceback", "Fatal error", "Stack dump", "Segmentation", "Illegal instruction",
               "Aborted", "core dumped", "💣")


def run(*args, cwd=None):
    assert TOOL.is_file(), "hrnet-pose not built: run `swift build -c release` (%s)" % TOOL
    p = subprocess.run([str(TOOL)] + [str(a) for a in args], capture_output=True, text=True,
                       cwd=cwd, timeout=600)
    for sign in CRASH_SIGNS:
        assert sign not in p.stderr, "crash output: %s" % p.stderr
    assert p.returncode >= 0, "killed by signal %d: %s" % (-p.returncode, p.stderr)
    return p


def run_ok(*args, **kw):
    p = run(*args, **kw)
    assert p.returncode == 0, p.stderr
    return p


def fails(*args, code=None):
    """Runs and checks a clean failure: non-zero exit (or `code`), one line on stderr."""
    p = run(*args)
    assert p.returncode != 0, "succeeded unexpectedly: %s" % p.stdout[:300]
    if code is not None:
        assert p.returncode == code, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hrnet-pose: "), p.stderr
    assert p.stdout == ""
    return lines[0]


def results_of(p_or_path):
    text = p_or_path.read_text() if isinstance(p_or_path, pathlib.Path) else p_or_path.stdout
    r = json.loads(text)
    assert isinstance(r, list)
    for e in r:
        assert set(e) == {"image_id", "category_id", "keypoints", "score"}, e
        assert e["category_id"] == 1 and isinstance(e["image_id"], int)
        assert len(e["keypoints"]) == 17 * 3
        assert all(np.isfinite(e["keypoints"])) and np.isfinite(e["score"])
    return r


@pytest.fixture(scope="module")
def session():
    with hrnet.Session(SYNTH_MODEL, input_size=SYNTH_INPUT, threads=2) as s:
        yield s


# --- help ----------------------------------------------------------------------------------

def test_help_documents_every_option():
    for flag in ("--help", "-h"):
        p = run_ok(flag)
        for opt in OPTIONS:
            assert opt in p.stdout, "--help does not mention %s" % opt
        assert "usage: hrnet-pose" in p.stdout and p.stderr == ""
    p = run_ok("--model", "/nonexistent.pth", "--help")     # --help wins, nothing is loaded
    assert "--nms-threshold" in p.stdout


# --- results ---------------------------------------------------------------------------------

def test_single_image_whole_frame(tmp_path, session):
    """A one-person crop of a sample frame, written here as a PNG: without --dets the whole image
    is the box; the keypoints land on the ground truth's joints."""
    gt = json.loads((SAMPLES / "gt.json").read_text())
    ann, = [a for a in gt["annotations"] if a["image_id"] == 2]
    x0, y0, x1, y1 = 118, 16, 270, 240                       # the person's box with a margin
    frame = np.ascontiguousarray(read_png(SAMPLES / "images" / "000002.png")[y0:y1, x0:x1])
    img = tmp_path / "000042.png"
    write_png(img, frame)
    p = run_ok(*BASE, img)
    r = results_of(p)
    H, W = frame.shape[:2]
    assert len(r) == 1 and r[0]["image_id"] == 42                # numeric file stem
    kp = np.array(r[0]["keypoints"]).reshape(17, 3)
    # Every keypoint lies in the box's region (the image widened to 3:4 and enlarged 1.25x);
    # the confident ones on the image itself, near the annotated joints.
    rw, rh = 1.25 * max(W, 0.75 * H), 1.25 * max(H, W / 0.75)
    assert np.all(np.abs(kp[:, 0] - W / 2) <= rw / 2) and np.all(np.abs(kp[:, 1] - H / 2) <= rh / 2)
    sure = kp[:, 2] > 0.5
    assert sure.sum() >= 10, kp
    assert np.all((kp[sure, 0] >= 0) & (kp[sure, 0] < W) & (kp[sure, 1] >= 0) & (kp[sure, 1] < H))
    truth = np.array(ann["keypoints"]).reshape(17, 3)[:, :2] - [x0, y0]
    dist = np.hypot(*(kp[:, :2] - truth).T)
    assert np.median(dist) < 6, dist                            # measured 3.3 px
    # The same as the library through Python, box = the whole image with score 1.
    want, scores, _ = session.estimate_boxes(frame, [[0, 0, W, H, 1]])
    np.testing.assert_allclose(kp, want[0], atol=1e-3)
    assert r[0]["score"] == pytest.approx(float(scores[0]), abs=1e-5)
    # Stderr is not a terminal here: no progress bar, nothing at all.
    assert p.stderr == ""


def test_samples_directory_with_dets_and_gt_reproduces_published_ap(tmp_path):
    out = tmp_path / "results.json"
    p = run_ok(*BASE, "--dets", SAMPLES / "dets.json", "--gt", SAMPLES / "gt.json",
               "--output", out, SAMPLES / "images")
    assert p.stdout == "" and p.stderr == ""
    r = results_of(out)
    gt = json.loads((SAMPLES / "gt.json").read_text())
    dets = json.loads((SAMPLES / "dets.json").read_text())
    assert len(gt["annotations"]) <= len(r) < len(dets)      # OKS-NMS removed duplicates
    stats = evaluate(gt, r)
    assert abs(100 * stats["AP"] - 67.4) <= 0.5, stats        # models/README.md, flip on
    assert abs(100 * stats["AP50"] - 94.8) <= 0.5, stats
    # Without NMS every box is a person.
    r_all = results_of(run_ok(*BASE, "--dets", SAMPLES / "dets.json", "--no-nms", SAMPLES / "images"))
    assert len(r_all) == len(dets)
    # --no-flip gives the published flip-off figure.
    r_nf = results_of(run_ok(*BASE, "--dets", SAMPLES / "dets.json", "--no-flip", SAMPLES / "images"))
    assert abs(100 * evaluate(gt, r_nf)["AP"] - 66.2) <= 0.5


def test_cli_matches_the_python_pipeline(tmp_path, session):
    dets = json.loads((SAMPLES / "dets.json").read_text())
    names = ["000003.png", "000011.png"]
    for n in names:
        shutil.copy(SAMPLES / "images" / n, tmp_path / n)
    for extra, kw in (([], {}), (["--decode", "dark"], {"decode": "dark"}),
                      (["--nms-threshold", "0.5"], {})):
        r = results_of(run_ok(*BASE, "--dets", SAMPLES / "dets.json", *extra, tmp_path))
        threshold = 0.5 if "--nms-threshold" in extra else 0.9
        want = []
        for n in names:
            iid = int(n[:6])
            frame = read_png(tmp_path / n)
            boxes = [d["bbox"] + [d["score"]] for d in dets if d["image_id"] == iid]
            kp, sc, ar = session.estimate_boxes(frame, boxes, **kw)
            want += [(iid, kp[i], sc[i]) for i in hrnet.oks_nms(kp, sc, ar, threshold)]
        assert len(r) == len(want)
        for e, (iid, kp, sc) in zip(r, want):
            assert e["image_id"] == iid
            np.testing.assert_allclose(np.array(e["keypoints"]).reshape(17, 3), kp, atol=1e-3)
            assert e["score"] == pytest.approx(float(sc), abs=1e-5)


def test_image_without_boxes_gives_no_results(tmp_path):
    img = tmp_path / "000099.png"
    shutil.copy(SAMPLES / "images" / "000001.png", img)
    out = tmp_path / "r.json"
    run_ok(*BASE, "--dets", SAMPLES / "dets.json", "--output", out, img)
    assert json.loads(out.read_text()) == []


def test_gt_gives_ids_by_file_name(tmp_path):
    img = tmp_path / "frame_a.png"
    shutil.copy(SAMPLES / "images" / "000005.png", img)
    gt = {"images": [{"id": 5, "file_name": "some/dir/frame_a.png"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    r = results_of(run_ok(*BASE, "--dets", SAMPLES / "dets.json", "--gt", tmp_path / "gt.json", img))
    dets = [d for d in json.loads((SAMPLES / "dets.json").read_text()) if d["image_id"] == 5]
    assert r and all(e["image_id"] == 5 for e in r) and len(r) <= len(dets)
    # Without --gt the name says nothing: an error naming the file, not a guess.
    msg = fails(*BASE, "--dets", SAMPLES / "dets.json", img)
    assert "frame_a.png" in msg and "image_id" in msg


def test_small_generated_png_and_boxes_outside(tmp_path):
    """A tiny PNG written here with zlib + struct; a detection box partly outside the image is
    used, one entirely outside is skipped with a warning."""
    y, x = np.mgrid[0:48, 0:64]
    img = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)
    path = tmp_path / "000001.png"
    write_png(path, img)
    dets = [{"image_id": 1, "category_id": 1, "bbox": [-10, -5, 40, 70], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [500, 500, 10, 10], "score": 0.8},
            {"image_id": 1, "category_id": 2, "bbox": [0, 0, 10, 10], "score": 0.8},
            {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8}]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    p = run_ok(*BASE, "--dets", tmp_path / "dets.json", path)
    r = results_of(p)
    assert len(r) == 1 and r[0]["image_id"] == 1
    assert "skipped 1 box" in p.stderr and p.stderr.count("\n") == 1


# --- drawing -------------------------------------------------------------------------------------

def test_draw_writes_a_png_of_the_same_size_with_the_skeleton(tmp_path):
    img = tmp_path / "000002.png"
    shutil.copy(SAMPLES / "images" / "000002.png", img)
    out = tmp_path / "drawn.png"
    r = results_of(run_ok(*BASE, "--dets", SAMPLES / "dets.json", "--draw", out, img))
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    a, b = read_png(img), read_png(out)
    assert b.shape == a.shape and b.dtype == np.uint8
    changed = np.any(a != b, axis=-1)
    assert 200 < changed.sum() < 0.5 * changed.size
    # Drawn pixels are near the confident keypoints, and each confident joint got drawn on.
    yy, xx = np.nonzero(changed)
    kps = np.concatenate([np.array(e["keypoints"]).reshape(17, 3) for e in r])
    good = kps[kps[:, 2] >= 0.2]
    assert len(good) > 10
    d = np.min(np.hypot(xx[:, None] - good[None, :, 0], yy[:, None] - good[None, :, 1]), axis=1)
    # every changed pixel lies on a limb between two confident joints, so within a limb's
    # length of one; every confident joint has drawn pixels right at it
    assert d.max() < 80
    for x, y, _ in good:
        if 0 <= x < a.shape[1] and 0 <= y < a.shape[0]:
            assert changed[max(0, int(y) - 2):int(y) + 3, max(0, int(x) - 2):int(x) + 3].any()


def test_directory_run_with_draw_dir(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    names = ["000001.png", "000004.png", "000010.png"]
    for n in names:
        shutil.copy(SAMPLES / "images" / n, src / n)
    write_jpeg(src / "000012.jpg", read_png(SAMPLES / "images" / "000012.png"))
    (src / "notes.txt").write_text("not an image, and not picked up")
    (src / "sub.png").mkdir()                                  # a directory named like an image
    draw = tmp_path / "drawn" / "deeper"
    out = tmp_path / "r.json"
    run_ok(*BASE, "--dets", SAMPLES / "dets.json", "--draw-dir", draw, "--output", out, src)
    assert sorted(os.listdir(draw)) == ["000001.png", "000004.png", "000010.png", "000012.png"]
    for n in os.listdir(draw):
        assert read_png(draw / n).shape == (240, 320, 3)
    r = results_of(out)
    ids = [e["image_id"] for e in r]
    assert set(ids) == {1, 4, 10, 12} and ids == sorted(ids)   # name order
    # The directory and explicit files give the same results.
    r2 = results_of(run_ok(*BASE, "--dets", SAMPLES / "dets.json",
                           *[src / n for n in names], src / "000012.jpg"))
    assert r2 == r


# --- image formats: what --draw writes with no boxes is the decoded image itself --------------

def _decoded(tmp_path, path):
    (tmp_path / "none.json").write_text("[]")
    out = tmp_path / ("decoded_%s.png" % path.name)
    p = run_ok(*BASE, "--dets", tmp_path / "none.json", "--draw", out, path)
    assert json.loads(p.stdout) == []
    return read_png(out)


def test_png_variants_are_converted_to_rgb8(tmp_path):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (30, 41, 3), np.uint8)
    gray = rng.integers(0, 256, (30, 41), np.uint8)
    cases = {}
    write_png(tmp_path / "000001.png", gray)
    cases["000001.png"] = np.repeat(gray[..., None], 3, axis=2)
    write_png(tmp_path / "000002.png", np.dstack([gray, 255 - gray]))          # gray + alpha
    cases["000002.png"] = np.repeat(gray[..., None], 3, axis=2)
    write_png(tmp_path / "000003.png", np.dstack([rgb, gray]))                 # RGBA: alpha dropped
    cases["000003.png"] = rgb
    rgb16 = rgb.astype(np.uint16) * 257 + rng.integers(0, 200, rgb.shape).astype(np.uint16)
    write_png(tmp_path / "000004.png", rgb16, bits=16)                          # 16-bit: high byte
    cases["000004.png"] = (rgb16 >> 8).astype(np.uint8)
    palette = rng.integers(0, 256, (16, 3), np.uint8)
    idx = rng.integers(0, 16, (30, 41), np.uint8)
    write_png(tmp_path / "000005.png", idx, palette=palette)
    cases["000005.png"] = palette[idx]
    for name, want in cases.items():
        np.testing.assert_array_equal(_decoded(tmp_path, tmp_path / name), want, err_msg=name)


def test_jpeg_color_and_gray(tmp_path, session):
    frame = read_png(SAMPLES / "images" / "000006.png")
    write_jpeg(tmp_path / "000006.jpg", frame)
    got = _decoded(tmp_path, tmp_path / "000006.jpg").astype(int)
    assert np.abs(got - frame).mean() < 1.5 and np.abs(got - frame).max() <= 12
    write_jpeg(tmp_path / "000007.jpeg", frame[..., 1])
    got = _decoded(tmp_path, tmp_path / "000007.jpeg").astype(int)
    assert np.all(got[..., 0] == got[..., 2]) and np.abs(got[..., 1] - frame[..., 1]).max() <= 8
    # Poses on the JPEG are those of the PNG within JPEG noise.
    r = results_of(run_ok(*BASE, "--dets", SAMPLES / "dets.json", tmp_path / "000006.jpg"))
    dets = [d["bbox"] + [d["score"]] for d in json.loads((SAMPLES / "dets.json").read_text())
            if d["image_id"] == 6]
    kp, sc, ar = session.estimate_boxes(frame, dets)
    keep = hrnet.oks_nms(kp, sc, ar)
    assert len(r) == len(keep)
    d = np.abs(np.array([e["keypoints"] for e in r]).reshape(-1, 17, 3)[..., :2] - kp[keep, :, :2])
    assert np.median(d) < 0.5 and np.mean(d < 3) > 0.9


# --- failures ------------------------------------------------------------------------------------

def test_non_image_files_fail_cleanly(tmp_path):
    out = tmp_path / "r.json"
    txt = tmp_path / "000001.png"
    txt.write_text("hello, I am not a picture\n")
    msg = fails(*BASE, "--output", out, txt, code=1)
    assert "000001.png" in msg and "not a PNG or JPEG" in msg
    trunc = tmp_path / "000002.png"
    trunc.write_bytes((SAMPLES / "images" / "000002.png").read_bytes()[:2000])
    msg = fails(*BASE, "--output", out, trunc, code=1)
    assert "000002.png" in msg and "PNG" in msg
    badjpeg = tmp_path / "000003.jpg"
    badjpeg.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    msg = fails(*BASE, "--output", out, badjpeg, code=1)
    assert "000003.jpg" in msg and "JPEG" in msg
    empty = tmp_path / "000004.png"
    empty.write_bytes(b"")
    assert "000004.png" in fails(*BASE, "--output", out, empty, code=1)
    # A bad image after good ones: still no output file, and no half-written JSON on stdout.
    good = tmp_path / "000000.png"
    shutil.copy(SAMPLES / "images" / "000001.png", good)
    fails(*BASE, "--output", out, good, txt, code=1)
    fails(*BASE, good, txt, code=1)
    assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if "tmp" in f]      # no temporary left behind


def test_missing_and_bad_inputs_fail_cleanly(tmp_path):
    out = tmp_path / "r.json"
    img = tmp_path / "000001.png"
    shutil.copy(SAMPLES / "images" / "000001.png", img)
    msg = fails("--model", tmp_path / "missing.pth", "--output", out, img, code=1)
    assert "missing.pth" in msg and "model" in msg
    notmodel = tmp_path / "model.pth"
    notmodel.write_text("not a checkpoint")
    assert "model.pth" in fails("--model", notmodel, "--output", out, img, code=1)
    assert "missing.png" in fails(*BASE, "--output", out, tmp_path / "missing.png", code=1)
    emptydir = tmp_path / "emptydir"
    emptydir.mkdir()
    assert "no .png" in fails(*BASE, "--output", out, emptydir, code=1)
    (tmp_path / "bad.json").write_text("{not json")
    assert "bad.json" in fails(*BASE, "--dets", tmp_path / "bad.json", "--output", out, img, code=1)
    (tmp_path / "bad2.json").write_text('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]')
    assert "bbox" in fails(*BASE, "--dets", tmp_path / "bad2.json", "--output", out, img, code=1)
    assert "does not exist" in fails(*BASE, "--output", tmp_path / "no" / "r.json", img, code=1)
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--input-size", "128x95"], "multiple of 32"),
    (["--input-size", "abc"], "HxW"),
    (["--input-size", "0x96"], "multiple of 32"),
    (["--input-size"], "needs a value"),
    (["--threads", "-2"], "--threads"),
    (["--decode", "soft"], "standard or dark"),
    (["--kernels", "sse9"], "avx2"),
    (["--precision", "int4"], "fp32, bf16 or int8"),
    (["--nms-threshold", "high"], "--nms-threshold"),
    (["--nms-threshold", "0.5", "--no-nms"], "not both"),
    (["--bogus"], "unknown option --bogus"),
    (["--no-flip=1"], "takes no value"),
])
def test_bad_options_exit_2(tmp_path, args, words):
    img = tmp_path / "000001.png"
    shutil.copy(SAMPLES / "images" / "000001.png", img)
    out = tmp_path / "r.json"
    msg = fails("--model", SYNTH_MODEL, "--output", out, img, *args, code=2)
    assert words in msg
    assert not out.exists()


def test_usage_errors(tmp_path):
    img = tmp_path / "000001.png"
    shutil.copy(SAMPLES / "images" / "000001.png", img)
    assert "--model" in fails(img, code=2)
    assert "no input" in fails(*BASE, code=2)
    assert "--draw-dir" in fails(*BASE, "--draw", tmp_path / "x.png", SAMPLES / "images", code=2)
    assert "not both" in fails(*BASE, "--draw", tmp_path / "x.png", "--draw-dir", tmp_path, img, code=2)


def test_failure_keeps_an_existing_output_file(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("previous results\n")
    bad = tmp_path / "000001.png"
    bad.write_text("garbage")
    fails(*BASE, "--output", out, bad, code=1)
    assert out.read_text() == "previous results\n"
    good = tmp_path / "000002.png"
    shutil.copy(SAMPLES / "images" / "000002.png", good)
    run_ok(*BASE, "--output", out, good)
    assert len(results_of(out)) == 1
    assert sorted(os.listdir(tmp_path)) == ["000001.png", "000002.png", "r.json"]


def run_with_terminal_stderr(*args):
    """Runs the tool with stderr on a pseudo-terminal: (completed process, what stderr showed)."""
    import pty
    master, slave = pty.openpty()
    try:
        p = subprocess.run([str(TOOL), *map(str, args)], stdout=subprocess.PIPE, stderr=slave, timeout=600)
    finally:
        os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:                                        # EIO once the writer is gone
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return p, seen.decode()


def test_progress_bar_only_on_a_terminal(tmp_path):
    """On a terminal stderr gets a progress bar (count, img/s, ETA); piped, stderr stays empty
    (checked in the other tests)."""
    p, text = run_with_terminal_stderr(*BASE, "--output", tmp_path / "r.json",
                                       SAMPLES / "images" / "000001.png", SAMPLES / "images" / "000002.png")
    assert p.returncode == 0 and p.stdout == b""
    assert "2/2" in text and "img/s" in text and ("ETA" in text or "done" in text), text
    assert len(results_of(tmp_path / "r.json")) == 2


def test_mpii_model_skips_nms_with_a_note(tmp_path):
    """A 16-joint model (the random-weight MPII fixture, default input 256x256): 16 keypoints
    per person, every box kept (OKS has no sigmas for 16 joints), a note on stderr, and the
    MPII skeleton drawn (random weights: scores are low, so only the format is checked)."""
    from conftest import fixture_path
    img = tmp_path / "000003.png"
    shutil.copy(SAMPLES / "images" / "000003.png", img)
    dets = json.loads((SAMPLES / "dets.json").read_text())
    n = sum(1 for d in dets if d["image_id"] == 3)
    out = tmp_path / "d.png"
    p = run_ok("--model", fixture_path("mpii_w16_b2.pth"), "--threads", "2",
               "--dets", SAMPLES / "dets.json", "--draw", out, img)
    r = json.loads(p.stdout)
    assert len(r) == n and all(len(e["keypoints"]) == 16 * 3 for e in r)
    assert all(np.all(np.isfinite(e["keypoints"])) for e in r)
    assert "OKS-NMS skipped" in p.stderr and "16 joints" in p.stderr
    assert read_png(out).shape == (240, 320, 3)


def test_every_kernel_set_gives_the_same_results(tmp_path):
    """hrnet-pose --kernels: each set the CPU runs gives the same keypoints (all are exact FP32),
    and a set the CPU lacks is a clear error (exit 1)."""
    img = SAMPLES / "images" / "000001.png"
    results = {}
    for k in hrnet.kernel_sets():
        out = tmp_path / ("%s.json" % k)
        run_ok(*BASE, "--kernels", k, "--dets", SAMPLES / "dets.json", "--gt", SAMPLES / "gt.json",
               "--output", out, img)
        results[k] = json.loads(out.read_text())
    first = next(iter(results.values()))
    for k, r in results.items():
        assert len(r) == len(first) > 0
        for a, b in zip(r, first):
            assert max(abs(x - y) for x, y in zip(a["keypoints"], b["keypoints"])) < 1e-2, k
    for k in {"avx512", "avx2", "neon", "generic"} - set(results):
        assert "kernel set" in fails(*BASE, "--kernels", k, img, code=1)
