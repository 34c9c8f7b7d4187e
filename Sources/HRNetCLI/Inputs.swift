// The JSON inputs of hrnet-pose (--dets, --gt) and the checks on what they hold, in a library so
// that the fuzz harness (Tests/fuzz/harnesses/json) drives exactly the code the tool runs.
import Foundation
import HRNet

/// One entry of a COCO detection results file (--dets).
public struct Detection: Decodable {
    public let image_id: Int
    public let category_id: Int
    public let bbox: [Double]
    public let score: Double?
}

/// COCO ground truth, or any JSON with an "images" list of {"id", "file_name"} (--gt).
public struct GroundTruth: Decodable {
    public struct Image: Decodable { public let id: Int; public let file_name: String }
    public let images: [Image]
}

/// A JSON input that cannot be used. `message` is what follows "<option> <path>: " in the tool's
/// error line.
public struct InputError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum CLIInputs {
    /// A decoding failure in words, with the JSON path of the offending value.
    public static func describe(_ e: Error) -> String {
        guard let d = e as? DecodingError else { return "\(e)" }
        func path(_ c: [CodingKey]) -> String {
            let p = c.map { k in k.intValue.map { "[\($0)]" } ?? ".\(k.stringValue)" }.joined()
            return p.isEmpty ? "top level" : (p.hasPrefix(".") ? String(p.dropFirst()) : "entry " + p)
        }
        switch d {
        case .typeMismatch(let t, let c): return "\(path(c.codingPath)): expected \(t == Double.self ? "a number" : t == Int.self ? "an integer" : t == String.self ? "a string" : "\(t)".hasPrefix("Dictionary") ? "a JSON object" : "\(t)".hasPrefix("Array") ? "a JSON list" : "\(t)")"
        case .valueNotFound(_, let c): return "\(path(c.codingPath)): value is null"
        case .keyNotFound(let k, let c): return "\(path(c.codingPath)): missing key \"\(k.stringValue)\""
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return "not valid JSON" }
            return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    /// Decodes a JSON file's bytes; failures are an `InputError` saying what is wrong where.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw InputError(describe(error))
        }
    }

    /// The person boxes of a detections file by image id: category 1 only, no score threshold,
    /// a missing score is 1. A person entry whose bbox is not [x, y, w, h] is an `InputError`.
    public static func boxesByImage(_ dets: [Detection]) throws -> [Int: [PersonBox]] {
        var boxesByImage: [Int: [PersonBox]] = [:]
        for (i, d) in dets.enumerated() where d.category_id == 1 {
            guard d.bbox.count == 4 else {
                throw InputError("entry [\(i)]: bbox has \(d.bbox.count) values, expected [x, y, w, h]")
            }
            boxesByImage[d.image_id, default: []].append(
                PersonBox(x: d.bbox[0], y: d.bbox[1], w: d.bbox[2], h: d.bbox[3], score: d.score ?? 1))
        }
        return boxesByImage
    }

    /// Image ids by file name (the last path component of each "file_name"); later entries win.
    public static func imageIDs(_ gt: GroundTruth) -> [String: Int] {
        var idByName: [String: Int] = [:]
        for im in gt.images {
            idByName[(im.file_name as NSString).lastPathComponent] = im.id
        }
        return idByName
    }

    /// The id an image file's name gives: its stem if that is all ASCII digits (000042.png -> 42).
    public static func numericStem(_ path: String) -> Int? {
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        guard !stem.isEmpty, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(stem)
    }

    /// The boxes the pipeline can use on a `width x height` image: finite values, a positive
    /// size, and some overlap with the image. The tool warns about the others.
    public static func usableBoxes(_ boxes: [PersonBox], width: Int, height: Int) -> [PersonBox] {
        boxes.filter { b in
            b.x.isFinite && b.y.isFinite && b.w.isFinite && b.h.isFinite && b.score.isFinite && b.w > 0 && b.h > 0
                && b.x < Double(width) && b.y < Double(height) && b.x + b.w > 0 && b.y + b.h > 0
        }
    }
}
