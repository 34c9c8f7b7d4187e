#if canImport(Glibc)
import Glibc
#endif
import CHRNetKernels

/// 64-byte aligned float storage that lives as long as its owner.
final class AlignedFloats {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) throws {
        var raw: UnsafeMutableRawPointer? = nil
        let bytes = max(count, 16) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            throw HRNetError.outOfMemory("cannot allocate \(bytes / 1_048_576) MiB")
        }
        memset(raw, 0, bytes)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 16))
        self.count = count
    }

    deinit { free(pointer) }
}

/// A loaded checkpoint, ready to run: the graph, and every convolution's folded weights packed
/// into the kernels' blocked layout. Immutable after `init`, so sessions on several threads
/// can share it.
public final class Model {
    public let architecture: Architecture
    public let graph: Graph
    /// Per convolution: shape and where its packed weights and bias start in `packed`.
    public struct PackedConv { public let cin: Int, cout: Int, k: Int, stride: Int; let weights: Int; let bias: Int }
    public let convs: [PackedConv]
    let packed: AlignedFloats

    public convenience init(path: String) throws {
        let ckpt = try Checkpoint(path: path)
        try self.init(checkpoint: ckpt)
    }

    public init(checkpoint: Checkpoint) throws {
        let (graph, folded, arch) = try GraphBuilder.build(checkpoint)
        var total = 0
        var convs: [PackedConv] = []
        for c in folded {
            let ocb = (c.cout + 15) / 16, icb = (c.cin + 15) / 16
            let w = total
            total += ocb * icb * c.k * c.k * 256
            convs.append(PackedConv(cin: c.cin, cout: c.cout, k: c.k, stride: c.stride, weights: w, bias: total))
            total += ocb * 16
            total = (total + 15) & ~15  // keep every conv 64-byte aligned
        }
        let packed = try AlignedFloats(count: total)
        for (c, p) in zip(folded, convs) {
            Self.pack(c, into: packed.pointer + p.weights, bias: packed.pointer + p.bias)
        }
        self.architecture = arch
        self.graph = graph
        self.convs = convs
        self.packed = packed
    }

    /// OIHW -> [Cout/16][Cin/16][k][k][16 ic][16 oc], zero-padded.
    static func pack(_ c: FoldedConv, into w: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>) {
        let icb = (c.cin + 15) / 16, k = c.k
        c.weights.withUnsafeBufferPointer { src in
            for o in 0..<c.cout {
                let ob = o / 16, ol = o % 16
                for i in 0..<c.cin {
                    let ib = i / 16, il = i % 16
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let dst = ((((ob * icb + ib) * k + ky) * k + kx) * 16 + il) * 16 + ol
                            w[dst] = src[((o * c.cin + i) * k + ky) * k + kx]
                        }
                    }
                }
            }
        }
        for o in 0..<c.cout { bias[o] = c.bias[o] }
    }

    func weights(_ conv: Int) -> UnsafePointer<Float> { UnsafePointer(packed.pointer + convs[conv].weights) }
    func bias(_ conv: Int) -> UnsafePointer<Float> { UnsafePointer(packed.pointer + convs[conv].bias) }

    /// Multiply-adds per crop at input size h x w, in units of 1e9.
    public func gmacs(height h: Int, width w: Int) -> Double {
        var macs = 0.0
        for op in graph.ops where op.kind == .conv {
            let c = convs[op.conv]
            let lvl = graph.tensors[op.output].level
            macs += Double(c.cout * c.cin * c.k * c.k) * Double(h / lvl) * Double(w / lvl)
        }
        return macs / 1e9
    }
}
