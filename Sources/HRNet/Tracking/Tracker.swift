#if canImport(Glibc)
import Glibc
#endif

/// Settings of a `Tracker` (the C ABI's hrnet_tracker_options; the header documents each).
public struct TrackerOptions: Equatable {
    public var smoothing = true
    public var minCutoff = 2.0
    public var beta = 8.0
    public var derivativeCutoff = 1.0
    public var matchThreshold = 0.3
    public var maxLostFrames = 30
    public var confirmFrames = 1
    public var minCarryScore = 0.3
    public var nmsThreshold = 0.9
    public init() {}

    public func validate() throws {
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw HRNetError.invalidArgument("tracker options: \(what)") }
        }
        try check(minCutoff.isFinite && minCutoff > 0, "min_cutoff is \(minCutoff); it must be a positive number of Hz")
        try check(beta.isFinite && beta >= 0, "beta is \(beta); it must be 0 or more")
        try check(derivativeCutoff.isFinite && derivativeCutoff > 0, "derivative_cutoff is \(derivativeCutoff); it must be a positive number of Hz")
        try check(matchThreshold >= 0 && matchThreshold <= 1, "match_threshold is \(matchThreshold); it must be in 0..1")
        try check(maxLostFrames >= 0, "max_lost_frames is \(maxLostFrames); it must be 0 or more")
        try check(confirmFrames >= 1, "confirm_frames is \(confirmFrames); it must be at least 1")
        try check(minCarryScore >= 0 && minCarryScore <= 1, "min_carry_score is \(minCarryScore); it must be in 0..1")
        try check(nmsThreshold >= 0 && nmsThreshold <= 1, "nms_threshold is \(nmsThreshold); it must be in 0..1")
    }
}

/// One person reported on a frame.
public struct TrackedPerson: Equatable {
    public var trackId: Int64
    /// K x (x, y, score) in frame pixels, smoothed (equal to `rawKeypoints` without smoothing).
    public var keypoints: [Float]
    /// K x (x, y, score): the network's keypoints on this frame.
    public var rawKeypoints: [Float]
    /// Person score, as the pipeline gives it (box score x mean keypoint score above 0.2).
    public var score: Float
    /// The box the pose was estimated in (a detector's, or one carried from the last keypoints).
    public var box: PersonBox
    /// 0 if a detector box gave this frame's pose, else frames since one last did.
    public var framesSinceDetected: Int
    /// K x 4 covariances of `rawKeypoints` (Uncertainty), if the update asked for them, else empty.
    public var covariances: [Float] = []
}

/// Follows people through a stream: poses from detector boxes (or from boxes carried forward
/// from each person's last keypoints), matched to tracks one-to-one with a constant-velocity
/// prediction, smoothed with One Euro filters on the timestamps given. A value type inside, so
/// a failed update leaves it exactly as it was.
public final class Tracker {
    public let options: TrackerOptions
    private var state = State()
    /// Next id to give: kept by reset(), so no id is ever given twice.
    private var nextId: Int64 = 1
    /// Seconds the last successful update spent outside the network (association, filters,
    /// box bookkeeping): the tracker's own cost.
    public private(set) var lastOverheadSeconds = 0.0

    /// A pose the carried-box test counts as "landing on" another person when their OKS is above this.
    static let duplicateOKS = 0.6
    /// Joints at or above this score define a pose's extent (the pipeline's person-score cut).
    static let visibleScore: Float = 0.2
    /// A carried box is the extent of the predicted keypoints enlarged by this much (the
    /// pipeline then adds its own 1.25x), so a head top and feet the joints do not reach fit.
    static let carryEnlarge = 1.2
    /// Motion is extrapolated over at most this many seconds (a track lost longer stops there).
    static let maxPredictionSeconds = 1.0

    struct Track {
        let id: Int64
        var keypoints: [Float]
        var smoothed: [Float]
        var filters: [OneEuroFilter]
        /// Timestamp of the last frame it was found on.
        var time: Double
        var vx = 0.0, vy = 0.0
        /// Centre of the pose extent and time of the last frame a detector box gave its pose:
        /// velocity is measured between such frames only (a carried pose, on a person partly
        /// hidden, is too unsure to steer the motion by).
        var anchorX: Double, anchorY: Double, anchorTime: Double
        var anchored = false
        var area: Double
        var box: PersonBox
        var detectorScore: Double
        var score: Float
        var hits = 1
        var covariances: [Float] = []
        /// Frames since it was last found (0: found on the last frame).
        var lost = 0
        var sinceDetected = 0
    }

    struct State {
        var tracks: [Track] = []
        var lastTimestamp: Double? = nil
        var joints: Int? = nil
    }

    public init(options: TrackerOptions = TrackerOptions()) throws {
        try options.validate()
        self.options = options
    }

    /// Forgets every track and the last timestamp; ids keep counting.
    public func reset() { state = State() }

    /// Advances by one frame; see hrnet_tracker_update in include/hrnet.h.
    public func update(session: Session, frame: ImageView, timestamp: Double, boxes: [PersonBox],
                       options estimate: EstimateOptions = EstimateOptions(), covariances: Bool = false) throws -> [TrackedPerson] {
        var result: [TrackedPerson] = []
        try update(session: session, frame: frame, timestamp: timestamp, count: boxes.count, box: { boxes[$0] },
                   options: estimate, covariances: covariances) { result = $0 }
        return result
    }

    /// `update` with the boxes read through `box(i)`, and `deliver` given the people before
    /// anything is committed: if it throws (a too-small caller buffer), the tracker is unchanged.
    public func update(session: Session, frame: ImageView, timestamp: Double, count n: Int, box: (Int) -> PersonBox,
                       options estimate: EstimateOptions, covariances wantCov: Bool = false,
                       deliver: ([TrackedPerson]) throws -> Void) throws {
        let start = Self.now()
        var network = 0.0
        guard timestamp.isFinite else {
            throw HRNetError.invalidArgument("hrnet_tracker_update: timestamp \(timestamp) is not a finite number of seconds")
        }
        if let last = state.lastTimestamp, timestamp < last {
            throw HRNetError.invalidArgument("hrnet_tracker_update: timestamp \(timestamp) s is before the previous frame's \(last) s (timestamps may not decrease; reset the tracker for a new stream)")
        }
        try frame.validate("frame")
        let k = session.joints
        if let j = state.joints, j != k {
            throw HRNetError.invalidArgument("hrnet_tracker_update: the session's model has \(k) joints, the tracker's tracks have \(j) (reset the tracker to change models)")
        }
        guard n >= 0 else { throw HRNetError.invalidArgument("hrnet_tracker_update: n_boxes is negative") }
        let sigmas = Skeleton.forJoints(k)?.sigmas ?? [Float](repeating: 0.07, count: k)
        var s = state
        s.joints = k
        s.lastTimestamp = timestamp
        var ids = nextId

        // 1. Poses on this frame's detector boxes, then OKS-NMS among them.
        var dets: [Pose] = []
        if n > 0 {
            let t0 = Self.now()
            let r = try session.estimate(frame: frame, boxes: (0..<n).map(box), options: estimate, wantCovariances: wantCov)
            network += Self.now() - t0
            let kept = try r.keypoints.withUnsafeBufferPointer {
                try OKS.nms(keypoints: $0.baseAddress!, scores: r.scores, areas: r.areas, joints: k, sigmas: sigmas,
                            threshold: options.nmsThreshold)
            }
            for i in kept.sorted() {
                let b = box(i)
                dets.append(Pose(keypoints: Array(r.keypoints[i * k * 3 ..< (i + 1) * k * 3]), score: r.scores[i],
                                 area: Double(r.areas[i]), box: b, detectorScore: b.score,
                                 covariances: r.covariances.map { Array($0[i * k * 4 ..< (i + 1) * k * 4]) } ?? []))
            }
        }

        // 2. Each track's constant-velocity prediction at this timestamp.
        let predicted = s.tracks.map { predict($0, at: timestamp) }

        // 3. Detections to tracks, one-to-one, by the mean of OKS and pose-box IoU.
        var trackPose = [Pose?](repeating: nil, count: s.tracks.count)
        var detected = [Bool](repeating: false, count: s.tracks.count)
        var detTaken = [Bool](repeating: false, count: dets.count)
        if !s.tracks.isEmpty && !dets.isEmpty {
            var costs = [Double](repeating: .infinity, count: s.tracks.count * dets.count)
            for (t, p) in predicted.enumerated() {
                for (d, det) in dets.enumerated() {
                    let sim = similarity(p, det, lost: s.tracks[t].lost, sigmas: sigmas)
                    if sim >= options.matchThreshold { costs[t * dets.count + d] = 1 - sim }
                }
            }
            for (t, d) in Assignment.solve(costs: costs, rows: s.tracks.count, cols: dets.count).enumerated() where d >= 0 {
                trackPose[t] = dets[d]
                detected[t] = true
                detTaken[d] = true
            }
        }

        // 4. Tracks no detection matched are carried forward: a box from their predicted
        //    keypoints, through the network. A box whose centre left the frame ends the track.
        var ended = [Bool](repeating: false, count: s.tracks.count)
        var carried: [(track: Int, box: PersonBox)] = []
        for t in s.tracks.indices where trackPose[t] == nil {
            guard let b = carriedBox(predicted[t]) else { ended[t] = true; continue }
            let cx = b.x + b.w / 2, cy = b.y + b.h / 2
            if cx < 0 || cy < 0 || cx >= Double(frame.width) || cy >= Double(frame.height) { ended[t] = true; continue }
            carried.append((t, b))
        }
        if !carried.isEmpty {
            let t0 = Self.now()
            let r = try session.estimate(frame: frame, boxes: carried.map { $0.box }, options: estimate, wantCovariances: wantCov)
            network += Self.now() - t0
            // A carried pose over a detection nobody took (the association missed it): the track
            // takes that detection instead, one-to-one.
            let carriedPoses: [Pose] = carried.enumerated().map { i, c in
                Pose(keypoints: Array(r.keypoints[i * k * 3 ..< (i + 1) * k * 3]), score: r.scores[i],
                     area: Double(r.areas[i]), box: c.box, detectorScore: s.tracks[c.track].detectorScore,
                     covariances: r.covariances.map { Array($0[i * k * 4 ..< (i + 1) * k * 4]) } ?? [])
            }
            let free = dets.indices.filter { !detTaken[$0] }
            if !free.isEmpty {
                var costs = [Double](repeating: .infinity, count: carried.count * free.count)
                for (i, cp) in carriedPoses.enumerated() {
                    for (f, d) in free.enumerated() {
                        let o = oks(cp, dets[d], sigmas: sigmas)
                        if o >= 0.5 { costs[i * free.count + f] = 1 - o }
                    }
                }
                for (i, f) in Assignment.solve(costs: costs, rows: carried.count, cols: free.count).enumerated() where f >= 0 {
                    trackPose[carried[i].track] = dets[free[f]]
                    detected[carried[i].track] = true
                    detTaken[free[f]] = true
                }
            }
            // The rest count as found if the person is really there: a good enough score, where
            // the track's motion predicted it (as a detection must be), and not on top of someone
            // found this frame (a detection, or a better carried pose).
            var accepted: [Pose] = dets.indices.filter { detTaken[$0] }.map { dets[$0] }
            let order = carried.indices.sorted { carriedPoses[$0].score > carriedPoses[$1].score }
            for i in order {
                let t = carried[i].track
                if detected[t] { continue }
                let p = carriedPoses[i]
                guard Double(p.score) >= options.minCarryScore,
                      similarity(predicted[t], p, lost: 0, sigmas: sigmas) >= options.matchThreshold,
                      !accepted.contains(where: { oks(p, $0, sigmas: sigmas) > Self.duplicateOKS }),
                      !dets.indices.contains(where: { !detTaken[$0] && oks(p, dets[$0], sigmas: sigmas) > Self.duplicateOKS }) else { continue }
                var q = p
                q.score = Float(Double(p.score) * p.detectorScore)
                trackPose[t] = q
                accepted.append(q)
            }
        }

        // 5. Found tracks take their pose; the others are lost (tentative ones end at once);
        //    detections nobody took start tracks.
        var next: [Track] = []
        for t in s.tracks.indices where !ended[t] {
            var tr = s.tracks[t]
            if let p = trackPose[t] {
                found(&tr, p, at: timestamp, detected: detected[t])
                next.append(tr)
            } else {
                tr.lost += 1
                tr.sinceDetected += 1
                if tr.hits >= options.confirmFrames && tr.lost <= options.maxLostFrames { next.append(tr) }
            }
        }
        for d in dets.indices where !detTaken[d] {
            let p = dets[d]
            let (c0, d0, c1, d1) = Self.extent(p.keypoints)
            var tr = Track(id: ids, keypoints: p.keypoints, smoothed: p.keypoints,
                           filters: [OneEuroFilter](repeating: OneEuroFilter(), count: 2 * k), time: timestamp,
                           anchorX: (c0 + c1) / 2, anchorY: (d0 + d1) / 2, anchorTime: timestamp,
                           area: p.area, box: p.box, detectorScore: p.detectorScore, score: p.score)
            ids += 1
            tr.covariances = p.covariances
            smooth(&tr, dt: 0)
            next.append(tr)
        }
        s.tracks = next

        let people: [TrackedPerson] = s.tracks.filter { $0.lost == 0 && $0.hits >= options.confirmFrames }
            .sorted { $0.id < $1.id }
            .map { TrackedPerson(trackId: $0.id, keypoints: $0.smoothed, rawKeypoints: $0.keypoints, score: $0.score,
                                 box: $0.box, framesSinceDetected: $0.sinceDetected, covariances: $0.covariances) }
        try deliver(people)
        state = s
        nextId = ids
        lastOverheadSeconds = Self.now() - start - network
    }

    // MARK: - parts

    struct Pose {
        var keypoints: [Float]
        var score: Float
        var area: Double
        var box: PersonBox
        var detectorScore: Double
        var covariances: [Float] = []
    }

    /// Where a track's person is expected at `time`: its last keypoints moved by its velocity.
    private func predict(_ t: Track, at time: Double) -> Pose {
        let dt = min(max(time - t.time, 0), Self.maxPredictionSeconds)
        var kp = t.keypoints
        let (dx, dy) = (Float(t.vx * dt), Float(t.vy * dt))
        for j in stride(from: 0, to: kp.count, by: 3) { kp[j] += dx; kp[j + 1] += dy }
        var b = t.box
        b.x += Double(dx); b.y += Double(dy)
        return Pose(keypoints: kp, score: t.score, area: t.area, box: b, detectorScore: t.detectorScore)
    }

    /// The extent (x0, y0, x1, y1) of a pose's joints scoring at least 0.2 (all joints if fewer
    /// than two do).
    static func extent(_ kp: [Float]) -> (Double, Double, Double, Double) {
        var x0 = Double.infinity, y0 = Double.infinity, x1 = -Double.infinity, y1 = -Double.infinity, n = 0
        for pass in 0..<2 {
            for j in stride(from: 0, to: kp.count, by: 3) where pass == 1 || kp[j + 2] >= visibleScore {
                let x = Double(kp[j]), y = Double(kp[j + 1])
                x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x); y1 = max(y1, y)
                n += 1
            }
            if n >= 2 { break }
            x0 = .infinity; y0 = .infinity; x1 = -.infinity; y1 = -.infinity; n = 0
        }
        return (x0, y0, x1, y1)
    }

    static func iou(_ a: (Double, Double, Double, Double), _ b: (Double, Double, Double, Double)) -> Double {
        let iw = max(0, min(a.2, b.2) - max(a.0, b.0)), ih = max(0, min(a.3, b.3) - max(a.1, b.1))
        let inter = iw * ih
        let union = (a.2 - a.0) * (a.3 - a.1) + (b.2 - b.0) * (b.3 - b.1) - inter
        return union > 0 ? inter / union : 0
    }

    private func oks(_ a: Pose, _ b: Pose, sigmas: [Float], scale: Double = 1) -> Double {
        a.keypoints.withUnsafeBufferPointer { pa in
            b.keypoints.withUnsafeBufferPointer { pb in
                OKS.similarity(pa.baseAddress!, pb.baseAddress!, joints: sigmas.count, areaA: a.area * scale,
                               areaB: b.area * scale, sigmas: sigmas)
            }
        }
    }

    /// How well a pose fits a track's prediction: the mean of their OKS and of the IoU of the
    /// boxes they come from. For a track lost `lost` frames the prediction is less sure: OKS
    /// tolerates distances (1 + lost / 2) times larger.
    private func similarity(_ p: Pose, _ d: Pose, lost: Int, sigmas: [Float]) -> Double {
        let widen = 1 + 0.5 * Double(min(lost, 10))
        func corners(_ b: PersonBox) -> (Double, Double, Double, Double) { (b.x, b.y, b.x + b.w, b.y + b.h) }
        return 0.5 * oks(p, d, sigmas: sigmas, scale: widen * widen) + 0.5 * Self.iou(corners(p.box), corners(d.box))
    }

    /// The box a track is carried forward in, or nil if its keypoints give none.
    private func carriedBox(_ p: Pose) -> PersonBox? {
        let (x0, y0, x1, y1) = Self.extent(p.keypoints)
        guard x0.isFinite, y0.isFinite, x1.isFinite, y1.isFinite else { return nil }
        let w = max(x1 - x0, 8) * Self.carryEnlarge, h = max(y1 - y0, 8) * Self.carryEnlarge
        let cx = (x0 + x1) / 2, cy = (y0 + y1) / 2
        return PersonBox(x: cx - w / 2, y: cy - h / 2, w: w, h: h, score: 1)
    }

    /// A track found on this frame: velocity, pose, filters.
    private func found(_ tr: inout Track, _ p: Pose, at time: Double, detected: Bool) {
        let dt = time - tr.time
        if detected {
            let (c0, d0, c1, d1) = Self.extent(p.keypoints)
            let cx = (c0 + c1) / 2, cy = (d0 + d1) / 2
            let da = time - tr.anchorTime
            if da > 0 && cx.isFinite && cy.isFinite {
                let vx = (cx - tr.anchorX) / da, vy = (cy - tr.anchorY) / da
                if !tr.anchored { tr.vx = vx; tr.vy = vy } else { tr.vx = 0.5 * tr.vx + 0.5 * vx; tr.vy = 0.5 * tr.vy + 0.5 * vy }
                tr.anchored = true
            }
            if cx.isFinite && cy.isFinite { tr.anchorX = cx; tr.anchorY = cy; tr.anchorTime = time }
        }
        tr.keypoints = p.keypoints
        tr.covariances = p.covariances
        tr.score = p.score
        tr.area = p.area
        tr.box = p.box
        if detected { tr.detectorScore = p.detectorScore; tr.sinceDetected = 0 } else { tr.sinceDetected += 1 }
        tr.time = time
        tr.hits += 1
        tr.lost = 0
        smooth(&tr, dt: max(dt, 0))
    }

    /// Runs the track's filters on its raw keypoints (or copies them without smoothing).
    private func smooth(_ tr: inout Track, dt: Double) {
        guard options.smoothing else { tr.smoothed = tr.keypoints; return }
        let (x0, y0, x1, y1) = Self.extent(tr.keypoints)
        let scale = max(sqrt(max(x1 - x0, 1) * max(y1 - y0, 1)), 1)
        var out = tr.keypoints
        for j in 0..<(tr.keypoints.count / 3) {
            for c in 0..<2 {
                out[j * 3 + c] = Float(tr.filters[j * 2 + c].filter(Double(tr.keypoints[j * 3 + c]), dt: dt, scale: scale,
                                                                   minCutoff: options.minCutoff, beta: options.beta,
                                                                   derivativeCutoff: options.derivativeCutoff))
            }
        }
        tr.smoothed = out
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
