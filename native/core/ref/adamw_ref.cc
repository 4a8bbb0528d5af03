// native/core/ref/adamw_ref.cc — reference fused AdamW (torch.optim.AdamW semantics)
// (merclip::ref, declared in merclip/adamw.h).
//
// Plain loops with double accumulators, single-threaded, boring on purpose: the oracle
// tests/test_adamw.cc compares merclip::cpu against and its finite-difference checks validate.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "merclip/error.h"
#include "merclip/adamw.h"

namespace merclip {
namespace ref {

// Fused AdamW, in place on param, m, v [n]; grad [n]. torch.optim.AdamW semantics:
//   m = b1 m + (1−b1) g;  v = b2 v + (1−b2) g²
//   param −= lr · (wd · param + (m / (1−b1^t)) / (√(v / (1−b2^t)) + eps))
// with the weight decay applied to the pre-update param and the bias corrections in double.

void adamw_step(float* param, float* m, float* v, const float* grad, int64_t n,
                const AdamWParams& p) {
  MERCLIP_CHECK(n >= 0, "adamw_step: n must be >= 0");
  MERCLIP_CHECK(p.step >= 1, "adamw_step: step must be >= 1 (1-based, counted after the update)");
  const double b1 = p.beta1, b2 = p.beta2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(p.step));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(p.step));
  for (int64_t i = 0; i < n; ++i) {
    const double g = grad[i];
    const double mi = b1 * m[i] + (1.0 - b1) * g;
    const double vi = b2 * v[i] + (1.0 - b2) * g * g;
    const double w = param[i];
    const double update =
        static_cast<double>(p.weight_decay) * w + (mi / bc1) / (std::sqrt(vi / bc2) + p.eps);
    param[i] = static_cast<float>(w - static_cast<double>(p.lr) * update);
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
  }
}

}  // namespace ref
}  // namespace merclip
