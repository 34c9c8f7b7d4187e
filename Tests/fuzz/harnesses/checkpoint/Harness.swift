// libFuzzer harness: a checkpoint read from memory (Model(bytes:), the code behind
// hrnet_model_load_memory and hrnet_model_load). A checkpoint that loads is also planned and run
// once at a small input size, since a hostile but well-formed file reaches the planner and the
// kernels too. Every failure must be an HRNetError; a crash, a sanitizer report, a Swift trap or
// any other error type is a finding. Built by Tests/fuzz/run.sh (HRNET_FUZZ=1).
import HRNet
#if canImport(Glibc)
import Glibc
#endif

/// HRNET_FUZZ_VERBOSE=1: one line per input on stderr, saying how far it got (to check seeds).
private let verbose = getenv("HRNET_FUZZ_VERBOSE").map { String(cString: $0) == "1" } ?? false
private func say(_ s: String) { if verbose { fputs(s + "\n", stderr) } }

/// Runs the loaded model once, zeros in, one thread, at the smallest input Session takes: 32x32,
/// or the network's deepest stride if that is larger. Skipped (nil) when the tensors would need
/// more than 128 MiB: that is the caller's choice of size, not the file's doing.
private func runOnce(_ model: Model) throws -> Int? {
    let deepest = model.graph.tensors.map(\.level).max() ?? 1
    guard deepest <= 1024 else { return nil }
    let side = max(32, (deepest + 31) / 32 * 32)
    var floats = 0.0
    for t in model.graph.tensors { floats += Double(t.channels) * Double(side / t.level) * Double(side / t.level) }
    guard floats * 4 <= 128 * 1_048_576 else { return nil }
    let session = try Session(model: model, inputHeight: side, inputWidth: side, threads: 1)
    let input = [Float](repeating: 0, count: session.inputCount)
    var output = [Float](repeating: 0, count: session.heatmapCount)
    try input.withUnsafeBufferPointer { i in
        try output.withUnsafeMutableBufferPointer { o in
            try session.forward(input: i.baseAddress!, batch: 1, output: o.baseAddress!)
        }
    }
    return side
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size)
    // INT8 calibration files are read from hosts too: inputs that start like one are parsed as
    // one (a clean refusal or a calibration that serializes back to the same bytes).
    if size >= 8, Array(bytes[0..<8]) == Array("HRNETCAL".utf8) {
        do {
            let c = try Calibration(bytes: bytes)
            precondition(c.serialized() == Array(bytes), "a calibration that parses must serialize back to its bytes")
        } catch let e as HRNetError {
            say("calibration refused: \(e.message)")
        } catch {
            fatalError("Calibration(bytes:) threw a non-HRNetError: \(error)")
        }
        return 0
    }
    do {
        let model = try Model(bytes: bytes, name: "fuzz input")
        let a = model.architecture
        precondition(a.joints >= 1 && a.width >= 1, "a loaded model has \(a.joints) joints and width \(a.width)")
        say("loaded: \(a.joints) joints, width \(a.width), stages \(a.stageChannels), \(model.convs.count) convolutions")
        let side = try runOnce(model)
        say(side.map { "ran at \($0)x\($0)" } ?? "not run: its tensors are too large for the harness")
    } catch let e as HRNetError {
        say("refused: \(e.message)")  // a clean refusal
    } catch {
        fatalError("Model(bytes:) threw a non-HRNetError: \(error)")
    }
    return 0
}
