import XCTest
import CHRNetKernels
@testable import HRNet

/// Every kernel set this CPU runs (AVX-512, AVX2, NEON, GENERIC) against the plain scalar
/// convolution, over many shapes: odd channel counts, widths that are not multiples of any tile,
/// both strides and kernel sizes, every epilogue.
final class KernelTests: XCTestCase {
    func runCase(cin: Int, cout: Int, k: Int, stride: Int, oh: Int, ow: Int, relu: Bool, residual: Bool,
                 ups: [Int], accumulate: Bool, threads: Int, seed: UInt64) {
        var c = ConvCase(cin: cin, cout: cout, k: k, stride: stride, oh: oh, ow: ow, relu: relu, residual: residual,
                         ups: ups, accumulate: accumulate, seed: seed)
        // Room for the GENERIC set's per-thread scratch after the tensors.
        let genericScratch = Int((hr_generic_scratch_floats(&c.op) + 15) & ~15)
        c.arena += [Float](repeating: 0, count: threads * genericScratch)
        var r = c.rng
        let arena = c.arena
        let icb = (cin + 15) / 16, ocb = (cout + 15) / 16
        var weights = [Float](repeating: 0, count: ocb * icb * k * k * 256)
        for i in 0..<weights.count { weights[i] = r.next() / Float(cin * k * k).squareRoot() }
        var bias = [Float](repeating: 0, count: ocb * 16)
        for i in 0..<bias.count { bias[i] = r.next() }
        var ref = arena
        var op = c.op
        op.scratch_stride = Int64(genericScratch)
        weights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                op.weights = w.baseAddress
                op.bias = b.baseAddress
                hr_run(&op, 1, &ref, 1, Int32(HR_KERNELS_REFERENCE))
                for set in KernelSets.simd {
                    var fast = arena
                    var sop = op
                    hr_choose_tile_set(set, op.out.cb, op.out.w, op.out.h, Int32(threads), &sop.tile_b, &sop.tile_t)
                    hr_run(&sop, 1, &fast, Int32(threads), set)
                    var worst: Float = 0
                    for i in 0..<Int(op.scratch) { worst = max(worst, abs(fast[i] - ref[i])) }
                    let label = c.label + " \(KernelSets.name(set)) tile \(sop.tile_b)x\(sop.tile_t) threads \(threads)"
                    XCTAssertLessThan(worst, 2e-5, label)
                    // The output must have been written (not left as it was) and the borders untouched.
                    var changed = 0
                    for i in c.outputRange where fast[i] != arena[i] { changed += 1 }
                    XCTAssertGreaterThan(changed, 0, label)
                }
            }
        }
    }

    func testSIMDConvolutionMatchesReference() throws {
        guard !KernelSets.simd.isEmpty else { throw XCTSkip("no SIMD kernel set on this CPU: only the reference kernels run") }
        var seed: UInt64 = 1
        let sizes = [(1, 1), (3, 5), (6, 8), (7, 9), (8, 6), (4, 15), (2, 29), (16, 12)]
        for (cin, cout) in [(3, 64), (8, 16), (16, 17), (17, 32), (32, 48), (48, 64), (64, 80), (40, 24)] {
            for k in [1, 3] {
                for stride in [1, 2] where !(k == 1 && stride == 2) {
                    for (oh, ow) in sizes {
                        seed += 1
                        runCase(cin: cin, cout: cout, k: k, stride: stride, oh: oh, ow: ow, relu: seed % 2 == 0,
                                residual: seed % 3 == 0, ups: [], accumulate: seed % 5 == 0, threads: 2, seed: seed)
                    }
                }
            }
        }
    }

    func testEpiloguesWithUpsampledSums() throws {
        guard !KernelSets.simd.isEmpty else { throw XCTSkip("no SIMD kernel set on this CPU") }
        var seed: UInt64 = 100
        for (oh, ow) in [(8, 8), (16, 12), (8, 24), (4, 4)] {
            for ups in [[2], [2, 4], [2, 4, oh >= 8 && ow % 8 == 0 ? 8 : 4]] {
                for accumulate in [false, true] {
                    seed += 1
                    runCase(cin: 32, cout: 32, k: 3, stride: 2, oh: oh, ow: ow, relu: true, residual: true,
                            ups: ups, accumulate: accumulate, threads: 2, seed: seed)
                }
            }
        }
    }

    func testThreadCountsAgree() throws {
        for threads in [1, 2, 3] {
            runCase(cin: 64, cout: 64, k: 3, stride: 1, oh: 9, ow: 11, relu: true, residual: true, ups: [],
                    accumulate: false, threads: threads, seed: 7)
        }
    }

    func testPackAndUnpackRoundTrip() {
        let (c, h, w) = (3, 4, 5)
        let src = (0..<(c * h * w)).map { Float($0) }
        var blocked = [Float](repeating: 0, count: 1 * (h + 2) * (w + 2) * 16)
        XCTAssertEqual(hr_pack_input(src, Int32(c), Int32(h), Int32(w), &blocked), -1)
        var back = [Float](repeating: -1, count: src.count)
        hr_unpack_output(blocked, Int32(c), Int32(h), Int32(w), &back)
        XCTAssertEqual(back, src)
        // Channel 3.. of the block and the border stay zero.
        XCTAssertEqual(blocked[((1 * (w + 2)) + 1) * 16 + 3], 0)
        XCTAssertEqual(blocked[0..<16].reduce(0, +), 0)
        var bad = src
        bad[17] = .nan
        XCTAssertEqual(hr_pack_input(bad, Int32(c), Int32(h), Int32(w), &blocked), 17)
    }
}

/// Winograd F(2x2,3x3) (SIMD and plain) against the direct scalar convolution built from the same
/// OIHW weights: odd sizes (partial tiles), channel counts off the 16-grid, every epilogue.
final class WinogradTests: XCTestCase {
    func runCase(cin: Int, cout: Int, oh: Int, ow: Int, residual: Bool, ups: [Int], accumulate: Bool, relu: Bool,
                 threads: Int, seed: UInt64) {
        let icb = (cin + 15) / 16, ocb = (cout + 15) / 16
        let scratch = Int((hr_wino_scratch_floats(Int32(icb), Int32(ocb), Int32(ow)) + 15) & ~15)
        let c = ConvCase(cin: cin, cout: cout, k: 3, stride: 1, oh: oh, ow: ow, relu: relu, residual: residual,
                         ups: ups, accumulate: accumulate, seed: seed, extraFloats: threads * scratch)
        var r = c.rng
        let weights = (0..<(cout * cin * 9)).map { _ in r.next() / Float(cin * 9).squareRoot() }
        let bias = (0..<cout).map { _ in r.next() }
        let folded = FoldedConv(name: "t", cin: cin, cout: cout, k: 3, stride: 1,
                                weights: try! AlignedFloats(weights), bias: try! AlignedFloats(bias))
        var direct = [Float](repeating: 0, count: ocb * icb * 9 * 256), dbias = [Float](repeating: 0, count: ocb * 16)
        var wino = [Float](repeating: 0, count: ocb * icb * 16 * 256), wbias = dbias
        direct.withUnsafeMutableBufferPointer { w in dbias.withUnsafeMutableBufferPointer { Model.pack(folded, into: w.baseAddress!, bias: $0.baseAddress!) } }
        wino.withUnsafeMutableBufferPointer { w in wbias.withUnsafeMutableBufferPointer { Model.packWinograd(folded, into: w.baseAddress!, bias: $0.baseAddress!) } }
        var op = c.op
        op.scratch_stride = Int64(scratch)
        let arena = c.arena
        var ref = arena
        direct.withUnsafeBufferPointer { w in dbias.withUnsafeBufferPointer { b in
            var d = op
            d.weights = w.baseAddress; d.bias = b.baseAddress
            hr_run(&d, 1, &ref, 1, Int32(HR_KERNELS_REFERENCE))
        } }
        let outRange = c.outputRange
        var scale: Float = 1e-3
        for i in outRange { scale = max(scale, abs(ref[i])) }
        // The plain Winograd and every SIMD set's (GENERIC runs no Winograd ops).
        for set in [Int32(HR_KERNELS_REFERENCE)] + KernelSets.simd where set != Int32(HR_KERNELS_GENERIC) {
            var out = arena
            wino.withUnsafeBufferPointer { w in wbias.withUnsafeBufferPointer { b in
                var wop = op
                wop.kind = Int32(HR_OP_WINOGRAD)
                wop.weights = w.baseAddress; wop.bias = b.baseAddress
                hr_choose_tile_set(set, Int32(ocb), Int32((ow + 1) / 2), 16, Int32(threads), &wop.tile_b, &wop.tile_t)
                hr_run(&wop, 1, &out, Int32(threads), set)
            } }
            var worst: Float = 0
            for i in outRange { worst = max(worst, abs(out[i] - ref[i])) }
            let label = c.label + " \(KernelSets.name(set)) threads \(threads)"
            XCTAssertLessThan(worst / scale, 1e-5, label)
            // Everything outside the output (inputs, borders) is untouched.
            for i in 0..<Int(op.scratch) where !outRange.contains(i) { if out[i] != arena[i] { XCTFail("wrote outside the output at \(i): \(label)"); break } }
        }
    }

    func testWinogradMatchesDirect() {
        var seed: UInt64 = 500
        for (cin, cout) in [(8, 8), (16, 16), (17, 33), (32, 32), (64, 48), (3, 20)] {
            for (oh, ow) in [(1, 1), (2, 2), (3, 5), (8, 6), (7, 9), (16, 12), (9, 18)] {
                seed += 1
                runCase(cin: cin, cout: cout, oh: oh, ow: ow, residual: seed % 2 == 0, ups: [], accumulate: seed % 3 == 0,
                        relu: seed % 5 != 0, threads: 2, seed: seed)
            }
        }
        runCase(cin: 32, cout: 32, oh: 16, ow: 12, residual: true, ups: [2, 4], accumulate: false, relu: true, threads: 3, seed: 9)
        runCase(cin: 32, cout: 32, oh: 8, ow: 8, residual: false, ups: [2, 4, 8], accumulate: true, relu: true, threads: 1, seed: 10)
    }
}
