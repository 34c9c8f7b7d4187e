import Foundation
import XCTest
@testable import HRNet

/// Malformed files and arguments: each a specific error that names the problem, never a crash.
final class BadInputTests: XCTestCase {
    var temp: URL!

    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = temp.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
    }

    func expect(_ path: String, _ check: (HRNetError) -> Bool, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try Model(path: path)
            XCTFail("loading \(path) succeeded", file: file, line: line)
        } catch let e as HRNetError {
            XCTAssertTrue(check(e), "unexpected error kind: \(e)", file: file, line: line)
            XCTAssertTrue(fragment.isEmpty || e.message.contains(fragment), "message '\(e.message)' lacks '\(fragment)'", file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func isIO(_ e: HRNetError) -> Bool { if case .io = e { return true }; return false }
    func isFormat(_ e: HRNetError) -> Bool { if case .format = e { return true }; return false }
    func isModel(_ e: HRNetError) -> Bool { if case .model = e { return true }; return false }

    func testMissingEmptyAndDirectory() throws {
        expect(temp.appendingPathComponent("nope.pth").path, isIO, "No such file")
        expect(try write("empty.pth", []), isFormat, "empty")
        expect(temp.path, isIO, "directory")
    }

    func testTruncatedFilesAtManyPoints() throws {
        for name in ["coco_w8.pth", "coco_w8_legacy.pth"] {
            let bytes = try fixtureBytes(name)
            for fraction in [0.001, 0.01, 0.3, 0.5, 0.9, 0.9999] {
                let cut = Array(bytes.prefix(Int(Double(bytes.count) * fraction)))
                expect(try write("cut.pth", cut), isFormat, "")
            }
        }
    }

    func testNotACheckpoint() throws {
        expect(try write("text.pth", Array("hello, this is not a checkpoint\n".utf8)), isFormat, "not a PyTorch checkpoint")
        // A pickle that is not a torch.save file.
        expect(try write("plain.pkl", [0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]), isFormat, "not one written by torch.save")
    }

    func testCorruptedPickleOpcodes() throws {
        // Overwrite bytes inside the legacy file's main pickle with an invalid opcode stream.
        var bytes = try fixtureBytes("coco_w8_legacy.pth")
        for i in 400..<420 { bytes[i] = 0xFF }
        expect(try write("corrupt.pth", bytes), isFormat, "corrupted pickle")
        // And inside the zip's data.pkl (found by its name in the local header).
        var z = try fixtureBytes("coco_w8.pth")
        let name = Array("coco_w8/data.pkl".utf8)
        let at = (0..<(z.count - name.count)).first { z[$0..<($0 + name.count)].elementsEqual(name) }!
        for i in (at + name.count + 300)..<(at + name.count + 340) { z[i] = 0xFE }
        expect(try write("corrupt.zip.pth", z), isFormat, "corrupted pickle")
    }

    func testUnpicklerSkipsUnknownClassesWithoutExecuting() throws {
        // {'meta': os.system('x') as REDUCE of an unknown global, 'n': 3}: the call is never made,
        // its result is an opaque placeholder, and the rest of the pickle reads normally.
        var p: [UInt8] = [0x80, 0x02, 0x7D, 0x28]
        p += [0x58, 4, 0, 0, 0] + Array("meta".utf8)
        p += [0x63] + Array("os\nsystem\n".utf8) + [0x58, 1, 0, 0, 0, 0x78, 0x85, 0x52]
        p += [0x58, 1, 0, 0, 0, 0x6E, 0x4B, 3, 0x75, 0x2E]
        p.withUnsafeBytes { raw in
            var u = Unpickler(raw, what: "test")
            guard case .dict(let d)? = try? u.load() else { return XCTFail("not a dict") }
            if case .opaque(let name)? = d["meta"] { XCTAssertEqual(name, "os.system") } else { XCTFail("meta not opaque") }
            XCTAssertEqual(d["n"]?.intValue, 3)
        }
    }

    func testUnpicklerRejectsUnknownOpcodeAndUnderflow() {
        for bytes: [UInt8] in [[0x80, 0x02, 0xFF], [0x80, 0x02, 0x2E], [0x80, 0x02, 0x61, 0x2E], [0x80, 0x02, 0x68, 9, 0x2E], [0x58, 0xFF, 0xFF, 0, 0]] {
            bytes.withUnsafeBytes { raw in
                var u = Unpickler(raw, what: "test")
                do {
                    _ = try u.load()
                    XCTFail("\(bytes) was accepted")
                } catch {
                    guard case .format = error as? HRNetError else { return XCTFail("\(error)") }
                }
            }
        }
    }

    func testBadSessionOptions() throws {
        let model = try Model(path: Fixtures.path("coco_w8.pth"))
        for (h, w) in [(100, 96), (256, 0), (-32, 192), (0, 0)] {
            XCTAssertThrowsError(try Session(model: model, inputHeight: h, inputWidth: w)) { e in
                XCTAssertEqual((e as? HRNetError)?.status, 1, "\(h)x\(w)")
                XCTAssertTrue("\(e)".contains("multiple of 32"))
            }
        }
        XCTAssertThrowsError(try Session(model: model, threads: 0))
        let s = try Session(model: model, inputHeight: 128, inputWidth: 96)
        XCTAssertEqual([s.heatmapHeight, s.heatmapWidth], [32, 24])
        XCTAssertThrowsError(try s.run([], batch: 0))
        var x = [Float](repeating: 0, count: s.inputCount)
        x[5] = .infinity
        XCTAssertThrowsError(try s.run(x, batch: 1)) { e in XCTAssertTrue("\(e)".contains("not finite")) }
    }
}
