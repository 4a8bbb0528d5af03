// native/core/cpu/vec_math.h — internal header: branch-free, vectorisable scalar math shared by
// the CPU kernels (exp_f and its helpers), included by cpu/lanes.h (layernorm, gelu, softmax)
// and cpu/attention.cc.
//
// Everything here is `inline` inside an ANONYMOUS namespace (within merclip::cpu), so every
// translation unit that includes it gets its own internal copy, compiled with that file's flags.
// That is deliberate: files are built with different -m ISA flags (-march=native, portable
// x86-64, -mavx512f …), and an ordinary inline function would be one ODR entity the linker may
// pick from any of them (e.g. an AVX-512 body running on a machine without AVX-512). With
// internal linkage nothing is shared between ISA-specific files. Do not move these out of the
// anonymous namespace or into a .cc file.
#ifndef MERCLIP_CORE_CPU_VEC_MATH_H_
#define MERCLIP_CORE_CPU_VEC_MATH_H_

#include <cstdint>
#include <cstring>

namespace merclip {
namespace cpu {
namespace {

// Bit helpers (memcpy bit casts vectorise; union punning is undefined behaviour in C++).
inline uint32_t as_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// e^r for |r| <= ln2/2 (after range reduction): Cephes expf's degree-6 polynomial.
inline float exp_poly(float r) {
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p;
}

// exp_f: single-precision e^x, branch-free so loops calling it vectorise.
// Cephes expf: n = round(x·log2 e) by the 1.5·2^23 trick (n also read from t's mantissa bits,
// so there is no float→int conversion), r = x − n·ln 2 in two parts, e^r by a degree-6
// polynomial, · 2^n built in the exponent field. The special ranges are fixed up at the end
// with integer masks: no early clamps, because GCC jump-threads clamp branches into control
// flow that defeats if-conversion (and so vectorisation) on AVX2/SSE targets.
// - x < -88 (and -inf) → exactly +0; in [-88, -87.34] the result is 0 or subnormal (absolute
//   error < 1.2e-38);
// - x > 88.3763 (e^x > 2.4e38, within 0.35 of ln FLT_MAX) and +inf → +inf;
// - NaN → NaN (it flows through the arithmetic);
// - elsewhere relative error < 2e-7 (tests/test_ops.cc checks it against double exp).
inline float exp_f(float x) {
  const float magic = 12582912.0f;  // 1.5 · 2^23: adding it rounds x·log2 e to an integer
  const float t = x * 1.44269504088896341f + magic;
  const float nf = t - magic;
  float r = x - nf * 0.693359375f;  // ln 2 = 0.693359375 − 2.12194440e-4 (first part exact)
  r = r + nf * 2.12194440e-4f;
  const float p = exp_poly(r);
  // In range, t's bits are 0x4B400000 + n (two's complement in uint32), n in [-127, 127];
  // n = -127 gives an all-zero exponent field, i.e. scale = +0.
  const uint32_t n = as_bits(t) - 0x4B400000u;
  const float scale = from_bits((n + 127u) << 23);
  uint32_t y = as_bits(p * scale);
  const uint32_t keep = x < -88.0f ? 0u : ~0u;                // underflow → +0
  const uint32_t over = x > 88.3762626647949f ? ~0u : 0u;     // overflow → +inf
  y = (y & keep & ~over) | (0x7f800000u & over);
  return from_bits(y);
}

}  // namespace
}  // namespace cpu
}  // namespace merclip

#endif  // MERCLIP_CORE_CPU_VEC_MATH_H_
