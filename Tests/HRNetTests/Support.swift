import Foundation
import XCTest
import CHRNetKernels
@testable import HRNet

/// Files under Tests/fixtures, found from this source file's location (not the working directory).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    static let repository = directory.deletingLastPathComponent().deletingLastPathComponent()
}

/// A little-endian, C-order .npy array read as Double (float32 and float64 and uint8 supported).
struct NPY {
    let shape: [Int]
    let values: [Double]

    init(_ name: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))
        let bytes = [UInt8](data)
        precondition(bytes.count > 10 && bytes[0] == 0x93, "\(name) is not an .npy file")
        let major = bytes[6]
        let headerLen = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let start = major == 1 ? 10 : 12
        let header = String(decoding: bytes[start..<(start + headerLen)], as: UTF8.self)
        let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        precondition(header.contains("'fortran_order': False"))
        let n = shape.reduce(1, *)
        let body = Array(bytes[(start + headerLen)...])
        if header.contains("'<f4'") {
            values = body.withUnsafeBytes { r in (0..<n).map { Double(r.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self)) } }
        } else if header.contains("'<f8'") {
            values = body.withUnsafeBytes { r in (0..<n).map { r.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) } }
        } else if header.contains("'|u1'") {
            values = body.prefix(n).map { Double($0) }
        } else {
            fatalError("unsupported dtype in \(header)")
        }
    }

    var floats: [Float] { values.map { Float($0) } }
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var m = 0.0
    for i in 0..<a.count { m = max(m, abs(Double(a[i]) - b[i])) }
    return m
}

extension Session {
    /// Convenience for tests: runs `input` (NCHW) and returns the heatmaps.
    func run(_ input: [Float], batch: Int) throws -> [Float] {
        var out = [Float](repeating: .nan, count: batch * heatmapCount)
        try input.withUnsafeBufferPointer { i in
            try out.withUnsafeMutableBufferPointer { o in
                try forward(input: i.baseAddress!, batch: batch, output: o.baseAddress!)
            }
        }
        return out
    }
}

/// Deterministic values in [-1, 1] for kernel tests.
struct KernelRng {
    var s: UInt64
    mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2_000_001 - 1_000_000) / 1_000_000
    }
}

/// Floats of a blocked, bordered tensor.
func tensorSize(_ t: hr_tensor) -> Int { Int(t.cb) * Int(t.h + 2) * Int(t.w + 2) * 16 }

/// Random values in the interior of tensor t (lanes below `channels`); the border stays as it is.
func fillInterior(_ a: inout [Float], _ t: hr_tensor, channels: Int, _ r: inout KernelRng) {
    for cb in 0..<Int(t.cb) { for y in 0..<Int(t.h) { for x in 0..<Int(t.w) { for l in 0..<16 where cb * 16 + l < channels {
        a[Int(t.off) + ((cb * Int(t.h + 2) + y + 1) * Int(t.w + 2) + x + 1) * 16 + l] = r.next()
    } } } }
}

/// A convolution op (weights not set) with its tensors laid out one after another in an arena
/// filled with random input, previous output (for accumulate), residual and upsampled tensors.
struct ConvCase {
    var op = hr_op()
    var arena: [Float] = []
    var ups: [hr_tensor] = []
    var rng: KernelRng
    let label: String

    init(cin: Int, cout: Int, k: Int, stride: Int, oh: Int, ow: Int, relu: Bool, residual: Bool,
         ups factors: [Int], accumulate: Bool, seed: UInt64, extraFloats: Int = 0) {
        rng = KernelRng(s: seed)
        let icb = (cin + 15) / 16, ocb = (cout + 15) / 16
        var off: Int64 = 0
        func tensor(_ cb: Int, _ h: Int, _ w: Int) -> hr_tensor {
            let t = hr_tensor(off: off, cb: Int32(cb), h: Int32(h), w: Int32(w))
            off += Int64(tensorSize(t))
            return t
        }
        op.kind = Int32(HR_OP_CONV); op.k = Int32(k); op.stride = Int32(stride); op.in_c = Int32(cin)
        op.relu = relu ? 1 : 0; op.accumulate = accumulate ? 1 : 0
        op.in = tensor(icb, oh * stride, ow * stride)
        op.out = tensor(ocb, oh, ow)
        op.res = residual ? tensor(ocb, oh, ow) : hr_tensor(off: -1, cb: 0, h: 0, w: 0)
        op.n_up = Int32(factors.count)
        ups = factors.map { tensor(ocb, oh / $0, ow / $0) }
        let upT = ups
        withUnsafeMutableBytes(of: &op.up) { raw in for (i, t) in upT.enumerated() { raw.bindMemory(to: hr_tensor.self)[i] = t } }
        withUnsafeMutableBytes(of: &op.up_f) { raw in for (i, f) in factors.enumerated() { raw.bindMemory(to: Int32.self)[i] = Int32(f) } }
        op.scratch = off
        op.scratch_team = off
        arena = [Float](repeating: 0, count: Int(off) + extraFloats)
        fillInterior(&arena, op.in, channels: cin, &rng)
        fillInterior(&arena, op.out, channels: 16 * ocb, &rng)
        if residual { fillInterior(&arena, op.res, channels: 16 * ocb, &rng) }
        for t in upT { fillInterior(&arena, t, channels: 16 * ocb, &rng) }
        label = "cin \(cin) cout \(cout) k \(k) s \(stride) out \(oh)x\(ow) relu \(relu) res \(residual) ups \(factors) acc \(accumulate)"
    }

    /// Arena range of the output tensor.
    var outputRange: Range<Int> { Int(op.out.off)..<(Int(op.out.off) + tensorSize(op.out)) }
}

/// The kernel sets of hrnet_kernels.h that this CPU runs, besides the reference.
enum KernelSets {
    static let simd: [Int32] = [HR_KERNELS_AVX512, HR_KERNELS_AVX2, HR_KERNELS_NEON, HR_KERNELS_GENERIC]
        .map { Int32($0) }.filter { hr_kernels_supported($0) != 0 }
    static func name(_ set: Int32) -> String { String(cString: hr_kernels_name(set)) }
}
