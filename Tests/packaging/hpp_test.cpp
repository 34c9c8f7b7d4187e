// Test of include/hrnet.hpp, the C++17 wrapper: every wrapped call gives what the C call gives,
// every failure is an hrnet::Error carrying the library's status and message, and the handle
// classes are move-only and release what they own. Built by Tests/packaging/run.sh with g++ and
// clang++ at -Wall -Wextra -Werror (and more), against an installed prefix.
//
//   hpp_test CHECKPOINT.pth       (Tests/fixtures/coco_w8.pth: 17 joints, input 256x192)
//
// HRNET_TEST_TRACKER (defined when the library exports hrnet_tracker_update) adds the tracker.
#include <hrnet.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

static_assert(std::is_base_of<std::runtime_error, hrnet::Error>::value, "Error is a runtime_error");
static_assert(!std::is_copy_constructible<hrnet::Session>::value, "Session is move-only");
static_assert(!std::is_copy_assignable<hrnet::Session>::value, "Session is move-only");
static_assert(!std::is_copy_constructible<hrnet::Model>::value, "Model is move-only");
static_assert(!std::is_copy_constructible<hrnet::Tracker>::value, "Tracker is move-only");
static_assert(std::is_nothrow_move_constructible<hrnet::Session>::value, "Session moves without throwing");
static_assert(std::is_nothrow_move_assignable<hrnet::Session>::value, "Session moves without throwing");
static_assert(std::is_nothrow_move_constructible<hrnet::Model>::value, "Model moves without throwing");
static_assert(std::is_nothrow_move_constructible<hrnet::Tracker>::value, "Tracker moves without throwing");

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                                \
    do {                                                                           \
        ++checks;                                                                  \
        if (!(cond)) {                                                             \
            ++failures;                                                            \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

// Runs `body`, which must throw hrnet::Error with `status` and the message the library gives
// for it (`expected_message`, read after the throw, e.g. hrnet_last_error of the session).
template <typename Body, typename Message>
static void expect_error(const char *what, hrnet_status status, Body body, Message expected_message) {
    ++checks;
    try {
        body();
        ++failures;
        std::fprintf(stderr, "%s: no exception\n", what);
    } catch (const hrnet::Error &e) {
        const std::string msg = e.what();
        const std::string expected = expected_message();
        if (e.status() != status || msg.empty() || msg != expected ||
            std::strcmp(e.status_name(), hrnet_status_string(status)) != 0) {
            ++failures;
            std::fprintf(stderr, "%s: status %s, message '%s' (expected %s, '%s')\n", what, e.status_name(),
                         msg.c_str(), hrnet_status_string(status), expected.c_str());
        }
    }
}

static std::vector<float> pattern(std::size_t n) {
    std::vector<float> v(n);
    uint32_t x = 12345;
    for (float &f : v) {
        x = x * 1664525u + 1013904223u;
        f = static_cast<float>(x >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    return v;
}

static bool all_finite(const std::vector<float> &v) {
    for (float f : v)
        if (!std::isfinite(f)) return false;
    return true;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CHECKPOINT.pth\n", argv[0]);
        return 2;
    }
    const std::string path = argv[1];

    // Version.
    CHECK(hrnet::version() == HRNET_VERSION_STRING);
    CHECK(hrnet::version_number() == static_cast<uint32_t>(HRNET_VERSION_NUMBER));
    hrnet::check_version();
    CHECK(hrnet::kernels_supported(HRNET_KERNELS_AUTO));
    CHECK(hrnet::kernels_supported(HRNET_KERNELS_GENERIC));

    // A session from a path, with options; info() as the C call fills it.
    hrnet::Session s(path, hrnet::Options().threads(1));
    const hrnet_info &info = s.info();
    CHECK(info.struct_size == sizeof(hrnet_info));
    CHECK(info.joints == 17 && info.input_height == 256 && info.input_width == 192);
    CHECK(info.heatmap_height == 64 && info.heatmap_width == 48 && info.num_threads == 1);
    hrnet_info c_info = hrnet_info();
    c_info.struct_size = sizeof c_info;
    CHECK(hrnet_session_info(s.get(), &c_info) == HRNET_OK);
    CHECK(std::memcmp(&c_info, &info, sizeof info) == 0);

    // forward: the C call's result, bit for bit.
    const std::size_t crop = s.input_floats();
    CHECK(crop == 3u * 256u * 192u);
    const std::vector<float> input = pattern(2 * crop);
    const std::vector<float> hm = s.forward(input.data(), input.size());
    CHECK(hm.size() == 2 * s.heatmap_floats() && all_finite(hm));
    std::vector<float> c_hm(hm.size());
    CHECK(hrnet_forward(s.get(), input.data(), 2, input.size(), c_hm.data(), c_hm.size()) == HRNET_OK);
    CHECK(std::memcmp(c_hm.data(), hm.data(), hm.size() * sizeof(float)) == 0);

    // Failures: hrnet::Error with the library's status and message.
    expect_error("forward, not a whole number of crops", HRNET_ERR_INVALID_ARGUMENT,
                 [&] { s.forward(input.data(), crop + 1); }, [&] { return std::string(s.last_error()); });
    expect_error("forward, no crop", HRNET_ERR_INVALID_ARGUMENT, [&] { s.forward(input.data(), 0); },
                 [&] { return std::string(s.last_error()); });
    expect_error("missing file", HRNET_ERR_IO, [] { hrnet::Session missing("/nonexistent/model.pth"); },
                 [] { return std::string(hrnet_last_error(nullptr)); });
    expect_error("model, missing file", HRNET_ERR_IO, [] { hrnet::Model missing("/nonexistent/model.pth"); },
                 [] { return std::string(hrnet_last_error(nullptr)); });
    const char garbage[] = "not a checkpoint at all";
    expect_error("model from garbage bytes", HRNET_ERR_FORMAT,
                 [&] { hrnet::Model::from_memory(garbage, sizeof garbage); },
                 [] { return std::string(hrnet_last_error(nullptr)); });
    expect_error("bad input size", HRNET_ERR_INVALID_ARGUMENT,
                 [&] { hrnet::Session bad(path, hrnet::Options().input_size(100, 100)); },
                 [] { return std::string(hrnet_last_error(nullptr)); });
    expect_error("odd flip pairs", HRNET_ERR_INVALID_ARGUMENT,
                 [] { hrnet::EstimateOptions().flip_pairs({1, 2, 3}).get(); },
                 [] { return std::string("flip_pairs: 2 x pairs indices expected, got 3"); });

    // A model from memory backs several sessions and may go before them.
    std::ifstream file(path, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CHECK(bytes.size() > 1000);
    hrnet::Session a = [&] {
        hrnet::Model m = hrnet::Model::from_memory(bytes.data(), bytes.size());
        CHECK(static_cast<bool>(m));
        hrnet::Session first(m, hrnet::Options().threads(1));
        hrnet::Session second(m, hrnet::Options().threads(1));
        CHECK(second.info().joints == 17);
        return first;   // the model and the second session are released here
    }();
    const std::vector<float> hm_a = a.forward(input.data(), input.size());
    CHECK(hm_a == hm);

    // Moves: the handle goes with the object, the moved-from object is empty.
    hrnet::Session moved(std::move(a));
    CHECK(!a && a.get() == nullptr && static_cast<bool>(moved));
    hrnet::Session target(path, hrnet::Options().threads(1));
    target = std::move(moved);   // closes target's own session
    CHECK(!moved && static_cast<bool>(target));
    CHECK(target.forward(input.data(), crop).size() == s.heatmap_floats());
    hrnet::Model mm = hrnet::Model::from_memory(bytes.data(), bytes.size());
    hrnet::Model mm2(std::move(mm));
    CHECK(!mm && static_cast<bool>(mm2));

    // The pipeline on a synthetic frame: the same numbers as the C calls.
    const int32_t fw = 320, fh = 240;
    std::vector<uint8_t> frame(static_cast<std::size_t>(fw * fh * 3));
    for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>((i * 7) % 251);
    const hrnet_image img = hrnet::image(frame.data(), fw, fh);
    CHECK(img.stride == static_cast<std::size_t>(fw) * 3 && img.format == HRNET_PIXEL_RGB8);
    const std::vector<hrnet_box> boxes = {{40, 20, 80, 200, 0.9f}, {40, 20, 80, 200, 0.8f}, {200, 30, 90, 180, 0.7f}};
    const hrnet::Poses p = s.estimate_boxes(img, boxes.data(), boxes.size(), hrnet::EstimateOptions(), true);
    CHECK(p.count == 3 && p.joints == 17);
    CHECK(p.keypoints.size() == 3 * 17 * 3 && p.scores.size() == 3 && p.areas.size() == 3);
    CHECK(p.heatmaps.size() == 3 * s.heatmap_floats() && p.heatmap_height == 64 && p.heatmap_width == 48);
    CHECK(all_finite(p.keypoints) && all_finite(p.heatmaps));
    CHECK(p.keypoint(1, 2) == p.keypoints.data() + (17 + 2) * 3);
    {
        hrnet_estimate_options eo;
        hrnet_estimate_options_init(&eo);
        std::vector<float> kp(p.keypoints.size()), sc(3), ar(3);
        CHECK(hrnet_estimate_boxes(s.get(), &img, boxes.data(), 3, &eo, kp.data(), kp.size(), sc.data(), ar.data(),
                                   nullptr, 0) == HRNET_OK);
        CHECK(kp == p.keypoints && sc == p.scores && ar == p.areas);
    }
    CHECK(hrnet::box_area(boxes[0], 256, 192) == static_cast<double>(p.areas[0]));
    // The same heatmaps decoded again give the same keypoints.
    const std::vector<float> decoded = hrnet::decode_heatmaps(p.heatmaps.data(), p.heatmaps.size(), 3, 17, 64, 48,
                                                              boxes.data(), HRNET_DECODE_STANDARD, 256, 192);
    CHECK(decoded == p.keypoints);
    expect_error("decode, wrong count", HRNET_ERR_INVALID_ARGUMENT,
                 [&] { hrnet::decode_heatmaps(p.heatmaps.data(), 5, 3, 17, 64, 48); },
                 [] { return std::string("decode_heatmaps: 5 floats given for 156672 (n x joints x height x width)"); });
    expect_error("decode, too large", HRNET_ERR_INVALID_ARGUMENT,
                 [&] { hrnet::decode_heatmaps(p.heatmaps.data(), 3 * 17 * 3000 * 3000, 3, 17, 3000, 3000); },
                 [] { return std::string(hrnet_last_error(nullptr)); });
    // OKS-NMS: the two identical boxes are one person.
    const std::vector<int32_t> keep = hrnet::oks_nms(p);
    CHECK(keep.size() == 2 && keep[0] == 0 && keep[1] == 2);
    CHECK(hrnet::oks_nms(p.keypoints.data(), p.scores.data(), p.areas.data(), 3, 17, 1.0f).size() == 3);
    expect_error("oks_nms, bad joints", HRNET_ERR_INVALID_ARGUMENT,
                 [&] { hrnet::oks_nms(p.keypoints.data(), p.scores.data(), p.areas.data(), 3, 0); },
                 [] { return std::string(hrnet_last_error(nullptr)); });
    // Boxes the library refuses.
    const hrnet_box outside = {5000, 5000, 10, 10, 1};
    expect_error("box outside the frame", HRNET_ERR_INVALID_ARGUMENT,
                 [&] { s.estimate_boxes(img, &outside, 1); }, [&] { return std::string(s.last_error()); });
    // No boxes: a frame with nobody in it (since 0.3), no people and no exception.
    {
        const hrnet::Poses none = s.estimate_boxes(img, boxes.data(), 0);
        CHECK(none.count == 0 && none.keypoints.empty() && none.scores.empty());
    }

    // Crops, flip off, DARK decoding; BGR layout with a row stride.
    const hrnet_image crop_img = hrnet::image(frame.data() + 20 * fw * 3 + 40 * 3, 96, 128, HRNET_PIXEL_BGR8,
                                              static_cast<std::size_t>(fw) * 3);
    const hrnet::Poses c = s.estimate_crops(&crop_img, 1, hrnet::EstimateOptions().flip(false).decode(HRNET_DECODE_DARK));
    CHECK(c.count == 1 && c.keypoints.size() == 17 * 3 && c.scores.size() == 1 && c.areas.empty() && c.heatmaps.empty());
    CHECK(all_finite(c.keypoints));
    {
        hrnet_estimate_options eo;
        hrnet_estimate_options_init(&eo);
        eo.flip = 0;
        eo.decode = HRNET_DECODE_DARK;
        std::vector<float> kp(17 * 3), sc(1);
        CHECK(hrnet_estimate_crops(s.get(), &crop_img, 1, &eo, kp.data(), kp.size(), sc.data(), nullptr, 0) == HRNET_OK);
        CHECK(kp == c.keypoints && sc == c.scores);
    }
    expect_error("oks_nms of crops", HRNET_ERR_INVALID_ARGUMENT, [&] { hrnet::oks_nms(c); }, [] {
        return std::string("oks_nms: the poses have no areas (they come from estimate_crops, not estimate_boxes)");
    });
    // Explicit flip pairs (COCO's) give the default result.
    const hrnet::Skeleton coco = hrnet::skeleton_for_joints(17);
    std::vector<int32_t> pairs;
    for (const auto &lr : coco.flip_pairs) {
        pairs.push_back(lr.first);
        pairs.push_back(lr.second);
    }
    const hrnet::Poses pf = s.estimate_boxes(img, boxes.data(), 3, hrnet::EstimateOptions().flip_pairs(pairs));
    CHECK(pf.keypoints == p.keypoints);

    // Skeletons.
    CHECK(coco.id == HRNET_SKELETON_COCO17 && coco.joints.size() == 17 && coco.joints[0] == "nose");
    CHECK(coco.sigmas.size() == 17 && coco.flip_pairs.size() == 8 && !coco.limbs.empty());
    const hrnet::Skeleton mpii = hrnet::skeleton(HRNET_SKELETON_MPII16);
    CHECK(mpii.joints.size() == 16 && mpii.sigmas.empty());
    expect_error("unknown skeleton", HRNET_ERR_INVALID_ARGUMENT, [] { hrnet::skeleton_for_joints(5); },
                 [] { return std::string("no skeleton has 5 joints"); });

#ifdef HRNET_TEST_TRACKER
    {
        hrnet::Tracker tracker;
        const hrnet::Tracks t1 = tracker.update(s, img, 0.0, boxes.data() + 2, 1);
        CHECK(t1.count == 1 && t1.ids.size() == 1 && t1.ids[0] >= 1 && t1.keypoints.size() == 17 * 3);
        const hrnet::Tracks t2 = tracker.update(s, img, 0.04, boxes.data() + 2, 1);
        CHECK(t2.count == 1 && t2.ids[0] == t1.ids[0]);
        expect_error("tracker, time going back", HRNET_ERR_INVALID_ARGUMENT,
                     [&] { tracker.update(s, img, 0.0, boxes.data() + 2, 1); },
                     [&] { return std::string(s.last_error()); });
        hrnet::Tracker other(std::move(tracker));
        CHECK(tracker.get() == nullptr && other.get() != nullptr);
        other.reset();
        const hrnet::Tracks t3 = other.update(s, img, 1.0, boxes.data() + 2, 1, hrnet::EstimateOptions(), true);
        CHECK(t3.count == 1 && t3.covariances.size() == 17 * 4 && t3.covariances[0] > 0 &&
              t3.covariances[1] == t3.covariances[2]);
    }
#endif

    // Per-joint covariances (0.3): one person's heatmaps, the crop's box.
    {
        const hrnet::Poses hp = s.estimate_boxes(img, boxes.data() + 2, 1, hrnet::EstimateOptions(), true);
        const hrnet_info i = s.info();
        const std::vector<float> cov = hrnet::keypoint_covariances(hp.heatmaps.data(), hp.heatmaps.size(), 1, i.joints,
                                                                   i.heatmap_height, i.heatmap_width, boxes.data() + 2,
                                                                   i.input_height, i.input_width);
        CHECK(cov.size() == static_cast<std::size_t>(i.joints) * 4 && cov[0] > 0 && cov[3] > 0 && cov[1] == cov[2]);
        expect_error("covariances, wrong count", HRNET_ERR_INVALID_ARGUMENT,
                     [&] { hrnet::keypoint_covariances(hp.heatmaps.data(), 5, 1, i.joints, i.heatmap_height, i.heatmap_width); },
                     [&] { return "keypoint_covariances: 5 floats given for " +
                                  std::to_string(i.joints * i.heatmap_height * i.heatmap_width) +
                                  " (n x joints x height x width)"; });
    }

    // 3D from depth (0.3): a flat wall at 2 m back-projects exactly.
    {
        std::vector<uint16_t> wall(64 * 48, 2000);
        const hrnet_depth_image depth = {wall.data(), 64, 48, 64 * 2, HRNET_DEPTH_UINT16_MM};
        const hrnet_intrinsics k = {100.0, 100.0, 32.0, 24.0};
        const float kp[2 * 3] = {42.0f, 24.0f, 0.9f, 10.0f, 10.0f, 0.1f};
        const hrnet::Points3D p3 = hrnet::lift_depth(kp, 1, 2, depth, k);
        CHECK(p3.points.size() == 6 && p3.valid.size() == 2 && p3.covariances.size() == 18);
        CHECK(p3.valid[0] == 1 && std::fabs(p3.points[0] - 0.2f) < 1e-6f && std::fabs(p3.points[2] - 2.0f) < 1e-6f);
        CHECK(p3.valid[1] == 0);   // below min_score
        hrnet_depth_image bad = depth;
        bad.stride = 10;
        expect_error("depth, stride too small", HRNET_ERR_INVALID_ARGUMENT, [&] { hrnet::lift_depth(kp, 1, 2, bad, k); },
                     [] { return std::string(hrnet_last_error(nullptr)); });
    }

    // INT8 calibration (0.3): a calibration made and saved; an INT8 session on it where the CPU
    // has an INT8 kernel set.
    {
        hrnet::Calibrator cal(s);
        cal.add_boxes(img, boxes.data(), boxes.size());
        const std::string cal_file = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/hpp_test.cal";
        cal.save(cal_file);
        try {
            hrnet::Session q(path, hrnet::Options().input_size(128, 96).int8(cal_file.c_str()));
            CHECK(q.info().precision == HRNET_PRECISION_INT8);
            const hrnet::Poses p8 = q.estimate_boxes(img, boxes.data(), boxes.size());
            CHECK(p8.count == boxes.size() && all_finite(p8.keypoints));
        } catch (const hrnet::Error &e) {
            CHECK(e.status() == HRNET_ERR_INVALID_ARGUMENT);   // a CPU without an INT8 kernel set
            std::printf("INT8 not run here: %s\n", e.what());
        }
        std::remove(cal_file.c_str());
        expect_error("INT8 without a calibration", HRNET_ERR_INVALID_ARGUMENT,
                     [&] { hrnet::Session(path, hrnet::Options().input_size(128, 96).precision(HRNET_PRECISION_INT8)); },
                     [] { return std::string(hrnet_last_error(nullptr)); });
    }

    std::printf("hrnet.hpp test (%s, C++ %ld): %d checks, %d failed\n", hrnet::version().c_str(),
                static_cast<long>(__cplusplus), checks, failures);
    std::printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
