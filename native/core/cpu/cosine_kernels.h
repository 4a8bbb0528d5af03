// native/core/cpu/cosine_kernels.h — internal header: the row kernels of the CPU cosine
// (cpu/cosine.cc) as one table of function pointers per SIMD level. cosine.cc owns the loops
// over rows, the thread split and the reductions; a table supplies the per-row arithmetic.
//   generic   cosine.cc itself (build flags: -march=native, or baseline x86-64 / AArch64)
//   avx2      cosine_avx2.cc (-mavx2 -mfma); also the AVX-512 level's table, except rows_dots
//   avx512    rows_dots from cosine_avx512.cc, the rest from cosine_avx2.cc
//   neon      cosine_neon.cc (AArch64 only)
// Contracts common to every table (cosine.cc's results rest on them):
// - row layout: float rows of `dim`, row-major, any alignment (unaligned loads; vector
//   tails masked or scalar, never read past a row's end);
// - a row's arithmetic never depends on which other rows share the call (rows_dots with
//   rows = 2 gives each row exactly what rows = 1 gives it), so thread splits cannot change
//   results;
// - bwd_de_rows adds the rows in row order, one rounding per row and element, so any grouping
//   of the rows gives bitwise identical partials;
// - outputs marked "overwrite" are written without being read; "accumulate" ones are read.
// Internal to the CPU cosine: not part of the public API.
#ifndef MERCLIP_CORE_CPU_COSINE_KERNELS_H_
#define MERCLIP_CORE_CPU_COSINE_KERNELS_H_

#include <cstdint>

namespace merclip {
namespace cpu {
namespace detail {

struct CosineRowKernels {
  // dots{0,1}[j] = <x{0,1}, e_j> for j < c (rows of e, stride dim), ss[r] = ‖x_r‖², for
  // rows = 1 or 2 rows of x (x1, dots1 unused when rows = 1); c >= 1. Overwrite.
  void (*rows_dots)(int rows, const float* x0, const float* x1, const float* e, int64_t c,
                    int64_t dim, float* dots0, float* dots1, float* ss);
  // *dot = <a, b>, *ss = ‖a‖² (one pass over a and b). Overwrite.
  void (*dot_sumsq)(const float* a, const float* b, int64_t dim, float* dot, float* ss);
  // ‖a‖².
  double (*sumsq)(const float* a, int64_t dim);
  // dx = a·x + Σ_{j<c} w_j·e_j (overwrite). stream: dx is large and not read back soon
  // (non-temporal stores allowed; call store_fence before another thread reads dx).
  // pf: a row (dim floats) to prefetch into L2 while this one is computed, or null.
  void (*bwd_dx_row)(float* dx, const float* x, const float* e, const float* w, int64_t c,
                     int64_t dim, float a, bool stream, const float* pf);
  // part_j += Σ_{r<rows} w[r·ldw + j]·x_r for j < c (accumulate; rows of part, x, stride dim),
  // r in row order, one fused multiply-add (or multiply then add) per row and element;
  // rows >= 1 (cosine.cc passes groups of 16 rows: x still in L1).
  void (*bwd_de_rows)(float* part, const float* x, const float* w, int64_t ldw, int rows,
                      int64_t c, int64_t dim);
  // Paired backward of one pair: dh = a·e − b·h (overwrite; skipped when dh is null; stream as
  // above) and acc += w·h (accumulate; skipped when acc is null).
  void (*paired_bwd_row)(float* dh, float* acc, const float* h, const float* e, float a,
                         float b, float w, int64_t dim, bool stream);
  // Orders this thread's non-temporal stores before later stores (x86 sfence; no-op elsewhere).
  void (*store_fence)();
  // How cosine.cc pairs rows for rows_dots: false — adjacent rows (i, i + 1), whose kernel
  // prefetches 4R rows ahead; true — rows i and i + h of a thread's range of 2h rows (two
  // sequential streams in different pages, which the hardware prefetcher follows better than
  // two interleaved halves of one page), whose kernel prefetches a few rows ahead in each.
  bool far_pairs;
};

// r[i] = 1 / max(‖v_i‖, eps) for `rows` rows of v (stride dim), with the current level's sumsq,
// parallel over rows (cosine.cc; used by cosine_topk.cc).
void cosine_rnorms(float* r, const float* v, int64_t rows, int64_t dim, float eps);

#if defined(MERCLIP_HAVE_AVX2)
const CosineRowKernels& cosine_kernels_avx2();  // cosine_avx2.cc
#endif
#if defined(MERCLIP_HAVE_NEON)
const CosineRowKernels& cosine_kernels_neon();  // cosine_neon.cc
#endif

}  // namespace detail
}  // namespace cpu
}  // namespace merclip

#endif  // MERCLIP_CORE_CPU_COSINE_KERNELS_H_
