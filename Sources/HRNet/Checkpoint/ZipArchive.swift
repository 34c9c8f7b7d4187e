/// Reads the directory of a zip archive held in memory: PyTorch's checkpoint format (since 1.6)
/// is a zip of *stored* (uncompressed) entries, so an entry is just a byte range of the file.
/// Every offset and length is checked against the buffer; a truncated or corrupted archive is a
/// `.format` error, never an out-of-bounds read.
struct ZipArchive {
    struct Entry {
        let name: String
        let offset: Int  // of the data, in the archive
        let size: Int
    }

    let entries: [String: Entry]
    /// Entry names in directory order.
    let names: [String]

    static func isZip(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 4 && b.readLE32(0) == 0x0403_4b50
    }

    init(_ b: UnsafeRawBufferPointer, what: String) throws {
        func bad(_ why: String) -> HRNetError { .format("\(what): corrupted or truncated zip archive: \(why)") }
        // End of central directory: 22 bytes + a comment of up to 65535 bytes, at the end.
        guard b.count >= 22 else { throw bad("too short for a zip directory (\(b.count) bytes)") }
        var eocd = -1
        var i = b.count - 22
        let lowest = max(0, b.count - 22 - 65535)
        while i >= lowest {
            if b.readLE32(i) == 0x0605_4b50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw bad("no end-of-directory record (the file was cut short?)") }
        var count = Int(b.readLE16(eocd + 10))
        var cdSize = Int(b.readLE32(eocd + 12))
        var cdOffset = Int(b.readLE32(eocd + 16))
        // Zip64: a locator 20 bytes before the classic record points at the zip64 record.
        if eocd >= 20, b.readLE32(eocd - 20) == 0x0706_4b50 {
            let rec = Int(truncatingIfNeeded: b.readLE64(eocd - 20 + 8))
            guard rec >= 0, rec <= b.count - 56, b.readLE32(rec) == 0x0606_4b50 else {
                throw bad("bad zip64 end-of-directory record")
            }
            count = Int(truncatingIfNeeded: b.readLE64(rec + 32))
            cdSize = Int(truncatingIfNeeded: b.readLE64(rec + 40))
            cdOffset = Int(truncatingIfNeeded: b.readLE64(rec + 48))
        }
        guard count >= 0, cdSize >= 0, cdOffset >= 0, cdOffset <= b.count, cdSize <= b.count - cdOffset else {
            throw bad("directory at \(cdOffset) (+\(cdSize)) lies outside the \(b.count)-byte file")
        }
        var entries: [String: Entry] = [:]
        var names: [String] = []
        var p = cdOffset
        for n in 0..<count {
            guard b.count - p >= 46, b.readLE32(p) == 0x0201_4b50 else { throw bad("directory entry \(n) is damaged") }
            let method = b.readLE16(p + 10)
            var csize = Int(b.readLE32(p + 20))
            var usize = Int(b.readLE32(p + 24))
            let nameLen = Int(b.readLE16(p + 28)), extraLen = Int(b.readLE16(p + 30)), commentLen = Int(b.readLE16(p + 32))
            var local = Int(b.readLE32(p + 42))
            guard 46 + nameLen + extraLen + commentLen <= b.count - p else { throw bad("directory entry \(n) runs past the end") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: b[(p + 46)..<(p + 46 + nameLen)]), as: UTF8.self)
            let shown = PickleValue.short(name)
            // Zip64 extra field: replaces the fields that are 0xFFFFFFFF, in order.
            var e = p + 46 + nameLen
            let eEnd = e + extraLen
            while e + 4 <= eEnd {
                let id = b.readLE16(e), len = Int(b.readLE16(e + 2))
                let fieldEnd = min(e + 4 + len, eEnd)  // a field may not claim bytes past the extra area
                if id == 1 {
                    var q = e + 4
                    if usize == 0xFFFF_FFFF, q + 8 <= fieldEnd { usize = Int(truncatingIfNeeded: b.readLE64(q)); q += 8 }
                    if csize == 0xFFFF_FFFF, q + 8 <= fieldEnd { csize = Int(truncatingIfNeeded: b.readLE64(q)); q += 8 }
                    if local == 0xFFFF_FFFF, q + 8 <= fieldEnd { local = Int(truncatingIfNeeded: b.readLE64(q)); q += 8 }
                }
                e += 4 + len
            }
            guard method == 0 else {
                throw HRNetError.format("\(what): zip entry '\(shown)' is compressed (method \(method)); PyTorch checkpoints store entries uncompressed")
            }
            guard local >= 0, local <= b.count - 30, b.readLE32(local) == 0x0403_4b50 else {
                throw bad("local header of '\(shown)' is missing or damaged")
            }
            // local <= count - 30 and the two lengths are 16-bit: no overflow.
            let data = local + 30 + Int(b.readLE16(local + 26)) + Int(b.readLE16(local + 28))
            guard csize >= 0, usize == csize, data <= b.count, csize <= b.count - data else {
                throw bad("entry '\(shown)' (\(csize) bytes at \(data)) runs past the end of the \(b.count)-byte file")
            }
            entries[name] = Entry(name: name, offset: data, size: csize)
            names.append(name)
            p += 46 + nameLen + extraLen + commentLen
        }
        self.entries = entries
        self.names = names
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func readLE16(_ o: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    @inline(__always) func readLE32(_ o: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    @inline(__always) func readLE64(_ o: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
}
