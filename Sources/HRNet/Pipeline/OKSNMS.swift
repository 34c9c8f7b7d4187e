#if canImport(Glibc)
import Glibc
#endif

/// Object keypoint similarity and greedy OKS-NMS over people, as the published COCO evaluation.
public enum OKS {
    /// OKS between two people (K x (x, y, score) each) over all joints:
    /// mean of exp(-d^2 / (2 * (2 sigma)^2 * (areaA + areaB) / 2)).
    public static func similarity(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, joints k: Int,
                                  areaA: Double, areaB: Double, sigmas: [Float]) -> Double {
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
        guard k >= 1 else { throw HRNetError.invalidArgument("joints must be at least 1") }
        let sig: [Float]
        if let sigmas {
            guard sigmas.count == k else { throw HRNetError.invalidArgument("\(sigmas.count) sigmas for \(k) joints") }
            sig = sigmas
        } else {
            guard let coco = Skeleton.coco17.sigmas, k == coco.count else {
                throw HRNetError.invalidArgument("OKS-NMS on \(k) joints needs sigmas (built-in ones are COCO's, for 17 joints)")
            }
            sig = coco
        }
        guard sig.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw HRNetError.invalidArgument("sigmas must be positive and finite") }
        guard threshold.isFinite else { throw HRNetError.invalidArgument("threshold \(threshold) is not finite") }
        for i in 0..<n where !scores[i].isFinite || !areas[i].isFinite || areas[i] < 0 {
            throw HRNetError.invalidArgument("person \(i) has a non-finite score or an invalid area (\(scores[i]), \(areas[i]))")
        }
        // Descending score; ties keep the later index first, as numpy's argsort()[::-1] does.
        var order = Array(0..<n).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 > $1 }
        var keep: [Int] = []
        while let i = order.first {
            keep.append(i)
            order = order.dropFirst().filter {
                similarity(keypoints + i * k * 3, keypoints + $0 * k * 3, joints: k, areaA: Double(areas[i]),
                           areaB: Double(areas[$0]), sigmas: sig) <= threshold
            }
        }
        return keep
    }
}
