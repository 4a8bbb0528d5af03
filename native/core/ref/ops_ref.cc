// native/core/ref/ops_ref.cc — reference LayerNorm, GELU family, row softmax, softmax
// cross-entropy and fused AdamW (merclip::ref, declared in merclip/ops.h).
//
// Plain loops with double accumulators, single-threaded, boring on purpose: this is what
// tests/test_ops.cc compares merclip::cpu against, and what the finite-difference checks
// validate. Contract, shared with cpu/ops.cc:
// - every output is OVERWRITTEN, never accumulated into; optional outputs may be null;
// - each forward saves exactly what its backward needs (named at the function);
// - gelu/softmax forward may run in place (out == x); gelu/softmax backward may run in place
//   (dx == dout): each element (or row) is read completely before it is written;
// - masked rows: a softmax row of all -inf gives all zeros; a cross-entropy row of all -inf
//   gets lse = +inf (flash-attention's convention), so the backward's exp(logit − lse) is
//   exactly 0, never NaN; -inf logits elsewhere contribute exact zeros.
// References: karpathy/llm.c train_gpt2.c (layernorm_forward/backward), PyTorch's GELU and
// torch.optim.AdamW documentation.
#include <cmath>
#include <limits>
#include <string>

#include "merclip/error.h"
#include "merclip/ops.h"

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

// ---------------------------------------------------------------------------------------------
// LayerNorm
// out, x [rows, dim]; weight, bias [dim] (null → 1 / 0); saves mean [rows], rstd [rows]
// (either may be null when no backward follows).
//   out = (x − mean) · rstd · weight + bias,  rstd = 1/√(var + eps), var biased (÷ dim).

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                       const float* bias, int64_t rows, int64_t dim, float eps) {
  MERCLIP_CHECK(rows >= 0 && dim >= 1, "layernorm_forward: rows must be >= 0 and dim >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    double m = 0.0;
    for (int64_t i = 0; i < dim; ++i) m += xr[i];
    m /= static_cast<double>(dim);
    double var = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      const double d = xr[i] - m;
      var += d * d;
    }
    var /= static_cast<double>(dim);
    const double s = 1.0 / std::sqrt(var + static_cast<double>(eps));
    float* outr = out + r * dim;
    for (int64_t i = 0; i < dim; ++i) {
      const double w = weight ? weight[i] : 1.0;
      const double b = bias ? bias[i] : 0.0;
      outr[i] = static_cast<float>((xr[i] - m) * s * w + b);
    }
    if (mean) mean[r] = static_cast<float>(m);
    if (rstd) rstd[r] = static_cast<float>(s);
  }
}

// dx [rows, dim]; dweight, dbias [dim] (null → skipped); dout, x [rows, dim]; weight [dim] (null
// → 1); mean, rstd [rows] as saved by the forward.
// Undoes out = xhat · w + b with xhat = (x − mean) · rstd:
//   dbias = Σ_rows dout;  dweight = Σ_rows dout · xhat;
//   dx = rstd · (g − mean(g) − xhat · mean(g · xhat)),  g = dout · w.

void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                        const float* weight, const float* mean, const float* rstd, int64_t rows,
                        int64_t dim) {
  MERCLIP_CHECK(rows >= 0 && dim >= 1, "layernorm_backward: rows must be >= 0 and dim >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    const float* dr = dout + r * dim;
    const double m = mean[r];
    const double s = rstd[r];
    double g_mean = 0.0, gx_mean = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      const double xhat = (xr[i] - m) * s;
      const double g = dr[i] * (weight ? static_cast<double>(weight[i]) : 1.0);
      g_mean += g;
      gx_mean += g * xhat;
    }
    g_mean /= static_cast<double>(dim);
    gx_mean /= static_cast<double>(dim);
    float* dxr = dx + r * dim;
    for (int64_t i = 0; i < dim; ++i) {
      const double xhat = (xr[i] - m) * s;
      const double g = dr[i] * (weight ? static_cast<double>(weight[i]) : 1.0);
      dxr[i] = static_cast<float>(s * (g - g_mean - xhat * gx_mean));
    }
  }
  // Parameter gradients: column sums over all rows.
  for (int64_t i = 0; i < dim; ++i) {
    double dw = 0.0, db = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const double d = dout[r * dim + i];
      dw += d * (x[r * dim + i] - static_cast<double>(mean[r])) * static_cast<double>(rstd[r]);
      db += d;
    }
    if (dweight) dweight[i] = static_cast<float>(dw);
    if (dbias) dbias[i] = static_cast<float>(db);
  }
}

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Row softmax. out, x [rows, cols]; out may alias x. Saves out (the backward's input).
//   out[r, c] = exp(x[r, c] − max_r) / Σ_c exp(x[r, c] − max_r)
// A row of all -inf has no meaningful softmax; it gets all zeros (safe max 0, sum 0). A NaN
// anywhere in a row makes the whole row NaN (as in PyTorch).

void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 0 && cols >= 1, "softmax_forward: rows must be >= 0 and cols >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* outr = out + r * cols;
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < cols; ++c) mx = xr[c] > mx ? xr[c] : mx;
    if (mx == -std::numeric_limits<double>::infinity()) mx = 0.0;  // fully masked row
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(xr[c] - mx);
    const double inv = sum == 0.0 ? 0.0 : 1.0 / sum;  // a NaN sum keeps the row NaN
    for (int64_t c = 0; c < cols; ++c) outr[c] = static_cast<float>(std::exp(xr[c] - mx) * inv);
  }
}

// dx, dout, out [rows, cols]; dx may alias dout.
// Undoes the normalisation: dx = out ∘ (dout − Σ_c dout ∘ out).

void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 0 && cols >= 1, "softmax_backward: rows must be >= 0 and cols >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    const float* dr = dout + r * cols;
    const float* yr = out + r * cols;
    double dot = 0.0;
    for (int64_t c = 0; c < cols; ++c) dot += static_cast<double>(dr[c]) * yr[c];
    float* dxr = dx + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      dxr[c] = static_cast<float>(yr[c] * (static_cast<double>(dr[c]) - dot));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy. loss [1]; lse [rows] (saved); logits [rows, cols]; targets [rows] in
// [0, cols).
//   lse[r] = max_r + log Σ_c exp(logits[r, c] − max_r)   (+inf for a row of all -inf)
//   loss   = (1/rows) Σ_r (lse[r] − logits[r, targets[r]])
// A -inf target logit gives loss = +inf, which is the right answer; a finite target logit gives
// a finite loss whatever the other logits are.

void softmax_xent_forward(float* loss, float* lse, const float* logits, const int32_t* targets,
                          int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 1 && cols >= 1, "softmax_xent_forward: rows and cols must be >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    MERCLIP_CHECK(targets[r] >= 0 && targets[r] < cols,
                  "softmax_xent_forward: target " + std::to_string(targets[r]) + " of row " +
                      std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
  }
  const double inf = std::numeric_limits<double>::infinity();
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = logits + r * cols;
    double mx = -inf;
    for (int64_t c = 0; c < cols; ++c) mx = xr[c] > mx ? xr[c] : mx;
    double l = inf;  // fully masked row
    if (mx != -inf) {
      double sum = 0.0;
      for (int64_t c = 0; c < cols; ++c) sum += std::exp(xr[c] - mx);
      l = mx + std::log(sum);
    }
    if (lse) lse[r] = static_cast<float>(l);
    total += l - static_cast<double>(xr[targets[r]]);
  }
  loss[0] = static_cast<float>(total / static_cast<double>(rows));
}

// dlogits, logits [rows, cols]; lse [rows] from the forward; dloss the upstream scalar.
// Undoes the mean and the log-sum-exp: dlogits = dloss/rows · (softmax − onehot(target)).

void softmax_xent_backward(float* dlogits, const float* logits, const float* lse,
                           const int32_t* targets, float dloss, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 1 && cols >= 1, "softmax_xent_backward: rows and cols must be >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    MERCLIP_CHECK(targets[r] >= 0 && targets[r] < cols,
                  "softmax_xent_backward: target " + std::to_string(targets[r]) + " of row " +
                      std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
  }
  const double scale = static_cast<double>(dloss) / static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = logits + r * cols;
    float* dr = dlogits + r * cols;
    const double l = lse[r];
    for (int64_t c = 0; c < cols; ++c) {
      const double p = std::exp(static_cast<double>(xr[c]) - l);  // exact 0 for -inf logits
      dr[c] = static_cast<float>(scale * (p - (c == targets[r] ? 1.0 : 0.0)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fused AdamW, in place on param, m, v [n]; grad [n]. torch.optim.AdamW semantics:
//   m = b1 m + (1−b1) g;  v = b2 v + (1−b2) g²
//   param −= lr · (wd · param + (m / (1−b1^t)) / (√(v / (1−b2^t)) + eps))
// with the weight decay applied to the pre-update param and the bias corrections in double.

void adamw_step(float* param, float* m, float* v, const float* grad, int64_t n,
                const AdamWParams& p) {
  MERCLIP_CHECK(n >= 0, "adamw_step: n must be >= 0");
  MERCLIP_CHECK(p.step >= 1, "adamw_step: step must be >= 1 (1-based, counted after the update)");
  const double b1 = p.beta1, b2 = p.beta2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(p.step));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(p.step));
  for (int64_t i = 0; i < n; ++i) {
    const double g = grad[i];
    const double mi = b1 * m[i] + (1.0 - b1) * g;
    const double vi = b2 * v[i] + (1.0 - b2) * g * g;
    const double w = param[i];
    const double update =
        static_cast<double>(p.weight_decay) * w + (mi / bc1) / (std::sqrt(vi / bc2) + p.eps);
    param[i] = static_cast<float>(w - static_cast<double>(p.lr) * update);
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
  }
}


// ---------------------------------------------------------------------------------------------
// dst [A, C, B, D] = src [A, B, C, D]

void permute_0213(float* dst, const float* src, int64_t a, int64_t b, int64_t c, int64_t d) {
  MERCLIP_CHECK(a >= 0 && b >= 0 && c >= 0 && d >= 0, "permute_0213: sizes must be >= 0");
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < c; ++k)
        for (int64_t l = 0; l < d; ++l) dst[((i * c + k) * b + j) * d + l] = src[((i * b + j) * c + k) * d + l];
}

// padded [B, H, len, Dh] ↔ packed [T, H·Dh]: element (b, h, j, e) ↔ (off_b + j, h·Dh + e)
void unpack_heads(float* padded, const float* packed, const int32_t* lengths, int64_t batch,
                  int64_t len, int64_t heads, int64_t head_dim) {
  int64_t off = 0;
  for (int64_t b = 0; b < batch; ++b) {
    MERCLIP_CHECK(lengths[b] >= 0 && lengths[b] <= len, "unpack_heads: lengths must be in [0, len]");
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < len; ++j)
        for (int64_t e = 0; e < head_dim; ++e)
          padded[((b * heads + h) * len + j) * head_dim + e] =
              j < lengths[b] ? packed[(off + j) * heads * head_dim + h * head_dim + e] : 0.0f;
    off += lengths[b];
  }
}

void pack_heads(float* packed, const float* padded, const int32_t* lengths, int64_t batch,
                int64_t len, int64_t heads, int64_t head_dim) {
  int64_t off = 0;
  for (int64_t b = 0; b < batch; ++b) {
    MERCLIP_CHECK(lengths[b] >= 0 && lengths[b] <= len, "pack_heads: lengths must be in [0, len]");
    for (int64_t j = 0; j < lengths[b]; ++j)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t e = 0; e < head_dim; ++e)
          packed[(off + j) * heads * head_dim + h * head_dim + e] =
              padded[((b * heads + h) * len + j) * head_dim + e];
    off += lengths[b];
  }
}

// out[i] = x[i] + alpha · y[i mod ny]

void add_scaled(float* out, const float* x, const float* y, float alpha, int64_t n, int64_t ny) {
  MERCLIP_CHECK(n >= 0 && ny >= 1 && n % ny == 0, "add_scaled: n must be a multiple of ny >= 1");
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(x[i]) + static_cast<double>(alpha) * y[i % ny]);
}

double sum_squares(const float* x, int64_t n) {
  MERCLIP_CHECK(n >= 0, "sum_squares: n must be >= 0");
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

}  // namespace ref
}  // namespace merclip
