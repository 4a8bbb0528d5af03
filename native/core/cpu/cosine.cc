// native/core/cpu/cosine.cc — fast CPU batched cosine similarity (merclip::cpu, declared in
// merclip/cosine.h): forward, backward, paired forward/backward and top-k. The readable twin is
// ref/cosine_ref.cc; tests/test_cosine.cc holds the two together.
//
// Contract (same as ref/cosine_ref.cc):
// - every output is OVERWRITTEN, never accumulated into; optional outputs may be null;
// - saved inverse norms are float(1 / max(‖v‖, eps)); the backward treats a vector as clamped
//   (no projection term) iff its inverse norm is >= float(1 / double(eps));
// - top-k ties go to the lower index; NaN scores rank below every number.
//
// Two regimes, chosen from the shape only (never from the thread count, so results do not
// depend on it):
// - few labels (c <= kFusedMaxLabels and e small enough to stay in L2): one fused pass per row
//   (rows in pairs) of x computes its sum of squares and its dot products with every e_j at
//   once; x is read exactly once, e stays in cache. The backward is the same single pass over
//   rows: dx rows written directly (non-temporal stores for a dx of >= 16 MB), de as
//   per-row-block partials (rows in groups of kDeRows) reduced in block order. The per-row arithmetic
//   comes from the current SIMD level's row-kernel table (cpu/cosine_kernels.h): AVX2 / AVX-512
//   (cosine_avx2.cc, cosine_avx512.cc) and NEON (cosine_neon.cc) hand-written, so nothing hot
//   depends on this file's flags (a portable build runs the same kernels as a native one); the
//   scalar level uses the generic loops below (labels in groups of 4, 32 float lanes per
//   accumulator, written so GCC vectorises them at -O3; no intrinsics).
// - many labels: x̂ = rx·x and ê = scale·re·e are written into thread_local scratch (the
//   factors folded into the normalisation), then one merclip::cpu::gemm (transB) gives out.
//   The backward is two GEMMs (dout·ê', doutᵀ·x') followed by a per-row fix-up pass that
//   subtracts the projection terms and applies the outer inverse norm.
// - top-k: cpu/cosine_topk.cc.
// Parallel split: rows, labels or fixed blocks over merclip::parallel_for; every task writes a
// disjoint range; reductions across tasks (de, column sums) use fixed blocks summed in block
// order, so results are bitwise identical for any thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "../common/aligned_buffer.h"
#include "cosine_kernels.h"
#include "merclip/cosine.h"
#include "merclip/cpu_features.h"
#include "merclip/error.h"
#include "merclip/gemm.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

namespace detail {
// cosine_avx512.cc: dots{0,1}[j] = <x{0,1}, e_j> for j < c and ss[r] = ‖x_r‖², for rows = 1 or 2
// rows of x (x1 unused when rows = 1).
void cosine_rows_dots_avx512(int rows, const float* x0, const float* x1, const float* e,
                             int64_t c, int64_t dim, float* dots0, float* dots1, float* ss);
}  // namespace detail

namespace {

constexpr int kW = 32;                       // float lanes per accumulator (2 zmm / 4 ymm)
constexpr int kGroup = 4;                    // labels per fused group
constexpr int64_t kFusedMaxLabels = 32;      // few-labels regime up to this many labels …
constexpr int64_t kFusedMaxBytes = 1 << 18;  // … while e fits in 256 KiB (L2)
constexpr int64_t kGrainElems = int64_t{1} << 15;  // minimum elements per parallel task
constexpr int64_t kBwdBlockRows = 256;       // rows per de partial block (few-labels backward)
constexpr int64_t kPfRows = 4;               // backward: prefetch x this many rows ahead (L2)
constexpr int kDeRows = 16;                  // backward: rows per de-partial pass (x in L1)
constexpr int64_t kStreamElems = int64_t{1} << 22;  // dx / dh of >= 16 MB: non-temporal stores

thread_local AlignedBuffer t_a;  // x̂ / x' / de partials
thread_local AlignedBuffer t_b;  // ê / ê'
thread_local AlignedBuffer t_r;  // inverse norms

int64_t grain_rows(int64_t elems_per_row) {
  return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, elems_per_row));
}

bool use_fused(int64_t c, int64_t dim) {
  return c <= kFusedMaxLabels && c * dim * static_cast<int64_t>(sizeof(float)) <= kFusedMaxBytes;
}

float inv_norm(double ss, float eps) {
  return static_cast<float>(1.0 / std::max(std::sqrt(ss), static_cast<double>(eps)));
}
float clamped_rnorm(float eps) { return static_cast<float>(1.0 / static_cast<double>(eps)); }

// ---------------------------------------------------------------------------------------------
// Vectorisable row kernels (kW independent lanes; lane sums added in double at the end).

// Sum of kW float lanes: a halving tree (vectorises; a serial loop over the lanes is a ~100-cycle
// dependency chain per row and label, which dominated the fused pass), last 8 lanes in double.
inline double lane_sum(float* __restrict a) {
  for (int l = 0; l < kW / 2; ++l) a[l] += a[l + kW / 2];
  for (int l = 0; l < kW / 4; ++l) a[l] += a[l + kW / 4];
  return ((static_cast<double>(a[0]) + a[1]) + (static_cast<double>(a[2]) + a[3])) +
         ((static_cast<double>(a[4]) + a[5]) + (static_cast<double>(a[6]) + a[7]));
}

inline double sumsq(const float* __restrict x, int64_t dim) {
  float acc[kW] = {};
  int64_t d = 0;
  for (; d + kW <= dim; d += kW)
    for (int l = 0; l < kW; ++l) acc[l] += x[d + l] * x[d + l];
  double s = lane_sum(acc);
  for (; d < dim; ++d) s += static_cast<double>(x[d]) * x[d];
  return s;
}

// dots[j] = <x, e_j> for J consecutive rows of e (row stride dim); with kNorm also *ss = ‖x‖².
template <int J, bool kNorm>
inline void fused_dots(const float* __restrict x, const float* __restrict e, int64_t dim,
                       float* __restrict dots, double* __restrict ss) {
  float acc[J][kW] = {};
  float nacc[kW] = {};
  int64_t d = 0;
  for (; d + kW <= dim; d += kW) {
    for (int j = 0; j < J; ++j) {
      const float* __restrict ej = e + j * dim + d;
      for (int l = 0; l < kW; ++l) acc[j][l] += x[d + l] * ej[l];
    }
    if (kNorm) {
      for (int l = 0; l < kW; ++l) nacc[l] += x[d + l] * x[d + l];
    }
  }
  for (int j = 0; j < J; ++j) {
    double s = lane_sum(acc[j]);
    for (int64_t t = d; t < dim; ++t) s += static_cast<double>(x[t]) * e[j * dim + t];
    dots[j] = static_cast<float>(s);
  }
  if (kNorm) {
    double s = lane_sum(nacc);
    for (int64_t t = d; t < dim; ++t) s += static_cast<double>(x[t]) * x[t];
    *ss = s;
  }
}

// dots[j] = <x, e_j> for all c labels, *ss = ‖x‖²: x read once per group of kGroup labels
// (from L1 after the first).
inline void row_dots(const float* x, const float* e, int64_t c, int64_t dim, float* dots,
                     double* ss) {
  int64_t j = 0;
  bool have_norm = false;
  while (j < c) {
    const int64_t r = c - j;
    const float* ej = e + j * dim;
    if (r >= 4) {
      if (have_norm) fused_dots<4, false>(x, ej, dim, dots + j, ss);
      else fused_dots<4, true>(x, ej, dim, dots + j, ss);
      j += 4;
    } else if (r >= 2) {  // 3 = 2 + 1: GCC keeps J = 3's accumulators on the stack
      if (have_norm) fused_dots<2, false>(x, ej, dim, dots + j, ss);
      else fused_dots<2, true>(x, ej, dim, dots + j, ss);
      j += 2;
    } else {
      if (have_norm) fused_dots<1, false>(x, ej, dim, dots + j, ss);
      else fused_dots<1, true>(x, ej, dim, dots + j, ss);
      j += 1;
    }
    have_norm = true;
  }
  if (!have_norm) *ss = sumsq(x, dim);
}

// y = a·v (row scale)
inline void scale_row(float* __restrict y, const float* __restrict v, float a, int64_t dim) {
  for (int64_t d = 0; d < dim; ++d) y[d] = a * v[d];
}

// y += Σ_{j<c} w[j]·e_j (rows of e with stride dim), labels in groups of 4.
inline void axpy_rows(float* __restrict y, const float* __restrict w, const float* __restrict e,
                      int64_t c, int64_t dim) {
  int64_t j = 0;
  for (; j + 4 <= c; j += 4) {
    const float w0 = w[j], w1 = w[j + 1], w2 = w[j + 2], w3 = w[j + 3];
    const float* __restrict e0 = e + j * dim;
    const float* __restrict e1 = e0 + dim;
    const float* __restrict e2 = e1 + dim;
    const float* __restrict e3 = e2 + dim;
    for (int64_t d = 0; d < dim; ++d) y[d] += w0 * e0[d] + w1 * e1[d] + w2 * e2[d] + w3 * e3[d];
  }
  for (; j < c; ++j) {
    const float wj = w[j];
    const float* __restrict ej = e + j * dim;
    for (int64_t d = 0; d < dim; ++d) y[d] += wj * ej[d];
  }
}

// y = a·(y − b·v)
inline void fixup_row(float* __restrict y, const float* __restrict v, float a, float b,
                      int64_t dim) {
  for (int64_t d = 0; d < dim; ++d) y[d] = a * (y[d] - b * v[d]);
}

// ---------------------------------------------------------------------------------------------
// The generic row-kernel table (cosine_kernels.h): the loops above, with this file's flags.

void g_rows_dots(int rows, const float* x0, const float* x1, const float* e, int64_t c,
                 int64_t dim, float* dots0, float* dots1, float* ss) {
  for (int r = 0; r < rows; ++r) {
    double s = 0.0;
    row_dots(r ? x1 : x0, e, c, dim, r ? dots1 : dots0, &s);
    ss[r] = static_cast<float>(s);
  }
}
void g_dot_sumsq(const float* a, const float* b, int64_t dim, float* dot, float* ss) {
  double s = 0.0;
  fused_dots<1, true>(a, b, dim, dot, &s);
  *ss = static_cast<float>(s);
}
void g_bwd_dx_row(float* dx, const float* x, const float* e, const float* w, int64_t c,
                  int64_t dim, float a, bool, const float*) {
  scale_row(dx, x, a, dim);
  axpy_rows(dx, w, e, c, dim);
}
void g_bwd_de_rows(float* part, const float* x, const float* w, int64_t ldw, int rows, int64_t c,
                   int64_t dim) {
  for (int r = 0; r < rows; ++r)
    for (int64_t j = 0; j < c; ++j) {
      const float wj = w[r * ldw + j];
      const float* __restrict xr = x + r * dim;
      float* __restrict pj = part + j * dim;
      for (int64_t d = 0; d < dim; ++d) pj[d] += wj * xr[d];
    }
}
void g_paired_bwd_row(float* dh, float* acc, const float* h, const float* e, float a, float b,
                      float w, int64_t dim, bool) {
  if (dh) {
    float* __restrict o = dh;
    for (int64_t d = 0; d < dim; ++d) o[d] = a * e[d] - b * h[d];
  }
  if (acc) {
    float* __restrict o = acc;
    for (int64_t d = 0; d < dim; ++d) o[d] += w * h[d];
  }
}
void g_store_fence() {}

// The table of the current SIMD level (cosine_kernels.h says which file gives what).
const detail::CosineRowKernels& row_kernels() {
  static const detail::CosineRowKernels generic = {g_rows_dots,   g_dot_sumsq,      sumsq,
                                                   g_bwd_dx_row,  g_bwd_de_rows,
                                                   g_paired_bwd_row, g_store_fence, false};
  switch (simd_level()) {
#if defined(MERCLIP_HAVE_AVX512) && defined(MERCLIP_HAVE_AVX2)
    case SimdLevel::avx512: {
      static const detail::CosineRowKernels k = [] {
        detail::CosineRowKernels t = detail::cosine_kernels_avx2();
        t.rows_dots = detail::cosine_rows_dots_avx512;
        t.far_pairs = false;  // its rows_dots prefetches for adjacent pairs
        return t;
      }();
      return k;
    }
#endif
#if defined(MERCLIP_HAVE_AVX2)
    case SimdLevel::avx2: return detail::cosine_kernels_avx2();
#endif
#if defined(MERCLIP_HAVE_NEON)
    case SimdLevel::neon: return detail::cosine_kernels_neon();
#endif
    default: return generic;
  }
}

}  // namespace

// r[i] = 1 / max(‖v_i‖, eps) for `rows` vectors, parallel over rows (cosine_kernels.h).
void detail::cosine_rnorms(float* r, const float* v, int64_t rows, int64_t dim, float eps) {
  const auto sq = row_kernels().sumsq;
  parallel_for(0, rows, grain_rows(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) r[i] = inv_norm(sq(v + i * dim, dim), eps);
  });
}

namespace {

void compute_rnorms(float* r, const float* v, int64_t rows, int64_t dim, float eps) {
  detail::cosine_rnorms(r, v, rows, dim, eps);
}

// Inverse norms: the saved ones if given, else computed into `scratch`.
const float* rnorms_or_compute(const float* saved, float* scratch, const float* v, int64_t rows,
                               int64_t dim, float eps) {
  if (saved) return saved;
  compute_rnorms(scratch, v, rows, dim, eps);
  return scratch;
}

// colsum[j] = Σ_i a_ij·b_ij over [rows, cols] (double, fixed order; parallel over columns).
void col_dot_sums(double* colsum, const float* a, const float* b, int64_t rows, int64_t cols) {
  constexpr int64_t kChunk = 64;
  const int64_t chunks = (cols + kChunk - 1) / kChunk;
  parallel_for(0, chunks, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, rows * kChunk)),
               [&](int64_t lo, int64_t hi) {
                 double acc[kChunk];
                 for (int64_t ch = lo; ch < hi; ++ch) {
                   const int64_t j0 = ch * kChunk;
                   const int64_t w = std::min<int64_t>(kChunk, cols - j0);
                   for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
                   for (int64_t i = 0; i < rows; ++i) {
                     const float* ar = a + i * cols + j0;
                     const float* br = b + i * cols + j0;
                     for (int64_t j = 0; j < w; ++j)
                       acc[j] += static_cast<double>(ar[j]) * static_cast<double>(br[j]);
                   }
                   for (int64_t j = 0; j < w; ++j) colsum[j0 + j] = acc[j];
                 }
               });
}

void check_params(int64_t n, int64_t c, int64_t dim, const char* fn) {
  MERCLIP_CHECK(n >= 0 && c >= 0 && dim >= 0, std::string(fn) + ": sizes must be >= 0");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Forward
// out [n,c]; x_rnorm [n], e_rnorm [c] (optional); x [n,dim]; e [c,dim]
//   out_ij = scale·<x_i, e_j>·rx_i·re_j

void cosine_forward(float* out, float* x_rnorm, float* e_rnorm, const float* x, const float* e,
                    const CosineParams& p) {
  check_params(p.n, p.c, p.dim, "cosine_forward");
  const int64_t n = p.n, c = p.c, dim = p.dim;
  const float scale = p.scale, eps = p.eps;
  if (dim == 0) {  // every vector is zero: cos = 0, r = 1/eps
    for (int64_t i = 0; i < n * c; ++i) out[i] = 0.0f;
    if (x_rnorm) for (int64_t i = 0; i < n; ++i) x_rnorm[i] = clamped_rnorm(eps);
    if (e_rnorm) for (int64_t j = 0; j < c; ++j) e_rnorm[j] = clamped_rnorm(eps);
    return;
  }
  float* re = e_rnorm ? e_rnorm : t_r.floats(static_cast<size_t>(c));

  if (c == 0) {
    if (x_rnorm) compute_rnorms(x_rnorm, x, n, dim, eps);
    return;
  }
  const detail::CosineRowKernels& K = row_kernels();
  if (use_fused(c, dim) || n == 0) {
    // Few labels: one fused pass per row of x (x read once, e cache-resident); rows in pairs,
    // each loaded label vector feeding both rows' FMAs (the row kernels, cosine_kernels.h).
    compute_rnorms(re, e, c, dim, eps);
    parallel_for(0, n, grain_rows((c + 1) * dim), [&](int64_t lo, int64_t hi) {
      float dots[2][kFusedMaxLabels];
      float ss[2];
      // Pairs: adjacent rows, or rows i and i + half (K.far_pairs); the odd row out alone.
      const int64_t half = K.far_pairs ? (hi - lo + 1) / 2 : 1;
      const int64_t step = K.far_pairs ? 1 : 2;
      const int64_t end = K.far_pairs ? lo + half : hi;
      for (int64_t i = lo; i < end; i += step) {
        const int64_t i2 = i + half;
        const int rows = i2 < hi ? 2 : 1;
        K.rows_dots(rows, x + i * dim, rows == 2 ? x + i2 * dim : nullptr, e, c, dim, dots[0],
                    dots[1], ss);
        for (int r = 0; r < rows; ++r) {
          const int64_t row = r == 0 ? i : i2;
          const float rx = inv_norm(static_cast<double>(ss[r]), eps);
          if (x_rnorm) x_rnorm[row] = rx;
          const float f = scale * rx;
          float* oi = out + row * c;
          for (int64_t j = 0; j < c; ++j) oi[j] = f * dots[r][j] * re[j];
        }
      }
    });
    return;
  }

  // Many labels: x̂ = rx·x, ê = scale·re·e into scratch, then out = x̂·êᵀ.
  float* xh = t_a.floats(static_cast<size_t>(n * dim));
  float* eh = t_b.floats(static_cast<size_t>(c * dim));
  parallel_for(0, c, grain_rows(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t j = lo; j < hi; ++j) {
      const float r = inv_norm(K.sumsq(e + j * dim, dim), eps);
      re[j] = r;
      scale_row(eh + j * dim, e + j * dim, scale * r, dim);
    }
  });
  parallel_for(0, n, grain_rows(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float r = inv_norm(K.sumsq(x + i * dim, dim), eps);
      if (x_rnorm) x_rnorm[i] = r;
      scale_row(xh + i * dim, x + i * dim, r, dim);
    }
  });
  GemmParams g;
  g.m = n, g.n = c, g.k = dim, g.trans_b = true;
  gemm(out, xh, eh, nullptr, g);
}

// ---------------------------------------------------------------------------------------------
// Backward
// dx [n,dim], de [c,dim] (either may be null); dout, out [n,c]; x [n,dim]; e [c,dim];
// x_rnorm [n], e_rnorm [c] (null → recomputed). Undoes out_ij = scale·<x_i,e_j>·rx_i·re_j:
//   g_i = Σ_j dout_ij·out_ij,  h_j = Σ_i dout_ij·out_ij
//   dx_i = rx_i·(scale·Σ_j dout_ij·re_j·e_j − [active x_i]·rx_i·g_i·x_i)
//   de_j = re_j·(scale·Σ_i dout_ij·rx_i·x_i − [active e_j]·re_j·h_j·e_j)

void cosine_backward(float* dx, float* de, const float* dout, const float* out, const float* x,
                     const float* e, const float* x_rnorm, const float* e_rnorm,
                     const CosineParams& p) {
  check_params(p.n, p.c, p.dim, "cosine_backward");
  const int64_t n = p.n, c = p.c, dim = p.dim;
  const float scale = p.scale, eps = p.eps;
  if (!dx && !de) return;
  if (dim == 0) return;  // dx, de are empty
  if (n == 0 || c == 0) {  // nothing flows back
    if (dx) std::memset(dx, 0, sizeof(float) * static_cast<size_t>(n * dim));
    if (de) std::memset(de, 0, sizeof(float) * static_cast<size_t>(c * dim));
    return;
  }
  const float clamped = clamped_rnorm(eps);
  float* rbuf = (x_rnorm && e_rnorm) ? nullptr : t_r.floats(static_cast<size_t>(n + c));
  const detail::CosineRowKernels& K = row_kernels();
  const bool fused = use_fused(c, dim);
  // Few labels without saved norms: each row's norm is taken in the row pass below, just before
  // the row is used (it is then in L1), not in a separate pass over x (one read of x fewer).
  const bool rx_in_pass = fused && !x_rnorm;
  const float* rx = rx_in_pass ? rbuf : rnorms_or_compute(x_rnorm, rbuf, x, n, dim, eps);
  const float* re = rnorms_or_compute(e_rnorm, rbuf ? rbuf + n : nullptr, e, c, dim, eps);

  if (fused) {
    // Few labels: one pass over the rows of x; dx rows directly, de as per-block partials
    // (fixed blocks of kBwdBlockRows rows, reduced in block order below).
    const bool stream = dx && n * dim >= kStreamElems;
    const int64_t nblk = de ? (n + kBwdBlockRows - 1) / kBwdBlockRows : 0;
    const size_t part_elems = static_cast<size_t>(c * dim);
    float* part = de ? t_a.floats(static_cast<size_t>(nblk) * (part_elems + static_cast<size_t>(c)))
                     : nullptr;
    float* hpart = de ? part + static_cast<size_t>(nblk) * part_elems : nullptr;  // [nblk, c]
    const int64_t nb_tasks = de ? nblk : (n + kBwdBlockRows - 1) / kBwdBlockRows;
    parallel_for(0, nb_tasks, std::max<int64_t>(1, grain_rows((c + 1) * dim) / kBwdBlockRows),
                 [&](int64_t lo, int64_t hi) {
      float w[kFusedMaxLabels];
      float wde[kDeRows * kFusedMaxLabels];
      for (int64_t blk = lo; blk < hi; ++blk) {
        const int64_t i0 = blk * kBwdBlockRows, i1 = std::min(n, i0 + kBwdBlockRows);
        float* pb = de ? part + static_cast<size_t>(blk) * part_elems : nullptr;
        float* hb = de ? hpart + blk * c : nullptr;
        if (de) {
          std::memset(pb, 0, sizeof(float) * part_elems);
          for (int64_t j = 0; j < c; ++j) hb[j] = 0.0f;
        }
        // Rows in groups of kDeRows (fixed within the block): dx rows one by one, then the
        // group's de contributions in one pass over the partial rows (x rows still in L1).
        for (int64_t g0 = i0; g0 < i1; g0 += kDeRows) {
          const int rows = static_cast<int>(std::min<int64_t>(kDeRows, i1 - g0));
          for (int r = 0; r < rows; ++r) {
            const int64_t i = g0 + r;
            if (rx_in_pass) rbuf[i] = inv_norm(K.sumsq(x + i * dim, dim), eps);
            const float* di = dout + i * c;
            const float* oi = out + i * c;
            if (dx) {
              double g = 0.0;
              for (int64_t j = 0; j < c; ++j) g += static_cast<double>(di[j]) * oi[j];
              const float proj = rx[i] < clamped ? rx[i] * static_cast<float>(g) : 0.0f;
              const float f = rx[i] * scale;
              for (int64_t j = 0; j < c; ++j) w[j] = f * di[j] * re[j];
              K.bwd_dx_row(dx + i * dim, x + i * dim, e, w, c, dim, -rx[i] * proj, stream,
                           i + kPfRows < n ? x + (i + kPfRows) * dim : nullptr);
            }
            if (de) {
              const float f = scale * rx[i];
              for (int64_t j = 0; j < c; ++j) {
                hb[j] += di[j] * oi[j];
                wde[r * kFusedMaxLabels + j] = f * di[j];
              }
            }
          }
          if (de) K.bwd_de_rows(pb, x + g0 * dim, wde, kFusedMaxLabels, rows, c, dim);
        }
      }
      if (stream) K.store_fence();
    });
    if (de) {
      parallel_for(0, c, grain_rows(dim * nblk), [&](int64_t lo, int64_t hi) {
        for (int64_t j = lo; j < hi; ++j) {
          double hsum = 0.0;
          for (int64_t b = 0; b < nblk; ++b) hsum += hpart[b * c + j];
          float* dej = de + j * dim;
          std::memcpy(dej, part + j * dim, sizeof(float) * static_cast<size_t>(dim));
          for (int64_t b = 1; b < nblk; ++b) {
            const float* __restrict pj = part + static_cast<size_t>(b) * part_elems + j * dim;
            for (int64_t d = 0; d < dim; ++d) dej[d] += pj[d];
          }
          const float proj = re[j] < clamped ? re[j] * static_cast<float>(hsum) : 0.0f;
          fixup_row(dej, e + j * dim, re[j], proj, dim);
        }
      });
    }
    return;
  }

  // Many labels: GEMMs, then a per-row fix-up.
  if (dx) {
    // dx = dout·ê' with ê'_j = scale·re_j·e_j; then dx_i = rx_i·(dx_i − [act]·rx_i·g_i·x_i).
    float* ep = t_b.floats(static_cast<size_t>(c * dim));
    parallel_for(0, c, grain_rows(dim), [&](int64_t lo, int64_t hi) {
      for (int64_t j = lo; j < hi; ++j) scale_row(ep + j * dim, e + j * dim, scale * re[j], dim);
    });
    GemmParams g;
    g.m = n, g.n = dim, g.k = c;
    gemm(dx, dout, ep, nullptr, g);
    parallel_for(0, n, grain_rows(dim + c), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const float* di = dout + i * c;
        const float* oi = out + i * c;
        double gi = 0.0;
        for (int64_t j = 0; j < c; ++j) gi += static_cast<double>(di[j]) * oi[j];
        const float proj = rx[i] < clamped ? rx[i] * static_cast<float>(gi) : 0.0f;
        fixup_row(dx + i * dim, x + i * dim, rx[i], proj, dim);
      }
    });
  }
  if (de) {
    // de = doutᵀ·x' with x'_i = scale·rx_i·x_i; then de_j = re_j·(de_j − [act]·re_j·h_j·e_j).
    float* xp = t_a.floats(static_cast<size_t>(n * dim));
    double* hsum = reinterpret_cast<double*>(t_b.floats(static_cast<size_t>(2 * c)));
    parallel_for(0, n, grain_rows(dim), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) scale_row(xp + i * dim, x + i * dim, scale * rx[i], dim);
    });
    GemmParams g;
    g.m = c, g.n = dim, g.k = n, g.trans_a = true;
    gemm(de, dout, xp, nullptr, g);
    col_dot_sums(hsum, dout, out, n, c);
    parallel_for(0, c, grain_rows(dim), [&](int64_t lo, int64_t hi) {
      for (int64_t j = lo; j < hi; ++j) {
        const float proj = re[j] < clamped ? re[j] * static_cast<float>(hsum[j]) : 0.0f;
        fixup_row(de + j * dim, e + j * dim, re[j], proj, dim);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Paired forward
// out [batch,c]; h_rnorm [batch·c], e_rnorm [c] (optional); h [batch,c,dim]; e [c,dim]
//   out_bj = scale·<h_bj, e_j>·rh_bj·re_j; one pass over h, parallel over (b, j) pairs.

void cosine_paired_forward(float* out, float* h_rnorm, float* e_rnorm, const float* h,
                           const float* e, const CosinePairedParams& p) {
  check_params(p.batch, p.c, p.dim, "cosine_paired_forward");
  const int64_t batch = p.batch, c = p.c, dim = p.dim;
  const float scale = p.scale, eps = p.eps;
  float* re = e_rnorm ? e_rnorm : t_r.floats(static_cast<size_t>(c));
  compute_rnorms(re, e, c, dim, eps);
  const detail::CosineRowKernels& K = row_kernels();
  parallel_for(0, batch * c, grain_rows(2 * dim + 1), [&](int64_t lo, int64_t hi) {
    for (int64_t q = lo; q < hi; ++q) {
      const int64_t j = q % c;
      float dot = 0.0f, ss = 0.0f;
      K.dot_sumsq(h + q * dim, e + j * dim, dim, &dot, &ss);
      const float rh = inv_norm(static_cast<double>(ss), eps);
      if (h_rnorm) h_rnorm[q] = rh;
      out[q] = scale * dot * rh * re[j];
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Paired backward
// dh [batch,c,dim], de [c,dim] (either may be null); dout, out [batch,c]; h [batch,c,dim];
// e [c,dim]; h_rnorm [batch·c], e_rnorm [c] (null → recomputed)
//   dh_bj = rh_bj·(scale·dout_bj·re_j·e_j − [active h_bj]·rh_bj·dout_bj·out_bj·h_bj)
//   de_j  = re_j·(scale·Σ_b dout_bj·rh_bj·h_bj − [active e_j]·re_j·(Σ_b dout_bj·out_bj)·e_j)
// Tasks are (label j, batch block kb), j-major; nb batch blocks chosen from the shape only.
// Each task makes dh for its pairs and a de partial; with nb == 1 the partial is de itself,
// otherwise the nb partials are summed in block order: one pass over h, deterministic.

void cosine_paired_backward(float* dh, float* de, const float* dout, const float* out,
                            const float* h, const float* e, const float* h_rnorm,
                            const float* e_rnorm, const CosinePairedParams& p) {
  check_params(p.batch, p.c, p.dim, "cosine_paired_backward");
  const int64_t batch = p.batch, c = p.c, dim = p.dim;
  const float scale = p.scale, eps = p.eps;
  if (!dh && !de) return;
  if (dim == 0 || c == 0) return;  // outputs are empty
  if (batch == 0) {
    if (de) std::memset(de, 0, sizeof(float) * static_cast<size_t>(c * dim));
    return;
  }
  const float clamped = clamped_rnorm(eps);
  const float* re =
      rnorms_or_compute(e_rnorm, e_rnorm ? nullptr : t_r.floats(static_cast<size_t>(c)), e, c,
                        dim, eps);
  // Batch blocks: enough tasks for the pool when c is small, one block when c is large.
  const int64_t want_tasks = 32;
  const int64_t nb =
      std::max<int64_t>(1, std::min<int64_t>(batch / 16, (want_tasks + c - 1) / c));
  const int64_t bs = (batch + nb - 1) / nb;
  float* part = (de && nb > 1) ? t_a.floats(static_cast<size_t>(nb * (c * dim + c))) : nullptr;
  float* hpart = part ? part + nb * c * dim : nullptr;  // [nb, c]
  const detail::CosineRowKernels& K = row_kernels();
  const bool stream = dh && batch * c * dim >= kStreamElems;
  parallel_for(0, c * nb, std::max<int64_t>(1, grain_rows(bs * dim)), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t j = t / nb, kb = t % nb;
      const int64_t b0 = kb * bs, b1 = std::min(batch, b0 + bs);
      const float* ej = e + j * dim;
      float* acc = de ? (nb > 1 ? part + (kb * c + j) * dim : de + j * dim) : nullptr;
      double hs = 0.0;
      if (acc) std::memset(acc, 0, sizeof(float) * static_cast<size_t>(dim));
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t q = b * c + j;
        const float* hq = h + q * dim;
        const float rh = h_rnorm ? h_rnorm[q] : inv_norm(K.sumsq(hq, dim), eps);
        const float dq = dout[q];
        float a = 0.0f, bb = 0.0f, wq = 0.0f;
        if (dh) {
          const float proj = rh < clamped ? rh * dq * out[q] : 0.0f;
          a = rh * scale * dq * re[j], bb = rh * proj;
        }
        if (acc) {
          hs += static_cast<double>(dq) * out[q];
          wq = scale * dq * rh;
        }
        K.paired_bwd_row(dh ? dh + q * dim : nullptr, acc, hq, ej, a, bb, wq, dim, stream);
      }
      if (acc) {
        if (nb > 1) {
          hpart[kb * c + j] = static_cast<float>(hs);
        } else {
          const float proj = re[j] < clamped ? re[j] * static_cast<float>(hs) : 0.0f;
          fixup_row(acc, ej, re[j], proj, dim);
        }
      }
    }
    if (stream) K.store_fence();
  });
  if (de && nb > 1) {
    parallel_for(0, c, grain_rows(dim * nb), [&](int64_t lo, int64_t hi) {
      for (int64_t j = lo; j < hi; ++j) {
        double hs = 0.0;
        for (int64_t kb = 0; kb < nb; ++kb) hs += hpart[kb * c + j];
        float* dej = de + j * dim;
        std::memcpy(dej, part + j * dim, sizeof(float) * static_cast<size_t>(dim));
        for (int64_t kb = 1; kb < nb; ++kb) {
          const float* __restrict pj = part + (kb * c + j) * dim;
          for (int64_t d = 0; d < dim; ++d) dej[d] += pj[d];
        }
        const float proj = re[j] < clamped ? re[j] * static_cast<float>(hs) : 0.0f;
        fixup_row(dej, e + j * dim, re[j], proj, dim);
      }
    });
  }
}

}  // namespace cpu
}  // namespace merclip
