// cpu/cosine_neon.cc — the row kernels of the CPU cosine with AArch64 Advanced SIMD (the table
// contract is cpu/cosine_kernels.h; cosine.cc owns the row loops, threads and reductions). Built
// only for AArch64 (NEON is part of ARMv8-A: default flags) and used when simd_level() is neon.
//
// Design (32 q registers of 4 floats; Neoverse N1 / V1 and Apple cores: 2–4 128-bit FMA pipes,
// 2–3 128-bit loads per cycle, FMA latency 4):
// - rows_dots (few-labels forward): two rows of x at a time, labels in blocks of up to 7 (the
//   first, with the rows' squared norms: 16 accumulators + 2 x + 1 label vector = 19
//   registers) then 8; each loaded label vector feeds both rows' FMAs, so a step of 4 floats of a
//   row pair costs 2 + 7 loads for 16 FMAs (FMA-bound: 8 cycles on 2 pipes). Blocks with <= 6
//   slots per row unroll the dim loop twice (chosen from the block alone, never from the row
//   count: a row's arithmetic is the same paired or single). Lane sums per accumulator
//   (faddp tree), tails (dim % 4) in scalar code. Prefetch (PRFM PLDL2KEEP) of the rows 4R
//   ahead on the norm block's pass.
//   On paper at C 7, dim 512: 128 steps × 4 cycles = ~512 cycles per row (+~40 reduction) on a
//   2-pipe core, i.e. ~4.5 M rows/s = ~9 GB/s of x per core at 2.5 GHz — about the DRAM share
//   of a core on Graviton2/3 (~8–10 GB/s each when all cores stream), so expected ~80–90 % of
//   read bandwidth at 2+ threads, FMA-bound (~50 % of the FMA peak) on one fast core (M1: 4
//   pipes, ~2× that).
// - bwd_dx_row: dx = a·x + Σ_j w_j e_j, 16 floats per step, weights by lane (vfmaq_laneq) 4 at a
//   time from memory; plain stores (no STNP: non-temporal pairs exist but their benefit is
//   core-specific, so not taken without a machine to measure on). Expected: memory-bound, the
//   load side ~1 load per FMA; ~70 % of read + write bandwidth.
// - bwd_de_rows: partials for up to 4 rows per pass over a label's partial row (one load and
//   one store of the partial per 4 rows; x rows from L1). dot_sumsq / sumsq / paired_bwd_row:
//   4 independent accumulators or a plain streaming pass, memory-bound.
// Correctness: ctest under qemu-aarch64 (tests/test_cosine.cc runs every case at the neon level
// against the float64 reference). Speed: on paper only (no ARM machine here).
#include <arm_neon.h>

#include <cstdint>

#include "cosine_kernels.h"

namespace merclip {
namespace cpu {
namespace detail {

namespace {

// ---------------------------------------------------------------------------------------------
// rows_dots: R rows (1 or 2) against J labels (row stride dim) plus the squared norms when kNorm.
// out[r·8 + j] = <x_r, e_j>, out[r·8 + 7] = ‖x_r‖² (J <= 7 with the norm, <= 8 without).
template <int R, int J, bool kNorm>
void dots_block(const float* const* xs, const float* e, int64_t dim, float* out) {
  constexpr int kSlots = J + (kNorm ? 1 : 0);
  static_assert(R <= 2 && kSlots <= 8 && J >= 1, "8 slots per row");
  constexpr int U = 4 * kSlots + 5 <= 32 ? 2 : 1;  // as if R = 2
  float32x4_t acc[U][R][J];
  float32x4_t nrm[U][R];
  for (int u = 0; u < U; ++u)
    for (int r = 0; r < R; ++r) {
      nrm[u][r] = vdupq_n_f32(0.0f);
      for (int j = 0; j < J; ++j) acc[u][r][j] = vdupq_n_f32(0.0f);
    }
  int64_t d = 0;
  for (; d + 4 * U <= dim; d += 4 * U) {
    float32x4_t xv[U][R];
#pragma GCC unroll 2
    for (int u = 0; u < U; ++u)
#pragma GCC unroll 2
      for (int r = 0; r < R; ++r) {
        xv[u][r] = vld1q_f32(xs[r] + d + 4 * u);
        if (kNorm) nrm[u][r] = vfmaq_f32(nrm[u][r], xv[u][r], xv[u][r]);
      }
    if (kNorm && ((d + 4 * U) & 15) == 0)
      for (int r = 0; r < R; ++r) __builtin_prefetch(xs[r] + 4 * R * dim + d, 0, 2);
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j)
#pragma GCC unroll 2
      for (int u = 0; u < U; ++u) {
        const float32x4_t ev = vld1q_f32(e + j * dim + d + 4 * u);
#pragma GCC unroll 2
        for (int r = 0; r < R; ++r) acc[u][r][j] = vfmaq_f32(acc[u][r][j], xv[u][r], ev);
      }
  }
  for (; d + 4 <= dim; d += 4) {  // the last full vector when U = 2
    float32x4_t xv[R];
    for (int r = 0; r < R; ++r) {
      xv[r] = vld1q_f32(xs[r] + d);
      if (kNorm) nrm[0][r] = vfmaq_f32(nrm[0][r], xv[r], xv[r]);
    }
    for (int j = 0; j < J; ++j) {
      const float32x4_t ev = vld1q_f32(e + j * dim + d);
      for (int r = 0; r < R; ++r) acc[0][r][j] = vfmaq_f32(acc[0][r][j], xv[r], ev);
    }
  }
  for (int r = 0; r < R; ++r) {
    const float* x = xs[r];
    for (int j = 0; j < J; ++j) {
      const float32x4_t a = U == 2 ? vaddq_f32(acc[0][r][j], acc[U - 1][r][j]) : acc[0][r][j];
      float t = 0.0f;
      for (int64_t k = d; k < dim; ++k) t += x[k] * e[j * dim + k];
      out[r * 8 + j] = vaddvq_f32(a) + t;
    }
    if (kNorm) {
      const float32x4_t a = U == 2 ? vaddq_f32(nrm[0][r], nrm[U - 1][r]) : nrm[0][r];
      float t = 0.0f;
      for (int64_t k = d; k < dim; ++k) t += x[k] * x[k];
      out[r * 8 + 7] = vaddvq_f32(a) + t;
    }
  }
}

constexpr int kFirstBlock = 7;  // labels in the first block (with the norms)
constexpr int kBlock = 8;       // labels in the later blocks

template <int R>
void rows_dots_r(const float* const* xs, const float* e, int64_t c, int64_t dim, float* const* dots,
                 float* ss) {
  float out[16];
  int64_t j0 = 0;
  bool first = true;
  while (j0 < c) {
    const int64_t cap = first ? kFirstBlock : kBlock;
    const int64_t jb = c - j0 < cap ? c - j0 : cap;
    const float* ej = e + j0 * dim;
    switch (jb) {
#define MERCLIP_DOTS_CASE(J)                                 \
  case J:                                                    \
    if (first) dots_block<R, (J < 8 ? J : 7), true>(xs, ej, dim, out); \
    else dots_block<R, J, false>(xs, ej, dim, out);          \
    break;
      MERCLIP_DOTS_CASE(8)
      MERCLIP_DOTS_CASE(7)
      MERCLIP_DOTS_CASE(6)
      MERCLIP_DOTS_CASE(5)
      MERCLIP_DOTS_CASE(4)
      MERCLIP_DOTS_CASE(3)
      MERCLIP_DOTS_CASE(2)
      default: MERCLIP_DOTS_CASE(1)
#undef MERCLIP_DOTS_CASE
    }
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
  float32x4_t p[4], q[4];
  for (int u = 0; u < 4; ++u) p[u] = q[u] = vdupq_n_f32(0.0f);
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16)
    for (int u = 0; u < 4; ++u) {
      const float32x4_t av = vld1q_f32(a + d + 4 * u);
      p[u] = vfmaq_f32(p[u], av, vld1q_f32(b + d + 4 * u));
      q[u] = vfmaq_f32(q[u], av, av);
    }
  for (; d + 4 <= dim; d += 4) {
    const float32x4_t av = vld1q_f32(a + d);
    p[0] = vfmaq_f32(p[0], av, vld1q_f32(b + d));
    q[0] = vfmaq_f32(q[0], av, av);
  }
  float tp = 0.0f, tq = 0.0f;
  for (; d < dim; ++d) tp += a[d] * b[d], tq += a[d] * a[d];
  *dot = vaddvq_f32(vaddq_f32(vaddq_f32(p[0], p[1]), vaddq_f32(p[2], p[3]))) + tp;
  *ss = vaddvq_f32(vaddq_f32(vaddq_f32(q[0], q[1]), vaddq_f32(q[2], q[3]))) + tq;
}

double sumsq(const float* a, int64_t dim) {
  float32x4_t q[4];
  for (int u = 0; u < 4; ++u) q[u] = vdupq_n_f32(0.0f);
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16)
    for (int u = 0; u < 4; ++u) {
      const float32x4_t av = vld1q_f32(a + d + 4 * u);
      q[u] = vfmaq_f32(q[u], av, av);
    }
  for (; d + 4 <= dim; d += 4) {
    const float32x4_t av = vld1q_f32(a + d);
    q[0] = vfmaq_f32(q[0], av, av);
  }
  float t = 0.0f;
  for (; d < dim; ++d) t += a[d] * a[d];
  return static_cast<double>(vaddvq_f32(vaddq_f32(vaddq_f32(q[0], q[1]), vaddq_f32(q[2], q[3]))) + t);
}

// ---------------------------------------------------------------------------------------------
// Backward

// s[0..3] += Σ_{j<c} w_j · e_j[d + 4u], weights by lane, four labels per weight load.
inline void axpy_labels(float32x4_t* s, const float* e, const float* w, int64_t c, int64_t dim,
                        int64_t d) {
  int64_t j = 0;
  for (; j + 4 <= c; j += 4) {
    const float32x4_t wv = vld1q_f32(w + j);
    const float* e0 = e + j * dim + d;
    for (int u = 0; u < 4; ++u) {
      s[u] = vfmaq_laneq_f32(s[u], vld1q_f32(e0 + 4 * u), wv, 0);
      s[u] = vfmaq_laneq_f32(s[u], vld1q_f32(e0 + dim + 4 * u), wv, 1);
      s[u] = vfmaq_laneq_f32(s[u], vld1q_f32(e0 + 2 * dim + 4 * u), wv, 2);
      s[u] = vfmaq_laneq_f32(s[u], vld1q_f32(e0 + 3 * dim + 4 * u), wv, 3);
    }
  }
  for (; j < c; ++j)
    for (int u = 0; u < 4; ++u) s[u] = vfmaq_n_f32(s[u], vld1q_f32(e + j * dim + d + 4 * u), w[j]);
}

void bwd_dx_row(float* dx, const float* x, const float* e, const float* w, int64_t c, int64_t dim,
                float a, bool, const float* pf) {
  const float32x4_t av = vdupq_n_f32(a);
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    if (pf) __builtin_prefetch(pf + d, 0, 2);
    float32x4_t s[4];
    for (int u = 0; u < 4; ++u) s[u] = vmulq_f32(av, vld1q_f32(x + d + 4 * u));
    axpy_labels(s, e, w, c, dim, d);
    for (int u = 0; u < 4; ++u) vst1q_f32(dx + d + 4 * u, s[u]);
  }
  for (; d < dim; ++d) {
    float s = a * x[d];
    for (int64_t j = 0; j < c; ++j) s += w[j] * e[j * dim + d];
    dx[d] = s;
  }
}

template <int R>
void de_rows_t(float* part, const float* x, const float* w, int64_t ldw, int64_t c, int64_t dim) {
  for (int64_t j = 0; j < c; ++j) {
    float wr[R];
    for (int r = 0; r < R; ++r) wr[r] = w[r * ldw + j];
    float* pj = part + j * dim;
    int64_t d = 0;
    for (; d + 16 <= dim; d += 16) {
      float32x4_t p[4];
      for (int u = 0; u < 4; ++u) p[u] = vld1q_f32(pj + d + 4 * u);
      for (int r = 0; r < R; ++r)
        for (int u = 0; u < 4; ++u) p[u] = vfmaq_n_f32(p[u], vld1q_f32(x + r * dim + d + 4 * u), wr[r]);
      for (int u = 0; u < 4; ++u) vst1q_f32(pj + d + 4 * u, p[u]);
    }
    for (; d + 4 <= dim; d += 4) {
      float32x4_t p = vld1q_f32(pj + d);
      for (int r = 0; r < R; ++r) p = vfmaq_n_f32(p, vld1q_f32(x + r * dim + d), wr[r]);
      vst1q_f32(pj + d, p);
    }
    for (; d < dim; ++d) {
      float p = pj[d];
      for (int r = 0; r < R; ++r) p = __builtin_fmaf(wr[r], x[r * dim + d], p);
      pj[d] = p;
    }
  }
}

void bwd_de_rows(float* part, const float* x, const float* w, int64_t ldw, int rows, int64_t c,
                 int64_t dim) {
  for (int r0 = 0; r0 < rows; r0 += 4) {  // 4 rows per pass over the partial rows, in row order
    const float* xr = x + r0 * dim;
    const float* wr = w + r0 * ldw;
    switch (rows - r0 < 4 ? rows - r0 : 4) {
      case 4: de_rows_t<4>(part, xr, wr, ldw, c, dim); break;
      case 3: de_rows_t<3>(part, xr, wr, ldw, c, dim); break;
      case 2: de_rows_t<2>(part, xr, wr, ldw, c, dim); break;
      default: de_rows_t<1>(part, xr, wr, ldw, c, dim); break;
    }
  }
}

void paired_bwd_row(float* dh, float* acc, const float* h, const float* e, float a, float b,
                    float w, int64_t dim, bool) {
  const float32x4_t av = vdupq_n_f32(a), bv = vdupq_n_f32(b), wv = vdupq_n_f32(w);
  int64_t d = 0;
  for (; d + 4 <= dim; d += 4) {
    const float32x4_t hv = vld1q_f32(h + d);
    if (dh) vst1q_f32(dh + d, vfmsq_f32(vmulq_f32(av, vld1q_f32(e + d)), bv, hv));
    if (acc) vst1q_f32(acc + d, vfmaq_f32(vld1q_f32(acc + d), wv, hv));
  }
  for (; d < dim; ++d) {
    if (dh) dh[d] = a * e[d] - b * h[d];
    if (acc) acc[d] = __builtin_fmaf(w, h[d], acc[d]);
  }
}

void store_fence() {}

}  // namespace

const CosineRowKernels& cosine_kernels_neon() {
  static const CosineRowKernels k = {rows_dots,   dot_sumsq,      sumsq,      bwd_dx_row,
                                     bwd_de_rows, paired_bwd_row, store_fence, false};
  return k;
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
