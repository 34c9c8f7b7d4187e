// C ABI of INT8 calibration (include/hrnet.h, "INT8 calibration").
import CHRNetKernels
import HRNet

final class CalibratorBox {
    let calibrator: Calibrator
    init(_ c: Calibrator) { calibrator = c }
}

private func calibratorBox(_ c: OpaquePointer?) -> CalibratorBox? {
    guard let c else { return nil }
    return Unmanaged<CalibratorBox>.fromOpaque(UnsafeRawPointer(c)).takeUnretainedValue()
}

@_cdecl("hrnet_calibrator_create")
public func hrnetCalibratorCreate(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> hrnet_status {
    let fn = "hrnet_calibrator_create"
    out?.pointee = nil
    return global {
        guard let out else { throw HRNetError.invalidArgument("\(fn): out_calibrator is NULL") }
        guard let b = box(s) else { throw HRNetError.invalidArgument("\(fn): session is NULL") }
        do {
            let c = try Calibrator(session: b.session)
            out.pointee = OpaquePointer(Unmanaged.passRetained(CalibratorBox(c)).toOpaque())
        } catch HRNetError.invalidArgument(let m) { throw HRNetError.invalidArgument("\(fn): \(m)") }
    }
}

@_cdecl("hrnet_calibrator_add_boxes")
public func hrnetCalibratorAddBoxes(_ c: OpaquePointer?, _ frame: UnsafePointer<hrnet_image>?, _ boxes: UnsafePointer<hrnet_box>?,
                                    _ n: Int, _ o: UnsafePointer<hrnet_estimate_options>?) -> hrnet_status {
    let fn = "hrnet_calibrator_add_boxes"
    return global {
        guard let cal = calibratorBox(c)?.calibrator else { throw HRNetError.invalidArgument("\(fn): calibrator is NULL") }
        guard let frame else { throw HRNetError.invalidArgument("\(fn): frame is NULL") }
        guard n >= 0, n <= maxBoxesPerFrame else { throw HRNetError.invalidArgument("\(fn): n is \(UInt(bitPattern: n)); at most \(maxBoxesPerFrame) boxes per frame") }
        guard n == 0 || boxes != nil else { throw HRNetError.invalidArgument("\(fn): boxes is NULL but n is \(n)") }
        let view = try imageView(frame.pointee, "frame")
        let options = try estimateOptions(o, fn, joints: cal.session.joints)
        try cal.add(frame: view, boxes: (0..<n).map { personBox(boxes!, $0) }, options: options)
    }
}

@_cdecl("hrnet_calibrator_add_crops")
public func hrnetCalibratorAddCrops(_ c: OpaquePointer?, _ crops: UnsafePointer<hrnet_image>?, _ n: Int,
                                    _ o: UnsafePointer<hrnet_estimate_options>?) -> hrnet_status {
    let fn = "hrnet_calibrator_add_crops"
    return global {
        guard let cal = calibratorBox(c)?.calibrator else { throw HRNetError.invalidArgument("\(fn): calibrator is NULL") }
        guard let crops else { throw HRNetError.invalidArgument("\(fn): crops is NULL") }
        guard n >= 1, n <= maxBoxesPerFrame else { throw HRNetError.invalidArgument("\(fn): n is \(UInt(bitPattern: n)); 1 to \(maxBoxesPerFrame) crops per call") }
        let views = try (0..<n).map { try imageView(crops[$0], "crop \($0)") }
        let options = try estimateOptions(o, fn, joints: cal.session.joints)
        try cal.add(crops: views, options: options)
    }
}

@_cdecl("hrnet_calibrator_save")
public func hrnetCalibratorSave(_ c: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> hrnet_status {
    let fn = "hrnet_calibrator_save"
    return global {
        guard let cal = calibratorBox(c)?.calibrator else { throw HRNetError.invalidArgument("\(fn): calibrator is NULL") }
        guard let path else { throw HRNetError.invalidArgument("\(fn): path is NULL") }
        do {
            try cal.calibration().write(to: String(cString: path))
        } catch HRNetError.invalidArgument(let m) { throw HRNetError.invalidArgument("\(fn): \(m)") }
    }
}

@_cdecl("hrnet_calibrator_close")
public func hrnetCalibratorClose(_ c: OpaquePointer?) {
    guard let c else { return }
    Unmanaged<CalibratorBox>.fromOpaque(UnsafeRawPointer(c)).release()
}

@_cdecl("hrnet_calibrate")
public func hrnetCalibrate(_ s: OpaquePointer?, _ crops: UnsafePointer<hrnet_image>?, _ n: Int, _ path: UnsafePointer<CChar>?) -> hrnet_status {
    var c: OpaquePointer? = nil
    var st = hrnetCalibratorCreate(s, &c)
    guard st.rawValue == 0 else { return st }
    defer { hrnetCalibratorClose(c) }
    st = hrnetCalibratorAddCrops(c, crops, n, nil)
    guard st.rawValue == 0 else { return st }
    return hrnetCalibratorSave(c, path)
}
