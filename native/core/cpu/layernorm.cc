// native/core/cpu/layernorm.cc — fast CPU LayerNorm forward / backward (merclip::cpu, declared
// in merclip/layernorm.h; the readable twin is ref/layernorm_ref.cc, tests/test_layernorm.cc
// holds the two together).
//
// No intrinsics: inner loops are contiguous, over __restrict parameters (GCC honours restrict on
// parameters, also after inlining, but not reliably on block-scope pointers), with the explicit
// double lanes of cpu/lanes.h for the row statistics.
// Split: forward parallel over rows; backward over fixed row blocks (see layernorm_backward).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "../common/aligned_buffer.h"
#include "lanes.h"
#include "merclip/error.h"
#include "merclip/layernorm.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

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
// then dx and the column terms from L1).
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


}  // namespace cpu
}  // namespace merclip
