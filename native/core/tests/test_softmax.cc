// native/core/tests/test_softmax.cc — merclip::cpu row softmax and softmax cross-entropy vs
// merclip::ref (masked −inf rows: exact zeros, finite loss when the target logit is finite, no
// NaN; in place = out of place bitwise), the ref backwards vs central finite differences,
// thread-count independence, exp_f (cpu/vec_math.h) vs double exp (relative error < 2e-7), and
// invalid targets throwing merclip::Error(invalid_argument) from both implementations.
//
// cpu vs ref on seeded random shapes (rows/cols/dim from {1, 7, 33, 64, 100, 768, 1027} plus
// larger ones that take the multi-threaded path) at every SIMD level this CPU and build support;
// outputs pre-filled with NaN and guarded by sentinel words (tests/test_util.h); tolerance in
// tests/ops_test_util.h.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "merclip/error.h"
#include "merclip/softmax.h"
#include "merclip/thread_pool.h"
#include "ops_test_util.h"
#include "test_util.h"

namespace merclip {
namespace cpu {
float exp_approx_for_test(float x);  // defined in cpu/softmax.cc
}  // namespace cpu
}  // namespace merclip

namespace {

std::vector<double> softmax_d(const std::vector<double>& x, int64_t rows, int64_t cols) {
  std::vector<double> out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -1e300, sum = 0;
    for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, x[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - mx);
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = std::exp(x[r * cols + c] - mx) / sum;
  }
  return out;
}

double xent_d(const std::vector<double>& x, const std::vector<int32_t>& t, int64_t rows,
              int64_t cols) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -1e300, sum = 0;
    for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, x[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - mx);
    total += mx + std::log(sum) - x[r * cols + t[r]];
  }
  return total / rows;
}

// ---------------------------------------------------------------------------------------------
// exp_f accuracy

void test_exp_approx() {
  using merclip::cpu::exp_approx_for_test;
  double worst = 0, worst_x = 0;
  // Dense sweep over the range where the result is normal, plus random points near 0 where
  // the polynomial alone does the work.
  const int64_t steps = 2000000;
  auto check = [&](float x) {
    const double want = std::exp(static_cast<double>(x));
    const double got = exp_approx_for_test(x);
    const double rel = std::fabs(got - want) / want;
    if (rel > worst) {
      worst = rel;
      worst_x = x;
    }
  };
  for (int64_t i = 0; i <= steps; ++i) {
    check(static_cast<float>(-87.33 + (88.37 + 87.33) * static_cast<double>(i) / steps));
  }
  Rng rng(42);
  for (int i = 0; i < 1000000; ++i) check(static_cast<float>(rng.uniform(-1.0, 1.0)));
  for (int i = 0; i < 1000000; ++i) check(static_cast<float>(rng.uniform(-1e-3, 1e-3)));
  std::printf("exp_f: worst relative error %.3e at x = %.9g\n", worst, worst_x);
  CHECK(worst < 2e-7);
  // Special values.
  CHECK(exp_approx_for_test(0.0f) == 1.0f);
  CHECK(exp_approx_for_test(-kInf) == 0.0f);
  CHECK(exp_approx_for_test(-88.5f) == 0.0f);
  CHECK(exp_approx_for_test(-1000.0f) == 0.0f);
  CHECK(exp_approx_for_test(kInf) == kInf);
  CHECK(exp_approx_for_test(89.0f) == kInf);
  CHECK(std::isnan(exp_approx_for_test(std::numeric_limits<float>::quiet_NaN())));
  const float sub = exp_approx_for_test(-87.5f);  // subnormal range: tiny and non-negative
  CHECK(sub >= 0.0f && sub < 1.2e-38f);
}

// ---------------------------------------------------------------------------------------------
// Softmax

void softmax_case(const char* lvl, int64_t rows, int64_t cols, double scale, bool masks,
                  uint64_t seed) {
  Rng rng(seed);
  Buffer x(rows * cols), dout(rows * cols);
  merclip_test::fill_normal(x.data(), x.size(), rng, 0.0, scale);
  merclip_test::fill_normal(dout.data(), dout.size(), rng);
  if (masks) {
    for (int64_t i = 0; i < x.size(); ++i) {
      if (rng.uniform() < 0.3) x[i] = -kInf;
    }
    for (int64_t c = 0; c < cols; ++c) x[c] = -kInf;  // row 0 fully masked
  }
  const std::string tag = fmt("softmax[%s] rows=%lld cols=%lld scale=%g masks=%d", lvl,
                              (long long)rows, (long long)cols, scale, masks);
  Buffer ry(rows * cols), cy(rows * cols);
  ry.fill_nan(), cy.fill_nan();
  merclip::ref::softmax_forward(ry.data(), x.data(), rows, cols);
  merclip::cpu::softmax_forward(cy.data(), x.data(), rows, cols);
  expect_close(tag + " forward", cy, ry, kRtol, 1e-7);
  bool finite = true, masked_zero = true;
  for (int64_t i = 0; i < cy.size(); ++i) {
    finite = finite && std::isfinite(cy[i]);
    if (x[i] == -kInf) masked_zero = masked_zero && cy[i] == 0.0f;
  }
  CHECK(finite);
  CHECK(masked_zero);

  Buffer rdx(rows * cols), cdx(rows * cols);
  rdx.fill_nan(), cdx.fill_nan();
  merclip::ref::softmax_backward(rdx.data(), dout.data(), ry.data(), rows, cols);
  merclip::cpu::softmax_backward(cdx.data(), dout.data(), ry.data(), rows, cols);
  expect_close(tag + " backward", cdx, rdx);

  Buffer io;
  io.copy_from(x);
  merclip::cpu::softmax_forward(io.data(), io.data(), rows, cols);
  expect_bitwise(tag + " forward in place", io, cy);
  io.copy_from(dout);
  merclip::cpu::softmax_backward(io.data(), io.data(), ry.data(), rows, cols);
  expect_bitwise(tag + " backward in place", io, cdx);
}

void test_softmax(const char* lvl) {
  uint64_t seed = 300;
  for (auto [rows, cols] : shapes(3)) softmax_case(lvl, rows, cols, 3.0, false, ++seed);
  softmax_case(lvl, 33, 100, 3.0, true, ++seed);
  softmax_case(lvl, 7, 1027, 3.0, true, ++seed);
  softmax_case(lvl, 64, 768, 50.0, false, ++seed);  // large logits: stability
  softmax_case(lvl, 1, 1, 1.0, true, ++seed);        // a single -inf

  // A NaN anywhere in a row makes that row NaN (both signs of NaN), other rows unaffected.
  const int64_t rows = 3, cols = 37;
  Buffer x(rows * cols), ry(rows * cols), cy(rows * cols);
  Rng rng(seed);
  merclip_test::fill_normal(x.data(), x.size(), rng);
  x[5] = std::numeric_limits<float>::quiet_NaN();
  x[cols + 30] = -std::numeric_limits<float>::quiet_NaN();
  merclip::ref::softmax_forward(ry.data(), x.data(), rows, cols);
  merclip::cpu::softmax_forward(cy.data(), x.data(), rows, cols);
  bool ok = true;
  for (int64_t i = 0; i < rows * cols; ++i) {
    ok = ok && (i < 2 * cols) == std::isnan(ry[i]) && (i < 2 * cols) == std::isnan(cy[i]);
  }
  CHECK(ok);
  compare(fmt("softmax[%s] NaN rows", lvl), cy, ry, kRtol, 1e-7, /*allow_nan=*/true);
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy

void xent_case(const char* lvl, int64_t rows, int64_t cols, double scale, bool masks,
               uint64_t seed) {
  Rng rng(seed);
  Buffer x(rows * cols);
  merclip_test::fill_normal(x.data(), x.size(), rng, 0.0, scale);
  std::vector<int32_t> t(static_cast<size_t>(rows));
  for (auto& ti : t) ti = static_cast<int32_t>(rng.index(cols));
  if (masks) {  // mask non-target logits; row 0 keeps only its target
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        if (c != t[r] && (r == 0 || rng.uniform() < 0.3)) x[r * cols + c] = -kInf;
      }
    }
  }
  const float dloss = static_cast<float>(rng.uniform(0.5, 2.0));
  const std::string tag = fmt("xent[%s] rows=%lld cols=%lld scale=%g masks=%d", lvl,
                              (long long)rows, (long long)cols, scale, masks);
  Buffer rl(1), cl(1), rlse(rows), clse(rows);
  rl.fill_nan(), cl.fill_nan(), rlse.fill_nan(), clse.fill_nan();
  merclip::ref::softmax_xent_forward(rl.data(), rlse.data(), x.data(), t.data(), rows, cols);
  merclip::cpu::softmax_xent_forward(cl.data(), clse.data(), x.data(), t.data(), rows, cols);
  expect_close(tag + " loss", cl, rl, kRtol, 1e-7);
  expect_close(tag + " lse", clse, rlse);
  CHECK(std::isfinite(cl[0]));

  Buffer rd(rows * cols), cd(rows * cols);
  rd.fill_nan(), cd.fill_nan();
  merclip::ref::softmax_xent_backward(rd.data(), x.data(), rlse.data(), t.data(), dloss, rows,
                                      cols);
  merclip::cpu::softmax_xent_backward(cd.data(), x.data(), rlse.data(), t.data(), dloss, rows,
                                      cols);
  expect_close(tag + " dlogits", cd, rd);
  bool ok = true;
  for (int64_t i = 0; i < cd.size(); ++i) {
    ok = ok && std::isfinite(cd[i]);
    if (x[i] == -kInf) ok = ok && cd[i] == 0.0f;
  }
  CHECK(ok);
}

void test_xent(const char* lvl) {
  uint64_t seed = 400;
  for (auto [rows, cols] : shapes(4)) xent_case(lvl, rows, cols, 3.0, false, ++seed);
  xent_case(lvl, 33, 100, 3.0, true, ++seed);
  xent_case(lvl, 7, 1027, 3.0, true, ++seed);
  xent_case(lvl, 64, 768, 100.0, false, ++seed);  // CLIP-scale logits

  // A fully masked row: lse = +inf, loss = +inf, gradients finite (exact 0 off target).
  for (auto* impl : {"ref", "cpu"}) {
    const int64_t rows = 2, cols = 5;
    std::vector<float> x = {-kInf, -kInf, -kInf, -kInf, -kInf, 0.5f, -kInf, 1.0f, 2.0f, -kInf};
    std::vector<int32_t> t = {1, 2};
    float loss = NAN, lse[2] = {NAN, NAN}, d[10];
    const bool cpu = impl[0] == 'c';
    (cpu ? merclip::cpu::softmax_xent_forward : merclip::ref::softmax_xent_forward)(
        &loss, lse, x.data(), t.data(), rows, cols);
    (cpu ? merclip::cpu::softmax_xent_backward : merclip::ref::softmax_xent_backward)(
        d, x.data(), lse, t.data(), 1.0f, rows, cols);
    CHECK(lse[0] == kInf && std::isfinite(lse[1]) && !std::isnan(loss));
    bool ok = true;
    for (int i = 0; i < 10; ++i) ok = ok && std::isfinite(d[i]);
    for (int i : {0, 2, 3, 4, 6, 9}) ok = ok && d[i] == 0.0f;
    CHECK(ok);
  }
}

// Thread-count independence (bitwise): 1 thread vs the whole pool.
void test_thread_independence() {
  Rng rng(600);
  const int64_t rows = 300, cols = 1027, n = rows * cols;
  Buffer x(n);
  merclip_test::fill_normal(x.data(), n, rng, 2.0, 1.5);
  std::vector<int32_t> t(rows);
  for (auto& ti : t) ti = static_cast<int32_t>(rng.index(cols));
  struct Out {
    Buffer sm, loss, lse, dl;
  };
  auto run = [&](Out& o) {
    o.sm.resize(n), o.loss.resize(1), o.lse.resize(rows), o.dl.resize(n);
    merclip::cpu::softmax_forward(o.sm.data(), x.data(), rows, cols);
    merclip::cpu::softmax_xent_forward(o.loss.data(), o.lse.data(), x.data(), t.data(), rows, cols);
    merclip::cpu::softmax_xent_backward(o.dl.data(), x.data(), o.lse.data(), t.data(), 1.0f, rows,
                                        cols);
  };
  Out one, all;
  run_one_thread_and_all(run, one, all);
  expect_bitwise("threads: softmax", all.sm, one.sm);
  expect_bitwise("threads: xent loss", all.loss, one.loss);
  expect_bitwise("threads: xent lse", all.lse, one.lse);
  expect_bitwise("threads: xent dlogits", all.dl, one.dl);
}

// ref backward vs central finite differences of the float64 forward above.
void test_finite_differences() {
  Rng rng(700);
  const double h = 1e-4;
  // Softmax: L = Σ dout ∘ softmax(x).
  {
    const int64_t rows = 3, cols = 33;
    Buffer x(rows * cols), dout(rows * cols), y(rows * cols), dx(rows * cols), fdx(rows * cols);
    merclip_test::fill_normal(x.data(), x.size(), rng, 0.0, 2.0);
    merclip_test::fill_normal(dout.data(), dout.size(), rng);
    merclip::ref::softmax_forward(y.data(), x.data(), rows, cols);
    merclip::ref::softmax_backward(dx.data(), dout.data(), y.data(), rows, cols);
    auto xd = to_d(x);
    for (size_t i = 0; i < xd.size(); ++i) {
      const double v0 = xd[i];
      xd[i] = v0 + h;
      const double lp = dot(softmax_d(xd, rows, cols), dout);
      xd[i] = v0 - h;
      const double lm = dot(softmax_d(xd, rows, cols), dout);
      xd[i] = v0;
      fdx[static_cast<int64_t>(i)] = static_cast<float>((lp - lm) / (2 * h));
    }
    compare("fd softmax", dx, fdx, 1e-4, 1e-6);
  }
  // Cross-entropy: L = dloss · loss(logits).
  {
    const int64_t rows = 4, cols = 7;
    const float dloss = 1.7f;
    Buffer x(rows * cols), dx(rows * cols), fdx(rows * cols);
    merclip_test::fill_normal(x.data(), x.size(), rng, 0.0, 2.0);
    std::vector<int32_t> t = {0, 6, 3, 3};
    float loss, lse[rows];
    merclip::ref::softmax_xent_forward(&loss, lse, x.data(), t.data(), rows, cols);
    merclip::ref::softmax_xent_backward(dx.data(), x.data(), lse, t.data(), dloss, rows, cols);
    auto xd = to_d(x);
    CHECK(std::fabs(loss - xent_d(xd, t, rows, cols)) < 1e-6 * std::fabs(loss) + 1e-7);
    for (size_t i = 0; i < xd.size(); ++i) {
      const double v0 = xd[i];
      xd[i] = v0 + h;
      const double lp = dloss * xent_d(xd, t, rows, cols);
      xd[i] = v0 - h;
      const double lm = dloss * xent_d(xd, t, rows, cols);
      xd[i] = v0;
      fdx[static_cast<int64_t>(i)] = static_cast<float>((lp - lm) / (2 * h));
    }
    compare("fd softmax_xent", dx, fdx, 1e-4, 1e-6);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: an out-of-range target throws merclip::Error(invalid_argument), never aborts.

void test_errors() {
  float x[6] = {0, 1, 2, 3, 4, 5}, loss, lse[2], d[6];
  std::vector<int32_t> bad = {0, 3};
  for (int impl = 0; impl < 2; ++impl) {
    for (int which = 0; which < 2; ++which) {
      bool threw = false;
      try {
        if (which == 0) {
          (impl ? merclip::cpu::softmax_xent_forward : merclip::ref::softmax_xent_forward)(
              &loss, lse, x, bad.data(), 2, 3);
        } else {
          (impl ? merclip::cpu::softmax_xent_backward : merclip::ref::softmax_xent_backward)(
              d, x, lse, bad.data(), 1.0f, 2, 3);
        }
      } catch (const merclip::Error& e) {
        threw = e.code() == merclip::ErrorCode::invalid_argument;
      }
      CHECK(threw);
    }
  }
  CHECK(std::string(merclip::error_code_name(merclip::ErrorCode::invalid_argument)) ==
        "invalid_argument");
  CHECK(std::string(merclip::error_code_name(merclip::ErrorCode::out_of_memory)) ==
        "out_of_memory");
  CHECK(std::string(merclip::error_code_name(merclip::ErrorCode::cuda)) == "cuda");
  CHECK(std::string(merclip::error_code_name(merclip::ErrorCode::internal)) == "internal");
}

}  // namespace

int main() {
  test_finite_differences();
  test_errors();
  at_every_level([](const char* lvl) {
    test_exp_approx();  // the copy of cpu/softmax_kernels.h this level runs
    test_thread_independence();
    test_softmax(lvl);
    test_xent(lvl);
  });
  return merclip_test::finish("test_softmax");
}
