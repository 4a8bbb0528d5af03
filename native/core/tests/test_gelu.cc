// native/core/tests/test_gelu.cc — merclip::cpu GELU family vs merclip::ref (every
// approximation, in place and not), the ref backward vs central finite differences, thread-count
// independence, and the branch-free erf GELU of cpu/gelu_kernels.h vs double erfc/exp over a dense
// sweep at every SIMD level
// (the scalar hook and the vectorised forward/backward, plus ±0, ±inf and NaN).
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

#include "merclip/gelu.h"
#include "merclip/thread_pool.h"
#include "ops_test_util.h"
#include "test_util.h"

namespace merclip {
namespace cpu {
float gelu_erf_approx_for_test(float x);       // defined in cpu/gelu.cc
float gelu_erf_grad_approx_for_test(float x);  // defined in cpu/gelu.cc
}  // namespace cpu
}  // namespace merclip

namespace {

using merclip::GeluApprox;

const char* gelu_name(GeluApprox a) {
  switch (a) {
    case GeluApprox::none: return "erf";
    case GeluApprox::tanh: return "tanh";
    case GeluApprox::quick: return "quick";
  }
  return "?";
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

// ---------------------------------------------------------------------------------------------
// erf GELU accuracy: the branch-free erfc of cpu/gelu_kernels.h (no libm in the loop) vs float64.
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

// Thread-count independence (bitwise): 1 thread vs the whole pool.
void test_thread_independence() {
  Rng rng(600);
  const int64_t n = 300 * 1027;
  Buffer x(n), dout(n);
  merclip_test::fill_normal(x.data(), n, rng, 2.0, 1.5);
  merclip_test::fill_normal(dout.data(), n, rng);
  struct Out {
    Buffer gl, ge, gd;
  };
  auto run = [&](Out& o) {
    o.gl.resize(n), o.ge.resize(n), o.gd.resize(n);
    merclip::cpu::gelu_forward(o.gl.data(), x.data(), n, GeluApprox::quick);
    merclip::cpu::gelu_forward(o.ge.data(), x.data(), n, GeluApprox::none);
    merclip::cpu::gelu_backward(o.gd.data(), dout.data(), x.data(), n, GeluApprox::none);
  };
  Out one, all;
  run_one_thread_and_all(run, one, all);
  expect_bitwise("threads: gelu", all.gl, one.gl);
  expect_bitwise("threads: gelu erf", all.ge, one.ge);
  expect_bitwise("threads: gelu erf backward", all.gd, one.gd);
}

// ref backward vs central finite differences of the float64 forward above.
void test_finite_differences() {
  Rng rng(700);
  const double h = 1e-4;
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
}

}  // namespace

int main() {
  test_finite_differences();
  at_every_level([](const char* lvl) {
    test_thread_independence();
    test_gelu_erf_approx();  // the copy of cpu/gelu_kernels.h this level runs
    test_gelu(lvl);
  });
  return merclip_test::finish("test_gelu");
}
