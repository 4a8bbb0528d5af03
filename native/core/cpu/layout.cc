// native/core/cpu/layout.cc — the heads permute (merclip::cpu, declared in merclip/layout.h;
// ref/layout_ref.cc is the loop-per-element twin, tests/test_layout.cc checks the two give the
// same bits). memcpy per row, threads over disjoint destination blocks.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "merclip/error.h"
#include "merclip/layout.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

// dst [A, C, B, D] = src [A, B, C, D]: one memcpy of D floats per (a, b, c); parallel over the
// destination's (a, c) rows of B·D floats, so threads write disjoint contiguous blocks.

void permute_0213(float* dst, const float* src, int64_t a, int64_t b, int64_t c, int64_t d) {
  MERCLIP_CHECK(a >= 0 && b >= 0 && c >= 0 && d >= 0, "permute_0213: sizes must be >= 0");
  if (a == 0 || b == 0 || c == 0 || d == 0) return;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, b * d));
  parallel_for(0, a * c, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t i = r / c, k = r % c;
      float* out = dst + r * b * d;
      const float* in = src + (i * b * c + k) * d;
      for (int64_t j = 0; j < b; ++j) std::memcpy(out + j * d, in + j * c * d, sizeof(float) * d);
    }
  });
}

}  // namespace cpu
}  // namespace merclip
