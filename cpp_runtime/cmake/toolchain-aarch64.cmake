# Cross build for Linux on aarch64 (Debian: g++-aarch64-linux-gnu, qemu-user); tests run under qemu-aarch64.
#   cmake -S cpp_runtime -B cpp_runtime/build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cpp_runtime/cmake/toolchain-aarch64.cmake
# -ffp-contract=off: no fused multiply-add where the x86-64 baseline build has none, so the
# outputs can be compared with x86-64's bit for bit (scripts/cross.sh does).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_C_FLAGS_INIT "-ffp-contract=off")
set(CMAKE_CXX_FLAGS_INIT "-ffp-contract=off")
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;/usr/aarch64-linux-gnu")
