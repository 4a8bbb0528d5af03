// native/core/tests/test_util.h — a tiny header-only harness for the native core tests.
//
// - Rng: splitmix64, uniform floats, Box-Muller normals; seeded, so a failure reproduces.
// - Buffer: n floats with kGuard guard words before and after, filled with a sentinel bit
//   pattern and checked after the call (ggml's test-backend-ops sentinels); outputs can be
//   pre-filled with NaN so an element the kernel forgets to write shows up.
// - compare(): |x − r| <= atol + rtol·|r| for every element (NaN on either side fails unless
//   both are NaN and allow_nan), prints the worst index with both values, counts failures.
// - CHECK(cond): records a failure and continues.
// - finish(): prints a summary; main returns it (non-zero on any failure).
#pragma once

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "merclip/cpu_features.h"

namespace merclip_test {

inline int& failures() {
  static int n = 0;
  return n;
}
inline int& checks() {
  static int n = 0;
  return n;
}

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    ++::merclip_test::checks();                                                         \
    if (!(cond)) {                                                                      \
      ++::merclip_test::failures();                                                     \
      std::printf("FAIL %s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond);                \
    }                                                                                   \
  } while (0)

// ---------------------------------------------------------------------------------------------
// RNG

struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int64_t index(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  double normal() {  // Box-Muller; one value per call is plenty here
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// x[i] = mean + std·N(0,1)
inline void fill_normal(float* x, int64_t n, Rng& rng, double mean = 0.0, double stddev = 1.0) {
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(mean + stddev * rng.normal());
}
// x[i] ~ U[lo, hi)
inline void fill_random(float* x, int64_t n, Rng& rng, double lo = -1.0, double hi = 1.0) {
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(rng.uniform(lo, hi));
}

// ---------------------------------------------------------------------------------------------
// Guarded buffers

constexpr int64_t kGuard = 16;
constexpr uint32_t kSentinel = 0x7FC0FFEEu;  // a quiet NaN with a payload no kernel produces

inline float sentinel_float() {
  float f;
  std::memcpy(&f, &kSentinel, sizeof f);
  return f;
}

class Buffer {
 public:
  explicit Buffer(int64_t n = 0) { resize(n); }
  void resize(int64_t n) {
    n_ = n;
    mem_.assign(static_cast<size_t>(n + 2 * kGuard), sentinel_float());
  }
  float* data() { return mem_.data() + kGuard; }
  const float* data() const { return mem_.data() + kGuard; }
  int64_t size() const { return n_; }
  float& operator[](int64_t i) { return data()[i]; }
  float operator[](int64_t i) const { return data()[i]; }
  void fill(float v) {
    for (int64_t i = 0; i < n_; ++i) data()[i] = v;
  }
  void fill_nan() { fill(std::numeric_limits<float>::quiet_NaN()); }
  void copy_from(const Buffer& o) {
    resize(o.n_);
    std::memcpy(data(), o.data(), static_cast<size_t>(n_) * sizeof(float));
  }
  // True if all guard words still hold the sentinel; prints and counts a failure otherwise.
  bool guards_ok(const std::string& what) const {
    ++checks();
    for (int64_t g = 0; g < kGuard; ++g) {
      const int64_t idx[2] = {g, kGuard + n_ + g};
      for (int64_t j : idx) {
        uint32_t bits;
        std::memcpy(&bits, &mem_[static_cast<size_t>(j)], sizeof bits);
        if (bits != kSentinel) {
          ++failures();
          std::printf("FAIL %s: guard word %" PRId64 " %s the buffer (n=%" PRId64
                      ") was overwritten\n",
                      what.c_str(), j < kGuard ? kGuard - j : g + 1,
                      j < kGuard ? "before" : "after", n_);
          return false;
        }
      }
    }
    return true;
  }

 private:
  int64_t n_ = 0;
  std::vector<float> mem_;
};

// A buffer of n NaNs (an output the kernel must overwrite everywhere).
inline Buffer nan_buffer(int64_t n) {
  Buffer b(n);
  b.fill_nan();
  return b;
}

inline bool bitwise_equal(const Buffer& a, const Buffer& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.size())) == 0;
}

// max |x| over the finite elements (NaN / ±inf skipped).
inline double max_finite_abs(const float* x, int64_t n) {
  double m = 0.0;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(x[i])) m = std::fabs(x[i]) > m ? std::fabs(x[i]) : m;
  return m;
}
inline double max_finite_abs(const Buffer& b) { return max_finite_abs(b.data(), b.size()); }

inline double max_abs(const float* x, int64_t n) {
  double m = 0.0;
  for (int64_t i = 0; i < n; ++i) m = std::fabs(x[i]) > m ? std::fabs(x[i]) : m;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Comparison: |got − want| <= atol + rtol·|want| elementwise. Infinities must match exactly;
// NaN passes only if allow_nan and both are NaN. Prints the worst element (largest excess over
// its tolerance) when anything fails. Returns true on success.

template <class T>
bool compare(const std::string& what, const float* got, const T* want, int64_t n, double rtol,
             double atol, bool allow_nan = false) {
  ++checks();
  int64_t bad = 0, worst = -1;
  double worst_excess = -1.0;
  for (int64_t i = 0; i < n; ++i) {
    const double g = got[i];
    const double w = static_cast<double>(want[i]);
    double excess;
    if (std::isnan(g) || std::isnan(w)) {
      const bool ok = allow_nan && std::isnan(g) && std::isnan(w);
      excess = ok ? -1.0 : std::numeric_limits<double>::infinity();
    } else if (std::isinf(g) || std::isinf(w)) {
      excess = g == w ? -1.0 : std::numeric_limits<double>::infinity();
    } else {
      excess = std::fabs(g - w) - (atol + rtol * std::fabs(w));
    }
    if (excess > 0.0) {
      ++bad;
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = i;
      }
    }
  }
  if (bad == 0) return true;
  ++failures();
  const double g = got[worst], w = static_cast<double>(want[worst]);
  std::printf("FAIL %s: %" PRId64 "/%" PRId64 " elements out of tolerance (rtol=%.1e atol=%.1e);"
              " worst [%" PRId64 "] got %.9g want %.9g (|diff| %.3e)\n",
              what.c_str(), bad, n, rtol, atol, worst, g, w, std::fabs(g - w));
  return false;
}

inline bool compare(const std::string& what, const Buffer& got, const Buffer& want, double rtol,
                    double atol, bool allow_nan = false) {
  CHECK(got.size() == want.size());
  return compare(what, got.data(), want.data(), got.size(), rtol, atol, allow_nan);
}

// Formats a printf-style label.
template <class... Args>
std::string fmt(const char* f, Args... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

// Prints the summary line; return it from main.
inline int finish(const char* name) {
  if (failures() == 0) {
    std::printf("%s: OK (%d checks)\n", name, checks());
    return 0;
  }
  std::printf("%s: FAILED (%d of %d checks failed)\n", name, failures(), checks());
  return 1;
}

// The SIMD levels this CPU and build can run, lowest first (the dispatch level is left at the
// maximum). Tests loop over them with merclip::set_simd_level.
inline std::vector<merclip::SimdLevel> simd_levels() {
  using merclip::SimdLevel;
  std::vector<SimdLevel> out;
  const SimdLevel max_level = merclip::max_simd_level();
  for (SimdLevel l : {SimdLevel::scalar, SimdLevel::avx2, SimdLevel::avx512, SimdLevel::neon}) {
    if (l <= max_level && merclip::set_simd_level(l) == l) out.push_back(l);
  }
  merclip::set_simd_level(max_level);
  return out;
}

}  // namespace merclip_test
