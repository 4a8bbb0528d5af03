// native/core/cpu/gelu_kernels.h — internal: the GELU family's hot loops, compiled once per ISA
// (cpu/isa.h): into isa_base by cpu/gelu.cc, isa_avx2 by cpu/gelu_avx2.cc, isa_avx512 by
// cpu/gelu_avx512.cc. Without MERCLIP_ISA defined it only declares them.
//
// No intrinsics: every element function below is branch-free (selects written as integer masks
// on the bit pattern; exp_f from cpu/vec_math.h, no libm call), so the maps of cpu/lanes.h
// vectorise at whatever width the including file's flags give (checked with g++ 12
// -fopt-info-vec for SSE2, AVX2 and AVX-512 targets). Out may alias x, dx may alias dout.
#ifndef MERCLIP_CORE_CPU_GELU_KERNELS_H_
#define MERCLIP_CORE_CPU_GELU_KERNELS_H_

#include <cstdint>

#include "isa.h"
#include "merclip/gelu.h"

MERCLIP_ISA_DECLARE(
    void gelu_forward_chunk(float* out, const float* x, int64_t n, GeluApprox approx);
    void gelu_backward_chunk(float* dx, const float* dout, const float* x, int64_t n,
                             GeluApprox approx);
    float gelu_erf_one(float x);
    float gelu_erf_grad_one(float x);)

#endif  // MERCLIP_CORE_CPU_GELU_KERNELS_H_

#ifdef MERCLIP_ISA
#include "lanes.h"

namespace merclip {
namespace cpu {
namespace MERCLIP_ISA {

namespace {

// GELU element functions (float). See ref/gelu_ref.cc for the formulas.
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
// Measured against double erfc/exp (tests/test_gelu.cc: x = k·1e-4 over [−14, 14] plus every
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


}  // namespace

void gelu_forward_chunk(float* out, const float* x, int64_t n, GeluApprox approx) {
  switch (approx) {
    case GeluApprox::none: map1(out, x, n, gelu_erf_f); break;
    case GeluApprox::tanh: map1(out, x, n, gelu_tanh_f); break;
    case GeluApprox::quick: map1(out, x, n, gelu_quick_f); break;
  }
}

// dx = dout · gelu'(x): the derivative of exactly the forward formula above.
void gelu_backward_chunk(float* dx, const float* dout, const float* x, int64_t n,
                         GeluApprox approx) {
  switch (approx) {
    case GeluApprox::none: map2(dx, dout, x, n, gelu_erf_grad_f); break;
    case GeluApprox::tanh: map2(dx, dout, x, n, gelu_tanh_grad_f); break;
    case GeluApprox::quick: map2(dx, dout, x, n, gelu_quick_grad_f); break;
  }
}

float gelu_erf_one(float x) { return gelu_erf_f(x); }
float gelu_erf_grad_one(float x) { return gelu_erf_grad_f(x); }

}  // namespace MERCLIP_ISA
}  // namespace cpu
}  // namespace merclip
#endif  // MERCLIP_ISA
