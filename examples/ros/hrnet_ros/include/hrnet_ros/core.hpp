/*
 * hrnet_ros/core.hpp - the ROS-independent core of the hrnet_ros node.
 *
 * Everything the node decides is here, in plain C++17 over libhrnet's C++ wrapper (hrnet.hpp;
 * the C functions where it has no wrapper: the tracker's covariances, depth lifting), with no ROS
 * type: parameters and their checks, images and depth images as a middleware hands them
 * over (encoding string, step, bytes) turned into libhrnet's views, detector boxes, the
 * latest-wins frame slot, detections and depth matched to images by stamp, the tracker with the
 * detect-every and whole-image rules, and what to draw (skeleton segments, an annotated image).
 * A ROS 1 node (src/hrnet_node.cpp) is an adapter that copies messages in and out; a ROS 2 node
 * would be another one.
 *
 * Nothing here throws (but std::bad_alloc) except Engine's constructor and Engine::process (hrnet::Error, with the
 * library's status and message); image and parameter checks return their message as a string
 * ("" = fine).
 */
#ifndef HRNET_ROS_CORE_HPP
#define HRNET_ROS_CORE_HPP

#include <hrnet.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hrnet_ros::core {

/* ------------------------------------------------------------------------------------------ */
/* Stamps                                                                                      */

/** A message time as middlewares carry it (ROS 1 and 2 alike): whole seconds and nanoseconds. */
struct Stamp {
    uint32_t sec = 0;
    uint32_t nsec = 0;
    /** The seconds the tracker is given: sec + nsec * 1e-9 in double (how a test recomputes it). */
    double seconds() const { return static_cast<double>(sec) + static_cast<double>(nsec) * 1e-9; }
    bool zero() const { return sec == 0 && nsec == 0; }
    friend bool operator==(const Stamp &a, const Stamp &b) { return a.sec == b.sec && a.nsec == b.nsec; }
    friend bool operator!=(const Stamp &a, const Stamp &b) { return !(a == b); }
    friend bool operator<(const Stamp &a, const Stamp &b) {
        return a.sec != b.sec ? a.sec < b.sec : a.nsec < b.nsec;
    }
};

/* ------------------------------------------------------------------------------------------ */
/* Parameters                                                                                  */

struct Params {
    std::string model;                /**< checkpoint path (required) */
    int input_height = 0;             /**< network input; 0 and 0 = the model's default */
    int input_width = 0;
    int threads = 0;                  /**< libhrnet's OpenMP threads; 0 = all cores */
    std::string kernels = "auto";     /**< auto, generic, avx2, avx512, neon */
    std::string precision = "fp32";   /**< fp32, bf16, int8 */
    std::string calibration;          /**< int8 only: the checkpoint's calibration file */
    bool flip = true;                 /**< flip test */
    bool smoothing = true;            /**< One Euro smoothing of the tracked keypoints */
    /** Frames whose detector boxes are used: every N-th (0-based index a multiple of N), people
     *  carried forward on the others. 0 (default): every frame with detections; without
     *  detections, the whole image only on the first frame and when nobody is tracked. */
    int detect_every = 0;
    bool use_detections = false;      /**< wait for each image's BoxArray (matched by stamp) */
    double detection_timeout = 0.5;   /**< seconds an image waits for its boxes, then carried */
    bool use_depth = false;           /**< lift keypoints with an aligned depth image */
    double depth_timeout = 0.2;       /**< seconds an image waits for its depth image, then 2D */
    bool publish_annotated = false;   /**< publish the image with the skeletons drawn */
    double marker_scale = 0.001;      /**< metres per pixel of the 2D markers (no depth) */
    double min_score = 0.2;           /**< joints below this are not drawn and not lifted */
};

/** One message per parameter that is out of range (empty: all usable). */
std::vector<std::string> validate(const Params &params);

/** libhrnet's session options for validated parameters (pointing into `params`). */
hrnet::Options session_options(const Params &params);

/* ------------------------------------------------------------------------------------------ */
/* Images                                                                                      */

/** An image message's fields, borrowed (sensor_msgs/Image in ROS 1 and ROS 2). */
struct ImageView {
    std::string encoding;
    uint32_t width = 0;
    uint32_t height = 0;
    uint32_t step = 0;        /**< bytes from one row to the next */
    bool big_endian = false;
    const uint8_t *data = nullptr;
    size_t size = 0;          /**< bytes at data */
};

/** Colour encodings the node takes: rgb8, bgr8, rgba8, bgra8, mono8. */
bool colour_encoding(const std::string &encoding);

/** "" if `image` is a usable colour image (a known encoding, sizes that libhrnet takes, a step
 *  that holds a row, enough bytes for `height` rows), else the reason. */
std::string check_image(const ImageView &image);

/** The image as libhrnet reads it: in place (any step) for rgb8, bgr8 and rgba8; converted into
 *  `storage` (packed RGB) for mono8 and bgra8. Returns check_image's message on failure. */
std::string to_hrnet_image(const ImageView &image, std::vector<uint8_t> &storage, hrnet_image *out);

/** Packed RGB copy (width x 3 bytes per row) of any hrnet_image. */
void to_rgb(const hrnet_image &image, std::vector<uint8_t> &rgb);

/** "" if `depth` is a usable depth image (16UC1 millimetres or 32FC1 metres, host byte order,
 *  a step that holds a row in whole pixels, enough bytes), else the reason. */
std::string check_depth(const ImageView &depth);

/** libhrnet's view of a depth image (in place). Returns check_depth's message on failure. */
std::string to_depth_image(const ImageView &depth, hrnet_depth_image *out);

/** Pinhole intrinsics from a row-major 3x3 camera matrix K (CameraInfo.K): "" or the reason. */
std::string to_intrinsics(const double k[9], hrnet_intrinsics *out);

/** Boxes from a flat n x 5 array (x, y, w, h, score): "" or the reason (length not a multiple
 *  of 5). Values are not judged here: Engine skips boxes libhrnet would refuse. */
std::string boxes_from_flat(const float *values, size_t count, std::vector<hrnet_box> &out);

/** The boxes libhrnet can use on a width x height image: finite values, positive size, some
 *  overlap with the image (as hrnet-pose's). */
std::vector<hrnet_box> usable_boxes(const std::vector<hrnet_box> &boxes, int32_t width, int32_t height);

/* ------------------------------------------------------------------------------------------ */
/* Frame dropping and matching                                                                 */

/** One frame waiting to be processed; a newer one replaces it (latest wins). A middleware's
 *  callback put()s and returns at once; one worker thread take()s. */
template <class T>
class LatestSlot {
public:
    /** Stores `item`; true if it replaced a frame not yet taken (that one is dropped). */
    bool put(T item) {
        bool replaced;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            replaced = item_.has_value();
            item_ = std::move(item);
        }
        ready_.notify_one();
        return replaced;
    }
    /** Waits for a frame; false once close() was called. */
    bool take(T *out) {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return closed_ || item_.has_value(); });
        if (closed_) return false;
        *out = std::move(*item_);
        item_.reset();
        return true;
    }
    void close() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::optional<T> item_;
    bool closed_ = false;
};

/** Messages keyed by stamp (detections, depth images), waited for by the frame with that stamp.
 *  Keeps the newest `capacity` stamps. */
template <class T>
class StampedBuffer {
public:
    explicit StampedBuffer(size_t capacity = 64) : capacity_(capacity) {}

    void put(const Stamp &stamp, T item) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            items_[stamp] = std::move(item);
            while (items_.size() > capacity_) items_.erase(items_.begin());
        }
        ready_.notify_all();
    }

    /** Waits up to `timeout` for the item stamped `stamp` and moves it out (with every older
     *  one dropped). Gives up at once when a newer stamp is already there or was taken (in-order
     *  streams never deliver an older one late), and on close(). */
    bool take(const Stamp &stamp, std::chrono::duration<double> timeout, T *out) {
        auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            auto it = items_.find(stamp);
            if (it != items_.end()) {
                *out = std::move(it->second);
                items_.erase(items_.begin(), std::next(it));
                taken_ = stamp;
                return true;
            }
            if (closed_ || stamp < taken_ || (!items_.empty() && stamp < items_.rbegin()->first)) return false;
            if (ready_.wait_until(lock, until) == std::cv_status::timeout) {
                it = items_.find(stamp);
                if (it == items_.end()) return false;
            }
        }
    }

    /** The stream went back in time to `stamp` (a recording played again): forgets what was
     *  taken and drops every item stamped later (left from before). */
    void restart(const Stamp &stamp) {
        std::lock_guard<std::mutex> lock(mutex_);
        items_.erase(items_.upper_bound(stamp), items_.end());
        taken_ = Stamp{};
    }

    void close() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }

private:
    size_t capacity_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::map<Stamp, T> items_;
    Stamp taken_;
    bool closed_ = false;
};

/** Keeps a stream of bad input from flooding the log: a message is logged when it differs from
 *  the last one logged, or `period` seconds after it. Thread-safe. */
class LogLimiter {
public:
    explicit LogLimiter(double period = 5.0) : period_(period) {}
    /** True if `message`, arriving at `now` seconds (any clock), should be logged. */
    bool allow(const std::string &message, double now) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (message == last_ && now - when_ < period_) return false;
        last_ = message;
        when_ = now;
        return true;
    }

private:
    double period_;
    std::mutex mutex_;
    std::string last_;
    double when_ = 0;
};

/* ------------------------------------------------------------------------------------------ */
/* The tracker                                                                                 */

/** One person on one frame (the content of hrnet_ros/Person). */
struct Person {
    int64_t track_id = 0;
    float score = 0;
    float box[4] = {0, 0, 0, 0};
    std::vector<float> keypoints;    /**< joints x 3 */
    std::vector<float> covariance;   /**< joints x 4 */
    std::vector<float> points3d;     /**< joints x 3, empty without depth */
    std::vector<uint8_t> valid3d;    /**< joints, empty without depth */
};

/** What one frame gave. */
struct Result {
    std::vector<Person> people;      /**< in increasing track id */
    bool lifted = false;             /**< points3d filled (depth and intrinsics given and usable) */
    std::string depth_error;         /**< why not, when depth was given but could not be used */
    bool reset = false;              /**< the stamp went backwards: the tracker started afresh */
    size_t boxes_given = 0;          /**< boxes the tracker got (0: people carried forward) */
    size_t boxes_skipped = 0;        /**< detector boxes libhrnet could not use (no area, outside) */
};

/** A session and a tracker over one stream, with the node's rules for which boxes a frame gets.
 *  One thread at a time. */
class Engine {
public:
    /** Loads the model and opens the session and the tracker. Throws hrnet::Error (the library's
     *  status and message, e.g. the checkpoint that does not load) or std::invalid_argument for
     *  bad parameters. */
    explicit Engine(const Params &params);

    int32_t joints() const { return session_.info().joints; }
    const hrnet_info &info() const { return session_.info(); }
    const std::vector<std::string> &joint_names() const { return joint_names_; }
    /** Limbs of the model's skeleton (joint index pairs); empty for an unknown skeleton. */
    const std::vector<std::pair<int32_t, int32_t>> &limbs() const { return limbs_; }

    /** One frame taken at `timestamp` seconds. `boxes`: the detector's boxes of this frame, or
     *  nullptr when none came (used with Params::use_detections only). `depth` and `intrinsics`:
     *  both or neither (nullptr). A timestamp earlier than the last resets the tracker first
     *  (Result::reset). Throws hrnet::Error when libhrnet fails; the tracker is then as it was (after
     *  that reset, if there was one). */
    Result process(const hrnet_image &frame, double timestamp, const std::vector<hrnet_box> *boxes,
                   const hrnet_depth_image *depth = nullptr, const hrnet_intrinsics *intrinsics = nullptr);

    /** Frames processed since the start or the last reset. */
    uint64_t frames() const { return frames_; }

    /** Whether the next frame is one whose detector boxes are used (detect_every). */
    bool detector_frame() const {
        return params_.detect_every == 0 || frames_ % static_cast<uint64_t>(params_.detect_every) == 0;
    }

private:
    Params params_;
    hrnet::Session session_;
    hrnet::Tracker tracker_;
    hrnet::EstimateOptions estimate_;
    hrnet_lift_options lift_{};
    std::vector<std::string> joint_names_;
    std::vector<std::pair<int32_t, int32_t>> limbs_;
    uint64_t frames_ = 0;
    size_t last_count_ = 0;
    double last_time_ = 0;
    size_t capacity_ = 16;
    std::vector<int64_t> ids_;
    std::vector<float> keypoints_, scores_, boxes_, covariances_, points_;
    std::vector<uint8_t> valid_;
};

/* ------------------------------------------------------------------------------------------ */
/* What to draw                                                                                */

struct Point3 { double x, y, z; };
struct Colour { float r, g, b; };

/** A colour per track id (distinct for neighbouring ids). */
Colour track_colour(int64_t track_id);

/** One person's skeleton for a 3D viewer: segment end points in pairs, and the joints. */
struct Skeleton3D {
    int64_t track_id = 0;
    Colour colour{1, 1, 1};
    std::vector<Point3> segments;
    std::vector<Point3> joints;
};

/** Skeletons in the camera's optical frame: the lifted points (metres) when the result has
 *  them, else the image plane at z = 0 with `pixel_scale` metres per pixel. Joints scoring below
 *  `min_score` (or not lifted) and the limbs touching them are left out. */
std::vector<Skeleton3D> skeletons(const Result &result, const std::vector<std::pair<int32_t, int32_t>> &limbs,
                                  double pixel_scale, float min_score);

/** Draws the people's limbs (track colours) and joints on a packed RGB image. */
void draw(std::vector<uint8_t> &rgb, int32_t width, int32_t height, const Result &result,
          const std::vector<std::pair<int32_t, int32_t>> &limbs, float min_score);

}  // namespace hrnet_ros::core

#endif
