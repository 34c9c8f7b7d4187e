"""hrnet.distributed (issue 14) on a local Ray instance with 2 CPUs: the job's results equal the
single-process tracker's on each synthetic video; a worker killed in the middle of a video still
ends with every video done exactly once and no partial file; a second run does no work and a
rerun redoes only what is missing; a corrupt video is reported in the manifest while the rest
complete (through the command, exit status 1)."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install './python[ray]'; CI installs it)")
pytest.importorskip("av", reason="PyAV is not installed (pip install './python[ray]'; CI installs it)")

import hrnet  # noqa: E402
from hrnet.distributed import (JobError, PoseOptions, decode_video, find_videos, output_names,  # noqa: E402
                               run_job)
from conftest import REPO, SYNTH_INPUT, SYNTH_MODEL  # noqa: E402

VIDEOS = REPO / "examples" / "videos"
NAMES = ["video01", "video02", "video03"]
OPTIONS = PoseOptions(input_size=SYNTH_INPUT)
FRAMES = 90


@pytest.fixture(scope="module")
def cluster():
    """One local Ray instance for the module: 2 CPUs, no dashboard, a small object store."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    path = os.pathsep.join(p for p in [str(REPO / "python"), os.environ.get("PYTHONPATH")] if p)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024,
             logging_level="WARNING", runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """The three synthetic videos as the job expects them: videoNN.mp4 + videoNN.mp4.dets.json."""
    d = tmp_path_factory.mktemp("videos")
    for n in NAMES:
        shutil.copy(VIDEOS / n / "video.mp4", d / (n + ".mp4"))
        shutil.copy(VIDEOS / n / "dets.json", d / (n + ".mp4.dets.json"))
    return d


def reference_results(video, dets_file):
    """The single-process reference, written here independently of the job's code: hrnet.Tracker
    over the video's frames (PyAV, the container's timestamps) with its detections, in this
    process, with one thread as each of the job's actors. Returns hrnet-pose's entries with the
    values as float32."""
    dets = json.loads(pathlib.Path(dets_file).read_text())
    out = []
    with hrnet.Session(SYNTH_MODEL, input_size=SYNTH_INPUT, threads=1) as s, hrnet.Tracker(s) as tracker:
        for index, frame, t in decode_video(video):
            boxes = [d["bbox"] + [d["score"]] for d in dets if d["image_id"] == index + 1 and d["category_id"] == 1]
            for p in tracker.update(frame, boxes or None, timestamp=t):
                out.append({"image_id": index + 1, "category_id": 1, "keypoints": p.keypoints.ravel().tolist(),
                            "score": float(np.float32(p.score)), "track_id": p.track_id})
    assert out and {e["image_id"] for e in out} <= set(range(1, FRAMES + 1))
    return out


@pytest.fixture(scope="module")
def reference(videos):
    return {n: reference_results(videos / (n + ".mp4"), videos / (n + ".mp4.dets.json")) for n in NAMES}


def as_float32(entries):
    """Parsed results with every number back at float32 (the files hold float32 values)."""
    return [dict(e, keypoints=[float(np.float32(v)) for v in e["keypoints"]], score=float(np.float32(e["score"])))
            for e in entries]


def assert_equal_to_reference(out, reference, names=NAMES):
    for n in names:
        got = json.loads((out / (n + ".mp4.json")).read_text())
        assert as_float32(got) == reference[n], n


def manifest_lines(out):
    lines = (out / "manifest.jsonl").read_text().splitlines()
    job = json.loads(lines[0])
    assert job["kind"] == "hrnet.distributed job"
    return job, [json.loads(line) for line in lines[1:]]


def no_temporaries(out):
    return [p for p in out.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def first_run(cluster, videos, tmp_path_factory):
    """The job over the three videos, 2 actors x 1 thread: (output directory, summary)."""
    out = tmp_path_factory.mktemp("job") / "out"
    summary = run_job([videos], SYNTH_MODEL, out, OPTIONS, actors_per_node=2, progress=None)
    return out, summary


def test_job_equals_the_single_process_tracker(first_run, reference, videos):
    out, s = first_run
    assert s.ok and len(s.actors) == 2 and {a["threads"] for a in s.actors} == {1}
    assert len({a["pid"] for a in s.actors}) == 2
    assert sorted(r["video"] for r in s.processed) == [str(videos / (n + ".mp4")) for n in NAMES]
    assert s.frames == 3 * FRAMES and not s.skipped
    assert_equal_to_reference(out, reference)
    job, records = manifest_lines(out)
    assert job["options"]["input_size"] == list(SYNTH_INPUT) and job["model"] == str(SYNTH_MODEL)
    assert sorted(r["output"] for r in records) == [n + ".mp4.json" for n in NAMES]
    for r in records:
        assert r["status"] == "done" and r["frames"] == FRAMES and r["error"] is None
        assert r["bytes"] == (out / r["output"]).stat().st_size and r["seconds"] > 0
    assert not no_temporaries(out)


def test_a_second_run_does_no_work(first_run, tmp_path):
    src, _ = first_run
    out = tmp_path / "out"
    shutil.copytree(src, out)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.json")}
    s = run_job(find_videos_of(src), SYNTH_MODEL, out, OPTIONS, actors_per_node=2, progress=None)
    assert s.ok and s.processed == [] and len(s.skipped) == 3 and s.actors == [] and s.frames == 0
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.json")} == before
    _, records = manifest_lines(out)
    assert len(records) == 3 and all(r["status"] == "done" for r in records)


def find_videos_of(out):
    """The videos a job's manifest lists."""
    return [r["video"] for r in manifest_lines(out)[1]]


def test_a_rerun_redoes_only_what_is_missing_or_broken(first_run, reference, tmp_path):
    src, _ = first_run
    out = tmp_path / "out"
    shutil.copytree(src, out)
    (out / "video01.mp4.json").unlink()                                   # output lost
    text = (out / "video03.mp4.json").read_text()
    (out / "video03.mp4.json").write_text(text[: len(text) // 2])          # output cut short
    (out / ".video02.mp4.json.tmp").write_text("[")                       # a killed writer's leftover
    untouched = (out / "video02.mp4.json").stat().st_mtime_ns
    s = run_job(find_videos_of(src), SYNTH_MODEL, out, OPTIONS, actors_per_node=2, progress=None)
    assert s.ok and len(s.skipped) == 1
    assert sorted(os.path.basename(r["video"]) for r in s.processed) == ["video01.mp4", "video03.mp4"]
    assert (out / "video02.mp4.json").stat().st_mtime_ns == untouched
    assert_equal_to_reference(out, reference)
    assert not no_temporaries(out)
    # The run started from the manifest compacted (one line a video) and appended the two redone.
    _, records = manifest_lines(out)
    assert [os.path.basename(r["video"]) for r in records[3:]] in (["video01.mp4", "video03.mp4"],
                                                                  ["video03.mp4", "video01.mp4"])
    assert len(records) == 5 and all(r["status"] == "done" for r in records[3:])


def test_a_killed_worker_leaves_every_video_done_exactly_once(cluster, videos, reference, tmp_path):
    out = tmp_path / "out"
    killed = {}

    def on_status(statuses):
        # Kill the first worker seen past frame 10 of a video, by its pid, with SIGKILL.
        if killed:
            return
        for st in statuses:
            if st["video"] and st["frame"] > 10:
                killed.update(pid=st["pid"], video=st["video"], frame=st["frame"])
                os.kill(st["pid"], signal.SIGKILL)
                return

    s = run_job([videos], SYNTH_MODEL, out, OPTIONS, actors_per_node=2, progress=None,
                on_status=on_status, status_interval=0.2, _frame_delay=0.02)
    assert killed, "no worker was seen in the middle of a video"
    assert 10 < killed["frame"] < FRAMES
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)                                         # it is gone
    assert s.ok and s.frames == 3 * FRAMES
    _, records = manifest_lines(out)
    assert sorted(r["video"] for r in records) == [str(videos / (n + ".mp4")) for n in NAMES]   # once each
    assert all(r["status"] == "done" for r in records)
    redone = [r for r in records if r["video"] == killed["video"]]
    assert redone[0]["pid"] != killed["pid"]                             # finished by the restarted worker
    assert_equal_to_reference(out, reference)
    for n in NAMES:
        assert isinstance(json.loads((out / (n + ".mp4.json")).read_text()), list)
    assert not no_temporaries(out)


def test_a_video_whose_worker_dies_past_the_retries_is_failed_then_redone(cluster, videos, reference, tmp_path):
    """max_task_retries=0: the one death is the video's last; it is recorded as failed, the other
    videos complete on the same (restarted) actors, and the next run does it."""
    out = tmp_path / "out"
    killed = {}

    def on_status(statuses):
        for st in statuses:
            if not killed and st["video"] and st["frame"] > 10:
                killed.update(pid=st["pid"], video=st["video"])
                os.kill(st["pid"], signal.SIGKILL)

    s = run_job([videos], SYNTH_MODEL, out, OPTIONS, actors_per_node=2, progress=None, max_task_retries=0,
                on_status=on_status, status_interval=0.2, _frame_delay=0.02)
    assert killed and not s.ok and not s.unfinished
    assert [r["video"] for r in s.failed] == [killed["video"]]
    assert s.failed[0]["error"].startswith("the worker process died on each of the 1 attempt(s) at this video: ")
    assert sum(r["status"] == "done" for r in s.processed) == 2
    assert not (out / (os.path.basename(killed["video"]) + ".json")).exists() and not no_temporaries(out)
    s = run_job([videos], SYNTH_MODEL, out, OPTIONS, actors_per_node=2, progress=None)
    assert s.ok and [r["video"] for r in s.processed] == [killed["video"]] and len(s.skipped) == 2
    assert_equal_to_reference(out, reference)


def test_a_corrupt_video_is_reported_and_the_rest_complete(cluster, videos, reference, tmp_path):
    """Through the command, connected to the test's Ray instance."""
    d = tmp_path / "videos"
    d.mkdir()
    shutil.copy(videos / "video01.mp4", d / "video01.mp4")
    shutil.copy(videos / "video01.mp4.dets.json", d / "video01.mp4.dets.json")
    (d / "broken.mp4").write_bytes(bytes(range(256)) * 64)               # not a video at all
    shutil.copy(videos / "video01.mp4.dets.json", d / "broken.mp4.dets.json")
    shutil.copy(videos / "video01.mp4", d / "nodets.mp4")                # no detections file
    listing = d / "list.txt"
    listing.write_text("# the archive\nvideo01.mp4\nbroken.mp4\n\nnodets.mp4\n")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in [str(REPO / "python"), os.environ.get("PYTHONPATH")] if p))
    cmd = [sys.executable, "-m", "hrnet.distributed", "--address", cluster, "--model", str(SYNTH_MODEL),
           "--input-size", "%dx%d" % SYNTH_INPUT, "--actors-per-node", "2", "--output", str(out), str(listing)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 1, p.stderr
    assert "1 video(s) done" in p.stderr and "2 failed" in p.stderr, p.stderr
    _, records = manifest_lines(out)
    by_name = {os.path.basename(r["video"]): r for r in records}
    assert set(by_name) == {"video01.mp4", "broken.mp4", "nodets.mp4"}
    assert by_name["video01.mp4"]["status"] == "done"
    assert by_name["broken.mp4"]["status"] == "failed" and by_name["broken.mp4"]["output"] is None
    assert by_name["broken.mp4"]["error"] == "cannot open the video: Invalid data found when processing input"
    assert by_name["nodets.mp4"]["status"] == "failed"
    assert "no detections file" in by_name["nodets.mp4"]["error"] and "nodets.mp4.dets.json" in by_name["nodets.mp4"]["error"]
    assert "failed: %s" % (d / "broken.mp4") in p.stderr
    assert sorted(f.name for f in out.iterdir() if not f.name.startswith(".")) == ["manifest.jsonl", "video01.mp4.json"]
    assert_equal_to_reference(out, reference, ["video01"])
    # Run again: the failures are retried (and fail again), the done video is left alone.
    p = subprocess.run(cmd + ["--quiet"], env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 1 and "0 video(s) done by this run" in p.stderr and "1 already done" in p.stderr, p.stderr
    p = subprocess.run(cmd + ["--quiet", "--skip-failed"], env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 1 and "2 failed" in p.stderr, p.stderr
    _, records = manifest_lines(out)
    assert len(records) == 3


def test_another_job_in_the_same_output_directory_is_refused(first_run, tmp_path):
    src, _ = first_run
    out = tmp_path / "out"
    shutil.copytree(src, out)
    with pytest.raises(JobError, match="input_size"):
        run_job(find_videos_of(src), SYNTH_MODEL, out, PoseOptions(input_size=(256, 192)), progress=None)
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    p = subprocess.run([sys.executable, "-m", "hrnet.distributed", "--model", str(SYNTH_MODEL), "--input-size", "128x96",
                        "--no-smoothing", "--output", str(out)] + find_videos_of(src),
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "another options" in p.stderr and "use another output directory" in p.stderr, p.stderr
    p = subprocess.run([sys.executable, "-m", "hrnet.distributed", "--model", str(SYNTH_MODEL), "--input-size", "128",
                        "--output", str(out), "x.mp4"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "HxW" in p.stderr


def test_inputs_and_output_names(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for f in ["a/clip.mp4", "a/clip.mp4.dets.json", "a/b/clip.mp4", "a/b/notes.txt", "a/b/z.MKV", "a/.hidden.mp4"]:
        (tmp_path / f).write_bytes(b"")
    (tmp_path / "list.txt").write_text("a/clip.mp4\n  # comment\n\n/elsewhere/x.mov\n")
    got = find_videos([tmp_path / "a", tmp_path / "list.txt", tmp_path / "a" / "clip.mp4"])
    # A folder's files (name order) before its subfolders'; each video once; .txt paths from its folder.
    assert got == [str(tmp_path / "a/clip.mp4"), str(tmp_path / "a/b/clip.mp4"), str(tmp_path / "a/b/z.MKV"),
                   "/elsewhere/x.mov"]
    names = output_names(got[:3])
    assert names == {got[0]: "clip.mp4.json", got[1]: "b/clip.mp4.json", got[2]: "b/z.MKV.json"}
    assert output_names(got[1:2], root=tmp_path) == {got[1]: "a/b/clip.mp4.json"}
    with pytest.raises(JobError):
        output_names(got[:1], root=tmp_path / "elsewhere")


def test_detections_paths_and_options():
    from hrnet.distributed import DETS_SIDECAR, dets_path
    assert DETS_SIDECAR == "{video}.dets.json"
    assert dets_path("/a/b/clip.mp4") == "/a/b/clip.mp4.dets.json"
    assert dets_path("/a/b/clip.mp4", "{dir}/dets.json") == "/a/b/dets.json"
    assert dets_path("/a/b/clip.mp4", "/boxes/{stem}.json") == "/boxes/clip.json"
    assert dets_path("clip.mp4", "{dir}/{name}.boxes") == "./clip.mp4.boxes"
    for bad in ["{frame}.json", "dets.json", "{0}.json", "{dir"]:
        with pytest.raises(ValueError):
            PoseOptions(dets=bad)
    with pytest.raises(ValueError):
        PoseOptions(track=False, detect_every=5)
    o = PoseOptions(input_size=[256, 192], dets="none", smoothing=False, fps=25.0)
    assert o.input_size == (256, 192) and PoseOptions.from_dict(json.loads(json.dumps(o.to_dict()))) == o
