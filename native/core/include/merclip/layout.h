// merclip/layout.h — pure data movement: the heads permute and the packed-rows ↔ padded-heads
// gathers. fp32, contiguous; exact copies, so ref (ref/layout_ref.cc) and cpu (cpu/layout.cc)
// give the same bits. Every output is OVERWRITTEN; dst and src must not overlap.
// Split (cpu): disjoint contiguous destination blocks over the global pool.
#pragma once

#include <cstdint>

namespace merclip {

#define MERCLIP_LAYOUT_DECLARATIONS                                                                \
  /* Swap axes 1 and 2: dst [A, C, B, D] = src [A, B, C, D] (the heads split [B,L,H,Dh] →       */ \
  /* [B,H,L,Dh] and its inverse merge).                                                          */ \
  void permute_0213(float* dst, const float* src, int64_t a, int64_t b, int64_t c, int64_t d);      \
  /* Packed rows ↔ padded heads: packed [T, H·Dh] (sample b's lengths[b] rows after sample b−1's, */ \
  /* T = Σ lengths, each in [0, len]) and padded [B, H, len, Dh]. unpack_heads writes the padded  */ \
  /* form with its padding rows zeroed; pack_heads the packed form (padding rows not read).      */ \
  void unpack_heads(float* padded, const float* packed, const int32_t* lengths, int64_t batch,     \
                    int64_t len, int64_t heads, int64_t head_dim);                                 \
  void pack_heads(float* packed, const float* padded, const int32_t* lengths, int64_t batch,       \
                  int64_t len, int64_t heads, int64_t head_dim);

namespace ref {
MERCLIP_LAYOUT_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_LAYOUT_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_LAYOUT_DECLARATIONS

}  // namespace merclip
