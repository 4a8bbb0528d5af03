# cmake/aarch64-linux-gnu.cmake — cross-compiles the native core for 64-bit ARM (Linux, glibc)
# with Debian's g++-aarch64-linux-gnu; the tests then run under qemu-user:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DMERCLIP_CUDA=OFF
#   cmake --build build-arm64 -j && ctest --test-dir build-arm64 --output-on-failure
# (CMAKE_CROSSCOMPILING_EMULATOR makes ctest run each test binary through qemu-aarch64.)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
find_program(MERCLIP_QEMU_AARCH64 qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${MERCLIP_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
