/// Every failure of the engine, grouped the way the C ABI reports them (`hrnet_status`).
/// The message always names the problem: the file, the key, the shapes, the argument.
public enum HRNetError: Error, CustomStringConvertible, Equatable {
    /// A bad argument (sizes, pointers, option values, non-finite numbers).
    case invalidArgument(String)
    /// The file could not be opened or read.
    case io(String)
    /// The bytes are not a well-formed checkpoint (truncated zip, corrupted pickle, ...).
    case format(String)
    /// A well-formed file that is not a pose HRNet we can run (missing keys, wrong shapes).
    case model(String)
    /// An output buffer is too small.
    case bufferTooSmall(String)
    /// Memory could not be allocated.
    case outOfMemory(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .io(let m), .format(let m), .model(let m),
             .bufferTooSmall(let m), .outOfMemory(let m):
            return m
        }
    }

    public var description: String { message }

    /// The `hrnet_status` value of this error.
    public var status: Int32 {
        switch self {
        case .invalidArgument: return 1
        case .io: return 2
        case .format: return 3
        case .model: return 4
        case .bufferTooSmall: return 5
        case .outOfMemory: return 6
        }
    }
}
