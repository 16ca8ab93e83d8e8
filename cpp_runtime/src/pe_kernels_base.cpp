// The kernels compiled for the "baseline" dispatch level (flags: CMakeLists.txt, pe_kernel_flags).
#define PE_KNS k_base
#define PE_KTABLE table_base
#define PE_KNAME "baseline"
#define PE_DENSE_ROWS 1
#include "pe_kernels_impl.h"
