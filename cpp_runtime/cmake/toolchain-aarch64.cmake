# Cross build for Linux on aarch64 (Debian: g++-aarch64-linux-gnu, qemu-user); tests run under qemu-aarch64.
#   cmake -S cpp_runtime -B cpp_runtime/build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cpp_runtime/cmake/toolchain-aarch64.cmake
set(PE_TRIPLE aarch64-linux-gnu)
set(PE_PROCESSOR aarch64)
set(PE_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake)
