#if canImport(Glibc)
import Glibc
#endif

// Sizes and memory whose amount a host or a file chooses: an overflow or a failed allocation is
// reported as an error (HRNET_ERR_INVALID_ARGUMENT / HRNET_ERR_OUT_OF_MEMORY), never trapped.
// Swift's own allocations (Array, UnsafeMutablePointer.allocate) abort the process when memory
// runs out, so nothing whose size grows with the input or the file may use them.

/// `a * b * ...`, or `error` if the product overflows Int (or a factor is negative).
@inline(__always)
func checkedProduct(_ factors: Int..., or error: @autoclosure () -> HRNetError) throws -> Int {
    var p = 1
    for f in factors {
        guard f >= 0 else { throw error() }
        let (r, o) = p.multipliedReportingOverflow(by: f)
        guard !o else { throw error() }
        p = r
    }
    return p
}

/// `a + b`, or `error` if the sum overflows Int.
@inline(__always)
func checkedSum(_ a: Int, _ b: Int, or error: @autoclosure () -> HRNetError) throws -> Int {
    let (r, o) = a.addingReportingOverflow(b)
    guard !o else { throw error() }
    return r
}

/// The most floats one checked allocation may hold: its byte count (with AlignedFloats' padding)
/// must fit in Int.
let maxCheckedFloats = Int.max / 64

/// Heap memory for `count` values of a trivial type, uninitialised, freed with the owner;
/// a failed allocation throws HRNetError.outOfMemory instead of aborting.
final class CheckedBuffer<T> {
    let pointer: UnsafeMutablePointer<T>
    let count: Int

    init(count: Int, what: @autoclosure () -> String) throws {
        let (bytes, o) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard count >= 0, !o, let raw = malloc(bytes) else {
            throw HRNetError.outOfMemory("cannot allocate \(what()): \(count) x \(MemoryLayout<T>.stride) bytes")
        }
        pointer = raw.bindMemory(to: T.self, capacity: max(count, 1))
        self.count = count
    }

    deinit { free(pointer) }
}
