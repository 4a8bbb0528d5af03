// cpu/memory_attention.cc — attention over packed memory rows that are both keys and values
// (contract and maths: merclip/memory_attention.h).
//
// Per sample b with len_b memory rows: the R × len_b score matrix is small (the decoder has
// R = C·H = 56 rows; len_b ≤ a few hundred), so it is materialised in a per-thread buffer and
// every product is a register-tiled GEMM (cpu/gemm.cc) — the FLOPs are there, the softmax is
// a few percent. Samples run as parallel tasks (longest first, so the last task is short),
// each on one thread with gemm_serial; with fewer samples than threads, one sample at a time
// with threaded GEMMs. Each output element is computed by one thread with a fixed summation
// order either way, so results do not depend on the thread count.
//
// Per-ISA code: none in this file, by design. The FLOPs are the GEMMs (R·len·D per product),
// and cpu::gemm / gemm_serial dispatch by simd_level() to their hand-written AVX-512 / AVX2 /
// NEON micro-kernels (gemm_avx512.cc, gemm_avx2.cc, gemm_neon.cc), so the hot loop never depends
// on the build's -march. What is compiled with the build's flags is the softmax / dS pass
// (per score ~3 vector ops for the exp, max, sum and scale against 2·D / 8 = 128 vector FMAs
// in the GEMMs at D = 512: ~2 % of the work) — verdict: no per-ISA twin needed.
//
// Backward per sample, two GEMMs fused into one by stacking: with G = [dS; P] ([2R, len_b],
// one buffer) and Y = [q_b; dout_b] ([2R, D]), dx_b = Gᵀ Y = dSᵀ q_b + Pᵀ dout_b (k = 2R: half
// the C traffic of two k = R products).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "../common/aligned_buffer.h"
#include "merclip/error.h"
#include "merclip/gemm.h"
#include "merclip/memory_attention.h"
#include "merclip/thread_pool.h"
#include "vec_math.h"

namespace merclip {

void memory_attention_check(const MemoryAttentionParams& p) {
  MERCLIP_CHECK(p.batch >= 1 && p.rows >= 1 && p.dim >= 1,
                "memory_attention: batch, rows and dim must be >= 1");
  MERCLIP_CHECK(p.total >= 0, "memory_attention: total must be >= 0");
  MERCLIP_CHECK(p.lengths != nullptr, "memory_attention: lengths must not be null");
  int64_t sum = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    if (p.lengths[b] < 0)
      throw Error(ErrorCode::invalid_argument, "memory_attention: lengths[" + std::to_string(b) +
                                                   "] = " + std::to_string(p.lengths[b]) + " is negative");
    sum += p.lengths[b];
  }
  if (sum != p.total)
    throw Error(ErrorCode::invalid_argument, "memory_attention: lengths sum to " + std::to_string(sum) +
                                                 ", expected total = " + std::to_string(p.total));
}

namespace cpu {

namespace {

thread_local AlignedBuffer t_scores;  // forward: P [R, len]; backward: [dS; P] [2R, len]
thread_local AlignedBuffer t_stack;   // backward: [q_b; dout_b] [2R, D]

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<int64_t> row_offsets(const MemoryAttentionParams& p) {
  std::vector<int64_t> off(static_cast<size_t>(p.batch) + 1, 0);
  for (int64_t b = 0; b < p.batch; ++b) off[b + 1] = off[b] + p.lengths[b];
  return off;
}

// Sample indices, longest first (ties by index: a fixed order).
std::vector<int64_t> longest_first(const MemoryAttentionParams& p) {
  std::vector<int64_t> order(static_cast<size_t>(p.batch));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return p.lengths[a] > p.lengths[b]; });
  return order;
}

// Runs body(b, threaded_gemm) for every sample: samples in parallel (serial GEMMs) when there
// are enough of them, else one by one with threaded GEMMs.
template <class Body>
void for_each_sample(const MemoryAttentionParams& p, const Body& body) {
  ThreadPool& pool = ThreadPool::global();
  const int threads = pool.active_threads();
  if (threads > 1 && p.batch >= 2 * threads) {
    const std::vector<int64_t> order = longest_first(p);
    pool.run(p.batch, [&](int64_t t) { body(order[t], false); });
  } else {
    for (int64_t b = 0; b < p.batch; ++b) body(b, threads > 1);
  }
}

void run_gemm(bool threaded, float* c, const float* a, const float* b, const GemmParams& g) {
  if (threaded) gemm(c, a, b, nullptr, g);
  else gemm_serial(c, a, b, nullptr, g);
}

// S = alpha · a x_bᵀ for a [rows, D] and the sample's memory rows x_b [len, D].
GemmParams scores_gemm(int64_t rows, int64_t len, int64_t dim, float alpha) {
  GemmParams g;
  g.m = rows;
  g.n = len;
  g.k = dim;
  g.trans_b = true;
  g.alpha = alpha;
  return g;
}

// Σ of n floats with 16 partial sums (vectorises without reassociation flags).
float sum16(const float* v, int64_t n) {
  float acc[16] = {};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int l = 0; l < 16; ++l) acc[l] += v[j + l];
  for (; j < n; ++j) acc[0] += v[j];
  float s = 0.0f;
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

// Row-wise softmax of s [rows, n] in place; lse[r] = log Σ_j exp(s_rj). A NaN anywhere in a
// row makes the whole row (and its lse) NaN.
void softmax_rows(float* s, float* lse, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = s + r * n;
    float m = -kInf;
    int nan = 0;
    for (int64_t j = 0; j < n; ++j) {
      m = row[j] > m ? row[j] : m;
      nan |= row[j] != row[j];
    }
    if (nan) m = std::numeric_limits<float>::quiet_NaN();
    for (int64_t j = 0; j < n; ++j) row[j] = exp_f(row[j] - m);
    const float sum = sum16(row, n);
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; ++j) row[j] *= inv;
    lse[r] = m + std::log(sum);
  }
}

}  // namespace

void memory_attention_forward(float* out, float* lse, const float* q, const float* x,
                              const MemoryAttentionParams& p) {
  memory_attention_check(p);
  const int64_t R = p.rows, D = p.dim;
  const std::vector<int64_t> off = row_offsets(p);
  for_each_sample(p, [&](int64_t b, bool threaded) {
    const int64_t len = p.lengths[b];
    float* out_b = out + b * R * D;
    float* lse_b = lse + b * R;
    if (len == 0) {
      std::fill(out_b, out_b + R * D, 0.0f);
      std::fill(lse_b, lse_b + R, kInf);
      return;
    }
    const float* x_b = x + off[b] * D;
    float* s = t_scores.floats(static_cast<size_t>(R * len));
    run_gemm(threaded, s, q + b * R * D, x_b, scores_gemm(R, len, D, p.scale));
    softmax_rows(s, lse_b, R, len);
    GemmParams o;  // out_b = P x_b
    o.m = R;
    o.n = D;
    o.k = len;
    run_gemm(threaded, out_b, s, x_b, o);
  });
}

void memory_attention_backward(float* dq, float* dx, const float* dout, const float* q,
                               const float* x, const float* out, const float* lse,
                               const MemoryAttentionParams& p) {
  memory_attention_check(p);
  const int64_t R = p.rows, D = p.dim;
  const std::vector<int64_t> off = row_offsets(p);
  for_each_sample(p, [&](int64_t b, bool threaded) {
    const int64_t len = p.lengths[b];
    float* dq_b = dq + b * R * D;
    if (len == 0) {
      std::fill(dq_b, dq_b + R * D, 0.0f);
      return;
    }
    const float* x_b = x + off[b] * D;
    const float* q_b = q + b * R * D;
    const float* dout_b = dout + b * R * D;
    const float* out_b = out + b * R * D;
    const float* lse_b = lse + b * R;
    float* g = t_scores.floats(static_cast<size_t>(2 * R * len));
    float* ds = g;             // rows [0, R): dP, then dS
    float* prob = g + R * len;  // rows [R, 2R): S, then P
    run_gemm(threaded, prob, q_b, x_b, scores_gemm(R, len, D, p.scale));
    run_gemm(threaded, ds, dout_b, x_b, scores_gemm(R, len, D, 1.0f));  // dP = dout_b x_bᵀ
    for (int64_t r = 0; r < R; ++r) {
      float* pr = prob + r * len;
      float* dr = ds + r * len;
      const float l = lse_b[r];
      float delta = 0.0f;
      {
        float acc[16] = {};
        const float* o = out_b + r * D;
        const float* d = dout_b + r * D;
        int64_t j = 0;
        for (; j + 16 <= D; j += 16)
          for (int u = 0; u < 16; ++u) acc[u] += o[j + u] * d[j + u];
        for (; j < D; ++j) acc[0] += o[j] * d[j];
        for (int u = 0; u < 16; ++u) delta += acc[u];
      }
      for (int64_t j = 0; j < len; ++j) {
        const float pj = exp_f(pr[j] - l);
        pr[j] = pj;
        dr[j] = p.scale * pj * (dr[j] - delta);
      }
    }
    GemmParams dqp;  // dq_b = dS x_b
    dqp.m = R;
    dqp.n = D;
    dqp.k = len;
    run_gemm(threaded, dq_b, ds, x_b, dqp);
    float* y = t_stack.floats(static_cast<size_t>(2 * R * D));
    std::memcpy(y, q_b, static_cast<size_t>(R * D) * sizeof(float));
    std::memcpy(y + R * D, dout_b, static_cast<size_t>(R * D) * sizeof(float));
    GemmParams dxp;  // dx_b (+)= [dS; P]ᵀ [q_b; dout_b]
    dxp.m = len;
    dxp.n = D;
    dxp.k = 2 * R;
    dxp.trans_a = true;
    dxp.beta = p.accumulate ? 1.0f : 0.0f;
    run_gemm(threaded, dx + off[b] * D, g, y, dxp);
  });
}

}  // namespace cpu
}  // namespace merclip
