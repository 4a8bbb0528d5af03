// native/core/cpu/softmax.cc — fast CPU row softmax and softmax cross-entropy, forward and
// backward (merclip::cpu, declared in merclip/softmax.h; the readable twin is
// ref/softmax_ref.cc, tests/test_softmax.cc holds them together).
//
// No intrinsics: per row a max over order keys, exp_f (cpu/vec_math.h, branch-free Cephes expf)
// and double-lane sums (cpu/lanes.h), each a contiguous loop the compiler vectorises.
// Split: rows over merclip::parallel_for (at least ~32K elements per task); every task writes
// disjoint rows, so results do not depend on the thread count.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "../common/aligned_buffer.h"
#include "lanes.h"
#include "merclip/error.h"
#include "merclip/softmax.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

namespace {

constexpr int64_t kTile = 256;  // stack tile for the cross-entropy exp-sum

// dx = y ∘ (dout − dot); in place (io == dout) or out of place.
inline void softmax_row_dx_inplace(float* __restrict io, const float* __restrict y, float dot,
                                   int64_t n) {
  for (int64_t i = 0; i < n; ++i) io[i] = y[i] * (io[i] - dot);
}
inline void softmax_row_dx(float* __restrict dx, const float* __restrict dout,
                           const float* __restrict y, float dot, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] * (dout[i] - dot);
}

}  // namespace

// Exposed for tests/test_softmax.cc (declared there, not in a public header): the vectorisable
// exp every softmax and cross-entropy row uses, so its accuracy claim is tested directly.
float exp_approx_for_test(float x) { return exp_f(x); }

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


}  // namespace cpu
}  // namespace merclip
