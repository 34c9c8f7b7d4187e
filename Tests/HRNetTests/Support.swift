import Foundation
import XCTest
@testable import HRNet

/// Files under Tests/fixtures, found from this source file's location (not the working directory).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    static let repository = directory.deletingLastPathComponent().deletingLastPathComponent()
}

/// A little-endian, C-order .npy array read as Double (float32 and float64 and uint8 supported).
struct NPY {
    let shape: [Int]
    let values: [Double]

    init(_ name: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))
        let bytes = [UInt8](data)
        precondition(bytes.count > 10 && bytes[0] == 0x93, "\(name) is not an .npy file")
        let major = bytes[6]
        let headerLen = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let start = major == 1 ? 10 : 12
        let header = String(decoding: bytes[start..<(start + headerLen)], as: UTF8.self)
        let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        precondition(header.contains("'fortran_order': False"))
        let n = shape.reduce(1, *)
        let body = Array(bytes[(start + headerLen)...])
        if header.contains("'<f4'") {
            values = body.withUnsafeBytes { r in (0..<n).map { Double(r.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self)) } }
        } else if header.contains("'<f8'") {
            values = body.withUnsafeBytes { r in (0..<n).map { r.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) } }
        } else if header.contains("'|u1'") {
            values = body.prefix(n).map { Double($0) }
        } else {
            fatalError("unsupported dtype in \(header)")
        }
    }

    var floats: [Float] { values.map { Float($0) } }
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var m = 0.0
    for i in 0..<a.count { m = max(m, abs(Double(a[i]) - b[i])) }
    return m
}

extension Session {
    /// Convenience for tests: runs `input` (NCHW) and returns the heatmaps.
    func run(_ input: [Float], batch: Int) throws -> [Float] {
        var out = [Float](repeating: .nan, count: batch * heatmapCount)
        try input.withUnsafeBufferPointer { i in
            try out.withUnsafeMutableBufferPointer { o in
                try forward(input: i.baseAddress!, batch: batch, output: o.baseAddress!)
            }
        }
        return out
    }
}
