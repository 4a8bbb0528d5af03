// native/core/ref/gelu_ref.cc — reference GELU family (erf, tanh, quick), forward / backward
// (merclip::ref, declared in merclip/gelu.h).
//
// Plain loops with double accumulators, single-threaded, boring on purpose: the oracle
// tests/test_gelu.cc compares merclip::cpu against and its finite-difference checks validate.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "merclip/error.h"
#include "merclip/gelu.h"

namespace merclip {
namespace ref {

namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;    // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/√(2π)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
constexpr double kTanhCubic = 0.044715;
constexpr double kQuick = 1.702;
double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

// GELU family, elementwise over n values; saves nothing (the backward recomputes from x).
//   none : x · Φ(x),                      Φ(x) = ½ erfc(−x/√2)
//   tanh : ½ x (1 + tanh(u)),             u = √(2/π) (x + 0.044715 x³)
//   quick: x · σ(1.702 x)

void gelu_forward(float* out, const float* x, int64_t n, GeluApprox approx) {
  MERCLIP_CHECK(n >= 0, "gelu_forward: n must be >= 0");
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    double y = 0.0;
    switch (approx) {
      case GeluApprox::none: y = v * 0.5 * std::erfc(-v * kInvSqrt2); break;
      case GeluApprox::tanh:
        y = 0.5 * v * (1.0 + std::tanh(kSqrt2OverPi * (v + kTanhCubic * v * v * v)));
        break;
      case GeluApprox::quick: y = v * sigmoid(kQuick * v); break;
      default: MERCLIP_CHECK(false, "gelu_forward: unknown approximation");
    }
    out[i] = static_cast<float>(y);  // out may alias x: x[i] was read above
  }
}

// dx = dout · gelu'(x):
//   none : Φ(x) + x φ(x)
//   tanh : ½ (1 + tanh u) + ½ x (1 − tanh² u) · √(2/π) (1 + 3 · 0.044715 x²)
//   quick: σ(1.702x) (1 + 1.702 x (1 − σ(1.702x)))

void gelu_backward(float* dx, const float* dout, const float* x, int64_t n, GeluApprox approx) {
  MERCLIP_CHECK(n >= 0, "gelu_backward: n must be >= 0");
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    double d = 0.0;
    switch (approx) {
      case GeluApprox::none:
        d = 0.5 * std::erfc(-v * kInvSqrt2) + v * kInvSqrt2Pi * std::exp(-0.5 * v * v);
        break;
      case GeluApprox::tanh: {
        const double t = std::tanh(kSqrt2OverPi * (v + kTanhCubic * v * v * v));
        d = 0.5 * (1.0 + t) +
            0.5 * v * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * kTanhCubic * v * v);
        break;
      }
      case GeluApprox::quick: {
        const double s = sigmoid(kQuick * v);
        d = s * (1.0 + kQuick * v * (1.0 - s));
        break;
      }
      default: MERCLIP_CHECK(false, "gelu_backward: unknown approximation");
    }
    dx[i] = static_cast<float>(static_cast<double>(dout[i]) * d);  // dx may alias dout
  }
}

}  // namespace ref
}  // namespace merclip
