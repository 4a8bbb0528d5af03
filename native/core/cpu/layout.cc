// native/core/cpu/layout.cc — the heads permute and the packed ↔ padded heads gathers
// (merclip::cpu, declared in merclip/layout.h; ref/layout_ref.cc is the loop-per-element twin,
// tests/test_layout.cc checks the two give the same bits). memcpy per row, threads over
// disjoint destination blocks.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

// Packed rows ↔ padded heads: one task per (sample, head), a memcpy per row.
namespace {
template <class Copy>
void for_each_head_rows(const int32_t* lengths, int64_t batch, int64_t len, int64_t heads,
                        int64_t head_dim, const char* what, const Copy& copy) {
  MERCLIP_CHECK(batch >= 0 && len >= 0 && heads >= 0 && head_dim >= 0, std::string(what) + ": sizes must be >= 0");
  std::vector<int64_t> off(static_cast<size_t>(batch) + 1, 0);
  for (int64_t b = 0; b < batch; ++b) {
    MERCLIP_CHECK(lengths[b] >= 0 && lengths[b] <= len, std::string(what) + ": lengths must be in [0, len]");
    off[b + 1] = off[b] + lengths[b];
  }
  if (batch == 0 || heads == 0 || head_dim == 0 || len == 0) return;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, len * head_dim));
  parallel_for(0, batch * heads, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / heads, h = r % heads;
      // padded rows of (b, h), and the first packed element of sample b, head h
      copy(r * len * head_dim, off[b] * heads * head_dim + h * head_dim, lengths[b]);
    }
  });
}
}  // namespace

void unpack_heads(float* padded, const float* packed, const int32_t* lengths, int64_t batch,
                  int64_t len, int64_t heads, int64_t head_dim) {
  const int64_t stride = heads * head_dim;
  const size_t row = sizeof(float) * static_cast<size_t>(head_dim);
  for_each_head_rows(lengths, batch, len, heads, head_dim, "unpack_heads",
                     [&](int64_t pad0, int64_t pack0, int64_t n) {
                       float* out = padded + pad0;
                       const float* in = packed + pack0;
                       for (int64_t j = 0; j < n; ++j) std::memcpy(out + j * head_dim, in + j * stride, row);
                       std::memset(out + n * head_dim, 0, row * static_cast<size_t>(len - n));
                     });
}

void pack_heads(float* packed, const float* padded, const int32_t* lengths, int64_t batch,
                int64_t len, int64_t heads, int64_t head_dim) {
  const int64_t stride = heads * head_dim;
  const size_t row = sizeof(float) * static_cast<size_t>(head_dim);
  for_each_head_rows(lengths, batch, len, heads, head_dim, "pack_heads",
                     [&](int64_t pad0, int64_t pack0, int64_t n) {
                       const float* in = padded + pad0;
                       float* out = packed + pack0;
                       for (int64_t j = 0; j < n; ++j) std::memcpy(out + j * stride, in + j * head_dim, row);
                     });
}

}  // namespace cpu
}  // namespace merclip
