#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Checkpoint tensors are views into it, so a
/// checkpoint is never copied into memory before its weights are packed.
public final class MappedFile {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw HRNetError.io("cannot open '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            throw HRNetError.io("cannot stat '\(path)': \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw HRNetError.io("'\(path)' is a directory, not a checkpoint file")
        }
        count = Int(st.st_size)
        if count == 0 {
            throw HRNetError.format("'\(path)' is empty (0 bytes): not a checkpoint")
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        if p == MAP_FAILED || p == nil {
            let e = errno
            let why = "cannot map '\(path)' (\(count) bytes): \(String(cString: strerror(e)))"
            throw e == ENOMEM ? HRNetError.outOfMemory(why) : HRNetError.io(why)
        }
        base = p
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// The file's bytes; valid while this object lives.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
