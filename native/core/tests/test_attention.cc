// native/core/tests/test_attention.cc — merclip::cpu attention_forward / attention_backward vs
// the merclip::ref oracle (ref/attention_ref.cc), at every SIMD level this CPU and build support,
// with 1 thread and with the whole pool (bitwise equal); ref backward vs central finite
// differences of a float64 forward written here. Packed layout (merclip/attention.h): q [Tq, ·],
// k, v [Tk, ·] with per-sample offsets cu_seqlens_q / cu_seqlens_k, head h at column h·Dh.
//
// Covered: B in {1, 2, 3}, H in {1, 2}, lengths from {1, 7, 33, 64, 100, 129} (a seeded sample
// plus fixed corners: Lq = 1, Lq ≠ Lk, Lq = 7 with Lk = 500 — the decoder, which also takes the
// split-K path when B·H is small), head dims {1, 6, 32, 64, 100, 128, 256} (and 12, 24, 40 with
// query tiles of 62, 5, 11 rows: every remainder of the AVX2 kernels' 6-row blocks and
// 16-column head-dim chunks); B·H = 20 and 18 (the forward's one task per (sample, head), taken
// from 8 pairs per thread); causal on and off;
// uniform lengths (the padded [B, L] batch as offsets b·L), or ragged: random key lengths in
// [0, Lk] with one sample at 0 (its rows see no key) and one at Lk, and for half the cases
// random query lengths in [0, Lq] too (zero-length samples); causal + ragged together. Row
// strides: dense (H·Dh) or wider, with the gap columns filled with NaN — any read outside a
// head's columns would poison the result. Outputs NaN-prefilled and guarded.
//
// Tolerances: out and lse |got − ref| <= 1e-5·(max|ref| of the tensor) (+1e-5·|ref| for lse),
// masked lse must be +inf exactly; gradients <= 1e-4·max|ref| of each tensor, plus for dq / dk
// 1e-6·max|dout|·max|v|·max|k (or q): the size of the terms that cancel in dS = P ∘ (dP − D)
// (a row that sees one key has dq = dk = 0 exactly, the fp32 result is rounding noise). Finite
// differences: loss = Σ dout ∘ out in double, central differences with h = 1e-4, checked against
// the ref backward with 1e-5·max|fd| + 1e-7.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "merclip/attention.h"
#include "merclip/cpu_features.h"
#include "merclip/error.h"
#include "merclip/thread_pool.h"
#include "test_util.h"

using merclip::AttentionParams;
using merclip::SimdLevel;
using merclip_test::Buffer;
using merclip_test::max_finite_abs;
using merclip_test::bitwise_equal;
using merclip_test::nan_buffer;
using merclip_test::compare;
using merclip_test::fmt;
using merclip_test::Rng;

namespace {

// A packed problem: offsets, strides and the sizes of every buffer.
struct Packed {
  std::vector<int32_t> cuq, cuk;  // [B + 1]
  AttentionParams p;
  int64_t nq = 0, nk = 0, nv = 0;  // q, k, v buffer floats (with stride gaps)
  int64_t no = 0, nko = 0, nl = 0;  // out / dq, dk / dv, lse floats
};

Packed make_packed(int64_t H, int64_t dh, const std::vector<int32_t>& lq,
                   const std::vector<int32_t>& lk, bool causal, int64_t q_extra = 0,
                   int64_t k_extra = 0, int64_t v_extra = 0) {
  Packed P;
  const int64_t B = static_cast<int64_t>(lq.size());
  P.cuq.assign(1, 0);
  P.cuk.assign(1, 0);
  int64_t mq = 0, mk = 0;
  for (int64_t b = 0; b < B; ++b) {
    P.cuq.push_back(P.cuq.back() + lq[b]);
    P.cuk.push_back(P.cuk.back() + lk[b]);
    mq = std::max<int64_t>(mq, lq[b]);
    mk = std::max<int64_t>(mk, lk[b]);
  }
  AttentionParams& p = P.p;
  p.batch = B, p.heads = H, p.head_dim = dh;
  p.total_q = P.cuq.back(), p.total_k = P.cuk.back();
  p.max_seqlen_q = mq, p.max_seqlen_k = mk;
  p.cu_seqlens_q = P.cuq.data(), p.cu_seqlens_k = P.cuk.data();
  p.q_stride = q_extra ? H * dh + q_extra : 0;
  p.k_stride = k_extra ? H * dh + k_extra : 0;
  p.v_stride = v_extra ? H * dh + v_extra : 0;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
  p.causal = causal;
  P.nq = p.total_q * merclip::attention_q_stride(p);
  P.nk = p.total_k * merclip::attention_k_stride(p);
  P.nv = p.total_k * merclip::attention_v_stride(p);
  P.no = p.total_q * H * dh;
  P.nko = p.total_k * H * dh;
  P.nl = H * p.total_q;
  return P;
}

// Fills the head columns of X [T, ld] with N(mean, sd²), the gap columns with NaN.
void fill_rows(Buffer& X, int64_t T, int64_t ld, int64_t width, Rng& rng, double mean = 0.0,
               double sd = 1.0) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < ld; ++c)
      X[t * ld + c] = c < width ? static_cast<float>(mean + sd * rng.normal())
                                : std::numeric_limits<float>::quiet_NaN();
}

// ---------------------------------------------------------------------------------------------
// Finite differences of a float64 forward: loss = Σ dout ∘ out (dense strides).

double loss_f64(const std::vector<double>& q, const std::vector<double>& k,
                const std::vector<double>& v, const std::vector<double>& g,
                const AttentionParams& p) {
  const int64_t H = p.heads, dh = p.head_dim, ld = H * dh;
  double loss = 0.0;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t q0 = p.cu_seqlens_q[b], lq = p.cu_seqlens_q[b + 1] - q0;
    const int64_t k0 = p.cu_seqlens_k[b], lk = p.cu_seqlens_k[b + 1] - k0;
    std::vector<double> s(static_cast<size_t>(lk));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < lq; ++i) {
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < lk; ++j) {
          const bool masked = p.causal && j > i;
          double dot = 0.0;
          for (int64_t d = 0; d < dh; ++d)
            dot += q[(q0 + i) * ld + h * dh + d] * k[(k0 + j) * ld + h * dh + d];
          s[j] = masked ? -std::numeric_limits<double>::infinity() : p.scale * dot;
          m = std::max(m, s[j]);
        }
        if (m == -std::numeric_limits<double>::infinity()) continue;
        double sum = 0.0;
        for (int64_t j = 0; j < lk; ++j) sum += (s[j] = std::exp(s[j] - m));
        for (int64_t d = 0; d < dh; ++d) {
          double o = 0.0;
          for (int64_t j = 0; j < lk; ++j) o += s[j] / sum * v[(k0 + j) * ld + h * dh + d];
          loss += g[(q0 + i) * ld + h * dh + d] * o;
        }
      }
  }
  return loss;
}

void fd_case(int64_t H, int64_t dh, const std::vector<int32_t>& lq, const std::vector<int32_t>& lk,
             bool causal, uint64_t seed) {
  Rng rng(seed);
  Packed P = make_packed(H, dh, lq, lk, causal);
  const AttentionParams& p = P.p;
  Buffer q(P.nq), k(P.nk), v(P.nv), g(P.no);
  merclip_test::fill_normal(q.data(), P.nq, rng);
  merclip_test::fill_normal(k.data(), P.nk, rng);
  merclip_test::fill_normal(v.data(), P.nv, rng);
  merclip_test::fill_normal(g.data(), P.no, rng);
  Buffer out(P.no), lse(P.nl), dq(P.no), dk(P.nko), dv(P.nko);
  merclip::ref::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), p);
  merclip::ref::attention_backward(dq.data(), dk.data(), dv.data(), g.data(), q.data(), k.data(),
                                   v.data(), out.data(), lse.data(), p);
  auto to_d = [](const Buffer& b) {
    return std::vector<double>(b.data(), b.data() + b.size());
  };
  std::vector<double> Q = to_d(q), K = to_d(k), V = to_d(v), G = to_d(g);
  const double eps = 1e-4;
  std::string lens;
  for (size_t b = 0; b < lq.size(); ++b) lens += fmt(" %d/%d", lq[b], lk[b]);
  const std::string tag = fmt("fd H=%lld dh=%lld causal=%d lengths q/k", (long long)H,
                              (long long)dh, causal) + lens;
  struct Item {
    std::vector<double>* x;
    const Buffer* grad;
    const char* name;
  } items[] = {{&Q, &dq, "dq"}, {&K, &dk, "dk"}, {&V, &dv, "dv"}};
  for (auto& it : items) {
    std::vector<double> fd(it.x->size());
    for (size_t i = 0; i < it.x->size(); ++i) {
      const double x0 = (*it.x)[i];
      (*it.x)[i] = x0 + eps;
      const double lp = loss_f64(Q, K, V, G, p);
      (*it.x)[i] = x0 - eps;
      const double lm = loss_f64(Q, K, V, G, p);
      (*it.x)[i] = x0;
      fd[i] = (lp - lm) / (2 * eps);
    }
    double m = 0.0;
    for (double f : fd) m = std::max(m, std::fabs(f));
    compare(tag + " " + it.name, it.grad->data(), fd.data(), static_cast<int64_t>(fd.size()), 0.0,
            1e-5 * m + 1e-7);
  }
}

// ---------------------------------------------------------------------------------------------
// cpu vs ref

enum class Lengths { uniform, ragged };

void cpu_case(int64_t B, int64_t H, int64_t lq, int64_t lk, int64_t dh, bool causal, Lengths len,
              uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ql(static_cast<size_t>(B), static_cast<int32_t>(lq)),
      kl(static_cast<size_t>(B), static_cast<int32_t>(lk));
  if (len == Lengths::ragged) {
    for (int64_t b = 0; b < B; ++b) kl[b] = static_cast<int32_t>(rng.index(lk + 1));
    kl[0] = 0;                                          // rows that see no key
    if (B > 1) kl[B - 1] = static_cast<int32_t>(lk);
    if (seed % 2 == 0) {  // half the ragged cases have ragged (and zero-length) queries too
      for (int64_t b = 0; b < B; ++b) ql[b] = static_cast<int32_t>(rng.index(lq + 1));
      ql[B - 1] = static_cast<int32_t>(lq / 2);
    }
  }
  // every third case reads q / k / v through wider row strides (NaN gap columns)
  const int64_t extra = seed % 3 == 0 ? 3 : 0;
  Packed P = make_packed(H, dh, ql, kl, causal, extra, 2 * extra, extra ? 16 : 0);
  const AttentionParams& p = P.p;
  const int64_t w = H * dh;
  Buffer q(P.nq), k(P.nk), v(P.nv), g(P.no);
  fill_rows(q, p.total_q, merclip::attention_q_stride(p), w, rng, 0.1, 1.5);
  fill_rows(k, p.total_k, merclip::attention_k_stride(p), w, rng, -0.1, 1.0);
  fill_rows(v, p.total_k, merclip::attention_v_stride(p), w, rng, 0.2, 1.0);
  merclip_test::fill_normal(g.data(), P.no, rng);
  Buffer out_r(P.no), lse_r(P.nl), dq_r(P.no), dk_r(P.nko), dv_r(P.nko);
  merclip::ref::attention_forward(out_r.data(), lse_r.data(), q.data(), k.data(), v.data(), p);
  merclip::ref::attention_backward(dq_r.data(), dk_r.data(), dv_r.data(), g.data(), q.data(),
                                   k.data(), v.data(), out_r.data(), lse_r.data(), p);
  const std::string tag =
      fmt("attention B=%lld H=%lld lq=%lld lk=%lld dh=%lld causal=%d ragged=%d stride+%lld",
          (long long)B, (long long)H, (long long)lq, (long long)lk, (long long)dh, causal,
          len == Lengths::ragged, (long long)extra);
  const double out_tol = 1e-5 * max_finite_abs(out_r) + 1e-30;
  const double lse_tol = 1e-5 * max_finite_abs(lse_r) + 1e-30;
  // dq and dk are differences of terms of size ~ max|dout|·max|v|·max|k or q| (scale·√Dh = 1)
  // that cancel exactly when a row sees a single key (dq = dk = 0 up to rounding noise).
  const double gv = max_finite_abs(g) * max_finite_abs(v);
  const double dq_tol = 1e-4 * max_finite_abs(dq_r) + 1e-6 * gv * max_finite_abs(k) + 1e-30;
  const double dk_tol = 1e-4 * max_finite_abs(dk_r) + 1e-6 * gv * max_finite_abs(q) + 1e-30;
  const double dv_tol = 1e-4 * max_finite_abs(dv_r) + 1e-30;
  auto& pool = merclip::ThreadPool::global();
  for (SimdLevel l : merclip_test::simd_levels()) {
    merclip::set_simd_level(l);
    Buffer first[5];
    for (int threads : {1, 0}) {
      pool.set_active_threads(threads);
      const std::string t =
          tag + fmt(" [%s/%s]", merclip::simd_level_name(l), threads == 1 ? "1t" : "all");
      Buffer out = nan_buffer(P.no), lse = nan_buffer(P.nl);
      merclip::cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), p);
      compare(t + " out", out, out_r, 0.0, out_tol);
      compare(t + " lse", lse, lse_r, 1e-5, lse_tol);
      out.guards_ok(t + " out"), lse.guards_ok(t + " lse");
      Buffer dq = nan_buffer(P.no), dk = nan_buffer(P.nko), dv = nan_buffer(P.nko);
      merclip::cpu::attention_backward(dq.data(), dk.data(), dv.data(), g.data(), q.data(),
                                       k.data(), v.data(), out.data(), lse.data(), p);
      compare(t + " dq", dq, dq_r, 0.0, dq_tol);
      compare(t + " dk", dk, dk_r, 0.0, dk_tol);
      compare(t + " dv", dv, dv_r, 0.0, dv_tol);
      dq.guards_ok(t + " dq"), dk.guards_ok(t + " dk"), dv.guards_ok(t + " dv");
      Buffer* got[5] = {&out, &lse, &dq, &dk, &dv};
      if (threads == 1) {
        for (int i = 0; i < 5; ++i) first[i].copy_from(*got[i]);
      } else {
        for (int i = 0; i < 5; ++i) {
          const bool same = bitwise_equal(first[i], *got[i]);
          CHECK(same);
          if (!same) std::printf("  (%s: output %d differs between 1 and all threads)\n",
                                 t.c_str(), i);
        }
      }
    }
  }
  pool.set_active_threads(0);
  merclip::set_simd_level(merclip::max_simd_level());
}

// The padded [B, L] batch is the uniform-offset special case: a ragged batch equals, sample by
// sample, B separate one-sample calls (the per-sample results do not depend on the neighbours).
void separate_samples_case(uint64_t seed) {
  Rng rng(seed);
  const std::vector<int32_t> ql = {5, 0, 70, 3}, kl = {9, 4, 130, 0};
  const int64_t H = 2, dh = 16;
  Packed P = make_packed(H, dh, ql, kl, false);
  Buffer q(P.nq), k(P.nk), v(P.nv);
  merclip_test::fill_normal(q.data(), P.nq, rng);
  merclip_test::fill_normal(k.data(), P.nk, rng);
  merclip_test::fill_normal(v.data(), P.nv, rng);
  Buffer out(P.no), lse(P.nl);
  merclip::cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), P.p);
  const int64_t ld = H * dh;
  for (size_t b = 0; b < ql.size(); ++b) {
    Packed S = make_packed(H, dh, {ql[b]}, {kl[b]}, false);
    Buffer o1 = nan_buffer(S.no), l1 = nan_buffer(S.nl);
    merclip::cpu::attention_forward(o1.data(), l1.data(), q.data() + P.cuq[b] * ld,
                                    k.data() + P.cuk[b] * ld, v.data() + P.cuk[b] * ld, S.p);
    bool same = true;
    for (int64_t i = 0; i < S.no; ++i) same = same && o1[i] == out[P.cuq[b] * ld + i];
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < ql[b]; ++i)
        same = same && l1[h * ql[b] + i] == lse[h * P.p.total_q + P.cuq[b] + i];
    CHECK(same);
    if (!same) std::printf("  (sample %zu differs from its one-sample call)\n", b);
  }
}

void test_fd() {
  fd_case(1, 4, {3}, {5}, false, 1);
  fd_case(1, 3, {4, 4}, {4, 4}, true, 2);
  fd_case(2, 2, {3, 3}, {0, 4}, false, 3);  // a sample without keys
  fd_case(1, 3, {5, 5}, {2, 5}, true, 4);
  fd_case(1, 6, {1}, {7}, false, 5);
  fd_case(2, 2, {2, 0, 3}, {3, 2, 3}, false, 6);  // a sample without queries
}

void test_cpu() {
  uint64_t seed = 1000;
  // Fixed corners.
  struct Shape {
    int64_t B, H, lq, lk, dh;
  } fixed[] = {
      {1, 1, 1, 1, 1},    {1, 1, 1, 7, 6},     {2, 2, 1, 129, 64},  {1, 1, 7, 500, 64},
      {2, 2, 7, 500, 32}, {3, 2, 7, 500, 6},   {1, 2, 33, 33, 100}, {2, 1, 64, 64, 128},
      {1, 1, 129, 100, 256}, {3, 1, 129, 129, 6}, {2, 2, 64, 7, 1}, {1, 1, 33, 1, 32},
      {3, 2, 100, 129, 64}, {1, 1, 129, 33, 100},
      // the AVX2 kernels' 6-row blocks leave every remainder 1 … 5 (62 = 10·6 + 2, 5, 11 =
      // 6 + 5) and 16-column head-dim chunks with an 8-wide or a masked tail (12, 24, 40)
      {2, 1, 62, 70, 12}, {1, 2, 5, 41, 40}, {1, 1, 11, 200, 24},
      // many (sample, head) pairs: the forward's per-pair tasks (>= 8 pairs per thread), with
      // several query tiles per pair (150 = 64 + 64 + 22) and the decoder's 7 queries
      {5, 4, 150, 150, 64}, {9, 2, 7, 200, 32},
      // the decoder as the bench runs it: 32 pairs (one task each, no split-K), 7 queries —
      // the AVX2 few-rows forward, with key counts of every remainder mod 12 / 16 when ragged
      {8, 4, 7, 375, 64},
  };
  for (const Shape& s : fixed)
    for (bool causal : {false, true})
      for (Lengths len : {Lengths::uniform, Lengths::ragged})
        cpu_case(s.B, s.H, s.lq, s.lk, s.dh, causal, len, ++seed);
  // Seeded sample of the rest.
  const int64_t Bs[] = {1, 2, 3}, Hs[] = {1, 2}, Ls[] = {1, 7, 33, 64, 100, 129},
                Ds[] = {1, 6, 32, 64, 100, 128, 256};
  Rng pick(7);
  for (int n = 0; n < 24; ++n) {
    const int64_t B = Bs[pick.index(3)], H = Hs[pick.index(2)], lq = Ls[pick.index(6)],
                  lk = Ls[pick.index(6)], dh = Ds[pick.index(7)];
    cpu_case(B, H, lq, lk, dh, pick.uniform() < 0.5,
             pick.uniform() < 0.5 ? Lengths::uniform : Lengths::ragged, ++seed);
  }
  separate_samples_case(++seed);
}

// Non-finite inputs: a NaN (or ±inf) reaching a row's visible scores makes that row's out and lse
// NaN and its gradients NaN, exactly where the reference has them; rows that never see the bad
// key or query stay finite and equal to the reference. The inputs are read through wider row
// strides whose gap columns are NaN ("none": no other NaN — every row must stay finite). Covers
// the generic and AVX-512 tile steps, split-K (Lq 1, long Lk), the causal mask and a second
// sample (which must never see sample 0's keys).
void nan_case(int64_t B, int64_t H, int64_t lq, int64_t lk, int64_t dh, bool causal,
              const char* where, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ql(static_cast<size_t>(B), static_cast<int32_t>(lq)),
      kl(static_cast<size_t>(B), static_cast<int32_t>(lk));
  kl[0] = static_cast<int32_t>(lk / 2 + 1);
  Packed P = make_packed(H, dh, ql, kl, causal, 1, 5, 3);
  const AttentionParams& p = P.p;
  const int64_t ldq = merclip::attention_q_stride(p), ldk = merclip::attention_k_stride(p);
  Buffer q(P.nq), k(P.nk), v(P.nv), g(P.no);
  fill_rows(q, p.total_q, ldq, H * dh, rng);
  fill_rows(k, p.total_k, ldk, H * dh, rng);
  fill_rows(v, p.total_k, merclip::attention_v_stride(p), H * dh, rng);
  merclip_test::fill_normal(g.data(), P.no, rng);
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  const std::string w(where);
  if (w == "key") k[1 * ldk] = qnan;                            // sample 0, head 0, key 1
  if (w == "query") q[(lq - 1) * ldq + dh - 1] = qnan;          // sample 0, head 0, last query
  if (w == "inf key") k[2 * ldk] = std::numeric_limits<float>::infinity();
  Buffer out_r(P.no), lse_r(P.nl), dq_r(P.no), dk_r(P.nko), dv_r(P.nko);
  merclip::ref::attention_forward(out_r.data(), lse_r.data(), q.data(), k.data(), v.data(), p);
  merclip::ref::attention_backward(dq_r.data(), dk_r.data(), dv_r.data(), g.data(), q.data(),
                                   k.data(), v.data(), out_r.data(), lse_r.data(), p);
  const int64_t tq = p.total_q;
  for (SimdLevel l : merclip_test::simd_levels()) {
    merclip::set_simd_level(l);
    const std::string t = fmt("attention NaN (%s) B=%lld lq=%lld lk=%lld dh=%lld causal=%d [%s]", where,
                              (long long)B, (long long)lq, (long long)lk, (long long)dh, causal, merclip::simd_level_name(l));
    Buffer out(P.no), lse(P.nl);
    merclip::cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), p);
    bool same_nan = true;
    int64_t nan_rows = 0;
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < tq; ++i) {
        const bool rn = std::isnan(lse_r[h * tq + i]), cn = std::isnan(lse[h * tq + i]);
        same_nan = same_nan && rn == cn;
        for (int64_t d = 0; d < dh; ++d) {
          const int64_t x = i * H * dh + h * dh + d;
          same_nan = same_nan && std::isnan(out_r[x]) == std::isnan(out[x]);
        }
        nan_rows += rn;
      }
    CHECK(same_nan);
    if (!same_nan) std::printf("  (%s: NaN rows differ from the reference)\n", t.c_str());
    if (w != "inf key") CHECK((w == "none") == (nan_rows == 0));  // an inf key may only give −inf scores
    compare(t + " out (finite rows)", out, out_r, 0.0, 1e-5 * max_finite_abs(out_r) + 1e-30, /*allow_nan=*/true);
    Buffer dq(P.no), dk(P.nko), dv(P.nko);
    merclip::cpu::attention_backward(dq.data(), dk.data(), dv.data(), g.data(), q.data(), k.data(),
                                     v.data(), out.data(), lse.data(), p);
    // Only the forward's pattern is pinned for an infinite key (0·inf products) and, in the
    // backward, for causal masks: the backward's diagonal tile multiplies the masked (zero) dS
    // entries by every key of the tile, so a NaN key also reaches earlier rows' dq (a known gap;
    // the forward skips those keys).
    bool dq_nan = true;
    if (w != "inf key" && !causal)
      for (int64_t i = 0; i < P.no; ++i) dq_nan = dq_nan && (std::isnan(dq_r[i]) == std::isnan(dq[i]));
    CHECK(dq_nan);
    if (!dq_nan) std::printf("  (%s: dq NaN pattern differs from the reference)\n", t.c_str());
    if (w == "none") {
      compare(t + " dq (no NaN)", dq, dq_r, 0.0, 1e-3 * max_finite_abs(dq_r) + 1e-30);
      compare(t + " dk (no NaN)", dk, dk_r, 0.0, 1e-3 * max_finite_abs(dk_r) + 1e-30);
      compare(t + " dv (no NaN)", dv, dv_r, 0.0, 1e-3 * max_finite_abs(dv_r) + 1e-30);
    }
  }
  merclip::set_simd_level(merclip::max_simd_level());
}

void test_nan() {
  uint64_t seed = 5000;
  for (const char* where : {"key", "none", "query", "inf key"}) {
    nan_case(2, 2, 5, 9, 8, false, where, ++seed);
    nan_case(2, 2, 9, 9, 64, true, where, ++seed);
    nan_case(1, 1, 1, 700, 64, false, where, ++seed);   // split-K over key blocks
    nan_case(2, 1, 70, 130, 6, false, where, ++seed);   // small head dim path, several tiles
  }
}

}  // namespace

int main() {
  std::printf("SIMD levels:");
  for (SimdLevel l : merclip_test::simd_levels()) std::printf(" %s", merclip::simd_level_name(l));
  std::printf("; pool of %d threads\n", merclip::ThreadPool::global().size());
  {  // an AArch64 build must run its NEON kernels here (the loops below cover every level listed)
    const std::vector<SimdLevel> levels = merclip_test::simd_levels();
    if (merclip::built_with_neon())
      CHECK(std::find(levels.begin(), levels.end(), SimdLevel::neon) != levels.end());
  }
  test_fd();
  test_cpu();
  test_nan();
  return merclip_test::finish("test_attention");
}
