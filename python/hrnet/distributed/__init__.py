"""Pose estimation over a video archive on a Ray cluster: one video per task, resumable.

    pip install './python[ray]'          # Ray, PyAV, tqdm
    python -m hrnet.distributed --model M --input-size 128x96 --output OUT VIDEOS...

or from Python::

    from hrnet.distributed import PoseOptions, run_job
    summary = run_job(["archive/"], "model.pth", "out/", PoseOptions(input_size=(128, 96)))

- Each node runs ``actors_per_node`` long-lived actors, each with one :class:`hrnet.Session`
  opened once and ``node CPUs // actors_per_node`` threads. The driver hands each actor one
  video at a time.
- Per video, the actor decodes the file with PyAV, runs :class:`hrnet.Tracker` (or per-frame
  estimation) with the video's detections (``<video>.dets.json`` next to it, another path pattern such as
  ``{dir}/dets.json``, or none) and writes
  ``OUT/<video path relative to the videos' common folder>.json`` in hrnet-pose's format (COCO
  keypoint results, with ``track_id`` when tracking), through a temporary file and a rename.
- ``OUT/manifest.jsonl`` records each video's outcome (done: output, frames, time; failed: the
  error). Rerunning the job skips the videos whose record says done and whose output is there
  and whole, and does the rest; a failed video does not stop the job; a worker process that dies
  is restarted by Ray and its video run again (``max_task_retries``).

:func:`process_video` is the per-video work on its own (no Ray), for one process.
"""

from .video import (DETS_SIDECAR, DETS_SUFFIX, PoseOptions, VideoError, VideoResult, decode_video, dets_path,
                    load_detections, process_video)

_JOB_NAMES = ("run_job", "JobSummary", "JobError", "find_videos", "output_names", "PoseWorker")

__all__ = ["PoseOptions", "VideoError", "VideoResult", "DETS_SIDECAR", "DETS_SUFFIX", "decode_video", "dets_path",
           "load_detections", "process_video"] + list(_JOB_NAMES)


def __getattr__(name):
    # Ray is imported only when the job itself is wanted: process_video works without it.
    if name in _JOB_NAMES:
        from . import job
        return getattr(job, name)
    raise AttributeError("module 'hrnet.distributed' has no attribute %r" % name)
