import CHRNetKernels

/// Options of the top-down pipeline.
public struct EstimateOptions {
    /// Run the mirrored crop too and average (the published evaluation does).
    public var flip = true
    public var decode = DecodeMethod.standard
    /// Left/right joint pairs for the flip test; nil = the skeleton of the model's joint count.
    public var flipPairs: [(Int, Int)]? = nil
    public init(flip: Bool = true, decode: DecodeMethod = .standard, flipPairs: [(Int, Int)]? = nil) {
        self.flip = flip
        self.decode = decode
        self.flipPairs = flipPairs
    }
}

/// What the pipeline returns for N people.
public struct PoseResult {
    /// N x K x (x, y, score), in the caller's pixel coordinates (frame or crop).
    public var keypoints: [Float]
    /// Person score: box score x mean of the keypoint scores above 0.2 (0 if none is).
    public var scores: [Float]
    /// Area of each person's region (the enlarged box), as OKS-NMS uses it.
    public var areas: [Float]
    /// N x K x h x w heatmaps after flip merging, if asked for.
    public var heatmaps: [Float]?
    /// N x K x 4 keypoint covariances (Uncertainty), if asked for.
    public var covariances: [Float]? = nil
}

/// ImageNet normalisation, RGB order, as published.
public let imagenetMean: [Float] = [0.485, 0.456, 0.406]
public let imagenetStd: [Float] = [0.229, 0.224, 0.225]

/// Where the pipeline writes the results for N people: buffers the caller owns, already checked
/// to hold them (the C ABI's). Nothing the pipeline allocates per call grows with N except its
/// checked scratch buffers.
public struct PoseOutputs {
    /// N x K x (x, y, score).
    public var keypoints: UnsafeMutablePointer<Float>
    /// N person scores, or nil.
    public var scores: UnsafeMutablePointer<Float>?
    /// N region areas, or nil.
    public var areas: UnsafeMutablePointer<Float>?
    /// N x K x h x w heatmaps after flip merging, or nil.
    public var heatmaps: UnsafeMutablePointer<Float>?
    /// N x K x 4 keypoint covariances (Uncertainty), or nil.
    public var covariances: UnsafeMutablePointer<Float>?
    public init(keypoints: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>? = nil,
                areas: UnsafeMutablePointer<Float>? = nil, heatmaps: UnsafeMutablePointer<Float>? = nil,
                covariances: UnsafeMutablePointer<Float>? = nil) {
        self.keypoints = keypoints
        self.scores = scores
        self.areas = areas
        self.heatmaps = heatmaps
        self.covariances = covariances
    }
}

extension Session {
    /// Estimates poses on `boxes` in `frame` (published top-down pipeline), batched through the network.
    public func estimate(frame: ImageView, boxes: [PersonBox], options: EstimateOptions = EstimateOptions(),
                         wantHeatmaps: Bool = false, wantCovariances: Bool = false) throws -> PoseResult {
        try frame.validate("frame")
        // No boxes is a frame with nobody in it (normal in a stream): no people.
        guard !boxes.isEmpty else {
            return PoseResult(keypoints: [], scores: [], areas: [], heatmaps: wantHeatmaps ? [] : nil, covariances: wantCovariances ? [] : nil)
        }
        return try withResult(count: boxes.count, wantHeatmaps: wantHeatmaps, wantCovariances: wantCovariances) {
            try estimate(frame: frame, count: boxes.count, box: { boxes[$0] }, options: options, into: $0)
        }
    }

    /// Estimates one pose per crop: each crop is fitted into the input (aspect kept, centred,
    /// zero padding); keypoints come back in that crop's pixels.
    public func estimate(crops: [ImageView], options: EstimateOptions = EstimateOptions(), wantHeatmaps: Bool = false) throws -> PoseResult {
        guard !crops.isEmpty else { throw HRNetError.invalidArgument("no crops given (N = 0): pass at least one crop") }
        return try withResult(count: crops.count, wantHeatmaps: wantHeatmaps) {
            try estimate(count: crops.count, crop: { crops[$0] }, options: options, into: $0)
        }
    }

    /// Runs `body` on buffers for `n` results and returns them as arrays.
    private func withResult(count n: Int, wantHeatmaps: Bool, wantCovariances: Bool = false,
                            _ body: (PoseOutputs) throws -> Void) throws -> PoseResult {
        let tooMany = HRNetError.invalidArgument("\(n) people are too many for one call")
        var keypoints = [Float](repeating: 0, count: try checkedProduct(n, joints, 3, or: tooMany))
        var scores = [Float](repeating: 0, count: n), areas = [Float](repeating: 0, count: n)
        var heat = wantHeatmaps ? [Float](repeating: 0, count: try checkedProduct(n, heatmapCount, or: tooMany)) : []
        var cov = wantCovariances ? [Float](repeating: 0, count: try checkedProduct(n, joints, 4, or: tooMany)) : []
        try keypoints.withUnsafeMutableBufferPointer { kp in
            try scores.withUnsafeMutableBufferPointer { sc in
                try areas.withUnsafeMutableBufferPointer { ar in
                    try heat.withUnsafeMutableBufferPointer { hm in
                        try cov.withUnsafeMutableBufferPointer { cv in
                            try body(PoseOutputs(keypoints: kp.baseAddress!, scores: sc.baseAddress, areas: ar.baseAddress,
                                                 heatmaps: wantHeatmaps ? hm.baseAddress : nil,
                                                 covariances: wantCovariances ? cv.baseAddress : nil))
                        }
                    }
                }
            }
        }
        return PoseResult(keypoints: keypoints, scores: scores, areas: areas, heatmaps: wantHeatmaps ? heat : nil,
                          covariances: wantCovariances ? cov : nil)
    }

    /// The published top-down pipeline on `n` boxes of `frame`, read through `box(i)`, with the
    /// results written to `out` (which must hold them). Validates everything before it writes.
    public func estimate(frame: ImageView, count n: Int, box: (Int) -> PersonBox, options: EstimateOptions,
                         into out: PoseOutputs) throws {
        try estimate(frame: frame, count: n, box: box, options: options, into: out, calibrator: nil)
    }

    /// `estimate(frame:count:box:options:into:)` that hands every convolution's input to
    /// `calibrator` (nil: the plain pipeline).
    func estimate(frame: ImageView, count n: Int, box: (Int) -> PersonBox, options: EstimateOptions,
                  into out: PoseOutputs, calibrator: Calibrator?) throws {
        try frame.validate("frame")
        guard n >= 0 else { throw HRNetError.invalidArgument("the number of boxes is negative") }
        if n == 0 { return }
        let (W, H) = (inputWidth, inputHeight)
        try run(count: n, validate: {
            for i in 0..<n {
                let b = box(i)
                guard b.x.isFinite, b.y.isFinite, b.w.isFinite, b.h.isFinite, b.score.isFinite else {
                    throw HRNetError.invalidArgument("box \(i) (\(b.x), \(b.y), \(b.w), \(b.h), score \(b.score)) has a non-finite value")
                }
                guard b.w > 0, b.h > 0 else {
                    throw HRNetError.invalidArgument("box \(i) has size \(b.w)x\(b.h): width and height must be positive")
                }
                guard b.x < Double(frame.width), b.y < Double(frame.height), b.x + b.w > 0, b.y + b.h > 0 else {
                    throw HRNetError.invalidArgument("box \(i) (x \(b.x), y \(b.y), w \(b.w), h \(b.h)) lies entirely outside the \(frame.width)x\(frame.height) frame")
                }
            }
        }, image: { _ in frame },
        transform: { let b = box($0); return CropTransform(box: b.x, b.y, b.w, b.h, inputWidth: W, inputHeight: H) },
        boxScore: { box($0).score }, options: options, into: out, calibrator: calibrator)
    }

    /// One pose per crop, the crops read through `crop(i)` (which may throw, e.g. on a NULL
    /// image), the results written to `out`. Validates everything before it writes.
    public func estimate(count n: Int, crop: (Int) throws -> ImageView, options: EstimateOptions,
                         into out: PoseOutputs) throws {
        try estimate(count: n, crop: crop, options: options, into: out, calibrator: nil)
    }

    /// `estimate(count:crop:options:into:)` that hands every convolution's input to `calibrator`.
    func estimate(count n: Int, crop: (Int) throws -> ImageView, options: EstimateOptions,
                  into out: PoseOutputs, calibrator: Calibrator?) throws {
        guard n >= 1 else { throw HRNetError.invalidArgument("no crops given (N = 0): pass at least one crop") }
        let (W, H) = (inputWidth, inputHeight)
        try run(count: n, validate: { for i in 0..<n { try crop(i).validate("crop \(i)") } }, image: crop,
                transform: { let c = try crop($0); return CropTransform(cropWidth: c.width, cropHeight: c.height, inputWidth: W, inputHeight: H) },
                boxScore: { _ in 1 }, options: options, into: out, calibrator: calibrator)
    }

    func flipPairs(_ options: EstimateOptions) throws -> [(Int, Int)] {
        let pairs: [(Int, Int)]
        if let p = options.flipPairs {
            pairs = p
        } else if let s = Skeleton.forJoints(joints) {
            pairs = s.flipPairs
        } else {
            throw HRNetError.invalidArgument("flip test on a \(joints)-joint model needs flip pairs (no built-in skeleton has \(joints) joints)")
        }
        var seen = Set<Int>()
        for (a, b) in pairs {
            guard a >= 0, a < joints, b >= 0, b < joints, a != b, !seen.contains(a), !seen.contains(b) else {
                throw HRNetError.invalidArgument("flip pair (\(a), \(b)) is invalid for \(joints) joints (indices 0..\(joints - 1), each used once)")
            }
            seen.insert(a); seen.insert(b)
        }
        return pairs
    }

    /// The batch of `n` images, their transforms and box scores, through warp, network, flip merge
    /// and decoding into `out`. Every buffer whose size grows with `n` is a session scratch
    /// buffer: sizes are overflow-checked (HRNetError.invalidArgument) and allocations checked
    /// (HRNetError.outOfMemory), both before `validate` reads the caller's n images or boxes (so
    /// an n no memory can serve is refused without reading past the caller's arrays).
    func run(count n: Int, validate: () throws -> Void, image: (Int) throws -> ImageView, transform: (Int) throws -> CropTransform,
             boxScore: (Int) -> Double, options: EstimateOptions, into out: PoseOutputs, calibrator: Calibrator? = nil) throws {
        let pairs = options.flip ? try flipPairs(options) : []
        let copies = options.flip ? 2 : 1
        let hw = heatmapWidth, hh = heatmapHeight, k = joints
        let tooMany = HRNetError.invalidArgument("\(n) people are too many for one call: their network input would not fit in memory")
        let inputFloats = try checkedProduct(copies, n, inputCount, or: tooMany)
        let heatFloats = try checkedProduct(copies, n, heatmapCount, or: tooMany)
        _ = try checkedProduct(n, k, 3, or: tooMany)
        let input = try scratch(.input, count: inputFloats)
        let heat = try scratch(.heatmaps, count: heatFloats)
        let dark = try scratch(.decode, count: 2 * hw * hh)
        try validate()
        // Crops (and their mirrors after them) in one batch.
        for i in 0..<n {
            let img = try image(i), t = try transform(i)
            for c in 0..<copies {
                hr_warp_normalize(img.data, Int32(img.width), Int32(img.height), img.stride, Int32(img.format.channels),
                                  img.format == .bgr8 ? 1 : 0, t.k, t.cx, t.cy, Int32(inputWidth), Int32(inputHeight),
                                  Int32(c), imagenetMean, imagenetStd, input + (c * n + i) * inputCount)
            }
        }
        if let calibrator {
            try forwardObserved(input: input, batch: copies * n, output: heat, calibrator: calibrator)
        } else {
            try forward(input: input, batch: copies * n, output: heat)
        }
        if options.flip {
            for i in 0..<n {
                Decoder.mergeFlipped(heat + i * heatmapCount, heat + (n + i) * heatmapCount, joints: k, width: hw, height: hh, pairs: pairs)
            }
        }
        for i in 0..<n {
            let t = try transform(i)
            var sum: Float = 0, count = 0
            for j in 0..<k {
                let p = UnsafePointer(heat + i * heatmapCount + j * hw * hh)
                let d = options.decode == .dark ? Decoder.dark(p, width: hw, height: hh, scratch: dark)
                                                : Decoder.standard(p, width: hw, height: hh)
                let (x, y) = t.heatmapToImage(d.x, d.y, heatmapWidth: hw, heatmapHeight: hh)
                out.keypoints[(i * k + j) * 3] = Float(x)
                out.keypoints[(i * k + j) * 3 + 1] = Float(y)
                out.keypoints[(i * k + j) * 3 + 2] = d.score
                if d.score > 0.2 { sum += d.score; count += 1 }
            }
            out.scores?[i] = count > 0 ? Float(boxScore(i)) * sum / Float(count) : 0
            out.areas?[i] = Float(t.area)
            if let cov = out.covariances {
                for j in 0..<k {
                    Uncertainty.covariance(heat + i * heatmapCount + j * hw * hh, width: hw, height: hh, transform: t,
                                           into: cov + (i * k + j) * 4)
                }
            }
        }
        out.heatmaps?.update(from: heat, count: n * heatmapCount)
    }
}
