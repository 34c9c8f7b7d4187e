import CHRNetKernels

/// BF16 copies of a session's weights, freed with the plan that points into them.
final class BF16Weights {
    private let buffers: [UnsafeMutablePointer<UInt16>]
    init(_ b: [UnsafeMutablePointer<UInt16>]) { buffers = b }
    deinit { for p in buffers { p.deallocate() } }
}

/// The network laid out for one input size, thread count and precision: the ops the kernels run,
/// with every tensor at an offset in an arena of `slots` slots of `slotFloats` floats (one slot
/// per thread, so a batch can run one crop per thread) plus the Winograd scratch of a team that
/// splits layers between threads.
///
/// Tensors of identical shape share memory once the earlier one is dead; identical shapes keep
/// the zero borders (which no kernel writes) in the same places, so the arena is zeroed once.
struct Plan {
    var ops: [hr_op]
    let slotFloats: Int
    let slots: Int
    let arenaFloats: Int
    let input: hr_tensor, output: hr_tensor
    let bf16Weights: BF16Weights
    static let maxSlots = 64

    init(model: Model, height h: Int, width w: Int, threads t: Int, precision: Precision) {
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
        self.bf16Weights = BF16Weights(bf16Weights)
        // One arena slot per thread (at most maxSlots): batches run one image per thread where
        // they can. The cap bounds memory for absurd thread counts.
        let slot = (top + 1023) & ~1023
        self.slotFloats = slot
        self.slots = min(t, Self.maxSlots)
        let team = slot * slots
        for i in planned.indices where planned[i].kind == Int32(HR_OP_WINOGRAD) { planned[i].scratch_team = Int64(team) }
        self.ops = planned
        self.arenaFloats = team + t * scratchStride
        self.input = desc(g.input)
        self.output = desc(g.output)
    }

}
