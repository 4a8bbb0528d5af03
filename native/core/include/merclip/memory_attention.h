// merclip/memory_attention.h — attention of a few query rows per sample over that sample's
// packed memory rows, which serve as both keys and values (fp32).
//
// This is cross-attention with the key and value projections absorbed into the queries and
// the output (SPEC §7: "padding is not work", and here neither is projecting every memory
// token). For a head h with q_h = W_q,h y, k_t = W_k,h x_t + b_k,h, v_t = W_v,h x_t + b_v,h:
//   q_h · k_t = (W_k,hᵀ q_h) · x_t + const      (the constant cancels in the softmax)
//   Σ_t p_t v_t = W_v,h (Σ_t p_t x_t) + b_v,h    (Σ_t p_t = 1)
// so the decoder's R = C·H absorbed query rows per sample attend straight to the memory x:
// R·d work per memory token instead of the 2·d² of projecting it to keys and values.
//
// Layout, row-major: q [B, R, D]; x [T, D] packed — sample b owns rows
// [off_b, off_b + lengths[b]) with off_b = Σ_{c<b} lengths[c] and Σ lengths = T.
//   S_b = scale · q_b x_bᵀ [R, len_b],  P = softmax_rows(S_b),  out_b = P x_b [R, D],
//   lse[b, r] = log Σ_t exp(S_b[r, t])  (saved for the backward).
// A sample with length 0 gets out = 0, lse = +inf and no gradient (dq rows 0).
// NaN in q or x gives NaN rows, never silently finite numbers.
// Backward: P recomputed from lse; Δ_r = Σ_d dout·out; dS = scale · P ∘ (dout x_bᵀ − Δ);
//   dq_b = dS x_b,  dx_b = dSᵀ q_b + Pᵀ dout_b  (dx overwritten, or added to when accumulate).
// The cpu:: form runs samples in parallel (one thread each, register-tiled GEMMs on a
// per-thread score buffer of R × len_b floats) or, with fewer samples than threads, one sample
// at a time with threaded GEMMs. Deterministic: the same bits for any thread count.
#pragma once

#include <cstdint>

namespace merclip {

struct MemoryAttentionParams {
  int64_t batch = 0;
  int64_t rows = 0;   // R, query rows per sample
  int64_t dim = 0;    // D
  int64_t total = 0;  // T = Σ lengths
  float scale = 1.0f;
  const int32_t* lengths = nullptr;  // [batch], each >= 0, summing to total
  bool accumulate = false;           // backward: dx += … instead of dx = …
};

#define MERCLIP_MEMORY_ATTENTION_DECLARATIONS                                                    \
  /* out [B,R,D], lse [B,R] from q [B,R,D] and the packed memory x [T,D]. */                    \
  void memory_attention_forward(float* out, float* lse, const float* q, const float* x,         \
                                const MemoryAttentionParams& p);                                \
  /* dq [B,R,D] (overwritten), dx [T,D] (overwritten or accumulated) from dout [B,R,D]. */      \
  void memory_attention_backward(float* dq, float* dx, const float* dout, const float* q,       \
                                 const float* x, const float* out, const float* lse,            \
                                 const MemoryAttentionParams& p);

namespace ref {
MERCLIP_MEMORY_ATTENTION_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_MEMORY_ATTENTION_DECLARATIONS
}  // namespace cpu

#undef MERCLIP_MEMORY_ATTENTION_DECLARATIONS

// Throws merclip::Error (invalid_argument) unless sizes are positive (total may be 0 only if
// every length is 0; the binding, which takes no empty buffers, leaves that case to its caller:
// lib/tensor/ops.ts returns zeros), lengths non-null, each >= 0, and they sum to total.
void memory_attention_check(const MemoryAttentionParams& p);

}  // namespace merclip
