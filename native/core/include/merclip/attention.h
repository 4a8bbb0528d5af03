// merclip/attention.h — fused multi-head attention, forward and backward (SPEC §3), fp32.
//
// Layout [B, H, L, Dh] row-major: q [B,H,Lq,Dh], k and v [B,H,Lk,Dh], out [B,H,Lq,Dh].
//   S = scale · q kᵀ (scale default 1/sqrt(Dh)), masked entries = −inf, P = softmax_rows(S),
//   out = P v,  lse[b,h,i] = log Σ_j exp(S_ij)  (saved for the backward).
// Masks: key_lengths (optional, [B], each in [0, Lk]): key j of batch b is masked when
// j >= key_lengths[b] (key padding); causal: key j is masked for query i when j > i (+ Lk − Lq
// offset is NOT applied: query i sees keys 0 … i, as for self-attention with Lq == Lk).
// A query row whose keys are all masked gives out = 0 and lse = +inf (flash-attention's
// convention), and zero gradients — never NaN.
//
// Forward: tiled with an online softmax (running max / running sum); the Lq × Lk score matrix
// is never materialised beyond one tile per thread; extra memory O(B·H·Lq) (lse) + per-thread
// tiles. Backward: recomputes P tile by tile from lse, with D_i = rowsum(dout ∘ out)
// precomputed: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ∘ (dP − D), dQ = scale · dS K, dK = scale · dSᵀ Q.
// Every output is overwritten (dq, dk, dv zeroed by the backward itself). The backward is
// deterministic (bitwise identical run to run, and for any thread count).
//
// The same declarations exist in merclip::ref (full score matrix, double accumulation, the
// boring oracle) and merclip::cpu (tiled, vectorised, parallel over (batch, head, query tile) —
// and over key blocks when Lq is tiny, as in the decoder's cross-attention).
#pragma once

#include <cstdint>

namespace merclip {

struct AttentionParams {
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t lq = 0;
  int64_t lk = 0;
  int64_t head_dim = 0;  // 1 … 256
  float scale = 0.0f;    // the caller resolves the 1/sqrt(Dh) default
  bool causal = false;
  const int32_t* key_lengths = nullptr;  // [batch] or null (no padding)
  // [batch] or null: query rows i >= query_lengths[b] are padding, treated as fully masked rows
  // (out 0, lse +inf, no gradient) and not computed — packed sequences' padded rows cost nothing.
  const int32_t* query_lengths = nullptr;
};

#define MERCLIP_ATTENTION_DECLARATIONS                                                            \
  /* out [B,H,Lq,Dh], lse [B,H,Lq] from q, k, v. */                                             \
  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, \
                         const AttentionParams& p);                                              \
  /* dq [B,H,Lq,Dh], dk, dv [B,H,Lk,Dh] from dout and the forward's out and lse. */              \
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,    \
                          const float* k, const float* v, const float* out, const float* lse,    \
                          const AttentionParams& p);

namespace ref {
MERCLIP_ATTENTION_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_ATTENTION_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_ATTENTION_DECLARATIONS

}  // namespace merclip
