// native/core/cpu/reduce_avx2.cc — cpu/reduce_kernels.h compiled as merclip::cpu::isa_avx2, with
// exactly -mavx2 -mfma (CMake and binding.gyp: the merclip_avx2 objects, no -march=native);
// cpu/reduce.cc calls it only when simd_level() is avx2 (cpu/isa.h).
#define MERCLIP_ISA isa_avx2
#include "reduce_kernels.h"
