// The C ABI of include/hrnet.h. This layer only translates: C types in, Swift calls, statuses
// and messages out. No Swift error or trap may cross into the host.
import CHRNetKernels
import HRNet
#if canImport(Glibc)
import Glibc
#endif

/// A model handle: a reference-counted box (the handle owns one retain).
final class ModelBox {
    let model: Model
    init(_ m: Model) { model = m }
}

/// A session handle: the session, its model, and the text of its last failure.
final class SessionBox {
    let session: Session
    var error: UnsafeMutablePointer<CChar>? = nil
    init(_ s: Session) { session = s }
    deinit { free(error) }
    func setError(_ message: String) {
        free(error)
        error = strdup(message)
    }
}

private let versionString: UnsafeMutablePointer<CChar> = strdup("\(HRNET_VERSION_MAJOR).\(HRNET_VERSION_MINOR).\(HRNET_VERSION_PATCH)")
private let emptyString: UnsafeMutablePointer<CChar> = strdup("")

@inline(__always) private func status(_ v: Int32) -> hrnet_status { hrnet_status(rawValue: UInt32(bitPattern: v)) }
private let ok = status(0)

/// Runs `body` for a call without a session: failures go to the thread-local message.
func global(_ body: () throws -> Void) -> hrnet_status {
    do {
        try body()
        return ok
    } catch let e as HRNetError {
        hr_tls_set_error(e.message)
        return status(e.status)
    } catch {
        hr_tls_set_error("internal error: \(error)")
        return status(7)
    }
}

func box(_ s: OpaquePointer?) -> SessionBox? {
    guard let s else { return nil }
    return Unmanaged<SessionBox>.fromOpaque(UnsafeRawPointer(s)).takeUnretainedValue()
}

/// Runs `body` for a call on a session: failures go to the session's message.
func onSession(_ s: OpaquePointer?, _ fn: String, _ body: (SessionBox) throws -> Void) -> hrnet_status {
    guard let b = box(s) else {
        hr_tls_set_error("\(fn): session is NULL")
        return status(1)
    }
    do {
        try body(b)
        return ok
    } catch let e as HRNetError {
        b.setError(e.message)
        return status(e.status)
    } catch {
        b.setError("internal error: \(error)")
        return status(7)
    }
}

@_cdecl("hrnet_version")
public func hrnetVersion() -> UnsafePointer<CChar> { UnsafePointer(versionString) }

@_cdecl("hrnet_version_number")
public func hrnetVersionNumber() -> UInt32 {
    UInt32(HRNET_VERSION_MAJOR << 16 | HRNET_VERSION_MINOR << 8 | HRNET_VERSION_PATCH)
}

private let statusNames: [UnsafeMutablePointer<CChar>] = ([
    "HRNET_OK", "HRNET_ERR_INVALID_ARGUMENT", "HRNET_ERR_IO", "HRNET_ERR_FORMAT", "HRNET_ERR_MODEL",
    "HRNET_ERR_BUFFER_TOO_SMALL", "HRNET_ERR_OUT_OF_MEMORY", "HRNET_ERR_INTERNAL",
] as [String]).map { strdup($0) }
private let unknownStatus: UnsafeMutablePointer<CChar> = strdup("HRNET_ERR_UNKNOWN")

@_cdecl("hrnet_status_string")
public func hrnetStatusString(_ s: hrnet_status) -> UnsafePointer<CChar> {
    let v = Int(s.rawValue)
    return UnsafePointer(v < statusNames.count ? statusNames[v] : unknownStatus)
}

@_cdecl("hrnet_last_error")
public func hrnetLastError(_ s: OpaquePointer?) -> UnsafePointer<CChar> {
    if let b = box(s) { return UnsafePointer(b.error ?? emptyString) }
    return hr_tls_get_error()
}

private func path(_ p: UnsafePointer<CChar>?, _ fn: String) throws -> String {
    guard let p else { throw HRNetError.invalidArgument("\(fn): path is NULL") }
    let s = String(cString: p)
    guard !s.isEmpty else { throw HRNetError.invalidArgument("\(fn): path is empty") }
    return s
}

@_cdecl("hrnet_model_load")
public func hrnetModelLoad(_ p: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> hrnet_status {
    global {
        guard let out else { throw HRNetError.invalidArgument("hrnet_model_load: out_model is NULL") }
        out.pointee = nil
        let model = try Model(path: try path(p, "hrnet_model_load"))
        out.pointee = OpaquePointer(Unmanaged.passRetained(ModelBox(model)).toOpaque())
    }
}

@_cdecl("hrnet_kernels_supported")
public func hrnetKernelsSupported(_ set: Int32) -> Int32 {
    guard let k = KernelSet(rawValue: Int(set)) else { return 0 }
    return k.isSupported ? 1 : 0
}

@_cdecl("hrnet_model_load_memory")
public func hrnetModelLoadMemory(_ data: UnsafeRawPointer?, _ size: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> hrnet_status {
    global {
        guard let out else { throw HRNetError.invalidArgument("hrnet_model_load_memory: out_model is NULL") }
        out.pointee = nil
        guard let data else { throw HRNetError.invalidArgument("hrnet_model_load_memory: data is NULL") }
        guard size != 0 else { throw HRNetError.invalidArgument("hrnet_model_load_memory: size is 0") }
        guard size > 0 else {
            throw HRNetError.invalidArgument("hrnet_model_load_memory: size is \(UInt(bitPattern: size)) bytes, more than any buffer can hold")
        }
        let model = try Model(bytes: UnsafeRawBufferPointer(start: data, count: size),
                              name: "checkpoint in memory (\(size) bytes)")
        out.pointee = OpaquePointer(Unmanaged.passRetained(ModelBox(model)).toOpaque())
    }
}

@_cdecl("hrnet_model_release")
public func hrnetModelRelease(_ m: OpaquePointer?) {
    guard let m else { return }
    Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(m)).release()
}

@_cdecl("hrnet_options_init")
public func hrnetOptionsInit(_ o: UnsafeMutablePointer<hrnet_options>?) {
    guard let o else { return }
    o.pointee = hrnet_options()
    o.pointee.struct_size = MemoryLayout<hrnet_options>.size
}

/// Sizes of the first published versions of the growable structs: hosts built against that
/// header pass these; later versions only add fields at the end, read when struct_size covers them.
let optionsV1Size = MemoryLayout<hrnet_options>.offset(of: \hrnet_options.precision)! + 4
let infoV1Size = MemoryLayout<hrnet_info>.offset(of: \hrnet_info.gmacs_per_crop)! + 8

private func makeSession(_ model: Model, _ o: UnsafePointer<hrnet_options>?, _ fn: String, ownsModel: Bool = false) throws -> Session {
    var opts = hrnet_options()
    hrnetOptionsInit(&opts)
    if let o {
        guard o.pointee.struct_size >= optionsV1Size else {
            throw HRNetError.invalidArgument("\(fn): options->struct_size is \(o.pointee.struct_size), expected \(MemoryLayout<hrnet_options>.size): fill options with hrnet_options_init()")
        }
        // Copy only what the caller's struct holds; later fields keep their defaults.
        withUnsafeMutableBytes(of: &opts) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: o, count: min(o.pointee.struct_size, MemoryLayout<hrnet_options>.size)))
        }
    }
    let h = Int(opts.input_height), w = Int(opts.input_width)
    guard (h == 0) == (w == 0) else {
        throw HRNetError.invalidArgument("\(fn): input size \(h)x\(w): give both height and width, or neither (0x0 = default)")
    }
    guard opts.num_threads >= 0 else { throw HRNetError.invalidArgument("\(fn): num_threads is \(opts.num_threads); use 0 for all cores") }
    guard let precision = Precision(rawValue: Int(opts.precision)) else {
        throw HRNetError.invalidArgument("\(fn): unknown precision \(opts.precision) (0 = FP32, 1 = BF16, 2 = INT8)")
    }
    // INT8's calibration: a file, or its bytes (read during this call only).
    var calibration: Calibration? = nil
    if precision == .int8 {
        if let path = opts.calibration_path {
            calibration = try Calibration(path: String(cString: path))
        } else if let data = opts.calibration_data {
            calibration = try Calibration(bytes: UnsafeRawBufferPointer(start: data, count: opts.calibration_size),
                                          name: "calibration_data")
        }
    }
    guard let kernels = KernelSet(rawValue: Int(opts.kernels)) else {
        throw HRNetError.invalidArgument("\(fn): unknown kernel set \(opts.kernels) (0 = AUTO, 1 = GENERIC, 2 = AVX2, 3 = AVX512, 4 = NEON)")
    }
    do {
        return try Session(model: model, inputHeight: h == 0 ? nil : h, inputWidth: w == 0 ? nil : w,
                           threads: opts.num_threads == 0 ? nil : Int(opts.num_threads), precision: precision,
                           kernels: kernels, calibration: calibration, ownsModel: ownsModel)
    } catch HRNetError.invalidArgument(let m) {
        throw HRNetError.invalidArgument("\(fn): \(m)")
    }
}

@_cdecl("hrnet_session_create")
public func hrnetSessionCreate(_ m: OpaquePointer?, _ o: UnsafePointer<hrnet_options>?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> hrnet_status {
    global {
        guard let out else { throw HRNetError.invalidArgument("hrnet_session_create: out_session is NULL") }
        out.pointee = nil
        guard let m else { throw HRNetError.invalidArgument("hrnet_session_create: model is NULL") }
        let model = Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(m)).takeUnretainedValue().model
        let s = try makeSession(model, o, "hrnet_session_create")
        out.pointee = OpaquePointer(Unmanaged.passRetained(SessionBox(s)).toOpaque())
    }
}

@_cdecl("hrnet_session_open")
public func hrnetSessionOpen(_ p: UnsafePointer<CChar>?, _ o: UnsafePointer<hrnet_options>?,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> hrnet_status {
    global {
        guard let out else { throw HRNetError.invalidArgument("hrnet_session_open: out_session is NULL") }
        out.pointee = nil
        let file = try path(p, "hrnet_session_open")
        if let o, o.pointee.struct_size < optionsV1Size {
            throw HRNetError.invalidArgument("hrnet_session_open: options->struct_size is \(o.pointee.struct_size), expected \(MemoryLayout<hrnet_options>.size): fill options with hrnet_options_init()")
        }
        // The model is the session's alone: an INT8 session may free the FP32 weights it replaces.
        let s = try makeSession(try Model(path: file), o, "hrnet_session_open", ownsModel: true)
        out.pointee = OpaquePointer(Unmanaged.passRetained(SessionBox(s)).toOpaque())
    }
}

@_cdecl("hrnet_session_close")
public func hrnetSessionClose(_ s: OpaquePointer?) {
    guard let s else { return }
    Unmanaged<SessionBox>.fromOpaque(UnsafeRawPointer(s)).release()
}

@_cdecl("hrnet_session_info")
public func hrnetSessionInfo(_ s: OpaquePointer?, _ info: UnsafeMutablePointer<hrnet_info>?) -> hrnet_status {
    onSession(s, "hrnet_session_info") { b in
        guard let info else { throw HRNetError.invalidArgument("hrnet_session_info: info is NULL") }
        let size = info.pointee.struct_size
        guard size >= infoV1Size else {
            throw HRNetError.invalidArgument("hrnet_session_info: info->struct_size is \(size), expected sizeof(hrnet_info) = \(MemoryLayout<hrnet_info>.size)")
        }
        let se = b.session, a = se.model.architecture
        var i = hrnet_info()
        i.struct_size = min(size, MemoryLayout<hrnet_info>.size)
        i.joints = Int32(a.joints)
        i.input_height = Int32(se.inputHeight); i.input_width = Int32(se.inputWidth)
        i.heatmap_height = Int32(se.heatmapHeight); i.heatmap_width = Int32(se.heatmapWidth)
        i.width = Int32(a.width); i.branches = Int32(a.branches); i.stages = Int32(a.stages)
        i.num_threads = Int32(se.threads); i.precision = Int32(se.precision.rawValue)
        i.parameters = Int64(a.parameters)
        i.gmacs_per_crop = se.model.gmacs(height: se.inputHeight, width: se.inputWidth)
        i.kernels = Int32(se.kernels.rawValue)
        // Write only as much as the caller's struct holds.
        withUnsafeBytes(of: &i) { src in
            UnsafeMutableRawPointer(info).copyMemory(from: src.baseAddress!, byteCount: min(size, MemoryLayout<hrnet_info>.size))
        }
    }
}

@_cdecl("hrnet_forward")
public func hrnetForward(_ s: OpaquePointer?, _ input: UnsafePointer<Float>?, _ batch: Int, _ inputCount: Int,
                         _ heatmaps: UnsafeMutablePointer<Float>?, _ capacity: Int) -> hrnet_status {
    onSession(s, "hrnet_forward") { b in
        let se = b.session
        guard let input else { throw HRNetError.invalidArgument("hrnet_forward: input is NULL") }
        guard let heatmaps else { throw HRNetError.invalidArgument("hrnet_forward: heatmaps is NULL") }
        guard batch >= 1 else { throw HRNetError.invalidArgument("hrnet_forward: batch is \(batch); it must be at least 1") }
        let (need, o1) = batch.multipliedReportingOverflow(by: se.inputCount)
        guard !o1, inputCount == need else {
            throw HRNetError.invalidArgument("hrnet_forward: input_count is \(inputCount) floats, expected batch x 3 x \(se.inputHeight) x \(se.inputWidth) = \(o1 ? "overflow" : String(need))")
        }
        let (out, o2) = batch.multipliedReportingOverflow(by: se.heatmapCount)
        guard !o2, capacity >= out else {
            throw HRNetError.bufferTooSmall("hrnet_forward: heatmap_capacity is \(capacity) floats, the result needs batch x \(se.joints) x \(se.heatmapHeight) x \(se.heatmapWidth) = \(out)")
        }
        try se.forward(input: input, batch: batch, output: heatmaps)
    }
}

/// A caller's options struct of a type with one version so far (all of it required; bytes past
/// it, a newer host's fields, never read): a copy, or the defaults `initialize` writes when the
/// pointer is NULL. `initName` names the C init function in the message.
func copyOptions<T>(_ o: UnsafePointer<T>?, structSize: (UnsafePointer<T>) -> Int, initName: String,
                    initialize: (UnsafeMutablePointer<T>) -> Void, blank: T) throws -> T {
    var c = blank
    initialize(&c)
    guard let o else { return c }
    guard structSize(o) >= MemoryLayout<T>.size else {
        throw HRNetError.invalidArgument("options->struct_size is \(structSize(o)), expected \(MemoryLayout<T>.size): fill options with \(initName)()")
    }
    withUnsafeMutableBytes(of: &c) { $0.copyMemory(from: UnsafeRawBufferPointer(start: o, count: MemoryLayout<T>.size)) }
    return c
}
