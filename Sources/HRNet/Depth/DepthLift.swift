// 3D keypoints from an aligned depth image (include/hrnet.h, "3D keypoints from an aligned depth
// image"): for each joint, the depth of the nearest surface in a window around it, pinhole
// back-projection, and a 3x3 covariance through the projection's Jacobian.

/// Depth pixel layouts (hrnet_depth_format). 0 (or NaN) means "no measurement" in both.
public enum DepthFormat: Int, Equatable {
    /// uint16 millimetres (16UC1).
    case uint16Millimetres = 0
    /// float32 metres (32FC1).
    case float32Metres = 1

    public var bytesPerPixel: Int { self == .uint16Millimetres ? 2 : 4 }
}

/// A caller's depth image, aligned with the frame the keypoints are in, borrowed for a call.
public struct DepthImageView {
    public let data: UnsafeRawPointer
    public let width: Int, height: Int
    /// Bytes from one row to the next (>= width x bytes per pixel).
    public let stride: Int
    public let format: DepthFormat

    public init(data: UnsafeRawPointer, width: Int, height: Int, stride: Int? = nil, format: DepthFormat) {
        self.data = data
        self.width = width
        self.height = height
        self.stride = stride ?? width * format.bytesPerPixel
        self.format = format
    }

    public func validate(_ what: String) throws {
        guard width > 0, height > 0 else {
            throw HRNetError.invalidArgument("\(what): size \(width)x\(height) is invalid: width and height must be positive")
        }
        let (row, o) = width.multipliedReportingOverflow(by: format.bytesPerPixel)
        guard !o, stride >= row || stride < 0 else {
            throw HRNetError.invalidArgument("\(what): row stride \(stride) bytes is smaller than width x \(format.bytesPerPixel) bytes = \(row)")
        }
        // The rows span stride x height bytes: a size no image can have (a size_t stride past
        // Int.max arrives negative) is refused, not wrapped.
        guard stride >= 0, !stride.multipliedReportingOverflow(by: height).overflow else {
            throw HRNetError.invalidArgument("\(what): row stride \(UInt(bitPattern: stride)) bytes x height \(height) overflows: no image is that large")
        }
    }

    /// The depth at pixel (x, y), which must lie inside the image, in metres (0 or NaN: none).
    /// Rows need not be aligned: the value is read unaligned.
    @inline(__always)
    func metres(_ x: Int, _ y: Int) -> Double {
        let offset = y * stride + x * format.bytesPerPixel
        switch format {
        case .uint16Millimetres: return Double(data.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) / 1000
        case .float32Metres: return Double(data.loadUnaligned(fromByteOffset: offset, as: Float.self))
        }
    }
}

/// Pinhole intrinsics in pixels: u = fx X / Z + cx, v = fy Y / Z + cy.
public struct Intrinsics: Equatable {
    public var fx: Double, fy: Double, cx: Double, cy: Double
    public init(fx: Double, fy: Double, cx: Double, cy: Double) {
        self.fx = fx; self.fy = fy; self.cx = cx; self.cy = cy
    }

    public func validate() throws {
        guard fx.isFinite, fy.isFinite, cx.isFinite, cy.isFinite else {
            throw HRNetError.invalidArgument("intrinsics (fx \(fx), fy \(fy), cx \(cx), cy \(cy)) must be finite numbers")
        }
        guard fx > 0, fy > 0 else {
            throw HRNetError.invalidArgument("intrinsics: the focal lengths fx \(fx) and fy \(fy) must be positive (pixels)")
        }
    }
}

/// Options of `DepthLift.lift` (hrnet_lift_options); the defaults are the header's.
public struct LiftOptions: Equatable {
    /// Half-size of the square window read around each joint: (2r + 1) x (2r + 1) pixels.
    public var windowRadius = 4
    /// Joints scoring below this are not lifted.
    public var minScore: Float = 0.2
    /// Depths within this many metres of each other (and never less than 2% of the depth) are
    /// one surface.
    public var clusterGap = 0.05
    /// Standard deviation of the sensor's depth noise, relative to depth.
    public var depthNoise = 0.01
    /// Depths outside [minDepth, maxDepth] metres are ignored.
    public var minDepth = 0.1
    public var maxDepth = 20.0
    public init() {}

    public static let maxWindowRadius = 64

    public func validate() throws {
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw HRNetError.invalidArgument("lift options: \(what)") }
        }
        try check(windowRadius >= 0 && windowRadius <= Self.maxWindowRadius,
                  "window_radius is \(windowRadius); it must be in 0..\(Self.maxWindowRadius)")
        try check(minScore.isFinite, "min_score is \(minScore); it must be a finite number")
        try check(clusterGap.isFinite && clusterGap > 0, "cluster_gap is \(clusterGap); it must be a positive number of metres")
        try check(depthNoise.isFinite && depthNoise >= 0, "depth_noise is \(depthNoise); it must be a finite number, 0 or more")
        try check(minDepth.isFinite && maxDepth.isFinite && minDepth >= 0 && minDepth < maxDepth,
                  "min_depth \(minDepth) and max_depth \(maxDepth) must be finite with 0 <= min_depth < max_depth")
    }

    /// Pixels a surface needs in the window to be taken for the joint's (before falling back to
    /// the largest one): r + 1, and at least 3.
    ///
    /// A limb that ends at the joint covers at least a line from the window's centre to its edge,
    /// r + 1 pixels even at one pixel wide, wherever the window is; but its share of the window
    /// falls as 1/r, so a fraction of the window cannot be the rule. Measured on the synthetic
    /// scene of python/tests/test_depth.py (figures at 1.5, 2.5 and 3.2 m on a 4 m wall, forearms
    /// 2-3 px wide, keypoints 1-2 px off the true joints, radius 4), the elbows and wrists went to
    /// the wall, 0.8 m or more behind, for 11 of 60 with "the nearest surface holding 15% of the
    /// valid pixels", for 46 with the window's median, for none with r + 1. On a first version
    /// of that scene, 15% lost 23% of them at radius 4 and 50% at radius 8, 10% lost 3% and 33%,
    /// r + 1 none at radius 4 and 8 (2% at radius 2, where a 2-px limb can miss most of a 5x5
    /// window). At least 3 pixels, so that one or two stray pixels in front of
    /// a surface (the tail of the sensor's noise, flying pixels at an edge) are never taken for it.
    var minSurfacePixels: Int { max(3, windowRadius + 1) }
}

/// The depth chosen for one joint: its surface's median depth and that surface's variance.
public struct SurfaceDepth: Equatable {
    public var z: Double
    public var variance: Double
}

public enum DepthLift {
    /// Joints of n people of `joints` joints each, checked so that every buffer the call reads or
    /// writes (n x joints x 3 keypoints and points, x 4 for 2D covariances, x 9 for 3D ones) has
    /// a size that can exist.
    public static func jointCount(people n: Int, joints k: Int, covariances: Bool, covariances3d: Bool) throws -> Int {
        guard n >= 0 else {
            throw HRNetError.invalidArgument("n is \(UInt(bitPattern: n)): more people than any buffer can hold")
        }
        guard k >= 1 else { throw HRNetError.invalidArgument("joints is \(k); it must be at least 1") }
        for per in [3] + (covariances ? [4] : []) + (covariances3d ? [9] : []) {
            _ = try checkedProduct(n, k, per, or: .invalidArgument(
                "n x joints x \(per) = \(n) x \(k) x \(per) overflows: no buffer holds that many floats"))
        }
        return n * k
    }

    /// Lifts `n` people's keypoints (n x joints x (x, y, score), in the depth image's pixels) to
    /// camera-frame X, Y, Z metres: `points` gets n x joints x 3 floats, `valid` n x joints flags
    /// (1 lifted, 0 not: point and covariance 0), `covariances3d` (or nil) n x joints x 9 floats,
    /// row-major 3x3 in m^2. `covariances` (or nil for 1 px^2 each way, uncorrelated) are the
    /// keypoints' 2D covariances, n x joints x (xx, xy, yx, yy) pixels^2: they must be finite with
    /// xx, yy >= 0, and are checked before anything is written. The window scratch is one checked
    /// allocation of at most (2 x 64 + 1)^2 doubles; nothing grows with n.
    public static func lift(keypoints: UnsafePointer<Float>, covariances: UnsafePointer<Float>?, count n: Int, joints k: Int,
                            depth: DepthImageView, intrinsics: Intrinsics, options: LiftOptions,
                            points: UnsafeMutablePointer<Float>, valid: UnsafeMutablePointer<UInt8>,
                            covariances3d: UnsafeMutablePointer<Float>?) throws {
        try options.validate()
        try intrinsics.validate()
        try depth.validate("depth image")
        let count = try jointCount(people: n, joints: k, covariances: covariances != nil, covariances3d: covariances3d != nil)
        if count == 0 { return }
        if let c = covariances {
            for i in 0..<count {
                let xx = c[4 * i], xy = c[4 * i + 1], yx = c[4 * i + 2], yy = c[4 * i + 3]
                guard xx.isFinite, xy.isFinite, yx.isFinite, yy.isFinite, xx >= 0, yy >= 0 else {
                    throw HRNetError.invalidArgument("covariance of person \(i / k) joint \(i % k) is (\(xx), \(xy), \(yx), \(yy)): the values must be finite and the variances xx, yy not negative")
                }
            }
        }
        let side = 2 * options.windowRadius + 1
        let work = try CheckedBuffer<Double>(count: side * side, what: "the depth window (\(side)x\(side))")
        for i in 0..<count {
            let u = Double(keypoints[3 * i]), v = Double(keypoints[3 * i + 1])
            var lifted = false
            if keypoints[3 * i + 2] >= options.minScore, let (px, py) = pixel(u, v, depth),
               let s = surface(depth, x: px, y: py, options: options, work: work.pointer) {
                let f = intrinsics
                let z = s.z
                points[3 * i] = Float((u - f.cx) * z / f.fx)
                points[3 * i + 1] = Float((v - f.cy) * z / f.fy)
                points[3 * i + 2] = Float(z)
                if let out = covariances3d {
                    var a = 1.0, b = 0.0, d = 1.0
                    if let c = covariances {
                        a = Double(c[4 * i]); d = Double(c[4 * i + 3])
                        // Symmetric, and clamped to the largest correlation a covariance can
                        // have, so that the 3D one is positive semi-definite as well.
                        let bound = (a * d).squareRoot()
                        b = min(max((Double(c[4 * i + 1]) + Double(c[4 * i + 2])) / 2, -bound), bound)
                    }
                    let noise = options.depthNoise * z
                    write(covariance(u: u, v: v, z: z, uv: (a, b, d), varZ: s.variance + noise * noise, intrinsics: f),
                          to: out + 9 * i)
                }
                lifted = true
            }
            valid[i] = lifted ? 1 : 0
            if !lifted {
                points[3 * i] = 0; points[3 * i + 1] = 0; points[3 * i + 2] = 0
                if let out = covariances3d { (out + 9 * i).update(repeating: 0, count: 9) }
            }
        }
    }

    /// The pixel holding (u, v) (pixel centres at whole coordinates), or nil if it is not finite
    /// or outside the image.
    static func pixel(_ u: Double, _ v: Double, _ depth: DepthImageView) -> (Int, Int)? {
        let x = (u + 0.5).rounded(.down), y = (v + 0.5).rounded(.down)
        guard x >= 0, y >= 0, x < Double(depth.width), y < Double(depth.height) else { return nil }  // NaN fails too
        return (Int(x), Int(y))
    }

    /// The depth of the surface at pixel (px, py): the valid depths of the window around it
    /// (clipped to the image), sorted and split into surfaces where consecutive values differ by
    /// more than max(clusterGap, 2% of the depth); the nearest surface with at least
    /// `minSurfacePixels` pixels (else the largest, the nearest of equals) gives its median and
    /// variance. nil if the window has no valid depth. `work` holds (2r + 1)^2 doubles.
    ///
    /// The nearest surface, not the window's median: on a thin limb or an edge most of the
    /// window is the background. Nor the joint's own pixel: a keypoint 1-2 px off a 2-px forearm
    /// sits on the wall behind it (on a first version of the scene of python/tests/test_depth.py,
    /// preferring the surface of the joint's own pixel put 28% of the forearm joints on the wall).
    public static func surface(_ depth: DepthImageView, x px: Int, y py: Int, options: LiftOptions,
                               work: UnsafeMutablePointer<Double>) -> SurfaceDepth? {
        let r = options.windowRadius
        let x0 = max(0, px - r), x1 = min(depth.width - 1, px + r)
        let y0 = max(0, py - r), y1 = min(depth.height - 1, py + r)
        guard x0 <= x1, y0 <= y1 else { return nil }
        var m = 0
        for y in y0...y1 {
            for x in x0...x1 {
                let d = depth.metres(x, y)
                // 0 and NaN (no measurement) fail these too, as do negative and infinite values.
                if d > 0, d >= options.minDepth, d <= options.maxDepth {
                    work[m] = d
                    m += 1
                }
            }
        }
        guard m > 0 else { return nil }
        // At most (2 x 64 + 1)^2 values: the sort's own scratch, if any, stays small.
        var values = UnsafeMutableBufferPointer(start: work, count: m)
        values.sort()
        let need = options.minSurfacePixels
        var best: Range<Int>? = nil
        var start = 0
        for i in 0..<m {
            let last = i == m - 1 || values[i + 1] - values[i] > max(options.clusterGap, 0.02 * values[i])
            guard last else { continue }
            let c = start..<(i + 1)
            if c.count >= need { best = c; break }
            if best == nil || c.count > best!.count { best = c }
            start = i + 1
        }
        let c = best!
        let n = c.count, mid = c.lowerBound + n / 2
        let z = n % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2
        var mean = 0.0
        for i in c { mean += values[i] }
        mean /= Double(n)
        var variance = 0.0
        for i in c { variance += (values[i] - mean) * (values[i] - mean) }
        return SurfaceDepth(z: z, variance: variance / Double(n))
    }

    /// Sigma_XYZ = J Sigma_uvZ J^T (row-major), J = d(X, Y, Z) / d(u, v, Z) of the back-projection
    /// X = (u - cx) Z / fx, Y = (v - cy) Z / fy, and Sigma_uvZ = blockdiag([[a, b], [b, d]], varZ).
    public static func covariance(u: Double, v: Double, z: Double, uv: (a: Double, b: Double, d: Double), varZ: Double,
                                  intrinsics f: Intrinsics) -> [Double] {
        let p = z / f.fx, q = z / f.fy, s = (u - f.cx) / f.fx, t = (v - f.cy) / f.fy
        let xx = p * p * uv.a + s * s * varZ
        let xy = p * q * uv.b + s * t * varZ
        let yy = q * q * uv.d + t * t * varZ
        let xz = s * varZ, yz = t * varZ
        return [xx, xy, xz, xy, yy, yz, xz, yz, varZ]
    }

    private static func write(_ c: [Double], to out: UnsafeMutablePointer<Float>) {
        for j in 0..<9 { out[j] = Float(c[j]) }
    }
}
