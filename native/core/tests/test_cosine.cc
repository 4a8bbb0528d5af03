// native/core/tests/test_cosine.cc — merclip::cpu cosine_forward / cosine_backward /
// cosine_paired_forward / cosine_paired_backward / cosine_topk vs the merclip::ref reference
// (ref/cosine_ref.cc), at every SIMD level this CPU and build support, with 1 thread and with
// the whole pool; ref backward vs central finite differences of a float64 forward.
//
// Covered: n, c, dim from {1, 7, 33, 100, 513} (seeded sample plus the corners), c = 10000 with
// few rows (the GEMM regime; c <= 32 takes the fused regime), outputs of >= 2^22 floats (the x86
// kernels' non-temporal stores; dim 513 falls back to plain ones), scale != 1, zero vectors in x, e
// and h (the clamped case, forward and backward), saved inverse norms given and null, dx / de /
// dh null, top-k with k = 1, 5, 100 and k = c (several tiles), c = 100000 with k = 5; outputs
// NaN-prefilled and guarded; bitwise equality of 1 vs 2 threads.
//
// Tolerances. Forward: |cos| <= 1 and the fp32 dot products carry ~u·√dim relative error, so
// |got − ref| <= 1e-6·|scale| + 1e-5·|ref|. Inverse norms: rtol 1e-5. Backward: per row,
// |got − ref| <= 1e-4·max_row|ref| (+1e-30): a clamped (zero) vector gets gradients ~1/eps,
// which is why the scale is taken per row, not over the whole tensor. Top-k: scores within the
// forward tolerance; where an index differs from ref's, ref's own score of that index must be
// within 2e-5·|scale| of ref's score at that position (a near-tie), else it fails.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "merclip/cosine.h"
#include "merclip/cpu_features.h"
#include "merclip/error.h"
#include "merclip/thread_pool.h"
#include "test_util.h"

using merclip::CosinePairedParams;
using merclip::CosineParams;
using merclip::SimdLevel;
using merclip_test::Buffer;
using merclip_test::bitwise_equal;
using merclip_test::nan_buffer;
using merclip_test::compare;
using merclip_test::fmt;
using merclip_test::Rng;

namespace {

// Runs fn(label) at every SIMD level, with 1 thread and with the whole pool.
template <class Fn>
void for_each_config(Fn fn) {
  auto& pool = merclip::ThreadPool::global();
  for (SimdLevel l : merclip_test::simd_levels()) {
    merclip::set_simd_level(l);
    for (int threads : {1, 0}) {
      pool.set_active_threads(threads);
      fn(fmt("%s/%s", merclip::simd_level_name(l), threads == 1 ? "1t" : "all"));
    }
  }
  pool.set_active_threads(0);
  merclip::set_simd_level(merclip::max_simd_level());
}

void zero_row(Buffer& b, int64_t row, int64_t dim) {
  for (int64_t d = 0; d < dim; ++d) b[row * dim + d] = 0.0f;
}

// |got − want| <= rtol·max_row|want| + 1e-5·term[row] for each row of [rows, cols], where
// term[row] bounds the magnitude of the terms that cancel in that row (a 1-D cosine has zero
// gradient: only rounding noise of the size of the terms is left).
bool compare_rows(const std::string& what, const Buffer& got, const Buffer& want, int64_t rows,
                  int64_t cols, double rtol, const std::vector<double>& term) {
  bool ok = true;
  for (int64_t r = 0; r < rows && ok; ++r) {
    const double m = merclip_test::max_abs(want.data() + r * cols, cols);
    ok = compare(fmt("%s row %lld", what.c_str(), (long long)r), got.data() + r * cols,
                 want.data() + r * cols, cols, 0.0, rtol * m + 1e-5 * term[r] + 1e-30);
  }
  return ok;
}

double row_max(const Buffer& b, int64_t row, int64_t dim) {
  return merclip_test::max_abs(b.data() + row * dim, dim);
}

// Term magnitudes of the cross backward:
//   dx_i: rx_i·(|s|·Σ_j |dout_ij|·re_j·max|e_j| + rx_i·Σ_j |dout_ij·out_ij|·max|x_i|), de_j likewise.
void cross_terms(std::vector<double>& tx, std::vector<double>& te, const Buffer& x,
                 const Buffer& e, const Buffer& dout, const Buffer& out, const Buffer& rx,
                 const Buffer& re, int64_t n, int64_t c, int64_t dim, double scale) {
  tx.assign(static_cast<size_t>(n), 0.0);
  te.assign(static_cast<size_t>(c), 0.0);
  std::vector<double> ta(static_cast<size_t>(n), 0.0), tb(static_cast<size_t>(c), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j) {
      const double d = std::fabs(dout[i * c + j]), g = std::fabs(dout[i * c + j] * out[i * c + j]);
      tx[i] += std::fabs(scale) * d * re[j] * row_max(e, j, dim);
      ta[i] += g;
      te[j] += std::fabs(scale) * d * rx[i] * row_max(x, i, dim);
      tb[j] += g;
    }
  for (int64_t i = 0; i < n; ++i) tx[i] = rx[i] * (tx[i] + rx[i] * ta[i] * row_max(x, i, dim));
  for (int64_t j = 0; j < c; ++j) te[j] = re[j] * (te[j] + re[j] * tb[j] * row_max(e, j, dim));
}

// ---------------------------------------------------------------------------------------------
// Forward + backward (cross form)

void cross_case(int64_t n, int64_t c, int64_t dim, float scale, uint64_t seed, bool zeros) {
  Rng rng(seed);
  CosineParams p;
  p.n = n, p.c = c, p.dim = dim, p.scale = scale;
  Buffer x(n * dim), e(c * dim), dout(n * c);
  merclip_test::fill_normal(x.data(), x.size(), rng, 0.1, 1.0);
  merclip_test::fill_normal(e.data(), e.size(), rng, -0.1, 1.0);
  merclip_test::fill_normal(dout.data(), dout.size(), rng);
  if (zeros) {
    zero_row(x, n / 2, dim);
    zero_row(e, c - 1, dim);
  }
  Buffer out_r(n * c), rx_r(n), re_r(c), dx_r(n * dim), de_r(c * dim);
  merclip::ref::cosine_forward(out_r.data(), rx_r.data(), re_r.data(), x.data(), e.data(), p);
  merclip::ref::cosine_backward(dx_r.data(), de_r.data(), dout.data(), out_r.data(), x.data(),
                                e.data(), rx_r.data(), re_r.data(), p);
  std::vector<double> tx, te;
  cross_terms(tx, te, x, e, dout, out_r, rx_r, re_r, n, c, dim, scale);
  const std::string tag = fmt("cosine n=%lld c=%lld dim=%lld scale=%g zeros=%d", (long long)n,
                              (long long)c, (long long)dim, scale, zeros);
  const double fatol = 1e-6 * std::fabs(scale);
  Buffer out1, dx1, de1;  // from the first config, for the bitwise thread check
  int cfg = 0;
  for_each_config([&](const std::string& lvl) {
    const std::string t = tag + " [" + lvl + "]";
    Buffer out = nan_buffer(n * c), rx = nan_buffer(n), re = nan_buffer(c);
    merclip::cpu::cosine_forward(out.data(), rx.data(), re.data(), x.data(), e.data(), p);
    compare(t + " out", out, out_r, 1e-5, fatol);
    compare(t + " x_rnorm", rx, rx_r, 1e-5, 0.0);
    compare(t + " e_rnorm", re, re_r, 1e-5, 0.0);
    out.guards_ok(t + " out"), rx.guards_ok(t + " rx"), re.guards_ok(t + " re");
    Buffer out2 = nan_buffer(n * c);  // rnorm outputs null
    merclip::cpu::cosine_forward(out2.data(), nullptr, nullptr, x.data(), e.data(), p);
    CHECK(bitwise_equal(out, out2));
    // Backward with saved norms, then recomputed, then one output at a time.
    Buffer dx = nan_buffer(n * dim), de = nan_buffer(c * dim);
    merclip::cpu::cosine_backward(dx.data(), de.data(), dout.data(), out_r.data(), x.data(),
                                  e.data(), rx_r.data(), re_r.data(), p);
    compare_rows(t + " dx", dx, dx_r, n, dim, 1e-4, tx);
    compare_rows(t + " de", de, de_r, c, dim, 1e-4, te);
    dx.guards_ok(t + " dx"), de.guards_ok(t + " de");
    Buffer dx2 = nan_buffer(n * dim), de2 = nan_buffer(c * dim);
    merclip::cpu::cosine_backward(dx2.data(), de2.data(), dout.data(), out_r.data(), x.data(),
                                  e.data(), nullptr, nullptr, p);
    compare_rows(t + " dx (norms recomputed)", dx2, dx_r, n, dim, 1e-4, tx);
    compare_rows(t + " de (norms recomputed)", de2, de_r, c, dim, 1e-4, te);
    Buffer dx3 = nan_buffer(n * dim), de3 = nan_buffer(c * dim);
    merclip::cpu::cosine_backward(dx3.data(), nullptr, dout.data(), out_r.data(), x.data(),
                                  e.data(), rx_r.data(), nullptr, p);
    merclip::cpu::cosine_backward(nullptr, de3.data(), dout.data(), out_r.data(), x.data(),
                                  e.data(), nullptr, re_r.data(), p);
    compare_rows(t + " dx only", dx3, dx_r, n, dim, 1e-4, tx);
    compare_rows(t + " de only", de3, de_r, c, dim, 1e-4, te);
    dx3.guards_ok(t + " dx only"), de3.guards_ok(t + " de only");
    if (cfg++ == 0) {
      out1.copy_from(out), dx1.copy_from(dx), de1.copy_from(de);
    } else if (cfg == 2) {  // same SIMD level, the other thread count
      CHECK(bitwise_equal(out, out1));
      CHECK(bitwise_equal(dx, dx1));
      CHECK(bitwise_equal(de, de1));
    }
  });
}

void test_cross() {
  const int64_t sizes[] = {1, 7, 33, 100, 513};
  uint64_t seed = 100;
  Rng pick(42);
  for (int64_t n : sizes)
    for (int64_t c : sizes)
      for (int64_t dim : sizes) {
        const bool corner = (n == 1 || n == 513) && (c == 1 || c == 513) && (dim == 1 || dim == 513);
        if (n * c * dim > 4000000) continue;  // keep the ref cost down
        if (!corner && pick.uniform() > 0.3) continue;
        cross_case(n, c, dim, 2.5f, ++seed, n > 1 && c > 1);
      }
  cross_case(7, 7, 64, -1.0f, ++seed, true);
  cross_case(300, 7, 512, 20.0f, ++seed, true);   // fused regime, several de blocks
  cross_case(3, 10000, 64, 14.0f, ++seed, true);  // GEMM regime, many labels
  cross_case(2, 32, 40, 3.0f, ++seed, true);      // regime boundary
  cross_case(2, 33, 40, 3.0f, ++seed, true);
  // dx of >= 2^22 floats: the non-temporal-store path of the x86 row kernels (16-byte aligned
  // rows), and dim 513 where it falls back to plain stores (the NEON kernels have no such path,
  // and these sizes cost minutes under qemu); C 7 / 5 / 9: the label blocks (5 + 2, 5, 5 + 4)
  // and the register-weight vs broadcast dx kernels (c <= 8 / > 8).
  if (!merclip::built_with_neon()) {
    cross_case(8200, 7, 512, 14.0f, ++seed, true);
    cross_case(8177, 5, 513, 2.0f, ++seed, true);
  }
  cross_case(517, 9, 72, 3.0f, ++seed, true);
  cross_case(63, 12, 19, 3.0f, ++seed, true);
}

// ---------------------------------------------------------------------------------------------
// Paired form

void paired_case(int64_t batch, int64_t c, int64_t dim, float scale, uint64_t seed) {
  Rng rng(seed);
  CosinePairedParams p;
  p.batch = batch, p.c = c, p.dim = dim, p.scale = scale;
  Buffer h(batch * c * dim), e(c * dim), dout(batch * c);
  merclip_test::fill_normal(h.data(), h.size(), rng, 0.2, 1.0);
  merclip_test::fill_normal(e.data(), e.size(), rng);
  merclip_test::fill_normal(dout.data(), dout.size(), rng);
  if (batch * c > 1) zero_row(h, batch * c / 2, dim);
  if (c > 1) zero_row(e, 0, dim);
  Buffer out_r(batch * c), rh_r(batch * c), re_r(c), dh_r(batch * c * dim), de_r(c * dim);
  merclip::ref::cosine_paired_forward(out_r.data(), rh_r.data(), re_r.data(), h.data(), e.data(),
                                      p);
  merclip::ref::cosine_paired_backward(dh_r.data(), de_r.data(), dout.data(), out_r.data(),
                                       h.data(), e.data(), rh_r.data(), re_r.data(), p);
  // Term magnitudes (see cross_terms): dh_q = rh_q·(|s|·|dout_q|·re_j·max|e_j| +
  // rh_q·|dout_q·out_q|·max|h_q|), de_j = re_j·(Σ_b |s|·|dout|·rh·max|h| + re_j·Σ_b |dout·out|·max|e_j|).
  std::vector<double> th(static_cast<size_t>(batch * c)), te(static_cast<size_t>(c), 0.0);
  for (int64_t q = 0; q < batch * c; ++q) {
    const int64_t j = q % c;
    const double d = std::fabs(dout[q]), g = std::fabs(dout[q] * out_r[q]);
    th[q] = rh_r[q] * (std::fabs(scale) * d * re_r[j] * row_max(e, j, dim) +
                       rh_r[q] * g * row_max(h, q, dim));
    te[j] += re_r[j] * (std::fabs(scale) * d * rh_r[q] * row_max(h, q, dim) +
                        re_r[j] * g * row_max(e, j, dim));
  }
  const std::string tag = fmt("paired batch=%lld c=%lld dim=%lld scale=%g", (long long)batch,
                              (long long)c, (long long)dim, scale);
  Buffer de1;
  int cfg = 0;
  for_each_config([&](const std::string& lvl) {
    const std::string t = tag + " [" + lvl + "]";
    Buffer out = nan_buffer(batch * c), rh = nan_buffer(batch * c), re = nan_buffer(c);
    merclip::cpu::cosine_paired_forward(out.data(), rh.data(), re.data(), h.data(), e.data(), p);
    compare(t + " out", out, out_r, 1e-5, 1e-6 * std::fabs(scale));
    compare(t + " h_rnorm", rh, rh_r, 1e-5, 0.0);
    compare(t + " e_rnorm", re, re_r, 1e-5, 0.0);
    out.guards_ok(t + " out"), rh.guards_ok(t + " rh"), re.guards_ok(t + " re");
    Buffer out2 = nan_buffer(batch * c);
    merclip::cpu::cosine_paired_forward(out2.data(), nullptr, nullptr, h.data(), e.data(), p);
    CHECK(bitwise_equal(out, out2));
    for (int saved = 0; saved < 2; ++saved) {
      Buffer dh = nan_buffer(batch * c * dim), de = nan_buffer(c * dim);
      merclip::cpu::cosine_paired_backward(dh.data(), de.data(), dout.data(), out_r.data(),
                                           h.data(), e.data(), saved ? rh_r.data() : nullptr,
                                           saved ? re_r.data() : nullptr, p);
      const std::string ts = t + (saved ? " saved" : " recomputed");
      compare_rows(ts + " dh", dh, dh_r, batch * c, dim, 1e-4, th);
      compare_rows(ts + " de", de, de_r, c, dim, 1e-4, te);
      dh.guards_ok(ts + " dh"), de.guards_ok(ts + " de");
      if (saved) {
        if (cfg++ == 0) de1.copy_from(de);
        else if (cfg == 2) CHECK(bitwise_equal(de, de1));
      }
    }
    Buffer dh3 = nan_buffer(batch * c * dim), de3 = nan_buffer(c * dim);
    merclip::cpu::cosine_paired_backward(dh3.data(), nullptr, dout.data(), out_r.data(), h.data(),
                                         e.data(), rh_r.data(), re_r.data(), p);
    merclip::cpu::cosine_paired_backward(nullptr, de3.data(), dout.data(), out_r.data(), h.data(),
                                         e.data(), nullptr, nullptr, p);
    compare_rows(t + " dh only", dh3, dh_r, batch * c, dim, 1e-4, th);
    compare_rows(t + " de only", de3, de_r, c, dim, 1e-4, te);
    dh3.guards_ok(t + " dh only"), de3.guards_ok(t + " de only");
  });
}

void test_paired() {
  uint64_t seed = 300;
  paired_case(1, 1, 1, 1.0f, ++seed);
  paired_case(7, 1, 33, 2.0f, ++seed);
  paired_case(1, 7, 33, 2.0f, ++seed);
  paired_case(33, 7, 100, -3.0f, ++seed);
  paired_case(100, 33, 7, 5.0f, ++seed);
  paired_case(513, 2, 64, 10.0f, ++seed);  // several batch blocks
  paired_case(20, 100, 513, 1.5f, ++seed);
  if (!merclip::built_with_neon())  // dh of >= 2^22 floats: the x86 non-temporal stores
    paired_case(1200, 7, 512, 3.0f, ++seed);
}

// ---------------------------------------------------------------------------------------------
// Top-k

void topk_case(int64_t n, int64_t c, int64_t dim, int64_t k, float scale, uint64_t seed) {
  Rng rng(seed);
  CosineParams p;
  p.n = n, p.c = c, p.dim = dim, p.scale = scale;
  Buffer x(n * dim), e(c * dim);
  merclip_test::fill_normal(x.data(), x.size(), rng);
  merclip_test::fill_normal(e.data(), e.size(), rng);
  if (c > 2) zero_row(e, 1, dim);  // a zero label: score exactly 0
  std::vector<int32_t> idx_r(static_cast<size_t>(n * k));
  Buffer sc_r(n * k), all(n * c);
  merclip::ref::cosine_topk(idx_r.data(), sc_r.data(), x.data(), e.data(), p, k);
  merclip::ref::cosine_forward(all.data(), nullptr, nullptr, x.data(), e.data(), p);
  const std::string tag = fmt("topk n=%lld c=%lld dim=%lld k=%lld scale=%g", (long long)n,
                              (long long)c, (long long)dim, (long long)k, scale);
  const double tol = 1e-6 * std::fabs(scale);
  for_each_config([&](const std::string& lvl) {
    const std::string t = tag + " [" + lvl + "]";
    std::vector<int32_t> idx(static_cast<size_t>(n * k + 2), -7);  // last two: guards
    Buffer sc = nan_buffer(n * k);
    merclip::cpu::cosine_topk(idx.data(), sc.data(), x.data(), e.data(), p, k);
    compare(t + " scores", sc, sc_r, 1e-5, tol);
    sc.guards_ok(t + " scores");
    CHECK(idx[n * k] == -7 && idx[n * k + 1] == -7);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<int32_t> row(idx.begin() + i * k, idx.begin() + (i + 1) * k);
      std::sort(row.begin(), row.end());
      if (std::adjacent_find(row.begin(), row.end()) != row.end()) ++bad;  // duplicates
      for (int64_t t2 = 0; t2 < k; ++t2) {
        const int32_t gi = idx[i * k + t2], ri = idx_r[i * k + t2];
        if (gi < 0 || gi >= c) {
          ++bad;
          continue;
        }
        if (gi != ri && std::fabs(all[i * c + gi] - sc_r[i * k + t2]) > 2e-5 * std::fabs(scale))
          ++bad;
      }
    }
    if (bad) std::printf("FAIL %s: %lld index errors\n", t.c_str(), (long long)bad);
    CHECK(bad == 0);
  });
}

void test_topk() {
  uint64_t seed = 400;
  topk_case(7, 7, 33, 7, 1.0f, ++seed);  // k = c
  topk_case(33, 33, 7, 1, 3.0f, ++seed);
  topk_case(5, 5000, 16, 100, 2.0f, ++seed);  // several tiles
  topk_case(3, 3000, 8, 3000, 1.0f, ++seed);  // k = c over two tiles
  topk_case(300, 2500, 20, 5, -1.0f, ++seed);  // several row blocks, negative scale
  topk_case(4, 100000, 32, 5, 10.0f, ++seed);
}

// ---------------------------------------------------------------------------------------------
// ref backward vs central finite differences of a float64 forward. eps = 0.5 so that the
// clamped regime (‖v‖ < eps: r = 1/eps, a constant) is reachable by finite differences; the
// test vectors keep their norms away from eps.

std::vector<double> fwd_d(const std::vector<double>& x, const std::vector<double>& e, int64_t n,
                          int64_t c, int64_t dim, double scale, double eps, bool paired) {
  auto rn = [&](const double* v) {
    double ss = 0.0;
    for (int64_t d = 0; d < dim; ++d) ss += v[d] * v[d];
    return 1.0 / std::max(std::sqrt(ss), eps);
  };
  std::vector<double> out(static_cast<size_t>(n * c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j) {
      const double* xv = paired ? &x[(i * c + j) * dim] : &x[i * dim];
      const double* ev = &e[j * dim];
      double s = 0.0;
      for (int64_t d = 0; d < dim; ++d) s += xv[d] * ev[d];
      out[i * c + j] = scale * s * rn(xv) * rn(ev);
    }
  return out;
}

void fd_case(bool paired) {
  Rng rng(paired ? 801 : 800);
  const int64_t n = 4, c = 3, dim = 5;
  const float scale = 1.7f, eps = 0.5f;
  const int64_t xrows = paired ? n * c : n;
  Buffer x(xrows * dim), e(c * dim), dout(n * c);
  merclip_test::fill_normal(x.data(), x.size(), rng);
  merclip_test::fill_normal(e.data(), e.size(), rng);
  merclip_test::fill_normal(dout.data(), dout.size(), rng);
  for (int64_t d = 0; d < dim; ++d) {  // x row 1: norm ≈ 0.2 (clamped); e row 2: zero
    x[1 * dim + d] = 0.2f / std::sqrt(static_cast<float>(dim)) * (d % 2 ? 1.0f : -1.0f);
    e[2 * dim + d] = 0.0f;
  }
  Buffer out(n * c), dx(xrows * dim), de(c * dim);
  if (paired) {
    CosinePairedParams p;
    p.batch = n, p.c = c, p.dim = dim, p.scale = scale, p.eps = eps;
    merclip::ref::cosine_paired_forward(out.data(), nullptr, nullptr, x.data(), e.data(), p);
    merclip::ref::cosine_paired_backward(dx.data(), de.data(), dout.data(), out.data(), x.data(),
                                         e.data(), nullptr, nullptr, p);
  } else {
    CosineParams p;
    p.n = n, p.c = c, p.dim = dim, p.scale = scale, p.eps = eps;
    merclip::ref::cosine_forward(out.data(), nullptr, nullptr, x.data(), e.data(), p);
    merclip::ref::cosine_backward(dx.data(), de.data(), dout.data(), out.data(), x.data(),
                                  e.data(), nullptr, nullptr, p);
  }
  std::vector<double> xd(x.data(), x.data() + x.size()), ed(e.data(), e.data() + e.size());
  auto loss = [&]() {
    const auto o = fwd_d(xd, ed, n, c, dim, scale, eps, paired);
    double s = 0.0;
    for (int64_t i = 0; i < n * c; ++i) s += o[i] * dout[i];
    return s;
  };
  const double hstep = 1e-6;
  auto fd = [&](std::vector<double>& v) {
    std::vector<double> g(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const double v0 = v[i];
      v[i] = v0 + hstep;
      const double lp = loss();
      v[i] = v0 - hstep;
      const double lm = loss();
      v[i] = v0;
      g[i] = (lp - lm) / (2 * hstep);
    }
    return g;
  };
  const auto gx = fd(xd), ge = fd(ed);
  const char* name = paired ? "fd paired" : "fd cross";
  compare(fmt("%s dx", name), dx.data(), gx.data(), xrows * dim, 1e-5, 1e-6);
  compare(fmt("%s de", name), de.data(), ge.data(), c * dim, 1e-5, 1e-6);
}

void test_edge() {
  // dim = 0 / n = 0: nothing read, outputs sized 0 or zero-filled; no crash.
  CosineParams p;
  p.n = 0, p.c = 3, p.dim = 4;
  Buffer e(12), re(3), de = nan_buffer(12);
  merclip_test::Rng rng(9);
  merclip_test::fill_normal(e.data(), 12, rng);
  merclip::cpu::cosine_forward(nullptr, nullptr, re.data(), nullptr, e.data(), p);
  merclip::cpu::cosine_backward(nullptr, de.data(), nullptr, nullptr, nullptr, e.data(), nullptr,
                                nullptr, p);
  for (int64_t i = 0; i < 12; ++i) CHECK(de[i] == 0.0f);
  bool threw = false;
  try {
    int32_t idx[1];
    float sc[1];
    p.n = 1;
    merclip::cpu::cosine_topk(idx, sc, e.data(), e.data(), p, 4);  // k > c
  } catch (const merclip::Error&) {
    threw = true;
  }
  CHECK(threw);
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
  fd_case(false);
  fd_case(true);
  test_edge();
  test_cross();
  test_paired();
  test_topk();
  return merclip_test::finish("test_cosine");
}
