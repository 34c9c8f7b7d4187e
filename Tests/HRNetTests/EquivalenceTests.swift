import XCTest
import CHRNetKernels
@testable import HRNet

/// Every fixture against the float64 heatmaps of the published PyTorch model.
final class EquivalenceTests: XCTestCase {
    func check(_ checkpoint: String, _ prefix: String, threads: Int? = nil, reference: Bool = false, winograd: Bool = true,
               kernels: KernelSet = .auto) throws {
        let input = try NPY("\(prefix)_input.npy"), truth = try NPY("\(prefix)_heatmaps_f64.npy")
        let session = try Session(model: try Model(path: Fixtures.path(checkpoint), winograd: winograd),
                                  inputHeight: input.shape[2], inputWidth: input.shape[3], threads: threads, kernels: kernels)
        if kernels != .auto { XCTAssertEqual(session.kernels, kernels) }
        session.useReferenceKernels = reference
        let n = input.shape[0]
        XCTAssertEqual([n, session.joints, session.heatmapHeight, session.heatmapWidth], truth.shape)
        // Full batch.
        let out = try session.run(input.floats, batch: n)
        let err = maxAbsDiff(out, truth.values)
        XCTAssertLessThanOrEqual(err, 1e-4, "\(checkpoint) batch \(n): max abs error \(err)")
        // Each crop alone.
        let per = input.values.count / n, perOut = truth.values.count / n
        for b in 0..<n {
            let one = try session.run(Array(input.floats[(b * per)..<((b + 1) * per)]), batch: 1)
            let e = maxAbsDiff(one, Array(truth.values[(b * perOut)..<((b + 1) * perOut)]))
            XCTAssertLessThanOrEqual(e, 1e-4, "\(checkpoint) crop \(b) alone: max abs error \(e)")
        }
    }

    func testCocoZip() throws { try check("coco_w8.pth", "coco_w8") }
    func testCocoLegacy() throws { try check("coco_w8_legacy.pth", "coco_w8") }
    func testCocoOpenMMLab() throws { try check("coco_w8_mmpose.pth", "coco_w8") }
    func testMPIITwoBlocks() throws { try check("mpii_w16_b2.pth", "mpii_w16_b2") }
    func testOneThread() throws { try check("coco_w8.pth", "coco_w8", threads: 1) }
    func testReferenceKernels() throws { try check("mpii_w16_b2.pth", "mpii_w16_b2", reference: true) }
    func testDirectConvolutionsOnly() throws { try check("coco_w8.pth", "coco_w8", winograd: false) }
    func testDirectReferenceKernels() throws { try check("mpii_w16_b2.pth", "mpii_w16_b2", reference: true, winograd: false) }

    /// Every kernel set this CPU runs, on both fixtures, with and without Winograd weights, on 1
    /// and 2 threads: a CPU without AVX-512 tests its own sets, not the reference against itself.
    func testEveryKernelSetThisCPURuns() throws {
        XCTAssertFalse(KernelSet.supported.isEmpty)
        for set in KernelSet.supported {
            try check("coco_w8.pth", "coco_w8", kernels: set)
            try check("mpii_w16_b2.pth", "mpii_w16_b2", threads: 1, kernels: set)
            try check("coco_w8.pth", "coco_w8", threads: 1, winograd: false, kernels: set)
        }
    }

    /// A set the CPU lacks, an unknown name in HRNET_KERNELS, and BF16 with a set other than
    /// avx512 are refused with a message naming what the CPU has.
    func testKernelSetsTheCPULacksAreRefused() throws {
        let model = try Model(path: Fixtures.path("coco_w8.pth"))
        for set in KernelSet.allCases where !set.isSupported {
            XCTAssertThrowsError(try Session(model: model, kernels: set)) { e in
                guard case HRNetError.invalidArgument(let m) = e else { return XCTFail("\(e)") }
                XCTAssertTrue(m.contains(set.name) && m.contains("it has"), m)
            }
        }
        XCTAssertThrowsError(try KernelSet.resolve(.auto, environment: "sse9"))
        XCTAssertEqual(try KernelSet.resolve(.auto, environment: "generic"), .generic)
        XCTAssertEqual(try KernelSet.resolve(.generic, environment: "avx512"), .generic)  // the option wins
        XCTAssertEqual(try KernelSet.resolve(.auto, environment: ""), KernelSet.supported.first)
        if hr_cpu_has_avx512bf16() != 0 {
            for set in KernelSet.supported where set != .avx512 {
                XCTAssertThrowsError(try Session(model: model, precision: .bf16, kernels: set))
            }
        }
    }

    /// The crop fixture: uint8 RGB through the published normalisation.
    func testCropThroughStandardNormalisation() throws {
        let rgb = try NPY("coco_w8_crop_rgb.npy"), truth = try NPY("coco_w8_crop_heatmaps.npy")
        let (h, w) = (rgb.shape[0], rgb.shape[1])
        let mean: [Double] = [0.485, 0.456, 0.406], std: [Double] = [0.229, 0.224, 0.225]
        var x = [Float](repeating: 0, count: 3 * h * w)
        for c in 0..<3 { for i in 0..<(h * w) { x[c * h * w + i] = Float((rgb.values[i * 3 + c] / 255 - mean[c]) / std[c]) } }
        let session = try Session(model: try Model(path: Fixtures.path("coco_w8.pth")))
        let err = maxAbsDiff(try session.run(x, batch: 1), truth.values)
        XCTAssertLessThanOrEqual(err, 1e-4)
    }

    func testRepeatedCallsGiveIdenticalResults() throws {
        let input = try NPY("coco_w8_input.npy")
        let session = try Session(model: try Model(path: Fixtures.path("coco_w8.pth")))
        let a = try session.run(input.floats, batch: 2)
        let b = try session.run(input.floats, batch: 2)
        XCTAssertEqual(a, b)
    }
}
