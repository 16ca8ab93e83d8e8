# Shared part of the Linux cross toolchain files: set PE_TRIPLE (e.g. aarch64-linux-gnu),
# PE_PROCESSOR and PE_QEMU (qemu-aarch64) before including this file.
# -ffp-contract=off: no fused multiply-add where the x86-64 baseline build has none, so the
# outputs can be compared with x86-64's bit for bit (scripts/cross.sh does).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${PE_PROCESSOR})
set(CMAKE_C_COMPILER ${PE_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${PE_TRIPLE}-g++)
set(CMAKE_FIND_ROOT_PATH /usr/${PE_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_C_FLAGS_INIT "-ffp-contract=off")
set(CMAKE_CXX_FLAGS_INIT "-ffp-contract=off")
set(CMAKE_CROSSCOMPILING_EMULATOR "${PE_QEMU};-L;/usr/${PE_TRIPLE}")
