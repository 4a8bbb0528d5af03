// native/core/tests/test_adamw.cc — merclip::cpu fused AdamW vs merclip::ref at every SIMD level,
// sqrt_f (cpu/adamw_kernels.h) vs std::sqrt (relative error < 1.2e-7), and the invalid-step error.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "merclip/adamw.h"
#include "merclip/error.h"
#include "merclip/thread_pool.h"
#include "ops_test_util.h"
#include "test_util.h"

namespace merclip {
namespace cpu {
float sqrt_approx_for_test(float x);  // defined in cpu/adamw.cc
}  // namespace cpu
}  // namespace merclip

namespace {

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

// An invalid step throws merclip::Error, never aborts.
void test_errors() {
  float x[1] = {0};
  bool threw = false;
  try {
    merclip::AdamWParams p;
    p.step = 0;
    merclip::cpu::adamw_step(x, x, x, x, 1, p);
  } catch (const merclip::Error&) {
    threw = true;
  }
  CHECK(threw);
}

}  // namespace

int main() {
  test_errors();
  at_every_level([](const char* lvl) {
    test_sqrt_approx();  // the copy of cpu/adamw_kernels.h this level runs
    test_adamw(lvl);
  });
  return merclip_test::finish("test_adamw");
}
