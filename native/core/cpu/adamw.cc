// native/core/cpu/adamw.cc — fast CPU fused AdamW (merclip::cpu, declared in merclip/adamw.h;
// the readable twin is ref/adamw_ref.cc, tests/test_adamw.cc holds them together). The loop is
// cpu/adamw_kernels.h, compiled here as isa_base and per ISA in cpu/adamw_avx2.cc /
// cpu/adamw_avx512.cc; this file checks the arguments, forms the coefficients, picks the ISA
// (cpu/isa.h) and splits the work: contiguous chunks of kMapGrain elements or more over
// merclip::parallel_for (each element computed the same way whatever the split).
#include <cmath>
#include <cstdint>

#define MERCLIP_ISA isa_base
#include "adamw_kernels.h"
#undef MERCLIP_ISA

#include "merclip/adamw.h"
#include "merclip/error.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

namespace {
constexpr int64_t kMapGrain = int64_t{1} << 16;  // elements per task at least
}  // namespace

// Exposed for tests/test_adamw.cc (declared there, not in a public header); the copy of the ISA
// the kernels run at.
float sqrt_approx_for_test(float x) { return MERCLIP_ISA_PICK(current_isa(), sqrt_one)(x); }

// Fused AdamW, in place on param, m, v [n]; grad [n] (torch.optim.AdamW semantics, see adamw.h).
// Bias corrections in double, folded into float factors:
//   param −= lr·wd·param + step_size · m / (√v · inv_sqrt_bc2 + eps),
//   step_size = lr / (1 − b1^t),  inv_sqrt_bc2 = 1/√(1 − b2^t).
// One vectorised pass (cpu/adamw_kernels.h); the square root is faithfully rounded.

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
  const auto chunk = MERCLIP_ISA_PICK(current_isa(), adamw_chunk);
  parallel_for(0, n, kMapGrain, [&](int64_t lo, int64_t hi) {
    chunk(param + lo, m + lo, v + lo, grad + lo, hi - lo, f);
  });
}



}  // namespace cpu
}  // namespace merclip
