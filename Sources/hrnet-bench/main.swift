// hrnet-bench: ms/crop, GFLOP/s, peak RSS and load time of libhrnet, next to ONNX Runtime and
// OpenVINO measured in the same run on the same network (when ../shared/bench is present).
import CHRNetKernels
import Foundation
import HRNet

struct Options {
    var checkpoint: String? = nil
    var width = 32
    var height = 256, inputWidth = 192
    var batches = [1, 8]
    var threads = 2
    var reps = 10
    var peers = "onnxruntime,openvino,openvino-bf16"
    var peerDir: String? = nil
    var json = false
    var scaling = true
    var profile = false
    var profileOps = false
    var direct = false
    var precisions: [Precision] = [.fp32, .bf16]
    var kernels: [KernelSet] = [.auto]
}

let usage = """
usage: hrnet-bench [--checkpoint FILE | --width 32|48] [--input-size HxW] [--batch 1,8]
                   [--threads 2] [--reps 10] [--peers LIST|none] [--peer-dir DIR] [--no-scaling] [--json] [--profile] [--profile-ops] [--direct] [--precision fp32,bf16,int8]
                   [--kernels auto|avx512,avx2,neon,generic]

Times the exact FP32 network on random input: ms/crop (median and min of --reps runs after two
warm-up runs), GFLOP/s (2 x multiply-adds / time), load time, peak RSS of this process, and
thread scaling (1 vs --threads). Without --checkpoint, writes a random-weight HRNet-W<width>
checkpoint in the published layout with <peer-dir>/make_checkpoint.py. Peers (ONNX Runtime,
OpenVINO FP32 and BF16) are timed by <peer-dir>/peer_bench.py on the same network, each in a
fresh process; --peer-dir defaults to ../shared/bench next to the repository. --profile prints
the time of each kind of op instead (GFLOP/s per convolution shape) and exits; --profile-ops lists
every op in plan order (its index, shape, and in INT8 plans its data flow: residual read in FP32
or as halves, uint8/half copies written, FP32 store skipped). --direct runs the
stride-1 3x3 convolutions as direct convolutions instead of Winograd F(2x2,3x3). --kernels times
each listed kernel set (default auto: the best the CPU runs; BF16 runs on avx512 only); the
openvino-avx2 peer (OpenVINO FP32 capped to AVX2) is compared with the avx2 set, the other peers
with the first set listed. For the generic set, OpenBLAS picks its own kernels: set
OPENBLAS_CORETYPE (e.g. Haswell) to choose them, and see the line it prints.
"""

func fail(_ m: String) -> Never {
    FileHandle.standardError.write((m + "\n").data(using: .utf8)!)
    exit(2)
}

var o = Options()
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    func value() -> String { if args.isEmpty { fail("\(a) needs a value\n\(usage)") }; return args.removeFirst() }
    switch a {
    case "--checkpoint": o.checkpoint = value()
    case "--width": o.width = Int(value()) ?? 32
    case "--input-size":
        let p = value().split(separator: "x").compactMap { Int($0) }
        guard p.count == 2 else { fail("--input-size takes HxW, e.g. 256x192") }
        o.height = p[0]; o.inputWidth = p[1]
    case "--batch": o.batches = value().split(separator: ",").compactMap { Int($0) }
    case "--threads": o.threads = Int(value()) ?? 2
    case "--reps": o.reps = max(1, Int(value()) ?? 10)
    case "--peers": o.peers = value()
    case "--peer-dir": o.peerDir = value()
    case "--no-scaling": o.scaling = false
    case "--profile": o.profile = true
    case "--profile-ops": o.profile = true; o.profileOps = true
    case "--direct": o.direct = true
    case "--precision":
        o.precisions = value().split(separator: ",").map { $0 == "bf16" ? Precision.bf16 : $0 == "int8" ? Precision.int8 : Precision.fp32 }
    case "--kernels":
        o.kernels = value().split(separator: ",").map { name -> KernelSet in
            guard let k = KernelSet(name: String(name)) else { fail("--kernels: unknown set '\(name)' (auto, avx512, avx2, neon, generic)") }
            return k
        }
        if o.kernels.isEmpty { fail("--kernels needs at least one set") }
    case "--json": o.json = true
    case "-h", "--help": print(usage); exit(0)
    default: fail("unknown argument \(a)\n\(usage)")
    }
}

let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let peerDir = o.peerDir ?? repo.deletingLastPathComponent().appendingPathComponent("shared/bench").path
let havePeers = FileManager.default.fileExists(atPath: peerDir + "/peer_bench.py")

@discardableResult
func shell(_ argv: [String]) -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.standardError
    do { try p.run() } catch { return (-1, "") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func peakRSSMiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
    return 0
}

let cacheDir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-bench")
try? FileManager.default.createDirectory(at: cacheDir, withIntermediateDirectories: true)
var checkpoint = o.checkpoint ?? ""
if o.checkpoint == nil {
    guard FileManager.default.fileExists(atPath: peerDir + "/make_checkpoint.py") else {
        fail("no --checkpoint given and \(peerDir)/make_checkpoint.py is not there to make one")
    }
    checkpoint = cacheDir.appendingPathComponent("w\(o.width).pth").path
    if !FileManager.default.fileExists(atPath: checkpoint) {
        let (rc, _) = shell(["python3", peerDir + "/make_checkpoint.py", checkpoint, "--width", "\(o.width)"])
        if rc != 0 { fail("make_checkpoint.py failed") }
    }
}

// Load (cold in-process: parse, fold, pack) and run.
let t0 = Date()
let model: Model
do { model = try Model(path: checkpoint, winograd: !o.direct) } catch { fail("cannot load \(checkpoint): \(error)") }
let loadMs = Date().timeIntervalSince(t0) * 1000
let gmacs = model.gmacs(height: o.height, width: o.inputWidth)

struct Row: Codable {
    var engine: String, kernels: String, precision: String, batch: Int, threads: Int
    var msMedian: Double, msMin: Double, gflops: Double?, peakRSSMiB: Double?, openMs: Double?
    var ratioToHRNet: Double?
}
var rows: [Row] = []

func time(_ session: Session, batch: Int, reps: Int) throws -> (Double, Double) {
    var rng = SystemRandomNumberGenerator()
    let x = (0..<(batch * session.inputCount)).map { _ in Float.random(in: -2...2, using: &rng) }
    var out = [Float](repeating: 0, count: batch * session.heatmapCount)
    func once() throws -> Double {
        let s = DispatchTime.now().uptimeNanoseconds
        try x.withUnsafeBufferPointer { i in
            try out.withUnsafeMutableBufferPointer { try session.forward(input: i.baseAddress!, batch: batch, output: $0.baseAddress!) }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6 / Double(batch)
    }
    _ = try once(); _ = try once()
    let ts = try (0..<reps).map { _ in try once() }.sorted()
    return (ts[ts.count / 2], ts[0])
}

/// INT8 sessions need a calibration: measured once, on a few crops of random images (ranges
/// only set the quantization steps; the speed does not depend on them).
func benchCalibration() throws -> Calibration? {
    guard o.precisions.contains(.int8) else { return nil }
    let fp = try Session(model: model, inputHeight: o.height, inputWidth: o.inputWidth, threads: o.threads)
    let cal = try Calibrator(session: fp)
    var rng = UInt64(12345)
    for _ in 0..<4 {
        let w = o.inputWidth, h = o.height
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for i in pixels.indices { rng = rng &* 6364136223846793005 &+ 1442695040888963407; pixels[i] = UInt8(truncatingIfNeeded: rng >> 56) }
        try pixels.withUnsafeBufferPointer { p in
            try cal.add(crops: [ImageView(data: p.baseAddress!, width: w, height: h)], options: EstimateOptions(flip: false))
        }
    }
    return try cal.calibration()
}

do {
    let calibration = try benchCalibration()
    if o.profile {
        let s = try Session(model: model, inputHeight: o.height, inputWidth: o.inputWidth, threads: o.threads,
                            precision: o.precisions.first ?? .fp32, kernels: o.kernels[0], calibration: calibration)
        _ = try s.profile(runs: 2)
        let rows = try s.profile(runs: o.reps, eachOp: o.profileOps)
        let total = rows.reduce(0) { $0 + $1.seconds }
        print(String(format: "per-op profile, %@ kernels, %d threads, %.2f ms/crop in ops", s.kernels.name, o.threads, total * 1000))
        print("op                                          ms     share  GFLOP/s")
        for r in rows {
            print(String(format: "%-40@ %7.3f  %6.1f%%  %7.1f", r.label, r.seconds * 1000, r.seconds / total * 100,
                         r.macs > 0 ? 2 * r.macs / r.seconds / 1e9 : 0))
        }
        exit(0)
    }
    // FP32 first (peak RSS is this process's so far: the FP32 session alone), then BF16, INT8.
    var firstKernels = ""
    for kernels in o.kernels {
        for precision in o.precisions {
            if precision == .bf16 && kernels != .auto && kernels != .avx512 { continue }  // BF16 runs on avx512 only
            for batch in o.batches {
                let s: Session
                do {
                    s = try Session(model: model, inputHeight: o.height, inputWidth: o.inputWidth, threads: o.threads,
                                    precision: precision, kernels: kernels, calibration: calibration)
                } catch {
                    FileHandle.standardError.write("skipping \(kernels.name) \(precision): \(error)\n".data(using: .utf8)!)
                    continue
                }
                if firstKernels.isEmpty { firstKernels = s.kernels.name }
                let (med, mn) = try time(s, batch: batch, reps: o.reps)
                rows.append(Row(engine: "libhrnet", kernels: s.kernels.name, precision: ["fp32", "bf16", "int8"][precision.rawValue],
                                batch: batch, threads: o.threads, msMedian: med, msMin: mn, gflops: 2 * gmacs / (med / 1000),
                                peakRSSMiB: peakRSSMiB(), openMs: loadMs, ratioToHRNet: nil))
            }
        }
    }
    if o.kernels.contains(.generic) || KernelSet.supported.first == .generic {
        let core = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "OPENBLAS_CORETYPE unset"
        FileHandle.standardError.write("generic kernels: OpenBLAS \(openBLASDescription()) (\(core))\n".data(using: .utf8)!)
    }
    var scaling: (Double, Double)? = nil
    if o.scaling && o.threads > 1 {
        let s1 = try Session(model: model, inputHeight: o.height, inputWidth: o.inputWidth, threads: 1, kernels: o.kernels[0])
        let (m1, _) = try time(s1, batch: 1, reps: max(3, o.reps / 2))
        let mN = rows.first { $0.batch == 1 && $0.precision == "fp32" && $0.kernels == firstKernels }?.msMedian ?? m1
        scaling = (m1, m1 / mN / Double(o.threads))
    }
    // Peers, each alone in a fresh process, after our own runs have finished.
    if havePeers && o.peers != "none" {
        let onnx = cacheDir.appendingPathComponent("w\(model.architecture.width)_\(o.height)x\(o.inputWidth).onnx").path
        if !FileManager.default.fileExists(atPath: onnx) {
            let a = model.architecture
            shell(["python3", peerDir + "/onnx_hrnet.py", onnx, "--width", "\(a.width)", "--joints", "\(a.joints)",
                   "--height", "\(o.height)", "--input-width", "\(o.inputWidth)", "--blocks", "\(a.stageBlocks.first ?? 4)",
                   "--modules", a.stageModules.map(String.init).joined(separator: ",")])
        }
        for batch in o.batches {
            let (_, out) = shell(["python3", peerDir + "/peer_bench.py", onnx, "--height", "\(o.height)", "--input-width", "\(o.inputWidth)",
                                  "--batch", "\(batch)", "--reps", "\(o.reps)", "--threads", "\(o.threads)", "--peers", o.peers])
            for line in out.split(separator: "\n") {
                let f = line.split(separator: " ")
                func field(_ k: String) -> Double? {
                    f.first { $0.hasPrefix(k + "=") }.flatMap { Double($0.dropFirst(k.count + 1)) }
                }
                guard let med = field("median"), let mn = field("min"), let name = f.first else {
                    FileHandle.standardError.write("peer: \(line)\n".data(using: .utf8)!)
                    continue
                }
                let engine = name.hasPrefix("openvino") ? "openvino" : String(name)
                let precision = name.hasSuffix("bf16") ? "bf16" : name.hasSuffix("int8") ? "int8" : "fp32"
                let peerKernels = name.hasSuffix("avx2") ? "avx2" : "-"
                // Ratio: libhrnet in the same precision class (BF16 peers against our BF16 mode), and
                // the AVX2-capped peer against our avx2 set.
                let mine = rows.filter { $0.engine == "libhrnet" && $0.batch == batch }
                guard let ours = mine.first(where: { $0.precision == precision && (peerKernels == "-" ? $0.kernels == firstKernels : $0.kernels == peerKernels) })
                    ?? mine.first(where: { $0.precision == "fp32" && $0.kernels == (peerKernels == "-" ? firstKernels : peerKernels) })
                    ?? mine.first else { continue }
                rows.append(Row(engine: name.hasSuffix("avx2") ? "openvino-avx2" : engine, kernels: peerKernels, precision: precision,
                                batch: batch, threads: o.threads,
                                msMedian: med, msMin: mn, gflops: 2 * gmacs / (med / 1000), peakRSSMiB: field("peak_rss_mb"),
                                openMs: field("open_ms"), ratioToHRNet: ours.msMedian / med))
            }
        }
    }
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
        .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "?"
    let family = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
        .first { $0.hasPrefix("cpu family") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "?"
    if o.json {
        struct Report: Codable {
            var date: String, cpu: String, cpuFamily: String, model: String, inputSize: [Int], gmacsPerCrop: Double
            var loadMs: Double, rows: [Row], oneThreadMs: Double?, scalingEfficiency: Double?
        }
        let r = Report(date: ISO8601DateFormatter().string(from: Date()), cpu: cpu, cpuFamily: family,
                       model: model.architecture.description, inputSize: [o.height, o.inputWidth], gmacsPerCrop: gmacs,
                       loadMs: loadMs, rows: rows, oneThreadMs: scaling?.0, scalingEfficiency: scaling?.1)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try e.encode(r), as: UTF8.self))
    } else {
        print("\(model.architecture.description)")
        print(String(format: "input %dx%d, %.2f G multiply-adds/crop, load %.0f ms, %@ (cpu family %@), %@",
                     o.height, o.inputWidth, gmacs, loadMs, cpu, family, ISO8601DateFormatter().string(from: Date())))
        print("engine         kernels  precision  batch  threads  ms/crop(median)  ms/crop(min)  GFLOP/s  peakRSS(MiB)  open(ms)  libhrnet/peer")
        print("(GFLOP/s = 2 x multiply-adds of the network / time, whatever the algorithm; libhrnet/peer compares like precision,")
        print(" openvino-avx2 against the avx2 set, the other peers against the first set)")
        for r in rows {
            func pad(_ t: String, _ n: Int) -> String { t.count >= n ? t : t + String(repeating: " ", count: n - t.count) }
            print(String(format: "%@ %@ %@  %5d  %7d  %15.2f  %12.2f  %7.1f  %12.0f  %8.0f  %@",
                         pad(r.engine, 14), pad(r.kernels, 8), pad(r.precision, 9), r.batch, r.threads, r.msMedian, r.msMin, r.gflops ?? 0, r.peakRSSMiB ?? 0,
                         r.openMs ?? 0, r.engine == "libhrnet" ? "-" : String(format: "%.2f", r.ratioToHRNet ?? 0)))
        }
        if let (m1, eff) = scaling {
            print(String(format: "thread scaling (fp32, batch 1): 1 thread %.2f ms/crop; %d threads efficiency %.0f%%", m1, o.threads, eff * 100))
            if let b8 = rows.first(where: { $0.engine == "libhrnet" && $0.precision == "fp32" && $0.batch > 1 }) {
                print(String(format: "  batch %d on %d threads (one crop per thread): efficiency %.0f%%", b8.batch, o.threads, m1 / b8.msMedian / Double(o.threads) * 100))
            }
        }
        if !havePeers { print("(peers not timed: \(peerDir)/peer_bench.py not found)") }
    }
} catch {
    fail("benchmark failed: \(error)")
}

/// Which OpenBLAS the generic kernels call, and which core it picked.
func openBLASDescription() -> String { String(cString: hr_generic_blas_info()) }
