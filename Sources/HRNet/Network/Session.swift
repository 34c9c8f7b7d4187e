import CHRNetKernels

/// A runnable instance of a model at one input size: its plan (Plan.swift) and the arena the
/// plan lays tensors out in. Allocated once at creation; `forward` allocates nothing. One thread
/// at a time.
public final class Session {
    public let model: Model
    public let inputHeight: Int, inputWidth: Int
    public let threads: Int
    public var joints: Int { model.architecture.joints }
    public var heatmapHeight: Int { inputHeight / 4 }
    public var heatmapWidth: Int { inputWidth / 4 }
    public let precision: Precision
    /// Run the plain scalar kernels instead of the SIMD ones (for tests).
    public var useReferenceKernels = false
    /// The kernel set the session runs (never `.auto`).
    public let kernels: KernelSet
    /// The kernel set the C layer runs (HR_KERNELS_*).
    var kernelSet: Int32 { useReferenceKernels ? Int32(HR_KERNELS_REFERENCE) : Int32(kernels.rawValue) }

    let plan: Plan
    let arena: AlignedFloats

    /// The input size used when none is given: 256x256 for 16 joints (MPII), else 256x192.
    public static func defaultInputSize(joints: Int) -> (Int, Int) { joints == 16 ? (256, 256) : (256, 192) }

    public init(model: Model, inputHeight: Int? = nil, inputWidth: Int? = nil, threads: Int? = nil,
                precision: Precision = .fp32, kernels: KernelSet = .auto, calibration: Calibration? = nil,
                ownsModel: Bool = false) throws {
        if precision == .int8 {
            guard let calibration else {
                throw HRNetError.invalidArgument("INT8 precision needs a calibration (hrnet_options.calibration_path or calibration_data; made by hrnet_calibrator_*)")
            }
            try calibration.check(for: model)
        }
        if precision == .bf16 && hr_cpu_has_avx512bf16() == 0 {
            throw HRNetError.invalidArgument("BF16 precision needs a CPU with AVX512_BF16 (Zen 4 and later, Sapphire Rapids and later); this one has none (\(KernelSet.cpuFeatures)): use FP32")
        }
        // BF16 runs on the AVX-512 kernels, which AUTO picks on every CPU that has AVX512_BF16.
        let set = try KernelSet.resolve(kernels)
        if precision == .bf16 && set != .avx512 {
            throw HRNetError.invalidArgument("BF16 precision runs on the avx512 kernel set only, not '\(set.name)'")
        }
        // INT8 kernels (hrnet_kernels_int8.h): avx512 runs the VNNI kernel when the CPU has
        // AVX512_VNNI, else the AVX2 INT8 kernel (as does avx2); neon needs the ARMv8.2 dot
        // product. NEON without it would run the scalar INT8 reference, many times slower than
        // FP32 NEON: refused rather than offered.
        if precision == .int8 {
            switch set {
            case .avx512, .avx2: break
            case .neon:
                guard hr_cpu_has_neon_dotprod() != 0 else {
                    throw HRNetError.invalidArgument("INT8 precision on ARM needs the ARMv8.2 dot product instructions (asimddp: Cortex-A55/A75/A76 and later, Neoverse N1 and later, Apple M1 and later); this CPU has none (\(KernelSet.cpuFeatures)): use FP32")
                }
            default:
                throw HRNetError.invalidArgument("INT8 precision runs on the avx512, avx2 and neon kernel sets, not '\(set.name)'")
            }
        }
        self.kernels = set
        self.precision = precision
        let (dh, dw) = Self.defaultInputSize(joints: model.architecture.joints)
        let h = inputHeight ?? dh, w = inputWidth ?? dw
        guard h > 0, w > 0, h % 32 == 0, w % 32 == 0 else {
            throw HRNetError.invalidArgument("input size \(h)x\(w) (HxW) is invalid: height and width must each be a positive multiple of 32")
        }
        guard h <= 8192, w <= 8192 else {
            throw HRNetError.invalidArgument("input size \(h)x\(w) is too large (at most 8192 per side)")
        }
        // A network whose lowest-resolution branch is deeper than the usual stride 32 needs an
        // input divisible by that stride.
        let deepest = model.graph.tensors.map(\.level).max() ?? 1
        guard h % deepest == 0, w % deepest == 0 else {
            throw HRNetError.invalidArgument("input size \(h)x\(w) is invalid for this network: height and width must be multiples of \(deepest), its deepest stride")
        }
        let t = threads ?? Int(hr_default_threads())
        guard t >= 1, t <= 1024 else { throw HRNetError.invalidArgument("thread count \(t) is invalid (1...1024)") }
        self.model = model
        self.inputHeight = h
        self.inputWidth = w
        self.threads = t

        // The plan's sizes are overflow-checked and its BF16 weights, like the arena, are checked
        // allocations: a session too large for the memory is HRNetError.outOfMemory.
        plan = try Plan(model: model, height: h, width: w, threads: t, precision: precision, kernels: Int32(set.rawValue),
                        calibration: precision == .int8 ? calibration : nil)
        arena = try AlignedFloats(count: plan.arenaFloats)
        // An INT8 session that alone holds its model (`ownsModel`: nobody else can make another
        // session on it) frees the FP32 weights its int8 copies replace: less memory than FP32.
        if ownsModel && precision == .int8 { try model.releaseFP32Weights(plan.int8Convs) }
    }

    /// Growable buffers of the pipeline (crops, heatmaps, decoding), kept between calls.
    enum ScratchKind: Int { case input = 0, heatmaps, decode }
    private var scratchBuffers: [AlignedFloats?] = [nil, nil, nil]

    /// `count` grows with the caller's batch: a failed allocation is HRNetError.outOfMemory (the
    /// previous, smaller buffer is kept).
    func scratch(_ kind: ScratchKind, count: Int) throws -> UnsafeMutablePointer<Float> {
        if let b = scratchBuffers[kind.rawValue], b.count >= count { return b.pointer }
        guard count <= maxCheckedFloats else {
            throw HRNetError.outOfMemory("cannot allocate \(count) floats of pipeline buffers")
        }
        let b = try AlignedFloats(count: count)
        scratchBuffers[kind.rawValue] = b
        return b.pointer
    }

    /// Per-op wall time of `runs` passes over one crop of zeros, grouped by op shape:
    /// (label, seconds per pass, multiply-adds per pass). `eachOp`: one row per op instead, its
    /// label starting with its index in the plan and ending with its data flow (INT8 plans):
    /// `res` FP32 / `res-half` residual read, `+u8` / `+half` copies written, `-fp32` FP32
    /// store skipped, `u8-in` input's uint8 copy written by its producer. Each pass packs the crop first, as
    /// `forward` does: the first layer then reads an input that is in cache, not the arena's
    /// stale contents (which made it look 3x slower than it is in a forward).
    public func profile(runs: Int, eachOp: Bool = false) throws -> [(label: String, seconds: Double, macs: Double)] {
        var seconds = [Double](repeating: 0, count: plan.ops.count)
        let a = arena.pointer
        let zeros = [Float](repeating: 0, count: inputCount)
        for _ in 0..<runs {
            _ = hr_pack_input(zeros, 3, Int32(inputHeight), Int32(inputWidth), a + Int(plan.input.off))
            plan.ops.withUnsafeBufferPointer { p in
                seconds.withUnsafeMutableBufferPointer { hr_run_profiled(p.baseAddress, Int32(p.count), a, Int32(threads), kernelSet, $0.baseAddress) }
            }
        }
        var groups: [String: (Double, Double)] = [:]
        var perOp: [(label: String, seconds: Double, macs: Double)] = []
        for (i, op) in plan.ops.enumerated() {
            let label: String
            var macs = 0.0
            if op.kind == Int32(HR_OP_CONV) {
                label = "conv\(op.weights_bf16 != nil ? "-bf16 " : op.weights_int8 != nil ? "-int8 " : "")\(op.k)x\(op.k) s\(op.stride) \(op.in_c)->\(op.out.cb * 16) @\(op.out.h)x\(op.out.w)\(op.n_up > 0 ? " +up" : "")"
                macs = Double(op.in_c) * Double(op.out.cb * 16) * Double(op.k * op.k) * Double(op.out.h * op.out.w)
            } else if op.kind == Int32(HR_OP_WINOGRAD) {
                label = "wino\(op.weights_bf16 != nil ? "-bf16" : "")3x3 \(op.in_c)->\(op.out.cb * 16) @\(op.out.h)x\(op.out.w)\(op.n_up > 0 ? " +up" : "")"
                macs = Double(op.in_c) * Double(op.out.cb * 16) * 9 * Double(op.out.h * op.out.w)
            } else {
                label = "sum @\(op.out.h)x\(op.out.w)x\(op.out.cb * 16)"
            }
            if eachOp {
                var flow: [String] = []
                if op.res.off >= 0 { flow.append(op.res_f16_mode != 0 ? "res-half" : "res") }
                if op.in_u8_ready != 0 { flow.append("u8-in") }
                if op.out_u8_inv > 0 { flow.append("+u8") }
                if op.out_f16_on != 0 { flow.append("+half") }
                if op.out_skip_fp32 != 0 { flow.append("-fp32") }
                perOp.append(("\(i) \(label)" + (flow.isEmpty ? "" : " [" + flow.joined(separator: " ") + "]"), seconds[i] / Double(runs), macs))
            } else {
                let g = groups[label] ?? (0, 0)
                groups[label] = (g.0 + seconds[i] / Double(runs), g.1 + macs)
            }
        }
        // Per op: in plan order; grouped: the slowest first.
        return eachOp ? perOp : groups.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.seconds > $1.seconds }
    }

    public var inputCount: Int { 3 * inputHeight * inputWidth }
    public var heatmapCount: Int { joints * heatmapHeight * heatmapWidth }

    /// Runs `batch` crops of normalised NCHW input into NCHW heatmaps. Whole rounds of `threads`
    /// crops run one crop per thread (no barriers); the rest split each layer between threads.
    public func forward(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) throws {
        guard batch >= 1 else { throw HRNetError.invalidArgument("batch size is \(batch); it must be at least 1") }
        let a = arena.pointer
        let h = inputHeight, w = inputWidth
        func nonFinite(_ i: Int) -> HRNetError {
            let per = inputCount
            let (b, r) = (i / per, i % per)
            return .invalidArgument("input value at [\(b), \(r / (h * w)), \((r / w) % h), \(r % w)] is not finite (\(input[i]))")
        }
        let parallel = plan.slots > 1 ? (batch / plan.slots) * plan.slots : 0
        // hr_run_images counts images in a C int: a larger batch goes in whole rounds of slots.
        let chunk = ((Int(Int32.max) - plan.slots) / plan.slots) * plan.slots
        var done = 0
        while done < parallel {
            let m = min(chunk, parallel - done)
            var bad: Int64 = -1
            plan.ops.withUnsafeBufferPointer { p in
                hr_run_images(p.baseAddress, Int32(p.count), a, Int64(plan.slotFloats), Int32(plan.slots), kernelSet,
                              input + done * inputCount, Int32(m), 3, Int32(h), Int32(w), plan.input.off,
                              output + done * heatmapCount, Int32(joints), Int32(heatmapHeight), Int32(heatmapWidth), plan.output.off, &bad)
            }
            if bad >= 0 { throw nonFinite(done * inputCount + Int(bad)) }
            done += m
        }
        for b in parallel..<batch {
            let bad = hr_pack_input(input + b * inputCount, 3, Int32(h), Int32(w), a + Int(plan.input.off))
            if bad >= 0 { throw nonFinite(b * inputCount + Int(bad)) }
            plan.ops.withUnsafeBufferPointer { p in
                hr_run(p.baseAddress, Int32(p.count), a, Int32(threads), kernelSet)
            }
            hr_unpack_output(a + Int(plan.output.off), Int32(joints), Int32(heatmapHeight), Int32(heatmapWidth),
                             output + b * heatmapCount)
        }
    }
}
