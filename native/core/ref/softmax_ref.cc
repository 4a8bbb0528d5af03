// native/core/ref/softmax_ref.cc — reference row softmax and softmax cross-entropy; a softmax row
// of all -inf gives zeros, a cross-entropy row of all -inf gets lse = +inf (flash-attention's
// convention) so the backward's exp(logit − lse) is exactly 0 (merclip::ref, declared in
// merclip/softmax.h).
//
// Plain loops with double accumulators, single-threaded, boring on purpose: the oracle
// tests/test_softmax.cc compares merclip::cpu against and its finite-difference checks validate.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "merclip/error.h"
#include "merclip/softmax.h"

namespace merclip {
namespace ref {

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

}  // namespace ref
}  // namespace merclip
