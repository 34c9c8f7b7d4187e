import XCTest
@testable import HRNet

final class CheckpointTests: XCTestCase {
    /// The zip, legacy and OpenMMLab files hold the same weights: every tensor must come out
    /// identical, bit for bit, under the same (normalised) key.
    func testThreeLayoutsGiveIdenticalTensors() throws {
        let zip = try Checkpoint(path: Fixtures.path("coco_w8.pth"))
        let legacy = try Checkpoint(path: Fixtures.path("coco_w8_legacy.pth"))
        let mmpose = try Checkpoint(path: Fixtures.path("coco_w8_mmpose.pth"))
        XCTAssertGreaterThan(zip.keys.count, 1000)
        for other in [legacy, mmpose] {
            XCTAssertEqual(Set(other.keys), Set(zip.keys), "\(other.path) has different keys")
            for key in zip.keys {
                let a = zip.tensors[key]!, b = other.tensors[key]!
                XCTAssertEqual(a.shape, b.shape, key)
                XCTAssertEqual(a.isInteger, b.isInteger, key)
                let fa = try a.floats().array, fb = try b.floats().array
                XCTAssertEqual(fa.map(\.bitPattern), fb.map(\.bitPattern), "\(key) differs in \(other.path)")
            }
        }
        // int64 BatchNorm counters are read as integers.
        XCTAssertTrue(zip.tensors["bn1.num_batches_tracked"]!.isInteger)
        XCTAssertEqual(zip.tensors["conv1.weight"]!.shape, [64, 3, 3, 3])
    }

    func testArchitectureIsReadFromTheCheckpoint() throws {
        let coco = try Model(path: Fixtures.path("coco_w8.pth")).architecture
        XCTAssertEqual(coco.width, 8)
        XCTAssertEqual(coco.joints, 17)
        XCTAssertEqual(coco.stageChannels, [[8, 16], [8, 16, 32], [8, 16, 32, 64]])
        XCTAssertEqual(coco.stageModules, [1, 4, 3])
        XCTAssertEqual(coco.stageBlocks, [4, 4, 4])
        XCTAssertEqual(coco.layer1Blocks, 4)
        XCTAssertEqual(coco.finalKernel, 1)
        let mpii = try Model(path: Fixtures.path("mpii_w16_b2.pth")).architecture
        XCTAssertEqual(mpii.width, 16)
        XCTAssertEqual(mpii.joints, 16)
        XCTAssertEqual(mpii.stageModules, [1, 2, 1])
        XCTAssertEqual(mpii.stageBlocks, [2, 2, 2])
        XCTAssertEqual(mpii.branches, 4)
        let synth = try Model(path: Fixtures.repository.appendingPathComponent("models/synth_w16_128x96.pth").path).architecture
        XCTAssertEqual(synth.width, 16)
        XCTAssertEqual(synth.stageModules, [1, 4, 3])
        // models/README: 7.5 M parameters.
        XCTAssertEqual(Double(synth.parameters) / 1e6, 7.5, accuracy: 0.1)
    }

    func testDefaultInputSizeFollowsTheJointCount() throws {
        let coco = try Session(model: try Model(path: Fixtures.path("coco_w8.pth")))
        XCTAssertEqual([coco.inputHeight, coco.inputWidth, coco.heatmapHeight, coco.heatmapWidth], [256, 192, 64, 48])
        let mpii = try Session(model: try Model(path: Fixtures.path("mpii_w16_b2.pth")))
        XCTAssertEqual([mpii.inputHeight, mpii.inputWidth], [256, 256])
    }

    func testMultiplyAddsScaleWithArea() throws {
        // W32's 7.65 G is checked by hrnet-bench (no W32 file is bundled). Here: the stem alone
        // (conv1: 64x3x3x3 at 128x96, conv2: 64x64x3x3 at 64x48) and the scaling with area.
        let m = try Model(path: Fixtures.path("coco_w8.pth"))
        let g = m.gmacs(height: 256, width: 192)
        let stem = Double(64 * 27 * 128 * 96 + 64 * 576 * 64 * 48) / 1e9
        XCTAssertGreaterThan(g, stem)
        XCTAssertEqual(m.gmacs(height: 512, width: 384), 4 * g, accuracy: 1e-9)
    }
}
