// The ROS-independent core of hrnet_ros (include/hrnet_ros/core.hpp).
#include "hrnet_ros/core.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

namespace hrnet_ros::core {

namespace {

std::string str(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

bool finite_in(double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; }

int32_t kernel_set(const std::string &name) {
    if (name == "auto") return HRNET_KERNELS_AUTO;
    if (name == "generic") return HRNET_KERNELS_GENERIC;
    if (name == "avx2") return HRNET_KERNELS_AVX2;
    if (name == "avx512") return HRNET_KERNELS_AVX512;
    if (name == "neon") return HRNET_KERNELS_NEON;
    return -1;
}

int32_t precision_value(const std::string &name) {
    if (name == "fp32") return HRNET_PRECISION_FP32;
    if (name == "bf16") return HRNET_PRECISION_BF16;
    if (name == "int8") return HRNET_PRECISION_INT8;
    return -1;
}

// Bytes per pixel of a colour encoding, 0 if not one.
uint32_t colour_bytes(const std::string &e) {
    if (e == "rgb8" || e == "bgr8") return 3;
    if (e == "rgba8" || e == "bgra8") return 4;
    if (e == "mono8") return 1;
    return 0;
}

uint32_t depth_bytes(const std::string &e) {
    if (e == "16UC1") return 2;
    if (e == "32FC1") return 4;
    return 0;
}

bool host_big_endian() {
    const uint16_t one = 1;
    uint8_t first;
    std::memcpy(&first, &one, 1);
    return first == 0;
}

// Shared checks of a colour or depth image with `bpp` bytes per pixel.
std::string check_layout(const ImageView &im, uint32_t bpp, const char *what) {
    const uint64_t max_side = static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
    if (im.width == 0 || im.height == 0)
        return std::string(what) + " is empty (" + std::to_string(im.width) + "x" + std::to_string(im.height) + ")";
    if (im.width > max_side || im.height > max_side)
        return std::string(what) + " is too large (" + std::to_string(im.width) + "x" + std::to_string(im.height) + ")";
    const uint64_t row = static_cast<uint64_t>(im.width) * bpp;
    if (im.step < row)
        return std::string(what) + " step " + std::to_string(im.step) + " is smaller than a row of " +
               std::to_string(im.width) + " " + im.encoding + " pixels (" + std::to_string(row) + " bytes)";
    // The last row needs only its pixels; the others a full step. 64-bit: no overflow for 32-bit sizes.
    const uint64_t need = static_cast<uint64_t>(im.step) * (im.height - 1) + row;
    if (im.data == nullptr || im.size < need)
        return std::string(what) + " has " + std::to_string(im.size) + " bytes of data, " + std::to_string(im.width) +
               "x" + std::to_string(im.height) + " " + im.encoding + " with step " + std::to_string(im.step) +
               " needs " + std::to_string(need);
    return "";
}

}  // namespace

/* ------------------------------------------------------------------------------------------ */

std::vector<std::string> validate(const Params &p) {
    std::vector<std::string> bad;
    if (p.model.empty()) bad.push_back("~model: no checkpoint path given");
    const bool h0 = p.input_height == 0, w0 = p.input_width == 0;
    if (h0 != w0 || (!h0 && (p.input_height < 0 || p.input_width < 0 || p.input_height % 32 != 0 ||
                             p.input_width % 32 != 0)))
        bad.push_back("~input_height, ~input_width: " + std::to_string(p.input_height) + "x" +
                      std::to_string(p.input_width) + " is not two positive multiples of 32 (or 0 and 0: the model's default)");
    if (p.threads < 0) bad.push_back("~threads: " + std::to_string(p.threads) + " is negative (0 = all cores)");
    if (kernel_set(p.kernels) < 0)
        bad.push_back("~kernels: '" + p.kernels + "' is not one of auto, generic, avx2, avx512, neon");
    if (precision_value(p.precision) < 0) bad.push_back("~precision: '" + p.precision + "' is not fp32, bf16 or int8");
    if ((p.precision == "int8") != !p.calibration.empty())
        bad.push_back(p.calibration.empty() ? "~calibration: int8 precision needs the checkpoint's calibration file"
                                            : "~calibration: given, but the precision is not int8");
    if (p.detect_every < 0)
        bad.push_back("~detect_every: " + std::to_string(p.detect_every) + " is negative (0 = automatic)");
    if (!finite_in(p.detection_timeout, 0, 60))
        bad.push_back("~detection_timeout: " + str(p.detection_timeout) + " s is not within 0..60");
    if (!finite_in(p.depth_timeout, 0, 60))
        bad.push_back("~depth_timeout: " + str(p.depth_timeout) + " s is not within 0..60");
    if (!finite_in(p.marker_scale, 1e-9, 1e3) )
        bad.push_back("~marker_scale: " + str(p.marker_scale) + " m/pixel is not positive and finite");
    if (!finite_in(p.min_score, 0, 1)) bad.push_back("~min_score: " + str(p.min_score) + " is not within 0..1");
    return bad;
}

hrnet::Options session_options(const Params &p) {
    hrnet::Options o = hrnet::Options()
                           .input_size(p.input_height, p.input_width)
                           .threads(p.threads)
                           .kernels(static_cast<hrnet_kernel_set>(kernel_set(p.kernels)))
                           .precision(static_cast<hrnet_precision>(precision_value(p.precision)));
    if (!p.calibration.empty()) o.c.calibration_path = p.calibration.c_str();
    return o;
}

/* ------------------------------------------------------------------------------------------ */

bool colour_encoding(const std::string &encoding) { return colour_bytes(encoding) != 0; }

std::string check_image(const ImageView &im) {
    const uint32_t bpp = colour_bytes(im.encoding);
    if (bpp == 0)
        return "image encoding '" + im.encoding + "' is not supported (rgb8, bgr8, rgba8, bgra8, mono8)";
    return check_layout(im, bpp, "image");
}

std::string to_hrnet_image(const ImageView &im, std::vector<uint8_t> &storage, hrnet_image *out) {
    std::string why = check_image(im);
    if (!why.empty()) return why;
    out->width = static_cast<int32_t>(im.width);
    out->height = static_cast<int32_t>(im.height);
    if (im.encoding == "rgb8" || im.encoding == "bgr8" || im.encoding == "rgba8") {
        out->data = im.data;
        out->stride = im.step;
        out->format = im.encoding == "rgb8" ? HRNET_PIXEL_RGB8 : im.encoding == "bgr8" ? HRNET_PIXEL_BGR8 : HRNET_PIXEL_RGBA8;
        return "";
    }
    const size_t w = im.width, h = im.height;
    storage.resize(w * h * 3);
    for (size_t y = 0; y < h; y++) {
        const uint8_t *src = im.data + y * im.step;
        uint8_t *dst = storage.data() + y * w * 3;
        if (im.encoding == "mono8") {
            for (size_t x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
        } else {  // bgra8
            for (size_t x = 0; x < w; x++) {
                dst[3 * x] = src[4 * x + 2];
                dst[3 * x + 1] = src[4 * x + 1];
                dst[3 * x + 2] = src[4 * x];
            }
        }
    }
    out->data = storage.data();
    out->stride = w * 3;
    out->format = HRNET_PIXEL_RGB8;
    return "";
}

void to_rgb(const hrnet_image &im, std::vector<uint8_t> &rgb) {
    const size_t w = static_cast<size_t>(im.width), h = static_cast<size_t>(im.height);
    const size_t bpp = im.format == HRNET_PIXEL_RGBA8 ? 4 : 3;
    const bool bgr = im.format == HRNET_PIXEL_BGR8;
    rgb.resize(w * h * 3);
    for (size_t y = 0; y < h; y++) {
        const uint8_t *src = im.data + y * im.stride;
        uint8_t *dst = rgb.data() + y * w * 3;
        for (size_t x = 0; x < w; x++) {
            dst[3 * x] = src[bpp * x + (bgr ? 2 : 0)];
            dst[3 * x + 1] = src[bpp * x + 1];
            dst[3 * x + 2] = src[bpp * x + (bgr ? 0 : 2)];
        }
    }
}

std::string check_depth(const ImageView &im) {
    const uint32_t bpp = depth_bytes(im.encoding);
    if (bpp == 0) return "depth encoding '" + im.encoding + "' is not supported (16UC1 millimetres, 32FC1 metres)";
    if (im.big_endian != host_big_endian())
        return std::string("depth image is ") + (im.big_endian ? "big" : "little") +
               "-endian, this machine is not (byte-swapped depth is not supported)";
    std::string why = check_layout(im, bpp, "depth image");
    if (!why.empty()) return why;
    if (im.step % bpp != 0) return "depth image step " + std::to_string(im.step) + " is not a whole number of pixels";
    return "";
}

std::string to_depth_image(const ImageView &im, hrnet_depth_image *out) {
    std::string why = check_depth(im);
    if (!why.empty()) return why;
    out->data = im.data;
    out->width = static_cast<int32_t>(im.width);
    out->height = static_cast<int32_t>(im.height);
    out->stride = im.step;
    out->format = depth_bytes(im.encoding) == 2 ? HRNET_DEPTH_UINT16_MM : HRNET_DEPTH_FLOAT32_M;
    return "";
}

std::string to_intrinsics(const double k[9], hrnet_intrinsics *out) {
    for (int i = 0; i < 9; i++)
        if (!std::isfinite(k[i])) return "camera matrix K has a non-finite value";
    if (!(k[0] > 0 && k[4] > 0))
        return "camera matrix K has no focal length (fx " + str(k[0]) + ", fy " + str(k[4]) + "): camera not calibrated?";
    out->fx = k[0];
    out->fy = k[4];
    out->cx = k[2];
    out->cy = k[5];
    return "";
}

std::string boxes_from_flat(const float *v, size_t count, std::vector<hrnet_box> &out) {
    out.clear();
    if (count % 5 != 0)
        return "boxes has " + std::to_string(count) + " values, not a multiple of 5 (x, y, w, h, score per box)";
    out.reserve(count / 5);
    for (size_t i = 0; i < count; i += 5) out.push_back(hrnet_box{v[i], v[i + 1], v[i + 2], v[i + 3], v[i + 4]});
    return "";
}

std::vector<hrnet_box> usable_boxes(const std::vector<hrnet_box> &boxes, int32_t width, int32_t height) {
    std::vector<hrnet_box> out;
    out.reserve(boxes.size());
    for (const hrnet_box &b : boxes)
        if (std::isfinite(b.x) && std::isfinite(b.y) && std::isfinite(b.width) && std::isfinite(b.height) &&
            std::isfinite(b.score) && b.width > 0 && b.height > 0 && b.x < static_cast<float>(width) &&
            b.y < static_cast<float>(height) && b.x + b.width > 0 && b.y + b.height > 0)
            out.push_back(b);
    return out;
}

/* ------------------------------------------------------------------------------------------ */

namespace {

const Params &checked(const Params &params) {
    std::vector<std::string> bad = validate(params);
    if (!bad.empty()) throw std::invalid_argument(bad.front());
    return params;
}

hrnet::TrackerOptions tracker_options(const Params &params) {
    hrnet::TrackerOptions o;
    o.c.smoothing = params.smoothing ? 1 : 0;
    return o;
}

}  // namespace

Engine::Engine(const Params &params)
    : params_(checked(params)),
      session_(params.model, session_options(params)),
      tracker_(tracker_options(params)) {
    estimate_.flip(params.flip);
    hrnet_lift_options_init(&lift_);
    lift_.min_score = static_cast<float>(params.min_score);
    const int32_t k = session_.info().joints;
    if (hrnet_skeleton_for_joints(k) >= 0) {
        hrnet::Skeleton sk = hrnet::skeleton_for_joints(k);
        joint_names_ = sk.joints;
        limbs_ = sk.limbs;
    } else {
        for (int32_t j = 0; j < k; j++) joint_names_.push_back("joint_" + std::to_string(j));
    }
}

Result Engine::process(const hrnet_image &frame, double t, const std::vector<hrnet_box> *boxes,
                       const hrnet_depth_image *depth, const hrnet_intrinsics *intrinsics) {
    if (!std::isfinite(t)) throw hrnet::Error(HRNET_ERR_INVALID_ARGUMENT, "the frame's timestamp is not finite");
    Result r;
    uint64_t index = frames_;
    size_t last_count = last_count_;
    if (frames_ > 0 && t < last_time_) {
        // A stream that restarted (a bag played again): libhrnet refuses time going backwards.
        tracker_.reset();
        frames_ = 0;
        last_count_ = 0;
        index = 0;
        last_count = 0;
        r.reset = true;
    }
    const int every = params_.detect_every;
    std::vector<hrnet_box> given;
    if (params_.use_detections) {
        if (boxes != nullptr && (every == 0 || index % static_cast<uint64_t>(every) == 0)) {
            given = usable_boxes(*boxes, frame.width, frame.height);
            r.boxes_skipped = boxes->size() - given.size();
        }
    } else if (index == 0 || last_count == 0 || (every > 0 && index % static_cast<uint64_t>(every) == 0)) {
        given.push_back(hrnet_box{0, 0, static_cast<float>(frame.width), static_cast<float>(frame.height), 1});
    }
    r.boxes_given = given.size();

    const int32_t joints = session_.info().joints;
    const size_t k = static_cast<size_t>(joints);
    // hrnet::Tracker::update does not return covariances: the C call, with the wrapper's handles.
    const hrnet_estimate_options estimate = estimate_.get();
    hrnet_tracker_result res{};
    hrnet_status st;
    for (;;) {
        ids_.resize(capacity_);
        keypoints_.resize(capacity_ * k * 3);
        scores_.resize(capacity_);
        boxes_.resize(capacity_ * 4);
        covariances_.resize(capacity_ * k * 4);
        res = hrnet_tracker_result{};
        res.struct_size = sizeof res;
        res.capacity = capacity_;
        res.track_ids = ids_.data();
        res.keypoints = keypoints_.data();
        res.scores = scores_.data();
        res.boxes = boxes_.data();
        res.covariances = covariances_.data();
        st = hrnet_tracker_update(tracker_.get(), session_.get(), &frame, t, given.empty() ? nullptr : given.data(),
                                  given.size(), &estimate, &res);
        if (st == HRNET_ERR_BUFFER_TOO_SMALL && res.count > capacity_) {
            capacity_ = res.count;  // the tracker is unchanged: run the frame again
            continue;
        }
        break;
    }
    if (st != HRNET_OK) {
        throw hrnet::Error(st, session_.last_error());
    }
    frames_++;
    last_time_ = t;
    last_count_ = res.count;

    const size_t n = res.count;
    r.people.resize(n);
    for (size_t i = 0; i < n; i++) {
        Person &p = r.people[i];
        p.track_id = ids_[i];
        p.score = scores_[i];
        std::copy(&boxes_[4 * i], &boxes_[4 * i] + 4, p.box);
        p.keypoints.assign(&keypoints_[i * k * 3], &keypoints_[i * k * 3] + k * 3);
        p.covariance.assign(&covariances_[i * k * 4], &covariances_[i * k * 4] + k * 4);
    }

    if (depth != nullptr && intrinsics != nullptr) {
        if (depth->width != frame.width || depth->height != frame.height) {
            r.depth_error = "the depth image is " + std::to_string(depth->width) + "x" + std::to_string(depth->height) +
                            ", the colour image " + std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                            ": it must be aligned to the colour image";
        } else if (n > 0) {
            points_.resize(n * k * 3);
            valid_.resize(n * k);
            st = hrnet_lift_depth(keypoints_.data(), covariances_.data(), n, joints, depth, intrinsics, &lift_,
                                  points_.data(), valid_.data(), nullptr, n * k);
            if (st != HRNET_OK) {
                r.depth_error = std::string(hrnet_status_string(st)) + ": " + hrnet_last_error(nullptr);
            } else {
                r.lifted = true;
                for (size_t i = 0; i < n; i++) {
                    r.people[i].points3d.assign(&points_[i * k * 3], &points_[i * k * 3] + k * 3);
                    r.people[i].valid3d.assign(&valid_[i * k], &valid_[i * k] + k);
                }
            }
        } else {
            r.lifted = true;
        }
    }
    return r;
}

/* ------------------------------------------------------------------------------------------ */

Colour track_colour(int64_t id) {
    // Hues a golden angle apart, full saturation, bright.
    double h = std::fmod(static_cast<double>(id % 1000003) * 0.6180339887498949, 1.0) * 6.0;
    const int sector = static_cast<int>(h) % 6;
    const float f = static_cast<float>(h - std::floor(h));
    const float v = 1.0f, s = 0.85f, p = v * (1 - s), q = v * (1 - s * f), u = v * (1 - s * (1 - f));
    switch (sector) {
        case 0: return {v, u, p};
        case 1: return {q, v, p};
        case 2: return {p, v, u};
        case 3: return {p, q, v};
        case 4: return {u, p, v};
        default: return {v, p, q};
    }
}

std::vector<Skeleton3D> skeletons(const Result &result, const std::vector<std::pair<int32_t, int32_t>> &limbs,
                                  double scale, float min_score) {
    std::vector<Skeleton3D> out;
    for (const Person &p : result.people) {
        const size_t k = p.keypoints.size() / 3;
        std::vector<bool> ok(k);
        std::vector<Point3> at(k);
        for (size_t j = 0; j < k; j++) {
            if (result.lifted) {
                ok[j] = p.valid3d.size() == k && p.valid3d[j] != 0;
                if (ok[j]) at[j] = {p.points3d[3 * j], p.points3d[3 * j + 1], p.points3d[3 * j + 2]};
            } else {
                ok[j] = p.keypoints[3 * j + 2] >= min_score && std::isfinite(p.keypoints[3 * j]) &&
                        std::isfinite(p.keypoints[3 * j + 1]);
                at[j] = {p.keypoints[3 * j] * scale, p.keypoints[3 * j + 1] * scale, 0.0};
            }
        }
        Skeleton3D s;
        s.track_id = p.track_id;
        s.colour = track_colour(p.track_id);
        for (size_t j = 0; j < k; j++)
            if (ok[j]) s.joints.push_back(at[j]);
        for (const auto &l : limbs) {
            const size_t a = static_cast<size_t>(l.first), b = static_cast<size_t>(l.second);
            if (a < k && b < k && ok[a] && ok[b]) {
                s.segments.push_back(at[a]);
                s.segments.push_back(at[b]);
            }
        }
        out.push_back(std::move(s));
    }
    return out;
}

namespace {

void dot(std::vector<uint8_t> &rgb, int32_t w, int32_t h, double cx, double cy, int r, const uint8_t c[3]) {
    const long x0 = std::lround(cx), y0 = std::lround(cy);
    for (long y = y0 - r; y <= y0 + r; y++) {
        if (y < 0 || y >= h) continue;
        for (long x = x0 - r; x <= x0 + r; x++) {
            if (x < 0 || x >= w || (x - x0) * (x - x0) + (y - y0) * (y - y0) > r * r) continue;
            uint8_t *px = &rgb[(static_cast<size_t>(y) * w + x) * 3];
            px[0] = c[0];
            px[1] = c[1];
            px[2] = c[2];
        }
    }
}

bool inside(double v, int32_t side) { return std::isfinite(v) && v > -side && v < 2.0 * side; }

}  // namespace

void draw(std::vector<uint8_t> &rgb, int32_t w, int32_t h, const Result &result,
          const std::vector<std::pair<int32_t, int32_t>> &limbs, float min_score) {
    if (rgb.size() < static_cast<size_t>(w) * h * 3) return;
    for (const Person &p : result.people) {
        const Colour c = track_colour(p.track_id);
        const uint8_t col[3] = {static_cast<uint8_t>(c.r * 255), static_cast<uint8_t>(c.g * 255),
                                static_cast<uint8_t>(c.b * 255)};
        const uint8_t white[3] = {255, 255, 255};
        const size_t k = p.keypoints.size() / 3;
        auto ok = [&](size_t j) {
            return j < k && p.keypoints[3 * j + 2] >= min_score && inside(p.keypoints[3 * j], w) &&
                   inside(p.keypoints[3 * j + 1], h);
        };
        for (const auto &l : limbs) {
            const size_t a = static_cast<size_t>(l.first), b = static_cast<size_t>(l.second);
            if (!ok(a) || !ok(b)) continue;
            const double x0 = p.keypoints[3 * a], y0 = p.keypoints[3 * a + 1];
            const double x1 = p.keypoints[3 * b], y1 = p.keypoints[3 * b + 1];
            const int steps = static_cast<int>(std::ceil(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0)))) + 1;
            for (int i = 0; i <= steps; i++) {
                const double f = static_cast<double>(i) / steps;
                dot(rgb, w, h, x0 + f * (x1 - x0), y0 + f * (y1 - y0), 1, col);
            }
        }
        for (size_t j = 0; j < k; j++)
            if (ok(j)) {
                dot(rgb, w, h, p.keypoints[3 * j], p.keypoints[3 * j + 1], 3, white);
                dot(rgb, w, h, p.keypoints[3 * j], p.keypoints[3 * j + 1], 2, col);
            }
    }
}

}  // namespace hrnet_ros::core
