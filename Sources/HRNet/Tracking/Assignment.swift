/// Optimal one-to-one assignment (the Hungarian method, Kuhn-Munkres with potentials, O(n^2 m)).
public enum Assignment {
    /// Minimum-cost assignment on a `rows` x `cols` cost matrix (row-major). Every row of the
    /// smaller side is assigned; returns, per row, its column or -1. Pairs whose cost is
    /// `forbidden` or more are never returned (they are assigned internally only when nothing
    /// else is left, then dropped), so a caller marks impossible pairs with a large cost.
    public static func solve(costs: [Double], rows: Int, cols: Int, forbidden: Double = .infinity) -> [Int] {
        precondition(costs.count == rows * cols, "cost matrix size")
        if rows == 0 { return [] }
        if cols == 0 { return [Int](repeating: -1, count: rows) }
        // The algorithm assigns every row of an n x m matrix with n <= m: transpose if needed.
        let transpose = rows > cols
        let n = transpose ? cols : rows, m = transpose ? rows : cols
        // Forbidden pairs get a finite cost larger than any sum of allowed ones, so the optimum
        // uses as few of them as possible and the allowed part stays optimal.
        var finiteMax = 0.0
        for c in costs where c < forbidden && c.isFinite { finiteMax = max(finiteMax, abs(c)) }
        let big = (finiteMax + 1) * Double(n + 1) * 4
        @inline(__always) func a(_ i: Int, _ j: Int) -> Double {
            let c = transpose ? costs[j * cols + i] : costs[i * cols + j]
            return c < forbidden && c.isFinite ? c : big
        }
        // 1-based potentials u (rows), v (columns); p[j] = row assigned to column j (0 = none).
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1), way = [Int](repeating: 0, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: m + 1)
            var used = [Bool](repeating: false, count: m + 1)
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity, j1 = 0
                for j in 1...m where !used[j] {
                    let cur = a(i0 - 1, j - 1) - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...m {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var result = [Int](repeating: -1, count: rows)
        for j in 1...m where p[j] != 0 {
            let (r, c) = transpose ? (j - 1, p[j] - 1) : (p[j] - 1, j - 1)
            let cost = costs[r * cols + c]
            if cost < forbidden && cost.isFinite { result[r] = c }
        }
        return result
    }
}
