// Skeleton overlays on an 8-bit RGB image: limbs as thick segments, joints as outlined discs,
// coloured by keypoint score (red at the 0.2 cut-off, through yellow, to green at 1).
// Edges get one pixel of coverage-based blending, which is enough to keep lines from stepping.
import HRNet

struct RGBImage {
    var pixels: [UInt8]
    let width: Int, height: Int

    /// Blends `color` into pixel (x, y) with weight `a` in [0, 1].
    mutating func blend(_ x: Int, _ y: Int, _ color: (UInt8, UInt8, UInt8), _ a: Double) {
        guard x >= 0, y >= 0, x < width, y < height, a > 0 else { return }
        let i = (y * width + x) * 3
        let w = min(a, 1)
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 {
            UInt8(max(0, min(255, (Double(old) * (1 - w) + Double(new) * w).rounded())))
        }
        pixels[i] = mix(pixels[i], color.0)
        pixels[i + 1] = mix(pixels[i + 1], color.1)
        pixels[i + 2] = mix(pixels[i + 2], color.2)
    }

    /// A segment of half-width `r` (pixel centres within r of the segment are covered).
    mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, radius r: Double,
                       color: (UInt8, UInt8, UInt8)) {
        let minX = max(0, Int((min(x0, x1) - r - 1).rounded(.down)))
        let maxX = min(width - 1, Int((max(x0, x1) + r + 1).rounded(.up)))
        let minY = max(0, Int((min(y0, y1) - r - 1).rounded(.down)))
        let maxY = min(height - 1, Int((max(y0, y1) + r + 1).rounded(.up)))
        guard minX <= maxX, minY <= maxY else { return }
        let dx = x1 - x0, dy = y1 - y0
        let len2 = dx * dx + dy * dy
        for y in minY...maxY {
            for x in minX...maxX {
                let px = Double(x), py = Double(y)
                var t = len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0
                t = max(0, min(1, t))
                let ex = px - (x0 + t * dx), ey = py - (y0 + t * dy)
                let d = (ex * ex + ey * ey).squareRoot()
                blend(x, y, color, r + 0.5 - d)
            }
        }
    }

    /// A disc of radius `r` filled with `fill`, with a one-pixel `outline` ring.
    mutating func disc(_ cx: Double, _ cy: Double, radius r: Double, fill: (UInt8, UInt8, UInt8),
                       outline: (UInt8, UInt8, UInt8)) {
        let minX = max(0, Int((cx - r - 1).rounded(.down))), maxX = min(width - 1, Int((cx + r + 1).rounded(.up)))
        let minY = max(0, Int((cy - r - 1).rounded(.down))), maxY = min(height - 1, Int((cy + r + 1).rounded(.up)))
        guard minX <= maxX, minY <= maxY else { return }
        for y in minY...maxY {
            for x in minX...maxX {
                let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                blend(x, y, outline, r + 0.5 - d)
                blend(x, y, fill, r - 0.5 - d)
            }
        }
    }
}

/// Keypoints and limbs below this score are not drawn.
let drawScoreThreshold: Float = 0.2

/// Red (at the threshold) -> yellow -> green (score 1).
func scoreColor(_ s: Float) -> (UInt8, UInt8, UInt8) {
    let t = Double(max(0, min(1, (s - drawScoreThreshold) / (1 - drawScoreThreshold))))
    let r = 255 * min(1, 2 * (1 - t)), g = 255 * min(1, 2 * t)
    return (UInt8(r.rounded()), UInt8(g.rounded()), 40)
}

/// Draws each person (K x (x, y, score) in `keypoints`, `count` people) with `skeleton`'s limbs;
/// with no skeleton (an unusual joint count), joints only. `limbColors`: one colour per person
/// for its limbs (tracked people); nil colours limbs by score like the joints.
func drawPoses(_ image: inout RGBImage, keypoints: [Float], count: Int, joints k: Int, skeleton: Skeleton?,
               limbColors: [(UInt8, UInt8, UInt8)]? = nil) {
    let scale = Double(max(image.width, image.height)) / 320
    let lineRadius = max(1.0, 1.2 * scale), jointRadius = max(2.5, 3.0 * scale)
    for p in 0..<count {
        func point(_ j: Int) -> (Double, Double, Float)? {
            let b = (p * k + j) * 3
            let x = keypoints[b], y = keypoints[b + 1], s = keypoints[b + 2]
            guard x.isFinite, y.isFinite, s.isFinite, s >= drawScoreThreshold else { return nil }
            return (Double(x), Double(y), s)
        }
        for (a, b) in skeleton?.limbs ?? [] where a < k && b < k {
            guard let pa = point(a), let pb = point(b) else { continue }
            // A dark underlay keeps limbs visible on any background.
            image.line(pa.0, pa.1, pb.0, pb.1, radius: lineRadius + 1, color: (20, 20, 20))
            image.line(pa.0, pa.1, pb.0, pb.1, radius: lineRadius, color: limbColors?[p] ?? scoreColor(min(pa.2, pb.2)))
        }
        for j in 0..<k {
            guard let pj = point(j) else { continue }
            image.disc(pj.0, pj.1, radius: jointRadius, fill: scoreColor(pj.2), outline: (20, 20, 20))
        }
    }
}

// MARK: - track ids

/// A colour per track id: twelve well-separated hues, repeating.
func trackColor(_ id: Int64) -> (UInt8, UInt8, UInt8) {
    let palette: [(UInt8, UInt8, UInt8)] = [
        (0, 170, 255), (255, 80, 200), (255, 170, 0), (0, 220, 120), (170, 90, 255), (255, 60, 60),
        (0, 230, 230), (220, 220, 0), (120, 160, 255), (255, 130, 100), (120, 255, 60), (255, 255, 255),
    ]
    let i = Int((id - 1) % Int64(palette.count) + Int64(palette.count)) % palette.count
    return palette[i]
}

/// A 5x7 bitmap font for the digits 0-9: seven rows per glyph, bit 4 the leftmost column.
private let digitGlyphs: [[UInt8]] = [
    [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110],  // 0
    [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],  // 1
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111],  // 2
    [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110],  // 3
    [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010],  // 4
    [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110],  // 5
    [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110],  // 6
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000],  // 7
    [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110],  // 8
    [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100],  // 9
]

extension RGBImage {
    /// Fills the rectangle [x0, x1) x [y0, y1), clipped to the image.
    mutating func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (UInt8, UInt8, UInt8)) {
        for y in max(0, y0)..<max(max(0, y0), min(height, y1)) {
            for x in max(0, x0)..<max(max(0, x0), min(width, x1)) {
                let i = (y * width + x) * 3
                pixels[i] = color.0
                pixels[i + 1] = color.1
                pixels[i + 2] = color.2
            }
        }
    }

    /// Writes the decimal number `n` in `color` on a dark box whose bottom centre is near
    /// (cx, bottom), kept inside the image; `cell` is the size of one font pixel.
    mutating func number(_ n: Int64, centerX cx: Double, bottom: Double, cell: Int, color: (UInt8, UInt8, UInt8)) {
        let digits = String(n).compactMap { $0.wholeNumberValue }
        guard !digits.isEmpty, cell > 0 else { return }
        let pad = cell, gap = cell
        let w = digits.count * 5 * cell + (digits.count - 1) * gap + 2 * pad
        let h = 7 * cell + 2 * pad
        var x0 = Int((cx - Double(w) / 2).rounded()), y0 = Int(bottom.rounded()) - h
        x0 = max(0, min(width - w, x0))
        y0 = max(0, min(height - h, y0))
        fill(x0, y0, x0 + w, y0 + h, (20, 20, 20))
        for (k, d) in digits.enumerated() {
            let gx = x0 + pad + k * (5 * cell + gap)
            for (row, bits) in digitGlyphs[d].enumerated() {
                for col in 0..<5 where bits & (0b10000 >> UInt8(col)) != 0 {
                    fill(gx + col * cell, y0 + pad + row * cell, gx + (col + 1) * cell, y0 + pad + (row + 1) * cell, color)
                }
            }
        }
    }
}

/// Draws tracked people: limbs in their track's colour, joints by score, and each id as a
/// number in that colour above the head (the face joints, else the highest confident joint).
func drawTracked(_ image: inout RGBImage, keypoints: [Float], ids: [Int64], joints k: Int, skeleton: Skeleton?) {
    let colors = ids.map(trackColor)
    drawPoses(&image, keypoints: keypoints, count: ids.count, joints: k, skeleton: skeleton, limbColors: colors)
    let scale = Double(max(image.width, image.height)) / 320
    let cell = max(2, Int((1.5 * scale).rounded()))
    for (p, id) in ids.enumerated() {
        var face: [(Double, Double)] = [], all: [(Double, Double)] = []
        for j in 0..<k {
            let b = (p * k + j) * 3
            let x = keypoints[b], y = keypoints[b + 1], s = keypoints[b + 2]
            guard x.isFinite, y.isFinite, s.isFinite, s >= drawScoreThreshold else { continue }
            all.append((Double(x), Double(y)))
            if k == 17 && j < 5 { face.append((Double(x), Double(y))) }
        }
        let head = face.isEmpty ? all : face
        guard !head.isEmpty else { continue }
        let cx = head.map { $0.0 }.reduce(0, +) / Double(head.count)
        let top = all.map { $0.1 }.min()!
        image.number(id, centerX: cx, bottom: top - 3 * scale - 4, cell: cell, color: colors[p])
    }
}
