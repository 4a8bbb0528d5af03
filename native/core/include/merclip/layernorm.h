// merclip/layernorm.h — LayerNorm over the last dim, forward and backward. fp32, row-major,
// contiguous. Same declarations in merclip::ref (ref/layernorm_ref.cc: plain loops, double
// accumulation) and merclip::cpu (cpu/layernorm.cc: vectorised, parallel with the global pool).
//
// Conventions (llm.c style, shared by every kernel header): argument order outputs, saved
// tensors, inputs, sizes; every output is OVERWRITTEN (never accumulated into); optional outputs
// may be null; gradients carry a `d` prefix; inputs are assumed validated (the binding checks
// them), invariants use MERCLIP_CHECK (merclip::Error, never abort).
// - Forward saves mean[rows] and rstd[rows] (rstd = 1/sqrt(var + eps), biased variance); both
//   may be null (not saved).
// - Split (cpu): forward parallel over rows; backward over fixed blocks of rows that depend only
//   on rows and dim, the dweight/dbias per-block partials summed in block order, so every output
//   is bitwise the same for any thread count.
#pragma once

#include <cstdint>

namespace merclip {

#define MERCLIP_LAYERNORM_DECLARATIONS                                                             \
  /* x,out [rows,dim]; weight,bias [dim] (null → 1 / 0). Saves mean[rows], rstd[rows].          */ \
  void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight, \
                         const float* bias, int64_t rows, int64_t dim, float eps);                  \
  /* dx [rows,dim]; dweight,dbias [dim] (null → not computed). weight null → 1.                  */ \
  void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout,               \
                          const float* x, const float* weight, const float* mean,                   \
                          const float* rstd, int64_t rows, int64_t dim);

namespace ref {
MERCLIP_LAYERNORM_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_LAYERNORM_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_LAYERNORM_DECLARATIONS

}  // namespace merclip
