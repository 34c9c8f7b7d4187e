// C ABI of 3D keypoints from an aligned depth image (include/hrnet.h, "3D keypoints from an
// aligned depth image").
import CHRNetKernels
import HRNet

@_cdecl("hrnet_lift_options_init")
public func hrnetLiftOptionsInit(_ o: UnsafeMutablePointer<hrnet_lift_options>?) {
    guard let o else { return }
    let d = LiftOptions()
    var c = hrnet_lift_options()
    c.struct_size = MemoryLayout<hrnet_lift_options>.size
    c.window_radius = Int32(d.windowRadius)
    c.min_score = d.minScore
    c.cluster_gap = d.clusterGap
    c.depth_noise = d.depthNoise
    c.min_depth = d.minDepth
    c.max_depth = d.maxDepth
    o.pointee = c
}

/// The caller's options (NULL: the defaults). The struct has one version so far: all of it is
/// required, and bytes past it (a newer host's fields) are not read.
private func liftOptions(_ o: UnsafePointer<hrnet_lift_options>?) throws -> LiftOptions {
    let c = try copyOptions(o, structSize: { $0.pointee.struct_size }, initName: "hrnet_lift_options_init",
                            initialize: hrnetLiftOptionsInit, blank: hrnet_lift_options())
    var l = LiftOptions()
    l.windowRadius = Int(c.window_radius)
    l.minScore = c.min_score
    l.clusterGap = c.cluster_gap
    l.depthNoise = c.depth_noise
    l.minDepth = c.min_depth
    l.maxDepth = c.max_depth
    try l.validate()
    return l
}

private func depthView(_ d: hrnet_depth_image) throws -> DepthImageView {
    guard let data = d.data else { throw HRNetError.invalidArgument("depth->data is NULL") }
    guard let f = DepthFormat(rawValue: Int(d.format)) else {
        throw HRNetError.invalidArgument("depth->format is \(d.format), not a depth format (0 = uint16 millimetres, 1 = float32 metres)")
    }
    let v = DepthImageView(data: data, width: Int(d.width), height: Int(d.height), stride: d.stride, format: f)
    try v.validate("depth image")
    return v
}

@_cdecl("hrnet_lift_depth")
public func hrnetLiftDepth(_ keypoints: UnsafePointer<Float>?, _ covariances: UnsafePointer<Float>?, _ n: Int, _ joints: Int32,
                           _ depth: UnsafePointer<hrnet_depth_image>?, _ intrinsics: UnsafePointer<hrnet_intrinsics>?,
                           _ options: UnsafePointer<hrnet_lift_options>?, _ points: UnsafeMutablePointer<Float>?,
                           _ valid: UnsafeMutablePointer<UInt8>?, _ covariances3d: UnsafeMutablePointer<Float>?,
                           _ capacity: Int) -> hrnet_status {
    let fn = "hrnet_lift_depth"
    return global {
        do {
            // Everything is checked before a keypoint, a covariance or a depth pixel is read.
            let opts = try liftOptions(options)
            guard let depth else { throw HRNetError.invalidArgument("depth is NULL") }
            let view = try depthView(depth.pointee)
            guard let intrinsics else { throw HRNetError.invalidArgument("intrinsics is NULL") }
            let i = intrinsics.pointee
            let pinhole = Intrinsics(fx: i.fx, fy: i.fy, cx: i.cx, cy: i.cy)
            try pinhole.validate()
            let count = try DepthLift.jointCount(people: n, joints: Int(joints), covariances: covariances != nil,
                                                 covariances3d: covariances3d != nil)
            // No people (a frame with nobody in it): nothing to read or write, the arrays may be NULL.
            if count == 0 { return }
            guard let keypoints else { throw HRNetError.invalidArgument("keypoints is NULL") }
            guard let points else { throw HRNetError.invalidArgument("points is NULL") }
            guard let valid else { throw HRNetError.invalidArgument("valid is NULL") }
            guard capacity >= count else {
                throw HRNetError.bufferTooSmall("capacity is \(UInt(bitPattern: capacity)) joints, the result needs n x joints = \(n) x \(joints) = \(count)")
            }
            try DepthLift.lift(keypoints: keypoints, covariances: covariances, count: n, joints: Int(joints), depth: view,
                               intrinsics: pinhole, options: opts, points: points, valid: valid, covariances3d: covariances3d)
        } catch let e as HRNetError {
            throw e.prefixed(fn)
        }
    }
}

extension HRNetError {
    /// The same failure, its message starting with the function's name.
    func prefixed(_ fn: String) -> HRNetError {
        let m = "\(fn): \(message)"
        switch self {
        case .invalidArgument: return .invalidArgument(m)
        case .io: return .io(m)
        case .format: return .format(m)
        case .model: return .model(m)
        case .bufferTooSmall: return .bufferTooSmall(m)
        case .outOfMemory: return .outOfMemory(m)
        }
    }
}
