import CHRNetKernels
#if canImport(Glibc)
import Glibc
#endif

// INT8 mode: calibration of activation ranges, its file, and the quantized weights of a plan.

extension Model {
    /// A 64-bit fingerprint of the network: every convolution's shape, folded and packed weights
    /// and bias (bit patterns), mixed 8 bytes at a time. A calibration records it and is refused
    /// for any other checkpoint.
    public var fingerprint: UInt64 {
        if let keptFingerprint { return keptFingerprint }
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        @inline(__always) func mix(_ v: UInt64) {
            h ^= v &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
            h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
        }
        for (i, c) in convs.enumerated() {
            mix(UInt64(c.cin)); mix(UInt64(c.cout)); mix(UInt64(c.k)); mix(UInt64(c.stride)); mix(c.winograd ? 1 : 0)
            let ocb = (c.cout + 15) / 16, icb = (c.cin + 15) / 16
            let n = ocb * icb * (c.winograd ? 16 : c.k * c.k) * 256 + ocb * 16
            let p = UnsafeRawPointer(weights(i))
            var j = 0
            while j + 2 <= n { mix(p.load(fromByteOffset: j * 4, as: UInt64.self)); j += 2 }
            if j < n { mix(UInt64(p.load(fromByteOffset: j * 4, as: UInt32.self))) }
        }
        return h
    }
}

/// Activation ranges of a model's convolutions, measured on representative input by a
/// `Calibrator`, saved to a small file and given to INT8 sessions.
///
/// File (little-endian): "HRNETCAL" magic, UInt32 version (1), UInt64 model fingerprint, UInt32
/// convolution count N, then N records of (Float32 lowest input value seen, Float32 clip: the
/// range quantized to 0..255), then UInt64 checksum (the fingerprint mix of every byte before it).
public struct Calibration: Equatable {
    public static let version: UInt32 = 1
    static let magic: [UInt8] = Array("HRNETCAL".utf8)
    public let fingerprint: UInt64
    /// Per convolution (Model.convs order): the lowest input value seen, and the clip.
    public var minimums: [Float]
    public var clips: [Float]

    public init(fingerprint: UInt64, minimums: [Float], clips: [Float]) {
        self.fingerprint = fingerprint
        self.minimums = minimums
        self.clips = clips
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    public func serialized() -> [UInt8] {
        var out = Self.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        put(Self.version); put(fingerprint); put(UInt32(clips.count))
        for i in clips.indices { put(minimums[i].bitPattern); put(clips[i].bitPattern) }
        put(Self.checksum(out[...]))
        return out
    }

    /// Parses a calibration file's bytes: every field is checked (magic, version, size,
    /// checksum, finite values); a damaged file is HRNetError.format.
    public init(bytes: UnsafeRawBufferPointer, name: String = "calibration") throws {
        let b = Array(bytes)
        func bad(_ why: String) -> HRNetError { .format("\(name): not a libhrnet calibration file: \(why)") }
        guard b.count >= 8 + 4 + 8 + 4 + 8 else { throw bad("\(b.count) bytes, too short") }
        guard Array(b[0..<8]) == Self.magic else { throw bad("wrong magic (expected HRNETCAL)") }
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) } }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
        let version = u32(8)
        guard version == Self.version else {
            throw HRNetError.format("\(name): calibration file version \(version), this library reads version \(Self.version): calibrate again with this version")
        }
        let n = Int(u32(20))
        guard n <= 1 << 20, b.count == 24 + 8 * n + 8 else { throw bad("size \(b.count) bytes does not match \(n) convolutions (truncated or damaged)") }
        guard u64(24 + 8 * n) == Self.checksum(b[0..<(24 + 8 * n)]) else { throw bad("checksum mismatch (damaged)") }
        fingerprint = u64(12)
        var mins: [Float] = [], cl: [Float] = []
        for i in 0..<n {
            let lo = Float(bitPattern: u32(24 + 8 * i)), c = Float(bitPattern: u32(28 + 8 * i))
            guard lo.isFinite, c.isFinite, c >= 0 else { throw bad("record \(i) holds a non-finite or negative range") }
            mins.append(lo); cl.append(c)
        }
        minimums = mins
        clips = cl
    }

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        try self.init(bytes: file.bytes, name: path)
    }

    /// Writes the file atomically (a temporary name in the same directory, then rename).
    public func write(to path: String) throws {
        let bytes = serialized()
        let tmp = path + ".tmp-\(getpid())"
        guard let f = fopen(tmp, "wb") else { throw HRNetError.io("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        fclose(f)
        guard written == bytes.count, flushed, rename(tmp, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw HRNetError.io("cannot write \(path): \(why)")
        }
    }

    /// Checks that this calibration belongs to `model`.
    func check(for model: Model) throws {
        guard fingerprint == model.fingerprint, clips.count == model.convs.count else {
            throw HRNetError.invalidArgument("the calibration was made for another checkpoint (fingerprint \(String(fingerprint, radix: 16)), \(clips.count) convolutions; this model: \(String(model.fingerprint, radix: 16)), \(model.convs.count)): calibrate this checkpoint")
        }
    }
}

/// Measures the activation ranges of a model's convolution inputs by running an FP32 session on
/// representative crops (or frames and boxes, through the pipeline): per convolution, the lowest
/// value and a histogram of the values, from which `calibration(percentile:)` picks each clip.
public final class Calibrator {
    public let session: Session
    /// Histogram of each convolution's input values over [0, range): `bins` bins, the range
    /// doubled (adjacent bins merged) whenever a larger value arrives.
    static let bins = 2048
    private var histograms: [[Double]]
    private var ranges: [Float]
    private var minimums: [Float]
    public private(set) var crops = 0

    /// The percentile of each input's values (zeros included) that becomes its clip, chosen on
    /// the demo model (README "INT8"): higher keeps rare large activations, lower spends the 256
    /// levels on the common ones.
    public static let defaultPercentile = 99.99

    public init(session: Session) throws {
        guard session.precision == .fp32 else {
            throw HRNetError.invalidArgument("calibration runs an FP32 session; this one is \(session.precision)")
        }
        self.session = session
        let n = session.model.convs.count
        histograms = [[Double]](repeating: [Double](repeating: 0, count: Self.bins), count: n)
        ranges = [Float](repeating: 0, count: n)
        minimums = [Float](repeating: .infinity, count: n)
    }

    /// Records one convolution input tensor.
    func observe(conv: Int, arena: UnsafePointer<Float>, tensor t: hr_tensor, channels: Int) {
        let hp = Int(t.h) + 2, wp = Int(t.w) + 2
        var lo = minimums[conv], hi: Float = 0
        for cb in 0..<Int(t.cb) {
            let lanes = min(16, channels - cb * 16)
            for y in 1...Int(t.h) {
                let row = arena + Int(t.off) + ((cb * hp + y) * wp) * 16
                for x in 1...Int(t.w) {
                    let p = row + x * 16
                    for l in 0..<lanes { let v = p[l]; lo = min(lo, v); hi = max(hi, v) }
                }
            }
        }
        minimums[conv] = lo
        if hi > ranges[conv] {
            var r = ranges[conv] > 0 ? ranges[conv] : hi
            while r < hi { r *= 2 }
            if ranges[conv] > 0 {
                // Merge bins to the doubled range, as many times as it doubled.
                var f = Int((r / ranges[conv]).rounded())
                while f > 1 {
                    var h = histograms[conv]
                    for i in 0..<(Self.bins / 2) { h[i] = h[2 * i] + h[2 * i + 1] }
                    for i in (Self.bins / 2)..<Self.bins { h[i] = 0 }
                    histograms[conv] = h
                    f /= 2
                }
            }
            ranges[conv] = r
        }
        let scale = Float(Self.bins) / ranges[conv]
        histograms[conv].withUnsafeMutableBufferPointer { h in
            for cb in 0..<Int(t.cb) {
                let lanes = min(16, channels - cb * 16)
                for y in 1...Int(t.h) {
                    let row = arena + Int(t.off) + ((cb * hp + y) * wp) * 16
                    for x in 1...Int(t.w) {
                        let p = row + x * 16
                        for l in 0..<lanes {
                            let v = max(p[l], 0)
                            h[min(Int(v * scale), Self.bins - 1)] += 1
                        }
                    }
                }
            }
        }
    }

    func countCrop() { crops += 1 }

    /// Runs the pipeline (warp, flip test as `options` says, network) on `boxes` of `frame`,
    /// recording every convolution's input. No boxes: nothing to record.
    public func add(frame: ImageView, boxes: [PersonBox], options: EstimateOptions = EstimateOptions()) throws {
        try withKeypoints(boxes.count) {
            try session.estimate(frame: frame, count: boxes.count, box: { boxes[$0] }, options: options, into: $0, calibrator: self)
        }
    }

    /// The same for crops already cut around one person each.
    public func add(crops: [ImageView], options: EstimateOptions = EstimateOptions()) throws {
        try withKeypoints(crops.count) {
            try session.estimate(count: crops.count, crop: { crops[$0] }, options: options, into: $0, calibrator: self)
        }
    }

    /// The pipeline's outputs for `n` people, which calibration does not use.
    private func withKeypoints(_ n: Int, _ body: (PoseOutputs) throws -> Void) throws {
        var kp = [Float](repeating: 0, count: try checkedProduct(max(n, 1), session.joints, 3, or: .invalidArgument("\(n) people are too many for one call")))
        try kp.withUnsafeMutableBufferPointer { try body(PoseOutputs(keypoints: $0.baseAddress!)) }
    }

    /// The calibration: per convolution, the clip at `percentile` of its input values.
    public func calibration(percentile: Double = Calibrator.defaultPercentile) throws -> Calibration {
        guard crops > 0 else { throw HRNetError.invalidArgument("no crops were given to calibrate on") }
        guard percentile > 0, percentile <= 100 else { throw HRNetError.invalidArgument("percentile \(percentile) is not in (0, 100]") }
        var clips = [Float](repeating: 0, count: histograms.count)
        for c in histograms.indices where ranges[c] > 0 {
            let h = histograms[c]
            let total = h.reduce(0, +)
            let target = total * percentile / 100
            var acc = 0.0, bin = Self.bins - 1
            for i in 0..<Self.bins { acc += h[i]; if acc >= target { bin = i; break } }
            clips[c] = ranges[c] * Float(bin + 1) / Float(Self.bins)
        }
        return Calibration(fingerprint: session.model.fingerprint,
                           minimums: minimums.map { $0.isFinite ? $0 : 0 }, clips: clips)
    }
}

extension Session {
    /// Runs `batch` crops like `forward`, but one op at a time on the team, handing every
    /// convolution's input to `calibrator` first. For calibration only (slower than forward).
    func forwardObserved(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, calibrator: Calibrator) throws {
        let a = arena.pointer
        let h = inputHeight, w = inputWidth
        for b in 0..<batch {
            let bad = hr_pack_input(input + b * inputCount, 3, Int32(h), Int32(w), a + Int(plan.input.off))
            if bad >= 0 { throw HRNetError.invalidArgument("input value \(b * inputCount + Int(bad)) is not finite") }
            try plan.ops.withUnsafeBufferPointer { p in
                for i in 0..<p.count {
                    let op = p[i]
                    if op.kind != Int32(HR_OP_SUM) {
                        guard let conv = plan.convOf[i] else { throw HRNetError.invalidArgument("internal: op \(i) has no convolution") }
                        calibrator.observe(conv: conv, arena: a, tensor: op.in, channels: Int(op.in_c))
                    }
                    hr_run(p.baseAddress! + i, 1, a, Int32(threads), kernelSet)
                }
            }
            hr_unpack_output(a + Int(plan.output.off), Int32(joints), Int32(heatmapHeight), Int32(heatmapWidth),
                             output + b * heatmapCount)
            calibrator.countCrop()
        }
    }
}

/// The INT8 form of one convolution for a plan: int8 weights, per-channel dequantization scales,
/// the input quantization factor; nil if the layer stays FP32. Plus what the session's INT8
/// kernel needs besides (hr_int8_kernel): the AVX2 kernel's int16 weights, or the NEON
/// dot-product kernel's per-channel weight sums.
struct Int8Conv {
    let weights: CheckedBuffer<Int8>
    let scales: AlignedFloats
    /// A copy of the FP32 bias (the epilogue's), so the FP32 weights it sat beside need not be kept.
    let bias: AlignedFloats
    let inv: Float
    let wide: CheckedBuffer<Int16>?
    let sums: CheckedBuffer<Int32>?

    /// Sums of 255 x 127 products must stay inside int32.
    static func fitsInt32(cin: Int, k: Int) -> Bool { cin * k * k * 255 * 127 < Int(Int32.max) }

    /// `packed`: the direct-layout FP32 weights ([Cout/16][Cin/16][k][k][16 ic][16 oc]).
    init(packed: UnsafePointer<Float>, bias b: UnsafePointer<Float>, cin: Int, cout: Int, k: Int, clip: Float, what: String, kernel: Int32) throws {
        let ocb = (cout + 15) / 16, icb = (cin + 15) / 16
        bias = try AlignedFloats(Array(UnsafeBufferPointer(start: b, count: ocb * 16)))
        // Per output channel: the largest |w| over its inputs and taps.
        var maxAbs = [Float](repeating: 0, count: ocb * 16)
        for ob in 0..<ocb {
            for ib in 0..<icb {
                for tap in 0..<(k * k) {
                    let base = ((ob * icb + ib) * k * k + tap) * 256
                    for il in 0..<16 { for ol in 0..<16 { maxAbs[ob * 16 + ol] = max(maxAbs[ob * 16 + ol], abs(packed[base + il * 16 + ol])) } }
                }
            }
        }
        let sIn = clip / 255
        let inverse = maxAbs.map { $0 > 0 ? 127 / $0 : 0 }
        scales = try AlignedFloats(maxAbs.map { $0 > 0 ? sIn * $0 / 127 : 0 })
        inv = 255 / clip
        let q = try CheckedBuffer<Int8>(count: Int(hr_int8_weights_size(Int32(cin), Int32(cout), Int32(k))), what: "the INT8 weights of \(what)")
        inverse.withUnsafeBufferPointer { hr_pack_weights_int8(packed, Int32(cin), Int32(cout), Int32(k), $0.baseAddress, q.pointer) }
        weights = q
        if kernel == Int32(HR_INT8_AVX2) {
            let w = try CheckedBuffer<Int16>(count: Int(hr_int8_avx2_weights_count(Int32(cin), Int32(cout), Int32(k))), what: "the AVX2 INT8 weights of \(what)")
            hr_pack_weights_int8_avx2(q.pointer, Int32(cin), Int32(cout), Int32(k), w.pointer)
            wide = w
        } else {
            wide = nil
        }
        if kernel == Int32(HR_INT8_NEON_DOT) {
            let s = try CheckedBuffer<Int32>(count: ocb * 16, what: "the INT8 weight sums of \(what)")
            hr_int8_weight_sums(q.pointer, Int32(cin), Int32(cout), Int32(k), s.pointer)
            sums = s
        } else {
            sums = nil
        }
    }
}
