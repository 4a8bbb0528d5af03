// merclip/ops.h — the non-GEMM kernels training needs: LayerNorm, GELU family, row softmax,
// softmax cross-entropy, fused AdamW, the heads permute and the broadcast add. fp32, row-major, contiguous.
//
// Conventions for every function here (llm.c style):
// - argument order: outputs, saved tensors, inputs, sizes/params;
// - every output is OVERWRITTEN (never accumulated into); optional outputs may be null;
// - the forward saves exactly what its backward needs (named in each comment);
// - gradients carry a `d` prefix;
// - inputs are assumed validated (the binding checks them); invariants use MERCLIP_CHECK.
// Edge semantics (ref and cpu agree; the tests check them):
// - layernorm_forward: mean and rstd may be null (not saved);
// - softmax: a row of all −inf gives zeros; a NaN anywhere in a row makes the row NaN;
// - softmax_xent: a row whose logits are all −inf has lse = +inf, so its loss is +inf while its
//   gradients stay finite.
// The same declarations exist in merclip::ref (plain loops, double accumulation) and
// merclip::cpu (vectorised, parallel over rows with the global thread pool).
#pragma once

#include <cstdint>

namespace merclip {

enum class GeluApprox : int {
  none = 0,   // x · Φ(x), Φ via erf (PyTorch approximate='none')
  tanh = 1,   // 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))  (approximate='tanh')
  quick = 2,  // x · σ(1.702 x)  (CLIP's quick_gelu)
};

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

#define MERCLIP_OPS_DECLARATIONS                                                                   \
  /* LayerNorm over the last dim. x,out [rows,dim]; weight,bias [dim] (null → 1 / 0).           */ \
  /* Saves mean[rows], rstd[rows] (rstd = 1/sqrt(var + eps), biased variance).                   */ \
  void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight, \
                         const float* bias, int64_t rows, int64_t dim, float eps);                  \
  /* dx [rows,dim]; dweight,dbias [dim] (null → not computed). weight null → 1.                  */ \
  void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout,               \
                          const float* x, const float* weight, const float* mean,                   \
                          const float* rstd, int64_t rows, int64_t dim);                            \
  /* Elementwise, n values. out may alias x; dx may alias dout.                                  */ \
  void gelu_forward(float* out, const float* x, int64_t n, GeluApprox approx);                      \
  void gelu_backward(float* dx, const float* dout, const float* x, int64_t n, GeluApprox approx);   \
  /* Row softmax: out[r,:] = softmax(x[r,:]). out may alias x.                                   */ \
  void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols);                     \
  /* dx = out ∘ (dout − rowsum(dout ∘ out)). dx may alias dout.                                  */ \
  void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows,               \
                        int64_t cols);                                                              \
  /* loss[0] = mean over rows of (lse[r] − logits[r, targets[r]]); saves lse[rows].              */ \
  /* targets in [0, cols).                                                                       */ \
  void softmax_xent_forward(float* loss, float* lse, const float* logits, const int32_t* targets,   \
                            int64_t rows, int64_t cols);                                            \
  /* dlogits[r,c] = dloss/rows · (exp(logits[r,c] − lse[r]) − [c == targets[r]]).                */ \
  void softmax_xent_backward(float* dlogits, const float* logits, const float* lse,                 \
                             const int32_t* targets, float dloss, int64_t rows, int64_t cols);      \
  /* One fused AdamW update over n values, in place on param, m, v:                              */ \
  /*   m = b1 m + (1−b1) g;  v = b2 v + (1−b2) g²;                                               */ \
  /*   param −= lr · (wd · param + (m / (1−b1^t)) / (sqrt(v / (1−b2^t)) + eps))                  */ \
  /* (decoupled weight decay, applied to the pre-update param, as torch.optim.AdamW).            */ \
  void adamw_step(float* param, float* m, float* v, const float* grad, int64_t n,                   \
                  const AdamWParams& p);                                                             \
  /* Swap axes 1 and 2: dst [A, C, B, D] = src [A, B, C, D] (the heads split [B,L,H,Dh] →       */ \
  /* [B,H,L,Dh] and its inverse merge). dst and src must not overlap.                            */ \
  void permute_0213(float* dst, const float* src, int64_t a, int64_t b, int64_t c, int64_t d);      \
  /* Packed rows ↔ padded heads: packed [T, H·Dh] (sample b's lengths[b] rows after sample b−1's, */ \
  /* T = Σ lengths, each in [0, len]) and padded [B, H, len, Dh]. unpack_heads writes the padded  */ \
  /* form with its padding rows zeroed; pack_heads the packed form (padding rows not read). One   */ \
  /* pass each: the packed sequences' splitHeads(unpackRows(·)) and packRows(mergeHeads(·)).      */ \
  void unpack_heads(float* padded, const float* packed, const int32_t* lengths, int64_t batch,     \
                    int64_t len, int64_t heads, int64_t head_dim);                                 \
  void pack_heads(float* packed, const float* padded, const int32_t* lengths, int64_t batch,       \
                  int64_t len, int64_t heads, int64_t head_dim);                                   \
  /* out[i] = x[i] + alpha · y[i mod ny] over n values (y repeated over x's leading dims; n is a  */ \
  /* multiple of ny). out may alias x, not y.                                                    */ \
  void add_scaled(float* out, const float* x, const float* y, float alpha, int64_t n, int64_t ny); \
  /* Σ x[i]² over n values, accumulated in double (gradient-norm clipping). The cpu form sums   */ \
  /* fixed 64 Ki-element chunks and adds the chunk sums in order: the same bits for any threads. */ \
  double sum_squares(const float* x, int64_t n);

namespace ref {
MERCLIP_OPS_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_OPS_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_OPS_DECLARATIONS

}  // namespace merclip
