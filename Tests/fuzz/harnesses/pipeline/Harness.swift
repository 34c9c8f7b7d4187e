// libFuzzer harness: hrnet_decode_heatmaps, hrnet_oks_nms, hrnet_box_area and the tracker through the C ABI
// (the @_cdecl functions of HRNetCAPI, declared by include/hrnet.h), with sizes and values taken
// from the input. Buffers are always as large as the call says, except in the "huge" modes,
// where sizes come from anywhere in their range and the call is made only when the function must
// refuse it before reading a buffer (a capacity too small, a size past the limits, an invalid
// argument): ASan then proves nothing was read. Crash-only, plus a few invariants of a
// successful result (a keypoint's score is its heatmap's maximum; kept indices are distinct and
// in range). Built by Tests/fuzz/run.sh (HRNET_FUZZ=1).
import CHRNetKernels
#if canImport(Glibc)
import Glibc
#endif

/// Reads the fuzz input front to back; past its end every read is 0.
struct Input {
    let b: UnsafeRawBufferPointer
    var pos = 0
    init(_ b: UnsafeRawBufferPointer) { self.b = b }
    var remaining: Int { b.count - pos }
    mutating func u8() -> UInt8 {
        guard pos < b.count else { return 0 }
        defer { pos += 1 }
        return b[pos]
    }
    mutating func u32() -> UInt32 { (0..<4).reduce(0) { v, i in v | UInt32(u8()) << (8 * UInt32(i)) } }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
    mutating func i32() -> Int32 { Int32(bitPattern: u32()) }
    /// Small structured values most of the time (ties, negatives, zeros), any bit pattern otherwise.
    mutating func float() -> Float {
        let t = u8()
        if t < 240 { return Float(Int(t) - 120) / 16 }
        return Float(bitPattern: u32())
    }
    mutating func small(_ n: Int) -> Int { Int(u8()) % n }
}

private let ok = HRNET_OK

/// Calls the message function after a failure: it must give a terminated string.
private func checkMessage() {
    guard let m = hrnet_last_error(nil) else { fatalError("hrnet_last_error(NULL) returned NULL") }
    _ = strlenBounded(m)
}
private func strlenBounded(_ p: UnsafePointer<CChar>) -> Int {
    var n = 0
    while p[n] != 0 { n += 1; if n > 1 << 20 { fatalError("error message not terminated") } }
    return n
}

/// Sizes bounded, buffers exact: the decoding itself.
private func decode(_ inp: inout Input) {
    let n = 1 + inp.small(3), joints = 1 + inp.small(8), hh = 1 + inp.small(24), hw = 1 + inp.small(24)
    let method = Int32(inp.small(5)) - 1  // -1 and 2, 3 are invalid
    var ih: Int32 = 0, iw: Int32 = 0
    let inputMode = inp.small(4)
    switch inputMode {
    case 0: break
    case 1: ih = Int32(hh * 4); iw = Int32(hw * 4)
    case 2: ih = Int32(1 + inp.small(64)) * 4; iw = Int32(1 + inp.small(64)) * 4
    default: ih = inp.i32(); iw = inp.i32()  // anything: no expectation on the status
    }
    let withBoxes = inp.small(2) == 1
    var boxes: [hrnet_box] = []
    if withBoxes {
        for _ in 0..<n { boxes.append(hrnet_box(x: inp.float() * 8, y: inp.float() * 8, width: inp.float() * 8, height: inp.float() * 8, score: inp.float())) }
    }
    let count = n * joints * hh * hw
    var heatmaps = [Float](repeating: 0, count: count)
    // The rest of the input fills the heatmaps (repeated, so short inputs still give peaks).
    let start = inp.pos
    for i in 0..<count {
        if inp.remaining == 0 { inp.pos = start; if inp.remaining == 0 { break } }
        heatmaps[i] = inp.float()
    }
    let need = n * joints * 3
    let capacity = inp.small(8) == 0 ? max(0, need - 1 - inp.small(need)) : need
    var keypoints = [Float](repeating: -7, count: need)
    let s = heatmaps.withUnsafeBufferPointer { h in
        keypoints.withUnsafeMutableBufferPointer { k in
            boxes.withUnsafeBufferPointer { bx in
                hrnet_decode_heatmaps(h.baseAddress, n, Int32(joints), Int32(hh), Int32(hw), withBoxes ? bx.baseAddress : nil,
                                      ih, iw, method, k.baseAddress, capacity)
            }
        }
    }
    guard s == ok else {
        checkMessage()
        precondition(inputMode == 3 || capacity < need || method < 0 || method > 1 || heatmaps.contains { !$0.isFinite }
                     || boxes.contains { !($0.width > 0 && $0.height > 0 && $0.x.isFinite && $0.y.isFinite && $0.width.isFinite && $0.height.isFinite) },
                     "hrnet_decode_heatmaps refused a valid call: \(String(cString: hrnet_last_error(nil)))")
        return
    }
    precondition(capacity >= need && (0...1).contains(method), "hrnet_decode_heatmaps accepted an invalid call")
    for i in 0..<(n * joints) {
        let p = heatmaps[(i * hh * hw)..<((i + 1) * hh * hw)]
        let best = p.max()!
        precondition(keypoints[i * 3 + 2] == best, "keypoint \(i): score \(keypoints[i * 3 + 2]), heatmap maximum \(best)")
    }
}

/// Sizes from their whole range, called only where the function must refuse without reading.
private func decodeHuge(_ inp: inout Input) {
    var heatmaps = [Float](repeating: 1, count: 64)
    var keypoints = [Float](repeating: 0, count: 64)
    var boxes = [hrnet_box](repeating: hrnet_box(x: 0, y: 0, width: 10, height: 10, score: 1), count: 4)
    let n = Int(bitPattern: UInt(inp.u64() >> UInt64(inp.small(64))))
    let joints = inp.i32() >> Int32(inp.small(32)), hh = inp.i32() >> Int32(inp.small(32)), hw = inp.i32() >> Int32(inp.small(32))
    let ih = inp.small(2) == 0 ? 0 : inp.i32(), iw = inp.small(2) == 0 ? 0 : inp.i32()
    let method = Int32(inp.small(3))
    let capacity = Int(inp.small(65))
    let nullHeatmaps = inp.small(16) == 0, nullKeypoints = inp.small(16) == 0, withBoxes = inp.small(2) == 0
    // What the call claims: n x joints x hh x hw heatmap floats, n boxes, n x joints x 3 keypoints.
    func product(_ xs: [Int]) -> Int? {
        var p = 1
        for x in xs { let (r, o) = p.multipliedReportingOverflow(by: x); if o { return nil }; p = r }
        return p
    }
    let valid = n >= 1 && joints > 0 && hh > 0 && hw > 0 && method <= 1 && (ih == 0) == (iw == 0) && ih >= 0 && iw >= 0
    let need = valid ? product([n, Int(joints), 3]) : nil
    let heatmapCount = valid ? product([n, Int(joints), Int(hh), Int(hw)]) : nil
    let honest = valid && need != nil && need! <= capacity && heatmapCount != nil && heatmapCount! <= heatmaps.count && n <= boxes.count
    let mustRefuse = !valid || need == nil || need! > capacity || nullHeatmaps || nullKeypoints
    guard honest || mustRefuse else { return }  // a call that lies about its buffers
    let s = heatmaps.withUnsafeMutableBufferPointer { h in
        keypoints.withUnsafeMutableBufferPointer { k in
            boxes.withUnsafeMutableBufferPointer { bx in
                hrnet_decode_heatmaps(nullHeatmaps ? nil : h.baseAddress, n, joints, hh, hw, withBoxes ? bx.baseAddress : nil,
                                      ih, iw, method, nullKeypoints ? nil : k.baseAddress, capacity)
            }
        }
    }
    if mustRefuse {
        precondition(s != ok, "hrnet_decode_heatmaps accepted n=\(UInt(bitPattern: n)) joints=\(joints) \(hh)x\(hw) input \(ih)x\(iw) method \(method) capacity \(capacity)")
    }
    if s != ok { checkMessage() }
}

/// OKS-NMS, sizes bounded, buffers exact.
private func nms(_ inp: inout Input) {
    let n = inp.small(12)
    let coco = inp.small(3) == 0
    let joints = coco ? 17 : 1 + inp.small(20)
    let sigmaMode = inp.small(4)  // 0: NULL (COCO's built-in ones; refused unless 17 joints)
    let sigmas: [Float] = (0..<joints).map { _ in sigmaMode == 1 ? inp.float() : 0.025 + Float(inp.small(100)) / 1000 }
    let threshold: Float = inp.small(4) == 0 ? inp.float() : Float(inp.small(101)) / 100
    var keypoints = (0..<(n * joints * 3)).map { _ in inp.float() * 16 }
    // Persons often share keypoints, so that their OKS is high and NMS has to choose.
    if n > 1 && inp.small(2) == 0 {
        let src = inp.small(n), dst = inp.small(n)
        for j in 0..<(joints * 3) { keypoints[dst * joints * 3 + j] = keypoints[src * joints * 3 + j] }
    }
    let scores = (0..<n).map { _ in inp.float() }
    let areas = (0..<n).map { _ in inp.small(8) == 0 ? inp.float() : Float(inp.small(200) + 1) * 10 }
    var keep = [Int32](repeating: -1, count: max(n, 1))
    var kept = -1
    let s = keypoints.withUnsafeBufferPointer { k in
        scores.withUnsafeBufferPointer { sc in
            areas.withUnsafeBufferPointer { ar in
                sigmas.withUnsafeBufferPointer { sg in
                    keep.withUnsafeMutableBufferPointer { kp in
                        hrnet_oks_nms(k.baseAddress, sc.baseAddress, ar.baseAddress, n, Int32(joints),
                                      sigmaMode == 0 ? nil : sg.baseAddress, threshold, kp.baseAddress, &kept)
                    }
                }
            }
        }
    }
    guard s == ok else { checkMessage(); return }
    precondition(kept >= 0 && kept <= n, "hrnet_oks_nms kept \(kept) of \(n)")
    var seen = Set<Int32>()
    for i in 0..<kept {
        precondition(keep[i] >= 0 && Int(keep[i]) < n && seen.insert(keep[i]).inserted, "hrnet_oks_nms: bad kept index \(keep[i])")
    }
    if n > 0 { precondition(kept >= 1, "hrnet_oks_nms kept nobody of \(n)") }
}

/// OKS-NMS with sizes from their whole range, called only where it must refuse without reading.
private func nmsHuge(_ inp: inout Input) {
    var buf = [Float](repeating: 1, count: 64)
    var keep = [Int32](repeating: 0, count: 64)
    let n = Int(bitPattern: UInt(inp.u64() >> UInt64(inp.small(64))))
    let joints = inp.i32() >> Int32(inp.small(32))
    // Honest: n people of `joints` joints fit the buffers. Must refuse: no buffer could hold them
    // or an argument is invalid (n of 0 is a success with nobody kept).
    let honest = n >= 0 && n <= 16 && joints > 0 && joints <= 5 && n * Int(joints) * 3 <= buf.count
    let mustRefuse = n < 0 || n > Int(Int32.max) || joints <= 0
    guard honest || mustRefuse || n == 0 else { return }
    var kept = -1
    let s = buf.withUnsafeMutableBufferPointer { b in
        keep.withUnsafeMutableBufferPointer { k in
            hrnet_oks_nms(b.baseAddress, b.baseAddress, b.baseAddress, n, joints, b.baseAddress, 0.9, k.baseAddress, &kept)
        }
    }
    if n == 0 { precondition(s == ok && kept == 0, "hrnet_oks_nms with n = 0: status \(s.rawValue), \(kept) kept"); return }
    if mustRefuse { precondition(s != ok, "hrnet_oks_nms accepted n=\(UInt(bitPattern: n)) joints=\(joints)") }
    if s != ok { checkMessage() }
}

private func boxArea(_ inp: inout Input) {
    var box = hrnet_box(x: inp.float(), y: inp.float(), width: inp.float(), height: inp.float(), score: inp.float())
    let a = hrnet_box_area(&box, inp.i32() >> Int32(inp.small(32)), inp.i32() >> Int32(inp.small(32)))
    precondition(a.isNaN == false && a >= 0, "hrnet_box_area gave \(a)")
    _ = hrnet_box_area(nil, 256, 192)
}

/// A session for the tracker mode: the bundled model at the smallest input (32 x 32), opened once.
/// Tests/fuzz/run.sh runs from the repository root; HRNET_FUZZ_MODEL overrides the path.
private let trackerSession: OpaquePointer? = {
    var o = hrnet_options()
    hrnet_options_init(&o)
    o.input_height = 32; o.input_width = 32; o.num_threads = 1
    var s: OpaquePointer? = nil
    let path = getenv("HRNET_FUZZ_MODEL").map { String(cString: $0) } ?? "models/synth_w16_128x96.pth"
    guard hrnet_session_open(path, &o, &s) == ok else { fatalError("fuzz-pipeline: cannot open \(path)") }
    return s
}()

/// The tracker: a fresh one per input, a few frames of any size and content, boxes inside,
/// across and outside them (NaN, no area), timestamps that go back or are NaN, results with
/// too little room or optional arrays left out, resets. Ids must be distinct, increasing within
/// a frame, and never given twice; a refused call must leave the tracker usable.
private func tracker(_ inp: inout Input) {
    guard let session = trackerSession else { return }
    var opts = hrnet_tracker_options()
    hrnet_tracker_options_init(&opts)
    opts.smoothing = Int32(inp.small(2))
    opts.max_lost_frames = Int32(inp.small(4))
    opts.confirm_frames = Int32(1 + inp.small(3))
    opts.match_threshold = Double(inp.small(11)) / 10
    var t: OpaquePointer? = nil
    guard hrnet_tracker_create(&opts, &t) == ok, let t else { fatalError("hrnet_tracker_create refused valid options") }
    defer { hrnet_tracker_close(t) }
    var seen = Set<Int64>()
    var maxId: Int64 = 0
    var timestamp = 0.0
    for _ in 0..<(1 + inp.small(5)) {
        let w = 1 + inp.small(48), h = 1 + inp.small(48)
        var pixels = (0..<(w * h * 3)).map { _ in inp.u8() }
        let n = inp.small(4)
        let boxes = (0..<max(n, 1)).map { _ in
            hrnet_box(x: inp.float() * 4, y: inp.float() * 4, width: inp.float() * 4, height: inp.float() * 4, score: Float(inp.small(11)) / 10)
        }
        switch inp.small(8) {
        case 0: timestamp = -timestamp - 1            // goes back (refused unless after a reset)
        case 1: timestamp = .nan
        case 2: break                                 // the same time again
        default: timestamp = (timestamp.isNaN ? 0 : timestamp) + Double(inp.small(100)) / 30
        }
        if inp.small(8) == 0 { hrnet_tracker_reset(t) }
        let capacity = inp.small(5)
        var ids = [Int64](repeating: -1, count: 4), kp = [Float](repeating: 0, count: 4 * 17 * 3)
        var raw = kp, scores = [Float](repeating: 0, count: 4), bx = [Float](repeating: 0, count: 16)
        var since = [Int32](repeating: 0, count: 4)
        let optional = inp.small(2) == 0
        let covariances = UnsafeMutablePointer<Float>.allocate(capacity: 4 * 17 * 4)
        defer { covariances.deallocate() }
        let s: hrnet_status = pixels.withUnsafeMutableBufferPointer { px in
            var img = hrnet_image(data: px.baseAddress, width: Int32(w), height: Int32(h), stride: w * 3, format: 0)
            return ids.withUnsafeMutableBufferPointer { i in kp.withUnsafeMutableBufferPointer { k in
                raw.withUnsafeMutableBufferPointer { r in scores.withUnsafeMutableBufferPointer { sc in
                    bx.withUnsafeMutableBufferPointer { b in since.withUnsafeMutableBufferPointer { sn in
                        // Field by field, so fields added to the struct later start as zero/NULL.
                        var res = hrnet_tracker_result()
                        res.struct_size = MemoryLayout<hrnet_tracker_result>.size
                        res.capacity = capacity
                        res.track_ids = i.baseAddress
                        res.keypoints = k.baseAddress
                        res.raw_keypoints = optional ? nil : r.baseAddress
                        res.scores = optional ? nil : sc.baseAddress
                        res.boxes = optional ? nil : b.baseAddress
                        res.frames_since_detected = optional ? nil : sn.baseAddress
                        res.covariances = optional ? nil : covariances
                        return boxes.withUnsafeBufferPointer { bp in
                            let st = hrnet_tracker_update(t, session, &img, timestamp, n > 0 ? bp.baseAddress : nil, n, nil, &res)
                            if st == ok {
                                precondition(res.count <= capacity, "tracker wrote \(res.count) people into capacity \(capacity)")
                                var previous: Int64 = 0
                                for j in 0..<res.count {
                                    let id = i[j]
                                    precondition(id > previous, "ids not increasing within a frame: \(Array(i.prefix(res.count)))")
                                    previous = id
                                    if !seen.contains(id) { precondition(id > maxId, "id \(id) given again or out of order"); seen.insert(id); maxId = id }
                                    for v in 0..<(17 * 3) { precondition(k[j * 51 + v].isFinite, "non-finite keypoint") }
                                }
                            }
                            return st
                        }
                    } }
                } }
            } }
        }
        if s != ok {
            guard let m = hrnet_last_error(session) else { fatalError("hrnet_last_error(session) returned NULL") }
            _ = strlenBounded(m)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPipeline(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var inp = Input(UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size))
    switch inp.u8() % 9 {
    case 0, 1, 2: decode(&inp)
    case 3: decodeHuge(&inp)
    case 4, 5: nms(&inp)
    case 6: nmsHuge(&inp)
    case 7: boxArea(&inp)
    default: tracker(&inp)
    }
    return 0
}
