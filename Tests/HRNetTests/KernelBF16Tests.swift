import XCTest
import CHRNetKernels

/// The opt-in BF16 convolution (AVX512_BF16): (a) the SIMD kernel against the scalar BF16
/// reference, which reads the same BF16 data, so only the summation order differs; (b) the BF16
/// result against the FP32 reference within the rounding bound of BF16 inputs; (c) the FP32 ->
/// BF16 conversions round to nearest even; (d) the weight repacking layout.
final class KernelBF16Tests: XCTestCase {
    /// BF16 unit roundoff (8 significant bits, round to nearest): |bf16(x) - x| <= u |x|, u = 2^-8.
    static let u = Double(1) / 256

    /// Worst ratios seen over all cases, for the report printed at the end of the test: (a) SIMD vs
    /// scalar BF16 reference; (b) BF16 vs FP32, relative to the rounding bound and to the output RMS.
    var worstSIMD: Float = 0, worstOfBound = 0.0, worstOfRMS = 0.0

    /// Interior indices of tensor t in the arena (its border excluded).
    func interior(_ t: hr_tensor) -> [Int] {
        var idx: [Int] = []
        for cb in 0..<Int(t.cb) { for y in 0..<Int(t.h) { for x in 0..<Int(t.w) { for l in 0..<16 {
            idx.append(Int(t.off) + ((cb * Int(t.h + 2) + y + 1) * Int(t.w + 2) + x + 1) * 16 + l)
        } } } }
        return idx
    }

    /// Runs the BF16 kernel over the whole op with a b x t tile (the last segment of a row narrower).
    func runSIMD(_ op: UnsafePointer<hr_op>, _ a: UnsafeMutablePointer<Float>, _ inb: UnsafePointer<UInt16>,
                 _ wb: UnsafePointer<UInt16>, b: Int, t: Int) {
        let o = op.pointee
        for g in 0..<(Int(o.out.cb) / b) {
            for oy in 0..<Int(o.out.h) {
                var ox0 = 0
                while ox0 < Int(o.out.w) {
                    let tt = min(t, Int(o.out.w) - ox0)
                    hr_conv_rows_bf16(op, a, inb, wb, Int32(g * b), Int32(oy), Int32(ox0), Int32(b), Int32(tt))
                    ox0 += tt
                }
            }
        }
    }

    func runCase(cin: Int, cout: Int, k: Int, stride: Int, oh: Int, ow: Int, relu: Bool, residual: Bool,
                 ups: [Int], accumulate: Bool, seed: UInt64) {
        let c = ConvCase(cin: cin, cout: cout, k: k, stride: stride, oh: oh, ow: ow, relu: relu, residual: residual,
                         ups: ups, accumulate: accumulate, seed: seed)
        var r = c.rng, op = c.op, arena = c.arena
        let icb = (cin + 15) / 16, ocb = (cout + 15) / 16
        // Weights of input channels >= cin are random too: the packer must zero them.
        var weights = [Float](repeating: 0, count: ocb * icb * k * k * 256)
        for i in 0..<weights.count { weights[i] = r.next() / Float(cin * k * k).squareRoot() }
        var bias = [Float](repeating: 0, count: ocb * 16)
        for i in 0..<bias.count { bias[i] = r.next() }
        // Channels >= cin of the input are left zero above: put garbage there, which the
        // conversion must not read (the FP32 reference does not read it either).
        if cin % 16 != 0 {
            let t = op.in, cb = icb - 1
            for y in 0..<Int(t.h) { for x in 0..<Int(t.w) { for l in (cin % 16)..<16 {
                arena[Int(t.off) + ((cb * Int(t.h + 2) + y + 1) * Int(t.w + 2) + x + 1) * 16 + l] = .nan
            } } }
        }

        XCTAssertEqual(hr_bf16_weights_size(Int32(cin), Int32(cout), Int32(k)), weights.count)
        var wb = [UInt16](repeating: 0xFFFF, count: weights.count)
        hr_pack_weights_bf16(weights, Int32(cin), Int32(cout), Int32(k), &wb)
        var tin = op.in
        // The copy is poisoned first: every element must be written (border and padding as zero).
        var inb = [UInt16](repeating: 0xFFFF, count: hr_bf16_tensor_size(&tin))
        let hp = Int(tin.h) + 2, split = hp / 2
        for cb in 0..<icb {  // two row ranges per block, as a caller's omp for would split them
            hr_to_bf16_rows(arena, &tin, Int32(cin), &inb, Int32(cb), 0, Int32(split))
            hr_to_bf16_rows(arena, &tin, Int32(cin), &inb, Int32(cb), Int32(split), Int32(hp))
        }
        let label = c.label
        XCTAssertFalse(inb.contains(0xFFFF), "conversion left elements unwritten: " + label)

        var tb: Int32 = 0, tt: Int32 = 0
        hr_choose_tile_bf16(op.out.cb, op.out.w, op.out.h, 2, &tb, &tt)
        XCTAssertEqual(Int(op.out.cb) % Int(tb), 0)
        XCTAssertLessThanOrEqual(Int(tt), Int(hr_bf16_tile_t_max(tb)))
        // Tiles: the chosen one, and for every b dividing out_cb the widest t (so the row ends in
        // a narrower remainder tile).
        var tiles = [(Int(tb), Int(tt))]
        for b in 1...4 where ocb % b == 0 { tiles.append((b, min(ow, Int(hr_bf16_tile_t_max(Int32(b)))))) }

        // The op keeps pointers to its weights and bias: stable allocations for the whole case.
        let wPtr = UnsafeMutablePointer<Float>.allocate(capacity: weights.count)
        let bPtr = UnsafeMutablePointer<Float>.allocate(capacity: bias.count)
        defer { wPtr.deallocate(); bPtr.deallocate() }
        wPtr.initialize(from: weights, count: weights.count)
        bPtr.initialize(from: bias, count: bias.count)
        op.weights = UnsafePointer(wPtr)
        op.bias = UnsafePointer(bPtr)

        var ref = arena, fp32 = arena
        var absSum = arena  // sum over taps of |x w| per output, for the rounding bound of (b)
        withUnsafePointer(to: &op) { p in
            ref.withUnsafeMutableBufferPointer { a in
                for ob in 0..<ocb { for oy in 0..<oh { hr_conv_bf16_ref_task(p, a.baseAddress!, inb, wb, Int32(ob), Int32(oy)) } }
            }
            hr_run(p, 1, &fp32, 1, Int32(HR_KERNELS_REFERENCE))
        }
        // Sum of |x w|: the FP32 reference run on |x| and |w| with a bare epilogue.
        for i in 0..<absSum.count { absSum[i] = abs(absSum[i]) }
        for i in interior(op.in) where absSum[i].isNaN { absSum[i] = 0 }
        let absW = weights.map { abs($0) }, zeroBias = [Float](repeating: 0, count: bias.count)
        var bare = op
        bare.relu = 0; bare.accumulate = 0; bare.res = hr_tensor(off: -1, cb: 0, h: 0, w: 0); bare.n_up = 0
        absW.withUnsafeBufferPointer { w in
            zeroBias.withUnsafeBufferPointer { b in
                bare.weights = w.baseAddress
                bare.bias = b.baseAddress
                withUnsafePointer(to: &bare) { p in hr_run(p, 1, &absSum, 1, Int32(HR_KERNELS_REFERENCE)) }
            }
        }

        let outIdx = interior(op.out)
        var rms = 0.0
        for i in outIdx { rms += Double(fp32[i]) * Double(fp32[i]) }
        rms = (rms / Double(outIdx.count)).squareRoot()

        for (b, t) in tiles {
            var fast = arena
            withUnsafePointer(to: &op) { p in
                fast.withUnsafeMutableBufferPointer { a in runSIMD(p, a.baseAddress!, inb, wb, b: b, t: t) }
            }
            let tl = label + " tile \(b)x\(t)"
            // (a) SIMD vs scalar BF16 reference: same products, FP32 vs double sums.
            var worst: Float = 0
            for i in 0..<arena.count where !(arena[i].isNaN && fast[i].isNaN && ref[i].isNaN) {
                worst = max(worst, abs(fast[i] - ref[i]) / max(1, abs(ref[i])))
            }
            XCTAssertLessThan(worst, 1e-4, tl)
            worstSIMD = max(worstSIMD, worst)
            var changed = 0
            for i in outIdx where fast[i] != arena[i] { changed += 1 }
            XCTAssertGreaterThan(changed, 0, tl)
            // (b) BF16 vs FP32: each product x w is taken as bf16(x) bf16(w) = x w (1 + e),
            // |e| <= 2u + u^2, so |out_bf16 - out_fp32| <= (2u + u^2) sum |x w| plus FP32
            // summation slop (allowed: 1e-4 sum |x w| + 1e-5 (1 + |out|)). ReLU cannot enlarge it.
            // And, as a plainer scale: the error stays under 2% of the RMS of the output.
            for i in outIdx {
                let err = abs(Double(fast[i]) - Double(fp32[i]))
                let bound = (2 * Self.u + Self.u * Self.u + 1e-4) * Double(absSum[i]) + 1e-5 * (1 + abs(Double(fp32[i])))
                XCTAssertLessThanOrEqual(err, bound, tl + " at \(i)")
                if err > bound { break }
                worstOfBound = max(worstOfBound, err / ((2 * Self.u + Self.u * Self.u) * Double(absSum[i]) + 1e-30))
                worstOfRMS = max(worstOfRMS, err / rms)
                XCTAssertLessThan(err, 2e-2 * rms, tl + " at \(i), relative to the output RMS \(rms)")
            }
        }
    }

    func skipUnlessBF16() throws {
        guard hr_cpu_has_avx512bf16() != 0 else { throw XCTSkip("no AVX512_BF16 on this CPU") }
    }

    func testBF16KernelMatchesReferences() throws {
        try skipUnlessBF16()
        var seed: UInt64 = 1
        let sizes = [(1, 1), (3, 5), (2, 6), (2, 7), (3, 9), (2, 12), (2, 15), (2, 29)]
        for cin in [3, 8, 16, 17, 32, 48, 64] {
            for cout in [16, 17, 32, 48, 64, 80] {
                for (k, stride) in [(1, 1), (3, 1), (3, 2)] {
                    for (oh, ow) in sizes {
                        seed += 1
                        runCase(cin: cin, cout: cout, k: k, stride: stride, oh: oh, ow: ow, relu: seed % 2 == 0,
                                residual: seed % 3 == 0, ups: [], accumulate: seed % 5 == 0, seed: seed)
                    }
                }
            }
        }
        report("all shapes")
    }

    func report(_ what: String) {
        print("BF16 \(what): SIMD vs scalar BF16 reference: max |error| / max(1, |out|) = \(worstSIMD); "
              + "BF16 vs FP32: max |error| = \(worstOfBound) x the rounding bound (2u+u^2) sum|xw|, "
              + "= \(worstOfRMS) x the output RMS")
    }

    func testBF16EpiloguesWithUpsampledSums() throws {
        try skipUnlessBF16()
        var seed: UInt64 = 100
        for (oh, ow) in [(8, 8), (16, 12), (8, 24), (4, 4)] {
            for ups in [[2], [2, 4], [2, 4, oh >= 8 && ow % 8 == 0 ? 8 : 4]] {
                for accumulate in [false, true] {
                    seed += 1
                    runCase(cin: 32, cout: 32, k: 3, stride: 2, oh: oh, ow: ow, relu: true, residual: true,
                            ups: ups, accumulate: accumulate, seed: seed)
                    runCase(cin: 17, cout: 48, k: 1, stride: 1, oh: oh, ow: ow, relu: false, residual: seed % 2 == 0,
                            ups: ups, accumulate: accumulate, seed: seed + 1000)
                }
            }
        }
        report("epilogues")
    }

    func testWideLayers() throws {
        try skipUnlessBF16()
        // HRNet-like depths, where the sums are longest.
        runCase(cin: 256, cout: 256, k: 3, stride: 1, oh: 3, ow: 6, relu: true, residual: true, ups: [],
                accumulate: false, seed: 9)
        runCase(cin: 128, cout: 64, k: 1, stride: 1, oh: 4, ow: 13, relu: false, residual: false, ups: [2],
                accumulate: true, seed: 10)
        report("wide layers")
    }

    /// (c) Round to nearest even, in the SIMD conversion and in the scalar one the weight packer
    /// uses (the two must agree bit for bit).
    func testConversionRoundsToNearestEven() throws {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),  // 1
            (0x3F80_8000, 0x3F80),  // 1 + 2^-8: tie, 0x3F80 is even -> down
            (0x3F81_8000, 0x3F82),  // tie, 0x3F81 is odd -> up
            (0x3F80_8001, 0x3F81),  // just above the tie -> up
            (0x3F80_7FFF, 0x3F80),  // just below the tie -> down
            (0x3F81_7FFF, 0x3F81),
            (0xBF81_8000, 0xBF82),  // negative tie, odd -> away from zero
            (0xBF80_8000, 0xBF80),  // negative tie, even -> toward zero
            (0xBF80_C000, 0xBF81),
            (0x4040_8000, 0x4040),  // 3 + tie -> even
            (0x4041_8000, 0x4042),
            (0x3FFF_8000, 0x4000),  // tie with carry into the exponent
            (0x0DA2_4260, 0x0DA2),
            (0x0080_0000, 0x0080),  // smallest normal
            (0x7F7F_FFFF, 0x7F80),  // FLT_MAX overflows to +inf
            (0x7F7F_8000, 0x7F80),  // tie at the top, odd -> +inf
            (0x7F7F_7FFF, 0x7F7F),
            (0xFF7F_FFFF, 0xFF80),
            (0x0000_0000, 0x0000),
            (0x8000_0000, 0x8000),
            (0x7F80_0000, 0x7F80),  // +inf
            (0xFF80_0000, 0xFF80),  // -inf
            (0x007F_FFFF, 0x0000),  // subnormals become signed zero, as vcvtneps2bf16 does
            (0x8001_2345, 0x8000),
        ]
        for (bits, want) in cases {
            XCTAssertEqual(hr_float_to_bf16(Float(bitPattern: bits)), want, String(bits, radix: 16))
        }
        XCTAssertTrue(Float(bitPattern: UInt32(hr_float_to_bf16(.nan)) << 16).isNaN)
        XCTAssertTrue(Float(bitPattern: UInt32(hr_float_to_bf16(Float(bitPattern: 0x7F80_0001))) << 16).isNaN)

        try skipUnlessBF16()
        // One block, c = 13 real channels, 2 x 13 pixels (an odd width: a paired store path and a
        // single tail pixel). The border and channels 13..15 hold garbage that must come out zero.
        let c = 13, h = 2, w = 13
        var t = hr_tensor(off: 16, cb: 1, h: Int32(h), w: Int32(w))
        var arena = [Float](repeating: .nan, count: 16 + tensorSize(t))
        var expect = [UInt16](repeating: 0, count: hr_bf16_tensor_size(&t))
        var n = 0
        for y in 0..<h { for x in 0..<w { for l in 0..<c {
            let (bits, want) = cases[n % cases.count]
            n += 1
            let i = ((y + 1) * (w + 2) + x + 1) * 16 + l
            arena[16 + i] = Float(bitPattern: bits)
            expect[i] = want
        } } }
        var got = [UInt16](repeating: 0xFFFF, count: expect.count)
        hr_to_bf16(arena, &t, Int32(c), &got)
        XCTAssertEqual(got, expect)
        // Quiet and signalling NaN stay NaN.
        arena[16 + ((1 * (w + 2)) + 1) * 16] = .nan
        arena[16 + ((1 * (w + 2)) + 2) * 16] = Float(bitPattern: 0x7F80_0001)
        hr_to_bf16_rows(arena, &t, Int32(c), &got, 0, 1, 2)
        XCTAssertTrue(Float(bitPattern: UInt32(got[((1 * (w + 2)) + 1) * 16]) << 16).isNaN)
        XCTAssertTrue(Float(bitPattern: UInt32(got[((1 * (w + 2)) + 2) * 16]) << 16).isNaN)
    }

    /// (d) [Cout/16][Cin/16][k][k][16 ic][16 oc] fp32 -> [..][8 ic pairs][16 oc][2 ic] bf16, zero past cin.
    func testWeightPackingLayout() {
        let cin = 19, cout = 20, k = 3
        let icb = 2, ocb = 2
        var w = [Float](repeating: 0, count: ocb * icb * k * k * 256)
        // Small integers are exact in BF16: encode (ic, oc, tap) in each value.
        for ob in 0..<ocb { for ib in 0..<icb { for tap in 0..<(k * k) { for il in 0..<16 { for ol in 0..<16 {
            w[(((ob * icb + ib) * k * k + tap) * 16 + il) * 16 + ol] = Float(((ib * 16 + il) * 4 + ob * 2 + tap % 2) % 250 + 1)
        } } } } }
        var dst = [UInt16](repeating: 0xFFFF, count: hr_bf16_weights_size(Int32(cin), Int32(cout), Int32(k)))
        hr_pack_weights_bf16(w, Int32(cin), Int32(cout), Int32(k), &dst)
        for ob in 0..<ocb { for ib in 0..<icb { for tap in 0..<(k * k) { for il in 0..<16 { for ol in 0..<16 {
            let src = w[(((ob * icb + ib) * k * k + tap) * 16 + il) * 16 + ol]
            let got = dst[((ob * icb + ib) * k * k + tap) * 256 + (il / 2) * 32 + ol * 2 + il % 2]
            let want: Float = ib * 16 + il < cin ? src : 0
            XCTAssertEqual(Float(bitPattern: UInt32(got) << 16), want, "ob \(ob) ib \(ib) tap \(tap) ic \(il) oc \(ol)")
        } } } } }
    }
}
