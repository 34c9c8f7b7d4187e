#if canImport(Glibc)
import Glibc
#endif

/// How far to trust a decoded joint: a 2x2 covariance of its position from its heatmap
/// (include/hrnet.h, hrnet_keypoint_covariances).
///
/// In heatmap pixels: the spread of the heatmap around its peak (the part above a quarter of the
/// peak, within 3 pixels), less the spread the training target itself has there (a Gaussian of
/// sigma 2), floored; divided by the squared peak height (a low peak is an unsure one); plus, when
/// a second local maximum competes, r / (1 + r) d d^T along the line d between the two (r: its
/// height relative to the peak), the expected squared error of picking the wrong one. Then mapped
/// to frame pixels through the crop transform and multiplied by `calibration`.
///
/// Calibration (Tests/video/calibrate_uncertainty.py, on the three bundled videos with their
/// detector boxes, 7694 labelled joints): `calibration` puts 39.4% of true joints inside the
/// 1-sigma ellipse (a 2-D Gaussian's 39.3%); 76.7% fall inside 2 sigma (Gaussian: 86.5%) and
/// 87.6% inside 3 sigma (98.9%): the errors have heavier tails than a Gaussian (a swapped or
/// misplaced joint far from where its heatmap points). On the 24 sample frames, not used for the
/// fit: 45.7% and 81.3%.
public enum Uncertainty {
    public static let calibration = 0.784
    /// Window half-size, threshold (fraction of the peak) and floor (heatmap px^2).
    static let radius = 3, threshold = 0.25, floor = 0.05
    /// Second peaks must lie outside this Chebyshev distance of the first, and reach this
    /// fraction of its height, to count.
    static let secondPeakDistance = 2, secondPeakRatio = 0.1

    /// The windowed spread of the training target (a Gaussian of sigma 2 heatmap pixels) as
    /// `spread` measures it: what a perfectly sure heatmap still shows.
    static let targetSpread: Double = {
        let n = 17, c = 8
        var g = [Float](repeating: 0, count: n * n)
        for y in 0..<n { for x in 0..<n { g[y * n + x] = Float(exp(-Double((x - c) * (x - c) + (y - c) * (y - c)) / 8)) } }
        return g.withUnsafeBufferPointer { spread($0.baseAddress!, width: n, height: n, px: c, py: c).xx }
    }()

    /// Weighted second moments (about their own mean) of the heatmap above `threshold` x peak,
    /// within `radius` of the peak at (px, py).
    static func spread(_ h: UnsafePointer<Float>, width w: Int, height hh: Int, px: Int, py: Int) -> (xx: Double, xy: Double, yy: Double) {
        let m = Double(h[py * w + px])
        let y0 = max(0, py - radius), y1 = min(hh - 1, py + radius), x0 = max(0, px - radius), x1 = min(w - 1, px + radius)
        var s = 0.0, sx = 0.0, sy = 0.0
        for y in y0...y1 { for x in x0...x1 {
            let v = max(Double(h[y * w + x]) - threshold * m, 0)
            s += v; sx += v * Double(x); sy += v * Double(y)
        } }
        let sw = s + 1e-12
        let mx = sx / sw, my = sy / sw
        var xx = 0.0, xy = 0.0, yy = 0.0
        for y in y0...y1 { for x in x0...x1 {
            let v = max(Double(h[y * w + x]) - threshold * m, 0)
            let dx = Double(x) - mx, dy = Double(y) - my
            xx += v * dx * dx; xy += v * dx * dy; yy += v * dy * dy
        } }
        return (xx / sw, xy / sw, yy / sw)
    }

    /// The covariance (xx, xy, yy) of one joint's position, in heatmap pixels^2, uncalibrated.
    public static func heatmapCovariance(_ h: UnsafePointer<Float>, width w: Int, height hh: Int) -> (xx: Double, xy: Double, yy: Double) {
        // The peak: the first maximum in row-major order (as the decoder's argmax).
        var best = 0
        for q in 1..<(w * hh) where h[q] > h[best] { best = q }
        let px = best % w, py = best / w
        let m = Double(h[best])
        var (xx, xy, yy) = spread(h, width: w, height: hh, px: px, py: py)
        xx -= targetSpread; yy -= targetSpread
        // Eigenvalues floored: a symmetric 2x2 matrix rebuilt from its clamped eigen-decomposition.
        let tr = xx + yy, det = xx * yy - xy * xy
        let disc = sqrt(max(tr * tr / 4 - det, 0))
        let l1 = tr / 2 + disc, l2 = tr / 2 - disc
        let f1 = max(l1, floor), f2 = max(l2, floor)
        if abs(xy) > 1e-12 || abs(xx - yy) > 1e-12 {
            // Unit eigenvector of l1: (xy, l1 - xx) or (l1 - yy, xy), whichever is longer.
            var (ex, ey) = abs(l1 - xx) + abs(xy) >= abs(l1 - yy) + abs(xy) ? (xy, l1 - xx) : (l1 - yy, xy)
            let n = sqrt(ex * ex + ey * ey)
            if n > 1e-12 { ex /= n; ey /= n } else { ex = 1; ey = 0 }
            xx = f1 * ex * ex + f2 * ey * ey
            xy = (f1 - f2) * ex * ey
            yy = f1 * ey * ey + f2 * ex * ex
        } else {
            xx = f1; yy = f2; xy = 0
        }
        let peak = max(m, 0.05)
        xx /= peak * peak; xy /= peak * peak; yy /= peak * peak
        // A competing peak: the highest local maximum (>= its 8 neighbours) outside the first's
        // neighbourhood.
        var second = -1
        for y in 0..<hh { for x in 0..<w {
            if abs(x - px) <= secondPeakDistance && abs(y - py) <= secondPeakDistance { continue }
            let v = h[y * w + x]
            // Only a maximum above secondPeakRatio x the peak can count: skip the rest first.
            guard v > 0, Double(v) > secondPeakRatio * m, second < 0 || v > h[second] else { continue }
            var isMax = true
            for dy in -1...1 { for dx in -1...1 where dx != 0 || dy != 0 {
                let X = x + dx, Y = y + dy
                if X >= 0 && X < w && Y >= 0 && Y < hh && h[Y * w + X] > v { isMax = false }
            } }
            if isMax { second = y * w + x }
        } }
        if second >= 0 {
            let r = Double(h[second]) / max(m, 1e-6)
            if r > secondPeakRatio {
                let dx = Double(second % w - px), dy = Double(second / w - py), f = r / (1 + r)
                xx += f * dx * dx; xy += f * dx * dy; yy += f * dy * dy
            }
        }
        return (xx, xy, yy)
    }

    /// The calibrated covariance in the coordinates `t` maps the heatmap to (frame pixels for a
    /// box, input pixels for the identity region), written as (xx, xy, xy, yy) to `out`.
    static func covariance(_ h: UnsafePointer<Float>, width w: Int, height hh: Int, transform t: CropTransform,
                           into out: UnsafeMutablePointer<Float>) {
        let c = heatmapCovariance(h, width: w, height: hh)
        // Image pixels per heatmap pixel, along x and y (input/heatmap, then 1/k).
        let sx = Double(t.inputWidth) / Double(w) / t.k, sy = Double(t.inputHeight) / Double(hh) / t.k
        out[0] = Float(calibration * c.xx * sx * sx)
        out[1] = Float(calibration * c.xy * sx * sy)
        out[2] = out[1]
        out[3] = Float(calibration * c.yy * sy * sy)
    }
}
