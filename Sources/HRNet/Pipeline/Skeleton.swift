/// Joint names, limbs (for drawing), left/right flip pairs and OKS sigmas of the two skeletons
/// HRNet is published for. Indices are 0-based, in the datasets' joint order.
public struct Skeleton {
    public let name: String
    public let joints: [String]
    public let limbs: [(Int, Int)]
    public let flipPairs: [(Int, Int)]
    /// OKS per-joint sigmas (COCO's); nil where the dataset defines none.
    public let sigmas: [Float]?

    public static let coco17 = Skeleton(
        name: "coco17",
        joints: ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                 "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
                 "left_knee", "right_knee", "left_ankle", "right_ankle"],
        limbs: [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
                (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)],
        flipPairs: [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)],
        sigmas: [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89].map { $0 / 10 })

    public static let mpii16 = Skeleton(
        name: "mpii16",
        joints: ["right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
                 "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
                 "left_elbow", "left_wrist"],
        limbs: [(0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (10, 11), (11, 12), (12, 7),
                (7, 13), (13, 14), (14, 15)],
        flipPairs: [(0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)],
        sigmas: nil)

    public static let all = [coco17, mpii16]

    /// The skeleton a model with `joints` heatmaps is assumed to use: COCO for 17, MPII for 16.
    public static func forJoints(_ joints: Int) -> Skeleton? {
        all.first { $0.joints.count == joints }
    }
}
