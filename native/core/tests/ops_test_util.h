// native/core/tests/ops_test_util.h — helpers shared by the per-family kernel tests
// (test_layernorm.cc, test_gelu.cc, test_softmax.cc, test_adamw.cc, test_layout.cc,
// test_reduce.cc): the cpu-vs-ref tolerance, the shape list, float64 helpers.
// Tolerance: |cpu − ref| <= atol + 1e-5·|ref| with atol = 1e-6 · max|ref| of the tensor, i.e.
// relative to the tensor's scale for values near 0. Header-only, one test binary per includer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "merclip/thread_pool.h"
#include "test_util.h"

using merclip::SimdLevel;
using merclip_test::Buffer;
using merclip_test::compare;
using merclip_test::fmt;
using merclip_test::max_abs;
using merclip_test::Rng;

namespace {

constexpr double kRtol = 1e-5;
constexpr double kAtolScale = 1e-6;  // atol = kAtolScale · max|ref|
constexpr int64_t kSizes[] = {1, 7, 33, 64, 100, 768, 1027};
constexpr float kInf = std::numeric_limits<float>::infinity();


inline double atol_for(const Buffer& ref) {
  return kAtolScale * std::max(max_abs(ref.data(), ref.size()), 1e-30);
}

// Compare + guard check in one call.
inline void expect_close(const std::string& what, const Buffer& got, const Buffer& want,
                  double rtol = kRtol, double atol = -1.0) {
  compare(what, got, want, rtol, atol < 0 ? atol_for(want) : atol);
  got.guards_ok(what);
}

inline void expect_bitwise(const std::string& what, const Buffer& a, const Buffer& b) {
  compare(what, a, b, 0.0, 0.0, /*allow_nan=*/true);
  a.guards_ok(what);
}

// (rows, cols) pairs: every size as cols, with two seeded row counts each, capped so a shape
// stays under ~1.1M elements.
inline std::vector<std::pair<int64_t, int64_t>> shapes(uint64_t seed) {
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


inline std::vector<double> to_d(const Buffer& b) {
  return std::vector<double>(b.data(), b.data() + b.size());
}

inline double dot(const std::vector<double>& a, const Buffer& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[static_cast<int64_t>(i)];
  return s;
}

// Runs fn(level name) at every SIMD level this CPU and build support, then restores the max.
template <class F>
void at_every_level(F fn) {
  for (SimdLevel level : merclip_test::simd_levels()) {
    merclip::set_simd_level(level);
    const char* lvl = merclip::simd_level_name(level);
    const int before = merclip_test::failures();
    fn(lvl);
    std::printf("level %s: %s\n", lvl, merclip_test::failures() == before ? "ok" : "FAILURES");
  }
  merclip::set_simd_level(merclip::max_simd_level());
}

// Thread independence: runs `run(out)` on one pool thread, then on every thread, so the caller
// can require the two outputs to be bitwise equal.
template <class Out, class Run>
void run_one_thread_and_all(Run run, Out& one, Out& all) {
  auto& pool = merclip::ThreadPool::global();
  pool.set_active_threads(1);
  run(one);
  pool.set_active_threads(0);
  run(all);
  std::printf("thread independence: pool of %d threads vs 1\n", pool.size());
}

}  // namespace
