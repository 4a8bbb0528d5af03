// native/core/ref/attention_ref.cc — the boring oracle for merclip/attention.h (merclip::ref).
//
// Same maths as cpu/attention.cc with the full Lq × Lk score matrix of one (sample, head)
// materialised and every sum in double; plain loops, no threads, no tiling. Each (sample, head)
// is first gathered from the packed rows into contiguous [len, Dh] blocks, computed as a dense
// attention, and its results scattered back.
//
// attention_forward: out [Tq, H·Dh], lse [H, Tq] (saved for the backward) from q, k, v (packed,
//   merclip/attention.h). S = scale·q kᵀ, masked entries (j > i when causal) are −inf,
//   P = softmax_rows(S), out = P v, lse = log Σ_j exp(S_ij).
// attention_backward: dq [Tq, H·Dh], dk, dv [Tk, H·Dh] from dout. P is recomputed here in
//   double from q and k (the saved out / lse are not needed for the exact gradient, and using
//   the double softmax keeps this the exact derivative of ref::attention_forward, which the
//   tests check with finite differences); D_i = Σ_d dout_id · O_id with O = P v in double.
// Every output is overwritten. A row that sees no key gives out = 0, lse = +inf and
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

bool masked(const AttentionParams& p, int64_t i, int64_t j) { return p.causal && j > i; }

// One (sample, head) gathered: q [lq, dh], k, v [lk, dh] contiguous.
struct Block {
  int64_t q0 = 0, lq = 0, k0 = 0, lk = 0;
  std::vector<float> q, k, v;
};

// Rows [r0, r0 + n) of head h of X (row stride ld) into a contiguous [n, dh] vector.
std::vector<float> gather(const float* X, int64_t ld, int64_t r0, int64_t n, int64_t h,
                          int64_t dh) {
  std::vector<float> out(static_cast<size_t>(n * dh));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t d = 0; d < dh; ++d) out[static_cast<size_t>(r * dh + d)] = X[(r0 + r) * ld + h * dh + d];
  return out;
}

Block block(const float* q, const float* k, const float* v, const AttentionParams& p, int64_t b,
            int64_t h) {
  Block B;
  B.q0 = p.cu_seqlens_q[b];
  B.lq = p.cu_seqlens_q[b + 1] - B.q0;
  B.k0 = p.cu_seqlens_k[b];
  B.lk = p.cu_seqlens_k[b + 1] - B.k0;
  B.q = gather(q, attention_q_stride(p), B.q0, B.lq, h, p.head_dim);
  B.k = gather(k, attention_k_stride(p), B.k0, B.lk, h, p.head_dim);
  B.v = gather(v, attention_v_stride(p), B.k0, B.lk, h, p.head_dim);
  return B;
}

// P [Lq, Lk] (double) for one (b, h); row_ok[i] = false for a fully masked row (P row = 0).
void softmax_probs(std::vector<double>& P, std::vector<char>& row_ok, std::vector<double>& lse,
                   const float* q, const float* k, const AttentionParams& p, int64_t lq,
                   int64_t lk) {
  const int64_t dh = p.head_dim;
  P.assign(static_cast<size_t>(lq * lk), 0.0);
  row_ok.assign(static_cast<size_t>(lq), 0);
  lse.assign(static_cast<size_t>(lq), std::numeric_limits<double>::infinity());
  for (int64_t i = 0; i < lq; ++i) {
    double* s = P.data() + i * lk;
    double m = -std::numeric_limits<double>::infinity();
    bool nan = false;
    for (int64_t j = 0; j < lk; ++j) {
      if (masked(p, i, j)) {
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
      for (int64_t j = 0; j < lk; ++j) s[j] = masked(p, i, j) ? 0.0 : std::numeric_limits<double>::quiet_NaN();
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
      s[j] = masked(p, i, j) ? 0.0 : std::exp(s[j] - m);
      sum += s[j];
    }
    for (int64_t j = 0; j < lk; ++j) s[j] /= sum;
    row_ok[i] = 1;
    lse[i] = m + std::log(sum);
  }
}

void check_params(const AttentionParams& p) {
  MERCLIP_CHECK(p.batch >= 0 && p.heads >= 0 && p.total_q >= 0 && p.total_k >= 0,
                "attention: negative size");
  MERCLIP_CHECK(p.batch == 0 || (p.cu_seqlens_q != nullptr && p.cu_seqlens_k != nullptr),
                "attention: cu_seqlens missing");
  MERCLIP_CHECK(p.head_dim >= 1 && p.head_dim <= 256, "attention: head_dim must be in [1, 256]");
}

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionParams& p) {
  check_params(p);
  const int64_t dh = p.head_dim, ld = p.heads * dh, tq = p.total_q;
  std::vector<double> P, L, o(static_cast<size_t>(dh));
  std::vector<char> ok;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads; ++h) {
      const Block X = block(q, k, v, p, b, h);
      const int64_t lq = X.lq, lk = X.lk;
      softmax_probs(P, ok, L, X.q.data(), X.k.data(), p, lq, lk);
      for (int64_t i = 0; i < lq; ++i) {
        for (int64_t d = 0; d < dh; ++d) o[d] = 0.0;
        for (int64_t j = 0; j < lk; ++j) {
          const double pij = P[i * lk + j];
          if (pij == 0.0) continue;
          for (int64_t d = 0; d < dh; ++d) o[d] += pij * X.v[j * dh + d];
        }
        for (int64_t d = 0; d < dh; ++d) out[(X.q0 + i) * ld + h * dh + d] = static_cast<float>(o[d]);
        lse[h * tq + X.q0 + i] = ok[i] ? static_cast<float>(L[i]) : std::numeric_limits<float>::infinity();
      }
    }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const AttentionParams& p) {
  check_params(p);
  (void)out;
  (void)lse;
  const int64_t dh = p.head_dim, ld = p.heads * dh;
  const double scale = p.scale;
  std::vector<double> P, L, dQ, dK, dV, dS, D;
  std::vector<char> ok;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads; ++h) {
      const Block X = block(q, k, v, p, b, h);
      const int64_t lq = X.lq, lk = X.lk;
      const std::vector<float> G = gather(dout, ld, X.q0, lq, h, dh);
      const float* qb = X.q.data();
      const float* kb = X.k.data();
      const float* vb = X.v.data();
      const float* gb = G.data();
      softmax_probs(P, ok, L, qb, kb, p, lq, lk);
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
      for (int64_t i = 0; i < lq; ++i)
        for (int64_t d = 0; d < dh; ++d)
          dq[(X.q0 + i) * ld + h * dh + d] = static_cast<float>(dQ[i * dh + d]);
      for (int64_t j = 0; j < lk; ++j)
        for (int64_t d = 0; d < dh; ++d) {
          dk[(X.k0 + j) * ld + h * dh + d] = static_cast<float>(dK[j * dh + d]);
          dv[(X.k0 + j) * ld + h * dh + d] = static_cast<float>(dV[j * dh + d]);
        }
    }
}

}  // namespace ref
}  // namespace merclip
