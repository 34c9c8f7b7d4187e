"""The ROS test's two halves (run by examples/ros/test.sh).

``prepare`` (any Python with NumPy, PYTHONPATH=python): runs the library's own tracker
(hrnet.Tracker, as the node sets it up) over a video's frames (raw RGB from examples/ros/frames.c)
with its detections and the stamps the driver will put on the images, lifts the people to 3D with
the depth image the driver will publish (hrnet.lift_depth), and writes all of it to a JSON file.

``drive`` (Debian's /usr/bin/python3 with rospy, the workspace's devel space sourced): publishes
the same frames one at a time (detections, depth and camera_info first, then the image, in turn
rgb8, bgr8 with padded rows and rgba8), waits for each frame's PersonArray, and checks that the
node's people equal the reference (ids, keypoints within 1e-3 px, covariances, boxes, scores, 3D
points), that markers and the annotated image are published, that a bad encoding and a truncated
image get an error log and the node keeps working (a mono8 frame, then a burst in which frames
are dropped and the last one is processed), and reports the latencies.
"""

import argparse
import json
import math
import statistics
import struct
import sys
import threading
import time

FPS = 30
BASE_SEC = 1000
# The depth image: a wall at NEAR_MM left of SPLIT_X and FAR_MM right of it (16UC1), and the
# camera matrix it comes with.
NEAR_MM, FAR_MM = 2000, 3000
FX, FY = 525.0, 525.0


def stamp_of(k):
    """Stamp (sec, nsec) of frame k, and the seconds the node gives the tracker (sec + nsec * 1e-9)."""
    ns = (k * 10 ** 9 + FPS // 2) // FPS
    sec, nsec = BASE_SEC + ns // 10 ** 9, ns % 10 ** 9
    return sec, nsec, sec + nsec * 1e-9


def intrinsics(width, height):
    return FX, FY, (width - 1) / 2.0, (height - 1) / 2.0


def stats(v):
    """Median, mean, 90th percentile and maximum of durations in seconds, in ms."""
    v = sorted(v)
    return "median %.1f ms, mean %.1f ms, p90 %.1f ms, max %.1f ms" % (
        1e3 * statistics.median(v), 1e3 * statistics.mean(v), 1e3 * v[int(0.9 * (len(v) - 1))], 1e3 * v[-1])


# ------------------------------------------------------------------------------------------------
# prepare

def prepare(a):
    import numpy as np
    import hrnet

    w, h, n = a.width, a.height, a.count
    frames = np.fromfile(a.frames, np.uint8)
    if frames.size != n * h * w * 3:
        sys.exit("prepare: %s holds %d bytes, not %d frames of %dx%d" % (a.frames, frames.size, n, w, h))
    frames = frames.reshape(n, h, w, 3)
    by_image = {}
    for d in json.load(open(a.dets)):
        if d.get("category_id", 1) == 1:
            by_image.setdefault(d["image_id"], []).append(list(d["bbox"]) + [d["score"]])
    depth = np.full((h, w), NEAR_MM, np.uint16)
    depth[:, w // 2:] = FAR_MM
    k = intrinsics(w, h)
    hh, ww = (int(v) for v in a.input_size.split("x"))
    out = {"width": w, "height": h, "count": n, "intrinsics": k, "near_mm": NEAR_MM, "far_mm": FAR_MM,
           "split_x": w // 2, "stamps": [], "boxes": [], "people": []}
    t0 = time.monotonic()
    per_frame = []
    with hrnet.Session(a.model, input_size=(hh, ww), threads=a.threads) as s, \
            hrnet.Tracker(s, covariances=True) as tracker:
        for i in range(n):
            sec, nsec, t = stamp_of(i)
            boxes = by_image.get(i + 1, [])
            start = time.monotonic()
            people = tracker.update(frames[i], np.array(boxes, np.float64).reshape(-1, 5) if boxes else None,
                                    timestamp=t)
            if people:
                kp = np.stack([p.keypoints for p in people])
                cov = np.stack([p.covariances for p in people])
                points, valid, _ = hrnet.lift_depth(kp, depth, k, covariances=cov)
            per_frame.append(time.monotonic() - start)
            out["stamps"].append([sec, nsec])
            out["boxes"].append(boxes)
            out["people"].append([{
                "track_id": p.track_id, "score": p.score, "box": list(p.box),
                "keypoints": p.keypoints.reshape(-1).tolist(),
                "covariance": p.covariances.reshape(-1).tolist(),
                "points3d": points[j].reshape(-1).tolist(), "valid3d": valid[j].astype(int).tolist(),
            } for j, p in enumerate(people)])
    json.dump(out, open(a.out, "w"))
    people = sum(len(p) for p in out["people"])
    ids = sorted({p["track_id"] for f in out["people"] for p in f})
    print("prepare: %d frames, %d people (track ids %s) by hrnet.Tracker in %.1f s; tracker + lift per frame: %s"
          % (n, people, ids, time.monotonic() - t0, stats(per_frame)))


# ------------------------------------------------------------------------------------------------
# drive

class Collector:
    """What the node publishes, keyed by stamp, with the time it arrived."""

    def __init__(self):
        self.cond = threading.Condition()
        self.people = {}
        self.arrived = {}
        self.markers = []
        self.annotated = []
        self.latency = []
        self.dropped = 0
        self.logs = []

    def on_people(self, msg):
        with self.cond:
            key = (msg.header.stamp.secs, msg.header.stamp.nsecs)
            self.people[key] = msg
            self.arrived[key] = time.monotonic()
            self.cond.notify_all()

    def on_markers(self, msg):
        with self.cond:
            self.markers.append(msg)
            self.cond.notify_all()

    def on_annotated(self, msg):
        with self.cond:
            self.annotated.append((msg.header.stamp.secs, msg.header.stamp.nsecs, msg.width, msg.height,
                                   msg.encoding, len(msg.data)))
            self.cond.notify_all()

    def on_latency(self, msg):
        with self.cond:
            self.latency.append(msg.data)
            self.cond.notify_all()

    def on_dropped(self, msg):
        with self.cond:
            self.dropped = msg.data
            self.cond.notify_all()

    def on_log(self, msg):
        with self.cond:
            self.logs.append((msg.level, msg.name, msg.msg))
            self.cond.notify_all()

    def wait(self, predicate, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


def drive(a):
    import rospy
    from hrnet_ros.msg import BoxArray, PersonArray
    from rosgraph_msgs.msg import Log
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Float64, UInt64
    from visualization_msgs.msg import Marker, MarkerArray

    ref = json.load(open(a.reference))
    w, h, n = ref["width"], ref["height"], ref["count"]
    frame_bytes = w * h * 3
    with open(a.frames, "rb") as f:
        raw = f.read()
    assert len(raw) == n * frame_bytes, "frames file does not match the reference"
    fx, fy, cx, cy = ref["intrinsics"]
    split = ref["split_x"]
    depth_row = struct.pack("<%dH" % w, *([ref["near_mm"]] * split + [ref["far_mm"]] * (w - split)))
    depth_data = depth_row * h

    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)
            print("FAIL: " + what, flush=True)

    rospy.init_node("hrnet_test_driver", anonymous=True, disable_signals=True)
    c = Collector()
    subs = [rospy.Subscriber("people", PersonArray, c.on_people, queue_size=100),
            rospy.Subscriber("markers", MarkerArray, c.on_markers, queue_size=100),
            rospy.Subscriber("image_annotated", Image, c.on_annotated, queue_size=100),
            rospy.Subscriber("hrnet/latency", Float64, c.on_latency, queue_size=100),
            rospy.Subscriber("hrnet/dropped", UInt64, c.on_dropped, queue_size=100),
            rospy.Subscriber("/rosout", Log, c.on_log, queue_size=100)]
    image_pub = rospy.Publisher("image", Image, queue_size=100)
    boxes_pub = rospy.Publisher("detections", BoxArray, queue_size=100)
    depth_pub = rospy.Publisher("depth", Image, queue_size=100)
    info_pub = rospy.Publisher("camera_info", CameraInfo, queue_size=100)

    end = time.monotonic() + a.timeout
    while time.monotonic() < end and not (
            all(p.get_num_connections() > 0 for p in (image_pub, boxes_pub, depth_pub, info_pub))
            and all(s.get_num_connections() > 0 for s in subs[:5])):
        time.sleep(0.05)
    check(image_pub.get_num_connections() > 0, "the node subscribed to image within %d s" % a.timeout)
    if failures:
        return failures
    # The node uses the latest camera_info: one before the first frame (as a camera streams it).
    info = CameraInfo()
    info.header.frame_id, info.width, info.height = "camera", w, h
    info.K = [fx, 0, cx, 0, fy, cy, 0, 0, 1]
    info_pub.publish(info)
    time.sleep(0.5)   # let the node's side of each connection settle and camera_info arrive

    def header(k, frame_id="camera"):
        msg = Image().header
        msg.stamp = rospy.Time(*stamp_of(k)[:2]) if k is not None else rospy.Time(0)
        msg.frame_id = frame_id
        return msg

    def image(k, pixels, encoding, step, width=w, height=h):
        m = Image()
        m.header = header(k)
        m.width, m.height, m.encoding, m.step, m.is_bigendian = width, height, encoding, step, 0
        m.data = pixels
        return m

    def encoded(i, mode):
        rgb = raw[i * frame_bytes:(i + 1) * frame_bytes]
        if mode == 0:
            return "rgb8", w * 3, rgb
        if mode == 1:   # BGR with 8 bytes of padding after each row
            bgr = bytearray(frame_bytes)
            bgr[0::3], bgr[1::3], bgr[2::3] = rgb[2::3], rgb[1::3], rgb[0::3]
            pad = b"\x00" * 8
            return "bgr8", w * 3 + 8, b"".join(bytes(bgr[r * w * 3:(r + 1) * w * 3]) + pad for r in range(h))
        rgba = bytearray(w * h * 4)
        rgba[0::4], rgba[1::4], rgba[2::4], rgba[3::4] = rgb[0::3], rgb[1::3], rgb[2::3], b"\xff" * (w * h)
        return "rgba8", w * 4, bytes(rgba)

    def send(k, boxes, encoding, step, pixels):
        """Detections, depth and camera_info stamped k, then the image; returns the send time."""
        b = BoxArray()
        b.header = header(k)
        b.boxes = [v for box in boxes for v in box]
        boxes_pub.publish(b)
        d = image(k, depth_data, "16UC1", w * 2)
        depth_pub.publish(d)
        info = CameraInfo()
        info.header, info.width, info.height = header(k), w, h
        info.K = [fx, 0, cx, 0, fy, cy, 0, 0, 1]
        info_pub.publish(info)
        sent = time.monotonic()
        image_pub.publish(image(k, pixels, encoding, step))
        return sent

    # 1. The video, one frame at a time, against the library's own tracker.
    e2e = []
    node_lat = []
    worst = {"keypoints": 0.0, "scores": 0.0, "covariance": 0.0, "box": 0.0, "score": 0.0, "points3d": 0.0}
    compared = people_compared = 0
    joint_names = None
    t_start = time.monotonic()
    for i in range(n):
        key = tuple(ref["stamps"][i])
        encoding, step, pixels = encoded(i, i % 3)
        sent = send(i, ref["boxes"][i], encoding, step, pixels)
        if not c.wait(lambda: key in c.people, a.timeout):
            check(False, "no people published for frame %d within %d s" % (i, a.timeout))
            break
        e2e.append(c.arrived[key] - sent)
        # The node publishes ~latency right after people: wait for it so each value pairs with its frame.
        c.wait(lambda: len(c.latency) > i, 2)
        with c.cond:
            node_lat.append(c.latency[i] if len(c.latency) > i else float("nan"))
        got = c.people[key]
        joint_names = got.joint_names
        want = ref["people"][i]
        compared += 1
        ids_got, ids_want = [p.track_id for p in got.people], [p["track_id"] for p in want]
        if ids_got != ids_want:
            check(False, "frame %d: track ids %s, the library's tracker gave %s" % (i, ids_got, ids_want))
            continue
        for g, r in zip(got.people, want):
            people_compared += 1
            kp_g, kp_r = g.keypoints, r["keypoints"]
            check(len(kp_g) == len(kp_r), "frame %d id %d: %d keypoint values" % (i, g.track_id, len(kp_g)))
            for j in range(0, min(len(kp_g), len(kp_r)), 3):
                worst["keypoints"] = max(worst["keypoints"], abs(kp_g[j] - kp_r[j]), abs(kp_g[j + 1] - kp_r[j + 1]))
                worst["scores"] = max(worst["scores"], abs(kp_g[j + 2] - kp_r[j + 2]))
            worst["covariance"] = max([worst["covariance"]] + [abs(x - y) / max(1.0, abs(y))
                                                               for x, y in zip(g.covariance, r["covariance"])])
            worst["box"] = max([worst["box"]] + [abs(x - y) for x, y in zip(g.box, r["box"])])
            worst["score"] = max(worst["score"], abs(g.score - r["score"]))
            check(list(bytearray(g.valid3d)) == r["valid3d"], "frame %d id %d: valid3d %s, reference %s"
                  % (i, g.track_id, list(bytearray(g.valid3d)), r["valid3d"]))
            worst["points3d"] = max([worst["points3d"]] + [abs(x - y) for x, y in zip(g.points3d, r["points3d"])])
    t_video = time.monotonic() - t_start
    check(compared == n, "%d of %d frames compared" % (compared, n))
    check(worst["keypoints"] <= 1e-3, "keypoints differ by %.3g px (at most 1e-3)" % worst["keypoints"])
    check(worst["scores"] <= 1e-4, "keypoint scores differ by %.3g" % worst["scores"])
    check(worst["covariance"] <= 1e-4, "covariances differ by %.3g (relative)" % worst["covariance"])
    check(worst["box"] <= 1e-3 and worst["score"] <= 1e-4, "boxes/scores differ by %.3g / %.3g"
          % (worst["box"], worst["score"]))
    check(worst["points3d"] <= 1e-4, "3D points differ by %.3g m" % worst["points3d"])
    check(joint_names is not None and len(joint_names) == 17 and joint_names[0] == "nose",
          "joint names %s" % (joint_names,))
    lifted = sum(sum(p["valid3d"]) for f in ref["people"] for p in f)
    check(lifted > 0, "some joints lifted to 3D in the reference")

    # Markers: one array per frame, a DELETEALL first, then limbs and joints of each person in 3D.
    c.wait(lambda: len(c.markers) >= compared, 5)
    with c.cond:
        markers = list(c.markers)
    stamped = {(m.markers[0].header.stamp.secs, m.markers[0].header.stamp.nsecs) for m in markers if m.markers}
    check(len(markers) >= compared and all(tuple(s) in stamped for s in ref["stamps"][:compared]),
          "a MarkerArray for every frame (%d arrays for %d frames)" % (len(markers), compared))
    lines = [mk for m in markers for mk in m.markers if mk.type == Marker.LINE_LIST and mk.points]
    check(len(lines) > 0 and all(len(mk.points) % 2 == 0 for mk in lines), "limb LINE_LIST markers with points")
    check(all(m.markers and m.markers[0].action == Marker.DELETEALL for m in markers), "each array starts with DELETEALL")
    depths = sorted({round(p.z, 3) for mk in lines for p in mk.points})
    check(depths and min(depths) >= 1.9 and max(depths) <= 3.1, "3D markers at the wall's depths (%s)" % depths[:5])
    c.wait(lambda: len(c.annotated) >= compared, 5)
    with c.cond:
        annotated = list(c.annotated)
    check(len(annotated) >= compared and all(x[2:] == (w, h, "rgb8", w * h * 3) for x in annotated),
          "image_annotated (rgb8 %dx%d) for every frame: %d" % (w, h, len(annotated)))

    # 2. Bad input: an error log, and the node keeps working.
    def error_logged(part):
        return lambda: any(level >= Log.ERROR and name == "/hrnet" and part in text for level, name, text in c.logs)

    k = n
    bad = image(k, raw[:frame_bytes], "yuv422", w * 2)
    image_pub.publish(bad)
    check(c.wait(error_logged("yuv422"), a.timeout), "an error log for a yuv422 image")
    k += 1
    image_pub.publish(image(k, raw[:frame_bytes // 2], "rgb8", w * 3))
    check(c.wait(error_logged("bytes of data"), a.timeout), "an error log for a truncated image")
    k += 1
    mono = raw[0:frame_bytes:3]
    send(k, ref["boxes"][0], "mono8", w, mono)
    key = stamp_of(k)[:2]
    check(c.wait(lambda: key in c.people, a.timeout), "people published for a mono8 frame after the bad ones")

    # 3. A burst without waiting: frames arriving while one is processed are dropped, the last one wins.
    burst = 12
    with c.cond:
        dropped_before = c.dropped
    for j in range(burst):
        k += 1
        i = j % n
        encoding, step, pixels = encoded(i, 0)
        send(k, ref["boxes"][i], encoding, step, pixels)
    last = stamp_of(k)[:2]
    check(c.wait(lambda: last in c.people, a.timeout), "the burst's last frame processed")
    time.sleep(0.5)
    with c.cond:
        processed = sum(1 for j in range(burst) if stamp_of(k - j)[:2] in c.people)
        dropped = c.dropped - dropped_before
        logs = [x for x in c.logs if x[1] == "/hrnet" and x[0] >= Log.ERROR]
    # Every image reaches the node's callback (its subscriber queue holds 16): each one is
    # either processed or replaced in the slot by a newer one and counted as dropped.
    check(processed + dropped == burst, "burst: %d processed + %d dropped = %d sent" % (processed, dropped, burst))

    # Latency: end to end (image published -> PersonArray received, both here) and the node's own
    # (image received -> published), for the video's frames.

    people_total = sum(len(f) for f in ref["people"])
    print("video: %d frames (%d people, %d joints lifted to 3D) compared in %.1f s: ids equal; max difference "
          "keypoints %.2g px, keypoint scores %.2g, covariances %.2g (relative), boxes %.2g px, person scores %.2g, "
          "3D points %.2g m" % (compared, people_compared, lifted, t_video, worst["keypoints"], worst["scores"],
                                worst["covariance"], worst["box"], worst["score"], worst["points3d"]))
    if e2e:
        print("latency end to end (image published -> people received), %d frames: %s" % (len(e2e), stats(e2e)))
    if node_lat and not any(math.isnan(v) for v in node_lat):
        print("latency in the node (image received -> people published), %d frames: %s"
              % (len(node_lat), stats(node_lat)))
        print("ROS's share (end to end - in the node), %d frames: %s"
              % (len(node_lat), stats([a - b for a, b in zip(e2e, node_lat)])))
    else:
        check(False, "a ~latency message after every frame's people")
    print("markers: %d arrays, %d limb line lists; image_annotated: %d images" % (len(markers), len(lines), len(annotated)))
    print("bad input: %d error logs from /hrnet, e.g. %r" % (len(logs), logs[0][2] if logs else None))
    print("burst of %d frames: %d processed, %d dropped (latest wins)" % (burst, processed, dropped))
    print("reference had %d people in all" % people_total)
    for s in subs:
        s.unregister()
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    q = sub.add_parser("prepare")
    q.add_argument("--frames", required=True)
    q.add_argument("--width", type=int, required=True)
    q.add_argument("--height", type=int, required=True)
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--dets", required=True)
    q.add_argument("--model", required=True)
    q.add_argument("--input-size", required=True)
    q.add_argument("--threads", type=int, default=0)
    q.add_argument("--out", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--reference", required=True)
    d.add_argument("--frames", required=True)
    d.add_argument("--timeout", type=float, default=20)
    a = p.parse_args()
    if a.mode == "prepare":
        prepare(a)
        return 0
    failures = drive(a)
    print("ros test: %d failed checks" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
