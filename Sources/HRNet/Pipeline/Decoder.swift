#if canImport(Glibc)
import Glibc
#endif

/// How heatmaps become coordinates.
public enum DecodeMethod: Int, Equatable {
    /// The published decoding: argmax, then a quarter pixel towards the higher neighbour.
    case standard = 0
    /// DARK (Zhang et al., CVPR 2020): Taylor expansion of the log of a Gaussian-smoothed heatmap.
    case dark = 1
}

/// Heatmap decoding, on one `h x w` heatmap at a time. Coordinates are in heatmap pixels.
public enum Decoder {
    /// Argmax (first maximum in row-major order) and its value. As published, a non-positive
    /// maximum puts the location at the origin (0, 0).
    public static func argmax(_ p: UnsafePointer<Float>, width w: Int, height h: Int) -> (x: Int, y: Int, value: Float) {
        var best = 0
        var v = p[0]
        for i in 1..<(w * h) where p[i] > v { v = p[i]; best = i }
        if !(v > 0) { return (0, 0, v) }
        return (best % w, best / w, v)
    }

    /// The published quarter offset: with `1 < px < w-1` and `1 < py < h-1`, move 0.25 towards
    /// the higher neighbour along each axis (none on ties).
    public static func standard(_ p: UnsafePointer<Float>, width w: Int, height h: Int) -> (x: Double, y: Double, score: Float) {
        let (px, py, v) = argmax(p, width: w, height: h)
        var x = Double(px), y = Double(py)
        if 1 < px && px < w - 1 && 1 < py && py < h - 1 {
            let dx = p[py * w + px + 1] - p[py * w + px - 1]
            let dy = p[(py + 1) * w + px] - p[(py - 1) * w + px]
            x += dx > 0 ? 0.25 : (dx < 0 ? -0.25 : 0)
            y += dy > 0 ? 0.25 : (dy < 0 ? -0.25 : 0)
        }
        return (x, y, v)
    }

    /// Gaussian kernel size DARK smooths with: 11 for 64x48 heatmaps (the DARK configuration for
    /// 256x192 input), scaled with the heatmap size and kept odd.
    public static func darkKernel(width w: Int, height h: Int) -> Int {
        let k = Int((Double(max(w, h)) / 64.0 * 11.0).rounded())
        return max(3, k | 1)
    }

    /// DARK: smooth with a Gaussian (zero border, rescaled to the original maximum), take the log,
    /// and step to the extremum of its second-order Taylor expansion at the argmax.
    /// `scratch` needs 2 * w * h floats. The score stays the original maximum.
    public static func dark(_ p: UnsafePointer<Float>, width w: Int, height h: Int, scratch: UnsafeMutablePointer<Float>) -> (x: Double, y: Double, score: Float) {
        let (px, py, v) = argmax(p, width: w, height: h)
        var x = Double(px), y = Double(py)
        let ks = darkKernel(width: w, height: h)
        let r = ks / 2
        // OpenCV's sigma for a kernel size: 0.3 * ((ks - 1) * 0.5 - 1) + 0.8.
        let sigma = 0.3 * (Double(ks - 1) * 0.5 - 1) + 0.8
        var g = [Double](repeating: 0, count: ks)
        var sum = 0.0
        for i in 0..<ks { g[i] = exp(-Double((i - r) * (i - r)) / (2 * sigma * sigma)); sum += g[i] }
        for i in 0..<ks { g[i] /= sum }
        // Separable blur, zero outside (the heatmap is padded with zeros before blurring).
        let tmp = scratch, out = scratch + w * h
        var origMax: Float = -.infinity, newMax: Float = -.infinity
        for i in 0..<(w * h) { origMax = max(origMax, p[i]) }
        for yy in 0..<h { for xx in 0..<w {
            var s = 0.0
            for i in 0..<ks { let sx = xx + i - r; if sx >= 0 && sx < w { s += g[i] * Double(p[yy * w + sx]) } }
            tmp[yy * w + xx] = Float(s)
        } }
        for yy in 0..<h { for xx in 0..<w {
            var s = 0.0
            for i in 0..<ks { let sy = yy + i - r; if sy >= 0 && sy < h { s += g[i] * Double(tmp[sy * w + xx]) } }
            out[yy * w + xx] = Float(s)
            newMax = max(newMax, Float(s))
        } }
        let rescale = newMax != 0 ? origMax / newMax : 1
        func L(_ xx: Int, _ yy: Int) -> Double { log(Double(max(out[yy * w + xx] * rescale, 1e-10))) }
        if 1 < px && px < w - 2 && 1 < py && py < h - 2 {
            let dx = 0.5 * (L(px + 1, py) - L(px - 1, py))
            let dy = 0.5 * (L(px, py + 1) - L(px, py - 1))
            let dxx = 0.25 * (L(px + 2, py) - 2 * L(px, py) + L(px - 2, py))
            let dxy = 0.25 * (L(px + 1, py + 1) - L(px - 1, py + 1) - L(px + 1, py - 1) + L(px - 1, py - 1))
            let dyy = 0.25 * (L(px, py + 2) - 2 * L(px, py) + L(px, py - 2))
            let det = dxx * dyy - dxy * dxy
            if det != 0 {
                x -= (dyy * dx - dxy * dy) / det
                y -= (-dxy * dx + dxx * dy) / det
            }
        }
        return (x, y, v)
    }

    /// Merges the heatmaps of mirrored crops into those of the originals, as the published flip
    /// test: mirror back, swap left/right channels, shift one pixel right (column 0 kept), average.
    public static func mergeFlipped(_ hm: UnsafeMutablePointer<Float>, _ flipped: UnsafePointer<Float>, joints k: Int,
                                    width w: Int, height h: Int, pairs: [(Int, Int)]) {
        var source = Array(0..<k)
        for (a, b) in pairs { source[a] = b; source[b] = a }
        for j in 0..<k {
            let dst = hm + j * w * h, src = flipped + source[j] * w * h
            for yy in 0..<h {
                let row = dst + yy * w, srow = src + yy * w
                // mirrored[x] = srow[w-1-x]; shifted[x] = mirrored[x-1] for x >= 1, mirrored[0] at 0.
                row[0] = (row[0] + srow[w - 1]) * 0.5
                for xx in 1..<w { row[xx] = (row[xx] + srow[w - xx]) * 0.5 }
            }
        }
    }
}
