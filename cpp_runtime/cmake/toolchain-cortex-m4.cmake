# Bare-metal Cortex-M4F (Debian: gcc-arm-none-eabi, libnewlib-arm-none-eabi,
# libstdc++-arm-none-eabi-newlib; qemu-system-arm). Used for cpp_runtime/firmware/:
#   cmake -S cpp_runtime/firmware -B cpp_runtime/build-cortex-m4/fw \
#         -DCMAKE_TOOLCHAIN_FILE=cpp_runtime/cmake/toolchain-cortex-m4.cmake -DPE_FW_GEN_DIR=...
# Hard-float ABI on the single-precision FPU; -ffp-contract=off: no VFMA fusing, so float results
# can be compared with x86-64's bit for bit. The emulator is QEMU's mps2-an386 board with
# semihosting and one virtual nanosecond per instruction (-icount shift=0).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(PE_MCU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${PE_MCU_FLAGS} -ffp-contract=off")
set(CMAKE_CXX_FLAGS_INIT "${PE_MCU_FLAGS} -ffp-contract=off")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${PE_MCU_FLAGS} --specs=nano.specs --specs=nosys.specs")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR
    "qemu-system-arm;-M;mps2-an386;-nographic;-monitor;none;-semihosting-config;enable=on,target=native;-icount;shift=0;-kernel")
