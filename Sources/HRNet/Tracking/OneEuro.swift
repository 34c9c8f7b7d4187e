#if canImport(Glibc)
import Glibc
#endif

/// The One Euro filter (Casiez, Roussel and Vogel, CHI 2012) on one coordinate, driven by the
/// time between samples: a low-pass filter whose cutoff rises with the signal's speed, so it is
/// steady when still and keeps up when moving. Speeds are divided by `scale` (the person's size
/// in pixels), so one set of parameters suits near and far people.
public struct OneEuroFilter: Equatable {
    public private(set) var value = 0.0
    public private(set) var speed = 0.0
    public private(set) var started = false

    public init() {}

    /// Smoothing factor of a first-order low-pass filter with `cutoff` Hz over `dt` seconds.
    @inline(__always) static func alpha(cutoff: Double, dt: Double) -> Double {
        let tau = 1 / (2 * Double.pi * cutoff)
        return 1 / (1 + tau / dt)
    }

    /// Filters sample `x` taken `dt` seconds after the previous one (dt = 0: no time passed, the
    /// filter keeps its value; the first sample passes unchanged).
    public mutating func filter(_ x: Double, dt: Double, scale: Double, minCutoff: Double, beta: Double,
                                derivativeCutoff: Double) -> Double {
        guard started else {
            started = true
            value = x
            speed = 0
            return x
        }
        guard dt > 0 else { return value }
        let rawSpeed = (x - value) / dt
        speed += Self.alpha(cutoff: derivativeCutoff, dt: dt) * (rawSpeed - speed)
        let cutoff = minCutoff + beta * abs(speed) / max(scale, 1)
        value += Self.alpha(cutoff: cutoff, dt: dt) * (x - value)
        return value
    }
}
