// C ABI of the pipeline: crops/boxes -> keypoints, decoding, OKS-NMS, skeletons.
import CHRNetKernels
import HRNet
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("hrnet_estimate_options_init")
public func hrnetEstimateOptionsInit(_ o: UnsafeMutablePointer<hrnet_estimate_options>?) {
    guard let o else { return }
    o.pointee = hrnet_estimate_options()
    o.pointee.struct_size = MemoryLayout<hrnet_estimate_options>.size
    o.pointee.flip = 1
}

/// The caller's pipeline options; `joints` bounds the flip pairs (each joint in at most one), so
/// their count is checked before anything of that size is read or allocated.
func estimateOptions(_ o: UnsafePointer<hrnet_estimate_options>?, _ fn: String, joints: Int) throws -> EstimateOptions {
    var opts = EstimateOptions()
    guard let o else { return opts }
    let v1 = MemoryLayout<hrnet_estimate_options>.offset(of: \hrnet_estimate_options.num_flip_pairs)! + 4
    guard o.pointee.struct_size >= v1 else {
        throw HRNetError.invalidArgument("\(fn): options->struct_size is \(o.pointee.struct_size), expected \(MemoryLayout<hrnet_estimate_options>.size): fill options with hrnet_estimate_options_init()")
    }
    var e = hrnet_estimate_options()
    hrnetEstimateOptionsInit(&e)
    withUnsafeMutableBytes(of: &e) { $0.copyMemory(from: UnsafeRawBufferPointer(start: o, count: min(o.pointee.struct_size, MemoryLayout<hrnet_estimate_options>.size))) }
    opts.flip = e.flip != 0
    guard let method = DecodeMethod(rawValue: Int(e.decode)) else {
        throw HRNetError.invalidArgument("\(fn): unknown decode method \(e.decode) (0 = standard, 1 = DARK)")
    }
    opts.decode = method
    if e.num_flip_pairs < 0 { throw HRNetError.invalidArgument("\(fn): num_flip_pairs is \(e.num_flip_pairs)") }
    if opts.flip && Int(e.num_flip_pairs) > joints / 2 {
        throw HRNetError.invalidArgument("\(fn): num_flip_pairs is \(e.num_flip_pairs), more than a \(joints)-joint model has (each joint in at most one pair)")
    }
    if opts.flip && e.num_flip_pairs > 0 {
        guard let p = e.flip_pairs else { throw HRNetError.invalidArgument("\(fn): flip_pairs is NULL but num_flip_pairs is \(e.num_flip_pairs)") }
        opts.flipPairs = (0..<Int(e.num_flip_pairs)).map { (Int(p[2 * $0]), Int(p[2 * $0 + 1])) }
    }
    return opts
}

func imageView(_ i: hrnet_image, _ what: String) throws -> ImageView {
    guard let data = i.data else { throw HRNetError.invalidArgument("\(what): data is NULL") }
    guard let f = PixelFormat(rawValue: Int(i.format)) else {
        throw HRNetError.invalidArgument("\(what): unknown pixel format \(i.format) (0 = RGB8, 1 = BGR8, 2 = RGBA8)")
    }
    guard i.width > 0, i.height > 0 else {
        throw HRNetError.invalidArgument("\(what): size \(i.width)x\(i.height) is invalid: width and height must be positive")
    }
    guard i.stride >= Int(i.width) * f.channels else {
        throw HRNetError.invalidArgument("\(what): row stride \(i.stride) bytes is smaller than width x channels = \(Int(i.width) * f.channels)")
    }
    return ImageView(data: data, width: Int(i.width), height: Int(i.height), stride: i.stride, format: f)
}

/// The caller's box i (read on demand: nothing of size n is copied or allocated).
func personBox(_ b: UnsafePointer<hrnet_box>, _ i: Int) -> PersonBox {
    PersonBox(x: Double(b[i].x), y: Double(b[i].y), w: Double(b[i].width), h: Double(b[i].height), score: Double(b[i].score))
}

private func checkOutputs(_ s: Session, n: Int, _ fn: String, keypoints: UnsafeMutablePointer<Float>?, keypointCapacity: Int,
                          heatmaps: UnsafeMutablePointer<Float>?, heatmapCapacity: Int) throws {
    guard n >= 1 else {
        throw HRNetError.invalidArgument("\(fn): n is \(UInt(bitPattern: n)): pass at least one \(fn.hasSuffix("crops") ? "crop" : "box")\(n < 0 ? " (and fewer than 2^63)" : "")")
    }
    guard keypoints != nil else { throw HRNetError.invalidArgument("\(fn): keypoints is NULL") }
    let (need, o) = n.multipliedReportingOverflow(by: s.joints * 3)
    guard !o, keypointCapacity >= need else {
        throw HRNetError.bufferTooSmall("\(fn): keypoint_capacity is \(keypointCapacity) floats, the result needs n x \(s.joints) x 3 = \(need)")
    }
    if heatmaps != nil {
        let (hneed, o2) = n.multipliedReportingOverflow(by: s.heatmapCount)
        guard !o2, heatmapCapacity >= hneed else {
            throw HRNetError.bufferTooSmall("\(fn): heatmap_capacity is \(heatmapCapacity) floats, the heatmaps need n x \(s.joints) x \(s.heatmapHeight) x \(s.heatmapWidth) = \(hneed)")
        }
    }
}

@_cdecl("hrnet_estimate_crops")
public func hrnetEstimateCrops(_ s: OpaquePointer?, _ crops: UnsafePointer<hrnet_image>?, _ n: Int,
                               _ o: UnsafePointer<hrnet_estimate_options>?,
                               _ keypoints: UnsafeMutablePointer<Float>?, _ keypointCapacity: Int,
                               _ scores: UnsafeMutablePointer<Float>?,
                               _ heatmaps: UnsafeMutablePointer<Float>?, _ heatmapCapacity: Int) -> hrnet_status {
    let fn = "hrnet_estimate_crops"
    return onSession(s, fn) { b in
        let se = b.session
        try checkOutputs(se, n: n, fn, keypoints: keypoints, keypointCapacity: keypointCapacity, heatmaps: heatmaps, heatmapCapacity: heatmapCapacity)
        guard let crops else { throw HRNetError.invalidArgument("\(fn): crops is NULL") }
        let options = try estimateOptions(o, fn, joints: se.joints)
        // The results go straight into the caller's buffers, whose capacities checkOutputs checked.
        try se.estimate(count: n, crop: { try imageView(crops[$0], "crop \($0)") }, options: options,
                        into: PoseOutputs(keypoints: keypoints!, scores: scores, areas: nil, heatmaps: heatmaps))
    }
}

@_cdecl("hrnet_estimate_boxes")
public func hrnetEstimateBoxes(_ s: OpaquePointer?, _ frame: UnsafePointer<hrnet_image>?,
                               _ boxes: UnsafePointer<hrnet_box>?, _ n: Int,
                               _ o: UnsafePointer<hrnet_estimate_options>?,
                               _ keypoints: UnsafeMutablePointer<Float>?, _ keypointCapacity: Int,
                               _ scores: UnsafeMutablePointer<Float>?, _ areas: UnsafeMutablePointer<Float>?,
                               _ heatmaps: UnsafeMutablePointer<Float>?, _ heatmapCapacity: Int) -> hrnet_status {
    let fn = "hrnet_estimate_boxes"
    return onSession(s, fn) { b in
        let se = b.session
        if n == 0 {
            // A frame with no boxes has nobody in it (normal in a stream): zero people, nothing
            // written; the frame and options are still checked, the outputs may be NULL.
            guard let frame else { throw HRNetError.invalidArgument("\(fn): frame is NULL") }
            try imageView(frame.pointee, "frame").validate("frame")
            _ = try estimateOptions(o, fn, joints: se.joints)
            return
        }
        try checkOutputs(se, n: n, fn, keypoints: keypoints, keypointCapacity: keypointCapacity, heatmaps: heatmaps, heatmapCapacity: heatmapCapacity)
        guard let frame else { throw HRNetError.invalidArgument("\(fn): frame is NULL") }
        guard let boxes else { throw HRNetError.invalidArgument("\(fn): boxes is NULL") }
        let view = try imageView(frame.pointee, "frame")
        let options = try estimateOptions(o, fn, joints: se.joints)
        try se.estimate(frame: view, count: n, box: { personBox(boxes, $0) }, options: options,
                        into: PoseOutputs(keypoints: keypoints!, scores: scores, areas: areas, heatmaps: heatmaps))
    }
}

@_cdecl("hrnet_decode_heatmaps")
public func hrnetDecodeHeatmaps(_ heatmaps: UnsafePointer<Float>?, _ n: Int, _ joints: Int32, _ hh: Int32, _ hw: Int32,
                                _ boxes: UnsafePointer<hrnet_box>?, _ ih: Int32, _ iw: Int32, _ method: Int32,
                                _ keypoints: UnsafeMutablePointer<Float>?, _ capacity: Int) -> hrnet_status {
    let fn = "hrnet_decode_heatmaps"
    return global {
        guard let heatmaps else { throw HRNetError.invalidArgument("\(fn): heatmaps is NULL") }
        guard let keypoints else { throw HRNetError.invalidArgument("\(fn): keypoints is NULL") }
        guard let m = DecodeMethod(rawValue: Int(method)) else { throw HRNetError.invalidArgument("\(fn): unknown decode method \(method)") }
        guard n >= 1 else { throw HRNetError.invalidArgument("\(fn): n is \(UInt(bitPattern: n)); it must be at least 1 (and fit in a signed size)") }
        guard joints > 0, hh > 0, hw > 0 else { throw HRNetError.invalidArgument("\(fn): heatmap shape \(n)x\(joints)x\(hh)x\(hw) is invalid") }
        guard (ih == 0) == (iw == 0), ih >= 0, iw >= 0 else { throw HRNetError.invalidArgument("\(fn): input size \(ih)x\(iw) is invalid (0x0 = 4 x heatmap size)") }
        let (need, o) = n.multipliedReportingOverflow(by: Int(joints) * 3)
        guard !o, capacity >= need else {
            throw HRNetError.bufferTooSmall("\(fn): keypoint_capacity is \(capacity) floats, the result needs n x \(joints) x 3 = \(need)")
        }
        try PoseDecoding.decode(heatmaps, count: n, joints: Int(joints), height: Int(hh), width: Int(hw),
                                box: boxes.map { b in { personBox(b, $0) } },
                                inputHeight: ih == 0 ? nil : Int(ih), inputWidth: iw == 0 ? nil : Int(iw), method: m,
                                into: keypoints)
    }
}

@_cdecl("hrnet_keypoint_covariances")
public func hrnetKeypointCovariances(_ heatmaps: UnsafePointer<Float>?, _ n: Int, _ joints: Int32, _ hh: Int32, _ hw: Int32,
                                     _ boxes: UnsafePointer<hrnet_box>?, _ ih: Int32, _ iw: Int32,
                                     _ covariances: UnsafeMutablePointer<Float>?, _ capacity: Int) -> hrnet_status {
    let fn = "hrnet_keypoint_covariances"
    return global {
        guard let heatmaps else { throw HRNetError.invalidArgument("\(fn): heatmaps is NULL") }
        guard let covariances else { throw HRNetError.invalidArgument("\(fn): covariances is NULL") }
        guard n >= 1 else { throw HRNetError.invalidArgument("\(fn): n is \(UInt(bitPattern: n)); it must be at least 1 (and fit in a signed size)") }
        guard joints > 0, hh > 0, hw > 0 else { throw HRNetError.invalidArgument("\(fn): heatmap shape \(n)x\(joints)x\(hh)x\(hw) is invalid") }
        guard (ih == 0) == (iw == 0), ih >= 0, iw >= 0 else { throw HRNetError.invalidArgument("\(fn): input size \(ih)x\(iw) is invalid (0x0 = 4 x heatmap size)") }
        let (need, o) = n.multipliedReportingOverflow(by: Int(joints) * 4)
        guard !o else { throw HRNetError.invalidArgument("\(fn): n x joints x 4 = \(n) x \(joints) x 4 overflows: no buffer holds that many floats") }
        // capacity is a size_t: compared unsigned, so SIZE_MAX is large, not -1.
        guard UInt(bitPattern: capacity) >= UInt(need) else {
            throw HRNetError.bufferTooSmall("\(fn): covariance_capacity is \(UInt(bitPattern: capacity)) floats, the result needs n x \(joints) x 4 = \(need)")
        }
        try PoseDecoding.covariances(heatmaps, count: n, joints: Int(joints), height: Int(hh), width: Int(hw),
                                     box: boxes.map { b in { personBox(b, $0) } },
                                     inputHeight: ih == 0 ? nil : Int(ih), inputWidth: iw == 0 ? nil : Int(iw), into: covariances)
    }
}

@_cdecl("hrnet_box_area")
public func hrnetBoxArea(_ box: UnsafePointer<hrnet_box>?, _ ih: Int32, _ iw: Int32) -> Double {
    guard let b = box?.pointee, ih > 0, iw > 0, b.width > 0, b.height > 0, b.x.isFinite, b.y.isFinite, b.width.isFinite, b.height.isFinite else { return 0 }
    return CropTransform(box: Double(b.x), Double(b.y), Double(b.width), Double(b.height), inputWidth: Int(iw), inputHeight: Int(ih)).area
}

@_cdecl("hrnet_oks_nms")
public func hrnetOksNms(_ keypoints: UnsafePointer<Float>?, _ scores: UnsafePointer<Float>?, _ areas: UnsafePointer<Float>?, _ n: Int,
                        _ joints: Int32, _ sigmas: UnsafePointer<Float>?, _ threshold: Float,
                        _ keep: UnsafeMutablePointer<Int32>?, _ numKept: UnsafeMutablePointer<Int>?) -> hrnet_status {
    let fn = "hrnet_oks_nms"
    return global {
        guard let numKept else { throw HRNetError.invalidArgument("\(fn): num_kept is NULL") }
        numKept.pointee = 0
        if n == 0 { return }
        guard let keypoints, let scores, let areas, let keep else {
            throw HRNetError.invalidArgument("\(fn): keypoints, scores, areas and keep must not be NULL")
        }
        // n is a size_t: past Int.max it arrives negative. Indices are returned as int32.
        guard n > 0, n <= Int(Int32.max) else { throw HRNetError.invalidArgument("\(fn): n is \(UInt(bitPattern: n)); at most \(Int32.max) people") }
        guard joints > 0 else { throw HRNetError.invalidArgument("\(fn): joints is \(joints)") }
        let (values, o) = n.multipliedReportingOverflow(by: 3 * Int(joints))
        guard !o else { throw HRNetError.invalidArgument("\(fn): n x joints x 3 = \(n) x \(joints) x 3 overflows: no buffer holds that many floats") }
        for i in 0..<values where !keypoints[i].isFinite {
            throw HRNetError.invalidArgument("\(fn): keypoint value \(i) (person \(i / (3 * Int(joints)))) is not finite")
        }
        // The kept indices are written to keep, which is also the work space: nothing allocated.
        numKept.pointee = try OKS.nms(keypoints: keypoints, scores: scores, areas: areas, count: n, joints: Int(joints),
                                      sigmas: sigmas, threshold: Double(threshold), keep: keep)
    }
}

// Skeletons: static C copies made once.
private struct CSkeleton {
    let names: [UnsafeMutablePointer<CChar>]
    let limbs: UnsafeMutablePointer<Int32>, limbCount: Int32
    let flips: UnsafeMutablePointer<Int32>, flipCount: Int32
    let sigmas: UnsafeMutablePointer<Float>?
    init(_ s: Skeleton) {
        names = s.joints.map { strdup($0) }
        func pairs(_ p: [(Int, Int)]) -> UnsafeMutablePointer<Int32> {
            let m = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, 2 * p.count))
            for (i, (a, b)) in p.enumerated() { m[2 * i] = Int32(a); m[2 * i + 1] = Int32(b) }
            return m
        }
        limbs = pairs(s.limbs); limbCount = Int32(s.limbs.count)
        flips = pairs(s.flipPairs); flipCount = Int32(s.flipPairs.count)
        if let sg = s.sigmas {
            let m = UnsafeMutablePointer<Float>.allocate(capacity: sg.count)
            for (i, v) in sg.enumerated() { m[i] = v }
            sigmas = m
        } else { sigmas = nil }
    }
}
private let cSkeletons = Skeleton.all.map(CSkeleton.init)
private func cSkeleton(_ id: Int32) -> CSkeleton? { id >= 0 && Int(id) < cSkeletons.count ? cSkeletons[Int(id)] : nil }

@_cdecl("hrnet_skeleton_for_joints")
public func hrnetSkeletonForJoints(_ joints: Int32) -> Int32 {
    Int32(Skeleton.all.firstIndex { $0.joints.count == Int(joints) } ?? -1)
}

@_cdecl("hrnet_skeleton_joint_count")
public func hrnetSkeletonJointCount(_ id: Int32) -> Int32 { cSkeleton(id).map { Int32($0.names.count) } ?? -1 }

@_cdecl("hrnet_skeleton_joint_name")
public func hrnetSkeletonJointName(_ id: Int32, _ joint: Int32) -> UnsafePointer<CChar>? {
    guard let s = cSkeleton(id), joint >= 0, Int(joint) < s.names.count else { return nil }
    return UnsafePointer(s.names[Int(joint)])
}

@_cdecl("hrnet_skeleton_limbs")
public func hrnetSkeletonLimbs(_ id: Int32, _ pairs: UnsafeMutablePointer<UnsafePointer<Int32>?>?) -> Int32 {
    guard let s = cSkeleton(id) else { pairs?.pointee = nil; return -1 }
    pairs?.pointee = UnsafePointer(s.limbs)
    return s.limbCount
}

@_cdecl("hrnet_skeleton_flip_pairs")
public func hrnetSkeletonFlipPairs(_ id: Int32, _ pairs: UnsafeMutablePointer<UnsafePointer<Int32>?>?) -> Int32 {
    guard let s = cSkeleton(id) else { pairs?.pointee = nil; return -1 }
    pairs?.pointee = UnsafePointer(s.flips)
    return s.flipCount
}

@_cdecl("hrnet_skeleton_sigmas")
public func hrnetSkeletonSigmas(_ id: Int32) -> UnsafePointer<Float>? { cSkeleton(id)?.sigmas.map { UnsafePointer($0) } }
