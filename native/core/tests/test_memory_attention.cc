// native/core/tests/test_memory_attention.cc — merclip::cpu memory_attention_forward / _backward
// vs the merclip::ref oracle, at every SIMD level, with 1 thread and with the whole pool
// (bitwise equal); the ref backward vs central finite differences of a float64 forward written
// here; NaN rows; argument checks.
//
// Shapes: the decoder's (R = 56 rows, D = 512, lengths up to 500 with a missing modality), odd
// sizes (R = 7, D = 33, lengths 0 / 1 / 13 / 100), a single sample (the threaded-GEMM path) and
// many samples (the sample-parallel path); dx overwritten and accumulated.
// Tolerances: out ≤ 1e-5·max|out_ref|; lse 1e-5 relative; dq, dx ≤ 1e-4·max|ref| plus, for dq
// and the dS part of dx, 1e-6·max|dout|·max|x|² (the terms that cancel in P ∘ (dP − Δ)).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "merclip/cpu_features.h"
#include "merclip/error.h"
#include "merclip/memory_attention.h"
#include "merclip/thread_pool.h"
#include "test_util.h"

using merclip::MemoryAttentionParams;
using merclip::SimdLevel;
using merclip_test::Buffer;
using merclip_test::max_finite_abs;
using merclip_test::bitwise_equal;
using merclip_test::nan_buffer;
using merclip_test::compare;
using merclip_test::fmt;
using merclip_test::Rng;

namespace {

MemoryAttentionParams params(int64_t R, int64_t D, const std::vector<int32_t>& lens, float scale) {
  MemoryAttentionParams p;
  p.batch = static_cast<int64_t>(lens.size());
  p.rows = R;
  p.dim = D;
  p.total = 0;
  for (int32_t l : lens) p.total += l;
  p.scale = scale;
  p.lengths = lens.data();
  return p;
}

// loss = Σ g ∘ out in double (the forward written out independently of ref/).
double loss_f64(const std::vector<double>& q, const std::vector<double>& x,
                const std::vector<double>& g, const MemoryAttentionParams& p) {
  const int64_t R = p.rows, D = p.dim;
  double loss = 0.0;
  int64_t off = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t len = p.lengths[b];
    for (int64_t r = 0; r < R && len > 0; ++r) {
      std::vector<double> s(static_cast<size_t>(len));
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t t = 0; t < len; ++t) {
        double dot = 0.0;
        for (int64_t d = 0; d < D; ++d) dot += q[(b * R + r) * D + d] * x[(off + t) * D + d];
        s[t] = p.scale * dot;
        m = std::max(m, s[t]);
      }
      double sum = 0.0;
      for (double& v : s) sum += (v = std::exp(v - m));
      for (int64_t d = 0; d < D; ++d) {
        double o = 0.0;
        for (int64_t t = 0; t < len; ++t) o += s[t] / sum * x[(off + t) * D + d];
        loss += g[(b * R + r) * D + d] * o;
      }
    }
    off += len;
  }
  return loss;
}

void fd_case(int64_t R, int64_t D, const std::vector<int32_t>& lens, uint64_t seed) {
  Rng rng(seed);
  MemoryAttentionParams p = params(R, D, lens, 0.7f);
  const int64_t nq = p.batch * R * D, nx = p.total * D;
  Buffer q(nq), x(nx), g(nq), out(nq), lse(p.batch * R), dq(nq), dx(nx);
  merclip_test::fill_normal(q.data(), nq, rng);
  merclip_test::fill_normal(x.data(), nx, rng);
  merclip_test::fill_normal(g.data(), nq, rng);
  merclip::ref::memory_attention_forward(out.data(), lse.data(), q.data(), x.data(), p);
  merclip::ref::memory_attention_backward(dq.data(), dx.data(), g.data(), q.data(), x.data(),
                                          out.data(), lse.data(), p);
  auto to_d = [](const Buffer& b) { return std::vector<double>(b.data(), b.data() + b.size()); };
  std::vector<double> Q = to_d(q), X = to_d(x), G = to_d(g);
  const std::string tag = fmt("fd R=%lld D=%lld B=%lld", (long long)R, (long long)D, (long long)p.batch);
  struct Item {
    std::vector<double>* v;
    const Buffer* grad;
    const char* name;
  } items[] = {{&Q, &dq, "dq"}, {&X, &dx, "dx"}};
  const double h = 1e-4;
  for (auto& it : items) {
    std::vector<double> fd(it.v->size());
    for (size_t i = 0; i < it.v->size(); ++i) {
      const double v0 = (*it.v)[i];
      (*it.v)[i] = v0 + h;
      const double lp = loss_f64(Q, X, G, p);
      (*it.v)[i] = v0 - h;
      const double lm = loss_f64(Q, X, G, p);
      (*it.v)[i] = v0;
      fd[i] = (lp - lm) / (2 * h);
    }
    double m = 0.0;
    for (double f : fd) m = std::max(m, std::fabs(f));
    compare(tag + " " + it.name, it.grad->data(), fd.data(), static_cast<int64_t>(fd.size()), 0.0,
            1e-5 * m + 1e-7);
  }
  // forward: ref out against the float64 loss's own maths, via Σ g∘out
  double l = 0.0;
  for (int64_t i = 0; i < nq; ++i) l += static_cast<double>(g[i]) * out[i];
  const double want = loss_f64(Q, X, G, p);
  CHECK(std::fabs(l - want) <= 1e-5 * (std::fabs(want) + 1.0));
}

void test_fd() {
  fd_case(3, 5, {4, 0, 1, 6}, 11);
  fd_case(6, 4, {7}, 12);
  fd_case(2, 9, {3, 5}, 13);
}

void cpu_case(int64_t R, int64_t D, const std::vector<int32_t>& lens, bool accumulate,
              uint64_t seed) {
  Rng rng(seed);
  MemoryAttentionParams p = params(R, D, lens, static_cast<float>(1.0 / std::sqrt(64.0)));
  p.accumulate = accumulate;
  const int64_t nq = p.batch * R * D, nx = p.total * D, nl = p.batch * R;
  Buffer q(nq), x(nx), g(nq), dx0(nx);
  merclip_test::fill_normal(q.data(), nq, rng, 0.1, 1.0);
  merclip_test::fill_normal(x.data(), nx, rng, -0.1, 1.0);
  merclip_test::fill_normal(g.data(), nq, rng);
  merclip_test::fill_normal(dx0.data(), nx, rng);  // the gradient already there (accumulate)
  Buffer out_r(nq), lse_r(nl), dq_r(nq), dx_r(nx);
  dx_r.copy_from(dx0);
  merclip::ref::memory_attention_forward(out_r.data(), lse_r.data(), q.data(), x.data(), p);
  merclip::ref::memory_attention_backward(dq_r.data(), dx_r.data(), g.data(), q.data(), x.data(),
                                          out_r.data(), lse_r.data(), p);
  const std::string tag = fmt("memory_attention R=%lld D=%lld B=%lld T=%lld acc=%d", (long long)R,
                              (long long)D, (long long)p.batch, (long long)p.total, accumulate);
  const double cancel = 1e-6 * max_finite_abs(g) * max_finite_abs(x) *
                        std::max(max_finite_abs(x), max_finite_abs(q)) * std::sqrt(static_cast<double>(D));
  const double out_tol = 1e-5 * max_finite_abs(out_r) + 1e-30;
  const double dq_tol = 1e-4 * max_finite_abs(dq_r) + cancel + 1e-30;
  const double dx_tol = 1e-4 * max_finite_abs(dx_r) + cancel + 1e-30;
  auto& pool = merclip::ThreadPool::global();
  for (SimdLevel l : merclip_test::simd_levels()) {
    merclip::set_simd_level(l);
    Buffer first[4];
    for (int threads : {1, 0}) {
      pool.set_active_threads(threads);
      const std::string t = tag + fmt(" [%s/%s]", merclip::simd_level_name(l), threads == 1 ? "1t" : "all");
      Buffer out = nan_buffer(nq), lse = nan_buffer(nl);
      merclip::cpu::memory_attention_forward(out.data(), lse.data(), q.data(), x.data(), p);
      compare(t + " out", out, out_r, 0.0, out_tol);
      compare(t + " lse", lse, lse_r, 1e-5, 1e-6);
      out.guards_ok(t + " out"), lse.guards_ok(t + " lse");
      Buffer dq = nan_buffer(nq), dx(nx);
      if (accumulate) dx.copy_from(dx0);
      else dx.fill_nan();
      merclip::cpu::memory_attention_backward(dq.data(), dx.data(), g.data(), q.data(), x.data(),
                                              out.data(), lse.data(), p);
      compare(t + " dq", dq, dq_r, 0.0, dq_tol);
      compare(t + " dx", dx, dx_r, 0.0, dx_tol);
      dq.guards_ok(t + " dq"), dx.guards_ok(t + " dx");
      Buffer* got[4] = {&out, &lse, &dq, &dx};
      if (threads == 1) {
        for (int i = 0; i < 4; ++i) first[i].copy_from(*got[i]);
      } else {
        for (int i = 0; i < 4; ++i) {
          const bool same = bitwise_equal(first[i], *got[i]);
          CHECK(same);
          if (!same) std::printf("  (%s: output %d differs between 1 and all threads)\n", t.c_str(), i);
        }
      }
    }
  }
  pool.set_active_threads(0);
  merclip::set_simd_level(merclip::max_simd_level());
}

void test_cpu() {
  cpu_case(7, 33, {0, 1, 13, 100, 64}, false, 21);
  cpu_case(7, 33, {0, 1, 13, 100, 64}, true, 22);
  cpu_case(56, 64, {37}, false, 23);                       // one sample: threaded GEMMs
  cpu_case(56, 512, {500, 0, 123, 377, 1, 250}, true, 24);  // the decoder's shapes
  std::vector<int32_t> many;
  Rng rng(25);
  for (int i = 0; i < 17; ++i) many.push_back(static_cast<int32_t>(rng.index(90)));
  many[3] = 0;
  cpu_case(16, 48, many, false, 26);                       // sample-parallel path
}

// NaN in one sample's memory makes that sample's rows NaN and leaves the others finite.
void test_nan() {
  const std::vector<int32_t> lens = {5, 8, 3};
  MemoryAttentionParams p = params(4, 16, lens, 0.25f);
  Rng rng(31);
  Buffer q(p.batch * 64), x(p.total * 16), out(p.batch * 64), lse(p.batch * 4);
  merclip_test::fill_normal(q.data(), q.size(), rng);
  merclip_test::fill_normal(x.data(), x.size(), rng);
  x[(5 + 2) * 16 + 3] = std::numeric_limits<float>::quiet_NaN();  // sample 1, memory row 2
  for (SimdLevel l : merclip_test::simd_levels()) {
    merclip::set_simd_level(l);
    merclip::cpu::memory_attention_forward(out.data(), lse.data(), q.data(), x.data(), p);
    bool ok = true;
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t i = 0; i < 64; ++i) ok = ok && (std::isnan(out[b * 64 + i]) == (b == 1));
    CHECK(ok);
  }
  merclip::set_simd_level(merclip::max_simd_level());
}

void expect_throw(const char* what, const MemoryAttentionParams& p) {
  Buffer q(64), x(64), out(64), lse(16);
  bool thrown = false;
  try {
    merclip::cpu::memory_attention_forward(out.data(), lse.data(), q.data(), x.data(), p);
  } catch (const merclip::Error& e) {
    thrown = e.code() == merclip::ErrorCode::invalid_argument;
  }
  CHECK(thrown);
  if (!thrown) std::printf("  (%s: no invalid_argument error)\n", what);
}

void test_errors() {
  const std::vector<int32_t> lens = {2, 1};
  MemoryAttentionParams p = params(2, 4, lens, 1.0f);
  p.total = 4;
  expect_throw("lengths not summing to total", p);
  const std::vector<int32_t> neg = {3, -1};
  MemoryAttentionParams n = params(2, 4, neg, 1.0f);
  expect_throw("negative length", n);
  MemoryAttentionParams z = params(2, 4, lens, 1.0f);
  z.lengths = nullptr;
  expect_throw("null lengths", z);
  MemoryAttentionParams r = params(0, 4, lens, 1.0f);
  expect_throw("zero rows", r);
}

}  // namespace

int main() {
  test_fd();
  test_cpu();
  test_nan();
  test_errors();
  return merclip_test::finish("test_memory_attention");
}
