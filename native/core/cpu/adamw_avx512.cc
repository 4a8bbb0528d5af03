// native/core/cpu/adamw_avx512.cc — cpu/adamw_kernels.h compiled as merclip::cpu::isa_avx512, with
// exactly -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mavx2 (CMake and binding.gyp: the merclip_avx512 objects, no -march=native);
// cpu/adamw.cc calls it only when simd_level() is avx512 (cpu/isa.h).
#define MERCLIP_ISA isa_avx512
#include "adamw_kernels.h"
