// native/core/cpu/adamw_kernels.h — internal: the fused AdamW loop, compiled once per ISA
// (cpu/isa.h): into isa_base by cpu/adamw.cc, isa_avx2 / isa_avx512 by cpu/adamw_avx2.cc /
// cpu/adamw_avx512.cc. Without MERCLIP_ISA defined it only declares it.
//
// No intrinsics: one contiguous loop over __restrict pointers, vectorised at the including file's
// width; the square root is sqrt_f below (GCC does not vectorise std::sqrt while errno is live,
// -fmath-errno being the default).
#ifndef MERCLIP_CORE_CPU_ADAMW_KERNELS_H_
#define MERCLIP_CORE_CPU_ADAMW_KERNELS_H_

#include <cstdint>

#include "isa.h"

namespace merclip {
namespace cpu {
// The update's coefficients, formed once per call in double and rounded to float (adamw.cc).
struct AdamWFactors {
  float b1, b2, one_m_b1, one_m_b2;
  float decay;         // lr · wd
  float step_size;     // lr / (1 − b1^t)
  float inv_sqrt_bc2;  // 1 / √(1 − b2^t)
  float eps;
};
}  // namespace cpu
}  // namespace merclip

MERCLIP_ISA_DECLARE(
    // AdamW over one contiguous chunk of n values, in place on param, m, v.
    void adamw_chunk(float* __restrict param, float* __restrict m, float* __restrict v,
                     const float* __restrict grad, int64_t n, const AdamWFactors& f);
    float sqrt_one(float v);)

#endif  // MERCLIP_CORE_CPU_ADAMW_KERNELS_H_

#ifdef MERCLIP_ISA
#include <cstring>

namespace merclip {
namespace cpu {
namespace MERCLIP_ISA {

namespace {

// sqrt_f: √v for v >= 0 (AdamW's second moment), branch-free so the AdamW loop vectorises
// (GCC keeps std::sqrt scalar while errno is live, and -fmath-errno is the default).
// Initial 1/√v from the double bit pattern (the 0x5fe6eb50c7b537a9 trick, relative error
// < 3.5%; the argument is a widened float, so never subnormal), three Newton steps in double
// (3.5e-2 → 1.8e-3 → 5e-6 → 4e-11), then v · (1/√v) rounded to float. Faithfully rounded
// (relative error ≤ 6e-8, see native/core/dev/README.md); tests/test_adamw.cc checks a sweep.
// √0 = 0 (the guess is finite); NaN → NaN; +inf comes out as −inf (AdamW then divides by
// −inf, giving −0 where the exact m/∞ gives 0; only reachable when g² overflows).
inline double bits_to_double(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}
inline uint64_t double_to_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}
inline float sqrt_f(float v) {
  const double vd = v;
  double y = bits_to_double(0x5fe6eb50c7b537a9ull - (double_to_bits(vd) >> 1));
  y = y * (1.5 - 0.5 * vd * y * y);
  y = y * (1.5 - 0.5 * vd * y * y);
  y = y * (1.5 - 0.5 * vd * y * y);
  return static_cast<float>(vd * y);
}

}  // namespace

float sqrt_one(float v) { return sqrt_f(v); }

// AdamW over one contiguous chunk.
void adamw_chunk(float* __restrict param, float* __restrict m, float* __restrict v,
                        const float* __restrict grad, int64_t n, const AdamWFactors& f) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float mi = f.b1 * m[i] + f.one_m_b1 * g;
    const float vi = f.b2 * v[i] + f.one_m_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float w = param[i];
    param[i] = w - f.decay * w - f.step_size * mi / (sqrt_f(vi) * f.inv_sqrt_bc2 + f.eps);
  }
}

}  // namespace MERCLIP_ISA
}  // namespace cpu
}  // namespace merclip
#endif  // MERCLIP_ISA
