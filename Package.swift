// swift-tools-version:5.9
// libhrnet: an embeddable CPU engine for HRNet human-pose estimation.
//
// Targets follow the data flow: CHRNetKernels (C, OpenMP, AVX-512) <- HRNet (Swift core:
// checkpoint reading, network planning, pipeline) <- HRNetCAPI (the @_cdecl C ABI, linked into
// libhrnet.so with the Swift runtime statically, so C and Python hosts need no Swift toolchain).
import PackageDescription

// LLVM's OpenMP runtime from Debian's libomp-dev. Swift drives the final link and rejects
// -fopenmp there, so the runtime is linked by name with an rpath.
let ompLib = "/usr/lib/llvm-14/lib"
let kernelFlags: [String] = ["-O3", "-fopenmp", "-ffp-contract=fast", "-fno-math-errno", "-std=gnu11"]
let ompLink: [LinkerSetting] = [
    .unsafeFlags(["-L\(ompLib)", "-Xlinker", "-rpath", "-Xlinker", ompLib]),
    .linkedLibrary("omp"),
]

let package = Package(
    name: "libhrnet",
    products: [
        .library(name: "hrnet", type: .dynamic, targets: ["HRNetCAPI"]),
        .executable(name: "hrnet-bench", targets: ["hrnet-bench"]),
        .executable(name: "hrnet-pose", targets: ["hrnet-pose"]),
    ],
    targets: [
        .target(
            name: "CHRNetKernels",
            cSettings: [.unsafeFlags(kernelFlags)],
            linkerSettings: ompLink
        ),
        .target(
            name: "HRNet",
            dependencies: ["CHRNetKernels"]
            // Built with Swift's normal checks (not -Ounchecked): this target parses untrusted
            // bytes, and an unchecked overflow there would be a wild read, not a trap. The hot
            // loops are the C kernels, so this costs no measurable speed (see the issue notes).
        ),
        .target(
            name: "HRNetCAPI",
            dependencies: ["HRNet"],
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),
        .executableTarget(
            name: "hrnet-bench",
            dependencies: ["HRNet"]
        ),
        // PNG/JPEG reading and PNG writing for hrnet-pose, on Debian's libpng and libjpeg-turbo
        // (libpng-dev, libjpeg-dev; installed by .ci/setup).
        .target(
            name: "CImageIO",
            cSettings: [.unsafeFlags(["-O2", "-std=gnu11"])],
            linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]
        ),
        .executableTarget(
            name: "hrnet-pose",
            dependencies: ["HRNet", "CImageIO"]
        ),
        .testTarget(
            name: "HRNetTests",
            dependencies: ["HRNet", "CHRNetKernels"],
            resources: []
        ),
    ]
)
