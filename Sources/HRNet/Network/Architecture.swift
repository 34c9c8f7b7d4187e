/// What a checkpoint says about its network, read off key names and tensor shapes.
public struct Architecture: CustomStringConvertible {
    /// Channels of the highest-resolution branch in the last stage (32 for W32).
    public var width: Int
    public var joints: Int
    public var finalKernel: Int
    /// Branch channels of each stage from stage 2 on, e.g. [[32, 64], [32, 64, 128], [32, 64, 128, 256]].
    public var stageChannels: [[Int]]
    /// Exchange modules per stage from stage 2 on, e.g. [1, 4, 3].
    public var stageModules: [Int]
    /// Residual blocks per branch in each stage from stage 2 on.
    public var stageBlocks: [Int]
    /// Units in layer1.
    public var layer1Blocks: Int
    /// Learned parameters (BatchNorm running statistics excluded).
    public var parameters: Int

    /// Stages including layer1 (4 for published models).
    public var stages: Int { stageChannels.count + 1 }
    public var branches: Int { stageChannels.last?.count ?? 1 }

    public var description: String {
        "pose HRNet W\(width): \(joints) joints, branches \(stageChannels.last ?? []), modules \(stageModules), blocks \(stageBlocks), final kernel \(finalKernel)"
    }
}
