// native/core/cpu/attention_tiles.h — internal header: the two small register-tiled GEMMs of the
// attention tiles, shared by cpu/attention.cc (generic build flags: -march=native or portable
// x86-64; the scalar level's path) and cpu/attention_avx512.cc (-mavx512f …, used when
// simd_level() is avx512; the AVX2 level has its own kernels in attention_avx2.cc).
//
// Plain loops over fixed-width float lanes (kTileN = 64 keys, or 64 / 16 / 1 head-dim columns),
// written so GCC vectorises them at -O3: 4 rows × 64 lanes = 16 zmm accumulators with AVX-512,
// A broadcast with any strides so Pᵀ / dSᵀ products need no transposed copy. No intrinsics.
// Also the forward's per-key-tile step (fwd_tile_step: score GEMM, online-softmax update with
// lane-wise max / sum, P·V), which attention_avx512.cc replaces by a hand-written kernel.
//
// Everything here is `inline` inside an ANONYMOUS namespace (within merclip::cpu), so each
// including translation unit compiles its own internal copy with its own flags: the AVX-512
// file gets zmm code, the generic file code for its target. Nothing is ODR-shared between the
// ISA-specific files (an ordinary inline function could have the linker keep the AVX-512 body
// for the generic callers too). Do not move these out of the anonymous namespace.
#ifndef MERCLIP_CORE_CPU_ATTENTION_TILES_H_
#define MERCLIP_CORE_CPU_ATTENTION_TILES_H_

#include <cstdint>
#include <limits>

#include "vec_math.h"

namespace merclip {
namespace cpu {
namespace {

constexpr int kTileN = 64;  // keys per tile: the lane width of the score kernel (kBK there)

// "NT": C[r][0..kTileN) = Σ_{d<dh} A[r·lda + d] · Bt[d·kTileN + 0..kTileN) for R rows.
template <int R>
inline void nt_rows(float* __restrict C, int64_t ldc, const float* __restrict A, int64_t lda,
                    const float* __restrict Bt, int64_t dh) {
  float acc[R][kTileN] = {};
  for (int64_t d = 0; d < dh; ++d) {
    const float* __restrict b = Bt + d * kTileN;
    for (int r = 0; r < R; ++r) {
      const float a = A[r * lda + d];
      for (int j = 0; j < kTileN; ++j) acc[r][j] += a * b[j];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < kTileN; ++j) C[r * ldc + j] = acc[r][j];
}

// C [rows, kTileN] (row stride ldc) = A [rows, dh] · Btᵀ, Bt [dh, kTileN].
inline void gemm_nt_tiles(float* C, int64_t ldc, const float* A, int64_t lda, const float* Bt,
                          int64_t rows, int64_t dh) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) nt_rows<4>(C + r * ldc, ldc, A + r * lda, lda, Bt, dh);
  switch (rows - r) {
    case 3: nt_rows<3>(C + r * ldc, ldc, A + r * lda, lda, Bt, dh); break;
    case 2: nt_rows<2>(C + r * ldc, ldc, A + r * lda, lda, Bt, dh); break;
    case 1: nt_rows<1>(C + r * ldc, ldc, A + r * lda, lda, Bt, dh); break;
    default: break;
  }
}

// "NN, accumulate": C[r][w0 + 0..W) += Σ_{c<nc} A[r·ars + c·acs] · B[c·ldb + w0 + 0..W) for R
// rows (A read with any strides, so Aᵀ needs no transposed copy).
template <int R, int W>
inline void nn_acc_rows(float* __restrict C, int64_t ldc, const float* __restrict A, int64_t ars,
                        int64_t acs, const float* __restrict B, int64_t ldb, int64_t nc) {
  float acc[R][W];
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W; ++w) acc[r][w] = C[r * ldc + w];
  for (int64_t c = 0; c < nc; ++c) {
    const float* __restrict b = B + c * ldb;
    for (int r = 0; r < R; ++r) {
      const float a = A[r * ars + c * acs];
      for (int w = 0; w < W; ++w) acc[r][w] += a * b[w];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W; ++w) C[r * ldc + w] = acc[r][w];
}

template <int R>
inline void nn_acc_block(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                         const float* B, int64_t ldb, int64_t nc, int64_t dh) {
  int64_t w = 0;
  for (; w + 64 <= dh; w += 64) nn_acc_rows<R, 64>(C + w, ldc, A, ars, acs, B + w, ldb, nc);
  for (; w + 16 <= dh; w += 16) nn_acc_rows<R, 16>(C + w, ldc, A, ars, acs, B + w, ldb, nc);
  for (; w < dh; ++w) nn_acc_rows<R, 1>(C + w, ldc, A, ars, acs, B + w, ldb, nc);
}

// C [rows, dh] += op(A) [rows, nc] · B [nc, dh]; element (r, c) of op(A) is A[r·ars + c·acs]
// (ars = lda, acs = 1 for A; ars = 1, acs = lda for Aᵀ).
inline void gemm_nn_acc_tiles(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                              const float* B, int64_t ldb, int64_t rows, int64_t nc, int64_t dh) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    nn_acc_block<4>(C + r * ldc, ldc, A + r * ars, ars, acs, B, ldb, nc, dh);
  const float* Ar = A + r * ars;
  float* Cr = C + r * ldc;
  switch (rows - r) {
    case 3: nn_acc_block<3>(Cr, ldc, Ar, ars, acs, B, ldb, nc, dh); break;
    case 2: nn_acc_block<2>(Cr, ldc, Ar, ars, acs, B, ldb, nc, dh); break;
    case 1: nn_acc_block<1>(Cr, ldc, Ar, ars, acs, B, ldb, nc, dh); break;
    default: break;
  }
}


// ---------------------------------------------------------------------------------------------
// Online-softmax update of a forward score tile s [nr, kTileN] (row stride kTileN), in place:
// row r sees columns j < lim_r = min(nk, r + diag + 1) (diag = i0 − j0 when causal, >= nk
// otherwise); the others become −inf. m, l: running max and sum per row; acc [nr, dh]: the
// unnormalised output, rescaled by α = e^{m_old − m_new}. On return s holds P = e^{S − m_new}
// (0 on masked columns; a row that has seen nothing yet keeps m = −inf and gets P = 0).
// Max and sum are taken lane-wise over kLanes partial lanes (so the loops vectorise without
// reassociation licence), then reduced in a fixed order — the same for any thread count.
constexpr int kLanes = 16;

inline float lane_max(const float* v) {
  float a[8];
  for (int w = 0; w < 8; ++w) a[w] = v[w] > v[w + 8] ? v[w] : v[w + 8];
  for (int w = 0; w < 4; ++w) a[w] = a[w] > a[w + 4] ? a[w] : a[w + 4];
  for (int w = 0; w < 2; ++w) a[w] = a[w] > a[w + 2] ? a[w] : a[w + 2];
  return a[0] > a[1] ? a[0] : a[1];
}
inline float lane_sum(const float* v) {
  float a[8];
  for (int w = 0; w < 8; ++w) a[w] = v[w] + v[w + 8];
  for (int w = 0; w < 4; ++w) a[w] = a[w] + a[w + 4];
  for (int w = 0; w < 2; ++w) a[w] = a[w] + a[w + 2];
  return a[0] + a[1];
}

inline void online_softmax_rows(float* __restrict s, float* __restrict m, float* __restrict l,
                                float* __restrict acc, int64_t dh, int64_t nr, int64_t nk,
                                int64_t diag) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  static_assert(kTileN % kLanes == 0, "tile width must be a multiple of the lane count");
  for (int64_t r = 0; r < nr; ++r) {
    float* __restrict sr = s + r * kTileN;
    int64_t lim = r + diag + 1;
    lim = lim < 0 ? 0 : (lim > nk ? nk : lim);
    const int ilim = static_cast<int>(lim);
    float mv[kLanes];
    for (int w = 0; w < kLanes; ++w) mv[w] = kNegInf;
    for (int c = 0; c < kTileN; c += kLanes)
      for (int w = 0; w < kLanes; ++w) {
        const float x = c + w < ilim ? sr[c + w] : kNegInf;
        sr[c + w] = x;
        mv[w] = mv[w] > x ? mv[w] : x;
      }
    const float tmx = lane_max(mv);
    const float mx = m[r] > tmx ? m[r] : tmx;
    // max comparisons drop NaN, so a NaN score (from NaN or ±inf inputs) is looked for
    // explicitly: it makes the row NaN for good (m = l = NaN, acc NaN), as the reference has it.
    bool nan = m[r] != m[r];
    for (int j = 0; j < ilim; ++j) nan = nan || sr[j] != sr[j];
    if (nan || mx == kNegInf) {  // NaN row, or nothing seen yet: P row = 0
      for (int j = 0; j < kTileN; ++j) sr[j] = 0.0f;
      if (nan) {
        m[r] = l[r] = std::numeric_limits<float>::quiet_NaN();
        for (int64_t d = 0; d < dh; ++d) acc[r * dh + d] = std::numeric_limits<float>::quiet_NaN();
      }
      continue;
    }
    float sv[kLanes] = {};
    for (int c = 0; c < kTileN; c += kLanes)
      for (int w = 0; w < kLanes; ++w) {
        const float e = exp_f(sr[c + w] - mx);
        sr[c + w] = e;
        sv[w] += e;
      }
    const float alpha = exp_f(m[r] - mx);  // m = −inf → 0
    l[r] = l[r] * alpha + lane_sum(sv);
    m[r] = mx;
    if (alpha != 1.0f) {
      float* __restrict ar = acc + r * dh;
      for (int64_t d = 0; d < dh; ++d) ar[d] *= alpha;
    }
  }
}

// One key tile of the forward: S = qs kᵀ (kt = kᵀ tile [dh, kTileN], qs already scaled), the
// online-softmax update above, acc += P v (v: the tile's nk key rows, row stride ldv).
inline void fwd_tile_step(float* s, float* m, float* l, float* acc, const float* qs,
                          const float* kt, const float* v, int64_t ldv, int64_t nr, int64_t nk,
                          int64_t diag, int64_t dh) {
  gemm_nt_tiles(s, kTileN, qs, dh, kt, nr, dh);
  online_softmax_rows(s, m, l, acc, dh, nr, nk, diag);
  gemm_nn_acc_tiles(acc, dh, s, kTileN, 1, v, ldv, nr, nk, dh);
}

}  // namespace
}  // namespace cpu
}  // namespace merclip

#endif  // MERCLIP_CORE_CPU_ATTENTION_TILES_H_
