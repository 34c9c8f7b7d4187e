/// A restricted unpickler: it understands the pickle opcodes that `torch.save` and OpenMMLab
/// write and builds plain values from them. It never imports or calls anything: a `GLOBAL` is
/// only a name, and calling one (`REDUCE`, `NEWOBJ`) yields a value only for the handful of
/// callables a checkpoint needs (tensor rebuilding, `OrderedDict`); anything else becomes an
/// opaque placeholder, so metadata the engine does not need is skipped without failing.
///
/// Hostile input is expected. Containers record their nesting depth, which is capped
/// (`maxDepth`), so freeing or walking a value can never overflow the stack; a container is frozen
/// once it is put inside another one or handed to a call, so no cycle can be built and recorded
/// depths stay true; the total work is bounded by the pickle's size (`workPerByte`), so a small
/// pickle that expands (DUP, GET of a big list) cannot hang the reader; and values are never
/// printed in full (`summary`).
final class PickleList {
    var items: [PickleValue] = []
    var depth = 1
    var frozen = false
}
final class PickleTuple {
    let items: [PickleValue]
    let depth: Int
    init(_ items: [PickleValue], depth: Int) { self.items = items; self.depth = depth }
}
final class PickleDict {
    var pairs: [(key: PickleValue, value: PickleValue)] = []
    var depth = 1
    var frozen = false
    subscript(_ key: String) -> PickleValue? {
        for p in pairs { if case .string(let s) = p.key, s == key { return p.value } }
        return nil
    }
}

/// Element types of tensor storages.
enum DType: Equatable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool
    var size: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }
    /// From a storage class name (`torch.FloatStorage`) or a dtype name (`torch.float32`).
    init?(torchName: String) {
        switch torchName {
        case "FloatStorage", "float32", "float": self = .float32
        case "DoubleStorage", "float64", "double": self = .float64
        case "HalfStorage", "float16", "half": self = .float16
        case "BFloat16Storage", "bfloat16": self = .bfloat16
        case "LongStorage", "int64", "long": self = .int64
        case "IntStorage", "int32", "int": self = .int32
        case "ShortStorage", "int16", "short": self = .int16
        case "CharStorage", "int8": self = .int8
        case "ByteStorage", "uint8": self = .uint8
        case "BoolStorage", "bool": self = .bool
        default: return nil
        }
    }
}

/// A storage named by a checkpoint's persistent id; resolved to bytes by the reader.
struct StorageRef { let key: String; let dtype: DType }

/// A tensor as pickled: a strided view of a storage.
struct TensorRef {
    let storage: StorageRef
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}

indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes(Int)                  // only the length is kept
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    case storage(StorageRef)
    case tensor(TensorRef)
    case opaque(String)              // an object of a class the engine does not interpret
    case mark

    var intValue: Int? { if case .int(let v) = self { return Int(v) } else { return nil } }
    /// Nesting depth: 0 for a scalar, 1 + the deepest element for a container.
    var depth: Int {
        switch self {
        case .tuple(let t): return t.depth
        case .list(let l): return l.depth
        case .dict(let d): return d.depth
        default: return 0
        }
    }
    /// A short description for messages: never the whole value.
    var summary: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let v): return String(v)
        case .float(let v): return String(v)
        case .string(let s): return "'\(Self.short(s))'"
        case .bytes(let n): return "\(n) bytes"
        case .tuple(let t): return "a tuple of \(t.items.count) items"
        case .list(let l): return "a list of \(l.items.count) items"
        case .dict(let d): return "a dict of \(d.pairs.count) items"
        case .global(let m, let n): return "\(Self.short(m)).\(Self.short(n))"
        case .storage(let s): return "storage '\(Self.short(s.key))'"
        case .tensor: return "a tensor"
        case .opaque(let n): return "an object of \(Self.short(n))"
        case .mark: return "a mark"
        }
    }
    /// `s` cut to at most `limit` characters for a message.
    static func short(_ s: String, _ limit: Int = 80) -> String {
        s.utf8.count <= limit ? s : String(decoding: s.utf8.prefix(limit), as: UTF8.self) + "..."
    }
    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    var sequence: [PickleValue]? {
        switch self {
        case .tuple(let t): return t.items
        case .list(let l): return l.items
        default: return nil
        }
    }
}

struct Unpickler {
    private let b: UnsafeRawBufferPointer
    private(set) var pos: Int
    private let end: Int
    private let what: String
    private let persistentLoad: (PickleValue) throws -> PickleValue
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Work left (values pushed, copied or visited); starts at `workPerByte` per pickle byte.
    private var budget: Int

    /// Deepest nesting accepted: a checkpoint's state dict is about 5 deep.
    static let maxDepth = 1000
    /// Work allowed per byte of pickle (plus a fixed allowance): generous for any real checkpoint,
    /// small enough that a hostile pickle ends in well under a second.
    static let workPerByte = 16

    init(_ bytes: UnsafeRawBufferPointer, start: Int = 0, end: Int? = nil, what: String,
         persistentLoad: @escaping (PickleValue) throws -> PickleValue = { _ in .none }) {
        b = bytes; pos = start; self.end = end ?? bytes.count; self.what = what
        self.persistentLoad = persistentLoad
        let n = max(0, self.end - start)
        budget = n > Int.max / (2 * Self.workPerByte) ? Int.max / 2 : n * Self.workPerByte + 1_000_000
    }

    private func bad(_ why: String, at: Int? = nil) -> HRNetError {
        .format("\(what): corrupted pickle at byte \(at ?? pos): \(why)")
    }

    private mutating func byte() throws -> UInt8 {
        guard pos < end else { throw bad("unexpected end of data (truncated file?)") }
        defer { pos += 1 }
        return b[pos]
    }
    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= end - pos else { throw bad("a \(n)-byte field runs past the end of the data") }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: b[pos..<(pos + n)])
    }
    private mutating func u16() throws -> Int { Int(try take(2).readLE16(0)) }
    private mutating func u32() throws -> Int { Int(try take(4).readLE32(0)) }
    private mutating func i32() throws -> Int64 { Int64(Int32(bitPattern: try take(4).readLE32(0))) }
    private mutating func u64() throws -> Int {
        let v = try take(8).readLE64(0)
        guard v <= UInt64(Int.max) else { throw bad("length \(v) is impossible") }
        return Int(v)
    }
    private mutating func line() throws -> String {
        var e = pos
        while e < end && b[e] != 0x0A { e += 1 }
        guard e < end else { throw bad("unterminated text field") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: b[pos..<e]), as: UTF8.self)
        pos = e + 1
        return s
    }
    private mutating func utf8(_ n: Int) throws -> String { String(decoding: try take(n), as: UTF8.self) }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw bad("stack underflow") }
        if case .mark = v { throw bad("unexpected mark") }
        return v
    }
    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw bad("no mark on the stack") }
        guard m <= stack.count else { throw bad("mark past the stack") }
        try spend(stack.count - m)
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        guard case .mark? = stack.popLast() else { throw bad("mark mismatch") }
        return items
    }
    private mutating func push(_ v: PickleValue) { stack.append(v) }

    private mutating func spend(_ n: Int) throws {
        budget -= n
        guard budget >= 0 else { throw bad("the pickle is too complex for its size (hostile or corrupted file?)") }
    }

    /// Marks the containers in `items` as used (they can no longer change) and returns the depth
    /// of a container holding them.
    private mutating func adopt(_ items: [PickleValue]) throws -> Int {
        var deepest = 0
        for v in items {
            switch v {
            case .list(let l): l.frozen = true
            case .dict(let d): d.frozen = true
            case .mark: throw bad("a mark inside a container")
            default: break
            }
            deepest = max(deepest, v.depth)
        }
        guard deepest < Self.maxDepth else { throw bad("values nested deeper than \(Self.maxDepth) levels") }
        return deepest + 1
    }
    private mutating func tuple(_ items: [PickleValue]) throws -> PickleValue {
        .tuple(PickleTuple(items, depth: try adopt(items)))
    }
    /// Adds `items` to a list or dict that is still open for changes (not yet inside another
    /// container, and not one of the items: no cycles).
    private mutating func grow(_ list: PickleList, with items: [PickleValue]) throws {
        guard !list.frozen else { throw bad("a list is changed after it was used") }
        for v in items { if case .list(let l) = v, l === list { throw bad("a list that contains itself") } }
        list.depth = max(list.depth, try adopt(items))
        list.items += items
    }
    private mutating func grow(_ dict: PickleDict, with items: [PickleValue]) throws {
        guard !dict.frozen else { throw bad("a dict is changed after it was used") }
        for v in items { if case .dict(let d) = v, d === dict { throw bad("a dict that contains itself") } }
        dict.depth = max(dict.depth, try adopt(items))
        for i in stride(from: 0, to: items.count, by: 2) { dict.pairs.append((items[i], items[i + 1])) }
    }

    /// Reads one pickle (up to and including STOP) and returns its value.
    mutating func load() throws -> PickleValue {
        while true {
            let opAt = pos
            let op = try byte()
            try spend(1)
            switch op {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: _ = try u64()                                    // FRAME (length only)
            case 0x2E:                                                   // STOP
                let v = try pop()
                return v
            case 0x28: marks.append(stack.count + 1); push(.mark)        // MARK
            case 0x30: _ = try pop()                                     // POP
            case 0x31: _ = try popMark()                                 // POP_MARK
            case 0x32: guard let t = stack.last else { throw bad("DUP on empty stack") }; push(t)
            case 0x4E: push(.none)                                       // NONE
            case 0x88: push(.bool(true))
            case 0x89: push(.bool(false))
            case 0x49:                                                   // INT (text)
                let s = try line()
                if s == "01" { push(.bool(true)) } else if s == "00" { push(.bool(false)) }
                else { guard let v = Int64(s) else { throw bad("bad INT '\(PickleValue.short(s))'", at: opAt) }; push(.int(v)) }
            case 0x4A: push(.int(try i32()))                             // BININT
            case 0x4B: push(.int(Int64(try byte())))                     // BININT1
            case 0x4D: push(.int(Int64(try u16())))                      // BININT2
            case 0x4C:                                                   // LONG (text)
                var s = try line()
                if s.hasSuffix("L") { s.removeLast() }
                guard let v = Int64(s) else { throw bad("LONG '\(PickleValue.short(s))' out of range", at: opAt) }
                push(.int(v))
            case 0x8A, 0x8B:                                             // LONG1, LONG4
                let n = op == 0x8A ? Int(try byte()) : try u32()
                let d = try take(n)
                if n == 0 { push(.int(0)); break }
                if n > 8 { push(.opaque("long(\(n) bytes)")); break }  // too big to matter here
                var v: UInt64 = 0
                for i in 0..<n { v |= UInt64(d[i]) << (8 * UInt64(i)) }
                if n < 8, d[n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
                push(.int(Int64(bitPattern: v)))
            case 0x46:                                                   // FLOAT (text)
                let s = try line()
                guard let v = Double(s) else { throw bad("bad FLOAT '\(PickleValue.short(s))'", at: opAt) }
                push(.float(v))
            case 0x47:                                                   // BINFLOAT (big-endian)
                let d = try take(8)
                var v: UInt64 = 0
                for i in 0..<8 { v = (v << 8) | UInt64(d[i]) }
                push(.float(Double(bitPattern: v)))
            case 0x58: push(.string(try utf8(try u32())))                // BINUNICODE
            case 0x8C: push(.string(try utf8(Int(try byte()))))          // SHORT_BINUNICODE
            case 0x8D: push(.string(try utf8(try u64())))                // BINUNICODE8
            case 0x56: push(.string(try line()))                         // UNICODE (raw-unicode-escape)
            case 0x53:                                                   // STRING (quoted text)
                var s = try line()
                if s.count >= 2, let f = s.first, f == "'" || f == "\"" { s = String(s.dropFirst().dropLast()) }
                push(.string(s))
            case 0x54: push(.string(try utf8(try u32())))                // BINSTRING
            case 0x55: push(.string(try utf8(Int(try byte()))))          // SHORT_BINSTRING
            case 0x42: let n = try u32(); _ = try take(n); push(.bytes(n))        // BINBYTES
            case 0x43: let n = Int(try byte()); _ = try take(n); push(.bytes(n))  // SHORT_BINBYTES
            case 0x8E, 0x96: let n = try u64(); _ = try take(n); push(.bytes(n))  // BINBYTES8, BYTEARRAY8
            case 0x5D: push(.list(PickleList()))                          // EMPTY_LIST
            case 0x6C: let l = PickleList(); try grow(l, with: try popMark()); push(.list(l)) // LIST
            case 0x61:                                                    // APPEND
                let v = try pop()
                guard case .list(let l)? = stack.last else { throw bad("APPEND to a non-list", at: opAt) }
                try grow(l, with: [v])
            case 0x65:                                                    // APPENDS
                let items = try popMark()
                guard case .list(let l)? = stack.last else { throw bad("APPENDS to a non-list", at: opAt) }
                try grow(l, with: items)
            case 0x29: push(try tuple([]))                                // EMPTY_TUPLE
            case 0x74: push(try tuple(try popMark()))                     // TUPLE
            case 0x85: let a = try pop(); push(try tuple([a]))
            case 0x86: let b2 = try pop(); let a = try pop(); push(try tuple([a, b2]))
            case 0x87: let c = try pop(); let b2 = try pop(); let a = try pop(); push(try tuple([a, b2, c]))
            case 0x7D: push(.dict(PickleDict()))                          // EMPTY_DICT
            case 0x64:                                                    // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw bad("DICT with an odd number of items", at: opAt) }
                let d = PickleDict()
                try grow(d, with: items)
                push(.dict(d))
            case 0x73:                                                    // SETITEM
                let v = try pop(); let k = try pop()
                try setItems([k, v], opAt)
            case 0x75:                                                    // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw bad("SETITEMS with an odd number of items", at: opAt) }
                try setItems(items, opAt)
            case 0x8F: push(.list(PickleList()))                          // EMPTY_SET (kept as a list)
            case 0x90:                                                    // ADDITEMS
                let items = try popMark()
                guard case .list(let l)? = stack.last else { throw bad("ADDITEMS to a non-set", at: opAt) }
                try grow(l, with: items)
            case 0x91: let l = PickleList(); try grow(l, with: try popMark()); push(.list(l)) // FROZENSET
            case 0x63:                                                    // GLOBAL
                let module = try line(), name = try line()
                push(.global(module: module, name: name))
            case 0x93:                                                    // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let n = name.stringValue, let m = module.stringValue else { throw bad("STACK_GLOBAL needs two strings", at: opAt) }
                push(.global(module: m, name: n))
            case 0x52:                                                    // REDUCE
                let args = try pop(), callable = try pop()
                push(try call(callable, args, opAt))
            case 0x81:                                                    // NEWOBJ
                let args = try pop(), cls = try pop()
                push(try call(cls, args, opAt))
            case 0x92:                                                    // NEWOBJ_EX
                _ = try pop(); let args = try pop(); let cls = try pop()
                push(try call(cls, args, opAt))
            case 0x69:                                                    // INST
                let module = try line(), name = try line()
                _ = try popMark()
                push(.opaque("\(PickleValue.short(module)).\(PickleValue.short(name))"))
            case 0x6F:                                                    // OBJ
                let items = try popMark()
                let cls = items.first ?? .none
                _ = try adopt(items)
                if case .global(let m, let n) = cls { push(.opaque("\(PickleValue.short(m)).\(PickleValue.short(n))")) } else { push(.opaque("object")) }
            case 0x62: _ = try pop()                                      // BUILD: state ignored
                guard !stack.isEmpty else { throw bad("BUILD on empty stack", at: opAt) }
            case 0x70: let s = try line(); guard let i = Int(s) else { throw bad("bad PUT", at: opAt) }; try put(i)
            case 0x71: try put(Int(try byte()))                           // BINPUT
            case 0x72: try put(try u32())                                 // LONG_BINPUT
            case 0x94: try put(memo.count)                                // MEMOIZE
            case 0x67: let s = try line(); guard let i = Int(s) else { throw bad("bad GET", at: opAt) }; try get(i, opAt)
            case 0x68: try get(Int(try byte()), opAt)                     // BINGET
            case 0x6A: try get(try u32(), opAt)                           // LONG_BINGET
            case 0x50: push(try persistentLoad(.string(try line())))      // PERSID
            case 0x51: push(try persistentLoad(try pop()))                // BINPERSID
            default:
                throw bad("unknown or unsupported opcode 0x\(String(op, radix: 16))", at: opAt)
            }
        }
    }

    private mutating func put(_ i: Int) throws {
        guard let t = stack.last else { throw bad("PUT on empty stack") }
        memo[i] = t
    }
    private mutating func get(_ i: Int, _ at: Int) throws {
        guard let v = memo[i] else { throw bad("GET of unknown memo entry \(i)", at: at) }
        push(v)
    }
    private mutating func setItems(_ items: [PickleValue], _ at: Int) throws {
        guard let top = stack.last else { throw bad("SETITEMS on empty stack", at: at) }
        switch top {
        case .dict(let d): try grow(d, with: items)
        case .opaque: _ = try adopt(items)  // items of an object we do not interpret
        default: throw bad("SETITEMS on a non-dict", at: at)
        }
    }

    /// The only callables that produce values. Everything else is an opaque placeholder.
    private mutating func call(_ callable: PickleValue, _ args: PickleValue, _ at: Int) throws -> PickleValue {
        _ = try adopt([callable, args])
        guard case .global(let module, let name) = callable else {
            return .opaque("call")
        }
        let a = args.sequence ?? []
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            let d = PickleDict()
            if let items = a.first?.sequence {
                try spend(items.count)
                var kvs: [PickleValue] = []
                for it in items { if let kv = it.sequence, kv.count == 2 { kvs += kv } }
                try grow(d, with: kvs)
            }
            return .dict(d)
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard a.count >= 4, case .storage(let s) = a[0], let off = a[1].intValue,
                  let shape = a[2].sequence?.compactMap({ $0.intValue }), let stride = a[3].sequence?.compactMap({ $0.intValue }),
                  shape.count == a[2].sequence?.count, stride.count == shape.count
            else { throw bad("malformed tensor record", at: at) }
            return .tensor(TensorRef(storage: s, offset: off, shape: shape, stride: stride))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = a.first else { throw bad("malformed parameter record", at: at) }
            return data
        case ("torch", "Size"), ("builtins", "tuple"), ("__builtin__", "tuple"):
            let items = a.first?.sequence ?? []
            try spend(items.count)
            return try tuple(items)
        default:
            return .opaque("\(PickleValue.short(module)).\(PickleValue.short(name))")
        }
    }
}
