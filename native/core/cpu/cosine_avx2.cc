// cpu/cosine_avx2.cc — the row kernels of the CPU cosine with AVX2 + FMA (the table contract is
// cpu/cosine_kernels.h; cosine.cc owns the row loops, threads and reductions). Used at the avx2
// level, and at the avx512 level for everything but the forward's dot products (rows_dots comes
// from cosine_avx512.cc there). Compiled with -mavx2 -mfma only; called after run-time detection.
//
// Design (16 ymm registers, 2 FMA + 2–3 load ports per cycle on the AVX2 cores we target):
// - rows_dots (few-labels forward): two rows of x at a time, labels in blocks; every loaded
//   label vector feeds both rows' FMAs. The first block carries the rows' squared norms:
//   5 labels + norm per row = 12 accumulators + 2 x + 1 e vector = 15 registers; later blocks
//   6 labels. A block of <= 2 slots per row unrolls the dim loop twice (2 accumulator sets) so
//   there are >= 8 independent FMA chains; the unroll is chosen from the block alone (never from
//   the row count), so a row's arithmetic is the same paired or single. At C 7 that is
//   (5 + norm, 2) blocks: 16 FMAs per 8 floats of a row pair, FMA-bound at ~4 cycles per 8
//   floats of a row — ~256 cycles per 512-float row, ~2× faster than DRAM delivers the row on
//   2 cores, so the pass runs near the memory's pace when the next rows are prefetched (T1, 4
//   rows ahead in each row's stream, on the norm block's pass). The pair is rows i and i + h of
//   a thread's 2h rows (far_pairs), not adjacent rows: two sequential streams in different
//   pages. Lane sums: one transpose-and-add tree per row (hsum8, the same order for every slot).
// - bwd_dx_row: dx = a·x + Σ_j w_j e_j with the <= 8 weights in registers (more labels: the
//   weights broadcast from memory), 16 floats per step; non-temporal stores for a large dx
//   (no read-for-ownership of a row that is not read again), when 16-byte aligned.
// - bwd_de_rows: de partials of a group of rows (16 from cosine.cc, x rows in L1): 4 labels ×
//   16 floats of the partials in 8 accumulators across all the group's rows (2 x loads + 4
//   broadcasts per 8 FMAs, the partial loaded and stored once per group).
// - dot_sumsq / sumsq / paired_bwd_row: 4 (2) independent accumulators or a plain streaming
//   pass; memory-bound.
// Verdicts (C 7, dim 512, 2 threads, A/B in one process against the generic loops; figures in
// native/core/dev/README.md):
// - hand kernels instead of -march=native auto-vectorisation: forward 1.4–1.6×, backward
//   1.8–1.9× (also at the AVX-512 level, which now uses these for the backward); kept.
// - non-temporal dx stores (>= 16 MB): the dx pass 1.35× (median) from DRAM; kept.
// - de partials register-tiled over 16-row groups instead of 4-row passes over the partial
//   rows: the de pass 1.43× (in L1/L2, medians); 32-row groups (x past L1) 1.2×; kept 16.
// - far pairs + T0 2 rows ahead instead of adjacent pairs + T1 4R rows ahead (AMD EPYC Zen 3,
//   N 65536 × C 7 × 512 from DRAM, scratch harness, medians of 7 interleaved rounds, 2 threads):
//   53–67 % → 78–86 % of a plain read's bandwidth (1 thread: 58 → 79–86 %); kept. Single rows
//   (7 labels + norm in one pass, 8 accumulators, one stream) reached 72–78 %.
// - the prefetch into L2 (T1) 4 rows ahead instead of L1 (T0) 2 rows ahead (AMD EPYC Zen 4,
//   same shape, interleaved in one process, medians of 40): 2 threads 7.56–8.49 → 6.49–6.97 ms,
//   1 thread 13.4 → 11.1 ms (2, 8 or 16 rows ahead with T1: the same within 2 %); kept. On the
//   Zen 3 above T1 and T0 were within noise (78–81 against 78–86 %).
#include <immintrin.h>

#include <cstdint>

#include "cosine_kernels.h"

namespace merclip {
namespace cpu {
namespace detail {

namespace {

// Lanes < n set (n in [0, 8]): the mask for vmaskmov tails.
inline __m256i tail_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Horizontal sums of v[0..7] in one vector, lane i = Σ v[i] (same addition order for every i:
// ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))).
inline __m256 hsum8(const __m256* v) {
  const __m256 t0 = _mm256_hadd_ps(v[0], v[1]), t1 = _mm256_hadd_ps(v[2], v[3]);
  const __m256 t2 = _mm256_hadd_ps(v[4], v[5]), t3 = _mm256_hadd_ps(v[6], v[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// ---------------------------------------------------------------------------------------------
// rows_dots: R rows (1 or 2) against J labels of e (row stride dim), plus the rows' squared norms
// when kNorm; out[r·8 + j] = <x_r, e_j>, out[r·8 + 7] = ‖x_r‖².
template <int R, int J, bool kNorm>
void dots_block(const float* const* xs, const float* e, int64_t dim, float* out) {
  constexpr int kSlots = J + (kNorm ? 1 : 0);
  static_assert(R <= 2 && kSlots <= 7 && J >= 1, "7 slots per row");
  // Unroll from the block alone (as if R = 2): 2 accumulator sets when they fit 16 registers.
  constexpr int U = 4 * kSlots + 5 <= 16 ? 2 : 1;
  __m256 acc[U][R][J];
  __m256 nrm[U][R];
  for (int u = 0; u < U; ++u)
    for (int r = 0; r < R; ++r) {
      nrm[u][r] = _mm256_setzero_ps();
      for (int j = 0; j < J; ++j) acc[u][r][j] = _mm256_setzero_ps();
    }
  int64_t d = 0;
  for (; d + 8 * U <= dim; d += 8 * U) {
    __m256 xv[U][R];
    for (int u = 0; u < U; ++u)
      for (int r = 0; r < R; ++r) {
        xv[u][r] = _mm256_loadu_ps(xs[r] + d + 8 * u);
        if (kNorm) nrm[u][r] = _mm256_fmadd_ps(xv[u][r], xv[u][r], nrm[u][r]);
      }
    if (kNorm && ((d + 8 * U) & 15) == 0) {
      // 4 rows ahead in each row's stream (the driver pairs rows i and i + h: far_pairs), into
      // L2, one request per 64-byte line: the first pass over a row comes from DRAM, and the
      // hardware prefetcher alone leaves it latency-bound.
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(xs[r] + 4 * dim + d), _MM_HINT_T1);
    }
#pragma GCC unroll 6
    for (int j = 0; j < J; ++j)
      for (int u = 0; u < U; ++u) {
        __m256 ev = _mm256_loadu_ps(e + j * dim + d + 8 * u);
        __asm__("" : "+x"(ev));  // one load feeding R FMAs (GCC would fold R separate loads)
        for (int r = 0; r < R; ++r) acc[u][r][j] = _mm256_fmadd_ps(xv[u][r], ev, acc[u][r][j]);
      }
  }
  for (; d < dim; d += 8) {  // last full vectors (U = 2) and the masked tail into set 0
    const __m256i m = tail_mask(dim - d < 8 ? dim - d : 8);
    __m256 xv[R];
    for (int r = 0; r < R; ++r) {
      xv[r] = _mm256_maskload_ps(xs[r] + d, m);
      if (kNorm) nrm[0][r] = _mm256_fmadd_ps(xv[r], xv[r], nrm[0][r]);
    }
    for (int j = 0; j < J; ++j) {
      const __m256 ev = _mm256_maskload_ps(e + j * dim + d, m);
      for (int r = 0; r < R; ++r) acc[0][r][j] = _mm256_fmadd_ps(xv[r], ev, acc[0][r][j]);
    }
  }
  for (int r = 0; r < R; ++r) {
    __m256 v[8];
    for (int i = 0; i < 8; ++i) v[i] = _mm256_setzero_ps();
    for (int j = 0; j < J; ++j) v[j] = U == 2 ? _mm256_add_ps(acc[0][r][j], acc[U - 1][r][j]) : acc[0][r][j];
    v[7] = U == 2 ? _mm256_add_ps(nrm[0][r], nrm[U - 1][r]) : nrm[0][r];
    _mm256_storeu_ps(out + r * 8, hsum8(v));
  }
}

constexpr int kFirstBlock = 5;  // labels in the first block (with the norm)
constexpr int kBlock = 6;       // labels in the later blocks

// Labels in blocks (kFirstBlock with the norms, then kBlock): c >= 1.
template <int R>
void rows_dots_r(const float* const* xs, const float* e, int64_t c, int64_t dim, float* const* dots,
                 float* ss) {
  alignas(32) float out[16];
  int64_t j0 = 0;
  bool first = true;
  while (j0 < c) {
    const int64_t cap = first ? kFirstBlock : kBlock;
    const int64_t jb = c - j0 < cap ? c - j0 : cap;
    const float* ej = e + j0 * dim;
#define MERCLIP_DOTS_CASE(J)                                \
  case J:                                                   \
    if (first) dots_block<R, J, true>(xs, ej, dim, out);    \
    else dots_block<R, J, false>(xs, ej, dim, out);         \
    break;
    switch (jb) {
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

void rows_dots(int rows, const float* x0, const float* x1, const float* e, int64_t c, int64_t dim,
               float* dots0, float* dots1, float* ss) {
  if (rows == 2) {
    const float* xs[2] = {x0, x1};
    float* dots[2] = {dots0, dots1};
    rows_dots_r<2>(xs, e, c, dim, dots, ss);
  } else {
    const float* xs[1] = {x0};
    float* dots[1] = {dots0};
    rows_dots_r<1>(xs, e, c, dim, dots, ss);
  }
}

// ---------------------------------------------------------------------------------------------
// Paired forward / norms

void dot_sumsq(const float* a, const float* b, int64_t dim, float* dot, float* ss) {
  __m256 p[4], q[4];
  for (int u = 0; u < 4; ++u) p[u] = q[u] = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 32 <= dim; d += 32)
    for (int u = 0; u < 4; ++u) {
      const __m256 av = _mm256_loadu_ps(a + d + 8 * u);
      p[u] = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + d + 8 * u), p[u]);
      q[u] = _mm256_fmadd_ps(av, av, q[u]);
    }
  for (; d < dim; d += 8) {
    const __m256i m = tail_mask(dim - d < 8 ? dim - d : 8);
    const __m256 av = _mm256_maskload_ps(a + d, m);
    p[0] = _mm256_fmadd_ps(av, _mm256_maskload_ps(b + d, m), p[0]);
    q[0] = _mm256_fmadd_ps(av, av, q[0]);
  }
  *dot = hsum(_mm256_add_ps(_mm256_add_ps(p[0], p[1]), _mm256_add_ps(p[2], p[3])));
  *ss = hsum(_mm256_add_ps(_mm256_add_ps(q[0], q[1]), _mm256_add_ps(q[2], q[3])));
}

double sumsq(const float* a, int64_t dim) {
  __m256 q[4];
  for (int u = 0; u < 4; ++u) q[u] = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 32 <= dim; d += 32)
    for (int u = 0; u < 4; ++u) {
      const __m256 av = _mm256_loadu_ps(a + d + 8 * u);
      q[u] = _mm256_fmadd_ps(av, av, q[u]);
    }
  for (; d < dim; d += 8) {
    const __m256 av = _mm256_maskload_ps(a + d, tail_mask(dim - d < 8 ? dim - d : 8));
    q[0] = _mm256_fmadd_ps(av, av, q[0]);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(q[0], q[1]), _mm256_add_ps(q[2], q[3])));
}

// ---------------------------------------------------------------------------------------------
// Backward

// Stores 8 floats: non-temporal (two 16-byte halves: JS buffers are often only 16-byte aligned)
// or plain.
template <bool kStream>
inline void store8(float* p, __m256 v) {
  if (kStream) {
    _mm_stream_ps(p, _mm256_castps256_ps128(v));
    _mm_stream_ps(p + 4, _mm256_extractf128_ps(v, 1));
  } else {
    _mm256_storeu_ps(p, v);
  }
}

// dx = a·x + Σ_{j<J} w_j e_j; kW: weights held in registers (J <= 8), else broadcast per use.
template <int J, bool kStream>
void dx_row_fixed(float* dx, const float* x, const float* e, const float* w, int64_t dim, float a,
                  const float* pf) {
  __m256 wv[J];
  for (int j = 0; j < J; ++j) wv[j] = _mm256_set1_ps(w[j]);
  const __m256 av = _mm256_set1_ps(a);
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + d), _MM_HINT_T1);
    __m256 s0 = _mm256_mul_ps(av, _mm256_loadu_ps(x + d));
    __m256 s1 = _mm256_mul_ps(av, _mm256_loadu_ps(x + d + 8));
    for (int j = 0; j < J; ++j) {
      s0 = _mm256_fmadd_ps(wv[j], _mm256_loadu_ps(e + j * dim + d), s0);
      s1 = _mm256_fmadd_ps(wv[j], _mm256_loadu_ps(e + j * dim + d + 8), s1);
    }
    store8<kStream>(dx + d, s0);
    store8<kStream>(dx + d + 8, s1);
  }
  for (; d < dim; d += 8) {
    const __m256i m = tail_mask(dim - d < 8 ? dim - d : 8);
    __m256 s = _mm256_mul_ps(av, _mm256_maskload_ps(x + d, m));
    for (int j = 0; j < J; ++j) s = _mm256_fmadd_ps(wv[j], _mm256_maskload_ps(e + j * dim + d, m), s);
    _mm256_maskstore_ps(dx + d, m, s);
  }
}

template <bool kStream>
void dx_row_any(float* dx, const float* x, const float* e, const float* w, int64_t c, int64_t dim,
                float a, const float* pf) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + d), _MM_HINT_T1);
    __m256 s0 = _mm256_mul_ps(av, _mm256_loadu_ps(x + d));
    __m256 s1 = _mm256_mul_ps(av, _mm256_loadu_ps(x + d + 8));
    for (int64_t j = 0; j < c; ++j) {
      const __m256 wj = _mm256_broadcast_ss(w + j);
      s0 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(e + j * dim + d), s0);
      s1 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(e + j * dim + d + 8), s1);
    }
    store8<kStream>(dx + d, s0);
    store8<kStream>(dx + d + 8, s1);
  }
  for (; d < dim; d += 8) {
    const __m256i m = tail_mask(dim - d < 8 ? dim - d : 8);
    __m256 s = _mm256_mul_ps(av, _mm256_maskload_ps(x + d, m));
    for (int64_t j = 0; j < c; ++j)
      s = _mm256_fmadd_ps(_mm256_broadcast_ss(w + j), _mm256_maskload_ps(e + j * dim + d, m), s);
    _mm256_maskstore_ps(dx + d, m, s);
  }
}

template <bool kStream>
void dx_row_t(float* dx, const float* x, const float* e, const float* w, int64_t c, int64_t dim,
              float a, const float* pf) {
  switch (c) {
    case 1: dx_row_fixed<1, kStream>(dx, x, e, w, dim, a, pf); break;
    case 2: dx_row_fixed<2, kStream>(dx, x, e, w, dim, a, pf); break;
    case 3: dx_row_fixed<3, kStream>(dx, x, e, w, dim, a, pf); break;
    case 4: dx_row_fixed<4, kStream>(dx, x, e, w, dim, a, pf); break;
    case 5: dx_row_fixed<5, kStream>(dx, x, e, w, dim, a, pf); break;
    case 6: dx_row_fixed<6, kStream>(dx, x, e, w, dim, a, pf); break;
    case 7: dx_row_fixed<7, kStream>(dx, x, e, w, dim, a, pf); break;
    case 8: dx_row_fixed<8, kStream>(dx, x, e, w, dim, a, pf); break;
    default: dx_row_any<kStream>(dx, x, e, w, c, dim, a, pf); break;
  }
}

void bwd_dx_row(float* dx, const float* x, const float* e, const float* w, int64_t c, int64_t dim,
                float a, bool stream, const float* pf) {
  // Non-temporal stores need 16-byte alignment of every 8-float group (dx and dim % 4).
  if (stream && (reinterpret_cast<uintptr_t>(dx) & 15) == 0 && dim % 4 == 0)
    dx_row_t<true>(dx, x, e, w, c, dim, a, pf);
  else
    dx_row_t<false>(dx, x, e, w, c, dim, a, pf);
}

template <int R>
void de_rows_t(float* part, const float* x, const float* w, int64_t ldw, int64_t c, int64_t dim) {
  for (int64_t j = 0; j < c; ++j) {
    __m256 wr[R];
    for (int r = 0; r < R; ++r) wr[r] = _mm256_set1_ps(w[r * ldw + j]);
    float* pj = part + j * dim;
    int64_t d = 0;
    for (; d + 16 <= dim; d += 16) {
      __m256 p0 = _mm256_loadu_ps(pj + d), p1 = _mm256_loadu_ps(pj + d + 8);
      for (int r = 0; r < R; ++r) {
        p0 = _mm256_fmadd_ps(wr[r], _mm256_loadu_ps(x + r * dim + d), p0);
        p1 = _mm256_fmadd_ps(wr[r], _mm256_loadu_ps(x + r * dim + d + 8), p1);
      }
      _mm256_storeu_ps(pj + d, p0);
      _mm256_storeu_ps(pj + d + 8, p1);
    }
    for (; d < dim; d += 8) {
      const __m256i m = tail_mask(dim - d < 8 ? dim - d : 8);
      __m256 p = _mm256_maskload_ps(pj + d, m);
      for (int r = 0; r < R; ++r)
        p = _mm256_fmadd_ps(wr[r], _mm256_maskload_ps(x + r * dim + d, m), p);
      _mm256_maskstore_ps(pj + d, m, p);
    }
  }
}

// Many rows: J <= 4 labels × 16 floats of the partials held in 8 accumulators across all the
// rows (one load and store of the partial per call, not per 4 rows; per row 2 x loads + J
// broadcasts for 2J FMAs). Same order per element (row by row, one FMA each) as de_rows_t.
template <int J>
void de_tile(float* part, const float* x, const float* w, int64_t ldw, int rows, int64_t dim) {
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    __m256 p[J][2];
    for (int j = 0; j < J; ++j) {
      p[j][0] = _mm256_loadu_ps(part + j * dim + d);
      p[j][1] = _mm256_loadu_ps(part + j * dim + d + 8);
    }
    for (int r = 0; r < rows; ++r) {
      const float* xr = x + r * dim + d;
      const __m256 x0 = _mm256_loadu_ps(xr), x1 = _mm256_loadu_ps(xr + 8);
      const float* wr = w + r * ldw;
      for (int j = 0; j < J; ++j) {
        const __m256 wj = _mm256_broadcast_ss(wr + j);
        p[j][0] = _mm256_fmadd_ps(wj, x0, p[j][0]);
        p[j][1] = _mm256_fmadd_ps(wj, x1, p[j][1]);
      }
    }
    for (int j = 0; j < J; ++j) {
      _mm256_storeu_ps(part + j * dim + d, p[j][0]);
      _mm256_storeu_ps(part + j * dim + d + 8, p[j][1]);
    }
  }
  for (; d < dim; d += 8) {
    const __m256i m = tail_mask(dim - d < 8 ? dim - d : 8);
    __m256 p[J];
    for (int j = 0; j < J; ++j) p[j] = _mm256_maskload_ps(part + j * dim + d, m);
    for (int r = 0; r < rows; ++r) {
      const __m256 xv = _mm256_maskload_ps(x + r * dim + d, m);
      for (int j = 0; j < J; ++j) p[j] = _mm256_fmadd_ps(_mm256_broadcast_ss(w + r * ldw + j), xv, p[j]);
    }
    for (int j = 0; j < J; ++j) _mm256_maskstore_ps(part + j * dim + d, m, p[j]);
  }
}

void bwd_de_rows(float* part, const float* x, const float* w, int64_t ldw, int rows, int64_t c,
                 int64_t dim) {
  if (rows > 4) {
    for (int64_t j0 = 0; j0 < c; j0 += 4) {
      float* pj = part + j0 * dim;
      switch (c - j0 < 4 ? c - j0 : 4) {
        case 4: de_tile<4>(pj, x, w + j0, ldw, rows, dim); break;
        case 3: de_tile<3>(pj, x, w + j0, ldw, rows, dim); break;
        case 2: de_tile<2>(pj, x, w + j0, ldw, rows, dim); break;
        default: de_tile<1>(pj, x, w + j0, ldw, rows, dim); break;
      }
    }
    return;
  }
  switch (rows) {
    case 4: de_rows_t<4>(part, x, w, ldw, c, dim); break;
    case 3: de_rows_t<3>(part, x, w, ldw, c, dim); break;
    case 2: de_rows_t<2>(part, x, w, ldw, c, dim); break;
    default: de_rows_t<1>(part, x, w, ldw, c, dim); break;
  }
}

template <bool kStream>
void paired_row_t(float* dh, float* acc, const float* h, const float* e, float a, float b, float w,
                  int64_t dim) {
  const __m256 av = _mm256_set1_ps(a), bv = _mm256_set1_ps(b), wv = _mm256_set1_ps(w);
  int64_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    const __m256 hv = _mm256_loadu_ps(h + d);
    if (dh) store8<kStream>(dh + d, _mm256_fnmadd_ps(bv, hv, _mm256_mul_ps(av, _mm256_loadu_ps(e + d))));
    if (acc) _mm256_storeu_ps(acc + d, _mm256_fmadd_ps(wv, hv, _mm256_loadu_ps(acc + d)));
  }
  if (d < dim) {
    const __m256i m = tail_mask(dim - d);
    const __m256 hv = _mm256_maskload_ps(h + d, m);
    if (dh)
      _mm256_maskstore_ps(dh + d, m,
                          _mm256_fnmadd_ps(bv, hv, _mm256_mul_ps(av, _mm256_maskload_ps(e + d, m))));
    if (acc) _mm256_maskstore_ps(acc + d, m, _mm256_fmadd_ps(wv, hv, _mm256_maskload_ps(acc + d, m)));
  }
}

void paired_bwd_row(float* dh, float* acc, const float* h, const float* e, float a, float b,
                    float w, int64_t dim, bool stream) {
  if (stream && dh && (reinterpret_cast<uintptr_t>(dh) & 15) == 0 && dim % 4 == 0)
    paired_row_t<true>(dh, acc, h, e, a, b, w, dim);
  else
    paired_row_t<false>(dh, acc, h, e, a, b, w, dim);
}

void store_fence() { _mm_sfence(); }

}  // namespace

const CosineRowKernels& cosine_kernels_avx2() {
  static const CosineRowKernels k = {rows_dots,   dot_sumsq,      sumsq,      bwd_dx_row,
                                     bwd_de_rows, paired_bwd_row, store_fence, true};
  return k;
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
