// native/core/tests/test_ops.cc — merclip::cpu ops vs merclip::ref ops, and ref backward vs
// central finite differences.
//
// For every op in merclip/ops.h:
// - cpu vs ref on seeded random shapes with rows/cols/dim drawn from {1, 7, 33, 64, 100, 768,
//   1027} (plus a few larger ones that take the multi-threaded path), at every SIMD level this
//   CPU and build support (set_simd_level; the max level is restored afterwards);
//   tolerance |cpu − ref| <= atol + 1e-5·|ref| with atol = 1e-6 · max|ref| of the tensor, i.e.
//   relative to the tensor's scale for values near 0;
// - outputs pre-filled with NaN and guarded by sentinel words (tests/test_util.h);
// - the aliasing ops.h allows (out == x for gelu/softmax forward, dx == dout for their
//   backward) gives the same bits as the out-of-place call;
// - cpu results do not depend on the number of threads (bitwise);
// - ref backward vs central finite differences of a float64 forward written here;
// - masked (-inf) logits: exact zeros, finite loss when the target logit is finite, no NaN;
// - exp_f / sqrt_f (the vectorisable exp and sqrt in cpu/ops.cc) vs double: relative error
//   < 2e-7 / 1.2e-7;
// - the erf GELU (cpu/ops.cc's branch-free erfc) vs double erfc/exp over a dense sweep, both
//   the scalar hook and the vectorised gelu_forward/backward, plus ±0, ±inf and NaN;
// - invalid targets throw merclip::Error(invalid_argument) from both implementations.
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
#include "merclip/ops.h"
#include "merclip/thread_pool.h"
#include "test_util.h"

namespace merclip {
namespace cpu {
float exp_approx_for_test(float x);             // defined in cpu/ops.cc
float sqrt_approx_for_test(float x);            // defined in cpu/ops.cc
float gelu_erf_approx_for_test(float x);        // defined in cpu/ops.cc
float gelu_erf_grad_approx_for_test(float x);   // defined in cpu/ops.cc
}  // namespace cpu
}  // namespace merclip

using merclip::GeluApprox;
using merclip::SimdLevel;
using merclip_test::Buffer;
using merclip_test::compare;
using merclip_test::fmt;
using merclip_test::max_abs;
using merclip_test::Rng;

namespace {

constexpr double kRtol = 1e-5;
constexpr double kAtolScale = 1e-6;  // atol = kAtolScale · max|ref|
const int64_t kSizes[] = {1, 7, 33, 64, 100, 768, 1027};
const float kInf = std::numeric_limits<float>::infinity();

double atol_for(const Buffer& ref) {
  return kAtolScale * std::max(max_abs(ref.data(), ref.size()), 1e-30);
}

// Compare + guard check in one call.
void expect_close(const std::string& what, const Buffer& got, const Buffer& want,
                  double rtol = kRtol, double atol = -1.0) {
  compare(what, got, want, rtol, atol < 0 ? atol_for(want) : atol);
  got.guards_ok(what);
}

void expect_bitwise(const std::string& what, const Buffer& a, const Buffer& b) {
  compare(what, a, b, 0.0, 0.0, /*allow_nan=*/true);
  a.guards_ok(what);
}

// (rows, cols) pairs: every size as cols, with two seeded row counts each, capped so a shape
// stays under ~1.1M elements.
std::vector<std::pair<int64_t, int64_t>> shapes(uint64_t seed) {
  Rng rng(seed);
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t cols : kSizes) {
    for (int rep = 0; rep < 2; ++rep) {
      int64_t rows = kSizes[rng.index(7)];
      if (rows * cols > 1100000) rows = 1100000 / cols;
      out.emplace_back(rows, cols);
    }
  }
  out.emplace_back(1, 1);
  out.emplace_back(100, 1027);  // > 2 row grains: multi-threaded
  return out;
}

const char* gelu_name(GeluApprox a) {
  switch (a) {
    case GeluApprox::none: return "erf";
    case GeluApprox::tanh: return "tanh";
    case GeluApprox::quick: return "quick";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// float64 forwards for the finite-difference checks (same maths as ref, all in double).

std::vector<double> ln_fwd_d(const std::vector<double>& x, const std::vector<double>& w,
                             const std::vector<double>& b, int64_t rows, int64_t dim, double eps) {
  std::vector<double> out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < dim; ++i) m += x[r * dim + i];
    m /= dim;
    for (int64_t i = 0; i < dim; ++i) v += (x[r * dim + i] - m) * (x[r * dim + i] - m);
    v /= dim;
    const double s = 1.0 / std::sqrt(v + eps);
    for (int64_t i = 0; i < dim; ++i) out[r * dim + i] = (x[r * dim + i] - m) * s * w[i] + b[i];
  }
  return out;
}

double gelu_d(double x, GeluApprox a) {
  switch (a) {
    case GeluApprox::none: return x * 0.5 * std::erfc(-x / std::sqrt(2.0));
    case GeluApprox::tanh: {
      const double k = std::sqrt(2.0 / 3.14159265358979323846);
      return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
    }
    case GeluApprox::quick: return x / (1.0 + std::exp(-1.702 * x));
  }
  return 0;
}

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

std::vector<double> to_d(const Buffer& b) {
  return std::vector<double>(b.data(), b.data() + b.size());
}

double dot(const std::vector<double>& a, const Buffer& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[static_cast<int64_t>(i)];
  return s;
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

void test_sqrt_approx() {
  using merclip::cpu::sqrt_approx_for_test;
  double worst = 0, worst_x = 0;
  int64_t exact = 0, total = 0;
  // Every 2039th bit pattern of the non-negative finite floats, subnormals included.
  for (uint32_t b = 1; b < 0x7f800000u; b += 2039) {
    float x;
    std::memcpy(&x, &b, sizeof x);
    const double want = std::sqrt(static_cast<double>(x));
    const float got = sqrt_approx_for_test(x);
    const double rel = std::fabs(got - want) / want;
    exact += got == std::sqrt(x);
    ++total;
    if (rel > worst) worst = rel, worst_x = x;
  }
  std::printf("sqrt_f: worst relative error %.3e at x = %.9g; %.4f%% equal to std::sqrt\n", worst,
              worst_x, 100.0 * static_cast<double>(exact) / static_cast<double>(total));
  CHECK(worst < 1.2e-7);
  CHECK(sqrt_approx_for_test(0.0f) == 0.0f);
  CHECK(sqrt_approx_for_test(4.0f) == 2.0f);
}

// ---------------------------------------------------------------------------------------------
// erf GELU accuracy: the branch-free erfc in cpu/ops.cc (no libm in the loop) vs float64.
// Points: every x = k·1e-4 in [−14, 14] (gelu underflows below −13.2, Φ rounds to 1 above
// 5.4) and every 509th float bit pattern of either sign (tiny, subnormal and huge values).
// Criterion: |got − want| <= 1e-5·|want| + floor, with floor = FLT_MIN for gelu and 1e-7 for
// gelu' (gelu' = Φ + xφ crosses 0 at x ≈ −0.7518 by cancellation, so only an absolute bound
// is meaningful there). Also reported and checked: the plain relative errors.

struct ErfStats {
  double ratio = 0, ratio_x = 0;  // max |got − want| / (1e-5·|want| + floor)
  double rel = 0, rel_x = 0;      // max relative error where |want| >= rel_min
  double abs = 0, abs_x = 0;      // max absolute error where |want| < rel_min
  void add(double x, double got, double want, double floor, double rel_min) {
    const double err = std::fabs(got - want);
    const double r =
        std::isnan(got) || std::isnan(want) ? 1e300 : err / (1e-5 * std::fabs(want) + floor);
    if (r > ratio) ratio = r, ratio_x = x;
    if (std::fabs(want) >= rel_min) {
      if (err / std::fabs(want) > rel) rel = err / std::fabs(want), rel_x = x;
    } else if (err > abs) {
      abs = err, abs_x = x;
    }
  }
};

void test_gelu_erf_approx() {
  using merclip::cpu::gelu_erf_approx_for_test;
  using merclip::cpu::gelu_erf_grad_approx_for_test;
  const double flt_min = std::numeric_limits<float>::min();
  std::vector<float> xs;
  for (int64_t k = -140000; k <= 140000; ++k) xs.push_back(static_cast<float>(k * 1e-4));
  for (uint32_t b = 0; b < 0x7f800000u; b += 509) {
    float x;
    std::memcpy(&x, &b, sizeof x);
    xs.push_back(x);
    xs.push_back(-x);
  }
  // The vectorised path: gelu_forward / gelu_backward (dout = 1) over chunks of the sweep.
  ErfStats fwd_s, grad_s, fwd_v, grad_v;  // scalar hook / vectorised op
  const int64_t chunk = int64_t{1} << 20;
  std::vector<float> y(chunk), d(chunk), ones(chunk, 1.0f);
  for (size_t c0 = 0; c0 < xs.size(); c0 += chunk) {
    const int64_t n = std::min<int64_t>(chunk, static_cast<int64_t>(xs.size() - c0));
    merclip::cpu::gelu_forward(y.data(), xs.data() + c0, n, GeluApprox::none);
    merclip::cpu::gelu_backward(d.data(), ones.data(), xs.data() + c0, n, GeluApprox::none);
    for (int64_t i = 0; i < n; ++i) {
      const float xf = xs[c0 + i];
      const double x = xf;
      const double phi = 0.5 * std::erfc(-x / std::sqrt(2.0));
      const double want = x * phi;
      const double want_d =
          phi + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * 3.14159265358979323846);
      fwd_s.add(x, gelu_erf_approx_for_test(xf), want, flt_min, flt_min);
      grad_s.add(x, gelu_erf_grad_approx_for_test(xf), want_d, 1e-7, 1e-2);
      fwd_v.add(x, y[i], want, flt_min, flt_min);
      grad_v.add(x, d[i], want_d, 1e-7, 1e-2);
    }
  }
  for (auto [name, st] : {std::pair<const char*, ErfStats*>{"gelu  (hook)", &fwd_s},
                          {"gelu  (op)  ", &fwd_v}}) {
    std::printf("erf %s: %zu points; worst relative error %.3e at x = %.9g; below FLT_MIN worst "
                "absolute error %.3e at x = %.9g; criterion ratio %.3f\n",
                name, xs.size(), st->rel, st->rel_x, st->abs, st->abs_x, st->ratio);
    CHECK(st->rel < 1e-6);
    CHECK(st->ratio <= 1.0);
  }
  for (auto [name, st] : {std::pair<const char*, ErfStats*>{"gelu' (hook)", &grad_s},
                          {"gelu' (op)  ", &grad_v}}) {
    std::printf("erf %s: worst relative error %.3e at x = %.9g where |gelu'| >= 0.01; worst "
                "absolute error %.3e at x = %.9g elsewhere; criterion ratio %.3f\n",
                name, st->rel, st->rel_x, st->abs, st->abs_x, st->ratio);
    CHECK(st->rel < 1e-5);
    CHECK(st->abs < 1e-7);
    CHECK(st->ratio <= 1.0);
  }
  // Special values, through the scalar hook and the vectorised ops (in place too).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> sx = {0.0f, -0.0f, kInf, -kInf, nan, -nan, 14.0f, -14.0f, 1e30f,
                                 -1e30f, 1e-45f, -1e-45f, -13.0f, 5.5f, -0.7518f, 1.0f};
  std::vector<float> sy(sx.size()), sd(sx.size()), sones(sx.size(), 1.0f), sio = sx;
  merclip::cpu::gelu_forward(sy.data(), sx.data(), static_cast<int64_t>(sx.size()),
                             GeluApprox::none);
  merclip::cpu::gelu_backward(sd.data(), sones.data(), sx.data(),
                              static_cast<int64_t>(sx.size()), GeluApprox::none);
  merclip::cpu::gelu_forward(sio.data(), sio.data(), static_cast<int64_t>(sio.size()),
                             GeluApprox::none);
  for (size_t i = 0; i < sx.size(); ++i) {
    for (float got : {gelu_erf_approx_for_test(sx[i]), sy[i], sio[i]}) {
      if (std::isnan(sx[i])) {
        CHECK(std::isnan(got));
      } else if (sx[i] == kInf) {
        CHECK(got == kInf);
      } else if (sx[i] <= -14.0f) {
        CHECK(got == 0.0f);  // −0 or +0 (the exact value is below the smallest subnormal)
      } else if (sx[i] == 0.0f) {
        CHECK(got == 0.0f && std::signbit(got) == std::signbit(sx[i]));
      }
    }
    for (float got : {gelu_erf_grad_approx_for_test(sx[i]), sd[i]}) {
      if (std::isnan(sx[i])) {
        CHECK(std::isnan(got));
      } else if (sx[i] >= 14.0f) {
        CHECK(got == 1.0f);
      } else if (sx[i] <= -14.0f) {
        CHECK(got == 0.0f);
      } else if (sx[i] == 0.0f) {
        CHECK(got == 0.5f);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// LayerNorm

void layernorm_case(const char* lvl, int64_t rows, int64_t dim, bool use_w, bool use_b,
                    double x_mean, uint64_t seed) {
  Rng rng(seed);
  const float eps = 1e-5f;
  Buffer x(rows * dim), w(dim), b(dim), dout(rows * dim);
  merclip_test::fill_normal(x.data(), x.size(), rng, x_mean, 1.0);
  merclip_test::fill_normal(w.data(), dim, rng, 1.0, 0.5);
  merclip_test::fill_normal(b.data(), dim, rng, 0.0, 0.5);
  merclip_test::fill_normal(dout.data(), dout.size(), rng);
  const float* wp = use_w ? w.data() : nullptr;
  const float* bp = use_b ? b.data() : nullptr;
  const std::string tag = fmt("layernorm[%s] rows=%lld dim=%lld w=%d b=%d mean=%g", lvl,
                              (long long)rows, (long long)dim, use_w, use_b, x_mean);

  Buffer ro(rows * dim), rm(rows), rs(rows), co(rows * dim), cm(rows), cs(rows);
  ro.fill_nan(), rm.fill_nan(), rs.fill_nan(), co.fill_nan(), cm.fill_nan(), cs.fill_nan();
  merclip::ref::layernorm_forward(ro.data(), rm.data(), rs.data(), x.data(), wp, bp, rows, dim,
                                  eps);
  merclip::cpu::layernorm_forward(co.data(), cm.data(), cs.data(), x.data(), wp, bp, rows, dim,
                                  eps);
  expect_close(tag + " out", co, ro);
  expect_close(tag + " mean", cm, rm, kRtol, kAtolScale * (std::fabs(x_mean) + 1.0));
  expect_close(tag + " rstd", cs, rs);

  // Backward from the same saved statistics (the ref's), so only the backward differs.
  Buffer rdx(rows * dim), rdw(dim), rdb(dim), cdx(rows * dim), cdw(dim), cdb(dim);
  rdx.fill_nan(), rdw.fill_nan(), rdb.fill_nan(), cdx.fill_nan(), cdw.fill_nan(), cdb.fill_nan();
  merclip::ref::layernorm_backward(rdx.data(), rdw.data(), rdb.data(), dout.data(), x.data(), wp,
                                   rm.data(), rs.data(), rows, dim);
  merclip::cpu::layernorm_backward(cdx.data(), cdw.data(), cdb.data(), dout.data(), x.data(), wp,
                                   rm.data(), rs.data(), rows, dim);
  expect_close(tag + " dx", cdx, rdx);
  expect_close(tag + " dweight", cdw, rdw);
  expect_close(tag + " dbias", cdb, rdb);

  // Null dweight/dbias: dx unchanged, nothing else touched.
  Buffer cdx2(rows * dim);
  cdx2.fill_nan();
  merclip::cpu::layernorm_backward(cdx2.data(), nullptr, nullptr, dout.data(), x.data(), wp,
                                   rm.data(), rs.data(), rows, dim);
  expect_bitwise(tag + " dx (no dweight/dbias)", cdx2, cdx);

  // Null mean/rstd in the forward (inference): same out.
  Buffer co2(rows * dim);
  co2.fill_nan();
  merclip::cpu::layernorm_forward(co2.data(), nullptr, nullptr, x.data(), wp, bp, rows, dim, eps);
  expect_bitwise(tag + " out (no mean/rstd)", co2, co);
}

void test_layernorm(const char* lvl) {
  uint64_t seed = 100;
  for (auto [rows, dim] : shapes(1)) {
    layernorm_case(lvl, rows, dim, true, true, 0.0, ++seed);
  }
  layernorm_case(lvl, 33, 100, false, false, 0.0, ++seed);
  layernorm_case(lvl, 7, 64, true, false, 0.0, ++seed);
  layernorm_case(lvl, 7, 64, false, true, 0.0, ++seed);
  // Large common offset: x = 1000 + N(0,1), dim up to 4096.
  layernorm_case(lvl, 16, 4096, true, true, 1000.0, ++seed);
  layernorm_case(lvl, 33, 768, false, false, 1000.0, ++seed);
  layernorm_case(lvl, 5, 1027, true, true, -3000.0, ++seed);
}

// ---------------------------------------------------------------------------------------------
// GELU

void gelu_case(const char* lvl, int64_t n, GeluApprox a, uint64_t seed) {
  Rng rng(seed);
  Buffer x(n), dout(n);
  merclip_test::fill_normal(x.data(), n, rng, 0.0, 3.0);
  if (n > 8) {  // some tails
    x[0] = -20.0f, x[1] = 20.0f, x[2] = 0.0f, x[3] = -9.0f, x[4] = 9.0f;
  }
  merclip_test::fill_normal(dout.data(), n, rng);
  const std::string tag = fmt("gelu_%s[%s] n=%lld", gelu_name(a), lvl, (long long)n);

  Buffer ry(n), cy(n), rdx(n), cdx(n);
  ry.fill_nan(), cy.fill_nan(), rdx.fill_nan(), cdx.fill_nan();
  merclip::ref::gelu_forward(ry.data(), x.data(), n, a);
  merclip::cpu::gelu_forward(cy.data(), x.data(), n, a);
  expect_close(tag + " forward", cy, ry);
  merclip::ref::gelu_backward(rdx.data(), dout.data(), x.data(), n, a);
  merclip::cpu::gelu_backward(cdx.data(), dout.data(), x.data(), n, a);
  expect_close(tag + " backward", cdx, rdx);

  // In place: out == x, dx == dout.
  Buffer io;
  io.copy_from(x);
  merclip::cpu::gelu_forward(io.data(), io.data(), n, a);
  expect_bitwise(tag + " forward in place", io, cy);
  io.copy_from(dout);
  merclip::cpu::gelu_backward(io.data(), io.data(), x.data(), n, a);
  expect_bitwise(tag + " backward in place", io, cdx);
  io.copy_from(x);
  merclip::ref::gelu_forward(io.data(), io.data(), n, a);
  expect_bitwise(tag + " ref forward in place", io, ry);
}

void test_gelu(const char* lvl) {
  uint64_t seed = 200;
  for (GeluApprox a : {GeluApprox::none, GeluApprox::tanh, GeluApprox::quick}) {
    for (int64_t n : kSizes) gelu_case(lvl, n, a, ++seed);
    gelu_case(lvl, 200003, a, ++seed);  // several threads
  }
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

// ---------------------------------------------------------------------------------------------
// AdamW

void adamw_case(const char* lvl, int64_t n, float lr, float wd, uint64_t seed) {
  Rng rng(seed);
  Buffer p0(n);
  merclip_test::fill_normal(p0.data(), n, rng);
  Buffer rp, cp, rm(n), rv(n), cm(n), cv(n), g(n);
  rp.copy_from(p0), cp.copy_from(p0);
  rm.fill(0), rv.fill(0), cm.fill(0), cv.fill(0);
  merclip::AdamWParams prm;
  prm.lr = lr;
  prm.weight_decay = wd;
  for (int64_t step = 1; step <= 5; ++step) {
    merclip_test::fill_normal(g.data(), n, rng, 0.0, 0.1 * step);
    if (n > 4) g[0] = 0.0f, g[1] = 1e-20f, g[2] = -1e-6f;
    prm.step = step;
    merclip::ref::adamw_step(rp.data(), rm.data(), rv.data(), g.data(), n, prm);
    merclip::cpu::adamw_step(cp.data(), cm.data(), cv.data(), g.data(), n, prm);
  }
  const std::string tag = fmt("adamw[%s] n=%lld lr=%g wd=%g", lvl, (long long)n, lr, wd);
  expect_close(tag + " param", cp, rp);
  expect_close(tag + " m", cm, rm);
  expect_close(tag + " v", cv, rv);
  rp.guards_ok(tag + " ref param");
}

void test_adamw(const char* lvl) {
  uint64_t seed = 500;
  for (int64_t n : kSizes) adamw_case(lvl, n, 1e-3f, 0.01f, ++seed);
  adamw_case(lvl, 300007, 1e-2f, 0.1f, ++seed);
  adamw_case(lvl, 1027, 1e-3f, 0.0f, ++seed);
}

// ---------------------------------------------------------------------------------------------
// Thread-count independence (bitwise): 1 thread vs the whole pool.

void test_thread_independence() {
  auto& pool = merclip::ThreadPool::global();
  Rng rng(600);
  const int64_t rows = 300, dim = 1027, n = rows * dim;
  Buffer x(n), dout(n), w(dim), b(dim);
  merclip_test::fill_normal(x.data(), n, rng, 2.0, 1.5);
  merclip_test::fill_normal(dout.data(), n, rng);
  merclip_test::fill_normal(w.data(), dim, rng, 1.0, 0.3);
  merclip_test::fill_normal(b.data(), dim, rng);
  std::vector<int32_t> t(rows);
  for (auto& ti : t) ti = static_cast<int32_t>(rng.index(dim));
  struct Out {
    Buffer y, mean, rstd, dx, dw, db, sm, gl, ge, gd, loss, lse, dl;
  };
  auto run = [&](Out& o) {
    o.y.resize(n), o.mean.resize(rows), o.rstd.resize(rows), o.dx.resize(n), o.dw.resize(dim);
    o.db.resize(dim), o.sm.resize(n), o.gl.resize(n), o.loss.resize(1), o.lse.resize(rows);
    o.dl.resize(n), o.ge.resize(n), o.gd.resize(n);
    merclip::cpu::layernorm_forward(o.y.data(), o.mean.data(), o.rstd.data(), x.data(), w.data(),
                                    b.data(), rows, dim, 1e-5f);
    merclip::cpu::layernorm_backward(o.dx.data(), o.dw.data(), o.db.data(), dout.data(), x.data(),
                                     w.data(), o.mean.data(), o.rstd.data(), rows, dim);
    merclip::cpu::softmax_forward(o.sm.data(), x.data(), rows, dim);
    merclip::cpu::gelu_forward(o.gl.data(), x.data(), n, GeluApprox::quick);
    merclip::cpu::gelu_forward(o.ge.data(), x.data(), n, GeluApprox::none);
    merclip::cpu::gelu_backward(o.gd.data(), dout.data(), x.data(), n, GeluApprox::none);
    merclip::cpu::softmax_xent_forward(o.loss.data(), o.lse.data(), x.data(), t.data(), rows, dim);
    merclip::cpu::softmax_xent_backward(o.dl.data(), x.data(), o.lse.data(), t.data(), 1.0f, rows,
                                        dim);
  };
  Out one, all;
  pool.set_active_threads(1);
  run(one);
  pool.set_active_threads(0);
  run(all);
  std::printf("thread independence: pool of %d threads vs 1\n", pool.size());
  expect_bitwise("threads: ln out", all.y, one.y);
  expect_bitwise("threads: ln dx", all.dx, one.dx);
  expect_bitwise("threads: ln dweight", all.dw, one.dw);
  expect_bitwise("threads: ln dbias", all.db, one.db);
  expect_bitwise("threads: softmax", all.sm, one.sm);
  expect_bitwise("threads: gelu", all.gl, one.gl);
  expect_bitwise("threads: gelu erf", all.ge, one.ge);
  expect_bitwise("threads: gelu erf backward", all.gd, one.gd);
  expect_bitwise("threads: xent loss", all.loss, one.loss);
  expect_bitwise("threads: xent dlogits", all.dl, one.dl);
}

// ---------------------------------------------------------------------------------------------
// ref backward vs central finite differences of the float64 forwards above.

void test_finite_differences() {
  Rng rng(700);
  const double h = 1e-4;
  // LayerNorm: L = Σ dout ∘ out(x, w, b).
  for (auto [rows, dim] : std::vector<std::pair<int64_t, int64_t>>{{3, 7}, {2, 33}, {1, 1}}) {
    Buffer x(rows * dim), w(dim), b(dim), dout(rows * dim);
    merclip_test::fill_normal(x.data(), x.size(), rng, 0.5, 1.0);
    merclip_test::fill_normal(w.data(), dim, rng, 1.0, 0.5);
    merclip_test::fill_normal(b.data(), dim, rng);
    merclip_test::fill_normal(dout.data(), dout.size(), rng);
    const float eps = 1e-5f;
    Buffer y(rows * dim), mean(rows), rstd(rows), dx(rows * dim), dw(dim), db(dim);
    merclip::ref::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(),
                                    b.data(), rows, dim, eps);
    merclip::ref::layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(),
                                     w.data(), mean.data(), rstd.data(), rows, dim);
    auto xd = to_d(x), wd = to_d(w), bd = to_d(b);
    auto loss = [&]() { return dot(ln_fwd_d(xd, wd, bd, rows, dim, eps), dout); };
    auto fd = [&](std::vector<double>& v, Buffer& out) {
      for (size_t i = 0; i < v.size(); ++i) {
        const double v0 = v[i];
        v[i] = v0 + h;
        const double lp = loss();
        v[i] = v0 - h;
        const double lm = loss();
        v[i] = v0;
        out[static_cast<int64_t>(i)] = static_cast<float>((lp - lm) / (2 * h));
      }
    };
    Buffer fdx(rows * dim), fdw(dim), fdb(dim);
    fd(xd, fdx), fd(wd, fdw), fd(bd, fdb);
    const std::string tag = fmt("fd layernorm rows=%lld dim=%lld", (long long)rows, (long long)dim);
    // dim = 1: dx is analytically 0 and FD gives O(h²/eps) noise; compare absolutely.
    const double dx_atol = dim == 1 ? 1e-3 : 1e-5 * std::max(1.0, max_abs(fdx.data(), fdx.size()));
    compare(tag + " dx", dx, fdx, 1e-4, dx_atol);
    compare(tag + " dweight", dw, fdw, 1e-4, 1e-5);
    compare(tag + " dbias", db, fdb, 1e-4, 1e-5);
  }
  // GELU: dx = gelu'(x) with dout = 1.
  for (GeluApprox a : {GeluApprox::none, GeluApprox::tanh, GeluApprox::quick}) {
    const int64_t n = 101;
    Buffer x(n), ones(n), dx(n), fdx(n);
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(-8.0 + 16.0 * i / (n - 1));
    ones.fill(1.0f);
    merclip::ref::gelu_backward(dx.data(), ones.data(), x.data(), n, a);
    for (int64_t i = 0; i < n; ++i) {
      fdx[i] = static_cast<float>((gelu_d(x[i] + h, a) - gelu_d(x[i] - h, a)) / (2 * h));
    }
    compare(fmt("fd gelu_%s", gelu_name(a)), dx, fdx, 1e-5, 1e-6);
  }
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
  bool threw = false;
  try {
    merclip::AdamWParams p;
    p.step = 0;
    merclip::cpu::adamw_step(x, x, x, x, 1, p);
  } catch (const merclip::Error&) {
    threw = true;
  }
  CHECK(threw);
  CHECK(std::string(merclip::error_code_name(merclip::ErrorCode::invalid_argument)) ==
        "invalid_argument");
  CHECK(std::string(merclip::error_code_name(merclip::ErrorCode::out_of_memory)) ==
        "out_of_memory");
  CHECK(std::string(merclip::error_code_name(merclip::ErrorCode::cuda)) == "cuda");
  CHECK(std::string(merclip::error_code_name(merclip::ErrorCode::internal)) == "internal");
}

}  // namespace


// ---------------------------------------------------------------------------------------------
// permute_0213 and add_scaled: exact copies / one FMA-free add per element, so cpu must equal
// ref bit for bit (threads split the work in blocks; each element is computed the same way).

void test_layout() {
  uint64_t seed = 900;
  const int64_t shapes4[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 375, 8, 64}, {2, 8, 375, 64}, {1, 1000, 3, 1}};
  for (const auto& s : shapes4) {
    const int64_t n = s[0] * s[1] * s[2] * s[3];
    Rng rng(++seed);
    Buffer src(n), rd(n), cd(n);
    merclip_test::fill_normal(src.data(), n, rng);
    rd.fill_nan(), cd.fill_nan();
    merclip::ref::permute_0213(rd.data(), src.data(), s[0], s[1], s[2], s[3]);
    merclip::cpu::permute_0213(cd.data(), src.data(), s[0], s[1], s[2], s[3]);
    const std::string tag = fmt("permute_0213 [%lld,%lld,%lld,%lld]", (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
    expect_bitwise(tag, cd, rd);
    // spot-check the definition: dst[a, c, b, d] = src[a, b, c, d]
    const int64_t a = s[0] - 1, b = s[1] / 2, c = s[2] - 1, d = s[3] / 2;
    CHECK(cd[((a * s[2] + c) * s[1] + b) * s[3] + d] == src[((a * s[1] + b) * s[2] + c) * s[3] + d]);
    // the inverse permutation restores the source
    Buffer back(n);
    merclip::cpu::permute_0213(back.data(), cd.data(), s[0], s[2], s[1], s[3]);
    expect_bitwise(tag + " round trip", back, src);
  }
  const int64_t shapes2[][2] = {{1, 1}, {7, 1}, {12, 4}, {3 * 375 * 512, 512}, {200003, 200003}, {65536 * 3 + 5, 1}};
  for (const auto& s : shapes2) {
    const int64_t n = s[0], ny = s[1];
    Rng rng(++seed);
    Buffer x(n), y(ny), rd(n), cd(n);
    merclip_test::fill_normal(x.data(), n, rng);
    merclip_test::fill_normal(y.data(), ny, rng);
    const float alpha = static_cast<float>(rng.uniform(-2.0, 2.0));
    merclip::ref::add_scaled(rd.data(), x.data(), y.data(), alpha, n, ny);
    merclip::cpu::add_scaled(cd.data(), x.data(), y.data(), alpha, n, ny);
    const std::string tag = fmt("add_scaled n=%lld ny=%lld", (long long)n, (long long)ny);
    compare(tag, cd, rd, 1e-6, 1e-7);
    merclip::cpu::add_scaled(x.data(), x.data(), y.data(), alpha, n, ny);  // in place
    expect_bitwise(tag + " in place", x, cd);
  }
}

// unpack_heads / pack_heads: exact copies, so cpu must equal ref bit for bit; the padded form's
// padding rows are 0 (outputs NaN-prefilled); pack(unpack(x)) = x; unpack = permute_0213 of the
// zero-padded rows (an independent route to the same layout).
void test_packed_heads() {
  uint64_t seed = 950;
  struct Case { std::vector<int32_t> lens; int64_t len, heads, hd; };
  const Case cases[] = {{{1}, 1, 1, 1}, {{3, 0, 5}, 5, 2, 3}, {{375, 120, 0, 300}, 375, 8, 64}, {{7, 7}, 9, 4, 16}};
  for (const Case& c : cases) {
    const int64_t B = static_cast<int64_t>(c.lens.size());
    int64_t T = 0;
    for (int32_t l : c.lens) T += l;
    const int64_t np = T * c.heads * c.hd, nd = B * c.heads * c.len * c.hd;
    Rng rng(++seed);
    Buffer packed(np), rd(nd), cd(nd), dense(B * c.len * c.heads * c.hd), perm(nd);
    merclip_test::fill_normal(packed.data(), np, rng);
    rd.fill_nan(), cd.fill_nan();
    merclip::ref::unpack_heads(rd.data(), packed.data(), c.lens.data(), B, c.len, c.heads, c.hd);
    merclip::cpu::unpack_heads(cd.data(), packed.data(), c.lens.data(), B, c.len, c.heads, c.hd);
    const std::string tag = fmt("unpack_heads B=%lld len=%lld H=%lld Dh=%lld", (long long)B, (long long)c.len,
                                (long long)c.heads, (long long)c.hd);
    expect_bitwise(tag, cd, rd);
    cd.guards_ok(tag);
    // independent route: zero-padded [B, len, H·Dh] rows, then the heads permute
    dense.fill(0.0f);
    int64_t off = 0, row = c.heads * c.hd;
    for (int64_t b = 0; b < B; ++b) {
      std::memcpy(dense.data() + b * c.len * row, packed.data() + off * row, sizeof(float) * static_cast<size_t>(c.lens[b] * row));
      off += c.lens[b];
    }
    merclip::cpu::permute_0213(perm.data(), dense.data(), B, c.len, c.heads, c.hd);
    expect_bitwise(tag + " = permute of padded rows", cd, perm);
    Buffer back(np), back_ref(np);
    back.fill_nan();
    merclip::cpu::pack_heads(back.data(), cd.data(), c.lens.data(), B, c.len, c.heads, c.hd);
    merclip::ref::pack_heads(back_ref.data(), cd.data(), c.lens.data(), B, c.len, c.heads, c.hd);
    expect_bitwise(tag + " pack round trip", back, packed);
    expect_bitwise(tag + " pack cpu = ref", back, back_ref);
    back.guards_ok(tag + " pack");
  }
  bool thrown = false;
  const std::vector<int32_t> bad = {2, 6};
  Buffer p(8 * 2), d(2 * 5 * 2);
  try {
    merclip::cpu::unpack_heads(d.data(), p.data(), bad.data(), 2, 5, 1, 2);
  } catch (const merclip::Error&) {
    thrown = true;
  }
  CHECK(thrown);
}

// sum_squares: cpu (chunked, 8 double lanes, threaded) vs ref (one double sum) within 1e-12
// relative; 1 thread and all threads give the same bits; n = 0 gives 0.
void test_sum_squares() {
  auto& pool = merclip::ThreadPool::global();
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{65536}, int64_t{65537}, int64_t{1000003}}) {
    Rng rng(970 + static_cast<uint64_t>(n));
    Buffer x(n);
    merclip_test::fill_normal(x.data(), n, rng, 0.5, 3.0);
    const double want = merclip::ref::sum_squares(x.data(), n);
    pool.set_active_threads(1);
    const double one = merclip::cpu::sum_squares(x.data(), n);
    pool.set_active_threads(0);
    const double all = merclip::cpu::sum_squares(x.data(), n);
    CHECK(std::fabs(one - want) <= 1e-12 * want);
    CHECK(std::memcmp(&one, &all, sizeof one) == 0);
    if (n == 0) CHECK(all == 0.0);
  }
}

int main() {
  test_sum_squares();
  test_packed_heads();
  test_exp_approx();
  test_sqrt_approx();
  test_gelu_erf_approx();
  test_finite_differences();
  test_errors();
  test_thread_independence();
  test_layout();
  for (SimdLevel level : merclip_test::simd_levels()) {
    merclip::set_simd_level(level);
    const char* lvl = merclip::simd_level_name(level);
    const int before = merclip_test::failures();
    test_layernorm(lvl);
    test_gelu(lvl);
    test_softmax(lvl);
    test_xent(lvl);
    test_adamw(lvl);
    std::printf("level %s: %s\n", lvl, merclip_test::failures() == before ? "ok" : "FAILURES");
  }
  merclip::set_simd_level(merclip::max_simd_level());
  return merclip_test::finish("test_ops");
}
