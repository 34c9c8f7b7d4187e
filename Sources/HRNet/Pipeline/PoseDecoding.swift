/// Decoding of heatmaps computed elsewhere (hosts that run the network themselves), with the
/// published coordinate chain: heatmap -> input -> frame.
public enum PoseDecoding {
    /// `heatmaps`: N x K x h x w. With `boxes`, keypoints are in frame pixels (each box turned into
    /// its region as published, for an input of `inputHeight x inputWidth`); without, in network
    /// input pixels. Returns N x K x (x, y, score).
    public static func decode(_ heatmaps: UnsafePointer<Float>, count n: Int, joints k: Int, height hh: Int, width hw: Int,
                              boxes: [PersonBox]?, inputHeight: Int?, inputWidth: Int?, method: DecodeMethod) throws -> [Float] {
        guard n >= 1 else { throw HRNetError.invalidArgument("no heatmaps given (N = 0)") }
        guard k >= 1, hh >= 1, hw >= 1 else {
            throw HRNetError.invalidArgument("heatmap shape \(n)x\(k)x\(hh)x\(hw) is invalid: every dimension must be positive")
        }
        let H = inputHeight ?? hh * 4, W = inputWidth ?? hw * 4
        guard H > 0, W > 0 else { throw HRNetError.invalidArgument("input size \(H)x\(W) is invalid") }
        if let boxes, boxes.count != n {
            throw HRNetError.invalidArgument("\(boxes.count) boxes for \(n) heatmap sets: give one box per person")
        }
        var transforms: [CropTransform] = []
        for i in 0..<n {
            if let b = boxes?[i] {
                guard b.x.isFinite, b.y.isFinite, b.w.isFinite, b.h.isFinite, b.w > 0, b.h > 0 else {
                    throw HRNetError.invalidArgument("box \(i) (\(b.x), \(b.y), \(b.w), \(b.h)) needs finite coordinates and a positive size")
                }
                transforms.append(CropTransform(box: b.x, b.y, b.w, b.h, inputWidth: W, inputHeight: H))
            } else {
                // The identity region: the whole input.
                transforms.append(CropTransform(cropWidth: W, cropHeight: H, inputWidth: W, inputHeight: H))
            }
        }
        var out = [Float](repeating: 0, count: n * k * 3)
        var scratch = [Float](repeating: 0, count: 2 * hh * hw)
        try scratch.withUnsafeMutableBufferPointer { s in
            for i in 0..<n {
                for j in 0..<k {
                    let p = heatmaps + (i * k + j) * hh * hw
                    for q in 0..<(hh * hw) where !p[q].isFinite {
                        throw HRNetError.invalidArgument("heatmap value at [\(i), \(j), \(q / hw), \(q % hw)] is not finite")
                    }
                    let d = method == .dark ? Decoder.dark(p, width: hw, height: hh, scratch: s.baseAddress!)
                                            : Decoder.standard(p, width: hw, height: hh)
                    let (x, y) = transforms[i].heatmapToImage(d.x, d.y, heatmapWidth: hw, heatmapHeight: hh)
                    out[(i * k + j) * 3] = Float(x)
                    out[(i * k + j) * 3 + 1] = Float(y)
                    out[(i * k + j) * 3 + 2] = d.score
                }
            }
        }
        return out
    }
}
