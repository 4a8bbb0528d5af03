// native/core/cpu/layernorm_kernels.h — internal: LayerNorm's hot loops, compiled once per ISA
// (cpu/isa.h): into isa_base by cpu/layernorm.cc, isa_avx2 / isa_avx512 by
// cpu/layernorm_avx2.cc / cpu/layernorm_avx512.cc. Without MERCLIP_ISA defined it only declares
// them.
//
// No intrinsics: inner loops are contiguous, over __restrict parameters (GCC honours restrict on
// parameters, also after inlining, but not reliably on block-scope pointers), with the explicit
// double lanes of cpu/lanes.h for the row statistics; the vector width is the including file's.
#ifndef MERCLIP_CORE_CPU_LAYERNORM_KERNELS_H_
#define MERCLIP_CORE_CPU_LAYERNORM_KERNELS_H_

#include <cstdint>

#include "isa.h"

MERCLIP_ISA_DECLARE(
    // Rows [r0, r1) of the forward (mean / rstd nullable).
    void layernorm_forward_rows(float* out, float* mean, float* rstd, const float* x,
                                const float* weight, const float* bias, int64_t r0, int64_t r1,
                                int64_t dim, float eps);
    // Rows [r0, r1) of the backward: dx rows (if dx), and the rows' dweight / dbias terms
    // written to accw / accb [dim] (zeroed first; both null → not computed).
    void layernorm_backward_block(float* dx, double* accw, double* accb, const float* dout,
                                  const float* x, const float* weight, const float* mean,
                                  const float* rstd, int64_t r0, int64_t r1, int64_t dim);)

#endif  // MERCLIP_CORE_CPU_LAYERNORM_KERNELS_H_

#ifdef MERCLIP_ISA
#include <cmath>

#include "lanes.h"

namespace merclip {
namespace cpu {
namespace MERCLIP_ISA {

namespace {

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
// there). The + 0 costs one add where nothing is contracted. (Verdict: kept over a g row
// buffer; native/core/dev/README.md.)
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
// dbias from the exact dout values; float partials over groups of rows were dropped for
// accuracy, native/core/dev/README.md). The dx expression is the same code in every instantiation, so dx does not depend on whether
// dweight / dbias are requested (tests/test_layernorm.cc checks that bitwise).
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

}  // namespace

// LayerNorm forward
// out, x [rows, dim]; weight, bias [dim] (null → 1 / 0); saves mean, rstd [rows] (nullable).
// Per row: mean in double lanes; variance as Σ(x − mean)² in double lanes (two-pass, so a large
// common offset such as x = 1000 + N(0,1) costs no precision); then, in float,
//   out = ((x − mf) − df) · rstd · w + b,   mf = float(mean), df = float(mean − mf),
// where x − mf is exact for x within a factor 2 of the mean (Sterbenz), so the centred values
// keep full float precision even when |mean| ≫ std.
void layernorm_forward_rows(float* out, float* mean, float* rstd, const float* x,
                            const float* weight, const float* bias, int64_t r0, int64_t r1,
                            int64_t dim, float eps) {
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
}

void layernorm_backward_block(float* dx, double* accw, double* accb, const float* dout,
                              const float* x, const float* weight, const float* mean,
                              const float* rstd, int64_t r0, int64_t r1, int64_t dim) {
  if (weight != nullptr) {
    ln_bwd_block<true>(dx, accw, accb, dout, x, weight, mean, rstd, r0, r1, dim);
  } else {
    ln_bwd_block<false>(dx, accw, accb, dout, x, nullptr, mean, rstd, r0, r1, dim);
  }
}

}  // namespace MERCLIP_ISA
}  // namespace cpu
}  // namespace merclip
#endif  // MERCLIP_ISA
