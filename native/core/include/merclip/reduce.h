// merclip/reduce.h — a reduction over a whole tensor and its broadcast adjoint, the two kernels
// of the gradient bookkeeping (norm clipping, gradient accumulation). fp32, contiguous.
// Same declarations in merclip::ref (ref/reduce_ref.cc) and merclip::cpu (cpu/reduce.cc).
// (The column sum of a matrix, bias_grad, lives with the GEMM it is the bias backward of:
// merclip/gemm.h.)
#pragma once

#include <cstdint>

namespace merclip {

#define MERCLIP_REDUCE_DECLARATIONS                                                                \
  /* Σ x[i]² over n values, accumulated in double. The cpu form sums fixed 64 Ki-element chunks */ \
  /* (in parallel) and adds the chunk sums in order: the same bits for any thread count.       */ \
  double sum_squares(const float* x, int64_t n);                                                   \
  /* out[i] = x[i] + alpha · y[i mod ny] over n values (y repeated over x's leading dims; n is a */ \
  /* multiple of ny >= 1). OVERWRITES out; out may alias x, not y. Each element is              */ \
  /* computed the same way whatever the split (blocks of elements over the pool).             */ \
  void add_scaled(float* out, const float* x, const float* y, float alpha, int64_t n, int64_t ny);

namespace ref {
MERCLIP_REDUCE_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_REDUCE_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_REDUCE_DECLARATIONS

}  // namespace merclip
