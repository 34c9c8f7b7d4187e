/// Pixel layouts accepted from hosts (8 bits per channel).
public enum PixelFormat: Int, Equatable {
    case rgb8 = 0, bgr8 = 1, rgba8 = 2
    public var channels: Int { self == .rgba8 ? 4 : 3 }
}

/// A caller's 8-bit image, borrowed for the duration of a call.
public struct ImageView {
    public let data: UnsafePointer<UInt8>
    public let width: Int, height: Int
    /// Bytes from one row to the next (>= width * channels).
    public let stride: Int
    public let format: PixelFormat

    public init(data: UnsafePointer<UInt8>, width: Int, height: Int, stride: Int? = nil, format: PixelFormat = .rgb8) {
        self.data = data
        self.width = width
        self.height = height
        self.stride = stride ?? width * format.channels
        self.format = format
    }

    public func validate(_ what: String) throws {
        guard width > 0, height > 0 else {
            throw HRNetError.invalidArgument("\(what): size \(width)x\(height) is invalid: width and height must be positive")
        }
        guard width <= 1 << 16, height <= 1 << 16 else {
            throw HRNetError.invalidArgument("\(what): size \(width)x\(height) is too large (at most 65536 per side)")
        }
        guard stride >= width * format.channels else {
            throw HRNetError.invalidArgument("\(what): row stride \(stride) bytes is smaller than width x channels = \(width * format.channels)")
        }
        // The rows span stride x height bytes: a size no image can have is refused, not wrapped.
        guard !stride.multipliedReportingOverflow(by: height).overflow else {
            throw HRNetError.invalidArgument("\(what): row stride \(stride) bytes x height \(height) overflows: no image is that large")
        }
    }
}

/// A person box in frame pixels: top-left corner, size, and the detector's score (1 if none).
public struct PersonBox: Equatable {
    public var x: Double, y: Double, w: Double, h: Double, score: Double
    public init(x: Double, y: Double, w: Double, h: Double, score: Double = 1) {
        self.x = x; self.y = y; self.w = w; self.h = h; self.score = score
    }
}
