/* CPU feature check, thread defaults and thread-local error text. */
#include "hrnet_kernels.h"
#include <string.h>

/* Declared here rather than through omp.h: LLVM's omp.h lives in a versioned clang directory
 * next to that clang's own intrinsic headers, which must not shadow the compiler's. */
extern int omp_get_num_procs(void);

int hr_cpu_has_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    }
    return cached;
}

int hr_default_threads(void) { return omp_get_num_procs(); }

static _Thread_local char tls_error[1024];

void hr_tls_set_error(const char *message) {
    if (!message) message = "";
    strncpy(tls_error, message, sizeof tls_error - 1);
    tls_error[sizeof tls_error - 1] = 0;
}

const char *hr_tls_get_error(void) { return tls_error; }
