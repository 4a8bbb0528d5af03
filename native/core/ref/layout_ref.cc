// native/core/ref/layout_ref.cc — reference heads permute and packed ↔ padded heads gathers, one
// element at a time (merclip::ref, declared in merclip/layout.h).
//
// Plain loops with double accumulators, single-threaded, boring on purpose: the oracle
// tests/test_layout.cc compares merclip::cpu against and its finite-difference checks validate.
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

// padded [B, H, len, Dh] ↔ packed [T, H·Dh]: element (b, h, j, e) ↔ (off_b + j, h·Dh + e)
void unpack_heads(float* padded, const float* packed, const int32_t* lengths, int64_t batch,
                  int64_t len, int64_t heads, int64_t head_dim) {
  int64_t off = 0;
  for (int64_t b = 0; b < batch; ++b) {
    MERCLIP_CHECK(lengths[b] >= 0 && lengths[b] <= len, "unpack_heads: lengths must be in [0, len]");
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < len; ++j)
        for (int64_t e = 0; e < head_dim; ++e)
          padded[((b * heads + h) * len + j) * head_dim + e] =
              j < lengths[b] ? packed[(off + j) * heads * head_dim + h * head_dim + e] : 0.0f;
    off += lengths[b];
  }
}

void pack_heads(float* packed, const float* padded, const int32_t* lengths, int64_t batch,
                int64_t len, int64_t heads, int64_t head_dim) {
  int64_t off = 0;
  for (int64_t b = 0; b < batch; ++b) {
    MERCLIP_CHECK(lengths[b] >= 0 && lengths[b] <= len, "pack_heads: lengths must be in [0, len]");
    for (int64_t j = 0; j < lengths[b]; ++j)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t e = 0; e < head_dim; ++e)
          packed[(off + j) * heads * head_dim + h * head_dim + e] =
              padded[((b * heads + h) * len + j) * head_dim + e];
    off += lengths[b];
  }
}

}  // namespace ref
}  // namespace merclip
