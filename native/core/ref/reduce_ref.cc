// native/core/ref/reduce_ref.cc — reference sum_squares and add_scaled (merclip::ref, declared in
// merclip/reduce.h).
//
// Plain loops with double accumulators, single-threaded, boring on purpose: the oracle
// tests/test_reduce.cc compares merclip::cpu against and its finite-difference checks validate.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "merclip/error.h"
#include "merclip/reduce.h"

namespace merclip {
namespace ref {

// out[i] = x[i] + alpha · y[i mod ny]

void add_scaled(float* out, const float* x, const float* y, float alpha, int64_t n, int64_t ny) {
  MERCLIP_CHECK(n >= 0 && ny >= 1 && n % ny == 0, "add_scaled: n must be a multiple of ny >= 1");
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(x[i]) + static_cast<double>(alpha) * y[i % ny]);
}

double sum_squares(const float* x, int64_t n) {
  MERCLIP_CHECK(n >= 0, "sum_squares: n must be >= 0");
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

}  // namespace ref
}  // namespace merclip
