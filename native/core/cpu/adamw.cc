// native/core/cpu/adamw.cc — fast CPU fused AdamW (merclip::cpu, declared in merclip/adamw.h;
// the readable twin is ref/adamw_ref.cc, tests/test_adamw.cc holds them together).
//
// No intrinsics: one contiguous loop over __restrict pointers; the square root is sqrt_f below
// (GCC does not vectorise std::sqrt while errno is live, -fmath-errno being the default).
// Split: contiguous chunks of kMapGrain elements or more over merclip::parallel_for.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "merclip/adamw.h"
#include "merclip/error.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

namespace {

constexpr int64_t kMapGrain = int64_t{1} << 16;  // elements per task at least


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



struct AdamWFactors {
  float b1, b2, one_m_b1, one_m_b2;
  float decay;         // lr · wd
  float step_size;     // lr / (1 − b1^t)
  float inv_sqrt_bc2;  // 1 / √(1 − b2^t)
  float eps;
};

// AdamW over one contiguous chunk.
inline void adamw_chunk(float* __restrict param, float* __restrict m, float* __restrict v,
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

}  // namespace

// Exposed for tests/test_adamw.cc (declared there, not in a public header).
float sqrt_approx_for_test(float x) { return sqrt_f(x); }

// Fused AdamW, in place on param, m, v [n]; grad [n] (torch.optim.AdamW semantics, see adamw.h).
// Bias corrections in double, folded into float factors:
//   param −= lr·wd·param + step_size · m / (√v · inv_sqrt_bc2 + eps),
//   step_size = lr / (1 − b1^t),  inv_sqrt_bc2 = 1/√(1 − b2^t).
// One vectorised pass; the square root is sqrt_f above (faithfully rounded, see there).

void adamw_step(float* param, float* m, float* v, const float* grad, int64_t n,
                const AdamWParams& p) {
  MERCLIP_CHECK(n >= 0, "adamw_step: n must be >= 0");
  MERCLIP_CHECK(p.step >= 1, "adamw_step: step must be >= 1 (1-based, counted after the update)");
  const double bc1 = 1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(p.step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(p.step));
  AdamWFactors f;
  f.b1 = p.beta1;
  f.b2 = p.beta2;
  f.one_m_b1 = static_cast<float>(1.0 - static_cast<double>(p.beta1));
  f.one_m_b2 = static_cast<float>(1.0 - static_cast<double>(p.beta2));
  f.decay = static_cast<float>(static_cast<double>(p.lr) * static_cast<double>(p.weight_decay));
  f.step_size = static_cast<float>(static_cast<double>(p.lr) / bc1);
  f.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  f.eps = p.eps;
  parallel_for(0, n, kMapGrain, [&](int64_t lo, int64_t hi) {
    adamw_chunk(param + lo, m + lo, v + lo, grad + lo, hi - lo, f);
  });
}



}  // namespace cpu
}  // namespace merclip
