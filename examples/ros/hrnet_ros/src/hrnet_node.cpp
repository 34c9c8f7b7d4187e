// hrnet_node: the ROS 1 adapter of hrnet_ros. It only moves data between ROS messages and the
// ROS-independent core (include/hrnet_ros/core.hpp), which holds the node's logic: parameters,
// image conversion, frame dropping, matching by stamp, the tracker, what to draw.
//
// Threads: callbacks run on ros::spin's thread and return at once (an image is checked and put
// in a one-frame slot: a frame still waiting there when the next one arrives is dropped, latest
// wins); one worker thread takes frames from the slot, waits (bounded) for the frame's detections
// and depth, runs libhrnet and publishes.
#include <ros/ros.h>
#include <sensor_msgs/CameraInfo.h>
#include <sensor_msgs/Image.h>
#include <std_msgs/Float64.h>
#include <std_msgs/UInt64.h>
#include <visualization_msgs/MarkerArray.h>

#include <hrnet_ros/BoxArray.h>
#include <hrnet_ros/Person.h>
#include <hrnet_ros/PersonArray.h>

#include "hrnet_ros/core.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace core = hrnet_ros::core;
using core::Stamp;
using Clock = std::chrono::steady_clock;

Stamp stamp_of(const ros::Time &t) { return Stamp{t.sec, t.nsec}; }

core::ImageView view_of(const sensor_msgs::Image &m) {
    core::ImageView v;
    v.encoding = m.encoding;
    v.width = m.width;
    v.height = m.height;
    v.step = m.step;
    v.big_endian = m.is_bigendian != 0;
    v.data = m.data.empty() ? nullptr : m.data.data();
    v.size = m.data.size();
    return v;
}

// Reads ~name into `value` when it is set; a value of another type is reported in `bad`.
template <class T>
void param(const ros::NodeHandle &nh, const std::string &name, T &value, std::vector<std::string> &bad,
           const char *type) {
    if (!nh.hasParam(name)) return;
    if (!nh.getParam(name, value)) bad.push_back("~" + name + ": not " + std::string(type));
}

const char *kernel_name(int32_t k) {
    switch (k) {
        case HRNET_KERNELS_GENERIC: return "generic";
        case HRNET_KERNELS_AVX2: return "avx2";
        case HRNET_KERNELS_AVX512: return "avx512";
        case HRNET_KERNELS_NEON: return "neon";
        default: return "auto";
    }
}

struct Pending {
    sensor_msgs::ImageConstPtr image;
    Clock::time_point received;
    double receipt_seconds = 0;   // ROS time at receipt: the tracker's time for an unstamped image
};

class Node {
public:
    Node(ros::NodeHandle &nh, ros::NodeHandle &pnh, const core::Params &params,
         std::unique_ptr<core::Engine> engine)
        : params_(params), engine_(std::move(engine)) {
        people_pub_ = nh.advertise<hrnet_ros::PersonArray>("people", 5);
        markers_pub_ = nh.advertise<visualization_msgs::MarkerArray>("markers", 5);
        if (params.publish_annotated) annotated_pub_ = nh.advertise<sensor_msgs::Image>("image_annotated", 2);
        latency_pub_ = pnh.advertise<std_msgs::Float64>("latency", 10);
        dropped_pub_ = pnh.advertise<std_msgs::UInt64>("dropped", 10, true);
        ros::TransportHints hints = ros::TransportHints().tcpNoDelay();
        // A queue long enough that images reach on_image (which returns at once) even when this
        // thread gets little CPU for a while: the frames dropped are then the slot's, counted.
        image_sub_ = nh.subscribe("image", 16, &Node::on_image, this, hints);
        if (params.use_detections) detections_sub_ = nh.subscribe("detections", 10, &Node::on_detections, this, hints);
        if (params.use_depth) {
            depth_sub_ = nh.subscribe("depth", 2, &Node::on_depth, this, hints);
            info_sub_ = nh.subscribe("camera_info", 2, &Node::on_camera_info, this);
        }
        worker_ = std::thread([this] { work(); });
    }

    ~Node() { stop(); }

    void stop() {
        slot_.close();
        detections_.close();
        depths_.close();
        if (worker_.joinable()) worker_.join();
    }

private:
    void on_image(const sensor_msgs::ImageConstPtr &msg) {
        const std::string why = core::check_image(view_of(*msg));
        if (!why.empty()) {
            if (image_log_.allow(why, ros::WallTime::now().toSec()))
                ROS_ERROR("hrnet_node: image on %s stamped %.6f ignored: %s", image_sub_.getTopic().c_str(),
                          msg->header.stamp.toSec(), why.c_str());
            return;
        }
        Pending p{msg, Clock::now(), ros::Time::now().toSec()};
        if (msg->header.stamp.isZero())
            ROS_WARN_ONCE("hrnet_node: images have no header stamp: the tracker uses their time of receipt and "
                          "detections cannot be matched to them");
        if (slot_.put(std::move(p))) dropped_++;
    }

    void on_detections(const hrnet_ros::BoxArrayConstPtr &msg) {
        std::vector<hrnet_box> boxes;
        const std::string why = core::boxes_from_flat(msg->boxes.data(), msg->boxes.size(), boxes);
        if (!why.empty() && input_log_.allow(why, ros::WallTime::now().toSec()))
            ROS_ERROR("hrnet_node: detections stamped %.6f ignored: %s", msg->header.stamp.toSec(), why.c_str());
        detections_.put(stamp_of(msg->header.stamp), std::move(boxes));   // empty when bad: no wait
    }

    void on_depth(const sensor_msgs::ImageConstPtr &msg) {
        const std::string why = core::check_depth(view_of(*msg));
        if (!why.empty()) {
            if (input_log_.allow(why, ros::WallTime::now().toSec()))
                ROS_ERROR("hrnet_node: depth image stamped %.6f ignored: %s", msg->header.stamp.toSec(), why.c_str());
            return;
        }
        depths_.put(stamp_of(msg->header.stamp), msg);
    }

    void on_camera_info(const sensor_msgs::CameraInfoConstPtr &msg) {
        hrnet_intrinsics k;
        const std::string why = core::to_intrinsics(msg->K.data(), &k);
        std::lock_guard<std::mutex> lock(info_mutex_);
        if (!why.empty()) {
            if (input_log_.allow(why, ros::WallTime::now().toSec()))
                ROS_ERROR("hrnet_node: camera_info ignored: %s", why.c_str());
            have_intrinsics_ = false;
            return;
        }
        intrinsics_ = k;
        have_intrinsics_ = true;
    }

    void work() {
        Pending p;
        while (slot_.take(&p)) {
            std::string failure;
            try {
                handle(p);
            } catch (const hrnet::Error &e) {
                failure = std::string(e.status_name()) + ": " + e.what();
            } catch (const std::exception &e) {
                failure = e.what();
            } catch (...) {
                failure = "unknown error";
            }
            if (!failure.empty() && frame_log_.allow(failure, ros::WallTime::now().toSec()))
                ROS_ERROR("hrnet_node: frame stamped %.6f not processed: %s", p.image->header.stamp.toSec(),
                          failure.c_str());
            p = Pending{};
        }
    }

    void handle(const Pending &p) {
        const sensor_msgs::Image &msg = *p.image;
        hrnet_image frame;
        std::vector<uint8_t> storage;
        const std::string why = core::to_hrnet_image(view_of(msg), storage, &frame);
        if (!why.empty()) throw std::invalid_argument(why);
        const Stamp stamp = stamp_of(msg.header.stamp);
        const double t = stamp.zero() ? p.receipt_seconds : stamp.seconds();
        if (stamp < last_stamp_) {   // played again: what was matched before is stale
            detections_.restart(stamp);
            depths_.restart(stamp);
        }
        last_stamp_ = stamp;

        std::vector<hrnet_box> boxes;
        bool have_boxes = false;
        if (params_.use_detections && engine_->detector_frame()) {
            have_boxes = detections_.take(stamp, std::chrono::duration<double>(params_.detection_timeout), &boxes);
            if (!have_boxes)
                ROS_WARN_THROTTLE(5.0, "hrnet_node: no detections stamped %.6f within %.3f s: people carried forward",
                                  msg.header.stamp.toSec(), params_.detection_timeout);
        }

        sensor_msgs::ImageConstPtr depth_msg;
        hrnet_depth_image depth{};
        hrnet_intrinsics intrinsics{};
        bool use_depth = false;
        if (params_.use_depth) {
            const bool have_depth =
                depths_.take(stamp, std::chrono::duration<double>(params_.depth_timeout), &depth_msg);
            bool have_k;
            {
                std::lock_guard<std::mutex> lock(info_mutex_);   // the latest camera_info
                have_k = have_intrinsics_;
                intrinsics = intrinsics_;
            }
            if (have_depth && have_k)
                use_depth = core::to_depth_image(view_of(*depth_msg), &depth).empty();
            else
                ROS_WARN_THROTTLE(5.0, "hrnet_node: %s for the image stamped %.6f: 2D only",
                                  have_depth ? "no camera_info yet" : "no depth image", msg.header.stamp.toSec());
        }

        const core::Result r = engine_->process(frame, t, have_boxes ? &boxes : nullptr,
                                                     use_depth ? &depth : nullptr, use_depth ? &intrinsics : nullptr);
        if (r.reset) ROS_WARN("hrnet_node: image stamps went backwards (%.6f): tracking starts afresh", t);
        if (r.boxes_skipped > 0)
            ROS_WARN_THROTTLE(5.0, "hrnet_node: skipped %zu box(es) with no area, a non-finite value or no overlap with "
                                   "the %dx%d image", r.boxes_skipped, frame.width, frame.height);
        if (!r.depth_error.empty()) ROS_WARN_THROTTLE(5.0, "hrnet_node: no 3D: %s", r.depth_error.c_str());

        publish_people(msg.header, r);
        const Clock::time_point published = Clock::now();
        publish_markers(msg.header, r);
        if (params_.publish_annotated && annotated_pub_.getNumSubscribers() > 0) publish_annotated(msg.header, frame, r);

        std_msgs::Float64 latency;
        latency.data = std::chrono::duration<double>(published - p.received).count();
        latency_pub_.publish(latency);
        std_msgs::UInt64 dropped;
        dropped.data = dropped_.load();
        dropped_pub_.publish(dropped);
    }

    void publish_people(const std_msgs::Header &header, const core::Result &r) {
        hrnet_ros::PersonArray out;
        out.header = header;
        out.joint_names = engine_->joint_names();
        out.people.resize(r.people.size());
        for (size_t i = 0; i < r.people.size(); i++) {
            const core::Person &p = r.people[i];
            hrnet_ros::Person &m = out.people[i];
            m.track_id = p.track_id;
            m.score = p.score;
            for (int j = 0; j < 4; j++) m.box[j] = p.box[j];
            m.keypoints = p.keypoints;
            m.covariance = p.covariance;
            m.points3d = p.points3d;
            m.valid3d = p.valid3d;
        }
        people_pub_.publish(out);
    }

    void publish_markers(const std_msgs::Header &header, const core::Result &r) {
        visualization_msgs::MarkerArray out;
        visualization_msgs::Marker clear;
        clear.header = header;
        clear.action = visualization_msgs::Marker::DELETEALL;
        out.markers.push_back(clear);
        // Widths in metres: 2 and 4 cm in 3D, 3 and 6 pixels on the image plane.
        const double line = r.lifted ? 0.02 : 3 * params_.marker_scale;
        const double joint = r.lifted ? 0.04 : 6 * params_.marker_scale;
        for (const core::Skeleton3D &s : core::skeletons(r, engine_->limbs(), params_.marker_scale,
                                                                  static_cast<float>(params_.min_score))) {
            for (int kind = 0; kind < 2; kind++) {
                visualization_msgs::Marker m;
                m.header = header;
                m.ns = kind == 0 ? "limbs" : "joints";
                m.id = static_cast<int32_t>(s.track_id % 2147483647);
                m.type = kind == 0 ? visualization_msgs::Marker::LINE_LIST : visualization_msgs::Marker::SPHERE_LIST;
                m.action = visualization_msgs::Marker::ADD;
                m.pose.orientation.w = 1;
                m.scale.x = m.scale.y = m.scale.z = kind == 0 ? line : joint;
                m.color.r = s.colour.r;
                m.color.g = s.colour.g;
                m.color.b = s.colour.b;
                m.color.a = 1;
                for (const core::Point3 &q : kind == 0 ? s.segments : s.joints) {
                    geometry_msgs::Point g;
                    g.x = q.x;
                    g.y = q.y;
                    g.z = q.z;
                    m.points.push_back(g);
                }
                out.markers.push_back(std::move(m));
            }
        }
        markers_pub_.publish(out);
    }

    void publish_annotated(const std_msgs::Header &header, const hrnet_image &frame, const core::Result &r) {
        sensor_msgs::Image out;
        out.header = header;
        out.width = static_cast<uint32_t>(frame.width);
        out.height = static_cast<uint32_t>(frame.height);
        out.encoding = "rgb8";
        out.step = out.width * 3;
        core::to_rgb(frame, out.data);
        core::draw(out.data, frame.width, frame.height, r, engine_->limbs(), static_cast<float>(params_.min_score));
        annotated_pub_.publish(out);
    }

    core::Params params_;
    std::unique_ptr<core::Engine> engine_;
    core::LatestSlot<Pending> slot_;
    core::StampedBuffer<std::vector<hrnet_box>> detections_;
    core::StampedBuffer<sensor_msgs::ImageConstPtr> depths_{8};
    std::mutex info_mutex_;
    hrnet_intrinsics intrinsics_{};
    bool have_intrinsics_ = false;
    Stamp last_stamp_;   // of the last frame taken (worker thread only)
    std::atomic<uint64_t> dropped_{0};
    core::LogLimiter image_log_, input_log_, frame_log_;
    ros::Publisher people_pub_, markers_pub_, annotated_pub_, latency_pub_, dropped_pub_;
    ros::Subscriber image_sub_, detections_sub_, depth_sub_, info_sub_;
    std::thread worker_;
};

}  // namespace

int main(int argc, char **argv) {
    ros::init(argc, argv, "hrnet_node");
    ros::NodeHandle nh, pnh("~");

    core::Params p;
    std::vector<std::string> bad;
    param(pnh, "model", p.model, bad, "a string");
    param(pnh, "input_height", p.input_height, bad, "an integer");
    param(pnh, "input_width", p.input_width, bad, "an integer");
    param(pnh, "threads", p.threads, bad, "an integer");
    param(pnh, "kernels", p.kernels, bad, "a string");
    param(pnh, "precision", p.precision, bad, "a string");
    param(pnh, "calibration", p.calibration, bad, "a string");
    param(pnh, "flip", p.flip, bad, "true or false");
    param(pnh, "smoothing", p.smoothing, bad, "true or false");
    param(pnh, "detect_every", p.detect_every, bad, "an integer");
    param(pnh, "use_detections", p.use_detections, bad, "true or false");
    param(pnh, "detection_timeout", p.detection_timeout, bad, "a number");
    param(pnh, "use_depth", p.use_depth, bad, "true or false");
    param(pnh, "depth_timeout", p.depth_timeout, bad, "a number");
    param(pnh, "publish_annotated", p.publish_annotated, bad, "true or false");
    param(pnh, "marker_scale", p.marker_scale, bad, "a number");
    param(pnh, "min_score", p.min_score, bad, "a number");
    for (const std::string &why : core::validate(p)) bad.push_back(why);
    if (!bad.empty()) {
        for (const std::string &why : bad) ROS_FATAL("hrnet_node: bad parameter %s", why.c_str());
        return 1;
    }

    std::unique_ptr<core::Engine> engine;
    try {
        engine = std::make_unique<core::Engine>(p);
    } catch (const hrnet::Error &e) {
        ROS_FATAL("hrnet_node: cannot use the model '%s': %s: %s", p.model.c_str(), e.status_name(), e.what());
        return 1;
    } catch (const std::exception &e) {
        ROS_FATAL("hrnet_node: cannot use the model '%s': %s", p.model.c_str(), e.what());
        return 1;
    }
    const hrnet_info &info = engine->info();
    ROS_INFO("hrnet_node: libhrnet %s, %s: %d joints, input %dx%d, %s kernels, %d threads, %s%s%s", hrnet_version(),
             p.model.c_str(), info.joints, info.input_height, info.input_width, kernel_name(info.kernels),
             info.num_threads, p.use_detections ? "boxes from 'detections'" : "whole image as the first box",
             p.use_depth ? ", 3D from 'depth' + 'camera_info'" : "", p.flip ? ", flip test" : "");

    Node node(nh, pnh, p, std::move(engine));
    ros::spin();
    node.stop();
    return 0;
}
