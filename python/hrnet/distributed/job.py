"""The Ray side of hrnet.distributed: the actors that hold a session each, and the driver that
hands them videos, records each outcome in the manifest and shows progress."""

import collections
import dataclasses
import datetime
import errno
import fcntl
import hashlib
import os
import sys
import time

try:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
except ImportError as e:  # pragma: no cover - the extra is not installed
    raise ImportError("hrnet.distributed needs Ray and PyAV: pip install './python[ray]' (%s)" % e) from None

from . import manifest as _manifest
from .video import (VIDEO_EXTENSIONS, PoseOptions, frame_count, process_video,
                    write_atomically)


class JobError(Exception):
    """The job cannot run (bad inputs, a model no worker can open, another job on the output
    directory, every worker gone)."""


# --- inputs and outputs --------------------------------------------------------------------------

def find_videos(inputs):
    """Absolute paths of the videos named by ``inputs``, in order, each once. Each input is a
    video file; a directory (its video files, by extension, recursively: a folder's files in name
    order, then its subfolders' in name order; hidden files skipped); or a
    ``.txt`` file listing paths one a line (blank lines and ``#`` comments skipped; relative
    paths are relative to the list's directory). A named video that does not exist is kept: it
    fails as a video (recorded in the manifest) rather than stopping the job."""
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = [inputs]
    videos, seen = [], set()

    def add(p):
        p = os.path.abspath(os.fsdecode(p))
        if p not in seen:
            seen.add(p)
            videos.append(p)

    for item in inputs:
        item = os.fsdecode(item)
        if os.path.isdir(item):
            found = []
            for root, dirs, files in os.walk(item):
                dirs.sort()
                found += [os.path.join(root, f) for f in sorted(files)
                          if f.lower().endswith(VIDEO_EXTENSIONS) and not f.startswith(".")]
            for f in found:
                add(f)
        elif item.lower().endswith(".txt"):
            try:
                with open(item, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except OSError as e:
                raise JobError("cannot read the list of videos %s: %s" % (item, e)) from None
            base = os.path.dirname(os.path.abspath(item))
            for line in lines:
                line = line.strip()
                if line and not line.startswith("#"):
                    add(os.path.join(base, line))
        else:
            add(item)
    return videos


def output_names(videos, root=None):
    """``{video: output path relative to the output directory}``: the video's path relative to
    ``root`` (default: the deepest directory holding them all) plus ``.json``, so
    ``ROOT/a/clip.mp4`` -> ``a/clip.mp4.json`` (videos of the same name in different folders do
    not collide)."""
    if not videos:
        return {}
    if root is None:
        root = os.path.commonpath([os.path.dirname(v) for v in videos])
    root = os.path.abspath(root)
    names = {}
    for v in videos:
        rel = os.path.relpath(v, root)
        if rel.startswith(os.pardir + os.sep):
            raise JobError("%s is not under the root %s" % (v, root))
        names[v] = rel + ".json"
    return names


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _remove_stale_temporaries(directory):
    """Removes what a killed writer left: ``.NAME.tmp`` files (write_atomically's)."""
    for root, _, files in os.walk(directory):
        for f in files:
            if f.startswith(".") and f.endswith(".tmp"):
                try:
                    os.remove(os.path.join(root, f))
                except OSError:
                    pass


# --- the actor -----------------------------------------------------------------------------------

@ray.remote(concurrency_groups={"status": 1})
class PoseWorker:
    """One session, opened once; videos one at a time. ``status`` answers while a video runs."""

    def __init__(self, model, options, threads, output_dir, frame_delay=0.0):
        self.options = PoseOptions.from_dict(options)
        self.session = self.options.open_session(model, threads)
        self.output_dir = output_dir
        self.frame_delay = frame_delay
        self.pid = os.getpid()
        self.node = ray.util.get_node_ip_address()
        self.video = None
        self.frame = 0
        self.expected = 0

    def ready(self):
        info = self.session.info
        return {"pid": self.pid, "node": self.node, "threads": info.threads, "kernels": info.kernels}

    @ray.method(concurrency_group="status")
    def status(self):
        return {"pid": self.pid, "node": self.node, "video": self.video, "frame": self.frame,
                "expected": self.expected}

    def process(self, video, output):
        """Runs one video and writes its results to ``output_dir/output`` (atomically); returns
        the manifest record. A video that fails is a "failed" record, never an exception."""
        self.video, self.frame, self.expected = video, 0, frame_count(video)
        record = {"video": video, "output": output, "node": self.node, "pid": self.pid}
        path = os.path.join(self.output_dir, output)
        started = time.perf_counter()
        try:
            def on_frame(n):
                self.frame = n
            r = process_video(self.session, video, self.options, on_frame=on_frame,
                              frame_delay=self.frame_delay)
            data = r.text.encode("utf-8")
            write_atomically(path, r.text)
            record.update(status="done", bytes=len(data), frames=r.frames, person_frames=r.person_frames,
                          tracks=r.tracks, seconds=round(r.seconds, 4),
                          decode_seconds=round(r.decode_seconds, 4), error=None)
        except Exception as e:
            # Nothing of a failed video stays under its output name.
            try:
                os.remove(path)
            except OSError:
                pass
            name = type(e).__name__
            message = str(e) if name in ("VideoError", "HRNetError") else "%s: %s" % (name, e)
            record.update(status="failed", output=None, frames=getattr(e, "frames", self.frame),
                          seconds=round(time.perf_counter() - started, 4), error=message)
        finally:
            self.video = None
        record["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return record


# --- the driver ----------------------------------------------------------------------------------

@dataclasses.dataclass
class JobSummary:
    """What a run of the job did."""
    #: Records (the manifest's) of the videos processed by this run, done or failed.
    processed: list
    #: Videos already done by an earlier run (skipped).
    skipped: list
    #: Records of every video that stands failed after this run (with ``skip_failed``, earlier
    #: failures too).
    failed: list
    #: Frames processed by this run, and its wall time from dispatch to the last video.
    frames: int
    seconds: float
    #: One dict per actor: node, pid, threads, kernels.
    actors: list
    #: Videos left unprocessed because every worker was lost (empty normally).
    unfinished: list

    @property
    def frames_per_second(self):
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self):
        return not self.failed and not self.unfinished


def _now():
    return time.monotonic()


def _format_eta(seconds):
    if seconds is None:
        return "?"
    return str(datetime.timedelta(seconds=int(round(seconds))))


class _Progress:
    """Videos done, frames per second over the cluster, ETA: a tqdm bar on a terminal, else a
    line per finished video."""

    def __init__(self, total, mode, out=None):
        self.total, self.mode, self.out = total, mode, out or sys.stderr
        self.bar = None
        if mode == "bar":
            try:
                from tqdm import tqdm
            except ImportError:
                self.mode = "lines"
            else:
                self.bar = tqdm(total=total, unit="video", file=self.out, dynamic_ncols=True,
                                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} videos [{elapsed}{postfix}]")

    def update(self, done, failed, fps, eta, record=None):
        text = "%.1f frames/s, ETA %s%s" % (fps, _format_eta(eta), ", %d failed" % failed if failed else "")
        if self.bar is not None:
            if record is not None:
                self.bar.update(1)
            self.bar.set_postfix_str(text, refresh=True)
        elif self.mode == "lines" and record is not None:
            what = ("%d frames in %.1f s" % (record.get("frames", 0), record.get("seconds", 0))
                    if record["status"] == "done" else "FAILED: %s" % record.get("error"))
            print("hrnet.distributed: [%d/%d] %s: %s; %s" % (done, self.total, record["video"], what, text),
                  file=self.out, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _init_ray(address, num_cpus):
    """Connects to ``address`` (a cluster; "auto": the one this machine belongs to) or starts a
    local instance. Returns True if this call started or connected Ray (so it shuts it down)."""
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, logging_level="WARNING")
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                 object_store_memory=100 * 1024 * 1024, logging_level="WARNING")
    return True


def _actor_plan(actors_per_node):
    """``[(node_id, threads)]``, one per actor: ``actors_per_node`` on each live node with CPUs,
    each with an equal share of the node's CPUs (actors x threads = the node's CPUs)."""
    plan = []
    for node in ray.nodes():
        cpus = int(node.get("Resources", {}).get("CPU", 0))
        if not node.get("Alive") or cpus < 1:
            continue
        n = min(actors_per_node, cpus)
        plan += [(node["NodeID"], cpus // n)] * n
    return plan


def run_job(inputs, model, output, options=PoseOptions(), *, address=None, num_cpus=None,
            actors_per_node=1, root=None, skip_failed=False, max_task_retries=2, progress="auto",
            on_status=None, status_interval=1.0, _frame_delay=0.0):
    """Pose estimation over many videos on a Ray cluster, one video per task; see the package
    docstring. Returns a :class:`JobSummary`; raises :class:`JobError` when the job cannot run.

    - ``inputs``: video files, directories, ``.txt`` lists (:func:`find_videos`).
    - ``model``: checkpoint path, readable at the same path on every node.
    - ``output``: output directory (shared by all nodes): ``<relative video path>.json`` per
      video (:func:`output_names`) and ``manifest.jsonl``.
    - ``address``: Ray cluster address (``"auto"``, ``"HOST:6379"``); None: a local Ray instance
      with ``num_cpus`` CPUs (default: all). If Ray is already initialised, it is used as it is.
    - ``actors_per_node``: actors on each node; each gets ``node CPUs // actors_per_node``
      threads.
    - ``skip_failed``: keep earlier failures as they are (default: retry them).
    - ``max_task_retries``: how many times a video is run again after its worker process died
      (the actor restarts: Ray's ``max_restarts=-1``, ``max_task_retries``); past that, the
      video is recorded as failed.
    - ``progress``: ``"auto"`` (a bar on a terminal, else a line per video), ``"bar"``,
      ``"lines"`` or None.
    - ``on_status(statuses)``: called about every ``status_interval`` seconds with one dict per
      actor ``{pid, node, video, frame, expected}`` (what each is doing).
    - ``_frame_delay``: seconds of sleep per frame in the workers, for the fault tests only.
    """
    if isinstance(actors_per_node, bool) or not isinstance(actors_per_node, int) or actors_per_node < 1:
        raise JobError("actors_per_node must be an integer >= 1, got %r" % (actors_per_node,))
    videos = find_videos(inputs)
    output = os.path.abspath(os.fsdecode(output))
    model = os.path.abspath(os.fsdecode(model))
    if not os.path.isfile(model):
        raise JobError("model %s: no such file" % model)
    try:
        # Open it here first: a wrong model or input size is one error, not one per worker.
        options.open_session(model, threads=1).close()
    except Exception as e:
        raise JobError("cannot open a session on %s: %s" % (model, e)) from None
    names = output_names(videos, root)
    os.makedirs(output, exist_ok=True)

    lock = open(os.path.join(output, ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        lock.close()
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise JobError("another job is running on %s" % output) from None
        raise
    try:
        _remove_stale_temporaries(output)
        job = {"model": model, "model_bytes": os.path.getsize(model), "model_sha256": _sha256(model),
               "options": options.to_dict()}
        try:
            man = _manifest.Manifest(output, job)
        except _manifest.ManifestConflict as e:
            raise JobError(str(e)) from None
        try:
            return _run(videos, names, model, output, options, man, address, num_cpus, actors_per_node,
                        skip_failed, max_task_retries, progress, on_status, status_interval, _frame_delay)
        finally:
            man.close()
    finally:
        lock.close()


def _run(videos, names, model, output, options, man, address, num_cpus, actors_per_node, skip_failed,
         max_task_retries, progress, on_status, status_interval, frame_delay):
    skipped, todo, failed_before = [], [], []
    for v in videos:
        r = man.records.get(v)
        if man.is_done(v):
            skipped.append(v)
        elif skip_failed and r is not None and r.get("status") == "failed":
            failed_before.append(r)
        else:
            todo.append(v)
    summary = JobSummary(processed=[], skipped=skipped, failed=list(failed_before), frames=0, seconds=0.0,
                         actors=[], unfinished=[])
    if not todo:
        return summary

    started_ray = _init_ray(address, num_cpus)
    actors = []
    try:
        plan = _actor_plan(actors_per_node)
        if not plan:
            raise JobError("the Ray cluster has no live node with a CPU")
        for node_id, threads in plan[:len(todo)]:
            actors.append(PoseWorker.options(
                num_cpus=threads, max_restarts=-1, max_task_retries=max_task_retries,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=True),
            ).remote(model, options.to_dict(), threads, output, frame_delay))
        # Wait for the sessions: a worker that cannot open one (the model missing on its node,
        # the library not installed there) is left out; none at all stops the job.
        live, errors = [], []
        for a, ref in [(a, a.ready.remote()) for a in actors]:
            try:
                summary.actors.append(ray.get(ref))
                live.append(a)
            except Exception as e:
                errors.append(str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__)
                ray.kill(a, no_restart=True)
        if not live:
            raise JobError("no worker could start: %s" % "; ".join(sorted(set(errors))))
        if errors:
            print("hrnet.distributed: warning: %d worker(s) could not start: %s"
                  % (len(errors), "; ".join(sorted(set(errors)))), file=sys.stderr)
        actors = live
        _dispatch(actors, todo, names, man, summary, progress, on_status, status_interval, max_task_retries)
    finally:
        for a in actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:
                pass
        if started_ray:
            ray.shutdown()
    return summary


def _restarted(actor, timeout=300.0):
    """Whether ``actor`` answers again (Ray restarts a dead actor; while it does, calls fail with
    ActorUnavailableError) rather than being gone for good."""
    deadline = _now() + timeout
    while True:
        try:
            ray.get(actor.ready.remote(), timeout=max(1.0, deadline - _now()))
            return True
        except ray.exceptions.ActorUnavailableError:
            if _now() > deadline:
                return False
            time.sleep(0.5)
        except Exception:
            return False


def _short_error(e):
    lines = [line for line in str(e).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(e).__name__


def _dispatch(actors, todo, names, man, summary, progress, on_status, status_interval, max_task_retries):
    queue = collections.deque(todo)
    inflight = {}                        # task ref -> (actor index, video)
    status_refs = {}                     # actor index -> pending status ref
    statuses = {}                        # actor index -> last status
    alive = set(range(len(actors)))
    mode = progress
    if mode == "auto":
        mode = "bar" if sys.stderr.isatty() else "lines"
    bar = _Progress(len(todo), mode) if mode else None
    failed = 0
    started = _now()
    last_status = 0.0

    def submit(i):
        if queue and i in alive:
            v = queue.popleft()
            inflight[actors[i].process.remote(v, names[v])] = (i, v)

    def rates():
        # Finished videos, plus the part done of those in flight (from the actors' statuses).
        running = {i: v for i, v in inflight.values()}
        current = [s for i, s in statuses.items() if s.get("video") is not None and s["video"] == running.get(i)]
        frames = summary.frames + sum(s["frame"] for s in current)
        done = len(summary.processed) + sum(min(1.0, s["frame"] / s["expected"]) for s in current if s["expected"])
        elapsed = _now() - started
        fps = frames / elapsed if elapsed > 0 else 0.0
        eta = max(0.0, elapsed * (len(todo) - done) / done) if done > 0 else None
        return fps, eta

    for i in range(len(actors)):
        submit(i)
    try:
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=status_interval)
            for ref in ready:
                i, video = inflight.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as e:
                    # The worker died on this video more times than max_task_retries allows.
                    last = statuses.get(i) or {}
                    record = {"video": video, "output": None, "status": "failed",
                              "frames": last.get("frame", 0) if last.get("video") == video else 0,
                              "error": "the worker process died on each of the %d attempt(s) at this video: %s"
                                       % (max_task_retries + 1, _short_error(e)),
                              "finished": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
                    if not _restarted(actors[i]):
                        alive.discard(i)       # gone for good: no more videos for it
                man.append(record)
                summary.processed.append(record)
                if record["status"] == "done":
                    summary.frames += record.get("frames", 0)
                else:
                    failed += 1
                    summary.failed.append(record)
                statuses.pop(i, None)
                if bar:
                    fps, eta = rates()
                    bar.update(len(summary.processed), failed, fps, eta, record)
                submit(i)
            if _now() - last_status >= status_interval * 0.999:
                last_status = _now()
                for i, ref in list(status_refs.items()):
                    done, _ = ray.wait([ref], timeout=0)
                    if done:
                        del status_refs[i]
                        try:
                            statuses[i] = ray.get(ref)
                        except ray.exceptions.RayError:
                            statuses.pop(i, None)
                for i in alive:
                    if i not in status_refs and any(a == i for a, _ in inflight.values()):
                        status_refs[i] = actors[i].status.remote()
                if on_status is not None:
                    on_status([dict(s, actor=i) for i, s in sorted(statuses.items())])
                if bar:
                    fps, eta = rates()
                    bar.update(len(summary.processed), failed, fps, eta)
            if not alive and not inflight:
                break
    finally:
        summary.seconds = _now() - started
        summary.unfinished = list(queue) + [v for _, v in inflight.values()]
        if bar:
            bar.close()
    if summary.unfinished and not alive:
        raise JobError("every worker was lost; %d video(s) left unfinished (rerun the job to do them)"
                       % len(summary.unfinished))
