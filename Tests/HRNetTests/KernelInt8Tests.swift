import XCTest
import CHRNetKernels
@testable import HRNet
import Foundation

/// The opt-in INT8 convolution: (a) every SIMD INT8 kernel the CPU runs (VNNI, AVX2, NEON dot
/// product) against the plain reference, which forms the same int32 sums (so only the float epilogue's rounding may differ); (b) INT8 against FP32
/// within the quantization error; (c) the uint8 quantization of activations (round to nearest
/// even, clamp, borders and padding channels zero, SIMD and plain agreeing); (d) the weight
/// layout and clamping.
final class KernelInt8Tests: XCTestCase {
    var worstSIMD: [String: Float] = [:], worstOfRMS = 0.0, pipelinedRuns = 0

    func interior(_ t: hr_tensor, channels: Int = 16) -> [Int] {
        var idx: [Int] = []
        for cb in 0..<Int(t.cb) { for y in 0..<Int(t.h) { for x in 0..<Int(t.w) { for l in 0..<16 where cb * 16 + l < channels {
            idx.append(Int(t.off) + ((cb * Int(t.h + 2) + y + 1) * Int(t.w + 2) + x + 1) * 16 + l)
        } } } }
        return idx
    }

    func runCase(cin: Int, cout: Int, k: Int, stride: Int, oh: Int, ow: Int, relu: Bool, residual: Bool,
                 ups: [Int], accumulate: Bool, seed: UInt64) {
        let c = ConvCase(cin: cin, cout: cout, k: k, stride: stride, oh: oh, ow: ow, relu: relu, residual: residual,
                         ups: ups, accumulate: accumulate, seed: seed)
        var r = c.rng, op = c.op, arena = c.arena
        let icb = (cin + 15) / 16, ocb = (cout + 15) / 16
        // INT8 layers take ReLU outputs: non-negative inputs, some exact zeros.
        var clip: Float = 0
        for i in interior(op.in, channels: cin) { arena[i] = max(0, arena[i]); clip = max(clip, arena[i]) }
        var weights = [Float](repeating: 0, count: ocb * icb * k * k * 256)
        for i in 0..<weights.count { weights[i] = r.next() / Float(cin * k * k).squareRoot() }
        var bias = [Float](repeating: 0, count: ocb * 16)
        for i in 0..<bias.count { bias[i] = r.next() }
        // Per output channel scale from its largest |w| (only real input channels count).
        var maxAbs = [Float](repeating: 0, count: ocb * 16)
        for ob in 0..<ocb { for ib in 0..<icb { for tap in 0..<(k * k) { for il in 0..<16 where ib * 16 + il < cin { for ol in 0..<16 {
            maxAbs[ob * 16 + ol] = max(maxAbs[ob * 16 + ol], abs(weights[((ob * icb + ib) * k * k + tap) * 256 + il * 16 + ol]))
        } } } } }
        let inv = maxAbs.map { $0 > 0 ? 127 / $0 : 0 }
        let scales = maxAbs.map { clip / 255 * $0 / 127 }
        let inInv = 255 / clip
        var wq = [Int8](repeating: 99, count: Int(hr_int8_weights_size(Int32(cin), Int32(cout), Int32(k))))
        XCTAssertEqual(wq.count, weights.count)
        hr_pack_weights_int8(weights, Int32(cin), Int32(cout), Int32(k), inv, &wq)
        // (d) layout: weight (oc, ic, tap) lands at [ocb][icb][tap][ic/4][oc%16][ic%4], rounded.
        for _ in 0..<50 {
            let oc = Int(r.next() * 1000 + 5000) % cout, ic = Int(r.next() * 1000 + 5000) % cin, tap = Int(r.next() * 1000 + 5000) % (k * k)
            let (ob, ol, ib, il) = (oc / 16, oc % 16, ic / 16, ic % 16)
            let w = weights[((ob * icb + ib) * k * k + tap) * 256 + il * 16 + ol]
            let q = wq[((ob * icb + ib) * k * k + tap) * 256 + (il / 4) * 64 + ol * 4 + il % 4]
            XCTAssertEqual(Int(q), Int((w * inv[oc]).rounded(.toNearestOrEven)), c.label)
            XCTAssertLessThanOrEqual(abs(Int(q)), 127)
        }
        if cin % 16 != 0 {  // input channels past cin are zero in the packed weights
            for ob in 0..<ocb { for tap in 0..<(k * k) { for il in (cin % 16)..<16 { for ol in 0..<16 {
                XCTAssertEqual(wq[((ob * icb + icb - 1) * k * k + tap) * 256 + (il / 4) * 64 + ol * 4 + il % 4], 0)
            } } } }
            // and garbage there in the activations must not be read
            let t = op.in, cb = icb - 1
            for y in 0..<Int(t.h) { for x in 0..<Int(t.w) { for l in (cin % 16)..<16 {
                arena[Int(t.off) + ((cb * Int(t.h + 2) + y + 1) * Int(t.w + 2) + x + 1) * 16 + l] = .nan
            } } }
        }
        // (c) quantized copy: every byte written (poisoned first), both paths agree.
        var tin = op.in
        var u8 = [UInt8](repeating: 0xAB, count: Int(hr_int8_tensor_bytes(&tin)))
        let hp = Int(tin.h) + 2
        for cb in 0..<icb {
            hr_to_u8_rows(arena, &tin, Int32(cin), inInv, &u8, Int32(cb), 0, Int32(hp / 2))
            hr_to_u8_rows(arena, &tin, Int32(cin), inInv, &u8, Int32(cb), Int32(hp / 2), Int32(hp))
        }
        for cb in 0..<icb { for y in 0..<hp { for x in 0..<(Int(tin.w) + 2) { for l in 0..<16 {
            let i = ((cb * hp + y) * (Int(tin.w) + 2) + x) * 16 + l
            let inside = y > 0 && y < hp - 1 && x > 0 && x < Int(tin.w) + 1 && cb * 16 + l < cin
            let want: UInt8 = inside ? UInt8(min(255, max(0, (arena[Int(tin.off) + i] * inInv).rounded(.toNearestOrEven)))) : 0
            if u8[i] != want { XCTFail("\(c.label): quantized byte \(i) is \(u8[i]), expected \(want)"); return }
        } } } }

        let wPtr = UnsafeMutablePointer<Float>.allocate(capacity: weights.count)
        let bPtr = UnsafeMutablePointer<Float>.allocate(capacity: bias.count)
        let qPtr = UnsafeMutablePointer<Int8>.allocate(capacity: wq.count)
        let sPtr = UnsafeMutablePointer<Float>.allocate(capacity: scales.count)
        defer { wPtr.deallocate(); bPtr.deallocate(); qPtr.deallocate(); sPtr.deallocate() }
        wPtr.initialize(from: weights, count: weights.count)
        bPtr.initialize(from: bias, count: bias.count)
        qPtr.initialize(from: wq, count: wq.count)
        sPtr.initialize(from: scales, count: scales.count)
        op.weights = UnsafePointer(wPtr); op.bias = UnsafePointer(bPtr)
        op.weights_int8 = UnsafePointer(qPtr); op.int8_scale = UnsafePointer(sPtr); op.int8_inv = inInv

        var ref = arena, fp32 = arena
        withUnsafePointer(to: &op) { p in
            ref.withUnsafeMutableBufferPointer { a in
                for ob in 0..<ocb { for oy in 0..<oh { hr_conv_int8_ref_task(p, a.baseAddress!, u8, Int32(ob), Int32(oy)) } }
            }
            var plain = p.pointee
            plain.weights_int8 = nil
            withUnsafePointer(to: &plain) { q in hr_run(q, 1, &fp32, 1, Int32(HR_KERNELS_REFERENCE)) }
        }
        let outIdx = interior(op.out)
        var rms = 0.0
        for i in outIdx { rms += Double(fp32[i]) * Double(fp32[i]) }
        rms = (rms / Double(outIdx.count)).squareRoot()
        // (b) INT8 vs FP32: within 4% of the output RMS (quantization of both operands, 8 bits each).
        for i in outIdx {
            let err = abs(Double(ref[i]) - Double(fp32[i]))
            worstOfRMS = max(worstOfRMS, err / rms)
            if err > 4e-2 * rms { XCTFail("\(c.label): INT8 off FP32 by \(err) at \(i), RMS \(rms)"); break }
        }
        // (a) every SIMD INT8 kernel this CPU runs, over the tiles its set's chooser picks and
        // every B of its table at its largest T (plus one tile outside the table for AVX2).
        var kernels: [(name: String, kernel: Int32, rows: (UnsafePointer<hr_op>, UnsafeMutablePointer<Float>, UnsafePointer<UInt8>, Int32, Int32, Int32, Int32, Int32) -> Void)] = []
        if hr_cpu_has_avx512vnni() != 0 { kernels.append(("VNNI", Int32(HR_INT8_VNNI), { hr_conv_rows_int8($0, $1, $2, $3, $4, $5, $6, $7) })) }
        // The AVX2 kernel wherever the avx2 set runs (also on CPUs whose avx2 set runs AVX-VNNI).
        if hr_kernels_supported(Int32(HR_KERNELS_AVX2)) != 0 {
            kernels.append(("AVX2", Int32(HR_INT8_AVX2), { hr_conv_rows_int8_avx2($0, $1, $2, $3, $4, $5, $6, $7) }))
        }
        if hr_cpu_has_avxvnni() != 0 {
            kernels.append(("AVX-VNNI", Int32(HR_INT8_AVXVNNI), { hr_conv_rows_int8_avxvnni($0, $1, $2, $3, $4, $5, $6, $7) }))
        }
        if hr_int8_kernel(Int32(HR_KERNELS_NEON)) == Int32(HR_INT8_NEON_DOT) {
            kernels.append(("NEON", Int32(HR_INT8_NEON_DOT), { hr_conv_rows_int8_neon($0, $1, $2, $3, $4, $5, $6, $7) }))
        }
        let wide = UnsafeMutablePointer<Int16>.allocate(capacity: Int(hr_int8_avx2_weights_count(Int32(cin), Int32(cout), Int32(k))))
        let sums = UnsafeMutablePointer<Int32>.allocate(capacity: ocb * 16)
        defer { wide.deallocate(); sums.deallocate() }
        hr_pack_weights_int8_avx2(qPtr, Int32(cin), Int32(cout), Int32(k), wide)
        hr_int8_weight_sums(qPtr, Int32(cin), Int32(cout), Int32(k), sums)
        op.weights_int8_avx2 = UnsafePointer(wide)
        op.int8_wsum = UnsafePointer(sums)
        for kern in kernels {
            var tiles: [(Int, Int)] = []
            var tb: Int32 = 0, tt: Int32 = 0
            let set = kern.kernel == Int32(HR_INT8_VNNI) ? HR_KERNELS_AVX512
                : kern.kernel == Int32(HR_INT8_AVX2) || kern.kernel == Int32(HR_INT8_AVXVNNI) ? HR_KERNELS_AVX2 : HR_KERNELS_NEON
            hr_choose_tile_int8_set(Int32(set), op.k, op.out.cb, op.out.w, op.out.h, 2, &tb, &tt)
            tiles.append((Int(tb), Int(tt)))
            for b in 1...4 where ocb % b == 0 { tiles.append((b, min(ow, Int(hr_int8_kernel_tile_t_max(kern.kernel, Int32(b)))))) }
            if kern.kernel != Int32(HR_INT8_VNNI) { tiles.append((ocb % 2 == 0 ? 2 : 1, min(ow, 13))) }
            for (b, t) in tiles {
                var fast = arena
                withUnsafePointer(to: &op) { p in
                    fast.withUnsafeMutableBufferPointer { a in
                        for g in 0..<(ocb / b) { for oy in 0..<oh {
                            var ox0 = 0
                            while ox0 < ow {
                                let n = min(t, ow - ox0)
                                kern.rows(p, a.baseAddress!, u8, Int32(g * b), Int32(oy), Int32(ox0), Int32(b), Int32(n))
                                ox0 += n
                            }
                        } }
                    }
                }
                // The same int32 sums: only the epilogue's float rounding may differ.
                var worst: Float = 0
                for i in 0..<arena.count where !(arena[i].isNaN && fast[i].isNaN && ref[i].isNaN) {
                    worst = max(worst, abs(fast[i] - ref[i]) / max(1, abs(ref[i])))
                }
                XCTAssertLessThan(worst, 1e-6, c.label + " \(kern.name) tile \(b)x\(t)")
                worstSIMD[kern.name] = max(worstSIMD[kern.name] ?? 0, worst)
                XCTAssertGreaterThan(outIdx.filter { fast[$0] != arena[$0] }.count, 0)
            }
        }
        // The pipelined VNNI stream (each tile's epilogue inside the next tile's sums): its
        // chooser's tile and every B at its largest T dividing the width, run as three
        // contiguous runs of tasks (as threads split them), so a pending epilogue crosses rows
        // and groups and each run ends with its own. The same sums and epilogue: the same bits.
        guard hr_cpu_has_avx512vnni() != 0 else { return }
        var tiles: [(Int32, Int32)] = []
        var chosen = op
        hr_choose_tile_int8_op(Int32(HR_KERNELS_AVX512), &chosen, 2)
        if hr_int8_pipelined(&chosen) != 0 { tiles.append((chosen.tile_b, chosen.tile_t)) }
        for (b, tmax) in [(1, 13), (2, 12), (3, 8), (4, 6)] where ocb % b == 0 {
            var t = min(ow, tmax)
            while ow % t != 0 { t -= 1 }
            tiles.append((Int32(b), Int32(t)))
        }
        let eligible = stride == 1 && ups.isEmpty && !accumulate && cin % 16 == 0 && cin * k * k >= 256
        for (b, t) in tiles {
            var p = op
            p.tile_b = b; p.tile_t = t
            XCTAssertEqual(hr_int8_pipelined(&p) != 0, eligible, c.label + " pipelined \(b)x\(t)")
            guard eligible else { continue }
            pipelinedRuns += 1
            var fast = arena
            let tasks = (ocb / Int(b)) * oh
            let cuts = [0, tasks / 3, (2 * tasks) / 3, tasks]
            withUnsafePointer(to: &p) { q in
                fast.withUnsafeMutableBufferPointer { a in
                    for i in 0..<3 where cuts[i + 1] > cuts[i] {
                        hr_conv_tasks_int8(q, a.baseAddress!, u8, Int32(cuts[i]), Int32(cuts[i + 1]))
                    }
                }
            }
            var same = true
            for i in 0..<arena.count where !(fast[i].isNaN && ref[i].isNaN) && fast[i] != ref[i] { same = false; break }
            XCTAssertTrue(same, c.label + " pipelined tile \(b)x\(t): not the reference's bits")
        }
    }

    func testInt8KernelMatchesReferences() {
        var seed: UInt64 = 7
        for cin in [8, 16, 17, 32, 64] {
            for cout in [16, 32, 48, 80] {
                for (k, stride) in [(1, 1), (3, 1), (3, 2)] {
                    for (oh, ow) in [(1, 1), (3, 5), (2, 13), (2, 29)] {
                        seed += 1
                        runCase(cin: cin, cout: cout, k: k, stride: stride, oh: oh, ow: ow, relu: seed % 2 == 0,
                                residual: seed % 3 == 0, ups: seed % 4 == 0 && oh % 2 == 0 && ow % 2 == 0 ? [2] : [],
                                accumulate: seed % 5 == 0, seed: seed)
                    }
                }
            }
        }
        runCase(cin: 256, cout: 64, k: 3, stride: 1, oh: 3, ow: 7, relu: true, residual: true, ups: [], accumulate: false, seed: 99)
        // Pipelined layers (input channels a multiple of 16, in_c x k x k >= 256) with and without
        // ReLU and residual, widths with several tiles a row and one.
        for (i, (cin, cout, oh, ow)) in [(48, 48, 4, 24), (32, 64, 3, 12), (96, 48, 2, 9), (64, 32, 5, 6)].enumerated() {
            runCase(cin: cin, cout: cout, k: 3, stride: 1, oh: oh, ow: ow, relu: i % 2 == 0, residual: i < 3, ups: [],
                    accumulate: false, seed: 200 + UInt64(i))
        }
        runCase(cin: 256, cout: 64, k: 1, stride: 1, oh: 3, ow: 8, relu: true, residual: true, ups: [], accumulate: false, seed: 300)
        XCTAssertTrue(hr_cpu_has_avx512vnni() == 0 || pipelinedRuns > 10, "the pipelined VNNI stream was tested (\(pipelinedRuns) runs)")
        XCTAssertTrue(hr_kernels_supported(Int32(HR_KERNELS_AVX2)) == 0 || worstSIMD["AVX2"] != nil, "the AVX2 INT8 kernel was tested")
        print("INT8: SIMD kernels vs reference max |error| / max(1, |out|) = \(worstSIMD); INT8 vs FP32 max |error| = \(worstOfRMS) x output RMS")
    }

    func testQuantizationRoundsAndClamps() {
        let t = hr_tensor(off: 0, cb: 1, h: 1, w: 3)
        var a = [Float](repeating: 0, count: 3 * 5 * 16)
        // Out-of-range values clamp before conversion (3e9 would overflow int32), NaN is 0.
        let values: [Float] = [0.5, 1.5, 2.5, -3, 254.5, 255.5, 1000, 0.49999997, 3.5000002, 0, 7, 8, 3e9, .infinity, .nan]
        for (i, v) in values.enumerated() { a[(1 * 5 + 1 + i / 16) * 16 + i % 16] = v }
        var u8 = [UInt8](repeating: 0xAB, count: 3 * 5 * 16)
        var tt = t
        a[(1 * 5 + 1) * 16 + 15] = 9
        hr_to_u8_rows(a, &tt, 15, 1, &u8, 0, 0, 3)
        let got = (0..<values.count).map { u8[(1 * 5 + 1) * 16 + $0] }
        XCTAssertEqual(got, [0, 2, 2, 0, 254, 255, 255, 0, 4, 0, 7, 8, 255, 255, 0])   // ties to even; clamped
        XCTAssertEqual(u8[(1 * 5 + 1) * 16 + 15], 0, "channels past c are zero")
        XCTAssertTrue(u8[0..<(5 * 16)].allSatisfy { $0 == 0 }, "the top border is zero")
    }

    /// A whole network: INT8 sessions on different kernel sets (avx2 vs avx512, i.e. the AVX2
    /// kernel vs VNNI where the CPU has it) give the same heatmaps for the same calibration, since
    /// their int32 sums are equal (FP32 layers differ only by summation order).
    func testInt8SessionsAgreeAcrossKernelSets() throws {
        let sets = [KernelSet.avx512, .avx2].filter(\.isSupported)
        guard sets.count == 2 else { throw XCTSkip("needs the avx512 and avx2 kernel sets (this CPU: \(KernelSet.cpuFeatures))") }
        let model = try Model(path: Fixtures.repository.appendingPathComponent("models/synth_w16_128x96.pth").path)
        let fp32 = try Session(model: model, inputHeight: 128, inputWidth: 96, threads: 1)
        let calibrator = try Calibrator(session: fp32)
        var pixels = [[UInt8]]()
        var r = UInt64(12345)
        for c in 0..<3 {
            var img = [UInt8](repeating: 0, count: 96 * 128 * 3)
            for y in 0..<128 { for x in 0..<96 { for ch in 0..<3 {
                r = r &* 6364136223846793005 &+ 1442695040888963407
                let smooth = 128 + 90 * sin(Double(x * (ch + 1) + y * (c + 2)) / 11)
                img[(y * 96 + x) * 3 + ch] = UInt8(max(0, min(255, smooth + Double(r >> 59))))
            } } }
            pixels.append(img)
        }
        try pixels[0].withUnsafeBufferPointer { a in try pixels[1].withUnsafeBufferPointer { b in try pixels[2].withUnsafeBufferPointer { c in
            try calibrator.add(crops: [a, b, c].map { ImageView(data: $0.baseAddress!, width: 96, height: 128) })
        } } }
        let cal = try calibrator.calibration()
        // Sessions at 256x192: the first stage's 256-channel tensors (3.4 MB) are large enough
        // for half residuals (Plan.halfResidualBytes); calibration ranges do not depend on size.
        var input = [Float](repeating: 0, count: 3 * 256 * 192)
        for i in input.indices { r = r &* 6364136223846793005 &+ 1442695040888963407; input[i] = Float(Int(r >> 40) % 4000) / 1000 - 2 }
        // One network pass of `ops` (a session's plan, possibly altered) in the session's arena.
        func run(_ s: Session, _ ops: [hr_op]) -> [Float] {
            let a = s.arena.pointer
            XCTAssertLessThan(hr_pack_input(input, 3, 256, 192, a + Int(s.plan.input.off)), 0)
            ops.withUnsafeBufferPointer { hr_run($0.baseAddress, Int32($0.count), a, 2, s.kernelSet) }
            var out = [Float](repeating: 0, count: s.heatmapCount)
            hr_unpack_output(a + Int(s.plan.output.off), Int32(s.joints), 64, 48, &out)
            return out
        }
        func maxDiff(_ x: [Float], _ y: [Float]) -> (Float, Float) {
            var worst: Float = 0, peak: Float = 0
            for i in x.indices { worst = max(worst, abs(x[i] - y[i])); peak = max(peak, abs(x[i])) }
            return (worst, peak)
        }
        var heatmaps: [[Float]] = []
        for set in sets {
            let s = try Session(model: model, inputHeight: 256, inputWidth: 192, threads: 2, precision: .int8, kernels: set, calibration: cal)
            XCTAssertTrue(s.plan.ops.contains { $0.weights_int8 != nil }, "INT8 layers planned on \(set.name)")
            var out = [Float](repeating: 0, count: s.heatmapCount)
            try s.forward(input: input, batch: 1, output: &out)
            XCTAssertEqual(run(s, s.plan.ops), out, "forward is one pass of the plan")
            heatmaps.append(out)
            if set == .avx2 && hr_int8_kernel(Int32(HR_KERNELS_AVX2)) == Int32(HR_INT8_AVX2) {
                // The AVX2 INT8 kernel against the INT8 reference inside the same avx2 network
                // (the FP32 layers run the same kernels): without its int16 weights, run.c runs
                // the reference on those ops. Same int32 sums, so the same heatmaps up to the
                // epilogue's float rounding.
                XCTAssertTrue(s.plan.ops.allSatisfy { $0.weights_int8 == nil || $0.weights_int8_avx2 != nil })
                let refOps = s.plan.ops.map { op -> hr_op in var o = op; o.weights_int8_avx2 = nil; return o }
                let (worst, peak) = maxDiff(out, run(s, refOps))
                XCTAssertLessThan(worst, 1e-5 * max(1, peak), "avx2 network: AVX2 INT8 kernel vs INT8 reference")
                print("INT8 whole network on avx2, AVX2 kernel vs reference: max |heatmap difference| = \(worst) (peak \(peak))")
            }
        }
        // INT8 plans fuse: producers write the uint8 copies their INT8 readers use and the half
        // copies residual adds read, and skip FP32 stores nobody reads (AVX-512 epilogues on
        // avx512, AVX2 ones on avx2). The same plan with that undone (every INT8 convolution
        // quantizes its FP32 input itself, every producer stores FP32, residuals are rounded to
        // half as they are read) gives the same bits.
        for (si, set) in sets.enumerated() {
            let s = try Session(model: model, inputHeight: 256, inputWidth: 192, threads: 2, precision: .int8, kernels: set, calibration: cal)
            let ready = s.plan.ops.filter { $0.in_u8_ready != 0 }.count
            let skipped = s.plan.ops.filter { $0.out_skip_fp32 != 0 }.count
            XCTAssertGreaterThan(ready, s.plan.ops.filter { $0.weights_int8 != nil }.count * 3 / 4, "most INT8 inputs come from their producers")
            XCTAssertGreaterThan(skipped, 0, "some FP32 stores are skipped")
            let unfused = s.plan.ops.map { op -> hr_op in
                var o = op; o.out_u8_inv = 0; o.out_skip_fp32 = 0; o.in_u8_ready = 0; o.out_f16_on = 0
                if o.res_f16_mode == 1 { o.res_f16_mode = 2 }
                return o
            }
            XCTAssertGreaterThan(s.plan.ops.filter { $0.res_f16_mode == 1 }.count, 0, "residuals read half copies")
            let fusedOut = run(s, s.plan.ops)
            XCTAssertEqual(fusedOut, run(s, unfused), "\(set.name): fused uint8 outputs change no bit")
            XCTAssertEqual(fusedOut, heatmaps[si])
            // Batches run one crop per thread, each in its own arena slot with its own copies.
            var two = [Float](repeating: 0, count: 2 * s.heatmapCount)
            try (input + input).withUnsafeBufferPointer { try s.forward(input: $0.baseAddress!, batch: 2, output: &two) }
            XCTAssertEqual(Array(two[0..<s.heatmapCount]), fusedOut, "image-parallel batch, first crop")
            XCTAssertEqual(Array(two[s.heatmapCount...]), fusedOut, "image-parallel batch, second crop")
            print("INT8 \(set.name) plan: \(ready) convolutions read a uint8 copy written by their producer, \(skipped) FP32 stores skipped")
            // Tensors read only by residual adds store only their half copy: the first stage's
            // downsample, and the last module's high-resolution branch output (read by the final
            // fusion sum); the unfused plan above stores FP32 there instead, with the same bits out.
            let halfOnly = s.plan.ops.indices.filter {
                s.plan.ops[$0].out_f16_on != 0 && s.plan.ops[$0].out_u8_inv == 0 && s.plan.ops[$0].out_skip_fp32 != 0
            }
            XCTAssertEqual(halfOnly.map { s.plan.ops[$0].k }, [1, 3], "the downsample (1x1) and the last branch-1 convolution (3x3)")
            // hrnet-bench --profile-ops: one row per op, in plan order, with its data flow.
            let rows = try s.profile(runs: 1, eachOp: true)
            XCTAssertEqual(rows.map { Int($0.label.prefix { $0 != " " }) }, Array(0..<s.plan.ops.count).map { Optional($0) })
            for h in halfOnly { XCTAssertTrue(rows[h].label.hasSuffix("+half -fp32]") && !rows[h].label.contains("+u8"), rows[h].label) }
            if let h = halfOnly.first { XCTAssertTrue(rows[h].label.contains("1x1 s1 64->256"), rows[h].label) }
            XCTAssertTrue(rows.contains { $0.label.contains("[res-half u8-in +u8 +half -fp32]") }, "a bottleneck's last layer")
        }
        // Across sets. Every INT8 kernel dequantizes with one fma(sum, scale, bias), so a layer's
        // outputs are bit-equal; with a mul then an add, last-bit differences moved activations
        // across quantization steps of the next layer and the heatmaps differed by 3.6e-3 (peak
        // 0.08). Measured here: 0.
        let (worst, peak) = maxDiff(heatmaps[0], heatmaps[1])
        XCTAssertGreaterThan(peak, 0)
        XCTAssertLessThan(worst, 1e-5, "INT8 heatmaps avx512 vs avx2")
        print("INT8 whole network, avx512 vs avx2: max |heatmap difference| = \(worst) (peak \(peak))")
    }
}
