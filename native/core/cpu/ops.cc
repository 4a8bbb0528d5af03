// native/core/cpu/ops.cc — fast CPU LayerNorm, GELU family, row softmax, softmax cross-entropy
// and fused AdamW (merclip::cpu, declared in merclip/ops.h; the readable twin is
// ref/ops_ref.cc and tests/test_ops.cc holds the two together at rtol 1e-5).
//
// Contract (same as ref/ops_ref.cc):
// - every output is OVERWRITTEN, never accumulated into; optional outputs may be null;
// - gelu/softmax forward may run in place (out == x), their backward with dx == dout; any other
//   overlap is not allowed (the binding rejects it);
// - a softmax row of all -inf gives zeros; a cross-entropy row of all -inf gets lse = +inf so
//   the backward's exp(logit − lse) is exactly 0; -inf logits always give exact zeros, never NaN;
//   a NaN anywhere in a softmax row makes the whole row NaN.
//
// How it is fast without intrinsics: this file is built with whatever flags the build uses
// (-march=native or portable x86-64), so it relies on auto-vectorisation at -O3 (checked with
// g++ 12 -fopt-info-vec for SSE2, AVX2 and AVX-512 targets):
// - inner loops are contiguous, over __restrict pointers; an allowed in-place call is routed to
//   a single-pointer variant (map_inplace) so the vectoriser never falls back to scalar code on
//   a failed runtime alias check;
// - reductions are written with explicit lanes (kLanes independent accumulators) because the
//   compiler may not reorder a floating-point sum by itself; sums use double lanes, which keeps
//   LayerNorm statistics and softmax denominators essentially exact at little cost (rows are
//   L1-resident by then; the LayerNorm backward's row sums add four float terms per lane
//   before widening, see ln_row_sums);
// - exp is exp_f (in cpu/vec_math.h, shared with cpu/attention.cc): a branch-free Cephes-style
//   expf (range reduction + degree-6 polynomial, selects written as integer masks so even SSE2
//   code vectorises). tests/test_ops.cc checks it against double exp (relative error < 2e-7
//   over its range). The erf GELU uses the same
//   machinery (erf_parts: Φ(−|x|) = t·G(t)·e^(−x²/2), G a degree-8 polynomial in
//   t = 1/(1 + 0.345|x|), the exponent split exactly; no libm call, tested over a dense sweep);
// - std::sqrt is not vectorised by GCC while errno is live (-fmath-errno is the default), so
//   AdamW uses sqrt_f below (Newton in double, faithfully rounded, tested).
// Parallel split: rows (LayerNorm, softmax, cross-entropy), contiguous chunks (GELU, AdamW) or
// fixed row blocks (LayerNorm backward, whose dweight/dbias per-block partials are summed in
// block order afterwards) over merclip::parallel_for; every task writes a disjoint output
// range, so there are no races, results do not depend on the thread count, and the grain keeps
// small inputs on the calling thread.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../common/aligned_buffer.h"
#include "merclip/error.h"
#include "merclip/ops.h"
#include "merclip/thread_pool.h"
#include "vec_math.h"

namespace merclip {
namespace cpu {

namespace {

constexpr int kLanes = 16;
// Minimum work (elements) per parallel task. A pool hand-off costs microseconds; these keep
// each task at tens of microseconds or more.
constexpr int64_t kRowGrainElems = int64_t{1} << 15;
constexpr int64_t kMapGrain = int64_t{1} << 16;  // vectorised elementwise ops
constexpr int64_t kTile = 256;  // stack tile for the cross-entropy exp-sum

int64_t row_grain(int64_t cols) { return cols >= kRowGrainElems ? 1 : kRowGrainElems / cols; }

// ---------------------------------------------------------------------------------------------
// exp_f, exp_poly, as_bits, from_bits: cpu/vec_math.h (this file's own internal copy).

// σ(z) = 1 / (1 + e^−z); saturates to exactly 0 / 1.
inline float sigmoid_f(float z) { return 1.0f / (1.0f + exp_f(-z)); }

// sqrt_f: √v for v >= 0 (AdamW's second moment), branch-free so the AdamW loop vectorises
// (GCC keeps std::sqrt scalar while errno is live, and -fmath-errno is the default).
// Initial 1/√v from the double bit pattern (the 0x5fe6eb50c7b537a9 trick, relative error
// < 3.5%; the argument is a widened float, so never subnormal), three Newton steps in double
// (3.5e-2 → 1.8e-3 → 5e-6 → 4e-11), then v · (1/√v) rounded to float. Checked exhaustively
// over all non-negative finite floats when written: equal to std::sqrt except for 0.01% of
// inputs that are 1 ulp off, relative error ≤ 6e-8; tests/test_ops.cc re-checks a sweep.
// √0 = 0 (the guess is finite); NaN → NaN; +inf comes out as −inf (AdamW then divides by
// −inf, giving −0 where the exact m/∞ gives 0; only reachable when g² overflows).
inline double bits_to_double(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}
inline uint64_t double_to_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}
inline float sqrt_f(float v) {
  const double vd = v;
  double y = bits_to_double(0x5fe6eb50c7b537a9ull - (double_to_bits(vd) >> 1));
  y = y * (1.5 - 0.5 * vd * y * y);
  y = y * (1.5 - 0.5 * vd * y * y);
  y = y * (1.5 - 0.5 * vd * y * y);
  return static_cast<float>(vd * y);
}

// ---------------------------------------------------------------------------------------------
// Lane reductions in double: the error (~n·2^-53·Σ|x|) is far below float resolution for any
// row length we see, and the lanes vectorise as convert + add.

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

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// GELU element functions (float). See ref/ops_ref.cc for the formulas.
//   tanh form: ½ x (1 + tanh u) = x · σ(2u)  and  1 − tanh² u = 4 σ(2u) (1 − σ(2u)),
//   which needs only exp and has no cancellation in 1 + tanh u for negative u.

constexpr float kInvSqrt2Pif = 0.39894228040143267794f;
constexpr float kSqrt2OverPif = 0.79788456080286535588f;
constexpr float kTanhCubicf = 0.044715f;
constexpr float kQuickf = 1.702f;

// erf form. With a = |x| and h = Φ(−a) = ½ erfc(a/√2):  Φ(x) = h for x < 0, 1 − h for x >= 0;
//   gelu(x) = x · Φ(x),   gelu'(x) = Φ(x) + x · φ(x),   φ(x) = e^(−x²/2) / √(2π).
// h = t · G(t) · e^(−a²/2) with t = 1 / (1 + p·a), p = 0.345, and G a degree-8 polynomial in
// t ∈ (0, 1]: G(t) = h · e^(a²/2) / t = ½ erfcx(a/√2) / t is smooth on the whole half line
// (G(0) = p/√(2π)), so one branch-free formula covers every x; the coefficients are a minimax
// fit of G's relative error over a ∈ [0, 14] (2.0e-8 in exact arithmetic, 1.6e-7 evaluated in
// float), the top two then nudged by a few ulps so that G(1) is exactly ½ in float, with or
// without FMA (so Φ(0) = ½ and gelu'(0) = ½ exactly).
// e^(−a²/2) comes from exp_neg_half_sq below, whose argument is exact, and h is never formed as
// 1 − erf, so the negative tail keeps full relative precision down to where gelu underflows
// (x ≈ −13.2). The derivative reuses t, G and e^(−a²/2) (no second exp).
// Measured against double erfc/exp (tests/test_ops.cc: x = k·1e-4 over [−14, 14] plus every
// 509th float bit pattern of either sign, 8.7M points; g++ 12, -march=native (AVX-512, FMA)
// and portable SSE2 builds alike):
// - gelu: worst relative error 4.1e-7 wherever |gelu| >= FLT_MIN; below that (x < −13.2) the
//   absolute error is < 3.3e-39;
// - gelu': worst relative error 7.0e-7 where |gelu'| >= 0.1 and 5.9e-6 where |gelu'| >= 0.01;
//   closer to gelu's minimum (x ≈ −0.7518, where gelu' = Φ + xφ crosses 0 by cancellation)
//   the absolute error stays < 6.6e-8.
// Special values: gelu(±0) = ±0, gelu(+inf) = +inf, gelu(−inf) = −0, gelu'(±inf) = 1 / 0,
// NaN → NaN. |x| is clamped to 14 first (e^(−98) is 0 in float), which keeps inf out of the
// polynomial and the exp. Checked with g++ 12 -fopt-info-vec for SSE2, AVX2 and AVX-512
// builds: every gelu_erf loop (forward, backward, in place or not) is vectorised.
constexpr float kErfcP = 0.345f;

// e^(−a²/2) for 0 <= a <= 14 (and NaN → NaN), relative error < 2e-7; 0 for a²/2 > 88.
// a² is split exactly: ah = a with the low 12 mantissa bits cleared (12 significant bits),
// al = a − ah, so a²/2 = ah²/2 + ah·al + al²/2 with every product exact in float. The
// reduction n = round(−a²/2 · log2 e) then r = −ah²/2 − n·ln2_hi is exact (Sterbenz-like:
// both terms are multiples of ulp(ah²/2) and |r| < 1), the small terms are subtracted after
// it, and e^r, · 2^n are as in exp_f. A plain −a·a/2 would carry an absolute error of up to
// ulp(98)/2 ≈ 4e-6 into the exponent, i.e. 4e-6 relative error in the tail.
inline float exp_neg_half_sq(float a) {
  const float ah = from_bits(as_bits(a) & 0xFFFFF000u);
  const float al = a - ah;
  const float w = -0.5f * (a * a);  // rounded; only used to pick n and for the underflow test
  const float magic = 12582912.0f;
  const float t = w * 1.44269504088896341f + magic;
  const float nf = t - magic;
  float r = -0.5f * (ah * ah) - nf * 0.693359375f;  // exact
  r = r + nf * 2.12194440e-4f;
  r = r - ah * al;
  r = r - 0.5f * (al * al);
  const float p = exp_poly(r);
  const uint32_t n = as_bits(t) - 0x4B400000u;  // n in [-127, 0] when w >= -88
  const float scale = from_bits((n + 127u) << 23);
  const uint32_t keep = w < -88.0f ? 0u : ~0u;  // underflow → +0 (n < -127 there)
  return from_bits(as_bits(p * scale) & keep);
}

// t · G(t) = Φ(−a) · e^(a²/2) for t = 1 / (1 + p·a).
inline float erfc_scaled_f(float t) {
  float g = -2.838196233e-02f;
  g = g * t + 1.452819705e-01f;
  g = g * t - 2.711730301e-01f;
  g = g * t + 1.871966124e-01f;
  g = g * t - 3.760161623e-02f;
  g = g * t + 1.117995679e-01f;
  g = g * t + 1.172382906e-01f;
  g = g * t + 1.380208880e-01f;
  g = g * t + 1.376192868e-01f;
  return t * g;
}

// The clamp and the sign selects are integer masks on the bit pattern, like exp_f's fix-ups:
// written as float ternaries, GCC turns them into control flow (jump threading on the shared
// x < 0 condition) and the loop is not vectorised. The sign bit picks the branch, so −0 and a
// negative NaN take the x < 0 formulas, which give −0 and NaN there too.
struct ErfParts {
  float xc;    // x with |x| clamped to 14 (NaN kept)
  float q;     // Φ(−a) · e^(a²/2), a = |xc|
  float e;     // e^(−a²/2)
  uint32_t neg;  // all ones when x's sign bit is set
};
inline ErfParts erf_parts(float x) {
  const uint32_t ux = as_bits(x);
  const uint32_t ua = ux & 0x7fffffffu;
  const uint32_t k = 0x41600000u;  // 14.0f
  // 14 < |x| <= inf (not NaN) as one unsigned compare.
  const uint32_t over = ua - (k + 1u) < 0x7f800000u - k ? ~0u : 0u;
  const uint32_t uac = (k & over) | (ua & ~over);
  const float a = from_bits(uac);
  const float t = 1.0f / (1.0f + kErfcP * a);
  ErfParts r;
  r.xc = from_bits(uac | (ux & 0x80000000u));
  r.q = erfc_scaled_f(t);
  r.e = exp_neg_half_sq(a);
  r.neg = static_cast<uint32_t>(static_cast<int32_t>(ux) >> 31);
  return r;
}
inline float gelu_erf_f(float x) {
  const ErfParts p = erf_parts(x);
  // x < 0: x · h, multiplied as (x·q)·e so nothing is subnormal before the result is.
  const float neg = (p.xc * p.q) * p.e;
  const float pos = x * (1.0f - p.q * p.e);
  return from_bits((as_bits(neg) & p.neg) | (as_bits(pos) & ~p.neg));
}
inline float gelu_erf_grad_f(float x) {
  const ErfParts p = erf_parts(x);
  // Φ + xφ = e·(q + x/√(2π)) for x < 0,  1 + e·(x/√(2π) − q) for x >= 0.
  const float s = from_bits(as_bits(p.q) ^ (~p.neg & 0x80000000u));
  const float base = from_bits(~p.neg & 0x3f800000u);  // 0 or 1
  return base + p.e * (s + kInvSqrt2Pif * p.xc);
}
inline float gelu_tanh_f(float x) {
  const float u2 = 2.0f * kSqrt2OverPif * (x + kTanhCubicf * x * x * x);
  return x * sigmoid_f(u2);
}
inline float gelu_tanh_grad_f(float x) {
  const float u2 = 2.0f * kSqrt2OverPif * (x + kTanhCubicf * x * x * x);
  const float s = sigmoid_f(u2);
  // ½ (1 + t) = s;  ½ x (1 − t²) · du/dx = 2 x s (1 − s) · √(2/π) (1 + 3·0.044715 x²)
  return s + 2.0f * x * s * (1.0f - s) * kSqrt2OverPif * (1.0f + 3.0f * kTanhCubicf * x * x);
}
inline float gelu_quick_f(float x) { return x * sigmoid_f(kQuickf * x); }
inline float gelu_quick_grad_f(float x) {
  const float s = sigmoid_f(kQuickf * x);
  return s * (1.0f + kQuickf * x * (1.0f - s));
}
// ---------------------------------------------------------------------------------------------
// Row kernels with __restrict parameters (GCC honours restrict on parameters, also after
// inlining, but not reliably on block-scope pointers).

// out = ((x − mf) − df) · s · w + b for one row; w, b may be null.
inline void ln_row_out(float* __restrict out, const float* __restrict x, const float* __restrict w,
                       const float* __restrict b, float mf, float df, float s, int64_t dim) {
  if (w != nullptr && b != nullptr) {
    for (int64_t i = 0; i < dim; ++i) out[i] = ((x[i] - mf) - df) * s * w[i] + b[i];
  } else if (w != nullptr) {
    for (int64_t i = 0; i < dim; ++i) out[i] = ((x[i] - mf) - df) * s * w[i];
  } else if (b != nullptr) {
    for (int64_t i = 0; i < dim; ++i) out[i] = ((x[i] - mf) - df) * s + b[i];
  } else {
    for (int64_t i = 0; i < dim; ++i) out[i] = ((x[i] - mf) - df) * s;
  }
}

// LayerNorm backward, one row at a time (layernorm_backward below), with
//   xh = (x − m)·s,  g = dout·w (or dout without weight),
//   dx = s·((g − mean(g)) − xh·mean(g·xh)),  dweight/dbias terms dout·xh and dout.

// g for element i. The product is written d·w + 0: where GCC contracts (-ffp-contract=fast,
// the default with FMA targets) that becomes fma(d, w, 0), the rounded product, which is not
// fused again. Written as d·w, the dx loop's d·w − mean(g) would become one FMA on the
// unrounded product, i.e. a different g than the row sums saw: g − mean(g), exactly 0 for
// dim = 1 (where dx is exactly 0), would become the rounding residue of d·w times rstd (~316
// there). The + 0 costs one add where nothing is contracted. (A g row buffer would do the same
// but measured ~20% slower: the extra pass over the row stalls on memory.)
template <bool kW>
inline float ln_g(const float* __restrict dout, const float* __restrict w, int64_t i) {
  return kW ? dout[i] * w[i] + 0.0f : dout[i];
}

// Σ g and Σ g·xh over a row. Per lane, the four terms 16 apart are added in float as a
// pairwise tree and that partial goes into a double lane, so a row costs one float→double
// conversion per four elements (with one per element, the conversions bound the whole
// backward). The float partials add about 2 ulp of the four terms' magnitudes, the same order
// as the rounding already in g and xh. Two loops: GCC 12 does not vectorise a loop that carries
// both lane reductions; the second finds the row in L1.
template <bool kW>
inline void ln_row_sums(double& sum_g, double& sum_gx, const float* __restrict dout,
                        const float* __restrict x, const float* __restrict w, float m, float s,
                        int64_t dim) {
  constexpr int64_t kStep = 4 * kLanes;
  double ag[kLanes] = {}, agx[kLanes] = {};
  const int64_t nv = dim / kStep * kStep;
  for (int64_t i = 0; i < nv; i += kStep) {
    for (int l = 0; l < kLanes; ++l) {
      const int64_t j0 = i + l, j1 = j0 + kLanes, j2 = j1 + kLanes, j3 = j2 + kLanes;
      const float g0 = ln_g<kW>(dout, w, j0), g1 = ln_g<kW>(dout, w, j1);
      const float g2 = ln_g<kW>(dout, w, j2), g3 = ln_g<kW>(dout, w, j3);
      ag[l] += static_cast<double>((g0 + g1) + (g2 + g3));
    }
  }
  for (int64_t i = 0; i < nv; i += kStep) {
    for (int l = 0; l < kLanes; ++l) {
      const int64_t j0 = i + l, j1 = j0 + kLanes, j2 = j1 + kLanes, j3 = j2 + kLanes;
      const float p0 = ln_g<kW>(dout, w, j0) * ((x[j0] - m) * s);
      const float p1 = ln_g<kW>(dout, w, j1) * ((x[j1] - m) * s);
      const float p2 = ln_g<kW>(dout, w, j2) * ((x[j2] - m) * s);
      const float p3 = ln_g<kW>(dout, w, j3) * ((x[j3] - m) * s);
      agx[l] += static_cast<double>((p0 + p1) + (p2 + p3));
    }
  }
  double sg = 0.0, sgx = 0.0;
  for (int l = 0; l < kLanes; ++l) {
    sg += ag[l];
    sgx += agx[l];
  }
  for (int64_t i = nv; i < dim; ++i) {
    const float xh = (x[i] - m) * s;
    const float g = ln_g<kW>(dout, w, i);
    sg += static_cast<double>(g);
    sgx += static_cast<double>(g) * static_cast<double>(xh);
  }
  sum_g = sg;
  sum_gx = sgx;
}

// One row: the sums (kDx), then one pass over the row (found in L1) writing dx (kDx) and adding
// the row's dweight / dbias terms dout·xh and dout to the block's double accumulators (kAcc),
// formed as the old column-block pass formed them (float product, widened, summed in double;
// dbias from the exact dout values). Summing the terms in float over groups of rows before
// widening would cut this loop's arithmetic by a third, but costs dbias ~1 ulp and dweight up
// to ~1 ulp more, for only ~5-10% end to end (the kernel is then mostly bound by memory). The
// dx expression is the same code in every instantiation, so dx does not depend on whether
// dweight / dbias are requested (tests/test_ops.cc checks that bitwise).
template <bool kW, bool kDx, bool kAcc>
inline void ln_bwd_row(float* __restrict dx, double* __restrict accw, double* __restrict accb,
                       const float* __restrict dout, const float* __restrict x,
                       const float* __restrict w, float m, float s, int64_t dim) {
  float g_mean = 0.0f, gx_mean = 0.0f;
  if (kDx) {
    double sg, sgx;
    ln_row_sums<kW>(sg, sgx, dout, x, w, m, s, dim);
    g_mean = static_cast<float>(sg / static_cast<double>(dim));
    gx_mean = static_cast<float>(sgx / static_cast<double>(dim));
  }
  for (int64_t i = 0; i < dim; ++i) {
    const float xh = (x[i] - m) * s;
    if (kDx) dx[i] = s * ((ln_g<kW>(dout, w, i) - g_mean) - xh * gx_mean);
    if (kAcc) {
      const float d = dout[i];
      accw[i] += static_cast<double>(d * xh);
      accb[i] += static_cast<double>(d);
    }
  }
}

// Rows [r0, r1) of the LayerNorm backward; accw/accb (kAcc) are zeroed first, then every row's
// terms are added in row order.
template <bool kW, bool kDx, bool kAcc>
void ln_bwd_rows(float* dx, double* accw, double* accb, const float* dout, const float* x,
                 const float* w, const float* mean, const float* rstd, int64_t r0, int64_t r1,
                 int64_t dim) {
  if (kAcc) {
    for (int64_t j = 0; j < dim; ++j) accw[j] = 0.0, accb[j] = 0.0;
  }
  for (int64_t r = r0; r < r1; ++r) {
    ln_bwd_row<kW, kDx, kAcc>(kDx ? dx + r * dim : nullptr, accw, accb, dout + r * dim,
                              x + r * dim, w, mean[r], rstd[r], dim);
  }
}

template <bool kW>
void ln_bwd_block(float* dx, double* accw, double* accb, const float* dout, const float* x,
                  const float* w, const float* mean, const float* rstd, int64_t r0, int64_t r1,
                  int64_t dim) {
  if (dx != nullptr && accw != nullptr) {
    ln_bwd_rows<kW, true, true>(dx, accw, accb, dout, x, w, mean, rstd, r0, r1, dim);
  } else if (dx != nullptr) {
    ln_bwd_rows<kW, true, false>(dx, accw, accb, dout, x, w, mean, rstd, r0, r1, dim);
  } else {  // dweight / dbias only: the weight is not needed
    ln_bwd_rows<false, false, true>(dx, accw, accb, dout, x, nullptr, mean, rstd, r0, r1, dim);
  }
}

// dx = y ∘ (dout − dot); in place (io == dout) or out of place.
inline void softmax_row_dx_inplace(float* __restrict io, const float* __restrict y, float dot,
                                   int64_t n) {
  for (int64_t i = 0; i < n; ++i) io[i] = y[i] * (io[i] - dot);
}
inline void softmax_row_dx(float* __restrict dx, const float* __restrict dout,
                           const float* __restrict y, float dot, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] * (dout[i] - dot);
}

struct AdamWFactors {
  float b1, b2, one_m_b1, one_m_b2;
  float decay;         // lr · wd
  float step_size;     // lr / (1 − b1^t)
  float inv_sqrt_bc2;  // 1 / √(1 − b2^t)
  float eps;
};

// AdamW over one contiguous chunk.
inline void adamw_chunk(float* __restrict param, float* __restrict m, float* __restrict v,
                        const float* __restrict grad, int64_t n, const AdamWFactors& f) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float mi = f.b1 * m[i] + f.one_m_b1 * g;
    const float vi = f.b2 * v[i] + f.one_m_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float w = param[i];
    param[i] = w - f.decay * w - f.step_size * mi / (sqrt_f(vi) * f.inv_sqrt_bc2 + f.eps);
  }
}

}  // namespace

// Exposed for tests/test_ops.cc (declared there, not in a public header): the vectorisable exp
// and sqrt this file uses, so their accuracy claims are tested directly.
float exp_approx_for_test(float x) { return exp_f(x); }
float sqrt_approx_for_test(float x) { return sqrt_f(x); }
float gelu_erf_approx_for_test(float x) { return gelu_erf_f(x); }
float gelu_erf_grad_approx_for_test(float x) { return gelu_erf_grad_f(x); }

// ---------------------------------------------------------------------------------------------
// LayerNorm forward
// out, x [rows, dim]; weight, bias [dim] (null → 1 / 0); saves mean, rstd [rows] (nullable).
// Per row: mean in double lanes; variance as Σ(x − mean)² in double lanes (two-pass, so a large
// common offset such as x = 1000 + N(0,1) costs no precision); then, in float,
//   out = ((x − mf) − df) · rstd · w + b,   mf = float(mean), df = float(mean − mf),
// where x − mf is exact for x within a factor 2 of the mean (Sterbenz), so the centred values
// keep full float precision even when |mean| ≫ std.

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                       const float* bias, int64_t rows, int64_t dim, float eps) {
  MERCLIP_CHECK(rows >= 0 && dim >= 1, "layernorm_forward: rows must be >= 0 and dim >= 1");
  parallel_for(0, rows, row_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      const double mu = sum_d(xr, dim) / static_cast<double>(dim);
      const double var = sum_sq_dev_d(xr, mu, dim) / static_cast<double>(dim);
      const double s = 1.0 / std::sqrt(var + static_cast<double>(eps));
      const float mf = static_cast<float>(mu);
      const float df = static_cast<float>(mu - static_cast<double>(mf));
      const float sf = static_cast<float>(s);
      ln_row_out(out + r * dim, xr, weight, bias, mf, df, sf, dim);
      if (mean != nullptr) mean[r] = mf;
      if (rstd != nullptr) rstd[r] = sf;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// LayerNorm backward
// dx [rows, dim]; dweight, dbias [dim] (null → skipped); dout, x [rows, dim]; weight [dim]
// (null → 1); mean, rstd [rows] from the forward.
// One pass over fixed blocks of rows, blocks in parallel (ln_bwd_rows): per row,
//   xhat = (x − mean)·rstd, g = dout·w, dx = rstd·(g − mean(g) − xhat·mean(g·xhat))
// (the two means from double lanes), and the row's dweight / dbias terms dout·xhat, dout are
// added to the block's per-column double partials, which are then summed in block order. The
// blocks depend only on rows and dim (never on the thread count), so dx, dweight and dbias are
// bitwise the same for any number of threads. dout and x are read from memory once (row sums,
// then dx and the column terms from L1); the old column-block pass for dweight/dbias read them
// a second time, and the old row pass went through three scratch loops.
// Blocks: at least row_grain(dim) rows (~32K elements) and 16 rows (so the partials stay below
// a quarter of the input's size), and at most kLnMaxBlocks blocks.

namespace {
constexpr int64_t kLnMaxBlocks = 64;
constexpr int64_t kLnMinBlockRows = 16;
// A block's dbias partials start kLnPad doubles after its dweight partials end, so the two
// accumulators of a column are never 4 KiB apart (dim = 512: loads of one would wait on
// stores to the other, a false dependency).
constexpr int64_t kLnPad = 8;
}  // namespace

void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                        const float* weight, const float* mean, const float* rstd, int64_t rows,
                        int64_t dim) {
  MERCLIP_CHECK(rows >= 0 && dim >= 1, "layernorm_backward: rows must be >= 0 and dim >= 1");
  const bool acc = dweight != nullptr || dbias != nullptr;
  if (dx == nullptr && !acc) return;
  int64_t block_rows = row_grain(dim);
  if (block_rows < kLnMinBlockRows) block_rows = kLnMinBlockRows;
  const int64_t min_rows_for_cap = (rows + kLnMaxBlocks - 1) / kLnMaxBlocks;
  if (block_rows < min_rows_for_cap) block_rows = min_rows_for_cap;
  const int64_t nblocks = (rows + block_rows - 1) / block_rows;  // 0 when rows == 0
  // Per-block partials: nblocks × [dweight terms (dim), pad, dbias terms (dim), pad]; every
  // block zeroes its own before accumulating, so the buffer needs no initialisation.
  const int64_t stride = 2 * (dim + kLnPad);
  // Reused across calls (a fresh ~0.5 MB allocation per call would be paid in page faults).
  thread_local AlignedBuffer t_partials;
  double* const part_base =
      acc && nblocks > 0 ? t_partials.doubles(static_cast<size_t>(nblocks * stride)) : nullptr;
  parallel_for(0, nblocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t r0 = blk * block_rows;
      const int64_t r1 = rows - r0 < block_rows ? rows : r0 + block_rows;
      double* accw = acc ? part_base + blk * stride : nullptr;
      double* accb = acc ? accw + dim + kLnPad : nullptr;
      if (weight != nullptr) {
        ln_bwd_block<true>(dx, accw, accb, dout, x, weight, mean, rstd, r0, r1, dim);
      } else {
        ln_bwd_block<false>(dx, accw, accb, dout, x, nullptr, mean, rstd, r0, r1, dim);
      }
    }
  });
  if (!acc) return;
  if (nblocks == 0) {  // no rows: the column sums are 0
    for (int64_t j = 0; j < dim; ++j) {
      if (dweight != nullptr) dweight[j] = 0.0f;
      if (dbias != nullptr) dbias[j] = 0.0f;
    }
    return;
  }
  // Sum the partials in block order into block 0's (the same order for every split).
  double* totw = part_base;
  double* totb = totw + dim + kLnPad;
  for (int64_t blk = 1; blk < nblocks; ++blk) {
    const double* pw = part_base + blk * stride;
    const double* pb = pw + dim + kLnPad;
    for (int64_t j = 0; j < dim; ++j) totw[j] += pw[j];
    for (int64_t j = 0; j < dim; ++j) totb[j] += pb[j];
  }
  if (dweight != nullptr) {
    for (int64_t j = 0; j < dim; ++j) dweight[j] = static_cast<float>(totw[j]);
  }
  if (dbias != nullptr) {
    for (int64_t j = 0; j < dim; ++j) dbias[j] = static_cast<float>(totb[j]);
  }
}

// ---------------------------------------------------------------------------------------------
// GELU forward / backward, elementwise over n; out may alias x, dx may alias dout.
// Saves nothing: the backward recomputes σ / Φ from x.

void gelu_forward(float* out, const float* x, int64_t n, GeluApprox approx) {
  MERCLIP_CHECK(n >= 0, "gelu_forward: n must be >= 0");
  MERCLIP_CHECK(approx == GeluApprox::none || approx == GeluApprox::tanh ||
                    approx == GeluApprox::quick,
                "gelu_forward: unknown approximation");
  parallel_for(0, n, kMapGrain, [&](int64_t lo, int64_t hi) {
    switch (approx) {
      case GeluApprox::none: map1(out + lo, x + lo, hi - lo, gelu_erf_f); break;
      case GeluApprox::tanh: map1(out + lo, x + lo, hi - lo, gelu_tanh_f); break;
      case GeluApprox::quick: map1(out + lo, x + lo, hi - lo, gelu_quick_f); break;
    }
  });
}

// dx = dout · gelu'(x): the derivative of exactly the forward formula above.
void gelu_backward(float* dx, const float* dout, const float* x, int64_t n, GeluApprox approx) {
  MERCLIP_CHECK(n >= 0, "gelu_backward: n must be >= 0");
  MERCLIP_CHECK(approx == GeluApprox::none || approx == GeluApprox::tanh ||
                    approx == GeluApprox::quick,
                "gelu_backward: unknown approximation");
  parallel_for(0, n, kMapGrain, [&](int64_t lo, int64_t hi) {
    switch (approx) {
      case GeluApprox::none: map2(dx + lo, dout + lo, x + lo, hi - lo, gelu_erf_grad_f); break;
      case GeluApprox::tanh: map2(dx + lo, dout + lo, x + lo, hi - lo, gelu_tanh_grad_f); break;
      case GeluApprox::quick: map2(dx + lo, dout + lo, x + lo, hi - lo, gelu_quick_grad_f); break;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Row softmax forward. out, x [rows, cols]; out may alias x. Saves out.
// Per row: safe max (0 if the row is all -inf) → out = exp_f(x − max) → sum in double
// lanes → out *= 1/sum (1/sum → 0 for a sum of 0; a NaN sum makes the whole row NaN).

void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 0 && cols >= 1, "softmax_forward: rows must be >= 0 and cols >= 1");
  parallel_for(0, rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = out + r * cols;
      float mx = max_f(xr, cols);
      if (mx == -std::numeric_limits<float>::infinity()) mx = 0.0f;  // fully masked row
      map1(yr, xr, cols, [mx](float v) { return exp_f(v - mx); });
      const double sum = sum_d(yr, cols);
      const float inv = sum == 0.0 ? 0.0f : static_cast<float>(1.0 / sum);
      map_inplace(yr, cols, [inv](float v) { return v * inv; });
    }
  });
}

// Row softmax backward. dx, dout, out [rows, cols]; dx may alias dout.
// Undoes the normalisation: dx = out ∘ (dout − Σ dout ∘ out), the dot in double lanes, taken
// before the row is overwritten.

void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 0 && cols >= 1, "softmax_backward: rows must be >= 0 and cols >= 1");
  parallel_for(0, rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* dr = dout + r * cols;
      const float* yr = out + r * cols;
      const float dot = static_cast<float>(dot_d(dr, yr, cols));
      float* dxr = dx + r * cols;
      if (dxr == dr) {
        softmax_row_dx_inplace(dxr, yr, dot, cols);
      } else {
        softmax_row_dx(dxr, dr, yr, dot, cols);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy forward. loss [1]; lse [rows] (saved; nullable); logits [rows, cols];
// targets [rows] in [0, cols) (checked here, before any thread starts).
// Per row: safe max → Σ exp_f(x − max) over kTile-sized stack tiles in double lanes →
// lse = max + log(sum) (+inf for a row of all -inf). The row losses lse − logit[target] go to a
// per-row double buffer and are summed serially, so the loss does not depend on the split.

void softmax_xent_forward(float* loss, float* lse, const float* logits, const int32_t* targets,
                          int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 1 && cols >= 1, "softmax_xent_forward: rows and cols must be >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    MERCLIP_CHECK(targets[r] >= 0 && targets[r] < cols,
                  "softmax_xent_forward: target " + std::to_string(targets[r]) + " of row " +
                      std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
  }
  thread_local AlignedBuffer t_row_loss;  // reused across calls
  double* const row_loss = t_row_loss.doubles(static_cast<size_t>(rows));
  parallel_for(0, rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    float tile[kTile];
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = logits + r * cols;
      const float mx = max_f(xr, cols);
      double l = std::numeric_limits<double>::infinity();  // fully masked row
      if (mx != -std::numeric_limits<float>::infinity()) {
        double sum = 0.0;
        for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
          const int64_t nc = cols - c0 < kTile ? cols - c0 : kTile;
          map_copy(tile, xr + c0, nc, [mx](float v) { return exp_f(v - mx); });
          sum += sum_d(tile, nc);
        }
        l = static_cast<double>(mx) + std::log(sum);
      }
      if (lse != nullptr) lse[r] = static_cast<float>(l);
      row_loss[static_cast<size_t>(r)] = l - static_cast<double>(xr[targets[r]]);
    }
  });
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) total += row_loss[static_cast<size_t>(r)];
  loss[0] = static_cast<float>(total / static_cast<double>(rows));
}

// Softmax cross-entropy backward. dlogits, logits [rows, cols]; lse [rows] from the forward.
// Undoes the mean and the log-sum-exp: dlogits = dloss/rows · (exp(x − lse) − onehot(target)).
// exp_f(-inf − lse) and exp_f(x − (+inf)) are exactly 0.

void softmax_xent_backward(float* dlogits, const float* logits, const float* lse,
                           const int32_t* targets, float dloss, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 1 && cols >= 1, "softmax_xent_backward: rows and cols must be >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    MERCLIP_CHECK(targets[r] >= 0 && targets[r] < cols,
                  "softmax_xent_backward: target " + std::to_string(targets[r]) + " of row " +
                      std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
  }
  const float scale = static_cast<float>(static_cast<double>(dloss) / static_cast<double>(rows));
  parallel_for(0, rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float l = lse[r];
      map_copy(dlogits + r * cols, logits + r * cols, cols,
               [l, scale](float v) { return scale * exp_f(v - l); });
      // The target column: scale · (p − 1), with p − 1 formed before scaling.
      const int64_t t = targets[r];
      dlogits[r * cols + t] = scale * (exp_f(logits[r * cols + t] - l) - 1.0f);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Fused AdamW, in place on param, m, v [n]; grad [n] (torch.optim.AdamW semantics, see ops.h).
// Bias corrections in double, folded into float factors:
//   param −= lr·wd·param + step_size · m / (√v · inv_sqrt_bc2 + eps),
//   step_size = lr / (1 − b1^t),  inv_sqrt_bc2 = 1/√(1 − b2^t).
// One vectorised pass; the square root is sqrt_f above (faithfully rounded, see there).

void adamw_step(float* param, float* m, float* v, const float* grad, int64_t n,
                const AdamWParams& p) {
  MERCLIP_CHECK(n >= 0, "adamw_step: n must be >= 0");
  MERCLIP_CHECK(p.step >= 1, "adamw_step: step must be >= 1 (1-based, counted after the update)");
  const double bc1 = 1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(p.step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(p.step));
  AdamWFactors f;
  f.b1 = p.beta1;
  f.b2 = p.beta2;
  f.one_m_b1 = static_cast<float>(1.0 - static_cast<double>(p.beta1));
  f.one_m_b2 = static_cast<float>(1.0 - static_cast<double>(p.beta2));
  f.decay = static_cast<float>(static_cast<double>(p.lr) * static_cast<double>(p.weight_decay));
  f.step_size = static_cast<float>(static_cast<double>(p.lr) / bc1);
  f.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  f.eps = p.eps;
  parallel_for(0, n, kMapGrain, [&](int64_t lo, int64_t hi) {
    adamw_chunk(param + lo, m + lo, v + lo, grad + lo, hi - lo, f);
  });
}


// ---------------------------------------------------------------------------------------------
// dst [A, C, B, D] = src [A, B, C, D]: one memcpy of D floats per (a, b, c); parallel over the
// destination's (a, c) rows of B·D floats, so threads write disjoint contiguous blocks.

void permute_0213(float* dst, const float* src, int64_t a, int64_t b, int64_t c, int64_t d) {
  MERCLIP_CHECK(a >= 0 && b >= 0 && c >= 0 && d >= 0, "permute_0213: sizes must be >= 0");
  if (a == 0 || b == 0 || c == 0 || d == 0) return;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, b * d));
  parallel_for(0, a * c, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t i = r / c, k = r % c;
      float* out = dst + r * b * d;
      const float* in = src + (i * b * c + k) * d;
      for (int64_t j = 0; j < b; ++j) std::memcpy(out + j * d, in + j * c * d, sizeof(float) * d);
    }
  });
}

// Packed rows ↔ padded heads: one task per (sample, head), a memcpy per row.
namespace {
template <class Copy>
void for_each_head_rows(const int32_t* lengths, int64_t batch, int64_t len, int64_t heads,
                        int64_t head_dim, const char* what, const Copy& copy) {
  MERCLIP_CHECK(batch >= 0 && len >= 0 && heads >= 0 && head_dim >= 0, std::string(what) + ": sizes must be >= 0");
  std::vector<int64_t> off(static_cast<size_t>(batch) + 1, 0);
  for (int64_t b = 0; b < batch; ++b) {
    MERCLIP_CHECK(lengths[b] >= 0 && lengths[b] <= len, std::string(what) + ": lengths must be in [0, len]");
    off[b + 1] = off[b] + lengths[b];
  }
  if (batch == 0 || heads == 0 || head_dim == 0 || len == 0) return;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, len * head_dim));
  parallel_for(0, batch * heads, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / heads, h = r % heads;
      // padded rows of (b, h), and the first packed element of sample b, head h
      copy(r * len * head_dim, off[b] * heads * head_dim + h * head_dim, lengths[b]);
    }
  });
}
}  // namespace

void unpack_heads(float* padded, const float* packed, const int32_t* lengths, int64_t batch,
                  int64_t len, int64_t heads, int64_t head_dim) {
  const int64_t stride = heads * head_dim;
  const size_t row = sizeof(float) * static_cast<size_t>(head_dim);
  for_each_head_rows(lengths, batch, len, heads, head_dim, "unpack_heads",
                     [&](int64_t pad0, int64_t pack0, int64_t n) {
                       float* out = padded + pad0;
                       const float* in = packed + pack0;
                       for (int64_t j = 0; j < n; ++j) std::memcpy(out + j * head_dim, in + j * stride, row);
                       std::memset(out + n * head_dim, 0, row * static_cast<size_t>(len - n));
                     });
}

void pack_heads(float* packed, const float* padded, const int32_t* lengths, int64_t batch,
                int64_t len, int64_t heads, int64_t head_dim) {
  const int64_t stride = heads * head_dim;
  const size_t row = sizeof(float) * static_cast<size_t>(head_dim);
  for_each_head_rows(lengths, batch, len, heads, head_dim, "pack_heads",
                     [&](int64_t pad0, int64_t pack0, int64_t n) {
                       const float* in = padded + pad0;
                       float* out = packed + pack0;
                       for (int64_t j = 0; j < n; ++j) std::memcpy(out + j * stride, in + j * head_dim, row);
                     });
}

// Σ x²: chunks of kChunk values (8 double lanes each, so the loop vectorises), chunk sums added
// in chunk order.
double sum_squares(const float* x, int64_t n) {
  MERCLIP_CHECK(n >= 0, "sum_squares: n must be >= 0");
  constexpr int64_t kChunk = 65536;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  parallel_for(0, chunks, 4, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * kChunk, i1 = std::min(n, i0 + kChunk);
      double acc[8] = {};
      int64_t i = i0;
      for (; i + 8 <= i1; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += static_cast<double>(x[i + l]) * static_cast<double>(x[i + l]);
      for (; i < i1; ++i) acc[0] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      part[static_cast<size_t>(c)] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
  });
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

// out[i] = x[i] + alpha · y[i mod ny]; parallel over blocks of elements (each element computed
// the same way whatever the split; the y index wraps within a block).

void add_scaled(float* out, const float* x, const float* y, float alpha, int64_t n, int64_t ny) {
  MERCLIP_CHECK(n >= 0 && ny >= 1 && n % ny == 0, "add_scaled: n must be a multiple of ny >= 1");
  if (n == 0) return;
  parallel_for(0, n, 65536, [&](int64_t i0, int64_t i1) {
    int64_t j = i0 % ny;
    for (int64_t i = i0; i < i1;) {
      const int64_t run = std::min(i1 - i, ny - j);
      const float* xr = x + i;
      const float* yr = y + j;
      float* o = out + i;
      for (int64_t t = 0; t < run; ++t) o[t] = xr[t] + alpha * yr[t];
      i += run;
      j = 0;
    }
  });
}

}  // namespace cpu
}  // namespace merclip
