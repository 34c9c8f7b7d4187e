#if canImport(Glibc)
import Glibc
#endif

/// A tensor of a checkpoint: a strided view into the memory-mapped file (no copy is made until
/// `floats()` is asked for).
public struct TensorView {
    let dtype: DType
    public let shape: [Int]
    let strides: [Int]
    let base: UnsafeRawPointer  // element 0
    /// Whether `releasePages` may drop the file pages under it (a mapped file: yes; a caller's
    /// memory: never).
    let releasable: Bool
    /// Elements; the loader has checked that this fits the tensor's storage.
    public let count: Int
    /// Bytes from element 0 to the end of the last element (inside the storage).
    let spanBytes: Int

    /// The elements in row-major order, converted to Float, in a checked allocation.
    public func floats() throws -> AlignedFloats {
        let n = count
        let out = try AlignedFloats(count: n)
        if n == 0 { return out }
        let contiguous = isContiguous
        do { let o = out.buffer
            if contiguous && dtype == .float32 {
                o.baseAddress!.update(from: base.assumingMemoryBound(to: Float.self), count: n)
                return out
            }
            var idx = [Int](repeating: 0, count: shape.count)
            for i in 0..<n {
                var off = 0
                for d in 0..<shape.count { off += idx[d] * strides[d] }
                o[i] = element(off)
                var d = shape.count - 1
                while d >= 0 { idx[d] += 1; if idx[d] < shape[d] { break }; idx[d] = 0; d -= 1 }
            }
        }
        return out
    }

    var isContiguous: Bool {
        var expect = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expect { return false }
            expect *= shape[d]
        }
        return true
    }

    private func element(_ i: Int) -> Float {
        switch dtype {
        case .float32: return base.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        case .float64: return Float(base.loadUnaligned(fromByteOffset: i * 8, as: Double.self))
        case .float16:
            let bits = base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
            return Self.halfToFloat(bits)
        case .bfloat16:
            let bits = UInt32(base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16
            return Float(bitPattern: bits)
        case .int64: return Float(base.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
        case .int32: return Float(base.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
        case .int16: return Float(base.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))
        case .int8: return Float(base.loadUnaligned(fromByteOffset: i, as: Int8.self))
        case .uint8, .bool: return Float(base.loadUnaligned(fromByteOffset: i, as: UInt8.self))
        }
    }

    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F), man = UInt32(h & 0x3FF)
        if exp == 0 { return Float(sign: sign != 0 ? .minus : .plus, exponent: -24, significand: Float(man)) }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
        return Float(bitPattern: sign | UInt32(exp + 112) << 23 | (man << 13))
    }

    /// Tells the kernel the tensor's file pages are no longer needed (they are re-read from the
    /// file if touched again), so loading does not hold the whole checkpoint in memory.
    public func releasePages() {
        guard releasable else { return }
        let page = 4096
        let start = (Int(bitPattern: base) + page - 1) & ~(page - 1)
        let end = (Int(bitPattern: base) + spanBytes) & ~(page - 1)
        if end > start { madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) }
    }

    /// Whether the tensor holds integers (e.g. BatchNorm's `num_batches_tracked`).
    public var isInteger: Bool {
        switch dtype {
        case .int64, .int32, .int16, .int8, .uint8, .bool: return true
        default: return false
        }
    }
}

/// A PyTorch checkpoint read from disk: the tensors of its state dict by (normalised) name.
/// Formats: the zip format of torch >= 1.6 and the legacy (pre-zip) `torch.save` format of the
/// HRNet model zoo. Layouts: a bare state dict, `{'state_dict': ...}` / `{'model': ...}`
/// wrappers, OpenMMLab (`backbone.`, `keypoint_head.` / `head.` prefixes) and `module.`.
public final class Checkpoint {
    public let path: String
    /// How messages name the checkpoint: the quoted path, or "checkpoint in memory".
    public let name: String
    /// Tensors by normalised key (e.g. `stage2.0.branches.1.3.conv2.weight`, `final_layer.bias`).
    public let tensors: [String: TensorView]
    /// Keys in file order.
    public let keys: [String]
    /// Keeps the bytes the tensors view alive (the mapped file; nil for a caller's memory).
    private let owner: AnyObject?

    /// Tensors with more dimensions than this are refused (convolutions have 4).
    static let maxDimensions = 8

    public convenience init(path: String) throws {
        let file = try MappedFile(path: path)
        try self.init(bytes: file.bytes, path: path, name: Self.displayName(path), owner: file)
    }

    /// A checkpoint held in the caller's memory. The tensors view `bytes`, which must outlive
    /// this object; their pages are never released.
    public convenience init(bytes: UnsafeRawBufferPointer, name: String = "checkpoint in memory") throws {
        guard bytes.count > 0, bytes.baseAddress != nil else {
            throw HRNetError.format("\(name) is empty (0 bytes): not a checkpoint")
        }
        try self.init(bytes: bytes, path: "", name: name, owner: nil)
    }

    private init(bytes b: UnsafeRawBufferPointer, path: String, name: String, owner: AnyObject?) throws {
        self.path = path
        self.name = name
        self.owner = owner
        let root: PickleValue
        var resolved: [String: (UnsafeRawPointer, Int)] = [:]  // storage key -> bytes
        if ZipArchive.isZip(b) {
            let zip = try ZipArchive(b, what: name)
            guard let pkl = zip.names.first(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }) else {
                throw HRNetError.format("\(name): zip archive has no data.pkl: not a PyTorch checkpoint")
            }
            let prefix = String(pkl.dropLast("data.pkl".count))
            let e = zip.entries[pkl]!
            var u = Unpickler(b, start: e.offset, end: e.offset + e.size, what: "\(name) (\(PickleValue.short(pkl)))",
                              persistentLoad: { try Self.storageID($0, what: name) })
            root = try u.load()
            for (n, entry) in zip.entries where n.hasPrefix(prefix + "data/") {
                resolved[String(n.dropFirst(prefix.count + 5))] = (b.baseAddress! + entry.offset, entry.size)
            }
        } else {
            (root, resolved) = try Self.readLegacy(b, what: name)
        }
        let dict = try Self.stateDict(root, what: name)
        var tensors: [String: TensorView] = [:]
        var keys: [String] = []
        for (k, v) in dict.pairs {
            guard case .string(let key) = k, case .tensor(let t) = v else { continue }
            guard let (ptr, size) = resolved[t.storage.key] else {
                throw HRNetError.format("\(name): tensor '\(PickleValue.short(key))' refers to storage '\(PickleValue.short(t.storage.key))', which the file does not contain")
            }
            let view = try Self.view(t, ptr, size, key: key, what: name, releasable: owner != nil)
            let nk = Self.normalise(key)
            if tensors[nk] == nil { keys.append(nk) }
            tensors[nk] = view
        }
        if tensors.isEmpty {
            throw HRNetError.model("\(name): the checkpoint holds no tensors: not a model state dict")
        }
        self.tensors = tensors
        self.keys = keys
    }

    static func displayName(_ path: String) -> String { "'\(path)'" }

    /// Strips the prefixes of training frameworks so keys read as in the published model.
    static func normalise(_ key: String) -> String {
        var k = Substring(key)
        if k.hasPrefix("module.") { k = k.dropFirst(7) }
        if k.hasPrefix("backbone.") { return String(k.dropFirst(9)) }
        for head in ["keypoint_head.", "head."] where k.hasPrefix(head) {
            let rest = k.dropFirst(head.count)
            if rest.hasPrefix("final_layer.") { return String(rest) }
        }
        return String(k)
    }

    /// The zip format's persistent id: ('storage', StorageClass, key, location, numel[, ...]).
    static func storageID(_ pid: PickleValue, what: String) throws -> PickleValue {
        guard let t = pid.sequence, t.count >= 3, t[0].stringValue == "storage" else {
            throw HRNetError.format("\(what): unexpected persistent id in pickle (not a PyTorch storage)")
        }
        guard let key = t[2].stringValue else { throw HRNetError.format("\(what): storage id without a key") }
        guard let dtype = dtypeOf(t[1]) else {
            throw HRNetError.model("\(what): storage '\(PickleValue.short(key))' has an unsupported element type (\(t[1].summary))")
        }
        return .storage(StorageRef(key: key, dtype: dtype))
    }

    static func dtypeOf(_ v: PickleValue) -> DType? {
        switch v {
        case .global(_, let name): return DType(torchName: name)
        case .opaque(let name): return DType(torchName: String(name.split(separator: ".").last ?? ""))
        default: return nil
        }
    }

    /// The bytes every legacy file starts with: protocol 2 and the magic number 0x1950a86a20f9469cfc6c.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    /// Legacy `torch.save`: magic, protocol version, system info, the object (storages as
    /// persistent ids), the list of storage keys, then each storage as an 8-byte element count
    /// and its raw little-endian bytes. Storage locations ('cuda:0') are ignored.
    static func readLegacy(_ b: UnsafeRawBufferPointer, what: String) throws -> (PickleValue, [String: (UnsafeRawPointer, Int)]) {
        guard b.count >= legacyMagic.count, legacyMagic.indices.allSatisfy({ b[$0] == legacyMagic[$0] }) else {
            if b.count >= 2, b[0] == 0x80 {
                throw HRNetError.format("\(what): a pickle file, but not one written by torch.save (no PyTorch magic number)")
            }
            throw HRNetError.format("\(what): not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save file)")
        }
        var pos = legacyMagic.count
        var u = Unpickler(b, start: pos, what: what)
        let proto = try u.load()
        guard proto.intValue == 1001 else { throw HRNetError.format("\(what): unsupported legacy protocol version (\(proto.summary))") }
        pos = u.pos
        u = Unpickler(b, start: pos, what: what)
        _ = try u.load()  // system info
        pos = u.pos
        var dtypes: [String: DType] = [:]
        var views: [String: (root: String, offset: Int)] = [:]
        var main = Unpickler(b, start: pos, what: what, persistentLoad: { pid in
            guard let t = pid.sequence, t.count >= 5, t[0].stringValue == "storage", let key = t[2].stringValue else {
                throw HRNetError.format("\(what): unexpected persistent id in legacy pickle")
            }
            guard let dtype = dtypeOf(t[1]) else {
                throw HRNetError.model("\(what): storage '\(PickleValue.short(key))' has an unsupported element type")
            }
            dtypes[key] = dtype
            if t.count >= 6, let view = t[5].sequence, view.count >= 2, let vk = view[0].stringValue, let off = view[1].intValue {
                views[vk] = (key, off)
                return .storage(StorageRef(key: vk, dtype: dtype))
            }
            return .storage(StorageRef(key: key, dtype: dtype))
        })
        let root = try main.load()
        pos = main.pos
        u = Unpickler(b, start: pos, what: what)
        let keyList = try u.load()
        pos = u.pos
        guard let keys = keyList.sequence?.compactMap({ $0.stringValue }) else {
            throw HRNetError.format("\(what): legacy storage key list is missing")
        }
        var resolved: [String: (UnsafeRawPointer, Int)] = [:]
        for key in keys {
            guard b.count - pos >= 8 else { throw HRNetError.format("\(what): truncated: storage '\(PickleValue.short(key))' is missing its header") }
            let n = Int(truncatingIfNeeded: b.readLE64(pos))
            let size = dtypes[key]?.size ?? 4
            guard n >= 0, n <= (b.count - pos - 8) / size else {
                throw HRNetError.format("\(what): truncated: storage '\(PickleValue.short(key))' needs \(n) elements, the file ends first")
            }
            resolved[key] = (b.baseAddress! + pos + 8, n * size)
            pos += 8 + n * size
        }
        for (vk, v) in views {
            guard let (p, size) = resolved[v.root], let dt = dtypes[v.root] else { continue }
            let (off, overflow) = v.offset.multipliedReportingOverflow(by: dt.size)
            if !overflow && off >= 0 && off <= size { resolved[vk] = (p + off, size - off) }
        }
        return (root, resolved)
    }

    static func stateDict(_ root: PickleValue, what: String) throws -> PickleDict {
        guard case .dict(let d) = root else {
            throw HRNetError.model("\(what): the checkpoint does not hold a dictionary of tensors")
        }
        for wrapper in ["state_dict", "model", "net"] {
            if case .dict(let inner)? = d[wrapper] { return inner }
        }
        return d
    }

    /// The tensor as a view of its storage's `size` bytes at `p`, after checking, with overflow-
    /// checked arithmetic, that every element it names lies inside those bytes and that it has no
    /// more elements than the storage holds (so no zero-stride or overlapping view can make a tiny
    /// file ask for terabytes; published checkpoints contain neither).
    static func view(_ t: TensorRef, _ p: UnsafeRawPointer, _ size: Int, key: String, what: String,
                     releasable: Bool) throws -> TensorView {
        let es = t.storage.dtype.size
        let name = "\(what): tensor '\(PickleValue.short(key))'"
        guard t.shape.count <= maxDimensions else {
            throw HRNetError.format("\(name) has \(t.shape.count) dimensions (at most \(maxDimensions) are accepted)")
        }
        let shape = "\(t.shape)"
        guard t.offset >= 0, t.shape.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }) else {
            throw HRNetError.format("\(name) has a negative offset, size or stride")
        }
        var count = 1, last = t.offset, overflow = false
        for (n, st) in zip(t.shape, t.stride) {
            var o1 = false, o2 = false, o3 = false
            (count, o1) = count.multipliedReportingOverflow(by: n)
            if n > 1 {
                guard st > 0 else {
                    throw HRNetError.format("\(name) of shape \(shape) repeats its elements (stride 0): not a checkpoint tensor")
                }
                var span = 0
                (span, o2) = (n - 1).multipliedReportingOverflow(by: st)
                (last, o3) = last.addingReportingOverflow(span)
            }
            overflow = overflow || o1 || o2 || o3
        }
        let storageElements = size / es
        guard !overflow, count == 0 || last < storageElements, count <= storageElements else {
            throw HRNetError.format("\(name) of shape \(shape) reaches past its storage of \(storageElements) elements (truncated or corrupted file?)")
        }
        // offset < storageElements (or count == 0 and offset <= ...): offset * es stays in the storage.
        let start = count == 0 ? 0 : t.offset * es
        return TensorView(dtype: t.storage.dtype, shape: t.shape, strides: t.stride, base: p + start,
                          releasable: releasable, count: count, spanBytes: count == 0 ? 0 : (last - t.offset + 1) * es)
    }
}
