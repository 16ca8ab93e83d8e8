# Cross build for Linux on armhf (Debian: g++-arm-linux-gnueabihf, qemu-user); tests run under qemu-arm.
#   cmake -S cpp_runtime -B cpp_runtime/build-armhf -DCMAKE_TOOLCHAIN_FILE=cpp_runtime/cmake/toolchain-armhf.cmake
# -ffp-contract=off: no fused multiply-add where the x86-64 baseline build has none, so the
# outputs can be compared with x86-64's bit for bit (scripts/cross.sh does).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_C_FLAGS_INIT "-ffp-contract=off")
set(CMAKE_CXX_FLAGS_INIT "-ffp-contract=off")
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-arm;-L;/usr/arm-linux-gnueabihf")
