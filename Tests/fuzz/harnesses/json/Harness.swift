// libFuzzer harness: hrnet-pose's JSON inputs (HRNetCLI: the --dets detections file and the --gt
// image list), decoded and checked as the tool does, then the boxes filtered for an image whose
// size the input's first byte picks. Failures must be InputErrors with a one-line message.
// Built by Tests/fuzz/run.sh (HRNET_FUZZ=1).
import Foundation
import HRNet
import HRNetCLI

private func checkMessage(_ e: InputError) {
    precondition(!e.message.isEmpty && !e.message.contains("\n"), "not a one-line message: \(e.message)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 ? Data(bytes: data!, count: size) : Data()
    let side = size > 0 ? 1 + Int(data![0]) * 7 : 640
    do {
        let dets = try CLIInputs.decode([Detection].self, from: bytes)
        let byImage = try CLIInputs.boxesByImage(dets)
        var total = 0
        for (_, boxes) in byImage {
            total += boxes.count
            let usable = CLIInputs.usableBoxes(boxes, width: side, height: side + 3)
            for b in usable {
                precondition(b.w > 0 && b.h > 0 && b.x.isFinite && b.score.isFinite, "unusable box kept: \(b)")
                let t = CropTransform(box: b.x, b.y, b.w, b.h, inputWidth: 192, inputHeight: 256)
                _ = t.area
            }
        }
        precondition(total <= dets.count, "\(total) boxes from \(dets.count) entries")
    } catch let e as InputError {
        checkMessage(e)
    } catch {
        fatalError("detections: not an InputError: \(error)")
    }
    do {
        let gt = try CLIInputs.decode(GroundTruth.self, from: bytes)
        let ids = CLIInputs.imageIDs(gt)
        precondition(ids.count <= gt.images.count, "\(ids.count) ids from \(gt.images.count) images")
        for im in gt.images { _ = CLIInputs.numericStem(im.file_name) }
    } catch let e as InputError {
        checkMessage(e)
    } catch {
        fatalError("ground truth: not an InputError: \(error)")
    }
    return 0
}
