import CHRNetKernels
#if canImport(Glibc)
import Glibc
#endif

/// The convolution kernels a session runs (`hrnet_kernel_set` in the C ABI). Every set computes
/// the same FP32 network within the tests' bound of the float64 reference; they differ in the
/// instructions they need and so in speed.
public enum KernelSet: Int, CaseIterable, Equatable {
    /// The fastest set this CPU runs: avx512, else avx2, else neon, else generic.
    case auto = 0
    /// Any CPU: direct convolutions as im2col rows and OpenBLAS sgemm.
    case generic = 1
    /// x86-64 with AVX2 and FMA (every x86 CPU since 2013).
    case avx2 = 2
    /// x86-64 with AVX-512 (F, VL, DQ, BW).
    case avx512 = 3
    /// aarch64 Advanced SIMD.
    case neon = 4

    public var name: String {
        switch self {
        case .auto: return "auto"
        case .generic: return "generic"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        case .neon: return "neon"
        }
    }

    public init?(name: String) {
        guard let s = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = s
    }

    /// Whether this build and this CPU can run the set (`auto` always can).
    public var isSupported: Bool { self == .auto || hr_kernels_supported(Int32(rawValue)) != 0 }

    /// The sets this machine runs, best first (without `auto`).
    public static var supported: [KernelSet] { [.avx512, .avx2, .neon, .generic].filter(\.isSupported) }

    /// What the CPU offers, for messages ("x86-64 avx2 fma avx512").
    public static var cpuFeatures: String { String(cString: hr_cpu_features()) }

    /// The environment variable a host can set instead of the option (it applies to `auto`).
    public static let environmentVariable = "HRNET_KERNELS"

    /// The concrete set a session runs for `requested`: a set named in the options wins; `auto`
    /// takes `HRNET_KERNELS` from the environment if set, else the best set of the CPU. A set the
    /// CPU lacks, or an unknown name, is an invalid argument naming what the CPU has.
    public static func resolve(_ requested: KernelSet, environment: String? = nil) throws -> KernelSet {
        var chosen = requested
        var source = "kernels option"
        if requested == .auto {
            let env = environment ?? getenv(environmentVariable).map { String(cString: $0) }
            if let env, !env.isEmpty {
                guard let named = KernelSet(name: env) else {
                    throw HRNetError.invalidArgument("\(environmentVariable)=\(env.prefix(40)) is not a kernel set (auto, generic, avx2, avx512, neon)")
                }
                chosen = named
                source = "\(environmentVariable)=\(env)"
            }
        }
        if chosen == .auto {
            // The C layer's order (avx512, avx2, neon, generic); generic runs on every CPU.
            guard let best = KernelSet(rawValue: Int(hr_kernels_best())), best != .auto else {
                throw HRNetError.invalidArgument("no kernel set runs on this CPU (\(cpuFeatures))")
            }
            return best
        }
        guard chosen.isSupported else {
            let have = supported.map(\.name).joined(separator: ", ")
            throw HRNetError.invalidArgument("\(source): kernel set '\(chosen.name)' needs a CPU feature this one lacks (it has: \(cpuFeatures); sets it runs: \(have))")
        }
        return chosen
    }
}
