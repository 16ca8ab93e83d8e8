// The kernels compiled for the "avx512" dispatch level (flags: CMakeLists.txt, pe_kernel_flags).
#define PE_KNS k_avx512
#define PE_KTABLE table_avx512
#define PE_KNAME "avx512"
#define PE_DENSE_ROWS 2
// GCC 12 warns on its own AVX-512 intrinsics' undefined-vector idiom (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "pe_kernels_impl.h"
