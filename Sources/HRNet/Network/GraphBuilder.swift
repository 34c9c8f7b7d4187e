import CHRNetKernels
#if canImport(Glibc)
import Glibc
#endif

/// Reads the pose-HRNet structure out of a checkpoint's keys and shapes, checking every tensor
/// against the channels flowing into it, and folds each BatchNorm into its convolution.
/// The structure (published `pose_hrnet.py`): stem (two 3x3 s2 convs), layer1 (bottlenecks),
/// then stages 2..n of parallel branches with transitions and fusions, and `final_layer`.
struct GraphBuilder {
    let ckpt: Checkpoint
    let what: String
    var graph = Graph()
    /// Shapes of the convolutions handed to `sink`, by index.
    var convs: [(cin: Int, cout: Int, k: Int, stride: Int)] = []
    /// Receives each folded convolution as soon as it is read (to pack it and drop the copy).
    let sink: (FoldedConv) throws -> Void
    private let keySet: Set<String>
    /// For each key prefix ending in "." the integer components that follow it, built once so a
    /// file with very many keys costs linear time, not keys x lookups.
    private let children: [Substring: Set<Int>]

    /// Limits far above any published HRNet (W48: at most 384 channels, 4 branches, stride 32),
    /// so that sizes derived from a file stay small enough for plain arithmetic.
    static let maxChannels = 1 << 16
    static let maxBranches = Int(HR_MAX_UP) + 1
    static let maxLevel = 1024

    init(_ ckpt: Checkpoint, sink: @escaping (FoldedConv) throws -> Void) {
        self.ckpt = ckpt
        self.sink = sink
        self.what = ckpt.name
        self.keySet = Set(ckpt.keys)
        var children: [Substring: Set<Int>] = [:]
        for k in ckpt.keys {
            var start = k.startIndex
            while let dot = k[start...].firstIndex(of: ".") {
                let next = k.index(after: dot)
                guard let end = k[next...].firstIndex(of: ".") else { break }
                if let i = Int(k[next..<end]) { children[k[..<next], default: []].insert(i) }
                start = next
            }
        }
        self.children = children
    }

    func has(_ key: String) -> Bool { keySet.contains(key) }

    /// Distinct integer path components directly under `prefix` ("stage2.0.branches." -> [0, 1]).
    func indices(under prefix: String) -> [Int] {
        (children[Substring(prefix)] ?? []).sorted()
    }

    /// A list of indices for a message: at most the first 8.
    func shown(_ a: [Int]) -> String {
        a.count <= 8 ? "\(a)" : "[" + a.prefix(8).map(String.init).joined(separator: ", ") + ", ... (\(a.count) in all)]"
    }

    func tensor(_ key: String) throws -> TensorView {
        guard let t = ckpt.tensors[key] else {
            throw HRNetError.model("\(what): key '\(key)' is missing from the state dict (not a complete pose HRNet checkpoint?)")
        }
        return t
    }

    /// Folds conv `c` (+ BatchNorm `bn`, if any) and checks its shape: `cin` input channels,
    /// optionally `cout` outputs and kernel `k`.
    mutating func conv(_ c: String, bn: String?, cin: Int, cout: Int? = nil, k: Int? = nil, stride: Int) throws -> Int {
        let w = try tensor(c + ".weight")
        let s = w.shape
        guard s.count == 4, s[2] == s[3], s[2] == 1 || s[2] == 3, s[1] == cin, s[0] > 0, s[0] <= Self.maxChannels,
              cout == nil || s[0] == cout!, k == nil || s[2] == k! else {
            if s.count == 4, s[0] > Self.maxChannels {
                throw HRNetError.model("\(what): tensor '\(c).weight' has \(s[0]) output channels (at most \(Self.maxChannels) are supported)")
            }
            let expected = "[\(cout.map(String.init) ?? "C"), \(cin), \(k ?? 3), \(k ?? 3)]"
            throw HRNetError.model("\(what): tensor '\(c).weight' has shape \(s), expected \(expected) here")
        }
        let co = s[0], kk = s[2]
        let weights = try w.floats()
        var bias = try AlignedFloats(count: co)
        if let cb = ckpt.tensors[c + ".bias"] {
            guard cb.shape == [co] else { throw HRNetError.model("\(what): tensor '\(c).bias' has shape \(cb.shape), expected [\(co)]") }
            bias = try cb.floats()
        }
        if let bn {
            var p: [AlignedFloats] = []
            for part in ["weight", "bias", "running_mean", "running_var"] {
                let t = try tensor("\(bn).\(part)")
                guard t.shape == [co] else {
                    throw HRNetError.model("\(what): tensor '\(bn).\(part)' has shape \(t.shape), expected [\(co)] (the channels of '\(c).weight')")
                }
                p.append(try t.floats())
            }
            let per = cin * kk * kk
            for o in 0..<co {
                let scale = Double(p[0][o]) / (Double(p[3][o]) + 1e-5).squareRoot()
                for i in 0..<per { weights[o * per + i] = Float(Double(weights[o * per + i]) * scale) }
                bias[o] = Float(Double(p[1][o]) + (Double(bias[o]) - Double(p[2][o])) * scale)
            }
        }
        try sink(FoldedConv(name: c, cin: cin, cout: co, k: kk, stride: stride, weights: weights, bias: bias))
        for part in ["weight", "bias", "running_mean", "running_var"] {
            ckpt.tensors["\(bn ?? c).\(part)"]?.releasePages()
        }
        w.releasePages()
        convs.append((cin, co, kk, stride))
        return convs.count - 1
    }

    mutating func convOp(_ conv: Int, _ input: Int, relu: Bool, residual: Int? = nil,
                         ups: [(tensor: Int, factor: Int)] = [], into: Int? = nil, accumulate: Bool = false) -> Int {
        let c = convs[conv]
        let level = graph.tensors[input].level * c.stride
        let out = into ?? graph.tensor(c.cout, level)
        graph.ops.append(GraphOp(kind: .conv, conv: conv, input: input, output: out, residual: residual,
                                 ups: ups, accumulate: accumulate, relu: relu))
        return out
    }

    func channels(_ t: Int) -> Int { graph.tensors[t].channels }

    /// A residual unit: bottleneck if it has conv3, else a basic block; `downsample` if present.
    mutating func block(_ p: String, _ x: Int) throws -> Int {
        let cin = channels(x)
        let c1 = try conv(p + ".conv1", bn: p + ".bn1", cin: cin, stride: 1)
        let a = convOp(c1, x, relu: true)
        var residual = x
        if has(p + ".downsample.0.weight") {
            let ds = try conv(p + ".downsample.0", bn: p + ".downsample.1", cin: cin, stride: 1)
            residual = convOp(ds, x, relu: false)
        }
        let c2 = try conv(p + ".conv2", bn: p + ".bn2", cin: channels(a), k: 3, stride: 1)
        if has(p + ".conv3.weight") {
            let b = convOp(c2, a, relu: true)
            let c3 = try conv(p + ".conv3", bn: p + ".bn3", cin: channels(b), cout: channels(residual), k: 1, stride: 1)
            return convOp(c3, b, relu: true, residual: residual)
        }
        guard convs[c2].cout == channels(residual) else {
            throw HRNetError.model("\(what): tensor '\(p).conv2.weight' outputs \(convs[c2].cout) channels but the block's input has \(channels(residual))")
        }
        return convOp(c2, a, relu: true, residual: residual)
    }

    /// Reads the network; every convolution goes to `sink` in graph order (index = call order).
    static func build(_ ckpt: Checkpoint, sink: @escaping (FoldedConv) throws -> Void) throws -> (Graph, Architecture) {
        var b = GraphBuilder(ckpt, sink: sink)
        return try b.run()
    }

    mutating func run() throws -> (Graph, Architecture) {
        guard has("conv1.weight"), has("layer1.0.conv1.weight") || has("stage2.0.branches.0.0.conv1.weight") else {
            let sample = ckpt.keys.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            throw HRNetError.model("\(what): not a pose HRNet checkpoint: no 'conv1.weight' / 'layer1.0.conv1.weight' keys (it has \(ckpt.keys.count) tensors, e.g. \(sample))")
        }
        let input = graph.tensor(3, 1)
        graph.input = input
        // Stem.
        var x = convOp(try conv("conv1", bn: "bn1", cin: 3, k: 3, stride: 2), input, relu: true)
        x = convOp(try conv("conv2", bn: "bn2", cin: channels(x), k: 3, stride: 2), x, relu: true)
        // Stage 1.
        let l1 = indices(under: "layer1.")
        guard l1 == Array(0..<l1.count), !l1.isEmpty else {
            throw HRNetError.model("\(what): layer1 units are not numbered 0..n-1 (found \(shown(l1)))")
        }
        for u in l1 { x = try block("layer1.\(u)", x) }
        var xs = [x]
        var stageChannels: [[Int]] = [], stageModules: [Int] = [], stageBlocks: [Int] = []
        var s = 2
        while has("stage\(s).0.branches.0.0.conv1.weight") {
            let t = "transition\(s - 1)"
            let nb = indices(under: "stage\(s).0.branches.").count
            guard nb >= xs.count else {
                throw HRNetError.model("\(what): stage\(s) has \(nb) branches, fewer than the \(xs.count) before it")
            }
            guard nb <= Self.maxBranches else {
                throw HRNetError.model("\(what): stage\(s) has \(nb) branches (at most \(Self.maxBranches) are supported)")
            }
            // Transition: adapt existing branches, create new ones from the lowest resolution.
            var next: [Int] = []
            for br in 0..<nb {
                if br < xs.count {
                    if has("\(t).\(br).0.weight") {
                        next.append(convOp(try conv("\(t).\(br).0", bn: "\(t).\(br).1", cin: channels(xs[br]), k: 3, stride: 1), xs[br], relu: true))
                    } else {
                        next.append(xs[br])
                    }
                } else {
                    let steps = indices(under: "\(t).\(br).")
                    guard !steps.isEmpty, has("\(t).\(br).0.0.weight") else {
                        throw HRNetError.model("\(what): key '\(t).\(br).0.0.weight' is missing: stage\(s) branch \(br) has no transition")
                    }
                    var y = xs.last!
                    for k in steps {
                        guard graph.tensors[y].level < Self.maxLevel else {
                            throw HRNetError.model("\(what): '\(t).\(br)' downsamples more than \(Self.maxLevel)x (at most \(Self.maxLevel) is supported)")
                        }
                        y = convOp(try conv("\(t).\(br).\(k).0", bn: "\(t).\(br).\(k).1", cin: channels(y), k: 3, stride: 2), y, relu: true)
                    }
                    next.append(y)
                }
            }
            xs = next
            let modules = indices(under: "stage\(s).")
            guard modules == Array(0..<modules.count) else {
                throw HRNetError.model("\(what): stage\(s) modules are not numbered 0..n-1 (found \(shown(modules)))")
            }
            var blocksSeen = 0
            for m in modules {
                let p = "stage\(s).\(m)"
                for br in 0..<nb {
                    let blocks = indices(under: "\(p).branches.\(br).")
                    guard !blocks.isEmpty else {
                        throw HRNetError.model("\(what): key '\(p).branches.\(br).0.conv1.weight' is missing")
                    }
                    blocksSeen = blocks.count
                    for k in blocks { xs[br] = try block("\(p).branches.\(br).\(k)", xs[br]) }
                }
                if nb > 1 { xs = try fuse(p, xs) }
            }
            stageChannels.append(next.map { channels($0) })
            stageModules.append(modules.count)
            stageBlocks.append(blocksSeen)
            s += 1
        }
        // Head.
        let fw = try tensor("final_layer.weight")
        guard fw.shape.count == 4 else {
            throw HRNetError.model("\(what): tensor 'final_layer.weight' has shape \(fw.shape), expected [joints, \(channels(xs[0])), k, k]")
        }
        let head = try conv("final_layer", bn: nil, cin: channels(xs[0]), stride: 1)
        guard has("final_layer.bias") else {
            throw HRNetError.model("\(what): key 'final_layer.bias' is missing from the state dict")
        }
        graph.output = convOp(head, xs[0], relu: false)
        var params = 0
        for (k, t) in ckpt.tensors where !t.isInteger && !k.hasSuffix("running_mean") && !k.hasSuffix("running_var") {
            params += t.count
        }
        let arch = Architecture(width: channels(xs[0]), joints: convs[head].cout, finalKernel: convs[head].k,
                                stageChannels: stageChannels, stageModules: stageModules, stageBlocks: stageBlocks,
                                layer1Blocks: l1.count, parameters: params)
        return (graph, arch)
    }

    /// Exchange unit: output i = ReLU(x_i + sum_{j>i} up(conv1x1(x_j)) + sum_{j<i} downsample(x_j)).
    mutating func fuse(_ p: String, _ xs: [Int]) throws -> [Int] {
        let outputs = indices(under: "\(p).fuse_layers.")
        guard !outputs.isEmpty, outputs == Array(0..<outputs.count), outputs.count <= xs.count else {
            throw HRNetError.model("\(what): '\(p).fuse_layers' outputs are \(shown(outputs)), expected 0..n-1 for \(xs.count) branches")
        }
        var result: [Int] = []
        for i in outputs {
            let ci = channels(xs[i]), level = graph.tensors[xs[i]].level
            var ups: [(tensor: Int, factor: Int)] = []
            for j in (i + 1)..<max(i + 1, xs.count) {
                let c = try conv("\(p).fuse_layers.\(i).\(j).0", bn: "\(p).fuse_layers.\(i).\(j).1", cin: channels(xs[j]), cout: ci, k: 1, stride: 1)
                let t = convOp(c, xs[j], relu: false)
                ups.append((t, graph.tensors[t].level / level))
            }
            var downs: [(conv: Int, input: Int)] = []
            for j in 0..<i {
                var y = xs[j]
                for step in 0..<(i - j) {
                    let q = "\(p).fuse_layers.\(i).\(j).\(step)"
                    let last = step == i - j - 1
                    let c = try conv(q + ".0", bn: q + ".1", cin: channels(y), cout: last ? ci : channels(xs[j]), k: 3, stride: 2)
                    if last { downs.append((c, y)) } else { y = convOp(c, y, relu: true) }
                }
            }
            if downs.isEmpty {
                let out = graph.tensor(ci, level)
                graph.ops.append(GraphOp(kind: .sum, conv: -1, input: -1, output: out, residual: xs[i], ups: ups, accumulate: false, relu: true))
                result.append(out)
            } else {
                var out: Int? = nil
                for (n, d) in downs.enumerated() {
                    let first = n == 0, last = n == downs.count - 1
                    out = convOp(d.conv, d.input, relu: last, residual: first ? xs[i] : nil, ups: first ? ups : [],
                                 into: out, accumulate: !first)
                }
                result.append(out!)
            }
        }
        return result
    }
}
