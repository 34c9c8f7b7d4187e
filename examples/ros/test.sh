#!/usr/bin/env bash
# The ROS example's test (part of Tests/run.sh; needs .ci/setup-ros and .build/release):
#   1. builds examples/ros/hrnet_ros in a temporary catkin workspace against .build/release, and
#      in another against a `make install`ed libhrnet (find_package(hrnet)), and runs the core's
#      own test (no ROS) from both;
#   2. decodes a synthetic video's frames with hrnet-pose's reader (examples/ros/frames.c) and runs
#      the library's tracker on them through the Python binding (test_node.py prepare);
#   3. starts a roscore on a free loopback port, checks that the node exits with status 1 and a
#      clear message when the model does not load, starts the node with roslaunch (detections,
#      depth, annotated image), and publishes the frames one at a time with their detections and a
#      depth image (test_node.py drive): people equal the library's, markers published, bad images
#      logged as errors while the node keeps running, frames dropped in a burst;
#   4. stops everything it started, by process id.
# HRNET_ROS_VIDEO (default video03) picks the video, HRNET_ROS_FRAMES (default all) its length;
# HRNET_ROS_KEEP=1 keeps the temporary directory (logs, workspace).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY=/usr/bin/python3     # Debian's: rospy, catkin_pkg (the python3 on PATH may be another build)
VIDEO="$ROOT/examples/videos/${HRNET_ROS_VIDEO:-video03}"
MODEL="$ROOT/models/synth_w16_128x96.pth"
START=$(date +%s%N)
say() { local ms=$(( ($(date +%s%N) - START) / 1000000 )); printf '[ros test %4d.%d s] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*"; }

for tool in roscore roslaunch catkin_make; do
    command -v "$tool" >/dev/null || { echo "ros test: $tool not found: install ROS with 'bash .ci/setup-ros'" >&2; exit 1; }
done
if [ ! -f "$ROOT/.build/release/libhrnet.so" ] || [ ! -x "$ROOT/.build/release/hrnet-pose" ]; then
    (cd "$ROOT" && swift build -c release)
fi

TMP="$(mktemp -d /tmp/hrnet-ros.XXXXXX)"
PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "ros test: process $pid did not stop on SIGINT within 10 s: killed" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [ "$status" != 0 ]; then
        for f in node.log roscore.log; do
            [ -f "$TMP/$f" ] && { echo "--- $f (last 40 lines)"; tail -n 40 "$TMP/$f"; }
        done
    fi
    if [ "${HRNET_ROS_KEEP:-0}" = 1 ]; then echo "ros test: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# 1. Build in a temporary workspace; the core's test.
mkdir -p "$TMP/ws/src"
ln -s "$ROOT/examples/ros/hrnet_ros" "$TMP/ws/src/hrnet_ros"
if ! (cd "$TMP/ws" && catkin_make -DPYTHON_EXECUTABLE="$PY" -DHRNET_INCLUDE_DIR="$ROOT/include" \
        -DHRNET_LIBRARY_DIR="$ROOT/.build/release" >"$TMP/build.log" 2>&1); then
    tail -n 60 "$TMP/build.log"
    echo "ros test: catkin_make failed" >&2
    exit 1
fi
if grep -E "warning:" "$TMP/build.log"; then echo "ros test: compiler warnings" >&2; exit 1; fi
say "built hrnet_ros against .build/release"
BIN="$TMP/ws/devel/lib/hrnet_ros"
"$BIN/hrnet_ros_core_test" "$MODEL" 128 96

# The other way to find libhrnet: installed (make install), found by find_package(hrnet).
make -s -C "$ROOT" install PREFIX="$TMP/prefix" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; exit 1; }
mkdir -p "$TMP/ws_installed/src"
ln -s "$ROOT/examples/ros/hrnet_ros" "$TMP/ws_installed/src/hrnet_ros"
if ! (cd "$TMP/ws_installed" && catkin_make -DPYTHON_EXECUTABLE="$PY" -Dhrnet_DIR="$TMP/prefix/lib/cmake/hrnet" \
        >"$TMP/build_installed.log" 2>&1); then
    tail -n 60 "$TMP/build_installed.log"
    echo "ros test: catkin_make against the installed libhrnet failed" >&2
    exit 1
fi
grep -q "hrnet_ros: libhrnet from $TMP/prefix/lib/cmake/hrnet" "$TMP/build_installed.log" ||
    { grep "hrnet_ros:" "$TMP/build_installed.log"; echo "ros test: find_package(hrnet) not used" >&2; exit 1; }
loaded=$(ldd "$TMP/ws_installed/devel/lib/hrnet_ros/hrnet_node" | grep "libhrnet" || true)
[[ "$loaded" == *"=> $TMP/prefix/lib/libhrnet.so.0 "* ]] ||
    { echo "ros test: the node does not load the installed libhrnet: $loaded" >&2; exit 1; }
"$TMP/ws_installed/devel/lib/hrnet_ros/hrnet_ros_core_test" "$MODEL" 128 96
say "built hrnet_ros against an installed libhrnet (find_package)"

# 2. Frames and the library's own tracker on them.
cc -O2 -std=gnu11 -Wall -Wextra -I "$ROOT/Sources/CVideoIO/include" "$ROOT/examples/ros/frames.c" \
    "$ROOT/Sources/CVideoIO/videoio.c" -lavformat -lavcodec -lswscale -lavutil -o "$TMP/frames"
read -r W H N < <("$TMP/frames" "$VIDEO/video.mp4" "$TMP/frames.rgb" "${HRNET_ROS_FRAMES:--1}")
say "decoded $N frames of ${W}x${H} from $VIDEO/video.mp4"
PYTHONPATH="$ROOT/python" python3 "$ROOT/examples/ros/test_node.py" prepare --frames "$TMP/frames.rgb" \
    --width "$W" --height "$H" --count "$N" --dets "$VIDEO/dets.json" --model "$MODEL" --input-size 128x96 \
    --threads 2 --out "$TMP/reference.json"
say "reference computed"

# 3. A master of our own on a free loopback port.
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ROS_MASTER_URI="http://127.0.0.1:$PORT" ROS_HOSTNAME=127.0.0.1 ROS_IP=127.0.0.1
export ROS_HOME="$TMP/ros_home" ROS_LOG_DIR="$TMP/ros_log"
set +u
# shellcheck disable=SC1091
source "$TMP/ws/devel/setup.bash"
set -u
"$PY" /usr/bin/roscore -p "$PORT" >"$TMP/roscore.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
    "$PY" -c 'import rosgraph, sys; sys.exit(0 if rosgraph.is_master_online() else 1)' 2>/dev/null && break
    sleep 0.1
done
"$PY" -c 'import rosgraph, sys; sys.exit(0 if rosgraph.is_master_online() else 1)' ||
    { echo "ros test: roscore did not come up on port $PORT within 20 s" >&2; exit 1; }
say "roscore on 127.0.0.1:$PORT"

# A model that does not load: a fatal log naming it, exit status 1, no crash.
status=0
timeout 60 "$BIN/hrnet_node" __name:=hrnet_bad_model _model:="$TMP/missing.pth" >"$TMP/bad_model.log" 2>&1 || status=$?
if [ "$status" != 1 ] || ! grep -q "cannot use the model '$TMP/missing.pth': HRNET_ERR_IO" "$TMP/bad_model.log"; then
    cat "$TMP/bad_model.log"
    echo "ros test: a missing model gave exit status $status (want 1 and the message)" >&2
    exit 1
fi
status=0
timeout 60 "$BIN/hrnet_node" __name:=hrnet_bad_param _model:="$MODEL" _kernels:=fast _threads:=two >"$TMP/bad_param.log" 2>&1 || status=$?
if [ "$status" != 1 ] || ! grep -q "~kernels: 'fast'" "$TMP/bad_param.log" || ! grep -q "~threads: not an integer" "$TMP/bad_param.log"; then
    cat "$TMP/bad_param.log"
    echo "ros test: bad parameters gave exit status $status (want 1 and the messages)" >&2
    exit 1
fi
say "a missing model and bad parameters: exit status 1 with the reason"

# The node, as the README launches it.
"$PY" /usr/bin/roslaunch hrnet_ros hrnet.launch model:="$MODEL" input_height:=128 input_width:=96 threads:=2 \
    use_detections:=true use_depth:=true publish_annotated:=true >"$TMP/node.log" 2>&1 &
LAUNCH=$!
PIDS+=("$LAUNCH")
"$PY" "$ROOT/examples/ros/test_node.py" drive --reference "$TMP/reference.json" --frames "$TMP/frames.rgb" --timeout 30
kill -0 "$LAUNCH" 2>/dev/null || { echo "ros test: the node (roslaunch) is no longer running" >&2; exit 1; }
if grep -E "process has died|Segmentation|Aborted|terminate called" "$TMP/node.log"; then
    echo "ros test: the node died" >&2
    exit 1
fi
say "node checked; stopping"
