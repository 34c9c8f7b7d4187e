#if canImport(Glibc)
import Glibc
#endif
import CHRNetKernels

/// Arithmetic of a session's convolutions.
public enum Precision: Int, Equatable {
    /// Exact FP32 (default): within ~1e-6 of the float64 reference on the fixtures.
    case fp32 = 0
    /// Products in BF16 (AVX512_BF16 vdpbf16ps), sums, epilogues and activations in FP32; the head
    /// stays FP32. About twice the FP32 speed; error measured in the tests and the README.
    case bf16 = 1
    /// uint8 activations x int8 weights (per output channel), int32 sums, FP32 epilogue, with
    /// activation ranges from a `Calibration`; the first layer (signed input) and the heatmap
    /// layer stay FP32. Kernel sets avx512 (VNNI, else the AVX2 INT8 kernel), avx2, and neon with
    /// the ARMv8.2 dot product. Error measured in the tests and the README.
    case int8 = 2
}

/// 64-byte aligned, zeroed float storage that lives as long as its owner. Every buffer whose size
/// grows with a checkpoint or an input is one of these: a failed allocation (or a size that
/// overflows) is `HRNetError.outOfMemory`, never an abort of the host.
public final class AlignedFloats {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) throws {
        let (bytes, overflow) = max(count, 16).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        var raw: UnsafeMutableRawPointer? = nil
        guard count >= 0, !overflow, posix_memalign(&raw, 64, bytes) == 0, let raw else {
            throw HRNetError.outOfMemory("cannot allocate \(count) floats (\(overflow ? "more than the address space" : "\(bytes / 1_048_576) MiB"))")
        }
        memset(raw, 0, bytes)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 16))
        self.count = count
    }

    /// A copy of `values`.
    public convenience init(_ values: [Float]) throws {
        try self.init(count: values.count)
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { pointer.update(from: b, count: values.count) } }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    /// The values as an array (for tests and small tensors).
    public var array: [Float] { Array(buffer) }
    public subscript(_ i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
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
    public struct PackedConv {
        public let cin: Int, cout: Int, k: Int, stride: Int
        /// Stored as Winograd F(2x2,3x3) weights (16 transformed 1x1 convolutions).
        public let winograd: Bool
        let weights: Int, bias: Int   // storage index, and the bias's offset in it
    }
    public let convs: [PackedConv]
    private(set) var storage: [AlignedFloats]
    /// Convolutions whose FP32 weights were released (releaseFP32Weights): their storage is gone.
    private(set) var released = Set<Int>()
    /// The fingerprint, kept once weights are released (it can no longer be computed).
    var keptFingerprint: UInt64? = nil

    /// Frees the FP32 weights of `convs` (an INT8 session that owns its model alone has its own
    /// int8 copies and never reads them). Only for a model no other session or host holds: the
    /// C ABI does it for hrnet_session_open, whose model is private to its session.
    func releaseFP32Weights(_ convs: Set<Int>) throws {
        if keptFingerprint == nil { keptFingerprint = fingerprint }
        let empty = try AlignedFloats(count: 0)
        for c in convs where !released.contains(c) {
            storage[self.convs[c].weights] = empty
            released.insert(c)
        }
    }

    /// Winograd reuses each transformed weight once per 2x2 tile, so on wide, low-resolution
    /// layers it is bound by weight traffic; up to 128x128 channels it is faster than the direct
    /// kernel on this project's machines (see hrnet-bench --profile).
    static let winogradMaxChannelProduct = 128 * 128

    public convenience init(path: String, winograd: Bool = true) throws {
        let ckpt = try Checkpoint(path: path)
        try self.init(checkpoint: ckpt, winograd: winograd)
    }

    /// A model from a checkpoint's bytes in memory (the same formats as a file). The bytes are
    /// only read during this call: the model keeps its own packed copy of the weights.
    public convenience init(bytes: UnsafeRawBufferPointer, name: String = "checkpoint in memory", winograd: Bool = true) throws {
        let ckpt = try Checkpoint(bytes: bytes, name: name)
        try self.init(checkpoint: ckpt, winograd: winograd)
    }

    public init(checkpoint: Checkpoint, winograd: Bool = true) throws {
        // Each convolution is packed as soon as it is folded, so at most one unpacked copy of a
        // layer exists at a time; the checkpoint's pages are released as they are consumed.
        var convs: [PackedConv] = []
        var storage: [AlignedFloats] = []
        let (graph, arch) = try GraphBuilder.build(checkpoint) { c in
            let ocb = (c.cout + 15) / 16, icb = (c.cin + 15) / 16
            let wino = winograd && c.k == 3 && c.stride == 1 && c.cin * c.cout <= Self.winogradMaxChannelProduct
            let wcount = ocb * icb * (wino ? 16 : c.k * c.k) * 256
            let buf = try AlignedFloats(count: wcount + ocb * 16)
            if wino {
                Self.packWinograd(c, into: buf.pointer, bias: buf.pointer + wcount)
            } else {
                Self.pack(c, into: buf.pointer, bias: buf.pointer + wcount)
            }
            convs.append(PackedConv(cin: c.cin, cout: c.cout, k: c.k, stride: c.stride, winograd: wino,
                                    weights: storage.count, bias: wcount))
            storage.append(buf)
        }
        self.architecture = arch
        self.graph = graph
        self.convs = convs
        self.storage = storage
    }

    /// OIHW -> [Cout/16][Cin/16][k][k][16 ic][16 oc], zero-padded.
    static func pack(_ c: FoldedConv, into w: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>) {
        let icb = (c.cin + 15) / 16, k = c.k
        do { let src = c.weights.pointer
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

    /// U = G g G^T (in double) for every (oc, ic), packed as 16 1x1 convolutions
    /// [p = 4i + j][Cout/16][Cin/16][16 ic][16 oc].
    static func packWinograd(_ c: FoldedConv, into w: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>) {
        let icb = (c.cin + 15) / 16, ocb = (c.cout + 15) / 16
        let G: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        var t = [Double](repeating: 0, count: 12)
        do { let src = c.weights.pointer
            for o in 0..<c.cout {
                for i in 0..<c.cin {
                    let g = src + (o * c.cin + i) * 9
                    // t = G g (4x3), U = t G^T (4x4).
                    for r in 0..<4 {
                        for col in 0..<3 {
                            t[r * 3 + col] = G[r][0] * Double(g[col]) + G[r][1] * Double(g[3 + col]) + G[r][2] * Double(g[6 + col])
                        }
                    }
                    for r in 0..<4 {
                        for q in 0..<4 {
                            let u = t[r * 3] * G[q][0] + t[r * 3 + 1] * G[q][1] + t[r * 3 + 2] * G[q][2]
                            let p = r * 4 + q
                            let dst = (((p * ocb + o / 16) * icb + i / 16) * 16 + i % 16) * 16 + o % 16
                            w[dst] = Float(u)
                        }
                    }
                }
            }
        }
        for o in 0..<c.cout { bias[o] = c.bias[o] }
    }

    /// The direct packing ([Cout/16][Cin/16][3][3][16][16]) of a Winograd convolution, recovered
    /// from U = G g G^T exactly up to one float rounding: with t = G g, the columns give
    /// t[.][0] = U[.][0], t[.][1] = U[.][1] - U[.][2], t[.][2] = U[.][3], and the rows
    /// g0 = t0, g1 = t1 - t2, g2 = t3. For sessions that run these layers directly (BF16, and
    /// the GENERIC kernel set), in a checked allocation.
    func directWeights(_ conv: Int) throws -> AlignedFloats {
        let c = convs[conv]
        precondition(c.winograd)
        let icb = (c.cin + 15) / 16, ocb = (c.cout + 15) / 16
        let u = weights(conv)
        let buffer = try AlignedFloats(count: ocb * icb * 9 * 256 + ocb * 16)
        let out = buffer.pointer
        let per = ocb * icb * 256  // floats per position p
        for ob in 0..<ocb {
            for ib in 0..<icb {
                for il in 0..<16 {
                    for ol in 0..<16 {
                        let base = ((ob * icb + ib) * 16 + il) * 16 + ol
                        @inline(__always) func U(_ r: Int, _ q: Int) -> Double { Double(u[(r * 4 + q) * per + base]) }
                        for col in 0..<3 {
                            // t[r][col] for r = 0..3, then g = (t0, t1 - t2, t3).
                            let t0: Double, t1: Double, t2: Double, t3: Double
                            switch col {
                            case 0: (t0, t1, t2, t3) = (U(0, 0), U(1, 0), U(2, 0), U(3, 0))
                            case 1: (t0, t1, t2, t3) = (U(0, 1) - U(0, 2), U(1, 1) - U(1, 2), U(2, 1) - U(2, 2), U(3, 1) - U(3, 2))
                            default: (t0, t1, t2, t3) = (U(0, 3), U(1, 3), U(2, 3), U(3, 3))
                            }
                            @inline(__always) func put(_ row: Int, _ v: Double) {
                                out[((((ob * icb + ib) * 3 + row) * 3 + col) * 16 + il) * 16 + ol] = Float(v)
                            }
                            put(0, t0); put(1, t1 - t2); put(2, t3)
                        }
                    }
                }
            }
        }
        let b = bias(conv)
        for o in 0..<(ocb * 16) { out[ocb * icb * 9 * 256 + o] = b[o] }
        return buffer
    }

    func weights(_ conv: Int) -> UnsafePointer<Float> { UnsafePointer(storage[convs[conv].weights].pointer) }
    func bias(_ conv: Int) -> UnsafePointer<Float> { UnsafePointer(storage[convs[conv].weights].pointer + convs[conv].bias) }

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
