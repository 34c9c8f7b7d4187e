"""hrnet-pose on videos and image sequences (issue 10): decoding, frame ids, --dets, --track,
--detect-every, --draw-video, broken and non-video files; and libhrnet.so must not depend on
FFmpeg (only the CLI does). Videos: examples/videos (H.264 MP4, 640x480, 30 fps, 90 frames)."""

import json
import os
import pathlib
import shutil
import struct
import subprocess

import numpy as np
import pytest

from coco_eval import evaluate
from conftest import REPO
from pngio import read_png
from test_cli import BASE, TOOL, fails, run, run_ok, run_with_terminal_stderr

VIDEOS = REPO / "examples" / "videos"
VIDEO1 = VIDEOS / "video01"            # one person, walking
VIDEO2 = VIDEOS / "video02"            # three people crossing
FRAMES = 90
NEW_OPTIONS = ["--track", "--detect-every", "--fps", "--draw-video", "--no-smoothing"]


def results_of(text_or_path, tracked=False):
    text = text_or_path.read_text() if isinstance(text_or_path, pathlib.Path) else text_or_path
    r = json.loads(text)
    assert isinstance(r, list)
    keys = {"image_id", "category_id", "keypoints", "score"} | ({"track_id"} if tracked else set())
    for e in r:
        assert set(e) == keys, e
        assert e["category_id"] == 1 and isinstance(e["image_id"], int)
        assert len(e["keypoints"]) == 17 * 3 and all(np.isfinite(e["keypoints"]))
        if tracked:
            assert isinstance(e["track_id"], int) and e["track_id"] >= 1
    ids = [e["image_id"] for e in r]
    assert ids == sorted(ids)                                   # frame order
    return r


def decoded_frames(directory, video):
    """The video's frames as the CLI decodes them: --draw-dir with no boxes draws nothing, so it
    writes each frame as it was read (000001.png = image_id 1, ...). PNG writing dominates (about
    0.1 s a frame), so the tests do this once per video."""
    none = directory / "none.json"
    none.write_text("[]")
    out = directory / "frames"
    p = run_ok(*BASE, "--dets", none, "--draw-dir", out, video)
    assert json.loads(p.stdout) == []
    return out


@pytest.fixture(scope="module")
def frames2(tmp_path_factory):
    """video02's 90 frames as PNGs."""
    frames = decoded_frames(tmp_path_factory.mktemp("frames2"), VIDEO2 / "video.mp4")
    assert sorted(os.listdir(frames)) == ["%06d.png" % i for i in range(1, FRAMES + 1)]
    return frames


@pytest.fixture(scope="module")
def tracked2(tmp_path_factory):
    """video02 (three people) tracked with its detections, drawn to an MP4: (results, video)."""
    drawn = tmp_path_factory.mktemp("tracked2") / "drawn.mp4"
    p = run_ok(*BASE, "--track", "--dets", VIDEO2 / "dets.json", "--draw-video", drawn, VIDEO2 / "video.mp4")
    assert p.stderr == ""
    return results_of(p.stdout, tracked=True), drawn


def first_frames(frames, directory, n):
    seq = directory / "seq"
    seq.mkdir()
    for i in range(1, n + 1):
        shutil.copy(frames / ("%06d.png" % i), seq / ("%06d.png" % i))
    return seq


def faststart(src, dst):
    """Writes `src` (an MP4 with its index, moov, after the data) with moov first, as
    `ffmpeg -movflags faststart` would: the chunk offsets in stco/co64 move by moov's size."""
    data = src.read_bytes()
    boxes, i = [], 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        assert size >= 8
        boxes.append((kind, data[i:i + size]))
        i += size
    kinds = [k for k, _ in boxes]
    assert kinds.index(b"moov") > kinds.index(b"mdat"), kinds
    moov = bytearray(dict(boxes)[b"moov"])
    old_mdat = sum(len(b) for k, b in boxes[:kinds.index(b"mdat")])
    head = [b for k, b in boxes if k == b"ftyp"]
    new_mdat = sum(map(len, head)) + len(moov)
    shift = new_mdat - old_mdat

    def patch(start, end):
        j = start
        while j + 8 <= end:
            size, kind = struct.unpack(">I4s", moov[j:j + 8])
            if kind in (b"trak", b"mdia", b"minf", b"stbl", b"edts"):
                patch(j + 8, j + size)
            elif kind in (b"stco", b"co64"):
                n, = struct.unpack(">I", moov[j + 12:j + 16])
                w = 4 if kind == b"stco" else 8
                fmt = ">I" if w == 4 else ">Q"
                for e in range(n):
                    o = j + 16 + e * w
                    v, = struct.unpack(fmt, moov[o:o + w])
                    moov[o:o + w] = struct.pack(fmt, v + shift)
            j += size

    patch(8, len(moov))
    dst.write_bytes(b"".join(head) + bytes(moov) + b"".join(b for k, b in boxes if k == b"mdat"))


# --- decoding and ids ----------------------------------------------------------------------------

def test_help_documents_the_video_options():
    p = run_ok("--help")
    for opt in NEW_OPTIONS:
        assert opt in p.stdout, "--help does not mention %s" % opt
    assert "image_id k + 1" in p.stdout and "track_id" in p.stdout


def test_video_gives_one_result_per_frame_with_ids_1_to_90():
    """No --dets: each whole frame is one box, so every frame gives exactly one person."""
    p = run_ok(*BASE, VIDEO1 / "video.mp4")
    assert p.stderr == ""
    r = results_of(p.stdout)
    assert [e["image_id"] for e in r] == list(range(1, FRAMES + 1))


def test_video_with_dets_scores_like_the_samples(tmp_path):
    """--dets boxes are matched by image_id = frame index + 1."""
    out = tmp_path / "r.json"
    run_ok(*BASE, "--dets", VIDEO1 / "dets.json", "--output", out, VIDEO1 / "video.mp4")
    r = results_of(out)
    dets = json.loads((VIDEO1 / "dets.json").read_text())
    assert {e["image_id"] for e in r} == {d["image_id"] for d in dets}
    gt = json.loads((VIDEO1 / "gt.json").read_text())
    stats = evaluate(gt, r)
    assert stats["AP"] > 0.6 and stats["AP50"] > 0.8, stats        # measured 0.669 / 0.881


def test_video_results_equal_those_of_its_frames_as_pngs(tmp_path, frames2):
    """The first 30 frames of video02 written as PNGs (ids from their names) give exactly the
    video's results for image_ids 1-30: the same pixels, the same boxes."""
    assert read_png(frames2 / "000001.png").shape == (480, 640, 3)
    seq = first_frames(frames2, tmp_path, 30)
    r_png = results_of(run_ok(*BASE, "--dets", VIDEO2 / "dets.json", seq).stdout)
    r_video = results_of(run_ok(*BASE, "--dets", VIDEO2 / "dets.json", VIDEO2 / "video.mp4").stdout)
    assert len(r_video) > 200
    assert r_png == [e for e in r_video if e["image_id"] <= 30]


# --- tracking ------------------------------------------------------------------------------------

def test_track_gives_every_result_a_track_id_and_one_id_for_one_person(tmp_path):
    out = tmp_path / "r.json"
    run_ok(*BASE, "--track", "--dets", VIDEO1 / "dets.json", "--output", out, VIDEO1 / "video.mp4")
    r = results_of(out, tracked=True)
    frames_with = {e["image_id"] for e in r}
    assert len(frames_with) >= 85, sorted(set(range(1, FRAMES + 1)) - frames_with)
    ids, counts = np.unique([e["track_id"] for e in r], return_counts=True)
    assert counts.max() >= 85, dict(zip(ids.tolist(), counts.tolist()))
    # The tracked (smoothed) keypoints still match the ground truth.
    gt = json.loads((VIDEO1 / "gt.json").read_text())
    assert evaluate(gt, r)["AP"] > 0.5


def test_detect_every_5_still_reports_people_on_frames_without_dets():
    p = run_ok(*BASE, "--track", "--detect-every", "5", "--dets", VIDEO1 / "dets.json",
               VIDEO1 / "video.mp4")
    r = results_of(p.stdout, tracked=True)
    between = {e["image_id"] for e in r if (e["image_id"] - 1) % 5 != 0}
    assert len(between) >= 60, len(between)                     # of the 72 frames without boxes
    ids, counts = np.unique([e["track_id"] for e in r], return_counts=True)
    assert counts.max() >= 80, dict(zip(ids.tolist(), counts.tolist()))


def test_no_smoothing_reports_other_keypoints_with_the_same_ids():
    args = (*BASE, "--track", "--dets", VIDEO1 / "dets.json", "--fps", "30", VIDEO1 / "video.mp4")
    smooth = results_of(run_ok(*args).stdout, tracked=True)
    raw = results_of(run_ok(*args, "--no-smoothing").stdout, tracked=True)
    assert [(e["image_id"], e["track_id"]) for e in raw] == [(e["image_id"], e["track_id"]) for e in smooth]
    d = np.abs(np.array([e["keypoints"] for e in raw]) - np.array([e["keypoints"] for e in smooth]))
    assert d.max() > 0.5                                        # smoothing moved keypoints


def test_tracks_of_three_people(tracked2):
    r, _ = tracked2
    per_frame = np.bincount([e["image_id"] for e in r], minlength=FRAMES + 1)[1:]
    assert np.median(per_frame) == 3
    ids, counts = np.unique([e["track_id"] for e in r], return_counts=True)
    assert sorted(counts)[-3] >= 70, dict(zip(ids.tolist(), counts.tolist()))


def test_image_sequence_with_track(tmp_path, frames2, tracked2):
    """A directory of PNG frames (the first 30 of video02) in name order, at 30 fps by default:
    tracked like the video itself, with the same ids; drawn to an AVI."""
    seq = first_frames(frames2, tmp_path, 30)
    draw = tmp_path / "seq.avi"
    p = run_ok(*BASE, "--track", "--dets", VIDEO2 / "dets.json", "--draw-video", draw, seq)
    r = results_of(p.stdout, tracked=True)
    video, _ = tracked2
    assert [(e["image_id"], e["track_id"]) for e in r] == \
        [(e["image_id"], e["track_id"]) for e in video if e["image_id"] <= 30]
    # The drawn sequence: 30 frames; skeletons and ids drawn, the rest the frame itself.
    drawn = decoded_frames(tmp_path, draw)
    assert sorted(os.listdir(drawn)) == ["%06d.png" % i for i in range(1, 31)]
    a, b = read_png(frames2 / "000015.png").astype(int), read_png(drawn / "000015.png").astype(int)
    assert a.shape == b.shape == (480, 640, 3)
    changed = np.abs(a - b).max(axis=-1) > 40                   # drawings, not codec noise
    assert 2000 < changed.sum() < 0.3 * changed.size
    assert np.median(np.abs(a - b)) <= 2
    # Each person's confident keypoints lie on drawn pixels.
    ys, xs = np.nonzero(changed)
    for e in r:
        if e["image_id"] != 15:
            continue
        kp = np.array(e["keypoints"]).reshape(17, 3)
        sure = kp[kp[:, 2] >= 0.5]
        d = np.hypot(xs[:, None] - sure[None, :, 0], ys[:, None] - sure[None, :, 1]).min(axis=0)
        assert np.mean(d < 3) > 0.8


# --- drawing -------------------------------------------------------------------------------------

def test_draw_video_is_readable_with_90_frames_of_the_same_size(tmp_path, tracked2):
    _, drawn = tracked2
    assert drawn.is_file() and not [f for f in os.listdir(drawn.parent) if "tmp" in f]
    # Read back: 90 frames; their size shows in the warning about boxes outside a 640x480 frame.
    dets = [{"image_id": 1, "category_id": 1, "bbox": [640, 0, 10, 10], "score": 1},
            {"image_id": 1, "category_id": 1, "bbox": [0, 479.5, 10, 10], "score": 1}]
    (tmp_path / "edge.json").write_text(json.dumps(dets))
    p = run_ok(*BASE, "--dets", tmp_path / "edge.json", drawn)
    assert "skipped 1 box(es)" in p.stderr and "640x480 image" in p.stderr
    r = results_of(run_ok(*BASE, drawn).stdout)
    assert [e["image_id"] for e in r] == list(range(1, FRAMES + 1))


# --- failures ------------------------------------------------------------------------------------

def _error_line(p):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hrnet-pose: "), p.stderr
    return lines[0]


def test_truncated_video_writes_the_frames_read_so_far(tmp_path):
    """The first 40% of the video (with its index first, as streaming MP4s have it): exit 1, an
    error naming the file and the frame, and valid JSON with the frames before the break."""
    fs = tmp_path / "faststart.mp4"
    faststart(VIDEO1 / "video.mp4", fs)
    assert [e["image_id"] for e in results_of(run_ok(*BASE, fs).stdout)] == list(range(1, FRAMES + 1))
    cut = tmp_path / "cut.mp4"
    data = fs.read_bytes()
    cut.write_bytes(data[:int(0.4 * len(data))])
    p = run(*BASE, cut)                                         # one result per frame read
    assert p.returncode == 1
    msg = _error_line(p)
    r = results_of(p.stdout)
    n = len(r)
    assert 1 <= n < FRAMES and [e["image_id"] for e in r] == list(range(1, n + 1))
    assert "cut.mp4" in msg and ("frame %d " % (n + 1)) in msg and "truncated" in msg, msg
    # With --output: the file holds valid JSON (never a half-written one); --track too.
    out = tmp_path / "r.json"
    p = run(*BASE, "--dets", VIDEO1 / "dets.json", "--track", "--output", out, cut)
    assert p.returncode == 1 and p.stdout == "" and "cut.mp4" in _error_line(p)
    rt = results_of(out, tracked=True)
    assert 1 <= len(rt) and n - 3 <= max(e["image_id"] for e in rt) <= n
    assert sorted(os.listdir(tmp_path)) == ["cut.mp4", "faststart.mp4", "r.json"]


def test_truncated_video_without_its_index_is_a_clear_error(tmp_path):
    """The first 40% of the original file: its index (moov) is at the end, so nothing can be
    decoded (FFmpeg's own tools fail the same way). No results, an error naming the file."""
    cut = tmp_path / "video.mp4"
    data = (VIDEO1 / "video.mp4").read_bytes()
    cut.write_bytes(data[:int(0.4 * len(data))])
    out = tmp_path / "r.json"
    msg = fails(*BASE, "--output", out, cut, code=1)
    assert "video.mp4" in msg and "moov" in msg and "truncated" in msg
    assert not out.exists()


def test_garbage_and_other_files_fail_cleanly(tmp_path):
    rng = np.random.default_rng(7)
    garbage = tmp_path / "x.mp4"
    garbage.write_bytes(rng.integers(0, 256, 20000, np.uint8).tobytes())
    out = tmp_path / "r.json"
    msg = fails(*BASE, "--output", out, garbage, code=1)
    assert "x.mp4" in msg and "not a PNG or JPEG" in msg and "video" in msg
    text = tmp_path / "notes.mkv"
    text.write_text("just some text\n" * 50)
    assert "notes.mkv" in fails(*BASE, text, code=1)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    assert "empty" in fails(*BASE, empty, code=1)
    # Damaged data in the middle of the stream: the frames before it, then an error.
    bad = bytearray((VIDEO1 / "video.mp4").read_bytes())
    for k in range(60000, 70000, 7):
        bad[k] ^= 0x55
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(bad))
    p = run(*BASE, damaged)
    assert p.returncode == 1 and "damaged.mp4" in _error_line(p)
    assert 1 <= len(results_of(p.stdout)) < FRAMES
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["{v}", "{v}"], "only input"),
    (["{v}", str(REPO / "examples" / "samples" / "images" / "000001.png")], "only input"),
    (["--draw", "x.png", "{v}"], "--draw-video"),
    (["--gt", str(VIDEO1 / "gt.json"), "{v}"], "image_id k + 1"),
    (["--detect-every", "5", "{v}"], "goes with --track"),
    (["--no-smoothing", "{v}"], "goes with --track"),
    (["--track", "--detect-every", "0", "{v}"], "--detect-every"),
    (["--track", "--no-nms", "{v}"], "--no-nms"),
    (["--fps", "0", "{v}"], "--fps"),
    (["--fps", "nan", "{v}"], "--fps"),
    (["--draw-video", "out.gif", "{v}"], "extension"),
])
def test_video_usage_errors_exit_2(tmp_path, args, words):
    v = str(VIDEO1 / "video.mp4")
    args = [a.replace("{v}", v) if a == "{v}" else (str(tmp_path / a) if a.endswith((".png", ".gif")) else a)
            for a in args]
    msg = fails(*BASE, "--output", tmp_path / "r.json", *args, code=2)
    assert words in msg, msg
    assert sorted(os.listdir(tmp_path)) == []


def test_progress_on_a_terminal_shows_frames_and_fps(tmp_path):
    p, text = run_with_terminal_stderr(*BASE, "--output", tmp_path / "r.json", VIDEO1 / "video.mp4")
    assert p.returncode == 0 and p.stdout == b""
    assert "90/90" in text and "fps" in text and "done" in text and "ETA" in text, text


# --- FFmpeg is the CLI's dependency only ---------------------------------------------------------

def _needed(path):
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def test_libhrnet_does_not_link_ffmpeg():
    lib = pathlib.Path(os.environ.get("HRNET_LIBRARY", REPO / ".build" / "release" / "libhrnet.so"))
    assert lib.is_file(), "libhrnet.so not built: %s" % lib
    needed = _needed(lib)
    assert needed, "readelf found no NEEDED entries in %s" % lib
    ffmpeg = [n for n in needed if n.startswith(("libav", "libsw", "libpostproc"))]
    assert not ffmpeg, "libhrnet.so depends on FFmpeg: %s" % ffmpeg
    # The check can fail: the CLI itself (when it is the ELF binary, not a wrapper) does link it.
    if TOOL.read_bytes()[:4] == b"\x7fELF":
        assert any(n.startswith("libavformat") for n in _needed(TOOL))
