import CHRNetKernels

/// Weights a plan made for its own session (BF16 copies, direct copies of Winograd layers for
/// sets that run them directly), freed with the plan that points into them.
final class PlanWeights {
    private let bf16: [CheckedBuffer<UInt16>]
    private let fp32: [AlignedFloats]
    private let int8: [Int8Conv]
    init(bf16: [CheckedBuffer<UInt16>], fp32: [AlignedFloats], int8: [Int8Conv]) { self.bf16 = bf16; self.fp32 = fp32; self.int8 = int8 }
}

/// A size the kernels take as a C int; a file declaring a larger one is refused.
private func int32(_ v: Int, _ what: @autoclosure () -> String) throws -> Int32 {
    guard let r = Int32(exactly: v) else { throw HRNetError.model("\(what()) is \(v), more than the kernels handle (\(Int32.max))") }
    return r
}

/// The network laid out for one input size, thread count and precision: the ops the kernels run,
/// with every tensor at an offset in an arena of `slots` slots of `slotFloats` floats (one slot
/// per thread, so a batch can run one crop per thread) plus the Winograd scratch of a team that
/// splits layers between threads.
///
/// Tensors of identical shape share memory once the earlier one is dead; identical shapes keep
/// the zero borders (which no kernel writes) in the same places, so the arena is zeroed once.
///
/// Every size here grows with the checkpoint (channels) and the input size: they are computed
/// with overflow checks (an arena beyond the address space is HRNetError.outOfMemory), and the
/// BF16 weight copies are checked allocations.
struct Plan {
    var ops: [hr_op]
    let slotFloats: Int
    let slots: Int
    let arenaFloats: Int
    let input: hr_tensor, output: hr_tensor
    let ownWeights: PlanWeights
    /// The model convolution each op runs (nil for sums).
    let convOf: [Int?]
    /// Convolutions the plan runs in INT8 from its own copies (their FP32 weights unused).
    var int8Convs: Set<Int> { Set(zip(ops, convOf).compactMap { $0.0.weights_int8 != nil ? $0.1 : nil }) }
    static let maxSlots = 64

    /// `kernels`: the HR_KERNELS_* set the session runs (tiles are chosen for it; GENERIC runs
    /// Winograd layers as direct convolutions, with per-thread im2col scratch).
    init(model: Model, height h: Int, width w: Int, threads t: Int, precision: Precision, kernels: Int32,
         calibration: Calibration? = nil) throws {
        // Shapes, lifetimes, then offsets.
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
        let tooLarge = HRNetError.outOfMemory("the activations of this network at \(h)x\(w) need more memory than the address space holds")
        /// Reserves `floats` (rounded up to 16) at the top of a slot.
        func reserve(_ floats: Int) throws -> Int {
            let at = top
            top = try checkedSum(top, try checkedSum(floats, 15, or: tooLarge), or: tooLarge) & ~15
            guard top <= maxCheckedFloats else { throw tooLarge }
            return at
        }
        func allocate(_ id: Int) throws {
            let s = shape(id)
            let key = "\(s.cb)x\(s.h)x\(s.w)"
            if let o = free[key]?.popLast() { offset[id] = o; return }
            offset[id] = try reserve(try checkedProduct(s.cb, s.h + 2, s.w + 2, 16, or: tooLarge))
        }
        try allocate(g.input)
        var planned: [hr_op] = []
        func desc(_ id: Int?) throws -> hr_tensor {
            guard let id else { return hr_tensor(off: -1, cb: 0, h: 0, w: 0) }
            let s = shape(id)
            return hr_tensor(off: Int64(offset[id]), cb: try int32(s.cb, "the channel blocks of tensor \(id)"),
                             h: Int32(s.h), w: Int32(s.w))
        }
        var winogradScratch = 0
        var genericScratch = 0
        var bf16CopyFloats = 0
        var int8Convs: [Int8Conv] = []
        var convOf: [Int?] = []
        let bf16 = precision == .bf16
        let generic = kernels == Int32(HR_KERNELS_GENERIC)
        var bf16Weights: [CheckedBuffer<UInt16>] = []
        var directCopies: [AlignedFloats] = []
        /// The BF16 weights of a convolution, in the direct layout. BF16 sessions run every layer
        /// directly: measured on one Zen 5 core, Winograd's FP32 transforms cost more than its
        /// 2.25x fewer BF16 products save (W32 32-channel layers: 11.0 ms Winograd vs ~7.4 direct).
        func bf16Pack(_ conv: Int) throws -> UnsafePointer<UInt16> {
            let c = model.convs[conv]
            let cin = try int32(c.cin, "input channels of convolution \(conv)")
            let cout = try int32(c.cout, "output channels of convolution \(conv)")
            let k = try int32(c.k, "kernel size of convolution \(conv)")
            let n = hr_bf16_weights_size(cin, cout, k)
            let dst = try CheckedBuffer<UInt16>(count: n, what: "the BF16 weights of convolution \(conv)")
            if c.winograd {
                let direct = try model.directWeights(conv)
                hr_pack_weights_bf16(direct.pointer, cin, cout, k, dst.pointer)
            } else {
                hr_pack_weights_bf16(model.weights(conv), cin, cout, k, dst.pointer)
            }
            bf16Weights.append(dst)
            return UnsafePointer(dst.pointer)
        }
        for (i, op) in g.ops.enumerated() {
            if offset[op.output] < 0 { try allocate(op.output) }
            var o = hr_op()
            o.kind = op.kind == .conv ? Int32(HR_OP_CONV) : Int32(HR_OP_SUM)
            o.relu = op.relu ? 1 : 0
            o.accumulate = op.accumulate ? 1 : 0
            o.out = try desc(op.output)
            o.res = try desc(op.residual)
            o.in = try desc(op.kind == .conv ? op.input : nil)
            o.n_up = Int32(op.ups.count)
            let ups = try op.ups.map { try desc($0.tensor) }
            withUnsafeMutableBytes(of: &o.up) { raw in
                let p = raw.bindMemory(to: hr_tensor.self)
                for (u, up) in ups.enumerated() { p[u] = up }
            }
            withUnsafeMutableBytes(of: &o.up_f) { raw in
                let p = raw.bindMemory(to: Int32.self)
                for (u, up) in op.ups.enumerated() { p[u] = Int32(up.factor) }
            }
            if op.kind == .conv {
                let c = model.convs[op.conv]
                o.k = try int32(c.k, "kernel size of convolution \(op.conv)")
                o.stride = try int32(c.stride, "stride of convolution \(op.conv)")
                o.in_c = try int32(c.cin, "input channels of convolution \(op.conv)")
                o.weights = model.weights(op.conv)
                o.bias = model.bias(op.conv)
                // INT8: layers whose input was never negative in calibration (so the network's
                // first layer, on the signed normalised image, stays FP32), not the head, and
                // whose int32 sums cannot overflow.
                var int8: Int8Conv? = nil
                if precision == .int8, let cal = calibration, op.output != g.output,
                   cal.minimums[op.conv] >= 0, cal.clips[op.conv] > 0, Int8Conv.fitsInt32(cin: c.cin, k: c.k) {
                    // A Winograd layer's direct weights are needed only to quantize them: the
                    // plan keeps the int8 copy and the bias, no FP32 weights.
                    let direct = c.winograd ? try model.directWeights(op.conv) : nil
                    int8 = try Int8Conv(packed: direct.map { UnsafePointer($0.pointer) } ?? model.weights(op.conv),
                                        bias: model.bias(op.conv),
                                        cin: c.cin, cout: c.cout, k: c.k, clip: cal.clips[op.conv], what: "convolution \(op.conv)",
                                        kernel: hr_int8_kernel(kernels))
                }
                if let int8 {
                    int8Convs.append(int8)
                    o.weights = nil
                    o.bias = UnsafePointer(int8.bias.pointer)
                    o.weights_int8 = UnsafePointer(int8.weights.pointer)
                    o.int8_scale = UnsafePointer(int8.scales.pointer)
                    o.int8_inv = int8.inv
                    o.weights_int8_avx2 = int8.wide.map { UnsafePointer($0.pointer) }
                    o.int8_wsum = int8.sums.map { UnsafePointer($0.pointer) }
                    hr_choose_tile_int8_op(kernels, &o, Int32(t))
                } else {
                    // BF16 sessions keep the head (heatmaps, a tiny 1x1) in FP32.
                    let lowPrecision = bf16 && op.output != g.output
                    let choose: (Int32, Int32, Int32, Int32, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Void =
                        lowPrecision ? hr_choose_tile_bf16 : { hr_choose_tile_set(kernels, $0, $1, $2, $3, $4, $5) }
                    if lowPrecision { o.weights_bf16 = try bf16Pack(op.conv) }
                    if c.winograd && generic && !lowPrecision {
                        // GENERIC runs no Winograd: the layer runs directly on its recovered weights.
                        let direct = try model.directWeights(op.conv)
                        let icb = (c.cin + 15) / 16, ocb = (c.cout + 15) / 16
                        o.weights = UnsafePointer(direct.pointer)
                        o.bias = UnsafePointer(direct.pointer + ocb * icb * 9 * 256)
                        directCopies.append(direct)
                    }
                    if c.winograd && !lowPrecision && !generic {
                        // One fused op per row of 2x2 output tiles; its scratch is planned below.
                        let tw = (Int(o.out.w) + 1) / 2
                        o.kind = Int32(HR_OP_WINOGRAD)
                        winogradScratch = max(winogradScratch, Int(hr_wino_scratch_floats(o.in.cb, o.out.cb, o.out.w)))
                        guard winogradScratch <= maxCheckedFloats else { throw tooLarge }
                        choose(o.out.cb, Int32(tw), 16, Int32(t), &o.tile_b, &o.tile_t)
                    } else {
                        if lowPrecision { bf16CopyFloats = max(bf16CopyFloats, (hr_bf16_tensor_size(&o.in) + 1) / 2) }
                        choose(o.out.cb, o.out.w, o.out.h, Int32(t), &o.tile_b, &o.tile_t)
                        if generic && !lowPrecision {
                            genericScratch = max(genericScratch, Int(hr_generic_scratch_floats(&o)))
                            guard genericScratch <= maxCheckedFloats else { throw tooLarge }
                        }
                    }
                }
                planned.append(o)
                convOf.append(op.conv)
            } else {
                planned.append(o)
                convOf.append(nil)
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
        if precision == .int8 {
            try Plan.int8DataFlow(graph: g, ops: &planned, shape: shape, reserve: reserve, tooLarge: tooLarge)
        }
        // Winograd scratch, shared by all Winograd ops (each uses it only while it runs). A slot
        // holds one, for the thread that runs a crop alone in it; a team splitting layers uses
        // one per thread after all slots (never inside a slot: other slots' zero borders must
        // stay zero).
        // GENERIC's im2col scratch is planned the same way (an op uses one kind or the other).
        func usesScratch(_ o: hr_op) -> Bool {
            o.kind == Int32(HR_OP_WINOGRAD) || (generic && o.kind == Int32(HR_OP_CONV) && o.weights_bf16 == nil)
        }
        var scratchStride = 0
        let scratchFloats = max(winogradScratch, genericScratch)
        if scratchFloats > 0 {
            scratchStride = (scratchFloats + 15) & ~15
            let scratchAt = try reserve(scratchStride)
            for i in planned.indices where usesScratch(planned[i]) {
                planned[i].scratch = Int64(scratchAt)
                planned[i].scratch_stride = Int64(scratchStride)
            }
        }
        // The BF16 copy of a direct convolution's input, shared by all of them.
        if bf16CopyFloats > 0 {
            let copyAt = try reserve(bf16CopyFloats)
            for i in planned.indices where planned[i].kind == Int32(HR_OP_CONV) && planned[i].weights_bf16 != nil {
                planned[i].bf16_copy = Int64(copyAt)
            }
        }
        // The uint8 copy of the input of an INT8 convolution whose input's producer does not write
        // it (above), shared by all such convolutions.
        let quantizing = planned.indices.filter { planned[$0].weights_int8 != nil && planned[$0].in_u8_ready == 0 }
        if let copyFloats = quantizing.map({ (Int(hr_int8_tensor_bytes(&planned[$0].in)) + 3) / 4 }).max() {
            let copyAt = try reserve(copyFloats)
            for i in quantizing { planned[i].int8_copy = Int64(copyAt) }
        }
        self.ownWeights = PlanWeights(bf16: bf16Weights, fp32: directCopies, int8: int8Convs)
        self.convOf = convOf
        // One arena slot per thread (at most maxSlots): batches run one image per thread where
        // they can. The cap bounds memory for absurd thread counts.
        let slot = (top + 1023) & ~1023   // top <= maxCheckedFloats: no overflow
        self.slotFloats = slot
        self.slots = min(t, Self.maxSlots)
        let team = try checkedProduct(slot, slots, or: tooLarge)
        for i in planned.indices where usesScratch(planned[i]) { planned[i].scratch_team = Int64(team) }
        self.ops = planned
        let arena = try checkedSum(team, try checkedProduct(t, scratchStride, or: tooLarge), or: tooLarge)
        guard arena <= maxCheckedFloats else { throw tooLarge }
        self.arenaFloats = arena
        self.input = try desc(g.input)
        self.output = try desc(g.output)
    }

    /// Residuals of tensors larger than this (FP32 bytes, borders included) are read as halves:
    /// converting costs more than the bytes it saves while a tensor sits in a core's L2. Measured
    /// on this Zen 5 (2 threads, two plans in one process, runs alternating): at 200 KiB instead
    /// of 1 MiB (now also W48's 96-, 192- and 384-channel branches and W32's 32- and 64-channel
    /// ones), W48 batch 8 1.1-1.4% faster, W32 0-0.7%; at 0 (every residual), W32 0.3-0.6%
    /// faster again, but the demo model's keypoints within one heatmap pixel of FP32 fell from
    /// 99.02% to 98.91% (one joint of 918, under the 99% the INT8 mode promises), so not 0.
    static let halfResidualBytes = 200 << 10

    /// The data flow of an INT8 plan around its INT8 convolutions.
    ///
    /// A tensor qualifies when every INT8 convolution reading it quantizes it with the same factor
    /// (they share its calibration range) and all its readers come after its last writer. Then:
    /// - Residual adds of a qualifying tensor larger than `halfResidualBytes` (the skip
    ///   connections of the wide high-resolution branches and of the first stage's bottlenecks)
    ///   add it rounded to IEEE half (11 significant bits), on every kernel set, so INT8 results
    ///   stay identical across sets.
    /// - The last op writing the tensor also stores its uint8 codes (the AVX-512, AVX2, NEON and
    ///   plain epilogues all can), so its INT8 readers skip quantizing it (a pass over the FP32
    ///   tensor and a barrier each), and its half copy when residuals read it, which they then
    ///   read (2 bytes an element instead of 4); the FP32 store is skipped when nothing else
    ///   reads it (ups, FP32 layers, the output).
    ///   The codes are the ones the reader's own pass would make (hr_quantize_u8 of the same
    ///   float), the halves the ones res_f16_mode 2 makes: results are bit-equal either way (a
    ///   test undoes the fusion of a plan and compares).
    /// - A tensor larger than `halfResidualBytes` that is read only by residual adds is stored
    ///   only as its half copy: the first stage's downsample (64->256 at a quarter of the input
    ///   size; W48 384x288, one core, the downsample 0.40 -> 0.35 ms and the add reading it 0.85
    ///   -> 0.55 ms: 7 MiB of FP32 written and read again before), and the last module's
    ///   high-resolution branch output, which only the final fusion sum reads.
    /// Copies live in the slot from that writer to their last reader; copies of one shape and
    /// kind share memory, like the FP32 tensors, so the zero borders (never written) stay zero.
    private static func int8DataFlow(graph g: Graph, ops planned: inout [hr_op], shape: (Int) -> (cb: Int, h: Int, w: Int),
                                     reserve: (Int) throws -> Int, tooLarge: HRNetError) throws {
        let n = g.tensors.count
        var lastWriter = [Int](repeating: -1, count: n)
        var int8Readers = [[Int]](repeating: [], count: n)
        var residualReaders = [[Int]](repeating: [], count: n)
        var fp32Read = [Bool](repeating: false, count: n)
        var firstRead = [Int](repeating: Int.max, count: n)
        for (i, op) in g.ops.enumerated() {
            lastWriter[op.output] = i
            var reads = op.ups.map(\.tensor)
            for r in reads { fp32Read[r] = true }
            if let r = op.residual { reads.append(r); residualReaders[r].append(i) }
            if op.kind == .conv {
                reads.append(op.input)
                if planned[i].weights_int8 != nil { int8Readers[op.input].append(i) } else { fp32Read[op.input] = true }
            }
            for r in reads { firstRead[r] = min(firstRead[r], i) }
        }
        fp32Read[g.output] = true
        var qualifies = [Bool](repeating: false, count: n), halfResidual = [Bool](repeating: false, count: n)
        var freeAfter: [Int: [(tensor: Int, half: Bool)]] = [:]
        func large(_ x: Int) -> Bool {
            let s = shape(x)
            return s.cb * (s.h + 2) * (s.w + 2) * 64 > Self.halfResidualBytes
        }
        for x in 0..<n where lastWriter[x] >= 0 && firstRead[x] > lastWriter[x] {
            if !int8Readers[x].isEmpty {
                let inv = planned[int8Readers[x][0]].int8_inv
                guard inv > 0, int8Readers[x].allSatisfy({ planned[$0].int8_inv.bitPattern == inv.bitPattern }) else { continue }
                qualifies[x] = true
                freeAfter[int8Readers[x].max()!, default: []].append((x, false))
                halfResidual[x] = !residualReaders[x].isEmpty && large(x)
            } else {
                // Read only as a residual (the first bottleneck's downsample, the last
                // high-resolution branch output): its writer stores only the half copy.
                halfResidual[x] = !residualReaders[x].isEmpty && !fp32Read[x] && large(x)
            }
            if halfResidual[x] { freeAfter[residualReaders[x].max()!, default: []].append((x, true)) }
        }
        for x in 0..<n where !halfResidual[x] && !residualReaders[x].isEmpty { fp32Read[x] = true }
        var u8At = [Int](repeating: -1, count: n), halfAt = [Int](repeating: -1, count: n)
        var free: [String: [Int]] = [:]
        func key(_ x: Int, half: Bool) -> String {
            let s = shape(x)
            return "\(half ? "f16" : "u8"):\(s.cb)x\(s.h)x\(s.w)"
        }
        func place(_ x: Int, half: Bool) throws -> Int {
            if let o = free[key(x, half: half)]?.popLast() { return o }
            let s = shape(x)
            let bytes = try checkedProduct(s.cb, s.h + 2, s.w + 2, half ? 32 : 16, or: tooLarge)
            return try reserve((bytes + 3) / 4)
        }
        for i in g.ops.indices {
            let x = g.ops[i].output
            if lastWriter[x] == i && (qualifies[x] || halfResidual[x]) {
                planned[i].out_skip_fp32 = fp32Read[x] ? 0 : 1
                if qualifies[x] {
                    u8At[x] = try place(x, half: false)
                    planned[i].out_u8 = Int64(u8At[x])
                    planned[i].out_u8_inv = planned[int8Readers[x][0]].int8_inv
                    for r in int8Readers[x] {
                        planned[r].int8_copy = Int64(u8At[x])
                        planned[r].in_u8_ready = 1
                    }
                }
                if halfResidual[x] {
                    halfAt[x] = try place(x, half: true)
                    planned[i].out_f16 = Int64(halfAt[x])
                    planned[i].out_f16_on = 1
                    for r in residualReaders[x] {
                        planned[r].res_f16 = Int64(halfAt[x])
                        planned[r].res_f16_mode = 1
                    }
                }
            }
            // Freed after the op's own output was placed: an op never writes a copy it reads.
            for (d, half) in freeAfter[i] ?? [] { free[key(d, half: half), default: []].append(half ? halfAt[d] : u8At[d]) }
        }
    }

}
