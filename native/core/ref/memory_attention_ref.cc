// native/core/ref/memory_attention_ref.cc — the boring oracle for merclip/memory_attention.h.
//
// Plain loops, every sum in double, no threads. The backward recomputes P in double from q and
// x (not from the saved out / lse), so it is the exact derivative of ref::
// memory_attention_forward, which the tests check with finite differences.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "merclip/memory_attention.h"

namespace merclip {
namespace ref {

namespace {

// P [R, len] in double for sample b (rows of x_b), and lse [R].
void probs(std::vector<double>& P, std::vector<double>& lse, const float* q_b, const float* x_b,
           int64_t len, const MemoryAttentionParams& p) {
  const int64_t R = p.rows, D = p.dim;
  P.assign(static_cast<size_t>(R * len), 0.0);
  lse.assign(static_cast<size_t>(R), 0.0);
  for (int64_t r = 0; r < R; ++r) {
    double m = -std::numeric_limits<double>::infinity();
    bool nan = false;
    for (int64_t t = 0; t < len; ++t) {
      double s = 0.0;
      for (int64_t d = 0; d < D; ++d) s += static_cast<double>(q_b[r * D + d]) * x_b[t * D + d];
      s *= p.scale;
      P[r * len + t] = s;
      if (std::isnan(s)) nan = true;
      if (s > m) m = s;
    }
    if (nan) m = std::numeric_limits<double>::quiet_NaN();
    double sum = 0.0;
    for (int64_t t = 0; t < len; ++t) sum += (P[r * len + t] = std::exp(P[r * len + t] - m));
    for (int64_t t = 0; t < len; ++t) P[r * len + t] /= sum;
    lse[r] = m + std::log(sum);
  }
}

}  // namespace

void memory_attention_forward(float* out, float* lse, const float* q, const float* x,
                              const MemoryAttentionParams& p) {
  memory_attention_check(p);
  const int64_t R = p.rows, D = p.dim;
  std::vector<double> P, l;
  int64_t off = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t len = p.lengths[b];
    const float* x_b = x + off * D;
    if (len == 0) {
      for (int64_t i = 0; i < R * D; ++i) out[b * R * D + i] = 0.0f;
      for (int64_t r = 0; r < R; ++r) lse[b * R + r] = std::numeric_limits<float>::infinity();
      continue;
    }
    probs(P, l, q + b * R * D, x_b, len, p);
    for (int64_t r = 0; r < R; ++r) {
      lse[b * R + r] = static_cast<float>(l[r]);
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0.0;
        for (int64_t t = 0; t < len; ++t) acc += P[r * len + t] * x_b[t * D + d];
        out[(b * R + r) * D + d] = static_cast<float>(acc);
      }
    }
    off += len;
  }
}

void memory_attention_backward(float* dq, float* dx, const float* dout, const float* q,
                               const float* x, const float* /*out*/, const float* /*lse*/,
                               const MemoryAttentionParams& p) {
  memory_attention_check(p);
  const int64_t R = p.rows, D = p.dim;
  std::vector<double> P, l, dS, O;
  int64_t off = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t len = p.lengths[b];
    const float* x_b = x + off * D;
    const float* q_b = q + b * R * D;
    const float* g_b = dout + b * R * D;
    float* dq_b = dq + b * R * D;
    float* dx_b = dx + off * D;
    off += len;
    if (len == 0) {
      for (int64_t i = 0; i < R * D; ++i) dq_b[i] = 0.0f;
      continue;
    }
    probs(P, l, q_b, x_b, len, p);
    // out in double, Δ_r = Σ_d dout·out, dS = scale · P ∘ (dout xᵀ − Δ)
    dS.assign(static_cast<size_t>(R * len), 0.0);
    for (int64_t r = 0; r < R; ++r) {
      double delta = 0.0;
      for (int64_t d = 0; d < D; ++d) {
        double o = 0.0;
        for (int64_t t = 0; t < len; ++t) o += P[r * len + t] * x_b[t * D + d];
        delta += o * g_b[r * D + d];
      }
      for (int64_t t = 0; t < len; ++t) {
        double dp = 0.0;
        for (int64_t d = 0; d < D; ++d) dp += static_cast<double>(g_b[r * D + d]) * x_b[t * D + d];
        dS[r * len + t] = p.scale * P[r * len + t] * (dp - delta);
      }
    }
    for (int64_t r = 0; r < R; ++r)
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0.0;
        for (int64_t t = 0; t < len; ++t) acc += dS[r * len + t] * x_b[t * D + d];
        dq_b[r * D + d] = static_cast<float>(acc);
      }
    for (int64_t t = 0; t < len; ++t)
      for (int64_t d = 0; d < D; ++d) {
        double acc = p.accumulate ? static_cast<double>(dx_b[t * D + d]) : 0.0;
        for (int64_t r = 0; r < R; ++r)
          acc += dS[r * len + t] * q_b[r * D + d] + P[r * len + t] * g_b[r * D + d];
        dx_b[t * D + d] = static_cast<float>(acc);
      }
  }
}

}  // namespace ref
}  // namespace merclip
