// cpu/cosine_avx512.cc — the few-labels cosine forward's inner loop with AVX-512: the dot
// products of R rows of x (R = 1 or 2) with up to 7 labels at a time, plus the rows' squared
// norms, in one pass over x. Pairing rows makes each loaded label vector feed two FMAs (GCC's
// vectorisation of the generic loop feeds one and reaches ~half the memory bandwidth).
// Every row's arithmetic is the same whether it is paired or not (own accumulators, same order,
// the same reduction tree), so results do not depend on how rows are split between threads.
// Optimisation verdicts (C 7, dim 512, 2-core Zen 4; A/B in one process):
// - each label vector loaded once per step into a register (an empty asm keeps GCC from folding
//   it into both rows' FMAs as two loads): ~10–15 % in L1; kept.
// - the 16 accumulators of a row pair (7 labels + norm, per row) reduced by one transpose-and-add
//   tree (hsum16) instead of 16 _mm512_reduce_add_ps: ~335 vs ~400 cycles per row in L1; kept.
// - prefetch 4R rows ahead into L2 (T1) instead of 2R rows into L1: ~20 % from DRAM; kept.
//   NTA hints: slower. Together: from ~16 to ~26–32 GB/s at N 65536 (read bandwidth 32–50).
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma; called only at that level.
#include <immintrin.h>

#include "avx512_util.h"

#include <cstdint>

namespace merclip {
namespace cpu {
namespace detail {

namespace {


// R rows (1 or 2) against J <= 7 labels of e starting at e (row stride dim), plus the rows'
// squared norms when kNorm: 8 accumulator slots per row (J labels, then the norm), reduced
// together by hsum16; out[r·8 + j] = <x_r, e_j>, out[r·8 + 7] = ‖x_r‖².
template <int R, int J, bool kNorm>
void dots_block(const float* const* xs, const float* e, int64_t dim, float* out) {
  static_assert(R <= 2 && J <= 7, "8 slots per row, 2 rows per reduction tree");
  __m512 acc[R][J];
  __m512 nrm[R];
  for (int r = 0; r < R; ++r) {
    nrm[r] = _mm512_setzero_ps();
    for (int j = 0; j < J; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    __m512 xv[R];
    for (int r = 0; r < R; ++r) {
      xv[r] = _mm512_loadu_ps(xs[r] + d);
      if (kNorm) {
        nrm[r] = _mm512_fmadd_ps(xv[r], xv[r], nrm[r]);
        // The line 4R rows ahead, into L2: the first pass over a row is DRAM-bound, and the
        // hardware prefetcher alone leaves it latency-bound (measured: 5.5 vs ~20 GB/s; T1
        // 4R rows ahead measured ~20 % faster than T0 2R rows ahead).
        _mm_prefetch(reinterpret_cast<const char*>(xs[r] + 4 * R * dim + d), _MM_HINT_T1);
      }
    }
#pragma GCC unroll 7
    for (int j = 0; j < J; ++j) {
      __m512 ev = _mm512_loadu_ps(e + j * dim + d);
      __asm__("" : "+v"(ev));  // one load feeding R FMAs (GCC would fold R separate loads)
      for (int r = 0; r < R; ++r) acc[r][j] = _mm512_fmadd_ps(xv[r], ev, acc[r][j]);
    }
  }
  if (d < dim) {  // tail: masked loads give zeros past the end
    const __mmask16 m = static_cast<__mmask16>((1u << (dim - d)) - 1u);
    __m512 xv[R];
    for (int r = 0; r < R; ++r) {
      xv[r] = _mm512_maskz_loadu_ps(m, xs[r] + d);
      if (kNorm) nrm[r] = _mm512_fmadd_ps(xv[r], xv[r], nrm[r]);
    }
    for (int j = 0; j < J; ++j) {
      const __m512 ev = _mm512_maskz_loadu_ps(m, e + j * dim + d);
      for (int r = 0; r < R; ++r) acc[r][j] = _mm512_fmadd_ps(xv[r], ev, acc[r][j]);
    }
  }
  __m512 v[16];
  for (int i = 0; i < 16; ++i) v[i] = _mm512_setzero_ps();
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < J; ++j) v[r * 8 + j] = acc[r][j];
    v[r * 8 + 7] = nrm[r];
  }
  _mm512_storeu_ps(out, hsum16(v));
}

template <int R>
void rows_dots(const float* const* xs, const float* e, int64_t c, int64_t dim, float* const* dots,
               float* ss) {
  constexpr int kBlock = 7;  // R·7 + R accumulators + R + 1 operands fit the 32 zmm registers
  alignas(64) float out[16];
  int64_t j0 = 0;
  bool first = true;
  while (j0 < c) {
    const int64_t jb = c - j0 < kBlock ? c - j0 : kBlock;
    const float* ej = e + j0 * dim;
#define MERCLIP_DOTS_CASE(J)                                                 \
  case J:                                                                    \
    if (first) dots_block<R, J, true>(xs, ej, dim, out);                     \
    else dots_block<R, J, false>(xs, ej, dim, out);                          \
    break;
    switch (jb) {
      MERCLIP_DOTS_CASE(7)
      MERCLIP_DOTS_CASE(6)
      MERCLIP_DOTS_CASE(5)
      MERCLIP_DOTS_CASE(4)
      MERCLIP_DOTS_CASE(3)
      MERCLIP_DOTS_CASE(2)
      default: MERCLIP_DOTS_CASE(1)
    }
#undef MERCLIP_DOTS_CASE
    for (int r = 0; r < R; ++r) {
      for (int64_t j = 0; j < jb; ++j) dots[r][j0 + j] = out[r * 8 + j];
      if (first) ss[r] = out[r * 8 + 7];
    }
    first = false;
    j0 += jb;
  }
}

}  // namespace

void cosine_rows_dots_avx512(int rows, const float* x0, const float* x1, const float* e,
                             int64_t c, int64_t dim, float* dots0, float* dots1, float* ss) {
  if (rows == 2) {
    const float* xs[2] = {x0, x1};
    float* dots[2] = {dots0, dots1};
    rows_dots<2>(xs, e, c, dim, dots, ss);
  } else {
    const float* xs[1] = {x0};
    float* dots[1] = {dots0};
    rows_dots<1>(xs, e, c, dim, dots, ss);
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
