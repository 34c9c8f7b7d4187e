// swift-tools-version:5.9
// libhrnet: an embeddable CPU engine for HRNet human-pose estimation.
//
// Targets follow the data flow: CHRNetKernels (C, OpenMP, AVX-512) <- HRNet (Swift core:
// checkpoint reading, network planning, pipeline) <- HRNetCAPI (the @_cdecl C ABI, linked into
// libhrnet.so with the Swift runtime statically, so C and Python hosts need no Swift toolchain).
import Foundation
import PackageDescription

// Debian/Ubuntu multiarch library directory of the architecture this manifest is evaluated on
// (the build machine's; cross builds would pass their own).
#if arch(arm64)
let multiarch = "/usr/lib/aarch64-linux-gnu"
#else
let multiarch = "/usr/lib/x86_64-linux-gnu"
#endif
let kernelFlags: [String] = ["-O3", "-fopenmp", "-ffp-contract=fast", "-fno-math-errno", "-std=gnu11"]
// LLVM's OpenMP runtime, linked by its soname. Swift drives the final link and rejects -fopenmp
// there. Every Debian/Ubuntu libomp5-N package (LLVM 14 in Debian 12, 19 in Debian 13, 18 in
// Ubuntu 24.04) installs <multiarch>/libomp.so.5 -> ../llvm-N/lib/libomp.so.5, so this needs
// only the runtime package, no LLVM version in any path and no RUNPATH (README "GENERIC
// kernels and linking").
let ompLink: [LinkerSetting] = [
    .unsafeFlags(["-L\(multiarch)", "-Xlinker", "-l:libomp.so.5"]),
]
// OpenBLAS for the GENERIC kernels (conv_generic.c): Debian's single-threaded build
// (libopenblas-serial-dev), linked statically with its symbols kept out of the dynamic symbol
// table. So it never starts threads inside the OpenMP team, and it is private to this library:
// the libopenblas.so.0 a host may load (numpy, the host's own BLAS, any variant) neither replaces
// it nor is replaced by it, and no setting is shared. --wrap replaces its buffer allocator,
// which that build does not lock, with one buffer per thread (conv_generic.c). Measurements and
// reasons: README "GENERIC kernels and linking".
let openblasLink: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--wrap=blas_memory_alloc", "-Xlinker", "--wrap=blas_memory_free",
                  "-Xlinker", "\(multiarch)/openblas-serial/libopenblas.a",
                  "-Xlinker", "--exclude-libs=libopenblas.a"]),
]

// The ABI's major version, HRNET_VERSION_MAJOR of include/hrnet.h: the version is written there
// and nowhere else (the Makefile, python/setup.py and the packaging read it too).
let majorVersion: String = {
    let header = Context.packageDirectory + "/include/hrnet.h"
    guard let text = try? String(contentsOfFile: header, encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("#define HRNET_VERSION_MAJOR ") }),
          let major = line.split(separator: " ").dropFirst(2).first, Int(major) != nil
    else { fatalError("no HRNET_VERSION_MAJOR in \(header)") }
    return String(major)
}()
// libhrnet.so's interface as a system library: SONAME libhrnet.so.MAJOR (`make install` names the
// file libhrnet.so.MAJOR.MINOR.PATCH and adds the links), and a version script that exports the
// hrnet_* functions of the C API and nothing else (packaging/hrnet.map). Linker settings of a
// target apply to every binary that links it, so the libFuzzer harness that links HRNetCAPI into
// an executable (HRNET_FUZZ=1, below) goes without them: the script's `local: *` would also hide
// the sanitizer runtime's interceptors there.
let libraryInterface: [String] = Context.environment["HRNET_FUZZ"] == "1" ? [] : [
    "-Xlinker", "-soname=libhrnet.so.\(majorVersion)",
    "-Xlinker", "--version-script=\(Context.packageDirectory)/packaging/hrnet.map",
]
// The command-line tools link the Swift runtime, Foundation and its ICU data statically too, so
// they run where no Swift toolchain is installed (`ldd` lists no libswift*, no libFoundation*).
// -static-stdlib is also needed when their main module is compiled: it then imports the static
// Foundation, whose modules record the static libraries it needs (CoreFoundation, ICU) for the
// link. Targets they import (HRNetCLI) need not: the main module's records cover them.
let staticSwift: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"])]
let staticSwiftCompile: [SwiftSetting] = [.unsafeFlags(["-static-stdlib"])]

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
            linkerSettings: ompLink + openblasLink
        ),
        .target(
            name: "HRNet",
            dependencies: ["CHRNetKernels"]
            // Built with Swift's normal checks (not -Ounchecked): this target parses untrusted
            // bytes, and an unchecked overflow there would be a wild read, not a trap. The hot
            // loops are the C kernels: hrnet-bench before and after, interleaved, gave the same speed.
        ),
        .target(
            name: "HRNetCAPI",
            dependencies: ["HRNet"],
            // lld (the Swift toolchain's): with gold, Swift type descriptors the version script
            // hides stayed in the dynamic symbol table as LOCAL entries; lld leaves only hrnet_*.
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-use-ld=lld"] + libraryInterface)]
        ),
        .executableTarget(
            name: "hrnet-bench",
            dependencies: ["HRNet"],
            swiftSettings: staticSwiftCompile,
            linkerSettings: staticSwift
        ),
        // PNG/JPEG reading and PNG writing for hrnet-pose, on Debian's libpng and libjpeg-turbo
        // (libpng-dev, libjpeg-dev; installed by .ci/setup).
        .target(
            name: "CImageIO",
            cSettings: [.unsafeFlags(["-O2", "-std=gnu11"])],
            linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]
        ),
        // Video reading and writing for hrnet-pose, on the system's FFmpeg (libavformat-dev,
        // libavcodec-dev, libswscale-dev, libavutil-dev; installed by .ci/setup). Only the
        // executable links it: libhrnet.so never depends on FFmpeg (python/tests/test_cli_video.py
        // checks its NEEDED entries).
        .target(
            name: "CVideoIO",
            cSettings: [.unsafeFlags(["-O2", "-std=gnu11"])],
            linkerSettings: [.linkedLibrary("avformat"), .linkedLibrary("avcodec"),
                             .linkedLibrary("swscale"), .linkedLibrary("avutil")]
        ),
        // hrnet-pose's JSON inputs (--dets, --gt) and their checks, a library so the fuzz harness
        // can drive them (an executable target cannot be imported).
        .target(
            name: "HRNetCLI",
            dependencies: ["HRNet"]
        ),
        .executableTarget(
            name: "hrnet-pose",
            dependencies: ["HRNet", "CImageIO", "CVideoIO", "HRNetCLI"],
            swiftSettings: staticSwiftCompile,
            linkerSettings: staticSwift
        ),
        .testTarget(
            name: "HRNetTests",
            dependencies: ["HRNet", "CHRNetKernels"],
            resources: []
        ),
    ]
)

// libFuzzer harnesses (Tests/fuzz/harnesses/<name>), only when HRNET_FUZZ=1 is set: a normal
// build never sees them. Tests/fuzz/run.sh builds them with the sanitizers and runs them.
if Context.environment["HRNET_FUZZ"] == "1" {
    let harnesses: [(name: String, dependencies: [Target.Dependency])] = [
        ("checkpoint", ["HRNet"]),
        ("pipeline", ["HRNetCAPI", "CHRNetKernels"]),
        ("image", ["CImageIO"]),
        ("json", ["HRNetCLI", "HRNet"]),
    ]
    for h in harnesses {
        package.targets.append(.executableTarget(name: "fuzz-\(h.name)", dependencies: h.dependencies,
                                                 path: "Tests/fuzz/harnesses/\(h.name)"))
        package.products.append(.executable(name: "fuzz-\(h.name)", targets: ["fuzz-\(h.name)"]))
    }
}
