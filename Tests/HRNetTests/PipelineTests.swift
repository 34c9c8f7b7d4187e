import XCTest
@testable import HRNet

/// Worked numbers for the published pre/post-processing.
final class PipelineTests: XCTestCase {
    func testBoxToRegionWorkedNumbers() {
        // A tall box 50x200 at (100, 40) for a 256x192 input (r = 0.75): it is widened to
        // 150x200, then enlarged to 187.5x250, so k = 192 / 187.5 = 1.024.
        let t = CropTransform(box: 100, 40, 50, 200, inputWidth: 192, inputHeight: 256)
        XCTAssertEqual(t.cx, 125); XCTAssertEqual(t.cy, 140)
        XCTAssertEqual(t.k, 1.024, accuracy: 1e-12)
        XCTAssertEqual(t.area, 187.5 * 250, accuracy: 1e-6)
        // The box centre maps to the input centre (W/2, H/2), not (W-1)/2.
        let (u, v) = t.toInput(125, 140)
        XCTAssertEqual(u, 96); XCTAssertEqual(v, 128)
        // The input corners map back to the enlarged region's corners.
        let (x0, y0) = t.toImage(0, 0), (x1, y1) = t.toImage(192, 256)
        XCTAssertEqual(x0, 125 - 93.75, accuracy: 1e-9); XCTAssertEqual(y0, 140 - 125, accuracy: 1e-9)
        XCTAssertEqual(x1, 125 + 93.75, accuracy: 1e-9); XCTAssertEqual(y1, 140 + 125, accuracy: 1e-9)
        // A wide box is heightened instead: 300x100 -> 300x400 -> 375x500.
        let w = CropTransform(box: 0, 0, 300, 100, inputWidth: 192, inputHeight: 256)
        XCTAssertEqual(w.k, 192.0 / 375.0, accuracy: 1e-12)
        XCTAssertEqual(w.area, 375 * 500, accuracy: 1e-6)
        // Heatmap coordinates: the heatmap centre (24, 32) of a 48x64 heatmap is the box centre;
        // one heatmap pixel is 4 input pixels = 4 / k frame pixels.
        let (hx, hy) = t.heatmapToImage(24, 32, heatmapWidth: 48, heatmapHeight: 64)
        XCTAssertEqual(hx, 125, accuracy: 1e-9); XCTAssertEqual(hy, 140, accuracy: 1e-9)
        let (hx1, _) = t.heatmapToImage(25, 32, heatmapWidth: 48, heatmapHeight: 64)
        XCTAssertEqual(hx1 - hx, 4 / 1.024, accuracy: 1e-9)
    }

    func testCropFitKeepsAspect() {
        // A 100x100 crop into 192x256: k = min(1.92, 2.56) = 1.92; padded above and below.
        let t = CropTransform(cropWidth: 100, cropHeight: 100, inputWidth: 192, inputHeight: 256)
        XCTAssertEqual(t.k, 1.92, accuracy: 1e-12)
        let (u, v) = t.toInput(0, 0)
        XCTAssertEqual(u, 0, accuracy: 1e-9)
        XCTAssertEqual(v, 128 - 96, accuracy: 1e-9)
    }

    func heatmap(_ w: Int, _ h: Int, _ f: (Int, Int) -> Float) -> [Float] {
        var m = [Float](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w { m[y * w + x] = f(x, y) } }
        return m
    }

    func testQuarterOffset() {
        // Peak at (10, 7); right neighbour higher than left, upper higher than lower.
        var m = heatmap(48, 64) { _, _ in 0 }
        m[7 * 48 + 10] = 1; m[7 * 48 + 11] = 0.5; m[7 * 48 + 9] = 0.2; m[6 * 48 + 10] = 0.6; m[8 * 48 + 10] = 0.1
        let d = m.withUnsafeBufferPointer { Decoder.standard($0.baseAddress!, width: 48, height: 64) }
        XCTAssertEqual(d.x, 10.25); XCTAssertEqual(d.y, 6.75); XCTAssertEqual(d.score, 1)
        // Equal neighbours: no offset.
        m[7 * 48 + 9] = 0.5; m[8 * 48 + 10] = 0.6
        let e = m.withUnsafeBufferPointer { Decoder.standard($0.baseAddress!, width: 48, height: 64) }
        XCTAssertEqual(e.x, 10); XCTAssertEqual(e.y, 7)
        // Edge peaks are not offset: px = 1 fails 1 < px, and px = w - 1 fails px < w - 1.
        for (px, py) in [(1, 5), (47, 5), (5, 1), (5, 63), (0, 0)] {
            var n = heatmap(48, 64) { x, y in x == px && y == py ? 1 : (abs(x - px) + abs(y - py) == 1 ? 0.5 : 0) }
            if px + 1 < 48 { n[py * 48 + px + 1] = 0.9 }
            if py + 1 < 64 { n[(py + 1) * 48 + px] = 0.9 }
            let r = n.withUnsafeBufferPointer { Decoder.standard($0.baseAddress!, width: 48, height: 64) }
            XCTAssertEqual(r.x, Double(px), "peak at \(px),\(py)"); XCTAssertEqual(r.y, Double(py), "peak at \(px),\(py)")
        }
        // A non-positive maximum decodes to the origin with that score.
        let neg = heatmap(8, 8) { x, y in -Float(x + y) - 0.5 }
        let z = neg.withUnsafeBufferPointer { Decoder.standard($0.baseAddress!, width: 8, height: 8) }
        XCTAssertEqual(z.x, 0); XCTAssertEqual(z.y, 0); XCTAssertEqual(z.score, -0.5)
        // Ties go to the first maximum in row-major order.
        let tie = heatmap(8, 8) { x, y in (x == 5 && y == 2) || (x == 3 && y == 4) ? 1 : 0 }
        let t = tie.withUnsafeBufferPointer { Decoder.argmax($0.baseAddress!, width: 8, height: 8) }
        XCTAssertEqual(t.x, 5); XCTAssertEqual(t.y, 2)
    }

    func testDarkRecoversSubPixelPeak() {
        var scratch = [Float](repeating: 0, count: 2 * 48 * 64)
        for (cx, cy) in [(20.3, 30.7), (11.45, 40.12), (30.0, 20.5), (24.81, 33.33)] {
            let m = heatmap(48, 64) { x, y in
                Float(exp(-((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)) / (2 * 2.0 * 2.0)))
            }
            let d = m.withUnsafeBufferPointer { p in scratch.withUnsafeMutableBufferPointer { Decoder.dark(p.baseAddress!, width: 48, height: 64, scratch: $0.baseAddress!) } }
            XCTAssertEqual(d.x, cx, accuracy: 0.05, "x of \(cx),\(cy)")
            XCTAssertEqual(d.y, cy, accuracy: 0.05, "y of \(cx),\(cy)")
            // The standard decoder is off by up to a quarter pixel on the same maps.
            let s = m.withUnsafeBufferPointer { Decoder.standard($0.baseAddress!, width: 48, height: 64) }
            XCTAssertLessThanOrEqual(abs(s.x - cx), 0.5)
        }
    }

    func testFlipMergeOnAsymmetricPattern() {
        // 2 joints forming a flip pair, 4x3 heatmaps. The flipped heatmaps are the originals
        // mirrored with the channels swapped, so merging must give back (orig + shifted orig) / 2.
        let w = 4, h = 3, k = 2
        var orig = [Float](repeating: 0, count: k * w * h)
        for i in 0..<orig.count { orig[i] = Float(i * i % 7) + Float(i) * 0.1 }
        var flipped = [Float](repeating: 0, count: k * w * h)
        for j in 0..<k { for y in 0..<h { for x in 0..<w { flipped[(1 - j) * w * h + y * w + (w - 1 - x)] = orig[j * w * h + y * w + x] } } }
        var merged = orig
        merged.withUnsafeMutableBufferPointer { m in
            flipped.withUnsafeBufferPointer { Decoder.mergeFlipped(m.baseAddress!, $0.baseAddress!, joints: k, width: w, height: h, pairs: [(0, 1)]) }
        }
        for j in 0..<k { for y in 0..<h { for x in 0..<w {
            // Mirrored back and swapped = orig; shifted right by one: column x takes x - 1 (column 0 keeps 0).
            let shifted = orig[j * w * h + y * w + max(0, x - 1)]
            XCTAssertEqual(merged[j * w * h + y * w + x], (orig[j * w * h + y * w + x] + shifted) / 2, accuracy: 1e-6)
        } } }
    }

    func testOKSNMSDropsDuplicatesKeepsOthers() throws {
        let k = 17
        var a = [Float](repeating: 0, count: k * 3), b = a, c = a
        for j in 0..<k {
            a[j * 3] = Float(100 + j * 3); a[j * 3 + 1] = Float(50 + j * 5); a[j * 3 + 2] = 0.9
            b[j * 3] = a[j * 3] + 1; b[j * 3 + 1] = a[j * 3 + 1] - 1; b[j * 3 + 2] = 0.8   // near duplicate
            c[j * 3] = a[j * 3] + 80; c[j * 3 + 1] = a[j * 3 + 1]; c[j * 3 + 2] = 0.7       // another person
        }
        let all = b + a + c
        let keep = try all.withUnsafeBufferPointer {
            try OKS.nms(keypoints: $0.baseAddress!, scores: [0.8, 0.9, 0.7], areas: [10000, 10000, 10000], joints: k)
        }
        XCTAssertEqual(keep, [1, 2])
        // OKS of identical poses is 1; far apart tends to 0.
        let same = a.withUnsafeBufferPointer { OKS.similarity($0.baseAddress!, $0.baseAddress!, joints: k, areaA: 1e4, areaB: 1e4, sigmas: Skeleton.coco17.sigmas!) }
        XCTAssertEqual(same, 1, accuracy: 1e-9)
    }

    func testSkeletons() {
        XCTAssertEqual(Skeleton.coco17.joints.count, 17)
        XCTAssertEqual(Skeleton.mpii16.joints.count, 16)
        for s in Skeleton.all {
            for (a, b) in s.limbs + s.flipPairs { XCTAssertTrue(a < s.joints.count && b < s.joints.count) }
            // Flip pairs join a left and a right joint of the same name.
            for (a, b) in s.flipPairs {
                let na = s.joints[a].replacingOccurrences(of: "left_", with: "").replacingOccurrences(of: "right_", with: "")
                let nb = s.joints[b].replacingOccurrences(of: "left_", with: "").replacingOccurrences(of: "right_", with: "")
                XCTAssertEqual(na, nb)
                XCTAssertNotEqual(s.joints[a], s.joints[b])
            }
        }
    }

    /// The crop fixture through the pipeline: a 192x256 crop fitted into a 256x192 input is the
    /// identity warp, so the heatmaps must equal the fixture's (within the bilinear's rounding).
    func testCropPipelineMatchesFixture() throws {
        let rgb = try NPY("coco_w8_crop_rgb.npy"), truth = try NPY("coco_w8_crop_heatmaps.npy")
        let bytes = rgb.values.map { UInt8($0) }
        let session = try Session(model: try Model(path: Fixtures.path("coco_w8.pth")))
        let r = try bytes.withUnsafeBufferPointer { p in
            try session.estimate(crops: [ImageView(data: p.baseAddress!, width: 192, height: 256)],
                                 options: EstimateOptions(flip: false), wantHeatmaps: true)
        }
        XCTAssertLessThanOrEqual(maxAbsDiff(r.heatmaps!, truth.values), 1e-4)
        // Keypoints come back in crop pixels: 4 x heatmap coordinates here.
        for j in 0..<17 {
            let hm = Array(truth.floats[(j * 64 * 48)..<((j + 1) * 64 * 48)])
            let d = hm.withUnsafeBufferPointer { Decoder.standard($0.baseAddress!, width: 48, height: 64) }
            XCTAssertEqual(Double(r.keypoints[j * 3]), d.x * 4, accuracy: 1e-3)
            XCTAssertEqual(Double(r.keypoints[j * 3 + 1]), d.y * 4, accuracy: 1e-3)
        }
    }
}
