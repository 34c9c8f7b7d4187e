import CHRNetKernels

/// A runnable instance of a model at one input size: the op list with arena offsets, and the
/// arena itself. Allocated once at creation; `forward` allocates nothing. One thread at a time.
public final class Session {
    public let model: Model
    public let inputHeight: Int, inputWidth: Int
    public let threads: Int
    public var joints: Int { model.architecture.joints }
    public var heatmapHeight: Int { inputHeight / 4 }
    public var heatmapWidth: Int { inputWidth / 4 }
    public let precision: Precision
    /// BF16 copies of the weights (BF16 sessions), kept alive with the plan that points into them.
    private var bf16Weights: [UnsafeMutablePointer<UInt16>] = []
    /// Run the plain scalar kernels instead of the SIMD ones (for tests).
    public var useReferenceKernels = false

    private var ops: [hr_op]
    private let arena: AlignedFloats
    private let slotStride: Int
    private let slots: Int
    static let maxSlots = 64
    private let inputTensor: hr_tensor
    private let outputTensor: hr_tensor
    /// Bytes of activation memory per session.
    public var arenaBytes: Int { arena.count * 4 }

    /// The input size used when none is given: 256x256 for 16 joints (MPII), else 256x192.
    public static func defaultInputSize(joints: Int) -> (Int, Int) { joints == 16 ? (256, 256) : (256, 192) }

    public init(model: Model, inputHeight: Int? = nil, inputWidth: Int? = nil, threads: Int? = nil,
                precision: Precision = .fp32) throws {
        if precision == .bf16 && hr_cpu_has_avx512bf16() == 0 {
            throw HRNetError.invalidArgument("BF16 precision needs a CPU with AVX512_BF16 (Zen 4 and later, Sapphire Rapids and later); this one has none: use FP32")
        }
        self.precision = precision
        let (dh, dw) = Self.defaultInputSize(joints: model.architecture.joints)
        let h = inputHeight ?? dh, w = inputWidth ?? dw
        guard h > 0, w > 0, h % 32 == 0, w % 32 == 0 else {
            throw HRNetError.invalidArgument("input size \(h)x\(w) (HxW) is invalid: height and width must each be a positive multiple of 32")
        }
        guard h <= 8192, w <= 8192 else {
            throw HRNetError.invalidArgument("input size \(h)x\(w) is too large (at most 8192 per side)")
        }
        let t = threads ?? Int(hr_default_threads())
        guard t >= 1, t <= 1024 else { throw HRNetError.invalidArgument("thread count \(t) is invalid (1...1024)") }
        self.model = model
        self.inputHeight = h
        self.inputWidth = w
        self.threads = t

        // Shapes, lifetimes, then offsets: tensors of identical shape share memory once the
        // earlier one is dead. Identical shapes keep the zero borders in the same places.
        let g = model.graph
        func shape(_ id: Int) -> (cb: Int, h: Int, w: Int) {
            let tt = g.tensors[id]
            return ((tt.channels + 15) / 16, h / tt.level, w / tt.level)
        }
        var lastUse = [Int](repeating: -1, count: g.tensors.count)
        for (i, op) in g.ops.enumerated() {
            var used = [op.output]
            if op.kind == .conv { used.append(op.input) }
            if let r = op.residual { used.append(r) }
            used += op.ups.map { $0.tensor }
            for u in used { lastUse[u] = i }
        }
        lastUse[g.output] = g.ops.count
        var offset = [Int](repeating: -1, count: g.tensors.count)
        var free: [String: [Int]] = [:]
        var top = 0
        func allocate(_ id: Int) {
            let s = shape(id)
            let key = "\(s.cb)x\(s.h)x\(s.w)"
            if let o = free[key]?.popLast() { offset[id] = o; return }
            offset[id] = top
            top += s.cb * (s.h + 2) * (s.w + 2) * 16
            top = (top + 15) & ~15
        }
        allocate(g.input)
        var planned: [hr_op] = []
        func desc(_ id: Int?) -> hr_tensor {
            guard let id else { return hr_tensor(off: -1, cb: 0, h: 0, w: 0) }
            let s = shape(id)
            return hr_tensor(off: Int64(offset[id]), cb: Int32(s.cb), h: Int32(s.h), w: Int32(s.w))
        }
        var winogradScratch = 0
        var bf16CopyFloats = 0
        let bf16 = precision == .bf16
        var bf16Weights: [UnsafeMutablePointer<UInt16>] = []
        /// The BF16 weights of a convolution, in the direct layout. BF16 sessions run every layer
        /// directly: measured on one Zen 5 core, Winograd's FP32 transforms cost more than its
        /// 2.25x fewer BF16 products save (W32 32-channel layers: 11.0 ms Winograd vs ~7.4 direct).
        func bf16Pack(_ conv: Int) -> UnsafePointer<UInt16> {
            let c = model.convs[conv]
            let n = hr_bf16_weights_size(Int32(c.cin), Int32(c.cout), Int32(c.k))
            let dst = UnsafeMutablePointer<UInt16>.allocate(capacity: n)
            if c.winograd {
                let direct = model.directWeights(conv)
                direct.withUnsafeBufferPointer { hr_pack_weights_bf16($0.baseAddress, Int32(c.cin), Int32(c.cout), Int32(c.k), dst) }
            } else {
                hr_pack_weights_bf16(model.weights(conv), Int32(c.cin), Int32(c.cout), Int32(c.k), dst)
            }
            bf16Weights.append(dst)
            return UnsafePointer(dst)
        }
        for (i, op) in g.ops.enumerated() {
            if offset[op.output] < 0 { allocate(op.output) }
            var o = hr_op()
            o.kind = op.kind == .conv ? Int32(HR_OP_CONV) : Int32(HR_OP_SUM)
            o.relu = op.relu ? 1 : 0
            o.accumulate = op.accumulate ? 1 : 0
            o.out = desc(op.output)
            o.res = desc(op.residual)
            o.in = desc(op.kind == .conv ? op.input : nil)
            o.n_up = Int32(op.ups.count)
            withUnsafeMutableBytes(of: &o.up) { raw in
                let p = raw.bindMemory(to: hr_tensor.self)
                for (u, up) in op.ups.enumerated() { p[u] = desc(up.tensor) }
            }
            withUnsafeMutableBytes(of: &o.up_f) { raw in
                let p = raw.bindMemory(to: Int32.self)
                for (u, up) in op.ups.enumerated() { p[u] = Int32(up.factor) }
            }
            if op.kind == .conv {
                let c = model.convs[op.conv]
                o.k = Int32(c.k); o.stride = Int32(c.stride); o.in_c = Int32(c.cin)
                o.weights = model.weights(op.conv)
                o.bias = model.bias(op.conv)
                // BF16 sessions keep the head (heatmaps, a tiny 1x1) in FP32.
                let lowPrecision = bf16 && op.output != g.output
                let choose = lowPrecision ? hr_choose_tile_bf16 : hr_choose_tile
                if lowPrecision { o.weights_bf16 = bf16Pack(op.conv) }
                if c.winograd && !lowPrecision {
                    // One fused op per row of 2x2 output tiles; its scratch is planned below.
                    let tw = (Int(o.out.w) + 1) / 2
                    o.kind = Int32(HR_OP_WINOGRAD)
                    winogradScratch = max(winogradScratch, Int(hr_wino_scratch_floats(o.in.cb, o.out.cb, o.out.w)))
                    choose(o.out.cb, Int32(tw), 16, Int32(t), &o.tile_b, &o.tile_t)
                } else {
                    if lowPrecision { bf16CopyFloats = max(bf16CopyFloats, (hr_bf16_tensor_size(&o.in) + 1) / 2) }
                    choose(o.out.cb, o.out.w, o.out.h, Int32(t), &o.tile_b, &o.tile_t)
                }
                planned.append(o)
            } else {
                planned.append(o)
            }
            var dead = Set<Int>([op.output])
            if op.kind == .conv { dead.insert(op.input) }
            if let r = op.residual { dead.insert(r) }
            for up in op.ups { dead.insert(up.tensor) }
            for d in dead where lastUse[d] == i {
                let s = shape(d)
                free["\(s.cb)x\(s.h)x\(s.w)", default: []].append(offset[d])
            }
        }
        // Winograd scratch, shared by all Winograd ops (each uses it only while it runs). A slot
        // holds one, for the thread that runs a crop alone in it; a team splitting layers uses
        // one per thread after all slots (never inside a slot: other slots' zero borders must
        // stay zero).
        var scratchStride = 0
        if winogradScratch > 0 {
            scratchStride = (winogradScratch + 15) & ~15
            let scratchAt = top
            for i in planned.indices where planned[i].kind == Int32(HR_OP_WINOGRAD) {
                planned[i].scratch = Int64(scratchAt)
                planned[i].scratch_stride = Int64(scratchStride)
            }
            top += scratchStride
        }
        // The BF16 copy of a direct convolution's input, shared by all of them.
        if bf16CopyFloats > 0 {
            for i in planned.indices where planned[i].kind == Int32(HR_OP_CONV) && planned[i].weights_bf16 != nil {
                planned[i].bf16_copy = Int64(top)
            }
            top += (bf16CopyFloats + 15) & ~15
        }
        self.bf16Weights = bf16Weights
        // One arena slot per thread (at most maxSlots): batches run one image per thread where
        // they can. The cap bounds memory for absurd thread counts.
        let slot = (top + 1023) & ~1023
        self.slotStride = slot
        self.slots = min(t, Self.maxSlots)
        let team = slot * slots
        for i in planned.indices where planned[i].kind == Int32(HR_OP_WINOGRAD) { planned[i].scratch_team = Int64(team) }
        self.ops = planned
        self.arena = try AlignedFloats(count: team + t * scratchStride)
        self.inputTensor = desc(g.input)
        self.outputTensor = desc(g.output)
    }

    deinit { for p in bf16Weights { p.deallocate() } }

    /// Growable buffers of the pipeline (crops, heatmaps, decoding), kept between calls.
    enum ScratchKind: Int { case input = 0, heatmaps, decode }
    private var scratchBuffers: [AlignedFloats?] = [nil, nil, nil]

    func scratch(_ kind: ScratchKind, count: Int) throws -> UnsafeMutablePointer<Float> {
        if let b = scratchBuffers[kind.rawValue], b.count >= count { return b.pointer }
        let b = try AlignedFloats(count: count)
        scratchBuffers[kind.rawValue] = b
        return b.pointer
    }

    /// Per-op wall time of `runs` passes over one crop of zeros, grouped by op shape:
    /// (label, seconds per pass, multiply-adds per pass).
    public func profile(runs: Int) throws -> [(label: String, seconds: Double, macs: Double)] {
        var seconds = [Double](repeating: 0, count: ops.count)
        let a = arena.pointer
        for _ in 0..<runs {
            ops.withUnsafeBufferPointer { p in
                seconds.withUnsafeMutableBufferPointer { hr_run_profiled(p.baseAddress, Int32(p.count), a, 0, 1, Int32(threads), $0.baseAddress) }
            }
        }
        var groups: [String: (Double, Double)] = [:]
        for (i, op) in ops.enumerated() {
            let label: String
            var macs = 0.0
            if op.kind == Int32(HR_OP_CONV) {
                label = "conv\(op.weights_bf16 != nil ? "-bf16" : "")\(op.k)x\(op.k) s\(op.stride) \(op.in_c)->\(op.out.cb * 16) @\(op.out.h)x\(op.out.w)\(op.n_up > 0 ? " +up" : "")"
                macs = Double(op.in_c) * Double(op.out.cb * 16) * Double(op.k * op.k) * Double(op.out.h * op.out.w)
            } else if op.kind == Int32(HR_OP_WINOGRAD) {
                label = "wino\(op.weights_bf16 != nil ? "-bf16" : "")3x3 \(op.in_c)->\(op.out.cb * 16) @\(op.out.h)x\(op.out.w)\(op.n_up > 0 ? " +up" : "")"
                macs = Double(op.in_c) * Double(op.out.cb * 16) * 9 * Double(op.out.h * op.out.w)
            } else {
                label = "sum @\(op.out.h)x\(op.out.w)x\(op.out.cb * 16)"
            }
            let g = groups[label] ?? (0, 0)
            groups[label] = (g.0 + seconds[i] / Double(runs), g.1 + macs)
        }
        return groups.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.seconds > $1.seconds }
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
        let parallel = slots > 1 ? (batch / slots) * slots : 0
        if parallel > 0 {
            var bad: Int64 = -1
            ops.withUnsafeBufferPointer { p in
                hr_run_images(p.baseAddress, Int32(p.count), a, Int64(slotStride), Int32(slots), useReferenceKernels ? 1 : 0,
                              input, Int32(parallel), 3, Int32(h), Int32(w), inputTensor.off,
                              output, Int32(joints), Int32(heatmapHeight), Int32(heatmapWidth), outputTensor.off, &bad)
            }
            if bad >= 0 { throw nonFinite(Int(bad)) }
        }
        for b in parallel..<batch {
            let bad = hr_pack_input(input + b * inputCount, 3, Int32(h), Int32(w), a + Int(inputTensor.off))
            if bad >= 0 { throw nonFinite(b * inputCount + Int(bad)) }
            ops.withUnsafeBufferPointer { p in
                hr_run(p.baseAddress, Int32(p.count), a, 0, 1, Int32(threads), useReferenceKernels ? 1 : 0)
            }
            hr_unpack_output(a + Int(outputTensor.off), Int32(joints), Int32(heatmapHeight), Int32(heatmapWidth),
                             output + b * heatmapCount)
        }
    }
}
