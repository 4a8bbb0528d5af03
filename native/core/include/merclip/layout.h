// merclip/layout.h — pure data movement: the heads permute (split [B,L,H,Dh] → [B,H,L,Dh] and
// its inverse merge). fp32, contiguous; exact copies, so ref (ref/layout_ref.cc) and cpu
// (cpu/layout.cc) give the same bits. The output is OVERWRITTEN; dst and src must not overlap.
// Split (cpu): disjoint contiguous destination blocks over the global pool. Packed (varlen)
// sequences need no layout op: the packed attention kernels (merclip/attention.h) read the
// [T, H·Dh] rows in place.
#pragma once

#include <cstdint>

namespace merclip {

#define MERCLIP_LAYOUT_DECLARATIONS                                                                \
  /* Swap axes 1 and 2: dst [A, C, B, D] = src [A, B, C, D] (the heads split [B,L,H,Dh] →       */ \
  /* [B,H,L,Dh] and its inverse merge).                                                          */ \
  void permute_0213(float* dst, const float* src, int64_t a, int64_t b, int64_t c, int64_t d);

namespace ref {
MERCLIP_LAYOUT_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_LAYOUT_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_LAYOUT_DECLARATIONS

}  // namespace merclip
