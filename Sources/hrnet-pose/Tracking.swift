// --track: libhrnet's tracker (HRNet.Tracker) over the frames in order.
import HRNet

/// What the tool reports of a tracked person on one frame.
struct TrackedPose {
    let trackId: Int64
    /// K x (x, y, score), smoothed unless --no-smoothing, frame pixels.
    let keypoints: [Float]
    let score: Float
}

final class PoseTracker {
    private let tracker: Tracker
    /// The tracker's own time (all but the network) summed over the frames, and the people it
    /// reported (for --timing).
    private(set) var ownSeconds = 0.0
    private(set) var personFrames = 0

    init(_ o: Options) throws {
        var t = TrackerOptions()
        t.smoothing = o.smoothing
        t.nmsThreshold = o.nmsThreshold
        do { tracker = try Tracker(options: t) } catch let e as HRNetError {
            throw ToolError("--track: \(e.message)")
        }
    }

    /// The people on `frame`, in increasing track id. `boxes` empty: no detector on this frame;
    /// the tracker carries its people forward.
    func update(session: Session, frame: Frame, boxes: [PersonBox], options: EstimateOptions) throws -> [TrackedPose] {
        let image = frame.image
        do {
            let people = try image.pixels.withUnsafeBufferPointer { px in
                let view = ImageView(data: px.baseAddress!, width: image.width, height: image.height,
                                     stride: image.width * 3, format: .rgb8)
                return try tracker.update(session: session, frame: view, timestamp: frame.timestamp, boxes: boxes,
                                          options: options)
            }
            ownSeconds += tracker.lastOverheadSeconds
            personFrames += people.count
            return people.map { TrackedPose(trackId: $0.trackId, keypoints: $0.keypoints, score: $0.score) }
        } catch let e as HRNetError {
            throw ToolError("\(frame.name): tracker: \(e.message)")
        }
    }
}
