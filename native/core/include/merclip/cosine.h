// merclip/cosine.h — batched cosine similarity (SPEC §3), forward and backward, fp32 row-major.
//
//   out[i, j] = scale · <x_i, e_j> · rx_i · re_j,   rx_i = 1 / max(‖x_i‖, eps),  re_j likewise
//
// eps (default 1e-8) guards zero vectors: a vector shorter than eps is divided by eps instead
// of its norm (so a zero vector has cosine 0 with everything, never NaN), and in the backward
// that clamped normalisation is a constant (no projection term), as in PyTorch's
// F.normalize(x, eps=…) · F.normalize(e, eps=…).
//
// Forward saves the inverse norms rx [n] and re [c] (optional outputs: null → not saved); the
// backward takes the forward's `out` and, when available, those norms (null → recomputed, an
// O((n + c)·dim) pass; a saved inverse norm >= float(1/eps) marks a clamped vector):
//   dx_i = rx_i · (scale · Σ_j dout_ij · re_j · e_j − [‖x_i‖ > eps] · rx_i · (Σ_j dout_ij · out_ij) · x_i)
//   de_j = re_j · (scale · Σ_i dout_ij · rx_i · x_i − [‖e_j‖ > eps] · re_j · (Σ_i dout_ij · out_ij) · e_j)
// Every output is overwritten (dx, de may be null: not computed).
//
// Paired form (the prediction head): h [batch, c, dim]; out[b, j] = scale · cos(h[b, j], e[j]);
// saves rh [batch·c] and re [c] (optional, as above); backward gives dh [batch, c, dim] and
// de [c, dim] (summed over b):
//   dh_bj = rh_bj · (scale · dout_bj · re_j · e_j − [‖h_bj‖ > eps] · rh_bj · dout_bj · out_bj · h_bj)
//   de_j  = re_j · (scale · Σ_b dout_bj · rh_bj · h_bj − [‖e_j‖ > eps] · re_j · (Σ_b dout_bj · out_bj) · e_j)
//
// Top-k: for each x_i, the k rows of e with the highest cosine (scores are scale · cos), in
// descending order, ties broken by the lower index; e is processed in blocks, so memory is
// O(n·k + block), never [n, c].
//
// The same declarations exist in merclip::ref (plain loops, double accumulation) and
// merclip::cpu (fused row pass for few labels; normalise + GEMM for many; threads).
#pragma once

#include <cstdint>

namespace merclip {

struct CosineParams {
  int64_t n = 0;    // rows of x
  int64_t c = 0;    // rows of e (labels)
  int64_t dim = 0;  // vector length
  float scale = 1.0f;
  float eps = 1e-8f;
};

struct CosinePairedParams {
  int64_t batch = 0;
  int64_t c = 0;
  int64_t dim = 0;
  float scale = 1.0f;
  float eps = 1e-8f;
};

#define MERCLIP_COSINE_DECLARATIONS                                                              \
  /* out [n,c]; x_rnorm [n], e_rnorm [c] optional. */                                          \
  void cosine_forward(float* out, float* x_rnorm, float* e_rnorm, const float* x, const float* e, \
                      const CosineParams& p);                                                   \
  /* dx [n,dim], de [c,dim] (either may be null) from dout [n,c] and the forward's out;      */ \
  /* x_rnorm, e_rnorm may be null (recomputed).                                             */ \
  void cosine_backward(float* dx, float* de, const float* dout, const float* out,               \
                       const float* x, const float* e, const float* x_rnorm,                    \
                       const float* e_rnorm, const CosineParams& p);                            \
  /* out [batch,c]; h_rnorm [batch·c], e_rnorm [c] optional. */                                 \
  void cosine_paired_forward(float* out, float* h_rnorm, float* e_rnorm, const float* h,        \
                             const float* e, const CosinePairedParams& p);                      \
  /* dh [batch,c,dim], de [c,dim] (either may be null). */                                      \
  void cosine_paired_backward(float* dh, float* de, const float* dout, const float* out,        \
                              const float* h, const float* e, const float* h_rnorm,             \
                              const float* e_rnorm, const CosinePairedParams& p);               \
  /* indices [n,k] (int32), scores [n,k]; 1 <= k <= c. */                                       \
  void cosine_topk(int32_t* indices, float* scores, const float* x, const float* e,             \
                   const CosineParams& p, int64_t k);

namespace ref {
MERCLIP_COSINE_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_COSINE_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_COSINE_DECLARATIONS

}  // namespace merclip
