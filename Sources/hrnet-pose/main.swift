// hrnet-pose: images or a video (and person boxes) in, COCO keypoint results JSON and skeleton
// drawings out, through libhrnet's published top-down pipeline (Session.estimate(frame:boxes:),
// OKS-NMS), or its tracker (--track). Videos are read and written with FFmpeg (CVideoIO), which
// only this tool links.
import CImageIO
import Foundation
import HRNet
import HRNetCLI
#if canImport(Glibc)
import Glibc
#endif

let usage = """
usage: hrnet-pose --model FILE [options] IMAGE_OR_DIR...
       hrnet-pose --model FILE [options] VIDEO

Estimates human poses with an HRNet checkpoint, the published top-down way: each person box is
widened to the network's aspect ratio, enlarged 1.25x and warped onto the input; the network runs
on all boxes of an image in one batch (with the flip test); heatmaps are decoded to keypoints;
duplicate people are removed by OKS-NMS. Results are COCO keypoint results JSON: one entry
{"image_id", "category_id": 1, "keypoints": [x, y, score] x K, "score"} per person, in frame
pixels.

Inputs: PNG or JPEG files (recognised by content; gray, palette, 16-bit and alpha images are
converted to 8-bit RGB, alpha dropped, EXIF orientation not applied), or directories, whose
*.png, *.jpg and *.jpeg files are processed in name order (an image sequence); or one video file
(a file that is not a PNG or JPEG by content is opened as a video with FFmpeg: MP4/MOV,
Matroska/WebM, AVI, MPEG-PS/TS, FLV, ...; H.264, HEVC, VP9, MPEG-4 ... as the system's FFmpeg
decodes them). A video must be the only input. Its frame k (0-based, in presentation order) is
image_id k + 1. A video that breaks off (truncated or corrupt data): the results of the frames
read before it are still written (valid JSON), with an error line naming the file and the frame,
and exit status 1.

Options:
  --model FILE            HRNet pose checkpoint (PyTorch .pth, published or OpenMMLab layout). Required.
  --input-size HxW        network input height x width, multiples of 32, e.g. 256x192. A checkpoint
                          does not record it; default 256x192 (17 joints) or 256x256 (16 joints).
                          The bundled models/synth_w16_128x96.pth needs --input-size 128x96.
  --dets FILE             person boxes: COCO detection results JSON, a list of
                          {"image_id", "category_id", "bbox": [x, y, w, h], "score"}; only
                          category_id 1 is used, no score threshold. Boxes are matched to images by
                          image_id. Without --dets, each whole image is one box (score 1).
                          An image with no boxes gives no results. Boxes with no area or no overlap
                          with the image are skipped with a warning.
  --gt FILE               COCO ground truth (or any JSON with an "images" list of {"id",
                          "file_name"}): gives each image's id by its file name. Without it, or for
                          a file it does not list, the id is the numeric file stem (000042.png ->
                          42); without --dets, an image with neither gets its position in the input
                          list (1, 2, ...). Not for a video (frame k is image_id k + 1).
  --output FILE           write the results JSON to FILE (written to a temporary file and renamed,
                          so FILE is never left half-written); default: standard output.
  --draw FILE             (one input image) write the image with the skeletons drawn as a PNG.
  --draw-dir DIR          write one PNG per image to DIR (created if missing), named after the
                          image (000042.png, photo.jpg -> photo.png; photo.jpg.png if two inputs
                          share a stem); for a video, one per frame named by image_id (000001.png,
                          ...). Joints are coloured by score,
                          red at 0.2 to green at 1; joints and limbs scoring below 0.2 are not drawn.
                          COCO limbs for 17-joint models, MPII limbs for 16.
  --draw-video FILE       write the frames (of a video or an image sequence, all of one size) with
                          the skeletons drawn as a video: MPEG-4 part 2, quality 3, at --fps, the
                          video's own rate, or 30. The container follows the extension: .mp4, .m4v,
                          .mov, .avi or .mkv. With --track, each person's limbs have their track's
                          colour and the track id is written above the head. Odd frame sizes lose
                          their last column or row. Written to a temporary file and renamed.
  --no-flip               skip the flip test (faster, slightly less accurate).
  --decode standard|dark  heatmap decoding: standard (published: argmax plus a quarter pixel towards
                          the higher neighbour; default) or dark (DARK: Taylor step on the log of the
                          smoothed heatmap).
  --threads N             threads used inside the network (default: all cores).
  --kernels SET           convolution kernels: auto (default: $HRNET_KERNELS, else the best the CPU
                          runs), avx512, avx2, neon or generic (OpenBLAS). All are exact FP32.
  --precision P           fp32 (default, exact), bf16 (opt-in, about twice as fast; products in
                          BF16, heatmaps within 2e-2; needs AVX512_BF16) or int8 (opt-in, fastest;
                          needs --calibration; x86-64 with AVX2, or ARM with the dot product).
  --calibration FILE      (with --precision int8) the calibration of this checkpoint, made by
                          --calibrate.
  --calibrate OUT         instead of estimating poses, measure the network's activation ranges on
                          the inputs and their boxes (the pipeline as configured, flip test
                          included) and write the INT8 calibration file OUT.
  --nms-threshold T       OKS-NMS threshold (default 0.9, as published): a person whose OKS with a
                          higher-scoring one is above T is dropped. OKS needs per-joint sigmas, which
                          exist for COCO's 17 joints only: for other joint counts (MPII's 16) NMS is
                          skipped, with a note.
  --no-nms                keep every box's person (no OKS-NMS).
  --track                 follow people through the frames (a video, or images in input order)
                          with libhrnet's tracker: each frame's boxes go to the tracker, which
                          estimates the poses, removes duplicates (OKS-NMS at --nms-threshold),
                          matches them to the people of earlier frames and smooths the keypoints
                          (One Euro filter over the frames' timestamps). Each result gets a
                          "track_id" (>= 1; one person keeps one id); keypoints are the smoothed
                          ones and the score is the tracker's.
  --detect-every N        (with --track) give the tracker the boxes of every N-th frame only
                          (0-based index a multiple of N); on the others it carries each person
                          forward from its last pose, as a host running its detector every N
                          frames would. Default 1. A frame given no boxes (also a detector frame
                          without --dets entries) is one the tracker carries people through.
  --no-smoothing          (with --track) report the tracker's unsmoothed keypoints.
  --timing                print on standard error, at the end, the frames per second and, with
                          --track, the tracker's own time (association, motion, smoothing: all but
                          the network) per person and frame.
  --fps F                 frame rate: timestamps are frame index / F (for --track's smoothing)
                          and --draw-video's rate. Default: a video's own timestamps and rate;
                          30 for images.
  -h, --help              show this help and exit.

Output with --track: {"image_id", "category_id": 1, "keypoints", "score", "track_id"} per person
and frame, in frame order.

A progress bar (count, images/s or frames/s, ETA when the frame count is known) is shown on
standard error when it is a terminal.
Exit status: 0 on success, 1 when an input, the model or an output fails (also a video that
breaks off after some frames, whose results are still written), 2 for bad options.
"""

// MARK: - errors and messages

struct ToolError: Error {
    let message: String
    let usage: Bool
    init(_ message: String, usage: Bool = false) { self.message = message; self.usage = usage }
}

var progressLineActive = false

func printErr(_ s: String) {
    if progressLineActive { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) ; progressLineActive = false }
    FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
}

// MARK: - options

struct Options {
    var model: String?
    var inputSize: (Int, Int)?
    var dets: String?
    var gt: String?
    var output: String?
    var draw: String?
    var drawDir: String?
    var flip = true
    var decode = DecodeMethod.standard
    var threads: Int?
    var kernels: KernelSet = .auto
    var precision: Precision = .fp32
    var nmsThreshold: Double = 0.9
    var nmsThresholdGiven = false
    var nms = true
    var drawVideo: String?
    var track = false
    var smoothing = true
    var smoothingGiven = false
    var timing = false
    var calibrate: String?
    var calibration: String?
    var detectEvery: Int?
    var fps: Double?
    var inputs: [String] = []
}

func parseOptions(_ argv: [String]) throws -> Options? {
    var o = Options()
    var args = argv[...]
    var onlyInputs = false
    while let raw = args.popFirst() {
        if onlyInputs || !raw.hasPrefix("-") || raw == "-" { o.inputs.append(raw); continue }
        if raw == "--" { onlyInputs = true; continue }
        var name = raw
        var inline: String? = nil
        if raw.hasPrefix("--"), let eq = raw.firstIndex(of: "=") {
            name = String(raw[..<eq])
            inline = String(raw[raw.index(after: eq)...])
        }
        func value() throws -> String {
            if let inline { return inline }
            guard let v = args.popFirst() else { throw ToolError("\(name) needs a value", usage: true) }
            return v
        }
        func noValue() throws {
            if inline != nil { throw ToolError("\(name) takes no value", usage: true) }
        }
        switch name {
        case "-h", "--help": return nil
        case "--model": o.model = try value()
        case "--input-size":
            let v = try value()
            let parts = v.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]) else {
                throw ToolError("--input-size '\(v)' is not HxW (height x width in pixels, e.g. 256x192)", usage: true)
            }
            guard h > 0, w > 0, h % 32 == 0, w % 32 == 0, h <= 8192, w <= 8192 else {
                throw ToolError("--input-size \(v): height and width must each be a positive multiple of 32 (at most 8192), e.g. 256x192", usage: true)
            }
            o.inputSize = (h, w)
        case "--dets": o.dets = try value()
        case "--gt": o.gt = try value()
        case "--output", "-o": o.output = try value()
        case "--draw": o.draw = try value()
        case "--draw-dir": o.drawDir = try value()
        case "--no-flip": try noValue(); o.flip = false
        case "--decode":
            let v = try value()
            switch v.lowercased() {
            case "standard": o.decode = .standard
            case "dark": o.decode = .dark
            default: throw ToolError("--decode '\(v)' is unknown: use standard or dark", usage: true)
            }
        case "--threads":
            let v = try value()
            guard let n = Int(v), n >= 0, n <= 1024 else {
                throw ToolError("--threads '\(v)' is not a thread count (1 to 1024; 0 = all cores)", usage: true)
            }
            o.threads = n == 0 ? nil : n
        case "--kernels":
            let v = try value()
            guard let k = KernelSet(name: v) else {
                throw ToolError("--kernels '\(v)' is unknown: use auto, avx512, avx2, neon or generic", usage: true)
            }
            o.kernels = k
        case "--precision":
            let v = try value()
            switch v.lowercased() {
            case "fp32": o.precision = .fp32
            case "bf16": o.precision = .bf16
            case "int8": o.precision = .int8
            default: throw ToolError("--precision '\(v)' is unknown: use fp32, bf16 or int8", usage: true)
            }
        case "--nms-threshold":
            let v = try value()
            guard let t = Double(v), t.isFinite else { throw ToolError("--nms-threshold '\(v)' is not a number", usage: true) }
            o.nmsThreshold = t
            o.nmsThresholdGiven = true
        case "--no-nms": try noValue(); o.nms = false
        case "--draw-video": o.drawVideo = try value()
        case "--track": try noValue(); o.track = true
        case "--calibrate": o.calibrate = try value()
        case "--calibration": o.calibration = try value()
        case "--timing": try noValue(); o.timing = true
        case "--no-smoothing": try noValue(); o.smoothing = false; o.smoothingGiven = true
        case "--detect-every":
            let v = try value()
            guard let n = Int(v), n >= 1, n <= 1_000_000 else {
                throw ToolError("--detect-every '\(v)' is not a frame count (1 to 1000000)", usage: true)
            }
            o.detectEvery = n
        case "--fps":
            let v = try value()
            guard let f = Double(v), f.isFinite, f > 0, f <= 1000 else {
                throw ToolError("--fps '\(v)' is not a frame rate (more than 0, at most 1000)", usage: true)
            }
            o.fps = f
        default: throw ToolError("unknown option \(raw)", usage: true)
        }
    }
    guard o.model != nil else { throw ToolError("--model FILE is required", usage: true) }
    guard !o.inputs.isEmpty else { throw ToolError("no input images given", usage: true) }
    if o.draw != nil && o.drawDir != nil { throw ToolError("give --draw or --draw-dir, not both", usage: true) }
    if o.nmsThresholdGiven && !o.nms { throw ToolError("give --nms-threshold or --no-nms, not both", usage: true) }
    if !o.track && o.detectEvery != nil { throw ToolError("--detect-every goes with --track", usage: true) }
    if !o.track && o.smoothingGiven { throw ToolError("--no-smoothing goes with --track", usage: true) }
    if o.precision == .int8 && o.calibration == nil { throw ToolError("--precision int8 needs --calibration FILE (made with --calibrate)", usage: true) }
    if o.calibration != nil && o.precision != .int8 { throw ToolError("--calibration goes with --precision int8", usage: true) }
    if o.calibrate != nil && (o.precision != .fp32 || o.track || o.output != nil || o.draw != nil || o.drawDir != nil || o.drawVideo != nil) {
        throw ToolError("--calibrate runs FP32 and writes only the calibration: no --precision, --track, --output or drawing", usage: true)
    }
    if o.track && !o.nms { throw ToolError("--no-nms does not go with --track (the tracker always removes duplicates; set --nms-threshold)", usage: true) }
    if let v = o.drawVideo, !VideoWriter.supports(v) {
        throw ToolError("--draw-video \(v): unsupported extension: use .mp4, .m4v, .mov, .avi or .mkv", usage: true)
    }
    return o
}

// MARK: - files

func isDirectory(_ path: String) -> Bool? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return (st.st_mode & S_IFMT) == S_IFDIR
}

/// What the inputs are: image files (given, or found in directories), or one video.
enum Inputs {
    case images([String])
    case video(VideoReader)
}

func collectInputs(_ inputs: [String]) throws -> Inputs {
    var out: [String] = []
    let exts: Set<String> = ["png", "jpg", "jpeg"]
    for p in inputs {
        guard let dir = isDirectory(p) else {
            throw ToolError("\(p): \(String(cString: strerror(errno)))")
        }
        if dir {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: p) } catch {
                throw ToolError("\(p): cannot list the directory: \(String(cString: strerror(errno)))")
            }
            let images = names.filter { exts.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            let full = images.map { (p as NSString).appendingPathComponent($0) }.filter { isDirectory($0) == false }
            guard !full.isEmpty else { throw ToolError("\(p): no .png, .jpg or .jpeg images in this directory") }
            out += full
        } else if looksLikeImage(p) {
            out.append(p)
        } else {
            // Not a PNG or JPEG by content: a video, or nothing this tool reads.
            let reader: VideoReader
            do { reader = try VideoReader(path: p) } catch let e as ToolError {
                throw ToolError("\(p): not a PNG or JPEG image, and FFmpeg cannot read it as a video: \(e.message)")
            }
            guard inputs.count == 1 else {
                throw ToolError("\(p) is a video: a video must be the only input (got \(inputs.count) inputs); run once per video", usage: true)
            }
            return .video(reader)
        }
    }
    return .images(out)
}

/// Checks that `path` can be created later: its directory exists and `path` is not a directory.
func checkOutputPath(_ path: String, _ what: String) throws {
    if isDirectory(path) == true { throw ToolError("\(what) \(path) is a directory; give a file name") }
    let parent = (path as NSString).deletingLastPathComponent
    let dir = parent.isEmpty ? "." : parent
    guard isDirectory(dir) == true else { throw ToolError("\(what) \(path): directory \(dir) does not exist") }
    guard access(dir, W_OK) == 0 else { throw ToolError("\(what) \(path): directory \(dir) is not writable") }
}

/// Writes through a temporary file in the same directory, renamed over `path` once complete.
func writeAtomically(_ path: String, _ write: (String) throws -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let tmp = (dir as NSString).appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do {
        try write(tmp)
        guard rename(tmp, path) == 0 else {
            throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    } catch {
        unlink(tmp)
        throw error
    }
}

func writeData(_ data: Data, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw ToolError("cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    try data.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
        var off = 0
        while off < b.count {
            let n = Glibc.write(fd, b.baseAddress! + off, b.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }
    guard fsync(fd) == 0 || errno == EINVAL else { throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))") }
}

func readImage(_ path: String) throws -> RGBImage {
    var img = hio_image()
    var err = [CChar](repeating: 0, count: 512)
    guard hio_read(path, &img, &err, err.count) == 0 else {
        throw ToolError("\(path): \(String(cString: err))")
    }
    defer { hio_free(&img) }
    let n = Int(img.width) * Int(img.height) * 3
    return RGBImage(pixels: Array(UnsafeBufferPointer(start: img.pixels, count: n)), width: Int(img.width), height: Int(img.height))
}

func writePNG(_ image: RGBImage, to path: String) throws {
    try writeAtomically(path) { tmp in
        var err = [CChar](repeating: 0, count: 512)
        let r = image.pixels.withUnsafeBufferPointer {
            hio_write_png(tmp, $0.baseAddress, Int32(image.width), Int32(image.height), image.width * 3, &err, err.count)
        }
        guard r == 0 else { throw ToolError("\(path): \(String(cString: err))") }
    }
}

// MARK: - JSON inputs (types, decoding and checks in HRNetCLI)

func loadJSON<T: Decodable>(_ type: T.Type, _ path: String, _ what: String) throws -> T {
    if isDirectory(path) == true { throw ToolError("\(what) \(path) is a directory") }
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw ToolError("\(what) \(path): cannot read: \(isDirectory(path) == nil ? "no such file" : "\(error.localizedDescription)")")
    }
    do { return try CLIInputs.decode(T.self, from: data) } catch let e as InputError {
        throw ToolError("\(what) \(path): \(e.message)")
    }
}

// MARK: - progress

final class Progress {
    /// Frames expected (a video's may be an estimate), or nil if unknown: no bar, no ETA.
    let total: Int?
    /// "img/s" or "fps".
    let unit: String
    let start = Date()
    let enabled: Bool
    init(total: Int?, unit: String) {
        self.total = total
        self.unit = unit
        enabled = isatty(STDERR_FILENO) == 1
    }
    func update(_ done: Int, finished: Bool = false) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let rateText = "\(String(format: "%.1f", rate)) \(unit)"
        let line: String
        if let total, done <= total, !(finished && done < total) {
            let eta = rate > 0 ? Double(total - done) / rate : 0
            let width = 24
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let etaText = done == total ? "done" : "ETA \(Int(eta) / 60):" + String(format: "%02d", Int(eta) % 60)
            line = "\r\u{1B}[K[\(bar)] \(done)/\(total)  \(rateText)  \(etaText)"
        } else {
            line = "\r\u{1B}[K\(done) frames  \(rateText)" + (finished ? "  done" : "")
        }
        FileHandle.standardError.write(line.data(using: .utf8)!)
        progressLineActive = true
    }
    func finish() {
        guard enabled, progressLineActive else { return }
        FileHandle.standardError.write("\n".data(using: .utf8)!)
        progressLineActive = false
    }
}

// MARK: - results

func jsonNumber(_ v: Float) -> String { v.isFinite ? "\(v)" : "null" }

func resultEntry(imageID: Int, keypoints: ArraySlice<Float>, score: Float, trackID: Int64? = nil) -> String {
    "{\"image_id\": \(imageID), \"category_id\": 1, \"keypoints\": ["
        + keypoints.map(jsonNumber).joined(separator: ", ") + "], \"score\": \(jsonNumber(score))"
        + (trackID.map { ", \"track_id\": \($0)" } ?? "") + "}"
}

// MARK: - main

func run(_ o: Options) throws {
    let inputs = try collectInputs(o.inputs)
    var images: [String] = []
    var video: VideoReader? = nil
    switch inputs {
    case .images(let list): images = list
    case .video(let reader): video = reader
    }
    if let video {
        if o.draw != nil {
            throw ToolError("--draw takes one input image; for a video use --draw-video FILE or --draw-dir DIR", usage: true)
        }
        if o.gt != nil {
            throw ToolError("--gt gives image files their ids; a video's frame k is image_id k + 1 (\(video.path))", usage: true)
        }
    } else if o.draw != nil && images.count != 1 {
        throw ToolError("--draw takes one input image (got \(images.count)); use --draw-dir DIR for several", usage: true)
    }
    if let out = o.output { try checkOutputPath(out, "--output") }
    if let d = o.draw { try checkOutputPath(d, "--draw") }
    if let v = o.drawVideo { try checkOutputPath(v, "--draw-video") }
    if let dir = o.drawDir {
        switch isDirectory(dir) {
        case .some(true): break
        case .some(false): throw ToolError("--draw-dir \(dir) exists and is not a directory")
        case .none:
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw ToolError("--draw-dir \(dir): cannot create the directory: \(error.localizedDescription)")
            }
        }
    }

    // Drawing names: the image's stem + .png, or its whole name + .png where stems collide.
    var drawNames: [String] = []
    if o.drawDir != nil {
        let stems = images.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        var seen: [String: Int] = [:]
        for s in stems { seen[s, default: 0] += 1 }
        drawNames = zip(images, stems).map { seen[$1]! > 1 ? ($0 as NSString).lastPathComponent + ".png" : $1 + ".png" }
    }

    // Image ids and boxes.
    var idByName: [String: Int] = [:]
    if let gt = o.gt {
        idByName = CLIInputs.imageIDs(try loadJSON(GroundTruth.self, gt, "--gt"))
    }
    var boxesByImage: [Int: [PersonBox]] = [:]
    if let detsPath = o.dets {
        let dets = try loadJSON([Detection].self, detsPath, "--dets")
        do { boxesByImage = try CLIInputs.boxesByImage(dets) } catch let e as InputError {
            throw ToolError("--dets \(detsPath): \(e.message)")
        }
    }
    var ids: [Int] = []
    for (i, path) in images.enumerated() {
        let name = (path as NSString).lastPathComponent
        if let id = idByName[name] ?? CLIInputs.numericStem(path) {
            ids.append(id)
        } else if o.dets == nil {
            ids.append(i + 1)
        } else {
            throw ToolError("\(path): cannot tell its image_id to match --dets boxes: "
                            + (o.gt == nil ? "name it by its id (000042.png) or pass --gt" : "not listed in --gt's images and its name is not a number"))
        }
    }

    // The network.
    guard let modelPath = o.model else { throw ToolError("--model FILE is required", usage: true) }
    let model: Model
    do { model = try Model(path: modelPath) } catch let e as HRNetError {
        throw ToolError("cannot load the model: \(e.message)")
    }
    let session: Session
    do {
        session = try Session(model: model, inputHeight: o.inputSize?.0, inputWidth: o.inputSize?.1, threads: o.threads,
                              precision: o.precision, kernels: o.kernels,
                              calibration: try o.calibration.map { try Calibration(path: $0) }, ownsModel: true)
    } catch let e as HRNetError {
        throw ToolError("cannot create a session: \(e.message)")
    }
    let calibrator = try o.calibrate.map { _ in try Calibrator(session: session) }
    let k = session.joints
    let skeleton = Skeleton.forJoints(k)
    let sigmas = k == Skeleton.coco17.joints.count ? Skeleton.coco17.sigmas : nil
    if o.nms && !o.track && sigmas == nil {
        printErr("hrnet-pose: note: OKS-NMS skipped: the model has \(k) joints and OKS sigmas exist for COCO's 17 only")
    }
    let options = EstimateOptions(flip: o.flip, decode: o.decode)
    let tracker: PoseTracker? = o.track ? try PoseTracker(o) : nil

    var source: FrameSource
    if let video {
        source = VideoFrames(reader: video, fps: o.fps)
    } else {
        source = ImageFiles(paths: images, ids: ids, drawNames: drawNames, fps: o.fps ?? 30)
    }
    let videoFPS = o.fps ?? (video.map { $0.fps > 0 ? $0.fps : 30 } ?? 30)
    var videoOut: VideoWriter? = nil
    var entries: [String] = []
    var framesDone = 0
    var readError: VideoReadError? = nil
    let progress = Progress(total: source.expectedCount, unit: video == nil ? "img/s" : "fps")
    let started = Date()
    progress.update(0)
    do {
        while var frame = try source.next() {
            let id = frame.imageID
            let w = frame.image.width, h = frame.image.height
            // This frame's boxes; with --track --detect-every N, only every N-th frame has any.
            let detectorFrame = frame.index % (o.detectEvery ?? 1) == 0
            var boxes: [PersonBox] = []
            if detectorFrame {
                boxes = o.dets == nil ? [PersonBox(x: 0, y: 0, w: Double(w), h: Double(h), score: 1)] : boxesByImage[id] ?? []
                let before = boxes.count
                boxes = CLIInputs.usableBoxes(boxes, width: w, height: h)
                if boxes.count < before {
                    printErr("hrnet-pose: warning: \(frame.name): skipped \(before - boxes.count) box(es) with no area, a non-finite value or no overlap with the \(w)x\(h) image")
                }
            }
            if let calibrator {
                do {
                    try frame.image.pixels.withUnsafeBufferPointer { px in
                        try calibrator.add(frame: ImageView(data: px.baseAddress!, width: w, height: h, stride: w * 3, format: .rgb8),
                                           boxes: boxes, options: options)
                    }
                } catch let e as HRNetError {
                    throw ToolError("\(frame.name): calibration: \(e.message)")
                }
                framesDone += 1
                progress.update(framesDone)
                continue
            }
            // The people on this frame: keypoints (K x 3 each, back to back), scores, track ids.
            var keypoints: [Float] = []
            var scores: [Float] = []
            var trackIDs: [Int64]? = nil
            if let tracker {
                let people = try tracker.update(session: session, frame: frame, boxes: boxes, options: options)
                for p in people {
                    keypoints += p.keypoints
                    scores.append(p.score)
                }
                trackIDs = people.map { $0.trackId }
            } else if !boxes.isEmpty {
                let r: PoseResult
                do {
                    r = try frame.image.pixels.withUnsafeBufferPointer { px in
                        let view = ImageView(data: px.baseAddress!, width: w, height: h, stride: w * 3, format: .rgb8)
                        return try session.estimate(frame: view, boxes: boxes, options: options)
                    }
                } catch let e as HRNetError {
                    throw ToolError("\(frame.name): \(e.message)")
                }
                var kept = Array(0..<boxes.count)
                if o.nms, let sigmas {
                    do {
                        kept = try r.keypoints.withUnsafeBufferPointer {
                            try OKS.nms(keypoints: $0.baseAddress!, scores: r.scores, areas: r.areas, joints: k,
                                        sigmas: sigmas, threshold: o.nmsThreshold)
                        }
                    } catch let e as HRNetError {
                        throw ToolError("\(frame.name): OKS-NMS: \(e.message)")
                    }
                }
                for p in kept {
                    keypoints += r.keypoints[(p * k * 3)..<((p + 1) * k * 3)]
                    scores.append(r.scores[p])
                }
            }
            for p in 0..<scores.count {
                entries.append(resultEntry(imageID: id, keypoints: keypoints[(p * k * 3)..<((p + 1) * k * 3)],
                                           score: scores[p], trackID: trackIDs?[p]))
            }
            if o.draw != nil || o.drawDir != nil || o.drawVideo != nil {
                if let trackIDs {
                    drawTracked(&frame.image, keypoints: keypoints, ids: trackIDs, joints: k, skeleton: skeleton)
                } else {
                    drawPoses(&frame.image, keypoints: keypoints, count: scores.count, joints: k, skeleton: skeleton)
                }
                if let d = o.draw {
                    try writePNG(frame.image, to: d)
                } else if let dir = o.drawDir {
                    try writePNG(frame.image, to: (dir as NSString).appendingPathComponent(frame.drawName))
                }
                if let path = o.drawVideo {
                    if videoOut == nil { videoOut = try VideoWriter(path: path, width: w, height: h, fps: videoFPS) }
                    try videoOut!.write(frame.image, name: frame.name)
                }
            }
            framesDone += 1
            progress.update(framesDone)
        }
    } catch let e as VideoReadError {
        readError = e
    }
    progress.update(framesDone, finished: true)
    progress.finish()
    if o.timing {
        let seconds = Date().timeIntervalSince(started)
        var line = String(format: "hrnet-pose: timing: %d frames in %.2f s (%.1f frames/s)", framesDone, seconds,
                          seconds > 0 ? Double(framesDone) / seconds : 0)
        if let tracker {
            line += String(format: "; tracker's own time %.4f ms per person-frame over %d person-frames (%.3f ms per frame)",
                           tracker.personFrames > 0 ? 1000 * tracker.ownSeconds / Double(tracker.personFrames) : 0,
                           tracker.personFrames, framesDone > 0 ? 1000 * tracker.ownSeconds / Double(framesDone) : 0)
        }
        printErr(line)
    }

    if let calibrator, let out = o.calibrate {
        if let e = readError { throw ToolError("\(e.path): cannot read frame \(e.framesRead + 1): \(e.message); no calibration written") }
        do { try calibrator.calibration().write(to: out) } catch let e as HRNetError {
            throw ToolError("--calibrate: \(e.message)")
        }
        printErr("hrnet-pose: calibration of \(calibrator.crops) crops from \(framesDone) frames written to \(out)")
        return
    }
    // A video that broke off still gets the results (and drawn frames) read before the break.
    try videoOut?.finish()
    let json = entries.isEmpty ? "[]\n" : "[\n  " + entries.joined(separator: ",\n  ") + "\n]\n"
    if let out = o.output {
        try writeAtomically(out) { tmp in try writeData(json.data(using: .utf8)!, to: tmp) }
    } else {
        FileHandle.standardOutput.write(json.data(using: .utf8)!)
    }
    if let e = readError {
        let n = e.framesRead
        throw ToolError("\(e.path): cannot read frame \(n + 1) (image_id \(n + 1)): \(e.message); "
                        + (n == 0 ? "no frame was read" : "the results of the \(n) frame\(n == 1 ? "" : "s") before it (image_id 1-\(n)) were written"))
    }
}

do {
    guard let options = try parseOptions(Array(CommandLine.arguments.dropFirst())) else {
        print(usage)
        exit(0)
    }
    try run(options)
} catch let e as ToolError {
    printErr("hrnet-pose: \(e.message)" + (e.usage ? " (see hrnet-pose --help)" : ""))
    exit(e.usage ? 2 : 1)
} catch let e as HRNetError {
    printErr("hrnet-pose: \(e.message)")
    exit(1)
} catch {
    printErr("hrnet-pose: \(error)")
    exit(1)
}
