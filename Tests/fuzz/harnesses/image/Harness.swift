// libFuzzer harness: hrnet-pose's PNG/JPEG reading (CImageIO's hio_read_memory, which hio_read
// uses for a file's bytes). A decoded image must have a positive size within the pixel limit and
// a pixel buffer of width x height x 3 bytes (its last byte is read, so ASan checks its extent).
// libpng and libjpeg themselves are not instrumented. Built by Tests/fuzz/run.sh (HRNET_FUZZ=1),
// which defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: libpng then ignores CRC mismatches.
import CImageIO

/// Smaller than the tool's limit (HIO_MAX_PIXELS), so one input decodes in milliseconds; the
/// limit's check is the same code.
private let maxPixels = 1 << 18

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var image = hio_image()
    var err = [CChar](repeating: 0x55, count: 256)
    let r = hio_read_memory(data, size, maxPixels, &image, &err, err.count)
    if r != 0 {
        precondition(r == -1 && image.pixels == nil && image.width == 0 && image.height == 0, "a failed read left an image behind")
        precondition(err.contains(0), "error message not terminated")
        return 0
    }
    defer { hio_free(&image) }
    precondition(r == 0 && image.pixels != nil, "hio_read_memory returned \(r) without pixels")
    let w = Int(image.width), h = Int(image.height)
    precondition(w > 0 && h > 0 && w * h <= maxPixels, "decoded a \(w)x\(h) image (limit \(maxPixels) pixels)")
    // The first and last bytes: ASan checks the buffer holds width x height x 3 bytes.
    let edges = Int(image.pixels[0]) + Int(image.pixels[w * h * 3 - 1])
    precondition(edges >= 0)
    return 0
}
