// native/core/cpu/isa.h — internal: which per-ISA copy of a kernel family's hot loops a call
// runs. The layernorm, gelu, softmax, adamw and reduce families keep their hot loops in
// cpu/<family>_kernels.h; that header is compiled three times, into namespaces
//   isa_base   (cpu/<family>.cc, the build's generic flags: -march=native, or baseline x86-64 /
//               ARMv8-A in a portable build; the `scalar` level and every non-x86 build),
//   isa_avx2   (cpu/<family>_avx2.cc, exactly -mavx2 -mfma),
//   isa_avx512 (cpu/<family>_avx512.cc, exactly -mavx512f/bw/vl/dq -mfma -mavx2),
// and the driver in cpu/<family>.cc picks one per call from merclip::simd_level(). At the avx2
// and avx512 levels a native and a portable build therefore run the same machine code: nothing
// hot depends on -march=native.
#ifndef MERCLIP_CORE_CPU_ISA_H_
#define MERCLIP_CORE_CPU_ISA_H_

#include "merclip/cpu_features.h"

namespace merclip {
namespace cpu {

enum class Isa : int { base = 0, avx2 = 1, avx512 = 2 };

// Read once when a call starts (set_simd_level from another thread cannot mix levels in a call).
inline Isa current_isa() {
  const SimdLevel l = simd_level();
  if (l == SimdLevel::avx512) return Isa::avx512;
  if (l == SimdLevel::avx2) return Isa::avx2;
  return Isa::base;
}

}  // namespace cpu
}  // namespace merclip

// MERCLIP_ISA_PICK(isa, fn): the function pointer of fn's copy for isa.
#if defined(MERCLIP_HAVE_AVX512) && defined(MERCLIP_HAVE_AVX2)
#define MERCLIP_ISA_PICK(isa, fn)                                                                  \
  ((isa) == ::merclip::cpu::Isa::avx512 ? &::merclip::cpu::isa_avx512::fn                          \
   : (isa) == ::merclip::cpu::Isa::avx2 ? &::merclip::cpu::isa_avx2::fn                            \
                                        : &::merclip::cpu::isa_base::fn)
#else
#define MERCLIP_ISA_PICK(isa, fn) (static_cast<void>(isa), &::merclip::cpu::isa_base::fn)
#endif

// Declares the declarations given in the three ISA namespaces.
#define MERCLIP_ISA_DECLARE(...)          \
  namespace merclip {                     \
  namespace cpu {                         \
  namespace isa_base { __VA_ARGS__ }      \
  namespace isa_avx2 { __VA_ARGS__ }      \
  namespace isa_avx512 { __VA_ARGS__ }    \
  }                                       \
  }

#endif  // MERCLIP_CORE_CPU_ISA_H_
