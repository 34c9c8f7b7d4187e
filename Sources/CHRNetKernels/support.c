/* CPU features and kernel sets, thread defaults and thread-local error text. */
#include "internal.h"
#include <string.h>
#if HR_ARM64 && defined(__linux__)
#include <sys/auxv.h>
#endif

/* Declared here rather than through omp.h: LLVM's omp.h lives in a versioned clang directory
 * next to that clang's own intrinsic headers, which must not shadow the compiler's. */
extern int omp_get_num_procs(void);

int hr_cpu_has_avx512(void) {
#if HR_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    }
    return cached;
#else
    return 0;
#endif
}

static int cpu_has_avx2(void) {
#if HR_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return cached;
#else
    return 0;
#endif
}

static int cpu_has_neon(void) {
#if HR_ARM64
#if defined(__linux__) && defined(HWCAP_ASIMD)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#else
    return 1; /* Advanced SIMD is mandatory in ARMv8-A */
#endif
#else
    return 0;
#endif
}

/* Sets whose kernels exist in this build. A set is listed here once its kernels are written. */
static int built(int set) {
    switch (set) {
    case HR_KERNELS_REFERENCE: return 1;
    case HR_KERNELS_GENERIC: return HR_GENERIC_BUILT;
#if HR_X86
    case HR_KERNELS_AVX512: return 1;
    case HR_KERNELS_AVX2: return HR_AVX2_BUILT;
#endif
#if HR_ARM64
    case HR_KERNELS_NEON: return HR_NEON_BUILT;
#endif
    default: return 0;
    }
}

int hr_kernels_supported(int set) {
    if (!built(set)) return 0;
    switch (set) {
    case HR_KERNELS_REFERENCE:
    case HR_KERNELS_GENERIC: return 1;
    case HR_KERNELS_AVX2: return cpu_has_avx2();
    case HR_KERNELS_AVX512: return hr_cpu_has_avx512() && cpu_has_avx2();
    case HR_KERNELS_NEON: return cpu_has_neon();
    default: return 0;
    }
}

int hr_kernels_best(void) {
    static const int order[] = {HR_KERNELS_AVX512, HR_KERNELS_AVX2, HR_KERNELS_NEON, HR_KERNELS_GENERIC};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (hr_kernels_supported(order[i])) return order[i];
    return HR_KERNELS_REFERENCE;
}

const char *hr_kernels_name(int set) {
    switch (set) {
    case HR_KERNELS_REFERENCE: return "reference";
    case HR_KERNELS_GENERIC: return "generic";
    case HR_KERNELS_AVX2: return "avx2";
    case HR_KERNELS_AVX512: return "avx512";
    case HR_KERNELS_NEON: return "neon";
    default: return 0;
    }
}

const char *hr_cpu_features(void) {
    static _Thread_local char text[96];
    static _Thread_local int done;
    if (!done) {
        text[0] = 0;
#if HR_X86
        strcat(text, "x86-64");
        if (cpu_has_avx2()) strcat(text, " avx2 fma f16c");
        if (hr_cpu_has_avx512()) strcat(text, " avx512");
        __builtin_cpu_init();
        if (hr_cpu_has_avx512() && __builtin_cpu_supports("avx512bf16")) strcat(text, " avx512bf16");
        if (hr_cpu_has_avx512() && __builtin_cpu_supports("avx512vnni")) strcat(text, " avx512vnni");
#elif HR_ARM64
        strcat(text, "aarch64");
        if (cpu_has_neon()) strcat(text, " neon");
#if defined(__linux__)
        if (getauxval(AT_HWCAP) & (1u << 20)) strcat(text, " asimddp"); /* HWCAP_ASIMDDP */
#endif
#else
        strcat(text, "no SIMD kernels for this CPU");
#endif
        done = 1;
    }
    return text;
}

int hr_default_threads(void) { return omp_get_num_procs(); }

static _Thread_local char tls_error[1024];

void hr_tls_set_error(const char *message) {
    if (!message) message = "";
    strncpy(tls_error, message, sizeof tls_error - 1);
    tls_error[sizeof tls_error - 1] = 0;
}

const char *hr_tls_get_error(void) { return tls_error; }
