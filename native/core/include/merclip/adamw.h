// merclip/adamw.h — one fused AdamW update (torch.optim.AdamW semantics), in place on param, m
// and v. fp32, contiguous. Same declarations in merclip::ref (ref/adamw_ref.cc, double) and
// merclip::cpu (cpu/adamw.cc, vectorised, contiguous chunks over the global pool; each element
// is computed the same way whatever the split). Conventions: merclip/layernorm.h.
#pragma once

#include <cstdint>

namespace merclip {

// Hyperparameters are double, as in PyTorch (Python floats): coefficients such as 1 − beta2
// are formed in double and rounded to float once (1 − 0.999f would be off by 1.3e-5 relative).
struct AdamWParams {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  int64_t step = 1;  // 1-based step count after this update (bias correction uses it)
};

#define MERCLIP_ADAMW_DECLARATIONS                                                                 \
  /* Over n values, in place on param, m, v (no overlap between any two arrays):                */ \
  /*   m = b1 m + (1−b1) g;  v = b2 v + (1−b2) g²;                                               */ \
  /*   param −= lr · (wd · param + (m / (1−b1^t)) / (sqrt(v / (1−b2^t)) + eps))                  */ \
  /* (decoupled weight decay, applied to the pre-update param).                                  */ \
  void adamw_step(float* param, float* m, float* v, const float* grad, int64_t n,                   \
                  const AdamWParams& p);

namespace ref {
MERCLIP_ADAMW_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_ADAMW_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_ADAMW_DECLARATIONS

}  // namespace merclip
