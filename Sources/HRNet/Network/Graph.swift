/// The network as a data-flow graph at symbolic resolution: a tensor is a channel count at a
/// `level` (its stride relative to the input: 2, 4, 8, ...), so one graph serves every input
/// size. Built from a checkpoint by `GraphBuilder`, instantiated for an input size by `Plan`.
public struct GraphTensor: Equatable {
    public var channels: Int
    public var level: Int
}

/// One convolution with BatchNorm folded in, weights in PyTorch's OIHW order.
public struct FoldedConv {
    public var name: String       // checkpoint key prefix, e.g. "stage2.0.branches.1.3.conv2"
    public var cin: Int, cout: Int, k: Int, stride: Int
    public var weights: AlignedFloats   // cout x cin x k x k
    public var bias: AlignedFloats      // cout
}

public enum GraphOpKind { case conv, sum }

/// `out = act(conv(input) + bias [+ out] [+ residual] [+ sum of upsampled ups])` or, for `.sum`,
/// `out = act(residual + sum of upsampled ups)`.
public struct GraphOp {
    public var kind: GraphOpKind
    public var conv: Int          // index into the model's convs (for .conv)
    public var input: Int         // tensor id (for .conv)
    public var output: Int
    public var residual: Int?
    public var ups: [(tensor: Int, factor: Int)]
    public var accumulate: Bool
    public var relu: Bool
}

public struct Graph {
    public var tensors: [GraphTensor] = []
    public var ops: [GraphOp] = []
    public var input = 0
    public var output = 0

    mutating func tensor(_ channels: Int, _ level: Int) -> Int {
        tensors.append(GraphTensor(channels: channels, level: level))
        return tensors.count - 1
    }
}
