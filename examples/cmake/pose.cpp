// pose.cpp - a C++ host of libhrnet through hrnet.hpp: open a checkpoint, estimate the poses of
// two person boxes on a frame, drop duplicates with OKS-NMS and print each person's joints.
//
//   pose CHECKPOINT.pth [HxW]        e.g.  pose models/synth_w16_128x96.pth 128x96
//
// A real host passes its camera frame (RGB or BGR bytes, any row stride) and its detector's
// boxes; here the frame is a synthetic pattern so the program needs nothing else.
#include <hrnet.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s CHECKPOINT.pth [HxW]\n", argv[0]);
        return 2;
    }
    try {
        hrnet::check_version();   // the library provides everything this header declares
        hrnet::Options options;
        options.threads(2);
        if (argc == 3) {
            int h = 0, w = 0;
            if (std::sscanf(argv[2], "%dx%d", &h, &w) != 2) {
                std::fprintf(stderr, "pose: input size must look like 256x192, got '%s'\n", argv[2]);
                return 2;
            }
            options.input_size(h, w);
        }
        hrnet::Session session(argv[1], options);
        const hrnet_info &info = session.info();
        std::printf("libhrnet %s: %d joints, input %dx%d, HRNet-W%d\n", hrnet::version().c_str(), info.joints,
                    info.input_height, info.input_width, info.width);

        const int width = 320, height = 240;
        std::vector<uint8_t> frame(static_cast<size_t>(width) * height * 3);
        for (size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>((i * 7) % 251);
        const std::vector<hrnet_box> boxes = {{40, 20, 80, 200, 0.9f}, {200, 30, 90, 180, 0.8f}};

        const hrnet::Poses poses = session.estimate_boxes(hrnet::image(frame.data(), width, height),
                                                          boxes.data(), boxes.size());
        const std::vector<int32_t> people = hrnet::oks_nms(poses);
        const hrnet::Skeleton skeleton = hrnet::skeleton_for_joints(poses.joints);
        for (int32_t p : people) {
            std::printf("person %d (score %.3f)\n", p, static_cast<double>(poses.scores[static_cast<size_t>(p)]));
            for (int32_t j = 0; j < poses.joints; ++j) {
                const float *k = poses.keypoint(static_cast<size_t>(p), j);
                std::printf("  %-16s %7.1f %7.1f  %.3f\n", skeleton.joints[static_cast<size_t>(j)].c_str(),
                            static_cast<double>(k[0]), static_cast<double>(k[1]), static_cast<double>(k[2]));
            }
        }
        return 0;
    } catch (const hrnet::Error &e) {
        std::fprintf(stderr, "pose: %s: %s\n", e.status_name(), e.what());
        return 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "pose: %s\n", e.what());
        return 1;
    }
}
