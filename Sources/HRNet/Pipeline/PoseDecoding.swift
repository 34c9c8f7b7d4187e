/// Decoding of heatmaps computed elsewhere (hosts that run the network themselves), with the
/// published coordinate chain: heatmap -> input -> frame.
public enum PoseDecoding {
    /// The largest heatmap side decoded: the heatmaps of an 8192-pixel input, the largest a
    /// session takes. (DARK's smoothing kernel grows with the side, so its cost grows with the
    /// cube of it.)
    public static let maxSide = 2048

    /// `heatmaps`: N x K x h x w. With `boxes`, keypoints are in frame pixels (each box turned into
    /// its region as published, for an input of `inputHeight x inputWidth`); without, in network
    /// input pixels. Returns N x K x (x, y, score).
    public static func decode(_ heatmaps: UnsafePointer<Float>, count n: Int, joints k: Int, height hh: Int, width hw: Int,
                              boxes: [PersonBox]?, inputHeight: Int?, inputWidth: Int?, method: DecodeMethod) throws -> [Float] {
        if let boxes, boxes.count != n {
            throw HRNetError.invalidArgument("\(boxes.count) boxes for \(n) heatmap sets: give one box per person")
        }
        try checkShape(count: n, joints: k, height: hh, width: hw)
        var out = [Float](repeating: 0, count: n * k * 3)
        try out.withUnsafeMutableBufferPointer { o in
            try decode(heatmaps, count: n, joints: k, height: hh, width: hw, box: boxes.map { b in { b[$0] } },
                       inputHeight: inputHeight, inputWidth: inputWidth, method: method, into: o.baseAddress!)
        }
        return out
    }

    /// Every box finite with a positive size (boxes are optional).
    static func checkBoxes(count n: Int, box: ((Int) -> PersonBox)?) throws {
        guard let box else { return }
        for i in 0..<n {
            let b = box(i)
            guard b.x.isFinite, b.y.isFinite, b.w.isFinite, b.h.isFinite, b.w > 0, b.h > 0 else {
                throw HRNetError.invalidArgument("box \(i) (\(b.x), \(b.y), \(b.w), \(b.h)) needs finite coordinates and a positive size")
            }
        }
    }

    /// The shape checks of `decode`: every dimension positive, sides at most `maxSide`, and
    /// N x K x h x w (the floats the caller passes) representable.
    static func checkShape(count n: Int, joints k: Int, height hh: Int, width hw: Int) throws {
        guard n >= 1 else { throw HRNetError.invalidArgument("no heatmaps given (N = 0)") }
        guard k >= 1, hh >= 1, hw >= 1 else {
            throw HRNetError.invalidArgument("heatmap shape \(n)x\(k)x\(hh)x\(hw) is invalid: every dimension must be positive")
        }
        guard hh <= maxSide, hw <= maxSide else {
            throw HRNetError.invalidArgument("heatmap size \(hh)x\(hw) is too large (at most \(maxSide) per side)")
        }
        let tooLarge = HRNetError.invalidArgument("heatmap shape \(n)x\(k)x\(hh)x\(hw) is too large: no buffer holds that many floats")
        _ = try checkedProduct(n, k, hh, hw, or: tooLarge)
        _ = try checkedProduct(n, k, 3, or: tooLarge)
    }

    /// Per-joint covariances (Uncertainty) of N x K heatmaps into `out` (N x K x 4 floats), in
    /// the coordinates `decode` gives for the same arguments.
    public static func covariances(_ heatmaps: UnsafePointer<Float>, count n: Int, joints k: Int, height hh: Int, width hw: Int,
                                   box: ((Int) -> PersonBox)?, inputHeight: Int?, inputWidth: Int?,
                                   into out: UnsafeMutablePointer<Float>) throws {
        _ = try checkedProduct(n, k, 4, or: HRNetError.invalidArgument("N x K x 4 = \(n) x \(k) x 4 overflows"))
        try checkShape(count: n, joints: k, height: hh, width: hw)
        try forEachHeatmap(heatmaps, count: n, joints: k, height: hh, width: hw, box: box,
                           inputHeight: inputHeight, inputWidth: inputWidth) { i, j, p, t in
            Uncertainty.covariance(p, width: hw, height: hh, transform: t, into: out + (i * k + j) * 4)
        }
    }

    /// The checks and the loop `decode` and `covariances` share, after their `checkShape`: input
    /// size and boxes checked, then `body(person, joint, heatmap, transform)` for every heatmap,
    /// each checked finite first. The transform maps heatmap pixels to the box's frame pixels, or to input
    /// pixels without boxes (the identity region: the whole input).
    static func forEachHeatmap(_ heatmaps: UnsafePointer<Float>, count n: Int, joints k: Int, height hh: Int, width hw: Int,
                               box: ((Int) -> PersonBox)?, inputHeight: Int?, inputWidth: Int?,
                               _ body: (Int, Int, UnsafePointer<Float>, CropTransform) throws -> Void) throws {
        let H = inputHeight ?? hh * 4, W = inputWidth ?? hw * 4
        guard H > 0, W > 0 else { throw HRNetError.invalidArgument("input size \(H)x\(W) is invalid") }
        try checkBoxes(count: n, box: box)
        for i in 0..<n {
            let t = box.map { let b = $0(i); return CropTransform(box: b.x, b.y, b.w, b.h, inputWidth: W, inputHeight: H) }
                ?? CropTransform(cropWidth: W, cropHeight: H, inputWidth: W, inputHeight: H)
            for j in 0..<k {
                let p = heatmaps + (i * k + j) * hh * hw
                for q in 0..<(hh * hw) where !p[q].isFinite {
                    throw HRNetError.invalidArgument("heatmap value at [\(i), \(j), \(q / hw), \(q % hw)] is not finite")
                }
                try body(i, j, p, t)
            }
        }
    }

    /// `decode` into the caller's `out` (N x K x 3 floats), the boxes (if any) read through
    /// `box(i)`. Allocates nothing that grows with N (DARK's scratch, 2 x h x w floats, is a
    /// checked allocation).
    public static func decode(_ heatmaps: UnsafePointer<Float>, count n: Int, joints k: Int, height hh: Int, width hw: Int,
                              box: ((Int) -> PersonBox)?, inputHeight: Int?, inputWidth: Int?, method: DecodeMethod,
                              into out: UnsafeMutablePointer<Float>) throws {
        try checkShape(count: n, joints: k, height: hh, width: hw)
        let scratch = method == .dark ? try CheckedBuffer<Float>(count: 2 * hh * hw, what: "DARK scratch for \(hh)x\(hw) heatmaps") : nil
        try forEachHeatmap(heatmaps, count: n, joints: k, height: hh, width: hw, box: box,
                           inputHeight: inputHeight, inputWidth: inputWidth) { i, j, p, t in
            let d = method == .dark ? Decoder.dark(p, width: hw, height: hh, scratch: scratch!.pointer)
                                    : Decoder.standard(p, width: hw, height: hh)
            let (x, y) = t.heatmapToImage(d.x, d.y, heatmapWidth: hw, heatmapHeight: hh)
            out[(i * k + j) * 3] = Float(x)
            out[(i * k + j) * 3 + 1] = Float(y)
            out[(i * k + j) * 3 + 2] = d.score
        }
    }
}
