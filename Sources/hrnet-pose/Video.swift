// Video files for hrnet-pose: Swift wrappers over CVideoIO (FFmpeg), and the frame sources the
// main loop reads from (a video, or image files in order).
import CImageIO
import CVideoIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A video file being decoded frame by frame to RGB.
final class VideoReader {
    let path: String
    let info: cvio_info
    private var reader: OpaquePointer?

    /// Opens `path`; on failure throws a `ToolError` message that does not name the file.
    init(path: String) throws {
        self.path = path
        var err = [CChar](repeating: 0, count: 512)
        var r: OpaquePointer? = nil
        guard cvio_reader_open(path, &r, &err, err.count) == 0, let r else {
            throw ToolError(String(cString: err))
        }
        reader = r
        var i = cvio_info()
        cvio_reader_info(r, &i)
        info = i
    }

    deinit { cvio_reader_close(reader) }

    var width: Int { Int(info.width) }
    var height: Int { Int(info.height) }
    var fps: Double { info.fps }
    var frameCount: Int? { info.frame_count > 0 ? Int(info.frame_count) : nil }
    /// The frames the container holds, or an estimate from its duration and frame rate.
    var expectedFrames: Int? {
        if let n = frameCount { return n }
        if info.duration > 0, info.fps > 0, info.duration * info.fps < 1e9 { return Int((info.duration * info.fps).rounded()) }
        return nil
    }

    enum ReadResult {
        case frame(RGBImage, timestamp: Double)
        case end
        case failed(String)
    }

    /// The next frame in presentation order.
    func read() -> ReadResult {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        var err = [CChar](repeating: 0, count: 512)
        var f = cvio_frame()
        let r = pixels.withUnsafeMutableBufferPointer {
            cvio_read(reader, $0.baseAddress, width * 3, &f, &err, err.count)
        }
        switch r {
        case 1: return .frame(RGBImage(pixels: pixels, width: width, height: height), timestamp: f.timestamp)
        case 0: return .end
        default: return .failed(String(cString: err))
        }
    }
}

/// Whether the file starts like a PNG or a JPEG (what hio_read recognises). A file that cannot be
/// read counts as an image, so the image reader reports the problem as it does today.
func looksLikeImage(_ path: String) -> Bool {
    guard let f = fopen(path, "rb") else { return true }
    defer { fclose(f) }
    var head = [UInt8](repeating: 0, count: 8)
    let n = fread(&head, 1, 8, f)
    if n >= 8 && head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return true }
    if n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return true }
    return false
}

/// A video file being written (MPEG-4 part 2) from RGB frames. Nothing appears at `path` until
/// `finish()` succeeds; a writer never finished removes its temporary file.
final class VideoWriter {
    let path: String
    let width: Int, height: Int
    private var writer: OpaquePointer?

    static func supports(_ path: String) -> Bool { cvio_writer_supports(path) == 1 }

    /// A `width x height` video; odd sizes lose their last column or row (yuv420p needs even ones).
    init(path: String, width: Int, height: Int, fps: Double) throws {
        self.path = path
        self.width = width
        self.height = height
        var err = [CChar](repeating: 0, count: 512)
        var w: OpaquePointer? = nil
        guard cvio_writer_open(path, Int32(width & ~1), Int32(height & ~1), fps, &w, &err, err.count) == 0, let w else {
            throw ToolError("--draw-video \(path): \(String(cString: err))")
        }
        writer = w
    }

    deinit { cvio_writer_abort(writer) }

    func write(_ image: RGBImage, name: String) throws {
        guard image.width == width, image.height == height else {
            throw ToolError("--draw-video \(path): \(name) is \(image.width)x\(image.height), but the video's frames are \(width)x\(height) (the first frame's size)")
        }
        var err = [CChar](repeating: 0, count: 512)
        let r = image.pixels.withUnsafeBufferPointer { cvio_writer_write(writer, $0.baseAddress, width * 3, &err, err.count) }
        guard r == 0 else { throw ToolError("--draw-video \(path): \(String(cString: err))") }
    }

    func finish() throws {
        var err = [CChar](repeating: 0, count: 512)
        let w = writer
        writer = nil
        guard cvio_writer_finish(w, &err, err.count) == 0 else {
            throw ToolError("--draw-video \(path): \(String(cString: err))")
        }
    }
}

// MARK: - frame sources

/// One frame to process.
struct Frame {
    var image: RGBImage
    /// 0-based position in the run.
    let index: Int
    let imageID: Int
    /// Seconds, for the tracker.
    let timestamp: Double
    /// What messages call it: the image's path, or "VIDEO frame N".
    let name: String
    /// --draw-dir's file name for it.
    let drawName: String
}

/// A video's frames could not all be read: `message` says why, after `framesRead` good ones.
struct VideoReadError: Error {
    let path: String
    let framesRead: Int
    let message: String
}

protocol FrameSource {
    /// Frames in all, when known (a video's from its container: may be an estimate).
    var expectedCount: Int? { get }
    /// The next frame, nil at the end; a video that breaks throws `VideoReadError`.
    mutating func next() throws -> Frame?
}

/// Image files in the order given, with their ids and drawing names.
struct ImageFiles: FrameSource {
    let paths: [String]
    let ids: [Int]
    let drawNames: [String]
    let fps: Double
    var position = 0
    var expectedCount: Int? { paths.count }

    mutating func next() throws -> Frame? {
        guard position < paths.count else { return nil }
        let i = position
        position += 1
        let image = try readImage(paths[i])
        return Frame(image: image, index: i, imageID: ids[i], timestamp: Double(i) / fps, name: paths[i],
                     drawName: drawNames.isEmpty ? "" : drawNames[i])
    }
}

/// A video's frames: frame k is image_id k + 1; timestamps from the container or k / fps.
struct VideoFrames: FrameSource {
    let reader: VideoReader
    /// --fps: timestamps k / fps instead of the container's.
    let fps: Double?
    var position = 0
    var expectedCount: Int? { reader.expectedFrames }

    mutating func next() throws -> Frame? {
        switch reader.read() {
        case .end:
            return nil
        case .failed(let message):
            throw VideoReadError(path: reader.path, framesRead: position, message: message)
        case .frame(let image, let timestamp):
            let i = position
            position += 1
            return Frame(image: image, index: i, imageID: i + 1, timestamp: fps.map { Double(i) / $0 } ?? timestamp,
                         name: "\(reader.path) frame \(i + 1)", drawName: String(format: "%06d.png", i + 1))
        }
    }
}
