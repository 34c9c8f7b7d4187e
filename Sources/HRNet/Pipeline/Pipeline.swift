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
}

/// ImageNet normalisation, RGB order, as published.
public let imagenetMean: [Float] = [0.485, 0.456, 0.406]
public let imagenetStd: [Float] = [0.229, 0.224, 0.225]

extension Session {
    /// Estimates poses on `boxes` in `frame` (published top-down pipeline), batched through the network.
    public func estimate(frame: ImageView, boxes: [PersonBox], options: EstimateOptions = EstimateOptions(),
                         wantHeatmaps: Bool = false) throws -> PoseResult {
        try frame.validate("frame")
        guard !boxes.isEmpty else { throw HRNetError.invalidArgument("no boxes given (N = 0): pass at least one person box") }
        var transforms: [CropTransform] = []
        for (i, b) in boxes.enumerated() {
            guard b.x.isFinite, b.y.isFinite, b.w.isFinite, b.h.isFinite, b.score.isFinite else {
                throw HRNetError.invalidArgument("box \(i) (\(b.x), \(b.y), \(b.w), \(b.h), score \(b.score)) has a non-finite value")
            }
            guard b.w > 0, b.h > 0 else {
                throw HRNetError.invalidArgument("box \(i) has size \(b.w)x\(b.h): width and height must be positive")
            }
            guard b.x < Double(frame.width), b.y < Double(frame.height), b.x + b.w > 0, b.y + b.h > 0 else {
                throw HRNetError.invalidArgument("box \(i) (x \(b.x), y \(b.y), w \(b.w), h \(b.h)) lies entirely outside the \(frame.width)x\(frame.height) frame")
            }
            transforms.append(CropTransform(box: b.x, b.y, b.w, b.h, inputWidth: inputWidth, inputHeight: inputHeight))
        }
        return try run(images: Array(repeating: frame, count: boxes.count), transforms: transforms,
                       boxScores: boxes.map { $0.score }, options: options, wantHeatmaps: wantHeatmaps)
    }

    /// Estimates one pose per crop: each crop is fitted into the input (aspect kept, centred,
    /// zero padding); keypoints come back in that crop's pixels.
    public func estimate(crops: [ImageView], options: EstimateOptions = EstimateOptions(), wantHeatmaps: Bool = false) throws -> PoseResult {
        guard !crops.isEmpty else { throw HRNetError.invalidArgument("no crops given (N = 0): pass at least one crop") }
        for (i, c) in crops.enumerated() { try c.validate("crop \(i)") }
        let transforms = crops.map { CropTransform(cropWidth: $0.width, cropHeight: $0.height, inputWidth: inputWidth, inputHeight: inputHeight) }
        return try run(images: crops, transforms: transforms, boxScores: Array(repeating: 1, count: crops.count),
                       options: options, wantHeatmaps: wantHeatmaps)
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

    func run(images: [ImageView], transforms: [CropTransform], boxScores: [Double], options: EstimateOptions,
             wantHeatmaps: Bool) throws -> PoseResult {
        let n = images.count
        let pairs = options.flip ? try flipPairs(options) : []
        let copies = options.flip ? 2 : 1
        let hw = heatmapWidth, hh = heatmapHeight, k = joints
        // Crops (and their mirrors after them) in one batch.
        let input = try scratch(.input, count: copies * n * inputCount)
        for (i, (img, t)) in zip(images, transforms).enumerated() {
            for c in 0..<copies {
                hr_warp_normalize(img.data, Int32(img.width), Int32(img.height), img.stride, Int32(img.format.channels),
                                  img.format == .bgr8 ? 1 : 0, t.k, t.cx, t.cy, Int32(inputWidth), Int32(inputHeight),
                                  Int32(c), imagenetMean, imagenetStd, input + (c * n + i) * inputCount)
            }
        }
        let heat = try scratch(.heatmaps, count: copies * n * heatmapCount)
        try forward(input: input, batch: copies * n, output: heat)
        if options.flip {
            for i in 0..<n {
                Decoder.mergeFlipped(heat + i * heatmapCount, heat + (n + i) * heatmapCount, joints: k, width: hw, height: hh, pairs: pairs)
            }
        }
        var result = PoseResult(keypoints: [Float](repeating: 0, count: n * k * 3), scores: [], areas: [], heatmaps: nil)
        let dark = try scratch(.decode, count: 2 * hw * hh)
        for i in 0..<n {
            var sum: Float = 0, count = 0
            for j in 0..<k {
                let p = UnsafePointer(heat + i * heatmapCount + j * hw * hh)
                let d = options.decode == .dark ? Decoder.dark(p, width: hw, height: hh, scratch: dark)
                                                : Decoder.standard(p, width: hw, height: hh)
                let (x, y) = transforms[i].heatmapToImage(d.x, d.y, heatmapWidth: hw, heatmapHeight: hh)
                result.keypoints[(i * k + j) * 3] = Float(x)
                result.keypoints[(i * k + j) * 3 + 1] = Float(y)
                result.keypoints[(i * k + j) * 3 + 2] = d.score
                if d.score > 0.2 { sum += d.score; count += 1 }
            }
            result.scores.append(count > 0 ? Float(boxScores[i]) * sum / Float(count) : 0)
            result.areas.append(Float(transforms[i].area))
        }
        if wantHeatmaps { result.heatmaps = Array(UnsafeBufferPointer(start: heat, count: n * heatmapCount)) }
        return result
    }
}
