// native/core/cpu/softmax_avx2.cc — cpu/softmax_kernels.h compiled as merclip::cpu::isa_avx2, with
// exactly -mavx2 -mfma (CMake and binding.gyp: the merclip_avx2 objects, no -march=native);
// cpu/softmax.cc calls it only when simd_level() is avx2 (cpu/isa.h).
#define MERCLIP_ISA isa_avx2
#include "softmax_kernels.h"
