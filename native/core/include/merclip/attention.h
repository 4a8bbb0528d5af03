// merclip/attention.h — fused multi-head attention over packed variable-length sequences,
// forward and backward (SPEC §3), fp32. The model's only attention kernel: encoder
// self-attention, CLIP towers, the decoder's self-attention over its label queries.
//
// Layout (FlashAttention's varlen layout, flash_api.cpp mha_varlen_fwd):
//   q [Tq, ·] — the valid query rows of all B samples one after the other; sample b owns rows
//     cu_seqlens_q[b] … cu_seqlens_q[b+1] − 1; head h is columns h·Dh … h·Dh + Dh − 1 of a row,
//     rows q_stride floats apart (q_stride >= H·Dh; 0 means H·Dh) — so a [T, d] projection
//     output (d = H·Dh) is read in place, and a fused [T, 3d] one with stride 3d;
//   k, v [Tk, ·] the same with cu_seqlens_k (strides k_stride, v_stride);
//   out, dout, dq [Tq, H·Dh] and dk, dv [Tk, H·Dh] dense (row stride H·Dh);
//   lse [H, Tq]: lse[h·Tq + t] for query row t, head h (each head's rows contiguous).
// A padded [B, L] batch is the special case cu_seqlens = b·L (uniform lengths).
//   S = scale · q kᵀ within a sample (scale: the caller resolves the 1/sqrt(Dh) default),
//   P = softmax_rows(S), out = P v, lse = log Σ_j exp(S_ij) (saved for the backward).
// Masks: keys of other samples are never seen; causal: query i of a sample sees that sample's
// keys 0 … i (top-left aligned, no Lk − Lq offset — self-attention with Lq == Lk).
// A query row that sees no key (its sample has no keys) gives out = 0 and lse = +inf
// (flash-attention's convention) and zero gradients — never NaN. A NaN score (NaN / ±inf
// inputs) makes its row's out and lse NaN, never a silent 0.
//
// Forward: tiled with an online softmax (running max / running sum); the Lq × Lk score matrix
// is never materialised beyond one tile per thread; extra memory O(H·Tq) (lse) + per-thread
// tiles. Backward: recomputes P tile by tile from lse, with D_i = rowsum(dout ∘ out)
// precomputed: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ∘ (dP − D), dQ = scale · dS K, dK = scale · dSᵀ Q.
// Every output is overwritten (dq, dk, dv zeroed by the backward itself). The backward is
// deterministic (bitwise identical run to run, and for any thread count).
//
// The same declarations exist in merclip::ref (full score matrix per (sample, head), double
// accumulation, the boring oracle) and merclip::cpu (tiled, vectorised, parallel over (sample,
// head, query tile) — and over key blocks when there are few query tiles, as in the decoder).
// Callers validate the offsets (native/binding/attention.cc does: 0 = c[0] <= … <= c[B] = T,
// each length <= its max_seqlen <= T); the kernels trust them.
#pragma once

#include <cstdint>

namespace merclip {

struct AttentionParams {
  int64_t batch = 0;     // samples B
  int64_t heads = 0;     // H
  int64_t head_dim = 0;  // Dh, 1 … 256
  int64_t total_q = 0;   // Tq = cu_seqlens_q[B]
  int64_t total_k = 0;   // Tk = cu_seqlens_k[B]
  int64_t max_seqlen_q = 0;  // >= every sample's query length (CUDA grid sizing)
  int64_t max_seqlen_k = 0;  // >= every sample's key length
  const int32_t* cu_seqlens_q = nullptr;  // [B + 1] query row offsets
  const int32_t* cu_seqlens_k = nullptr;  // [B + 1] key row offsets
  int64_t q_stride = 0;  // row strides of q, k, v in floats; 0 means H·Dh
  int64_t k_stride = 0;
  int64_t v_stride = 0;
  float scale = 0.0f;
  bool causal = false;
};

// The row strides in use (0 resolved to H·Dh).
inline int64_t attention_q_stride(const AttentionParams& p) {
  return p.q_stride > 0 ? p.q_stride : p.heads * p.head_dim;
}
inline int64_t attention_k_stride(const AttentionParams& p) {
  return p.k_stride > 0 ? p.k_stride : p.heads * p.head_dim;
}
inline int64_t attention_v_stride(const AttentionParams& p) {
  return p.v_stride > 0 ? p.v_stride : p.heads * p.head_dim;
}

#define MERCLIP_ATTENTION_DECLARATIONS                                                            \
  /* out [Tq, H·Dh], lse [H, Tq] from q [Tq, ·], k, v [Tk, ·]. */                                \
  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, \
                         const AttentionParams& p);                                              \
  /* dq [Tq, H·Dh], dk, dv [Tk, H·Dh] from dout [Tq, H·Dh] and the forward's out and lse. */     \
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
