"""The job manifest: ``manifest.jsonl`` in the output directory, what the job has done.

Line 1 is the job (model, its size and SHA-256, the options); every later line is one video's
outcome, appended (and fsync'ed) by the driver as each video finishes::

    {"video": "/abs/path.mp4", "status": "done", "output": "dir/path.mp4.json", "bytes": 1234,
     "frames": 90, "person_frames": 170, "tracks": 3, "seconds": 4.2, "decode_seconds": 0.3,
     "error": null, "node": "10.0.0.5", "pid": 4242, "finished": "2026-01-01T12:00:00Z"}

A later line for the same video supersedes an earlier one; a run starts by rewriting the file
with the latest line per video (atomically), so the file stays one line a video. A driver killed
while appending leaves at most a torn last line, which is ignored. Only the driver writes it.
"""

import json
import os

from .video import _fsync_directory

NAME = "manifest.jsonl"
KIND = "hrnet.distributed job"
VERSION = 1


class ManifestConflict(Exception):
    """The output directory holds a job with another model or other options."""


def read(directory):
    """``(job, records)``: the job line (None if there is no manifest) and the latest record per
    video (a dict by video path), in file order."""
    path = os.path.join(directory, NAME)
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return None, {}
    job, records = None, {}
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # a torn line from a driver killed while appending
        if i == 0 and isinstance(obj, dict) and obj.get("kind") == KIND:
            job = obj
        elif isinstance(obj, dict) and isinstance(obj.get("video"), str):
            records.pop(obj["video"], None)
            records[obj["video"]] = obj
    return job, records


def output_is_complete(directory, record):
    """Whether a "done" record's output is there, of the size recorded, and a JSON list."""
    if record.get("status") != "done" or not isinstance(record.get("output"), str):
        return False
    path = os.path.join(directory, record["output"])
    try:
        if os.path.getsize(path) != record.get("bytes"):
            return False
        with open(path, "rb") as f:
            return isinstance(json.load(f), list)
    except (OSError, ValueError):
        return False


class Manifest:
    """The manifest of one output directory, opened by a run of the job."""

    def __init__(self, directory, job):
        """Reads the manifest in ``directory`` (if any), checks that it is the same ``job`` (a dict:
        model and options; raises :class:`ManifestConflict` otherwise) and rewrites it compacted."""
        self.directory = directory
        self.path = os.path.join(directory, NAME)
        old, self.records = read(directory)
        job = dict(job, kind=KIND, version=VERSION)
        if old is not None:
            mine = {k: v for k, v in job.items() if k != "model"}
            theirs = {k: v for k, v in old.items() if k != "model"}
            if mine != theirs:
                diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise ManifestConflict(
                    "%s holds the results of a job with another %s (%s); use another output directory"
                    % (directory, " and ".join(diff), ", ".join("%s=%r" % (k, theirs.get(k)) for k in diff)))
        self.job = job
        lines = [json.dumps(job, sort_keys=True)] + [json.dumps(r, sort_keys=True) for r in self.records.values()]
        tmp = os.path.join(directory, "." + NAME + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_directory(directory)
        self._file = open(self.path, "a", encoding="utf-8")

    def is_done(self, video):
        r = self.records.get(video)
        return r is not None and output_is_complete(self.directory, r)

    def append(self, record):
        """Records one video's outcome (one line, flushed to disk before returning)."""
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records.pop(record["video"], None)
        self.records[record["video"]] = record

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
