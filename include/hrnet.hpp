/*
 * hrnet.hpp - a header-only C++17 wrapper of libhrnet's C interface (hrnet.h).
 *
 *   #include <hrnet.hpp>
 *
 *   hrnet::Session s("pose_hrnet_w32_256x192.pth", hrnet::Options().threads(2));
 *   hrnet_info info = s.info();
 *   std::vector<float> heatmaps = s.forward(input.data(), input.size());    // N x 3 x H x W floats
 *   hrnet::Poses p = s.estimate_boxes(hrnet::image(rgb, w, h), boxes.data(), boxes.size());
 *   std::vector<int32_t> keep = hrnet::oks_nms(p);                           // OKS-NMS at 0.9
 *
 * Link with the library as for C (`pkg-config --cflags --libs hrnet`, or CMake's hrnet::hrnet).
 * Nothing here is compiled into the library: every function is inline over the C functions, so
 * this header works with any C++17 compiler and standard library, whatever built libhrnet.
 *
 * - Every failure throws hrnet::Error (a std::runtime_error) whose what() is the library's
 *   message (hrnet_last_error) and whose status() is the hrnet_status. Sizes the wrapper has to
 *   compute itself (output buffers) are checked for overflow, and an output buffer that cannot be
 *   allocated is HRNET_ERR_OUT_OF_MEMORY, also as hrnet::Error.
 * - hrnet::Model, hrnet::Session and hrnet::Tracker own their C handle: move-only, released or
 *   closed by their destructor. get() gives the handle for C functions not wrapped here. A session
 *   holds a reference to its model, so a Model may be destroyed before the sessions made from it.
 * - Inputs are pointer + size, so they come from any container (std::vector, std::array, an
 *   image library's buffer); outputs are std::vectors. The threading rules are the C ones: a
 *   Model may be shared by threads, a Session or Tracker is used by one thread at a time.
 * - It follows the C interface as it grows: functions added to hrnet.h after 0.2 (the tracker,
 *   0.3) are wrapped here too, and a host that does not call them does not need them from the
 *   library (inline functions that are never called are never emitted).
 */
#ifndef HRNET_HPP
#define HRNET_HPP

#include "hrnet.h"

#if defined(_MSVC_LANG)
#if _MSVC_LANG < 201703L
#error "hrnet.hpp needs C++17 or later (/std:c++17)"
#endif
#elif __cplusplus < 201703L
#error "hrnet.hpp needs C++17 or later (e.g. -std=c++17)"
#endif

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hrnet {

/** A failure reported by libhrnet (or found by this wrapper before calling it). */
class Error : public std::runtime_error {
public:
    Error(hrnet_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    /** The status the library returned (never HRNET_OK). */
    hrnet_status status() const noexcept { return status_; }
    /** Its constant name, e.g. "HRNET_ERR_FORMAT". */
    const char *status_name() const noexcept { return hrnet_status_string(status_); }

private:
    hrnet_status status_;
};

namespace detail {

[[noreturn]] inline void fail(hrnet_status status, const char *message) {
    throw Error(status, message != nullptr && *message != '\0' ? message : hrnet_status_string(status));
}

/** Throws for a failed call without a session (message: the calling thread's last failure). */
inline void check(hrnet_status status) {
    if (status != HRNET_OK) fail(status, hrnet_last_error(nullptr));
}

/** Throws for a failed call on `session` (message: the session's last failure). */
inline void check(hrnet_status status, const hrnet_session *session) {
    if (status != HRNET_OK) fail(status, hrnet_last_error(session));
}

/** The product of `factors`, or Error(HRNET_ERR_INVALID_ARGUMENT) if it overflows size_t. */
inline std::size_t product(std::initializer_list<std::size_t> factors, const char *what) {
    std::size_t p = 1;
    for (std::size_t f : factors) {
        if (f != 0 && p > std::numeric_limits<std::size_t>::max() / f)
            fail(HRNET_ERR_INVALID_ARGUMENT, (std::string(what) + ": size overflows size_t").c_str());
        p *= f;
    }
    return p;
}

/** An output buffer of `count` elements; allocation failure is Error(HRNET_ERR_OUT_OF_MEMORY). */
template <typename T>
std::vector<T> buffer(std::size_t count, const char *what) {
    try {
        return std::vector<T>(count);
    } catch (const std::bad_alloc &) {
    } catch (const std::length_error &) {
    }
    fail(HRNET_ERR_OUT_OF_MEMORY,
         (std::string("cannot allocate ") + what + " (" + std::to_string(count) + " elements)").c_str());
}

inline std::size_t dim(int32_t v) { return v > 0 ? static_cast<std::size_t>(v) : 0; }

/** An owned C handle: move-only, freed by `Free` (a no-op for NULL, as all of the C API's are). */
template <typename T, void (*Free)(T *)>
struct HandleRelease {
    void operator()(T *p) const noexcept { Free(p); }
};
template <typename T, void (*Free)(T *)>
using Handle = std::unique_ptr<T, HandleRelease<T, Free>>;

/** A non-null pointer for an empty output (the library refuses NULL buffers, not empty ones). */
template <typename T>
T *data_or(std::vector<T> &v, T &scratch) noexcept { return v.empty() ? &scratch : v.data(); }

/* Throws Error(HRNET_ERR_INVALID_ARGUMENT) unless `count` floats are exactly n x joints x
 * height x width heatmaps (`what`: the calling function, for the message). */
inline void check_heatmap_count(const char *what, std::size_t count, std::size_t n, int32_t joints, int32_t height,
                                int32_t width) {
    const std::size_t expected = product({n, dim(joints), dim(height), dim(width)}, "heatmaps");
    if (count != expected)
        fail(HRNET_ERR_INVALID_ARGUMENT, (std::string(what) + ": " + std::to_string(count) + " floats given for " +
                                          std::to_string(expected) + " (n x joints x height x width)").c_str());
}

}  // namespace detail

/* ---------------------------------------------------------------------------------------- */
/* Version and capabilities                                                                  */

/** The loaded library's version, e.g. "0.2.0" (the header's is HRNET_VERSION_STRING). */
inline std::string version() { return hrnet_version(); }
/** The loaded library's version as (major << 16) | (minor << 8) | patch. */
inline uint32_t version_number() noexcept { return hrnet_version_number(); }
/** Throws Error(HRNET_ERR_INTERNAL) unless the loaded library has this header's major version
 *  and at least its minor version (so every function the header declares is there). */
inline void check_version() {
    const uint32_t lib = hrnet_version_number();
    const uint32_t hdr = static_cast<uint32_t>(HRNET_VERSION_NUMBER);
    if ((lib >> 16) != (hdr >> 16) || lib < (hdr & 0xffff00u))
        detail::fail(HRNET_ERR_INTERNAL, (std::string("libhrnet ") + hrnet_version() +
                                          " does not provide the interface of hrnet.h " +
                                          HRNET_VERSION_STRING).c_str());
}
/** Whether this library and CPU run a kernel set. */
inline bool kernels_supported(hrnet_kernel_set kernels) noexcept {
    return hrnet_kernels_supported(static_cast<int32_t>(kernels)) != 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                   */

/** Session options: `c` is the C struct filled with the library's defaults (hrnet_options_init);
 *  set fields through the setters or directly. */
struct Options {
    hrnet_options c;
    Options() noexcept : c() { hrnet_options_init(&c); }
    /** Network input height and width (multiples of 32; 0, 0 = the model's default). */
    Options &input_size(int32_t height, int32_t width) noexcept {
        c.input_height = height;
        c.input_width = width;
        return *this;
    }
    /** OpenMP threads inside one call (0 = all cores). */
    Options &threads(int32_t n) noexcept {
        c.num_threads = n;
        return *this;
    }
    Options &precision(hrnet_precision p) noexcept {
        c.precision = static_cast<int32_t>(p);
        return *this;
    }
    Options &kernels(hrnet_kernel_set k) noexcept {
        c.kernels = static_cast<int32_t>(k);
        return *this;
    }
    /** INT8 (HRNET_PRECISION_INT8 and the calibration file made by Calibrator::save). The path
     *  is read when the session is created; keep the string alive until then. */
    Options &int8(const char *calibration_path) noexcept {
        c.precision = HRNET_PRECISION_INT8;
        c.calibration_path = calibration_path;
        return *this;
    }
};

/** Pipeline options (hrnet_estimate_options): `c` holds the library's defaults (flip test on,
 *  standard decoding). Flip pairs set with flip_pairs() are kept here (2 x pairs indices). */
struct EstimateOptions {
    hrnet_estimate_options c;
    std::vector<int32_t> pairs;
    EstimateOptions() noexcept : c() { hrnet_estimate_options_init(&c); }
    EstimateOptions &flip(bool on) noexcept {
        c.flip = on ? 1 : 0;
        return *this;
    }
    EstimateOptions &decode(hrnet_decode_method method) noexcept {
        c.decode = static_cast<int32_t>(method);
        return *this;
    }
    /** Left/right joint pairs for the flip test (empty: the model's skeleton). */
    EstimateOptions &flip_pairs(std::vector<int32_t> left_right) {
        pairs = std::move(left_right);
        return *this;
    }
    /** The C options for one call (pointing into `pairs`, so valid while this object is). */
    hrnet_estimate_options get() const {
        hrnet_estimate_options o = c;
        if (!pairs.empty()) {
            if (pairs.size() % 2 != 0 || pairs.size() / 2 > static_cast<std::size_t>(INT32_MAX))
                detail::fail(HRNET_ERR_INVALID_ARGUMENT,
                             ("flip_pairs: 2 x pairs indices expected, got " + std::to_string(pairs.size())).c_str());
            o.flip_pairs = pairs.data();
            o.num_flip_pairs = static_cast<int32_t>(pairs.size() / 2);
        }
        return o;
    }
};

/** An hrnet_image over caller-owned pixels (read during a call only); stride 0 = packed rows. */
inline hrnet_image image(const uint8_t *data, int32_t width, int32_t height,
                         hrnet_pixel_format format = HRNET_PIXEL_RGB8, std::size_t stride = 0) noexcept {
    const std::size_t channels = format == HRNET_PIXEL_RGBA8 ? 4 : 3;
    hrnet_image im;
    im.data = data;
    im.width = width;
    im.height = height;
    im.stride = stride != 0 ? stride : detail::dim(width) * channels;
    im.format = static_cast<int32_t>(format);
    return im;
}

/** Poses of one pipeline call, one person per crop or box. */
struct Poses {
    std::size_t count = 0;           /**< people */
    int32_t joints = 0;              /**< K */
    std::vector<float> keypoints;    /**< count x K x 3: x, y, score (crop or frame pixels) */
    std::vector<float> scores;       /**< count person scores */
    std::vector<float> areas;        /**< count enlarged box areas (estimate_boxes only; for OKS-NMS) */
    std::vector<float> heatmaps;     /**< count x K x heatmap_height x heatmap_width, when asked for */
    int32_t heatmap_height = 0;
    int32_t heatmap_width = 0;
    /** The (x, y, score) of one joint of one person. */
    const float *keypoint(std::size_t person, int32_t joint) const {
        return keypoints.data() + (person * detail::dim(joints) + detail::dim(joint)) * 3;
    }
};

/* ---------------------------------------------------------------------------------------- */
/* Model and Session                                                                         */

/** Loaded, prepared weights (hrnet_model): immutable, shareable by threads. */
class Model {
public:
    /** hrnet_model_load: a checkpoint file (PyTorch zip or legacy, OpenMMLab layouts). */
    explicit Model(const std::string &path) {
        hrnet_model *m = nullptr;
        detail::check(hrnet_model_load(path.c_str(), &m));
        model_.reset(m);
    }
    /** hrnet_model_load_memory: a checkpoint's bytes, only read during the call. */
    static Model from_memory(const void *data, std::size_t size) {
        hrnet_model *m = nullptr;
        detail::check(hrnet_model_load_memory(data, size, &m));
        return Model(m);
    }
    /** Takes over one reference the caller owns (e.g. from hrnet_model_load). */
    static Model adopt(hrnet_model *model) noexcept { return Model(model); }

    hrnet_model *get() const noexcept { return model_.get(); }
    explicit operator bool() const noexcept { return model_ != nullptr; }

private:
    explicit Model(hrnet_model *model) noexcept : model_(model) {}
    detail::Handle<hrnet_model, hrnet_model_release> model_;
};

/** A runnable network (hrnet_session): one thread at a time. */
class Session {
public:
    /** hrnet_session_open: loads the checkpoint and creates a session on it. */
    explicit Session(const std::string &path, const Options &options = Options()) {
        hrnet_session *s = nullptr;
        detail::check(hrnet_session_open(path.c_str(), &options.c, &s));
        session_.reset(s);
        load_info();
    }
    /** hrnet_session_create on a loaded model (which the session keeps alive). */
    explicit Session(const Model &model, const Options &options = Options()) {
        hrnet_session *s = nullptr;
        detail::check(hrnet_session_create(model.get(), &options.c, &s));
        session_.reset(s);
        load_info();
    }

    hrnet_session *get() const noexcept { return session_.get(); }
    explicit operator bool() const noexcept { return session_ != nullptr; }
    /** The network's facts (hrnet_session_info; they do not change during a session's life). */
    const hrnet_info &info() const noexcept { return info_; }
    /** Floats in one input crop: 3 x input_height x input_width. */
    std::size_t input_floats() const noexcept {
        return 3 * detail::dim(info_.input_height) * detail::dim(info_.input_width);
    }
    /** Floats of heatmaps per crop: joints x heatmap_height x heatmap_width. */
    std::size_t heatmap_floats() const noexcept {
        return detail::dim(info_.joints) * detail::dim(info_.heatmap_height) * detail::dim(info_.heatmap_width);
    }

    /** hrnet_forward: `input_count` floats of normalised NCHW crops (a whole number of
     *  input_floats()); returns batch x heatmap_floats() heatmaps. */
    std::vector<float> forward(const float *input, std::size_t input_count) {
        const std::size_t per_crop = input_floats();
        const std::size_t batch = per_crop != 0 ? input_count / per_crop : 0;
        std::vector<float> heatmaps =
            detail::buffer<float>(detail::product({batch, heatmap_floats()}, "heatmaps"), "heatmaps");
        float none = 0;
        detail::check(hrnet_forward(get(), input, batch, input_count, detail::data_or(heatmaps, none),
                                    heatmaps.size()),
                      get());
        return heatmaps;
    }

    /** hrnet_estimate_crops: one pose per crop, keypoints in crop pixels. */
    Poses estimate_crops(const hrnet_image *crops, std::size_t n,
                         const EstimateOptions &options = EstimateOptions(), bool with_heatmaps = false) {
        Poses p = make_poses(n, with_heatmaps, false);
        const hrnet_estimate_options o = options.get();
        float none = 0;
        detail::check(hrnet_estimate_crops(get(), crops, n, &o, detail::data_or(p.keypoints, none),
                                           p.keypoints.size(), detail::data_or(p.scores, none),
                                           with_heatmaps ? detail::data_or(p.heatmaps, none) : nullptr,
                                           p.heatmaps.size()),
                      get());
        return p;
    }

    /** hrnet_estimate_boxes: one pose per box of a frame, keypoints in frame pixels, with the
     *  person scores and the areas OKS-NMS compares. */
    Poses estimate_boxes(const hrnet_image &frame, const hrnet_box *boxes, std::size_t n,
                         const EstimateOptions &options = EstimateOptions(), bool with_heatmaps = false) {
        Poses p = make_poses(n, with_heatmaps, true);
        const hrnet_estimate_options o = options.get();
        float none = 0;
        detail::check(hrnet_estimate_boxes(get(), &frame, boxes, n, &o, detail::data_or(p.keypoints, none),
                                           p.keypoints.size(), detail::data_or(p.scores, none),
                                           detail::data_or(p.areas, none),
                                           with_heatmaps ? detail::data_or(p.heatmaps, none) : nullptr,
                                           p.heatmaps.size()),
                      get());
        return p;
    }

    /** The session's last failure message ("" if none). */
    const char *last_error() const noexcept { return hrnet_last_error(get()); }

private:
    void load_info() {
        info_ = hrnet_info();
        info_.struct_size = sizeof info_;
        detail::check(hrnet_session_info(get(), &info_), get());   // a throw closes the session
    }

    Poses make_poses(std::size_t n, bool with_heatmaps, bool with_areas) const {
        Poses p;
        p.count = n;
        p.joints = info_.joints;
        p.heatmap_height = info_.heatmap_height;
        p.heatmap_width = info_.heatmap_width;
        p.keypoints = detail::buffer<float>(detail::product({n, detail::dim(info_.joints), 3}, "keypoints"),
                                            "keypoints");
        p.scores = detail::buffer<float>(n, "person scores");
        if (with_areas) p.areas = detail::buffer<float>(n, "person areas");
        if (with_heatmaps)
            p.heatmaps = detail::buffer<float>(detail::product({n, heatmap_floats()}, "heatmaps"), "heatmaps");
        return p;
    }

    detail::Handle<hrnet_session, hrnet_session_close> session_;
    hrnet_info info_{};
};

/* ---------------------------------------------------------------------------------------- */
/* Decoding, OKS-NMS, skeletons                                                              */

/** hrnet_decode_heatmaps: n x joints x heatmap_height x heatmap_width heatmaps (`count` floats,
 *  which must be exactly that) to n x joints x 3 keypoints: in frame pixels with `boxes` (n of
 *  them, the regions hrnet_estimate_boxes would use for an input_height x input_width input;
 *  0, 0 = 4 x the heatmap size), else in network-input pixels. */
inline std::vector<float> decode_heatmaps(const float *heatmaps, std::size_t count, std::size_t n, int32_t joints,
                                          int32_t heatmap_height, int32_t heatmap_width,
                                          const hrnet_box *boxes = nullptr,
                                          hrnet_decode_method method = HRNET_DECODE_STANDARD,
                                          int32_t input_height = 0, int32_t input_width = 0) {
    detail::check_heatmap_count("decode_heatmaps", count, n, joints, heatmap_height, heatmap_width);
    std::vector<float> keypoints =
        detail::buffer<float>(detail::product({n, detail::dim(joints), 3}, "keypoints"), "keypoints");
    float none = 0;
    detail::check(hrnet_decode_heatmaps(heatmaps, n, joints, heatmap_height, heatmap_width, boxes, input_height,
                                        input_width, static_cast<int32_t>(method),
                                        detail::data_or(keypoints, none), keypoints.size()));
    return keypoints;
}

/** hrnet_oks_nms: the indices of the people kept, best first. keypoints: n x joints x 3;
 *  scores, areas: n each; sigmas: joints values, or nullptr for COCO's. */
inline std::vector<int32_t> oks_nms(const float *keypoints, const float *scores, const float *areas, std::size_t n,
                                    int32_t joints, float threshold = 0.9f, const float *sigmas = nullptr) {
    std::vector<int32_t> keep = detail::buffer<int32_t>(n, "keep");
    int32_t none = 0;
    std::size_t kept = 0;
    detail::check(hrnet_oks_nms(keypoints, scores, areas, n, joints, sigmas, threshold,
                                detail::data_or(keep, none), &kept));
    keep.resize(kept);
    return keep;
}

/** OKS-NMS over the people of one estimate_boxes call. */
inline std::vector<int32_t> oks_nms(const Poses &poses, float threshold = 0.9f, const float *sigmas = nullptr) {
    if (poses.areas.size() != poses.count)
        detail::fail(HRNET_ERR_INVALID_ARGUMENT, "oks_nms: the poses have no areas (they come from estimate_crops, "
                                                 "not estimate_boxes)");
    return oks_nms(poses.keypoints.data(), poses.scores.data(), poses.areas.data(), poses.count, poses.joints,
                   threshold, sigmas);
}

/** hrnet_box_area: the area of a box's region for an input_height x input_width input. */
inline double box_area(const hrnet_box &box, int32_t input_height, int32_t input_width) noexcept {
    return hrnet_box_area(&box, input_height, input_width);
}

/** A skeleton's joints, limbs, flip pairs and OKS sigmas (hrnet_skeleton_*). */
struct Skeleton {
    hrnet_skeleton id;
    std::vector<std::string> joints;
    std::vector<std::pair<int32_t, int32_t>> limbs;
    std::vector<std::pair<int32_t, int32_t>> flip_pairs;
    std::vector<float> sigmas;   /**< one per joint, or empty (MPII has none) */
};

inline Skeleton skeleton(hrnet_skeleton id) {
    const int32_t sk = static_cast<int32_t>(id);
    const int32_t n = hrnet_skeleton_joint_count(sk);
    if (n < 0) detail::fail(HRNET_ERR_INVALID_ARGUMENT, ("unknown skeleton " + std::to_string(sk)).c_str());
    Skeleton s;
    s.id = id;
    for (int32_t j = 0; j < n; ++j) {
        const char *name = hrnet_skeleton_joint_name(sk, j);
        s.joints.emplace_back(name != nullptr ? name : "");
    }
    auto pairs = [sk](int32_t (*fn)(int32_t, const int32_t **)) {
        const int32_t *p = nullptr;
        const int32_t count = fn(sk, &p);
        std::vector<std::pair<int32_t, int32_t>> out;
        for (int32_t i = 0; i < count && p != nullptr; ++i) out.emplace_back(p[2 * i], p[2 * i + 1]);
        return out;
    };
    s.limbs = pairs(hrnet_skeleton_limbs);
    s.flip_pairs = pairs(hrnet_skeleton_flip_pairs);
    if (const float *sigmas = hrnet_skeleton_sigmas(sk)) s.sigmas.assign(sigmas, sigmas + n);
    return s;
}

/** The skeleton of a model with `joints` heatmaps (17: COCO, 16: MPII). */
inline Skeleton skeleton_for_joints(int32_t joints) {
    const int32_t sk = hrnet_skeleton_for_joints(joints);
    if (sk < 0) detail::fail(HRNET_ERR_INVALID_ARGUMENT, ("no skeleton has " + std::to_string(joints) + " joints").c_str());
    return skeleton(static_cast<hrnet_skeleton>(sk));
}

/* ---------------------------------------------------------------------------------------- */
/* Tracking (hrnet_tracker_*, added in 0.3)                                                  */

/** Tracker options: `c` holds the library's defaults (hrnet_tracker_options_init). */
struct TrackerOptions {
    hrnet_tracker_options c;
    TrackerOptions() noexcept : c() { hrnet_tracker_options_init(&c); }
};

/** The people a tracker reports on one frame, in increasing track id. */
struct Tracks {
    std::size_t count = 0;
    int32_t joints = 0;
    std::vector<int64_t> ids;                     /**< count track ids */
    std::vector<float> keypoints;                 /**< count x K x 3, smoothed, frame pixels */
    std::vector<float> raw_keypoints;             /**< count x K x 3, this frame's, unsmoothed */
    std::vector<float> scores;                    /**< count person scores */
    std::vector<float> boxes;                     /**< count x 4: x, y, width, height */
    std::vector<int32_t> frames_since_detected;   /**< count: 0 = a detector box on this frame */
    std::vector<float> covariances;               /**< count x K x 4 (raw keypoints'), if asked for */
};

/** People followed through a stream (hrnet_tracker): one thread at a time. */
class Tracker {
public:
    explicit Tracker(const TrackerOptions &options = TrackerOptions()) {
        hrnet_tracker *t = nullptr;
        detail::check(hrnet_tracker_create(&options.c, &t));
        tracker_.reset(t);
    }

    hrnet_tracker *get() const noexcept { return tracker_.get(); }
    /** Forgets every track (ids keep counting up). */
    void reset() noexcept { hrnet_tracker_reset(get()); }

    /** hrnet_tracker_update: advances by one frame taken at `timestamp_seconds`; `boxes` may
     *  be empty (n = 0: no detector on this frame, tracks are carried forward). */
    Tracks update(Session &session, const hrnet_image &frame, double timestamp_seconds,
                  const hrnet_box *boxes, std::size_t n, const EstimateOptions &options = EstimateOptions(),
                  bool with_covariances = false) {
        const hrnet_estimate_options o = options.get();
        const int32_t joints = session.info().joints;
        std::size_t capacity = n > capacity_ ? n : capacity_;
        for (;;) {
            Tracks t = make_tracks(capacity, joints);
            if (with_covariances)
                t.covariances = detail::buffer<float>(detail::product({capacity, detail::dim(joints), 4}, "covariances"),
                                                      "covariances");
            hrnet_tracker_result r = hrnet_tracker_result();
            r.struct_size = sizeof r;
            r.capacity = capacity;
            int64_t no_id = 0;
            float none = 0;
            int32_t no_frames = 0;
            r.track_ids = detail::data_or(t.ids, no_id);
            r.keypoints = detail::data_or(t.keypoints, none);
            r.raw_keypoints = detail::data_or(t.raw_keypoints, none);
            r.scores = detail::data_or(t.scores, none);
            r.boxes = detail::data_or(t.boxes, none);
            r.frames_since_detected = detail::data_or(t.frames_since_detected, no_frames);
            float no_cov = 0;
            r.covariances = with_covariances ? detail::data_or(t.covariances, no_cov) : nullptr;
            const hrnet_status st =
                hrnet_tracker_update(get(), session.get(), &frame, timestamp_seconds, boxes, n, &o, &r);
            if (st == HRNET_ERR_BUFFER_TOO_SMALL && r.count > capacity) {
                capacity = r.count;   // the tracker is unchanged: repeat with room for everyone
                continue;
            }
            detail::check(st, session.get());
            capacity_ = capacity;
            t.count = r.count;
            t.ids.resize(r.count);
            t.keypoints.resize(r.count * detail::dim(joints) * 3);
            t.raw_keypoints.resize(r.count * detail::dim(joints) * 3);
            t.scores.resize(r.count);
            t.boxes.resize(r.count * 4);
            t.frames_since_detected.resize(r.count);
            if (with_covariances) t.covariances.resize(r.count * detail::dim(joints) * 4);
            return t;
        }
    }

private:
    static Tracks make_tracks(std::size_t capacity, int32_t joints) {
        Tracks t;
        t.joints = joints;
        const std::size_t kp = detail::product({capacity, detail::dim(joints), 3}, "keypoints");
        t.ids = detail::buffer<int64_t>(capacity, "track ids");
        t.keypoints = detail::buffer<float>(kp, "keypoints");
        t.raw_keypoints = detail::buffer<float>(kp, "keypoints");
        t.scores = detail::buffer<float>(capacity, "scores");
        t.boxes = detail::buffer<float>(detail::product({capacity, 4}, "boxes"), "boxes");
        t.frames_since_detected = detail::buffer<int32_t>(capacity, "frames");
        return t;
    }

    detail::Handle<hrnet_tracker, hrnet_tracker_close> tracker_;
    std::size_t capacity_ = 16;
};

/* ---------------------------------------------------------------------------------------- */
/* Per-joint covariances, 3D from depth, INT8 calibration (added in 0.3)                     */

/** hrnet_keypoint_covariances: n x joints x 4 covariances (xx, xy, yx, yy) of the keypoints
 *  decode_heatmaps gives for the same arguments. */
inline std::vector<float> keypoint_covariances(const float *heatmaps, std::size_t count, std::size_t n, int32_t joints,
                                               int32_t heatmap_height, int32_t heatmap_width,
                                               const hrnet_box *boxes = nullptr, int32_t input_height = 0,
                                               int32_t input_width = 0) {
    detail::check_heatmap_count("keypoint_covariances", count, n, joints, heatmap_height, heatmap_width);
    std::vector<float> out = detail::buffer<float>(detail::product({n, detail::dim(joints), 4}, "covariances"),
                                                   "covariances");
    float none = 0;
    detail::check(hrnet_keypoint_covariances(heatmaps, n, joints, heatmap_height, heatmap_width, boxes, input_height,
                                             input_width, detail::data_or(out, none), out.size()));
    return out;
}

/** Depth lifting options: `c` holds the library's defaults (hrnet_lift_options_init). */
struct LiftOptions {
    hrnet_lift_options c;
    LiftOptions() noexcept : c() { hrnet_lift_options_init(&c); }
};

/** What lift_depth returns for n x joints keypoints. */
struct Points3D {
    std::vector<float> points;        /**< n x joints x 3: X, Y, Z in metres, camera frame */
    std::vector<uint8_t> valid;       /**< n x joints: 1 if lifted */
    std::vector<float> covariances;   /**< n x joints x 9 (m^2, row-major) */
};

/** hrnet_lift_depth: keypoints (n x joints x 3, the depth image's pixels) with an optional
 *  n x joints x 4 2D covariances, an aligned depth image and the camera's intrinsics. */
inline Points3D lift_depth(const float *keypoints, std::size_t n, int32_t joints, const hrnet_depth_image &depth,
                           const hrnet_intrinsics &intrinsics, const float *covariances = nullptr,
                           const LiftOptions &options = LiftOptions()) {
    const std::size_t m = detail::product({n, detail::dim(joints)}, "joints");
    Points3D p;
    p.points = detail::buffer<float>(detail::product({m, 3}, "points"), "points");
    p.valid = detail::buffer<uint8_t>(m, "validity flags");
    p.covariances = detail::buffer<float>(detail::product({m, 9}, "covariances"), "covariances");
    float none = 0;
    uint8_t no_flag = 0;
    detail::check(hrnet_lift_depth(keypoints, covariances, n, joints, &depth, &intrinsics, &options.c,
                                   detail::data_or(p.points, none), detail::data_or(p.valid, no_flag),
                                   detail::data_or(p.covariances, none), m));
    return p;
}

/** INT8 calibration (hrnet_calibrator_*) on an FP32 session: add representative frames and
 *  boxes or crops, then save the file that Options::int8() takes. */
class Calibrator {
public:
    explicit Calibrator(Session &session) {
        hrnet_calibrator *c = nullptr;
        detail::check(hrnet_calibrator_create(session.get(), &c));
        calibrator_.reset(c);
    }
    hrnet_calibrator *get() const noexcept { return calibrator_.get(); }
    void add_boxes(const hrnet_image &frame, const hrnet_box *boxes, std::size_t n,
                   const EstimateOptions &options = EstimateOptions()) {
        const hrnet_estimate_options o = options.get();
        detail::check(hrnet_calibrator_add_boxes(get(), &frame, boxes, n, &o));
    }
    void add_crops(const hrnet_image *crops, std::size_t n, const EstimateOptions &options = EstimateOptions()) {
        const hrnet_estimate_options o = options.get();
        detail::check(hrnet_calibrator_add_crops(get(), crops, n, &o));
    }
    void save(const std::string &path) { detail::check(hrnet_calibrator_save(get(), path.c_str())); }

private:
    detail::Handle<hrnet_calibrator, hrnet_calibrator_close> calibrator_;
};

}  // namespace hrnet

#endif /* HRNET_HPP */
