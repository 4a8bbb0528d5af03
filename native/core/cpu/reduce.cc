// native/core/cpu/reduce.cc — sum_squares and add_scaled (merclip::cpu, declared in
// merclip/reduce.h; the twin is ref/reduce_ref.cc, tests/test_reduce.cc holds them together).
// The loops are cpu/reduce_kernels.h, compiled here as isa_base and per ISA in
// cpu/reduce_avx2.cc / cpu/reduce_avx512.cc; this file checks, picks the ISA and splits.
#include <algorithm>
#include <cstdint>
#include <vector>

#define MERCLIP_ISA isa_base
#include "reduce_kernels.h"
#undef MERCLIP_ISA

#include "merclip/error.h"
#include "merclip/reduce.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

// Σ x²: chunks of kChunk values (sum_squares_chunk), chunk sums added in chunk order.
double sum_squares(const float* x, int64_t n) {
  MERCLIP_CHECK(n >= 0, "sum_squares: n must be >= 0");
  constexpr int64_t kChunk = 65536;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  const auto chunk = MERCLIP_ISA_PICK(current_isa(), sum_squares_chunk);
  parallel_for(0, chunks, 4, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * kChunk, i1 = std::min(n, i0 + kChunk);
      part[static_cast<size_t>(c)] = chunk(x + i0, i1 - i0);
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
  const auto add = MERCLIP_ISA_PICK(current_isa(), add_scaled_run);
  parallel_for(0, n, 65536, [&](int64_t i0, int64_t i1) {
    int64_t j = i0 % ny;
    for (int64_t i = i0; i < i1;) {
      const int64_t run = std::min(i1 - i, ny - j);
      add(out + i, x + i, y + j, alpha, run);
      i += run;
      j = 0;
    }
  });
}

}  // namespace cpu
}  // namespace merclip
