/// The similarity transform (scale + translation, no rotation at test time) between a region
/// of an image and the network input: `u = k * (x - cx) + W/2`, `v = k * (y - cy) + H/2`.
/// Integer coordinates are pixel centres on both sides (OpenCV's warpAffine convention).
public struct CropTransform: Equatable {
    /// Centre of the region in image pixels.
    public var cx: Double, cy: Double
    /// Input pixels per image pixel.
    public var k: Double
    /// Network input size.
    public var inputWidth: Int, inputHeight: Int

    /// The published top-down transform of a person box: the box is widened or heightened to
    /// the input aspect ratio W/H, enlarged by 1.25, and mapped onto the input.
    public init(box x: Double, _ y: Double, _ w: Double, _ h: Double, inputWidth W: Int, inputHeight H: Int) {
        cx = x + w * 0.5
        cy = y + h * 0.5
        // Widening a box narrower than W/H sets its width to h * W/H; a wider box is heightened
        // instead, which leaves its width. Only the width sets the scale.
        let bw = max(w, h * Double(W) / Double(H))
        k = Double(W) / (bw * 1.25)
        inputWidth = W
        inputHeight = H
    }

    /// A crop already cut around one person, fitted into the input with its aspect ratio kept,
    /// centred, the rest padded.
    public init(cropWidth cw: Int, cropHeight ch: Int, inputWidth W: Int, inputHeight H: Int) {
        cx = Double(cw) * 0.5
        cy = Double(ch) * 0.5
        k = min(Double(W) / Double(cw), Double(H) / Double(ch))
        inputWidth = W
        inputHeight = H
    }

    /// Image point -> input point.
    public func toInput(_ x: Double, _ y: Double) -> (Double, Double) {
        (k * (x - cx) + Double(inputWidth) * 0.5, k * (y - cy) + Double(inputHeight) * 0.5)
    }

    /// Input point -> image point.
    public func toImage(_ u: Double, _ v: Double) -> (Double, Double) {
        ((u - Double(inputWidth) * 0.5) / k + cx, (v - Double(inputHeight) * 0.5) / k + cy)
    }

    /// Heatmap point (heatmap of `hw x hh`) -> image point, as the published `transform_preds`:
    /// the same region mapped onto the heatmap grid.
    public func heatmapToImage(_ x: Double, _ y: Double, heatmapWidth hw: Int, heatmapHeight hh: Int) -> (Double, Double) {
        let kh = k * Double(hw) / Double(inputWidth)
        return ((x - Double(hw) * 0.5) / kh + cx, (y - Double(hh) * 0.5) / kh + cy)
    }

    /// Area of the region in image pixels (the enlarged, aspect-corrected box), used by OKS.
    public var area: Double { (Double(inputWidth) / k) * (Double(inputHeight) / k) }
}
