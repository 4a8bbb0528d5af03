// native/core/ref/attention_ref.cc — the boring oracle for merclip/attention.h (merclip::ref).
//
// Same maths as cpu/attention.cc with the full Lq × Lk score matrix of one (batch, head)
// materialised and every sum in double; plain loops, no threads, no tiling.
//
// attention_forward: out [B,H,Lq,Dh], lse [B,H,Lq] (saved for the backward) from q [B,H,Lq,Dh],
//   k, v [B,H,Lk,Dh]. S = scale·q kᵀ, masked entries (j >= key_lengths[b], or j > i when
//   causal) are −inf, P = softmax_rows(S), out = P v, lse = log Σ_j exp(S_ij).
// attention_backward: dq [B,H,Lq,Dh], dk, dv [B,H,Lk,Dh] from dout. P is recomputed here in
//   double from q and k (the saved out / lse are not needed for the exact gradient, and using
//   the double softmax keeps this the exact derivative of ref::attention_forward, which the
//   tests check with finite differences); D_i = Σ_d dout_id · O_id with O = P v in double.
// Every output is overwritten. A row whose keys are all masked gives out = 0, lse = +inf and
// contributes nothing to any gradient (its dq row is 0).
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "merclip/attention.h"
#include "merclip/error.h"

namespace merclip {
namespace ref {

namespace {

bool masked(const AttentionParams& p, int64_t b, int64_t i, int64_t j) {
  if (p.key_lengths != nullptr && j >= p.key_lengths[b]) return true;
  if (p.query_lengths != nullptr && i >= p.query_lengths[b]) return true;  // a padding query row
  return p.causal && j > i;
}

// P [Lq, Lk] (double) for one (b, h); row_ok[i] = false for a fully masked row (P row = 0).
void softmax_probs(std::vector<double>& P, std::vector<char>& row_ok, std::vector<double>& lse,
                   const float* q, const float* k, const AttentionParams& p, int64_t b) {
  const int64_t lq = p.lq, lk = p.lk, dh = p.head_dim;
  P.assign(static_cast<size_t>(lq * lk), 0.0);
  row_ok.assign(static_cast<size_t>(lq), 0);
  lse.assign(static_cast<size_t>(lq), std::numeric_limits<double>::infinity());
  for (int64_t i = 0; i < lq; ++i) {
    double* s = P.data() + i * lk;
    double m = -std::numeric_limits<double>::infinity();
    bool nan = false;
    for (int64_t j = 0; j < lk; ++j) {
      if (masked(p, b, i, j)) {
        s[j] = -std::numeric_limits<double>::infinity();
        continue;
      }
      double dot = 0.0;
      for (int64_t d = 0; d < dh; ++d)
        dot += static_cast<double>(q[i * dh + d]) * static_cast<double>(k[j * dh + d]);
      s[j] = static_cast<double>(p.scale) * dot;
      if (s[j] > m) m = s[j];
      nan = nan || std::isnan(s[j]);
    }
    if (nan) {  // a NaN score (NaN / ±inf inputs): the row's probabilities and lse are NaN
      for (int64_t j = 0; j < lk; ++j) s[j] = masked(p, b, i, j) ? 0.0 : std::numeric_limits<double>::quiet_NaN();
      row_ok[i] = 1;
      lse[i] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    if (m == -std::numeric_limits<double>::infinity()) {
      for (int64_t j = 0; j < lk; ++j) s[j] = 0.0;
      continue;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < lk; ++j) {
      s[j] = masked(p, b, i, j) ? 0.0 : std::exp(s[j] - m);
      sum += s[j];
    }
    for (int64_t j = 0; j < lk; ++j) s[j] /= sum;
    row_ok[i] = 1;
    lse[i] = m + std::log(sum);
  }
}

void check_params(const AttentionParams& p) {
  MERCLIP_CHECK(p.batch >= 0 && p.heads >= 0 && p.lq >= 0 && p.lk >= 0,
                "attention: negative size");
  MERCLIP_CHECK(p.head_dim >= 1 && p.head_dim <= 256, "attention: head_dim must be in [1, 256]");
}

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionParams& p) {
  check_params(p);
  const int64_t lq = p.lq, lk = p.lk, dh = p.head_dim;
  std::vector<double> P, L, o(static_cast<size_t>(dh));
  std::vector<char> ok;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads; ++h) {
      const int64_t bh = b * p.heads + h;
      const float* qb = q + bh * lq * dh;
      const float* kb = k + bh * lk * dh;
      const float* vb = v + bh * lk * dh;
      softmax_probs(P, ok, L, qb, kb, p, b);
      for (int64_t i = 0; i < lq; ++i) {
        for (int64_t d = 0; d < dh; ++d) o[d] = 0.0;
        for (int64_t j = 0; j < lk; ++j) {
          const double pij = P[i * lk + j];
          if (pij == 0.0) continue;
          for (int64_t d = 0; d < dh; ++d) o[d] += pij * vb[j * dh + d];
        }
        for (int64_t d = 0; d < dh; ++d) out[(bh * lq + i) * dh + d] = static_cast<float>(o[d]);
        lse[bh * lq + i] = ok[i] ? static_cast<float>(L[i]) : std::numeric_limits<float>::infinity();
      }
    }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const AttentionParams& p) {
  check_params(p);
  const int64_t lq = p.lq, lk = p.lk, dh = p.head_dim;
  const double scale = p.scale;
  std::vector<double> P, L, dQ, dK, dV, dS, D;
  std::vector<char> ok;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads; ++h) {
      const int64_t bh = b * p.heads + h;
      const float* qb = q + bh * lq * dh;
      const float* kb = k + bh * lk * dh;
      const float* vb = v + bh * lk * dh;
      const float* gb = dout + bh * lq * dh;
      softmax_probs(P, ok, L, qb, kb, p, b);
      dQ.assign(static_cast<size_t>(lq * dh), 0.0);
      dK.assign(static_cast<size_t>(lk * dh), 0.0);
      dV.assign(static_cast<size_t>(lk * dh), 0.0);
      dS.assign(static_cast<size_t>(lq * lk), 0.0);
      D.assign(static_cast<size_t>(lq), 0.0);
      // D_i = Σ_d dO_id · O_id, O = P v (double)
      for (int64_t i = 0; i < lq; ++i)
        for (int64_t d = 0; d < dh; ++d) {
          double o = 0.0;
          for (int64_t j = 0; j < lk; ++j) o += P[i * lk + j] * vb[j * dh + d];
          D[i] += static_cast<double>(gb[i * dh + d]) * o;
        }
      // dV = Pᵀ dO; dP = dO vᵀ; dS = P ∘ (dP − D)
      for (int64_t i = 0; i < lq; ++i)
        for (int64_t j = 0; j < lk; ++j) {
          const double pij = P[i * lk + j];
          if (pij == 0.0) continue;
          double dp = 0.0;
          for (int64_t d = 0; d < dh; ++d) {
            dV[j * dh + d] += pij * gb[i * dh + d];
            dp += static_cast<double>(gb[i * dh + d]) * vb[j * dh + d];
          }
          dS[i * lk + j] = pij * (dp - D[i]);
        }
      // dQ = scale · dS k, dK = scale · dSᵀ q
      for (int64_t i = 0; i < lq; ++i)
        for (int64_t j = 0; j < lk; ++j) {
          const double s = scale * dS[i * lk + j];
          if (s == 0.0) continue;
          for (int64_t d = 0; d < dh; ++d) {
            dQ[i * dh + d] += s * kb[j * dh + d];
            dK[j * dh + d] += s * qb[i * dh + d];
          }
        }
      for (int64_t x = 0; x < lq * dh; ++x) dq[bh * lq * dh + x] = static_cast<float>(dQ[x]);
      for (int64_t x = 0; x < lk * dh; ++x) {
        dk[bh * lk * dh + x] = static_cast<float>(dK[x]);
        dv[bh * lk * dh + x] = static_cast<float>(dV[x]);
      }
    }
}

}  // namespace ref
}  // namespace merclip
