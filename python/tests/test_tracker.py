"""hrnet.Tracker (hrnet_tracker_*): ids, carried boxes, lost and found, crossing people,
smoothing on timestamps, failures that leave the tracker unchanged.

Scenes are built from figures cut out of the bundled sample frames and moved over a plain
background, so every true position is known exactly."""

import json
import math

import numpy as np
import pytest

import hrnet
from conftest import MODELS, REPO
from pngio import read_png

SAMPLES = REPO / "examples" / "samples"
H, W = 240, 480


def _figure(image_id, x0, x1):
    """(sprite H x w x 3, true keypoints K x 3 in sprite pixels, box in sprite pixels)."""
    gt = json.loads((SAMPLES / "gt.json").read_text())
    image = next(i for i in gt["images"] if i["id"] == image_id)
    ann = next(a for a in gt["annotations"] if a["image_id"] == image_id)
    img = read_png(SAMPLES / "images" / image["file_name"])
    kp = np.array(ann["keypoints"], np.float64).reshape(-1, 3)
    kp[:, 0] -= x0
    bx, by, bw, bh = ann["bbox"]
    return img[:, x0:x1].copy(), kp, [bx - x0, by, bw, bh]


@pytest.fixture(scope="module")
def figures():
    a = _figure(24, 95, 185)    # a narrow standing figure
    b = _figure(2, 130, 260)    # a wider one
    return a, b


@pytest.fixture(scope="module")
def session():
    s = hrnet.Session(MODELS / "synth_w16_128x96.pth", input_size=(128, 96))
    yield s
    s.close()


BACKGROUND = np.array([60, 110, 90], np.uint8)


def scene(placed):
    """A W x H frame with sprites pasted at x offsets, later ones in front."""
    f = np.empty((H, W, 3), np.uint8)
    f[:] = BACKGROUND
    for sprite, x in placed:
        w = sprite.shape[1]
        lo, hi = max(0, x), min(W, x + w)
        if hi > lo:
            f[:, lo:hi] = sprite[:, lo - x:hi - x]
    return f


def moved_box(box, x):
    return [box[0] + x, box[1], box[2], box[3]]


def error(person, truth_kp, x):
    """Mean distance (px) between a person's raw keypoints and the true ones moved by x."""
    t = truth_kp[:, :2] + [x, 0]
    return float(np.mean(np.linalg.norm(person.raw_keypoints[:, :2] - t, axis=1)))


def test_one_person_keeps_one_id(session, figures):
    (sprite, kp, box), _ = figures
    with hrnet.Tracker(session) as tr:
        for t in range(15):
            x = 10 + 9 * t
            people = tr.update(scene([(sprite, x)]), [moved_box(box, x)], timestamp=t / 30)
            assert [p.track_id for p in people] == [1]
            p = people[0]
            assert p.frames_since_detected == 0
            assert p.keypoints.shape == (17, 3) and p.raw_keypoints.shape == (17, 3)
            assert error(p, kp, x) < 6, "pose follows the figure"
            assert p.box == pytest.approx(tuple(moved_box(box, x)))


def test_detector_every_fifth_frame(session, figures):
    """No boxes on 4 of 5 frames: the person is carried forward from its last keypoints."""
    (sprite, kp, box), _ = figures
    with hrnet.Tracker(session) as tr:
        for t in range(21):
            x = 10 + 10 * t
            boxes = [moved_box(box, x)] if t % 5 == 0 else None
            people = tr.update(scene([(sprite, x)]), boxes, timestamp=t / 30)
            assert len(people) == 1 and people[0].track_id == 1, "frame %d: %r" % (t, people)
            assert people[0].frames_since_detected == t % 5
            assert error(people[0], kp, x) < 10, "frame %d: the carried box still holds the person" % t


def test_two_people_crossing_keep_their_ids(session, figures):
    """A walks right, B walks left in front of it; A is hidden for a few frames (no box for it
    then, as a detector would give). After the crossing each keeps its id."""
    (sa, ka, ba), (sb, kb, bb) = figures
    first = last = None
    with hrnet.Tracker(session) as tr:
        for t in range(31):
            xa, xb = 20 + 10 * t, 340 - 10 * t
            boxes = []
            # A is hidden while B's sprite covers most of A's box.
            ax0, ax1 = xa + ba[0], xa + ba[0] + ba[2]
            bx0, bx1 = xb, xb + sb.shape[1]
            covered = max(0, min(ax1, bx1) - max(ax0, bx0)) / ba[2]
            if covered < 0.5:
                boxes.append(moved_box(ba, xa))
            boxes.append(moved_box(bb, xb))
            people = tr.update(scene([(sa, xa), (sb, xb)]), boxes, timestamp=t / 30)

            def who(x, truth):
                best = min(people, key=lambda p: error(p, truth, x), default=None)
                return best.track_id if best is not None and error(best, truth, x) < 10 else None
            ids = (who(xa, ka), who(xb, kb))
            if t == 0:
                first = ids
                assert None not in ids and ids[0] != ids[1]
            if t == 30:
                last = ids
    assert last == first, "ids before the crossing %r, after %r" % (first, last)


def test_lost_and_found_and_reset(session, figures):
    (sprite, kp, box), _ = figures
    empty = scene([])
    with hrnet.Tracker(session, max_lost_frames=5) as tr:
        assert [p.track_id for p in tr.update(scene([(sprite, 100)]), [moved_box(box, 100)], 0.0)] == [1]
        # Gone for 3 frames (nobody there: the carried pose scores too low, the track is lost).
        for t in range(1, 4):
            assert tr.update(empty, None, t / 30) == []
        # Back where it was: the same id.
        people = tr.update(scene([(sprite, 100)]), [moved_box(box, 100)], 4 / 30)
        assert [p.track_id for p in people] == [1]
        assert people[0].frames_since_detected == 0
        # Gone longer than max_lost_frames: the track ends; the person comes back with a new id.
        for t in range(5, 12):
            assert tr.update(empty, None, t / 30) == []
        people = tr.update(scene([(sprite, 100)]), [moved_box(box, 100)], 12 / 30)
        assert [p.track_id for p in people] == [2]
        # Reset forgets tracks and time (an earlier timestamp is fine after it), not ids.
        tr.reset()
        people = tr.update(scene([(sprite, 100)]), [moved_box(box, 100)], 0.0)
        assert [p.track_id for p in people] == [3]


def test_carried_box_leaving_the_frame_ends_the_track(session, figures):
    (sprite, kp, box), _ = figures
    with hrnet.Tracker(session) as tr:
        ids = set()
        for t in range(12):
            x = 300 + 25 * t          # walks out on the right
            boxes = [moved_box(box, x)] if t == 0 else None
            people = tr.update(scene([(sprite, x)]), boxes, timestamp=t / 30)
            ids.update(p.track_id for p in people)
        assert ids == {1}
        assert people == []


def test_zero_boxes_and_no_tracks(session):
    with hrnet.Tracker(session) as tr:
        assert tr.update(scene([]), None) == []
        assert tr.update(scene([]), []) == []
        assert tr.update(scene([]), np.zeros((0, 4))) == []
    kp, scores, areas = session.estimate_boxes(scene([]), np.zeros((0, 4)))
    assert kp.shape == (0, 17, 3) and scores.shape == (0,) and areas.shape == (0,)
    # The frame is still checked.
    with pytest.raises(ValueError, match="empty"):
        session.estimate_boxes(np.zeros((0, 5, 3), np.uint8), [])


def test_bad_timestamps_leave_the_tracker_unchanged(session, figures):
    (sprite, kp, box), _ = figures

    def run(bad):
        out = []
        with hrnet.Tracker(session) as tr:
            for t in range(6):
                x = 40 + 12 * t
                frame, boxes = scene([(sprite, x)]), [moved_box(box, x)]
                if bad and t == 3:
                    for ts in (float("nan"), float("inf"), 0.01, -1.0):
                        with pytest.raises(hrnet.HRNetError) as e:
                            tr.update(frame, boxes, timestamp=ts)
                        assert e.value.status == hrnet.Status.ERR_INVALID_ARGUMENT
                    assert "timestamp" in str(e.value)
                    # A box with no overlap with the frame fails too, after nothing changed.
                    with pytest.raises(hrnet.HRNetError, match="outside"):
                        tr.update(frame, [[1000, 0, 10, 10]], timestamp=t / 30)
                out.append(tr.update(frame, boxes, timestamp=t / 30))
        return out

    good, bad = run(False), run(True)
    for g, b in zip(good, bad):
        assert [p.track_id for p in g] == [p.track_id for p in b]
        for p, q in zip(g, b):
            np.testing.assert_array_equal(p.keypoints, q.keypoints)


def test_equal_timestamp_lets_no_time_pass(session, figures):
    (sprite, kp, box), _ = figures
    with hrnet.Tracker(session) as tr:
        a = tr.update(scene([(sprite, 100)]), [moved_box(box, 100)], 1.0)[0]
        b = tr.update(scene([(sprite, 130)]), [moved_box(box, 130)], 1.0)[0]
        assert b.track_id == a.track_id
        # The raw keypoints moved; the filter, given no time, kept its value.
        assert error(b, kp, 130) < 6
        np.testing.assert_array_equal(b.keypoints[:, :2], a.keypoints[:, :2])


def test_smoothing_uses_the_timestamps(session, figures):
    """A jump of 30 px: 1/30 s after the last frame the smoothed pose lags behind the raw one; 3 s
    after it (a dropped stretch of stream) the filter has settled and follows at once."""
    (sprite, kp, box), _ = figures

    def lag(gap):
        with hrnet.Tracker(session) as tr:
            for t in range(5):
                tr.update(scene([(sprite, 100)]), [moved_box(box, 100)], t / 30)
            p = tr.update(scene([(sprite, 130)]), [moved_box(box, 130)], 4 / 30 + gap)[0]
            return float(np.mean(np.abs(p.keypoints[:, 0] - p.raw_keypoints[:, 0])))
    fast, slow = lag(1 / 30), lag(3.0)
    assert fast > 5, "one frame later the filter lags (%.2f px)" % fast
    assert slow < 1, "after 3 s it follows (%.2f px)" % slow


def test_smoothing_cuts_jitter(session, figures):
    """The figure shakes by a few pixels around a slow walk: the smoothed keypoints' second
    differences (the jitter the README measures) are well below the raw ones'."""
    (sprite, kp, box), _ = figures
    rng = np.random.default_rng(3)
    shake = rng.integers(-3, 4, size=30)
    raw, smooth = [], []
    with hrnet.Tracker(session) as tr, hrnet.Tracker(session, smoothing=False) as plain:
        for t in range(30):
            x = 100 + 2 * t + int(shake[t])
            frame, boxes = scene([(sprite, x)]), [moved_box(box, 100 + 2 * t)]
            p = tr.update(frame, boxes, timestamp=t / 30)[0]
            q = plain.update(frame, boxes, timestamp=t / 30)[0]
            np.testing.assert_array_equal(q.keypoints, q.raw_keypoints)
            np.testing.assert_array_equal(p.raw_keypoints, q.raw_keypoints)
            raw.append(p.raw_keypoints[:, :2].copy())
            smooth.append(p.keypoints[:, :2].copy())
    raw, smooth = np.array(raw), np.array(smooth)

    def jitter(a):
        return float(np.mean(np.linalg.norm(a[2:] - 2 * a[1:-1] + a[:-2], axis=2)))
    assert jitter(smooth) < 0.7 * jitter(raw), (jitter(smooth), jitter(raw))


def test_confirm_frames(session, figures):
    (sprite, kp, box), _ = figures
    with hrnet.Tracker(session, confirm_frames=3) as tr:
        counts = [len(tr.update(scene([(sprite, 100)]), [moved_box(box, 100)], t / 30)) for t in range(4)]
    assert counts == [0, 0, 1, 1]


def test_bad_options_and_arguments(session):
    for kw, pattern in [(dict(min_cutoff=0), "min_cutoff"), (dict(beta=-1), "beta"),
                        (dict(match_threshold=1.5), "match_threshold"),
                        (dict(confirm_frames=0), "confirm_frames"),
                        (dict(max_lost_frames=-1), "max_lost_frames"),
                        (dict(derivative_cutoff=float("nan")), "derivative_cutoff"),
                        (dict(nms_threshold=-0.1), "nms_threshold")]:
        with pytest.raises(hrnet.HRNetError, match=pattern) as e:
            hrnet.Tracker(session, **kw)
        assert e.value.status == hrnet.Status.ERR_INVALID_ARGUMENT
    with pytest.raises(TypeError, match="smoothing"):
        hrnet.Tracker(session, smoothing=1)
    with pytest.raises(TypeError, match="Session"):
        hrnet.Tracker("model.pth")
    with hrnet.Tracker(session) as tr:
        with pytest.raises(TypeError, match="timestamp"):
            tr.update(scene([]), None, timestamp="now")
        with pytest.raises(ValueError, match="N x 4"):
            tr.update(scene([]), [[1, 2, 3]])
    tr.close()
    tr.close()
    with pytest.raises(ValueError, match="closed"):
        tr.update(scene([]), None)


def test_many_people_grow_the_result(session, figures):
    """More people than the binding's first guess of capacity: it grows and repeats the frame
    (the library leaves the tracker unchanged on HRNET_ERR_BUFFER_TOO_SMALL)."""
    (sprite, kp, box), _ = figures
    frame = np.empty((H, 12 * 90, 3), np.uint8)
    for i in range(12):
        frame[:, 90 * i:90 * (i + 1)] = sprite
    boxes = [moved_box(box, 90 * i) for i in range(12)]
    with hrnet.Tracker(session) as tr:
        people = tr.update(frame, boxes, 0.0)
        assert [p.track_id for p in people] == list(range(1, 13))
        people = tr.update(frame, boxes, 1 / 30)
        assert [p.track_id for p in people] == list(range(1, 13))
