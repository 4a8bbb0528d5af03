// native/core/cpu/reduce.cc — sum_squares and add_scaled (merclip::cpu, declared in
// merclip/reduce.h; the twin is ref/reduce_ref.cc, tests/test_reduce.cc holds them together).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "merclip/error.h"
#include "merclip/reduce.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

// Σ x²: chunks of kChunk values (8 double lanes each, so the loop vectorises), chunk sums added
// in chunk order.
double sum_squares(const float* x, int64_t n) {
  MERCLIP_CHECK(n >= 0, "sum_squares: n must be >= 0");
  constexpr int64_t kChunk = 65536;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  parallel_for(0, chunks, 4, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * kChunk, i1 = std::min(n, i0 + kChunk);
      double acc[8] = {};
      int64_t i = i0;
      for (; i + 8 <= i1; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += static_cast<double>(x[i + l]) * static_cast<double>(x[i + l]);
      for (; i < i1; ++i) acc[0] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      part[static_cast<size_t>(c)] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
  });
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

// out[i] = x[i] + alpha · y[i mod ny]; parallel over blocks of elements (each element computed
// the same way whatever the split; the y index wraps within a block).

void add_scaled(float* out, const float* x, const float* y, float alpha, int64_t n, int64_t ny) {
  MERCLIP_CHECK(n >= 0 && ny >= 1 && n % ny == 0, "add_scaled: n must be a multiple of ny >= 1");
  if (n == 0) return;
  parallel_for(0, n, 65536, [&](int64_t i0, int64_t i1) {
    int64_t j = i0 % ny;
    for (int64_t i = i0; i < i1;) {
      const int64_t run = std::min(i1 - i, ny - j);
      const float* xr = x + i;
      const float* yr = y + j;
      float* o = out + i;
      for (int64_t t = 0; t < run; ++t) o[t] = xr[t] + alpha * yr[t];
      i += run;
      j = 0;
    }
  });
}

}  // namespace cpu
}  // namespace merclip
