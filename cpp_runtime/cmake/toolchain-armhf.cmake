# Cross build for Linux on armhf (Debian: g++-arm-linux-gnueabihf, qemu-user); tests run under qemu-arm.
#   cmake -S cpp_runtime -B cpp_runtime/build-armhf -DCMAKE_TOOLCHAIN_FILE=cpp_runtime/cmake/toolchain-armhf.cmake
set(PE_TRIPLE arm-linux-gnueabihf)
set(PE_PROCESSOR arm)
set(PE_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake)
