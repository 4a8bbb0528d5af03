// merclip/gelu.h — the GELU family, elementwise forward and backward. fp32, contiguous.
// Same declarations in merclip::ref (ref/gelu_ref.cc, double) and merclip::cpu (cpu/gelu.cc,
// vectorised, contiguous chunks over the global pool). Conventions: merclip/layernorm.h.
// - out may alias x (forward), dx may alias dout (backward); no other overlap.
// - Saves nothing: the backward recomputes σ / Φ from x.
#pragma once

#include <cstdint>

namespace merclip {

enum class GeluApprox : int {
  none = 0,   // x · Φ(x), Φ via erf (PyTorch approximate='none')
  tanh = 1,   // 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))  (approximate='tanh')
  quick = 2,  // x · σ(1.702 x)  (CLIP's quick_gelu)
};

#define MERCLIP_GELU_DECLARATIONS                                                                  \
  /* out[i] = gelu(x[i]) over n values.                                                          */ \
  void gelu_forward(float* out, const float* x, int64_t n, GeluApprox approx);                      \
  /* dx[i] = dout[i] · gelu'(x[i]) (the derivative of exactly the forward formula).             */ \
  void gelu_backward(float* dx, const float* dout, const float* x, int64_t n, GeluApprox approx);

namespace ref {
MERCLIP_GELU_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_GELU_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_GELU_DECLARATIONS

}  // namespace merclip
