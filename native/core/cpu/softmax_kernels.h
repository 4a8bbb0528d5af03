// native/core/cpu/softmax_kernels.h — internal: the row loops of softmax and softmax
// cross-entropy, compiled once per ISA (cpu/isa.h): into isa_base by cpu/softmax.cc, isa_avx2 /
// isa_avx512 by cpu/softmax_avx2.cc / cpu/softmax_avx512.cc. Without MERCLIP_ISA defined it only
// declares them.
//
// No intrinsics: per row a max over order keys, exp_f (cpu/vec_math.h, branch-free Cephes expf)
// and double-lane sums (cpu/lanes.h), each a contiguous loop vectorised at the including file's
// width. Every function handles rows [r0, r1) and writes only those rows.
#ifndef MERCLIP_CORE_CPU_SOFTMAX_KERNELS_H_
#define MERCLIP_CORE_CPU_SOFTMAX_KERNELS_H_

#include <cstdint>

#include "isa.h"

MERCLIP_ISA_DECLARE(
    void softmax_forward_rows(float* out, const float* x, int64_t r0, int64_t r1, int64_t cols);
    void softmax_backward_rows(float* dx, const float* dout, const float* out, int64_t r0,
                               int64_t r1, int64_t cols);
    // row_loss[r] = lse[r] − logits[r, targets[r]] in double; lse nullable.
    void softmax_xent_forward_rows(double* row_loss, float* lse, const float* logits,
                                   const int32_t* targets, int64_t r0, int64_t r1, int64_t cols);
    void softmax_xent_backward_rows(float* dlogits, const float* logits, const float* lse,
                                    const int32_t* targets, float scale, int64_t r0, int64_t r1,
                                    int64_t cols);
    float exp_one(float x);)

#endif  // MERCLIP_CORE_CPU_SOFTMAX_KERNELS_H_

#ifdef MERCLIP_ISA
#include <cmath>
#include <limits>

#include "lanes.h"

namespace merclip {
namespace cpu {
namespace MERCLIP_ISA {

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

float exp_one(float x) { return exp_f(x); }

// Per row: safe max (0 if the row is all -inf) → out = exp_f(x − max) → sum in double lanes →
// out *= 1/sum (1/sum → 0 for a sum of 0; a NaN sum makes the whole row NaN).
void softmax_forward_rows(float* out, const float* x, int64_t r0, int64_t r1, int64_t cols) {
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
}

// dx = out ∘ (dout − Σ dout ∘ out), the dot in double lanes, taken before the row is
// overwritten (dx may alias dout).
void softmax_backward_rows(float* dx, const float* dout, const float* out, int64_t r0, int64_t r1,
                           int64_t cols) {
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
}

// Per row: safe max → Σ exp_f(x − max) over kTile-sized stack tiles in double lanes →
// lse = max + log(sum) (+inf for a row of all -inf).
void softmax_xent_forward_rows(double* row_loss, float* lse, const float* logits,
                               const int32_t* targets, int64_t r0, int64_t r1, int64_t cols) {
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
    row_loss[r] = l - static_cast<double>(xr[targets[r]]);
  }
}

// dlogits = scale · (exp(x − lse) − onehot(target)); exp_f(-inf − lse) and exp_f(x − (+inf)) are
// exactly 0.
void softmax_xent_backward_rows(float* dlogits, const float* logits, const float* lse,
                                const int32_t* targets, float scale, int64_t r0, int64_t r1,
                                int64_t cols) {
  for (int64_t r = r0; r < r1; ++r) {
    const float l = lse[r];
    map_copy(dlogits + r * cols, logits + r * cols, cols,
             [l, scale](float v) { return scale * exp_f(v - l); });
    // The target column: scale · (p − 1), with p − 1 formed before scaling.
    const int64_t t = targets[r];
    dlogits[r * cols + t] = scale * (exp_f(logits[r * cols + t] - l) - 1.0f);
  }
}

}  // namespace MERCLIP_ISA
}  // namespace cpu
}  // namespace merclip
#endif  // MERCLIP_ISA
