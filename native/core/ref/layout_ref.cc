// native/core/ref/layout_ref.cc — reference heads permute, one element at a time, single-
// threaded (merclip::ref, declared in merclip/layout.h): the oracle tests/test_layout.cc compares
// merclip::cpu against.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "merclip/error.h"
#include "merclip/layout.h"

namespace merclip {
namespace ref {

// dst [A, C, B, D] = src [A, B, C, D]

void permute_0213(float* dst, const float* src, int64_t a, int64_t b, int64_t c, int64_t d) {
  MERCLIP_CHECK(a >= 0 && b >= 0 && c >= 0 && d >= 0, "permute_0213: sizes must be >= 0");
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < c; ++k)
        for (int64_t l = 0; l < d; ++l) dst[((i * c + k) * b + j) * d + l] = src[((i * b + j) * c + k) * d + l];
}

}  // namespace ref
}  // namespace merclip
