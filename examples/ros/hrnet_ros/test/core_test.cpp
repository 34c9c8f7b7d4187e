// Tests of the ROS-independent core (no ROS running): image and depth conversion, parameters,
// boxes, the latest-wins slot, matching by stamp, and the engine's rules on a real model.
//
//     hrnet_ros_core_test MODEL.pth INPUT_HEIGHT INPUT_WIDTH
#include "hrnet_ros/core.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace hrnet_ros::core;

static int passed = 0, failed = 0;

#define CHECK(...)                                                                    \
    do {                                                                              \
        if (__VA_ARGS__) {                                                              \
            passed++;                                                                 \
        } else {                                                                      \
            failed++;                                                                 \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #__VA_ARGS__); \
        }                                                                             \
    } while (0)

static bool contains(const std::string &s, const char *part) { return s.find(part) != std::string::npos; }

static ImageView view(const char *encoding, uint32_t w, uint32_t h, uint32_t step, const std::vector<uint8_t> &data) {
    ImageView v;
    v.encoding = encoding;
    v.width = w;
    v.height = h;
    v.step = step;
    v.data = data.data();
    v.size = data.size();
    return v;
}

static void test_images() {
    // 3 x 2 pixels, rows padded to 16 bytes: used in place with its step.
    std::vector<uint8_t> rgb(16 * 2, 0);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++) rgb[16 * y + 3 * x + c] = static_cast<uint8_t>(10 * y + 3 * x + c);
    std::vector<uint8_t> storage;
    hrnet_image im{};
    CHECK(to_hrnet_image(view("rgb8", 3, 2, 16, rgb), storage, &im).empty());
    CHECK(im.data == rgb.data() && im.stride == 16 && im.format == HRNET_PIXEL_RGB8 && im.width == 3 && im.height == 2);
    CHECK(storage.empty());
    CHECK(to_hrnet_image(view("bgr8", 3, 2, 16, rgb), storage, &im).empty() && im.format == HRNET_PIXEL_BGR8);
    std::vector<uint8_t> packed;
    to_rgb(im, packed);
    CHECK(packed.size() == 18 && packed[0] == 2 && packed[2] == 0 && packed[9 + 3] == 15);

    // The last row needs only its pixels, not a whole step.
    std::vector<uint8_t> short_last(16 + 9);
    CHECK(check_image(view("rgb8", 3, 2, 16, short_last)).empty());
    std::vector<uint8_t> too_short(16 + 8);
    CHECK(contains(check_image(view("rgb8", 3, 2, 16, too_short)), "needs 25"));
    CHECK(contains(check_image(view("rgb8", 3, 2, 8, rgb)), "step 8 is smaller"));
    CHECK(contains(check_image(view("rgb8", 0, 2, 16, rgb)), "empty"));
    CHECK(contains(check_image(view("yuv422", 3, 2, 16, rgb)), "'yuv422' is not supported"));
    CHECK(contains(check_image(view("16UC1", 3, 2, 16, rgb)), "not supported"));
    CHECK(contains(check_image(view("rgb8", 3u << 30, 2, 16, rgb)), "too large"));
    ImageView none = view("rgb8", 3, 2, 16, rgb);
    none.data = nullptr;
    CHECK(!check_image(none).empty());
    // A step and height whose product overflows 32 bits is refused by size, not read.
    CHECK(contains(check_image(view("rgb8", 1000, 100000, 4000000, rgb)), "bytes of data"));

    // mono8 and bgra8 are converted to packed RGB.
    std::vector<uint8_t> mono = {7, 8, 9, 0, 1, 2, 3, 0};
    CHECK(to_hrnet_image(view("mono8", 3, 2, 4, mono), storage, &im).empty());
    CHECK(im.format == HRNET_PIXEL_RGB8 && im.stride == 9 && im.data == storage.data());
    CHECK(storage.size() == 18 && storage[0] == 7 && storage[1] == 7 && storage[5] == 8 && storage[9] == 1 && storage[17] == 3);
    std::vector<uint8_t> bgra = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(to_hrnet_image(view("bgra8", 2, 1, 8, bgra), storage, &im).empty());
    CHECK(storage == std::vector<uint8_t>({3, 2, 1, 7, 6, 5}));
    CHECK(to_hrnet_image(view("rgba8", 2, 1, 8, bgra), storage, &im).empty() && im.format == HRNET_PIXEL_RGBA8);
}

static void test_depth() {
    std::vector<uint8_t> d(4 * 2 * 2);
    hrnet_depth_image out{};
    CHECK(to_depth_image(view("16UC1", 4, 2, 8, d), &out).empty() && out.format == HRNET_DEPTH_UINT16_MM && out.stride == 8);
    CHECK(to_depth_image(view("32FC1", 2, 2, 8, d), &out).empty() && out.format == HRNET_DEPTH_FLOAT32_M);
    CHECK(contains(check_depth(view("32FC1", 3, 2, 8, d)), "smaller than a row"));
    CHECK(contains(check_depth(view("16UC1", 3, 2, 7, d)), "whole number"));
    CHECK(contains(check_depth(view("rgb8", 2, 2, 8, d)), "not supported"));
    ImageView be = view("16UC1", 4, 2, 8, d);
    be.big_endian = true;
    CHECK(contains(check_depth(be), "big-endian"));

    hrnet_intrinsics k{};
    const double good[9] = {600, 0, 320, 0, 610, 240, 0, 0, 1};
    CHECK(to_intrinsics(good, &k).empty() && k.fx == 600 && k.fy == 610 && k.cx == 320 && k.cy == 240);
    const double zero[9] = {0};
    CHECK(contains(to_intrinsics(zero, &k), "not calibrated"));
    double nan[9] = {600, 0, 320, 0, 610, 240, 0, 0, 1};
    nan[2] = std::nan("");
    CHECK(contains(to_intrinsics(nan, &k), "non-finite"));
}

static void test_params_and_boxes() {
    Params p;
    CHECK(validate(p).size() == 1);   // no model
    p.model = "m.pth";
    CHECK(validate(p).empty());
    p.input_height = 128;
    CHECK(validate(p).size() == 1);   // one of the two
    p.input_width = 100;
    CHECK(validate(p).size() == 1);
    p.input_width = 96;
    p.kernels = "sse";
    p.precision = "fp16";
    p.threads = -1;
    p.detect_every = -2;
    p.detection_timeout = std::numeric_limits<double>::infinity();
    p.min_score = 2;
    CHECK(validate(p).size() == 6);
    p = Params{};
    p.model = "m.pth";
    p.kernels = "avx2";
    p.precision = "bf16";
    hrnet_options o = session_options(p).c;
    CHECK(o.kernels == HRNET_KERNELS_AVX2 && o.precision == HRNET_PRECISION_BF16 && o.struct_size == sizeof o);
    CHECK(o.calibration_path == nullptr);
    p.precision = "int8";
    CHECK(validate(p).size() == 1);   // needs a calibration
    p.calibration = "m.calib";
    CHECK(validate(p).empty());
    o = session_options(p).c;
    CHECK(o.precision == HRNET_PRECISION_INT8 && o.calibration_path == p.calibration.c_str());
    p.precision = "fp32";
    CHECK(validate(p).size() == 1);   // a calibration without int8

    std::vector<hrnet_box> boxes;
    const float flat[10] = {1, 2, 3, 4, 0.5f, 5, 6, 7, 8, 0.9f};
    CHECK(boxes_from_flat(flat, 10, boxes).empty() && boxes.size() == 2 && boxes[1].x == 5 && boxes[1].score == 0.9f);
    CHECK(contains(boxes_from_flat(flat, 7, boxes), "multiple of 5") && boxes.empty());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<hrnet_box> many = {{0, 0, 10, 10, 1}, {-20, 0, 10, 10, 1}, {0, 0, 0, 10, 1}, {nan, 0, 1, 1, 1},
                                   {99, 49, 5, 5, 1}, {100, 0, 5, 5, 1}, {-5, -5, 5.5f, 5.5f, 1}};
    std::vector<hrnet_box> ok = usable_boxes(many, 100, 50);
    CHECK(ok.size() == 3 && ok[1].x == 99 && ok[2].x == -5);
}

static void test_slot_and_buffer() {
    LatestSlot<int> slot;
    CHECK(!slot.put(1));
    CHECK(slot.put(2));   // 1 dropped
    int v = 0;
    CHECK(slot.take(&v) && v == 2);
    CHECK(!slot.put(3));
    std::thread closer([&] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); slot.close(); });
    CHECK(slot.take(&v) && v == 3);
    CHECK(!slot.take(&v));   // woken by close
    closer.join();

    StampedBuffer<int> buf(3);
    buf.put(Stamp{1, 0}, 10);
    buf.put(Stamp{2, 5}, 20);
    CHECK(buf.take(Stamp{2, 5}, std::chrono::milliseconds(0), &v) && v == 20);
    CHECK(!buf.take(Stamp{1, 0}, std::chrono::seconds(5), &v));   // dropped as older than the one taken
    buf.put(Stamp{3, 0}, 30);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(!buf.take(Stamp{2, 9}, std::chrono::seconds(5), &v));   // a newer one is there: no wait
    CHECK(!buf.take(Stamp{4, 0}, std::chrono::milliseconds(30), &v));   // times out
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    std::thread late([&] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); buf.put(Stamp{5, 0}, 50); });
    CHECK(buf.take(Stamp{5, 0}, std::chrono::seconds(5), &v) && v == 50);   // arrives while waiting
    late.join();
    for (uint32_t i = 10; i < 20; i++) buf.put(Stamp{i, 0}, static_cast<int>(i));
    CHECK(!buf.take(Stamp{10, 0}, std::chrono::milliseconds(0), &v));   // only the newest 3 are kept
    CHECK(buf.take(Stamp{17, 0}, std::chrono::milliseconds(0), &v) && v == 17);
    // A recording played again: earlier stamps are not waited for until restart().
    const auto t1 = std::chrono::steady_clock::now();
    CHECK(!buf.take(Stamp{0, 5}, std::chrono::seconds(5), &v));
    CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(2));
    buf.restart(Stamp{0, 5});
    std::thread again([&] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); buf.put(Stamp{0, 5}, 5); });
    CHECK(buf.take(Stamp{0, 5}, std::chrono::seconds(5), &v) && v == 5);
    again.join();
    CHECK(!buf.take(Stamp{18, 0}, std::chrono::milliseconds(0), &v));   // left from before: dropped
    CHECK(Stamp{3, 500000000}.seconds() == 3.5 && Stamp{}.zero());

    LogLimiter limiter(5.0);
    CHECK(limiter.allow("a", 100.0) && !limiter.allow("a", 101.0) && limiter.allow("b", 101.5));
    CHECK(limiter.allow("a", 102.0) && !limiter.allow("a", 106.9) && limiter.allow("a", 107.0));

    for (int64_t id = 1; id < 50; id++) {
        Colour c = track_colour(id);
        CHECK(c.r >= 0 && c.r <= 1 && c.g >= 0 && c.g <= 1 && c.b >= 0 && c.b <= 1);
    }
}

static void test_engine(const char *model, int h, int w) {
    Params p;
    p.model = "/nonexistent/model.pth";
    try {
        Engine e(p);
        CHECK(false);
    } catch (const hrnet::Error &e) {
        CHECK(e.status() == HRNET_ERR_IO && contains(e.what(), "/nonexistent/model.pth"));
    }
    p.model = model;
    p.input_height = h;
    p.input_width = w;
    p.threads = 1;
    Engine e(p);
    CHECK(e.joints() == 17 && e.joint_names().size() == 17 && e.joint_names()[0] == "nose" && !e.limbs().empty());

    // A gray frame with a dark upright block: the whole image is the box on the first frame.
    const int32_t fw = 96, fh = 128;
    std::vector<uint8_t> rgb(static_cast<size_t>(fw) * fh * 3, 128);
    for (int y = 20; y < 110; y++)
        for (int x = 35; x < 60; x++)
            for (int c = 0; c < 3; c++) rgb[(static_cast<size_t>(y) * fw + x) * 3 + c] = 20;
    hrnet_image im{rgb.data(), fw, fh, static_cast<size_t>(fw) * 3, HRNET_PIXEL_RGB8};
    Result r = e.process(im, 1.0, nullptr);
    CHECK(r.boxes_given == 1 && !r.reset && e.frames() == 1);
    for (const Person &q : r.people) CHECK(q.keypoints.size() == 51 && q.covariance.size() == 68 && q.points3d.empty());
    const bool found = !r.people.empty();
    r = e.process(im, 1.1, nullptr);   // the whole image again only if nobody is tracked
    CHECK(r.boxes_given == (found ? 0u : 1u));
    try {
        e.process(im, std::nan(""), nullptr);
        CHECK(false);
    } catch (const hrnet::Error &err) {
        CHECK(err.status() == HRNET_ERR_INVALID_ARGUMENT);
    }
    CHECK(e.frames() == 2);
    r = e.process(im, 0.5, nullptr);   // backwards: reset, then the whole image again
    CHECK(r.reset && r.boxes_given == 1 && e.frames() == 1);

    // Depth: a flat wall at 2 m lifts every joint found; a depth image of another size does not.
    std::vector<uint16_t> depth(static_cast<size_t>(fw) * fh, 2000);
    hrnet_depth_image d{depth.data(), fw, fh, static_cast<size_t>(fw) * 2, HRNET_DEPTH_UINT16_MM};
    hrnet_intrinsics k{100, 100, fw / 2.0, fh / 2.0};
    r = e.process(im, 0.6, nullptr, &d, &k);
    CHECK(r.lifted && r.depth_error.empty());
    for (const Person &q : r.people) {
        CHECK(q.points3d.size() == 51 && q.valid3d.size() == 17);
        for (int j = 0; j < 17; j++)
            if (q.valid3d[j]) CHECK(std::fabs(q.points3d[3 * j + 2] - 2.0f) < 1e-3f);
    }
    hrnet_depth_image small{depth.data(), fw / 2, fh, static_cast<size_t>(fw) * 2, HRNET_DEPTH_UINT16_MM};
    r = e.process(im, 0.7, nullptr, &small, &k);
    CHECK(!r.lifted && contains(r.depth_error, "aligned"));

    // With detections: boxes used as given (unusable ones skipped); none = carried forward.
    p.use_detections = true;
    p.detect_every = 2;
    Engine det(p);
    std::vector<hrnet_box> boxes = {{30, 15, 35, 100, 0.9f}, {500, 500, 10, 10, 0.8f}};
    r = det.process(im, 0, &boxes);
    CHECK(r.boxes_given == 1 && r.boxes_skipped == 1);
    CHECK(!det.detector_frame());
    r = det.process(im, 0.1, &boxes);   // frame 1: not a detector frame
    CHECK(r.boxes_given == 0);
    CHECK(det.detector_frame());
    r = det.process(im, 0.2, nullptr);  // no detections came
    CHECK(r.boxes_given == 0);

    std::vector<Skeleton3D> sk = skeletons(r, det.limbs(), 0.001, 0.2f);
    CHECK(sk.size() == r.people.size());
    for (const Skeleton3D &s : sk) {
        CHECK(s.segments.size() % 2 == 0);
        for (const Point3 &q : s.joints) CHECK(q.z == 0 && q.x >= -1 && q.x < 1);
    }
    std::vector<uint8_t> canvas = rgb;
    draw(canvas, fw, fh, r, det.limbs(), 0.2f);
    CHECK(canvas.size() == rgb.size());
    // Drawing people whose keypoints lie far outside (or are NaN) stays inside the buffer.
    Result wild;
    Person q;
    q.track_id = 3;
    q.keypoints.assign(51, 1e9f);
    q.keypoints[2] = 1;
    q.keypoints[3] = std::nanf("");
    q.keypoints[5] = 1;
    wild.people.push_back(q);
    draw(canvas, fw, fh, wild, det.limbs(), 0.2f);
    CHECK(skeletons(wild, det.limbs(), 0.001, 0.2f).size() == 1);
}

int main(int argc, char **argv) {
    test_images();
    test_depth();
    test_params_and_boxes();
    test_slot_and_buffer();
    if (argc >= 4) test_engine(argv[1], std::atoi(argv[2]), std::atoi(argv[3]));
    else std::fprintf(stderr, "core_test: no model given: engine checks skipped\n");
    std::printf("core_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
