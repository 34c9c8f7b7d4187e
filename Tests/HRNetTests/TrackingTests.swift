import XCTest
@testable import HRNet

/// The tracker's parts: optimal assignment and the One Euro filter.
final class TrackingTests: XCTestCase {
    /// Every assignment of the smaller side, by brute force: the minimum total cost, counting
    /// forbidden pairs as absent (as many allowed pairs as possible first, then the lowest cost).
    private func bruteForce(_ c: [Double], _ rows: Int, _ cols: Int, forbidden: Double) -> (pairs: Int, cost: Double) {
        var best = (pairs: -1, cost: Double.infinity)
        var used = [Bool](repeating: false, count: cols)
        func go(_ r: Int, _ pairs: Int, _ cost: Double) {
            if r == rows {
                if pairs > best.pairs || (pairs == best.pairs && cost < best.cost - 1e-12) { best = (pairs, cost) }
                return
            }
            go(r + 1, pairs, cost)  // row r unassigned
            for j in 0..<cols where !used[j] && c[r * cols + j] < forbidden {
                used[j] = true
                go(r + 1, pairs + 1, cost + c[r * cols + j])
                used[j] = false
            }
        }
        go(0, 0, 0)
        return best
    }

    func testAssignmentIsOptimalOnRandomMatrices() {
        var rng = SplitMix(seed: 7)
        for trial in 0..<400 {
            let rows = 1 + Int(rng.next() % 5), cols = 1 + Int(rng.next() % 5)
            var c = (0..<(rows * cols)).map { _ in Double(rng.next() % 1000) / 1000 }
            // Some pairs forbidden, as the tracker does below its match threshold.
            for i in c.indices where rng.next() % 4 == 0 { c[i] = .infinity }
            let a = Assignment.solve(costs: c, rows: rows, cols: cols)
            XCTAssertEqual(a.count, rows)
            let taken = a.filter { $0 >= 0 }
            XCTAssertEqual(Set(taken).count, taken.count, "one-to-one (trial \(trial))")
            var cost = 0.0
            for (r, j) in a.enumerated() where j >= 0 {
                XCTAssertTrue(c[r * cols + j].isFinite, "no forbidden pair returned (trial \(trial))")
                cost += c[r * cols + j]
            }
            let best = bruteForce(c, rows, cols, forbidden: .infinity)
            XCTAssertEqual(taken.count, best.pairs, "as many pairs as possible (trial \(trial): \(c), \(rows)x\(cols))")
            XCTAssertEqual(cost, best.cost, accuracy: 1e-9, "minimum cost (trial \(trial): \(c), \(rows)x\(cols))")
        }
    }

    func testAssignmentBeatsGreedy() {
        // Greedy takes (0,0) = 0.1 first and is left with (1,1) = 0.9: 1.0 in all.
        // The optimum is (0,1) + (1,0) = 0.2 + 0.3 = 0.5.
        let a = Assignment.solve(costs: [0.1, 0.2, 0.3, 0.9], rows: 2, cols: 2)
        XCTAssertEqual(a, [1, 0])
        XCTAssertEqual(Assignment.solve(costs: [], rows: 0, cols: 3), [])
        XCTAssertEqual(Assignment.solve(costs: [], rows: 2, cols: 0), [-1, -1])
        XCTAssertEqual(Assignment.solve(costs: [.infinity, .infinity], rows: 1, cols: 2), [-1])
    }

    func testOneEuroFilter() {
        var f = OneEuroFilter()
        // The first sample passes unchanged.
        XCTAssertEqual(f.filter(10, dt: 1.0 / 30, scale: 100, minCutoff: 1, beta: 0, derivativeCutoff: 1), 10)
        // A step: with beta 0 it is a low-pass filter of cutoff 1 Hz: alpha = 1 / (1 + tau/dt),
        // tau = 1/(2 pi) s.
        let dt = 1.0 / 30, alpha = 1 / (1 + 1 / (2 * Double.pi) / dt)
        XCTAssertEqual(f.filter(20, dt: dt, scale: 100, minCutoff: 1, beta: 0, derivativeCutoff: 1), 10 + alpha * 10, accuracy: 1e-12)
        // No time passes: the value stays.
        let v = f.value
        XCTAssertEqual(f.filter(50, dt: 0, scale: 100, minCutoff: 1, beta: 0, derivativeCutoff: 1), v)
        // A long gap: alpha -> 1, the filter follows.
        XCTAssertEqual(f.filter(50, dt: 100, scale: 100, minCutoff: 1, beta: 0, derivativeCutoff: 1), 50, accuracy: 0.1)
        // Speed raises the cutoff: with beta > 0 a moving signal lags less.
        var slow = OneEuroFilter(), fast = OneEuroFilter()
        var a = 0.0, b = 0.0
        for i in 0..<30 {
            let x = Double(i) * 10
            a = slow.filter(x, dt: dt, scale: 100, minCutoff: 1, beta: 0, derivativeCutoff: 1)
            b = fast.filter(x, dt: dt, scale: 100, minCutoff: 1, beta: 5, derivativeCutoff: 1)
        }
        XCTAssertLessThan(290 - b, (290 - a) / 2, "beta cuts the lag: \(290 - b) vs \(290 - a)")
    }

    func testTrackerOptionsValidation() {
        XCTAssertNoThrow(try TrackerOptions().validate())
        var o = TrackerOptions(); o.minCutoff = 0
        XCTAssertThrowsError(try o.validate())
        o = TrackerOptions(); o.matchThreshold = .nan
        XCTAssertThrowsError(try o.validate())
        o = TrackerOptions(); o.confirmFrames = 0
        XCTAssertThrowsError(try o.validate())
    }
}

/// A small deterministic generator for the random cases.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
