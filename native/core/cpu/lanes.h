// native/core/cpu/lanes.h — internal header: the row reductions and elementwise-map helpers the
// LayerNorm, GELU and softmax kernels share (cpu/layernorm.cc, cpu/gelu.cc, cpu/softmax.cc).
//
// Like cpu/vec_math.h, everything is inline inside an ANONYMOUS namespace (merclip::cpu), so each
// translation unit gets its own copy compiled with its own ISA flags; do not move these into a
// .cc file or out of the anonymous namespace.
// - Reductions are written with explicit lanes (kLanes independent accumulators) because the
//   compiler may not reorder a floating-point sum by itself; sums use double lanes (the error,
//   ~n·2^-53·Σ|x|, is far below float resolution for any row length we see).
// - max_f reduces an order-preserving integer key, because an integer max reduction vectorises
//   and a float one does not without -ffast-math.
// - The maps come in two pointer-distinct variants (__restrict out-of-place and exactly in
//   place), so an allowed in-place call never falls back to scalar code on a failed runtime
//   alias check.
#ifndef MERCLIP_CORE_CPU_LANES_H_
#define MERCLIP_CORE_CPU_LANES_H_

#include <cstdint>
#include <limits>

#include "vec_math.h"

namespace merclip {
namespace cpu {
namespace {

constexpr int kLanes = 16;
// Minimum work (elements) per parallel task. A pool hand-off costs microseconds; these keep
// each task at tens of microseconds or more.
constexpr int64_t kRowGrainElems = int64_t{1} << 15;
constexpr int64_t kMapGrain = int64_t{1} << 16;  // vectorised elementwise ops

inline int64_t row_grain(int64_t cols) { return cols >= kRowGrainElems ? 1 : kRowGrainElems / cols; }

// σ(z) = 1 / (1 + e^−z); saturates to exactly 0 / 1.
inline float sigmoid_f(float z) { return 1.0f / (1.0f + exp_f(-z)); }

inline double sum_d(const float* __restrict x, int64_t n) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += static_cast<double>(x[i + l]);
  }
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += static_cast<double>(x[i]);
  return s;
}

// Σ (x − c)², in double.
inline double sum_sq_dev_d(const float* __restrict x, double c, int64_t n) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double d = static_cast<double>(x[i + l]) - c;
      acc[l] += d * d;
    }
  }
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - c;
    s += d * d;
  }
  return s;
}

// Σ a·b, in double.
inline double dot_d(const float* __restrict a, const float* __restrict b, int64_t n) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      acc[l] += static_cast<double>(a[i + l]) * static_cast<double>(b[i + l]);
    }
  }
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

// max over x via an order-preserving integer key (float bits with the magnitude bits flipped
// for negatives), because an integer max reduction vectorises and a float one does not without
// -ffast-math. A positive NaN is the largest key, so it becomes the max and the caller's
// exp(x − max) turns the row into NaN; a negative NaN is ignored here but poisons the sum.
inline int32_t order_key(float f) {
  const int32_t b = static_cast<int32_t>(as_bits(f));
  return b ^ ((b >> 31) & 0x7fffffff);
}
inline float from_order_key(int32_t k) {
  return from_bits(static_cast<uint32_t>(k ^ ((k >> 31) & 0x7fffffff)));
}
inline float max_f(const float* __restrict x, int64_t n) {
  int32_t m = order_key(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < n; ++i) {
    const int32_t k = order_key(x[i]);
    m = k > m ? k : m;
  }
  return from_order_key(m);
}

// Elementwise maps. Two pointer-distinct variants so the vectoriser can use __restrict in both
// the out-of-place and the (allowed) exactly-in-place case.

template <class F>
inline void map_copy(float* __restrict out, const float* __restrict x, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
}
template <class F>
inline void map_inplace(float* __restrict io, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) io[i] = f(io[i]);
}
template <class F>
inline void map1(float* out, const float* x, int64_t n, F f) {
  if (out == x) {
    map_inplace(out, n, f);
  } else {
    map_copy(out, x, n, f);
  }
}

// out[i] = d[i] · f(x[i]) with out == d allowed.
template <class F>
inline void map2_copy(float* __restrict out, const float* __restrict d, const float* __restrict x,
                      int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = d[i] * f(x[i]);
}
template <class F>
inline void map2_inplace(float* __restrict io, const float* __restrict x, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) io[i] = io[i] * f(x[i]);
}
template <class F>
inline void map2(float* out, const float* d, const float* x, int64_t n, F f) {
  if (out == d) {
    map2_inplace(out, x, n, f);
  } else {
    map2_copy(out, d, x, n, f);
  }
}

}  // namespace
}  // namespace cpu
}  // namespace merclip

#endif  // MERCLIP_CORE_CPU_LANES_H_
