#if canImport(Glibc)
import Glibc
#endif

/// Object keypoint similarity and greedy OKS-NMS over people, as the published COCO evaluation.
public enum OKS {
    /// OKS between two people (K x (x, y, score) each) over all joints:
    /// mean of exp(-d^2 / (2 * (2 sigma)^2 * (areaA + areaB) / 2)).
    public static func similarity(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, joints k: Int,
                                  areaA: Double, areaB: Double, sigmas: [Float]) -> Double {
        sigmas.withUnsafeBufferPointer { similarity(a, b, joints: k, areaA: areaA, areaB: areaB, sigmas: $0.baseAddress!) }
    }

    /// `similarity` with `sigmas` as a pointer to K values.
    public static func similarity(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, joints k: Int,
                                  areaA: Double, areaB: Double, sigmas: UnsafePointer<Float>) -> Double {
        let s = (areaA + areaB) / 2 + Double(Float.ulpOfOne)
        var sum = 0.0
        for j in 0..<k {
            let dx = Double(a[j * 3] - b[j * 3]), dy = Double(a[j * 3 + 1] - b[j * 3 + 1])
            let v = 4 * Double(sigmas[j]) * Double(sigmas[j])
            sum += exp(-(dx * dx + dy * dy) / v / s / 2)
        }
        return sum / Double(k)
    }

    /// Greedy NMS by score (highest first): drops a person whose OKS with a kept one is above
    /// `threshold`. Returns the kept indices in the order kept.
    public static func nms(keypoints: UnsafePointer<Float>, scores: [Float], areas: [Float], joints k: Int,
                           sigmas: [Float]? = nil, threshold: Double = 0.9) throws -> [Int] {
        let n = scores.count
        guard areas.count == n else { throw HRNetError.invalidArgument("\(areas.count) areas for \(n) scores") }
        if let sigmas, sigmas.count != k { throw HRNetError.invalidArgument("\(sigmas.count) sigmas for \(k) joints") }
        if n == 0 { return [] }
        var keep = [Int32](repeating: 0, count: n)
        let kept = try scores.withUnsafeBufferPointer { sc in
            try areas.withUnsafeBufferPointer { ar in
                try keep.withUnsafeMutableBufferPointer { kp in
                    try withOptionalPointer(sigmas) { sg in
                        try nms(keypoints: keypoints, scores: sc.baseAddress!, areas: ar.baseAddress!, count: n, joints: k,
                                sigmas: sg, threshold: threshold, keep: kp.baseAddress!)
                    }
                }
            }
        }
        return keep[0..<kept].map { Int($0) }
    }

    private static func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
        guard let a else { return try body(nil) }
        return try a.withUnsafeBufferPointer { try body($0.baseAddress) }
    }

    /// `nms` on the caller's arrays: `n` people, `sigmas` K values or nil for COCO's (17 joints).
    /// Writes the kept indices, in the order kept, to `keep` (capacity n, also the work space:
    /// nothing is allocated) and returns their count.
    public static func nms(keypoints: UnsafePointer<Float>, scores: UnsafePointer<Float>, areas: UnsafePointer<Float>,
                           count n: Int, joints k: Int, sigmas: UnsafePointer<Float>?, threshold: Double,
                           keep: UnsafeMutablePointer<Int32>) throws -> Int {
        guard n >= 0, n <= Int(Int32.max) else {
            throw HRNetError.invalidArgument("\(n) people: at most \(Int32.max) (indices are 32-bit)")
        }
        guard k >= 1 else { throw HRNetError.invalidArgument("joints must be at least 1") }
        let cocoSigmas = Skeleton.coco17.sigmas!
        if sigmas == nil, k != cocoSigmas.count {
            throw HRNetError.invalidArgument("OKS-NMS on \(k) joints needs sigmas (built-in ones are COCO's, for 17 joints)")
        }
        for j in 0..<k {
            let s = sigmas?[j] ?? cocoSigmas[j]
            guard s > 0, s.isFinite else { throw HRNetError.invalidArgument("sigmas must be positive and finite") }
        }
        guard threshold.isFinite else { throw HRNetError.invalidArgument("threshold \(threshold) is not finite") }
        for i in 0..<n where !scores[i].isFinite || !areas[i].isFinite || areas[i] < 0 {
            throw HRNetError.invalidArgument("person \(i) has a non-finite score or an invalid area (\(scores[i]), \(areas[i]))")
        }
        // Descending score; ties keep the later index first, as numpy's argsort()[::-1] does.
        // A strict total order, so the (in-place, unstable) heap sort gives the one result.
        for i in 0..<n { keep[i] = Int32(i) }
        heapSort(keep, n) { a, b in scores[Int(a)] != scores[Int(b)] ? scores[Int(a)] > scores[Int(b)] : a > b }
        // keep[0..<kept]: kept people; keep[kept..<kept+left]: the candidates still in order.
        return cocoSigmas.withUnsafeBufferPointer { coco in
            let sig = sigmas ?? coco.baseAddress!
            var kept = 0, left = n
            while left > 0 {
                let i = Int(keep[kept])
                kept += 1
                left -= 1
                var w = kept
                for r in kept..<(kept + left) {
                    let j = Int(keep[r])
                    if similarity(keypoints + i * k * 3, keypoints + j * k * 3, joints: k, areaA: Double(areas[i]),
                                  areaB: Double(areas[j]), sigmas: sig) <= threshold {
                        keep[w] = keep[r]
                        w += 1
                    }
                }
                left = w - kept
            }
            return kept
        }
    }

    /// Sorts p[0..<n] so that `first(a, b)` holds for every earlier a and later b; no allocation.
    static func heapSort(_ p: UnsafeMutablePointer<Int32>, _ n: Int, _ first: (Int32, Int32) -> Bool) {
        func siftDown(_ start: Int, _ end: Int) {
            var root = start
            while 2 * root + 1 < end {
                var child = 2 * root + 1
                if child + 1 < end && first(p[child], p[child + 1]) { child += 1 }
                guard first(p[root], p[child]) else { return }
                (p[root], p[child]) = (p[child], p[root])
                root = child
            }
        }
        guard n > 1 else { return }
        var start = n / 2
        while start > 0 { start -= 1; siftDown(start, n) }
        var end = n
        while end > 1 {
            end -= 1
            (p[0], p[end]) = (p[end], p[0])
            siftDown(0, end)
        }
    }
}
