// C ABI of the tracker (include/hrnet.h, "Tracking people through a video or a live stream").
import CHRNetKernels
import HRNet

/// A tracker handle: the Swift tracker behind an opaque pointer (the handle owns one retain).
final class TrackerBox {
    let tracker: Tracker
    init(_ t: Tracker) { tracker = t }
}

/// Most boxes one frame may bring: far above any detector's output, and small enough that the
/// box list is never a large allocation.
let maxBoxesPerFrame = 65536

@_cdecl("hrnet_tracker_options_init")
public func hrnetTrackerOptionsInit(_ o: UnsafeMutablePointer<hrnet_tracker_options>?) {
    guard let o else { return }
    let d = TrackerOptions()
    var c = hrnet_tracker_options()
    c.struct_size = MemoryLayout<hrnet_tracker_options>.size
    c.smoothing = d.smoothing ? 1 : 0
    c.min_cutoff = d.minCutoff
    c.beta = d.beta
    c.derivative_cutoff = d.derivativeCutoff
    c.match_threshold = d.matchThreshold
    c.max_lost_frames = Int32(d.maxLostFrames)
    c.confirm_frames = Int32(d.confirmFrames)
    c.min_carry_score = d.minCarryScore
    c.nms_threshold = d.nmsThreshold
    o.pointee = c
}

@_cdecl("hrnet_tracker_create")
public func hrnetTrackerCreate(_ o: UnsafePointer<hrnet_tracker_options>?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> hrnet_status {
    let fn = "hrnet_tracker_create"
    out?.pointee = nil
    return global {
        guard let out else { throw HRNetError.invalidArgument("\(fn): out_tracker is NULL") }
        let c: hrnet_tracker_options
        do {
            c = try copyOptions(o, structSize: { $0.pointee.struct_size }, initName: "hrnet_tracker_options_init",
                                initialize: hrnetTrackerOptionsInit, blank: hrnet_tracker_options())
        } catch HRNetError.invalidArgument(let m) { throw HRNetError.invalidArgument("\(fn): \(m)") }
        var t = TrackerOptions()
        guard c.smoothing == 0 || c.smoothing == 1 else { throw HRNetError.invalidArgument("\(fn): smoothing is \(c.smoothing); it must be 0 or 1") }
        t.smoothing = c.smoothing != 0
        t.minCutoff = c.min_cutoff
        t.beta = c.beta
        t.derivativeCutoff = c.derivative_cutoff
        t.matchThreshold = c.match_threshold
        t.maxLostFrames = Int(c.max_lost_frames)
        t.confirmFrames = Int(c.confirm_frames)
        t.minCarryScore = c.min_carry_score
        t.nmsThreshold = c.nms_threshold
        let tracker = try Tracker(options: t)
        out.pointee = OpaquePointer(Unmanaged.passRetained(TrackerBox(tracker)).toOpaque())
    }
}

private func trackerBox(_ t: OpaquePointer?) -> TrackerBox? {
    guard let t else { return nil }
    return Unmanaged<TrackerBox>.fromOpaque(UnsafeRawPointer(t)).takeUnretainedValue()
}

@_cdecl("hrnet_tracker_close")
public func hrnetTrackerClose(_ t: OpaquePointer?) {
    guard let t else { return }
    Unmanaged<TrackerBox>.fromOpaque(UnsafeRawPointer(t)).release()
}

@_cdecl("hrnet_tracker_reset")
public func hrnetTrackerReset(_ t: OpaquePointer?) {
    trackerBox(t)?.tracker.reset()
}

@_cdecl("hrnet_tracker_update")
public func hrnetTrackerUpdate(_ t: OpaquePointer?, _ s: OpaquePointer?, _ frame: UnsafePointer<hrnet_image>?,
                               _ timestamp: Double, _ boxes: UnsafePointer<hrnet_box>?, _ n: Int,
                               _ o: UnsafePointer<hrnet_estimate_options>?,
                               _ result: UnsafeMutablePointer<hrnet_tracker_result>?) -> hrnet_status {
    let fn = "hrnet_tracker_update"
    return onSession(s, fn) { b in
        let se = b.session
        guard let tracker = trackerBox(t)?.tracker else { throw HRNetError.invalidArgument("\(fn): tracker is NULL") }
        guard let frame else { throw HRNetError.invalidArgument("\(fn): frame is NULL") }
        guard let result else { throw HRNetError.invalidArgument("\(fn): result is NULL") }
        guard result.pointee.struct_size >= MemoryLayout<hrnet_tracker_result>.size else {
            throw HRNetError.invalidArgument("\(fn): result->struct_size is \(result.pointee.struct_size), expected \(MemoryLayout<hrnet_tracker_result>.size) (sizeof(hrnet_tracker_result))")
        }
        let r = result.pointee
        if r.capacity > 0 {
            guard r.track_ids != nil, r.keypoints != nil else {
                throw HRNetError.invalidArgument("\(fn): result->track_ids and result->keypoints must not be NULL when result->capacity is \(r.capacity)")
            }
        }
        guard n >= 0, n <= maxBoxesPerFrame else {
            throw HRNetError.invalidArgument("\(fn): n_boxes is \(UInt(bitPattern: n)); at most \(maxBoxesPerFrame) boxes per frame")
        }
        guard n == 0 || boxes != nil else { throw HRNetError.invalidArgument("\(fn): boxes is NULL but n_boxes is \(n)") }
        let view = try imageView(frame.pointee, "frame")
        let options = try estimateOptions(o, fn, joints: se.joints)
        let k = se.joints
        try tracker.update(session: se, frame: view, timestamp: timestamp, count: n,
                           box: { personBox(boxes!, $0) }, options: options, covariances: r.covariances != nil) { people in
            result.pointee.count = people.count
            guard people.count <= r.capacity else {
                throw HRNetError.bufferTooSmall("\(fn): result->capacity is \(r.capacity) people, this frame has \(people.count) (result->count says so; the tracker is unchanged, call again with room for them)")
            }
            for (i, p) in people.enumerated() {
                r.track_ids![i] = p.trackId
                for j in 0..<(3 * k) {
                    r.keypoints![i * 3 * k + j] = p.keypoints[j]
                    r.raw_keypoints?[i * 3 * k + j] = p.rawKeypoints[j]
                }
                r.scores?[i] = p.score
                if let bx = r.boxes {
                    bx[4 * i] = Float(p.box.x); bx[4 * i + 1] = Float(p.box.y)
                    bx[4 * i + 2] = Float(p.box.w); bx[4 * i + 3] = Float(p.box.h)
                }
                r.frames_since_detected?[i] = Int32(clamping: p.framesSinceDetected)
                if let cv = r.covariances {
                    for j in 0..<(4 * k) { cv[i * 4 * k + j] = j < p.covariances.count ? p.covariances[j] : 0 }
                }
            }
        }
    }
}
