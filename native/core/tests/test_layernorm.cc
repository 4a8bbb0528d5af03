// native/core/tests/test_layernorm.cc — merclip::cpu LayerNorm vs merclip::ref, the ref
// backward vs central finite differences, and thread-count independence (bitwise).
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

#include "merclip/layernorm.h"
#include "merclip/thread_pool.h"
#include "ops_test_util.h"
#include "test_util.h"

namespace {

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

// Thread-count independence (bitwise): 1 thread vs the whole pool.
void test_thread_independence() {
  Rng rng(600);
  const int64_t rows = 300, dim = 1027, n = rows * dim;
  Buffer x(n), dout(n), w(dim), b(dim);
  merclip_test::fill_normal(x.data(), n, rng, 2.0, 1.5);
  merclip_test::fill_normal(dout.data(), n, rng);
  merclip_test::fill_normal(w.data(), dim, rng, 1.0, 0.3);
  merclip_test::fill_normal(b.data(), dim, rng);
  struct Out {
    Buffer y, mean, rstd, dx, dw, db;
  };
  auto run = [&](Out& o) {
    o.y.resize(n), o.mean.resize(rows), o.rstd.resize(rows), o.dx.resize(n), o.dw.resize(dim);
    o.db.resize(dim);
    merclip::cpu::layernorm_forward(o.y.data(), o.mean.data(), o.rstd.data(), x.data(), w.data(),
                                    b.data(), rows, dim, 1e-5f);
    merclip::cpu::layernorm_backward(o.dx.data(), o.dw.data(), o.db.data(), dout.data(), x.data(),
                                     w.data(), o.mean.data(), o.rstd.data(), rows, dim);
  };
  Out one, all;
  run_one_thread_and_all(run, one, all);
  expect_bitwise("threads: ln out", all.y, one.y);
  expect_bitwise("threads: ln mean", all.mean, one.mean);
  expect_bitwise("threads: ln rstd", all.rstd, one.rstd);
  expect_bitwise("threads: ln dx", all.dx, one.dx);
  expect_bitwise("threads: ln dweight", all.dw, one.dw);
  expect_bitwise("threads: ln dbias", all.db, one.db);
}

// ref backward vs central finite differences of the float64 forward above.
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
}

}  // namespace

int main() {
  test_finite_differences();
  at_every_level([](const char* lvl) {
    test_thread_independence();
    test_layernorm(lvl);
  });
  return merclip_test::finish("test_layernorm");
}
