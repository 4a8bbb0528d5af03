// merclip/softmax.h — row softmax and softmax cross-entropy (mean over rows), forward and
// backward. fp32, row-major [rows, cols], contiguous. Same declarations in merclip::ref
// (ref/softmax_ref.cc, double) and merclip::cpu (cpu/softmax.cc, vectorised, parallel over
// rows). Conventions: merclip/layernorm.h.
// Edge semantics (ref and cpu agree; the tests check them):
// - softmax: a row of all −inf gives zeros; a NaN anywhere in a row makes the row NaN;
// - softmax_xent: a row whose logits are all −inf has lse = +inf, so its loss is +inf while its
//   gradients stay finite (exactly 0); −inf logits always give exact zeros, never NaN.
// - The cross-entropy loss sums per-row losses serially in double: the same bits for any
//   thread count.
#pragma once

#include <cstdint>

namespace merclip {

#define MERCLIP_SOFTMAX_DECLARATIONS                                                               \
  /* out[r,:] = softmax(x[r,:]). out may alias x. Saves out.                                     */ \
  void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols);                     \
  /* dx = out ∘ (dout − rowsum(dout ∘ out)). dx may alias dout.                                  */ \
  void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows,               \
                        int64_t cols);                                                              \
  /* loss[0] = mean over rows of (lse[r] − logits[r, targets[r]]); saves lse[rows] (nullable). */ \
  /* targets in [0, cols) (checked: merclip::Error before any work).                             */ \
  void softmax_xent_forward(float* loss, float* lse, const float* logits, const int32_t* targets,   \
                            int64_t rows, int64_t cols);                                            \
  /* dlogits[r,c] = dloss/rows · (exp(logits[r,c] − lse[r]) − [c == targets[r]]).                */ \
  void softmax_xent_backward(float* dlogits, const float* logits, const float* lse,                 \
                             const int32_t* targets, float dloss, int64_t rows, int64_t cols);

namespace ref {
MERCLIP_SOFTMAX_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_SOFTMAX_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_SOFTMAX_DECLARATIONS

}  // namespace merclip
