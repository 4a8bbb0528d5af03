// native/core/cpu/attention_avx2.cc — AVX2 + FMA tile kernels for cpu/attention.cc (built with
// -mavx2 -mfma only; called only when merclip::simd_level() is avx2), so an AVX2-only CPU — and
// the AVX2 level of any build, native or portable — runs hand-written ymm code, never what
// -march=native happens to give the generic file. Same contracts as the AVX-512 twin
// (attention_avx512.cc) and the generic loops (attention_tiles.h):
//
// attention_transpose_tile_avx2: Bt [dh, 64] = X [nk, dh] (row stride ldx)ᵀ, columns nk … 63
//   zeroed. Full 8 × 8 blocks through registers (unpack / shuffle / permute2f128), edges element
//   by element. A pure copy: bitwise the generic loop's result.
// attention_fwd_tile_step_avx2: one key tile (nk <= 64 keys) of the forward for nr <= 64 query
//   rows: S = qs kᵀ, mask (causal / key length), online max / exp / sum, acc = α·acc + P v.
//   Row r sees keys j < min(nk, r + diag + 1); m, l, acc as in fwd_tile_step.
// attention_fwd_few_rows_avx2: the whole forward of one (sample, head) with nr <= 8 query rows,
//   not causal (the decoder's label queries): (m, l, acc) over all lk keys, k / v in place.
// attention_bwd_scores_avx2: P = e^{scale·q kᵀ − lse} (0 on masked columns) and
//   scale·dS = scale·P ∘ (dO vᵀ − D) of nr query rows against one key tile, both stored [nr, 64]
//   (columns < 16·⌈nk/16⌉ written; the caller reads columns < nk).
// attention_bwd_nn_acc_avx2: C [rows, dh] += op(A) [rows, nc] · B [nc, dh], op(A)(r, c) =
//   A[r·ars + c·acs] (so Pᵀ / dSᵀ need no transposed copy); dh any of 1 … 256 (masked tail).
//
// Design (16 ymm registers, 2 FMA ports; Zen 3 / Intel client):
// - Register budget: every product is a 6-row × 16-column micro-tile — 12 ymm accumulators, 2
//   ymm for the B row (kᵀ / vᵀ / v / B), 1 for the A broadcast: 15 of 16, no spills. Per
//   k-step: 2 loads + 6 broadcasts for 12 FMAs, under the 2 loads / cycle the FMAs need. Row
//   blocks are 6 query rows (a 64-row tile = 10 blocks + a 4-row block; remainders 1–5 get
//   their own instantiations), key chunks 16, head-dim chunks 16 (the last one masked by
//   vmaskmov when dh % 16 != 0 — dh 6, 100 — so any head dim works without a scalar column loop).
// - Forward, per 6-row block: (1) the score micro-tiles for the 16-key chunks some row of the
//   block sees (causal diagonal and partial tiles skip the rest, masked for every row of the
//   block anyway); as each leaves its 12 accumulators it is masked (lane compare, −inf), folded
//   into the row's lane-wise max and NaN flag (max drops NaN, so NaN is looked for apart) and
//   stored to a 6 × 64 L1 tile; (2) per row, its ≤ 8 score vectors reloaded: e^{S − m} with
//   exp_nonpos8, sum in a fixed order, P stored; (3) acc = α·acc + P v over only the keys the
//   block sees, α folded into the accumulator load. Scores cannot stay in registers from GEMM
//   to exp as in the zmm kernel (one 64-key row is 8 ymm; the 6 × 16 micro-tile fills the file),
//   so they make one L1 round trip (one store + one load per 8 scores against ~20 ops of exp).
//   Verdicts: mask / max in the micro-tile epilogue instead of a separate pass, and the
//   prefetches issued once per chunk rather than per k-step (which spilled the d loop's
//   pointers): kept, ~+5 points of peak on the in-L1 step. 4 unrolled k-steps: kept (part of
//   the same gain).
// - Backward, per 6-row block and 16-key chunk: S micro-tile → P (masked, stored) → dP micro-tile
//   in the same 12 registers → scale·P ∘ (dP − D) stored; then the three C += op(A) B products.
// - exp: exp_nonpos8 is exp_f's Cephes reduction and degree-6 polynomial (cpu/vec_math.h, the
//   same as the zmm kernel's) with 2^n built in the exponent field (AVX2 has no scalef): exact 0
//   below −88 (and −inf), NaN flows through, relative error < 2e-7; inputs are clamped at 89
//   so a positive argument (inconsistent lse) gives +inf rather than a wrapped exponent.
// - Prefetch: the next key tile's k / v rows into L2, spread over the step: a few lines before
//   each score micro-tile (as the zmm kernel: one burst stalls the load queue).
// Expected % of the AVX2 FMA peak: the step alone, tiles in L1, ~70–75 % forward and ~80 %
// backward at head dim 64 (the rest: chunk prologues / epilogues, the exp, the 4-row block of a
// 64-row tile); whole kernels ~65 % forward and ~60 % forward + backward where q / k / v / out
// stream at ≥ 10 GB/s per core (the packed rows are read and written once per (sample, head),
// outside the step). Decoder cross (7 query rows) runs the few-rows kernel instead: per key
// 64 FMAs (8 lanes, 7 used) against 64 broadcasts of k and 8 Qᵀ loads for the scores, the
// same for P·V — load-bound at ~1 load per FMA, i.e. ~45–50 % of the FMA peak in L1 on paper,
// and it streams each k / v row slice from memory once (bandwidth-bound from DRAM). Zen 4, one
// core, K + V in cache: 7.8–10.7 µs per (sample, head) against 13.8–18 µs for the tile path
// (its transposes and v copies were a quarter of that, the 6 + 1 row blocks most of the rest).
// Measured figures and variants: native/core/dev/README.md.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "attention_rows.h"

namespace merclip {
namespace cpu {
namespace detail {

namespace {

constexpr int kT = 64;  // keys per tile (kBK / kTileN in attention.cc)
constexpr int kRB = 6;  // rows per register block

// ---------------------------------------------------------------------------------------------
// e^x for x <= 0 (and −inf / NaN; larger x: see the header). Cephes expf as exp_f.
inline __m256 exp_nonpos8(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);  // min(c, x): NaN x stays NaN
  const __m256 nf = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n in the exponent field: n in [-127, 128] in range (n = -127: +0, n = 128: +inf); below
  // −88 the lane is zeroed by keep (NaN compares "not less", so NaN is kept).
  const __m256i n = _mm256_cvtps_epi32(nf);
  const __m256 scale = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
  const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-88.0f), _CMP_NLT_UQ);
  return _mm256_and_ps(keep, _mm256_mul_ps(p, scale));
}

// All-ones in lanes w < n (any n; n <= 0: none, n >= 8: all).
inline __m256i lanes_below(int64_t n) {
  const int c = n <= 0 ? 0 : (n >= 8 ? 8 : static_cast<int>(n));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float hmax8(__m256 v) {
  __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_max_ps(a, _mm_movehl_ps(a, a));
  a = _mm_max_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}
inline float hsum8(__m256 v) {  // fixed order: the same for any companions / thread count
  __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  a = _mm_add_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

// Lines to prefetch (into L2) while a step computes, handed out a few per inner iteration.
struct Prefetch {
  const char* p[2];
  int64_t stride[2];
  int64_t lines[2];
  int64_t row_lines;
  int64_t at;
  int64_t per_iter;
  inline void some() {
    for (int64_t q = 0; q < per_iter; ++q) {
      const int w = lines[0] > 0 ? 0 : 1;
      if (lines[w] <= 0) return;
      _mm_prefetch(p[w] + 64 * at, _MM_HINT_T1);
      if (++at == row_lines) {
        at = 0;
        p[w] += stride[w];
      }
      --lines[w];
    }
  }
};

// ---------------------------------------------------------------------------------------------
// The micro-tile: C[r][c0 + 0..16) (r < R) = Σ_{d<nd} A[r·lda + d] · B[d·ldb + c0 + 0..16), B
// a [nd, 64] tile (kᵀ / vᵀ, zero-padded), 12 accumulators. Stored with row stride kT to S.
// Written out in each caller (not a helper taking the accumulators by reference) so GCC keeps
// them in registers.
#define MERCLIP_AVX2_NT_TILE(c, A, lda, B, nd, c0, PF)                          \
  do {                                                                         \
    _Pragma("GCC unroll 8") for (int r_ = 0; r_ < R; ++r_) {                   \
      c[r_][0] = _mm256_setzero_ps();                                          \
      c[r_][1] = _mm256_setzero_ps();                                          \
    }                                                                          \
    PF;                                                                        \
    _Pragma("GCC unroll 4") for (int64_t d_ = 0; d_ < (nd); ++d_) {            \
      const float* b_ = (B) + d_ * kT + (c0);                                  \
      const __m256 b0_ = _mm256_loadu_ps(b_), b1_ = _mm256_loadu_ps(b_ + 8);   \
      _Pragma("GCC unroll 8") for (int r_ = 0; r_ < R; ++r_) {                 \
        const __m256 a_ = _mm256_broadcast_ss((A) + r_ * (lda) + d_);          \
        c[r_][0] = _mm256_fmadd_ps(a_, b0_, c[r_][0]);                         \
        c[r_][1] = _mm256_fmadd_ps(a_, b1_, c[r_][1]);                         \
      }                                                                        \
    }                                                                          \
  } while (0)

// C rows [R, 8·NW) (last vector masked by tail when TAIL) += op(A) [R, nc] · B [nc, ·]; with
// SCALE, C is first multiplied by alpha[r] (the forward's α·acc).
template <int R, int NW, bool TAIL, bool SCALE>
inline void nn_tile(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                    const float* B, int64_t ldb, int64_t nc, __m256i tail, const float* alpha) {
  __m256 o[R][NW];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    #pragma GCC unroll 8
    for (int i = 0; i < NW; ++i) {
      float* cp = C + r * ldc + 8 * i;
      o[r][i] = TAIL && i == NW - 1 ? _mm256_maskload_ps(cp, tail) : _mm256_loadu_ps(cp);
      if (SCALE) o[r][i] = _mm256_mul_ps(_mm256_set1_ps(alpha[r]), o[r][i]);
    }
  }
  #pragma GCC unroll 2
  for (int64_t c = 0; c < nc; ++c) {
    const float* br = B + c * ldb;
    __m256 b[NW];
    #pragma GCC unroll 8
    for (int i = 0; i < NW; ++i)
      b[i] = TAIL && i == NW - 1 ? _mm256_maskload_ps(br + 8 * i, tail)
                                 : _mm256_loadu_ps(br + 8 * i);
    const float* ac = A + c * acs;
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(ac + r * ars);
      #pragma GCC unroll 8
      for (int i = 0; i < NW; ++i) o[r][i] = _mm256_fmadd_ps(a, b[i], o[r][i]);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int i = 0; i < NW; ++i) {
      float* cp = C + r * ldc + 8 * i;
      if (TAIL && i == NW - 1) _mm256_maskstore_ps(cp, tail, o[r][i]);
      else _mm256_storeu_ps(cp, o[r][i]);
    }
}

// R rows, all head-dim columns: 16-column chunks, the last one 8 or 16 wide and masked.
template <int R, bool SCALE>
inline void nn_rows(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                    const float* B, int64_t ldb, int64_t nc, int64_t dh, const float* alpha) {
  const __m256i all = _mm256_set1_epi32(-1);
  int64_t w = 0;
  for (; w + 16 <= dh; w += 16)
    nn_tile<R, 2, false, SCALE>(C + w, ldc, A, ars, acs, B + w, ldb, nc, all, alpha);
  const int64_t left = dh - w;
  if (left == 0) return;
  if (left > 8)
    nn_tile<R, 2, true, SCALE>(C + w, ldc, A, ars, acs, B + w, ldb, nc, lanes_below(left - 8),
                               alpha);
  else
    nn_tile<R, 1, true, SCALE>(C + w, ldc, A, ars, acs, B + w, ldb, nc, lanes_below(left), alpha);
}

template <bool SCALE>
inline void nn_all(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                   const float* B, int64_t ldb, int64_t rows, int64_t nc, int64_t dh,
                   const float* alpha) {
  int64_t r = 0;
  for (; r + kRB <= rows; r += kRB)
    nn_rows<kRB, SCALE>(C + r * ldc, ldc, A + r * ars, ars, acs, B, ldb, nc, dh,
                        SCALE ? alpha + r : alpha);
  float* Cr = C + r * ldc;
  const float* Ar = A + r * ars;
  const float* al = SCALE ? alpha + r : alpha;
  switch (rows - r) {
    case 5: nn_rows<5, SCALE>(Cr, ldc, Ar, ars, acs, B, ldb, nc, dh, al); break;
    case 4: nn_rows<4, SCALE>(Cr, ldc, Ar, ars, acs, B, ldb, nc, dh, al); break;
    case 3: nn_rows<3, SCALE>(Cr, ldc, Ar, ars, acs, B, ldb, nc, dh, al); break;
    case 2: nn_rows<2, SCALE>(Cr, ldc, Ar, ars, acs, B, ldb, nc, dh, al); break;
    case 1: nn_rows<1, SCALE>(Cr, ldc, Ar, ars, acs, B, ldb, nc, dh, al); break;
    default: break;
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: R query rows (tile row r0) of one key tile. S for the 16-key chunks some row sees
// (kn keys), then per row mask / max / exp / sum, then acc = α·acc + P v over kn keys.
template <int R>
inline void fwd_rows(float* P, float* m, float* l, float* acc, const float* qs, const float* kt,
                     const float* v, int64_t ldv, int64_t r0, int64_t nk, int64_t diag,
                     int64_t dh, Prefetch* pf) {
  int64_t kn = r0 + R + diag;  // keys j < kn are seen by some row of the block
  kn = kn > nk ? nk : kn;
  if (kn <= 0) return;  // no row of the block sees a key of this tile: nothing changes
  const int64_t nch = (kn + 15) / 16;
  // Score micro-tiles, masked (−inf past each row's limit) as they are stored; the row max and
  // the NaN flag accumulate lane-wise in small arrays (the 16 registers hold the micro-tile).
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  alignas(32) float mvs[R][8];
  int nanbits[R];
  int64_t lims[R];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm256_store_ps(mvs[r], ninf);
    nanbits[r] = 0;
    int64_t lim = r0 + r + diag + 1;
    lims[r] = lim < 0 ? 0 : (lim > nk ? nk : lim);
  }
  for (int64_t ch = 0; ch < nch; ++ch) {
    __m256 c[R][2];
    MERCLIP_AVX2_NT_TILE(c, qs, dh, kt, dh, 16 * ch, pf->some());
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 x0 = _mm256_blendv_ps(ninf, c[r][0],
                                         _mm256_castsi256_ps(lanes_below(lims[r] - 16 * ch)));
      const __m256 x1 = _mm256_blendv_ps(ninf, c[r][1],
                                         _mm256_castsi256_ps(lanes_below(lims[r] - 16 * ch - 8)));
      _mm256_storeu_ps(P + r * kT + 16 * ch, x0);
      _mm256_storeu_ps(P + r * kT + 16 * ch + 8, x1);
      _mm256_store_ps(mvs[r], _mm256_max_ps(_mm256_load_ps(mvs[r]), _mm256_max_ps(x0, x1)));
      nanbits[r] |= _mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(x0, x0, _CMP_UNORD_Q),
                                                    _mm256_cmp_ps(x1, x1, _CMP_UNORD_Q)));
    }
  }
  const int64_t nv = 2 * nch;  // score vectors per row
  float alpha[R];
  for (int r = 0; r < R; ++r) {
    float* pr = P + r * kT;
    const float tmx = hmax8(_mm256_load_ps(mvs[r]));
    const float mold = m[r];
    const float mx = mold > tmx ? mold : tmx;
    const bool nan_row = nanbits[r] != 0 || mold != mold;
    if (nan_row || mx == -std::numeric_limits<float>::infinity()) {  // NaN row / nothing seen yet
      for (int64_t i = 0; i < nv; ++i) _mm256_storeu_ps(pr + 8 * i, _mm256_setzero_ps());
      // acc is still 0 (alpha 1), or the row is NaN for good: alpha NaN makes acc NaN
      alpha[r] = nan_row ? std::numeric_limits<float>::quiet_NaN() : 1.0f;
      if (nan_row) m[r] = l[r] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t i = 0; i < nv; ++i) {
      const __m256 e = exp_nonpos8(_mm256_sub_ps(_mm256_loadu_ps(pr + 8 * i), vmx));
      _mm256_storeu_ps(pr + 8 * i, e);
      sum = _mm256_add_ps(sum, e);
    }
    const float a = _mm256_cvtss_f32(exp_nonpos8(_mm256_set1_ps(mold - mx)));  // −inf → 0
    l[r] = l[r] * a + hsum8(sum);
    m[r] = mx;
    alpha[r] = a;
  }
  nn_rows<R, true>(acc, dh, P, kT, 1, v, ldv, kn, dh, alpha);
}

// ---------------------------------------------------------------------------------------------
// Backward: R query rows (tile row r0), all 16-key chunks < nk: P and scale·dS stored.
template <int R>
inline void bwd_rows(float* P, float* dS, const float* q, int64_t ldq, const float* g,
                     int64_t ldg, const float* kt, const float* vt, const float* L,
                     const float* D, int64_t r0, int64_t nk, int64_t diag, int64_t dh,
                     float scale) {
  const __m256 vscale = _mm256_set1_ps(scale);
  const bool any = r0 + R + diag > 0;  // some row of the block sees a key of the tile
  const int64_t nch = (nk + 15) / 16;
  for (int64_t ch = 0; ch < nch; ++ch) {
    const int64_t c0 = 16 * ch;
    __m256 c[R][2];
    if (any) {
      MERCLIP_AVX2_NT_TILE(c, q, ldq, kt, dh, c0, (void)0);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        int64_t lim = r0 + r + diag + 1;
        lim = lim < 0 ? 0 : (lim > nk ? nk : lim);
        const __m256 vl = _mm256_set1_ps(L[r]);
        #pragma GCC unroll 2
        for (int i = 0; i < 2; ++i) {
          const __m256 e = exp_nonpos8(_mm256_sub_ps(_mm256_mul_ps(vscale, c[r][i]), vl));
          _mm256_storeu_ps(P + r * kT + c0 + 8 * i,
                           _mm256_and_ps(_mm256_castsi256_ps(lanes_below(lim - c0 - 8 * i)), e));
        }
      }
    } else {
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        _mm256_storeu_ps(P + r * kT + c0, _mm256_setzero_ps());
        _mm256_storeu_ps(P + r * kT + c0 + 8, _mm256_setzero_ps());
      }
    }
    MERCLIP_AVX2_NT_TILE(c, g, ldg, vt, dh, c0, (void)0);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 vd = _mm256_set1_ps(D[r]);
      #pragma GCC unroll 2
      for (int i = 0; i < 2; ++i) {
        const __m256 p = _mm256_loadu_ps(P + r * kT + c0 + 8 * i);
        _mm256_storeu_ps(dS + r * kT + c0 + 8 * i,
                         _mm256_mul_ps(_mm256_mul_ps(vscale, p), _mm256_sub_ps(c[r][i], vd)));
      }
    }
  }
}

inline void transpose8(float* dst, int64_t ldd, const float* src, int64_t lds) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  // r[0..3]: columns 0, 1, 2, 3 (lanes 0–3 rows 0–3, lanes 4–7 the same columns + 4); r[4..7]
  // the same for rows 4–7.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ldd, t[i]);
}

}  // namespace

#undef MERCLIP_AVX2_NT_TILE

void attention_fwd_tile_step_avx2(float* s, float* m, float* l, float* acc, const float* qs,
                                  const float* kt, const float* v, int64_t ldv, int64_t nr,
                                  int64_t nk, int64_t diag, int64_t dh, const float* pf0,
                                  int64_t ld0, const float* pf1, int64_t ld1, int64_t npf) {
  Prefetch pf;
  pf.p[0] = reinterpret_cast<const char*>(pf0);
  pf.p[1] = reinterpret_cast<const char*>(pf1);
  pf.stride[0] = ld0 * static_cast<int64_t>(sizeof(float));
  pf.stride[1] = ld1 * static_cast<int64_t>(sizeof(float));
  pf.row_lines = (dh * static_cast<int64_t>(sizeof(float)) + 63) / 64;
  pf.at = 0;
  pf.lines[0] = pf0 ? npf * pf.row_lines : 0;
  pf.lines[1] = pf1 ? npf * pf.row_lines : 0;
  const int64_t iters = (nr + kRB - 1) / kRB * ((nk + 15) / 16);  // score chunks
  pf.per_iter = (pf.lines[0] + pf.lines[1] + iters - 1) / (iters > 0 ? iters : 1);
  int64_t r = 0;
  for (; r + kRB <= nr; r += kRB)
    fwd_rows<kRB>(s + r * kT, m + r, l + r, acc + r * dh, qs + r * dh, kt, v, ldv, r, nk, diag,
                  dh, &pf);
  float* P = s + r * kT;
  float *mr = m + r, *lr = l + r, *ar = acc + r * dh;
  const float* qr = qs + r * dh;
  switch (nr - r) {
    case 5: fwd_rows<5>(P, mr, lr, ar, qr, kt, v, ldv, r, nk, diag, dh, &pf); break;
    case 4: fwd_rows<4>(P, mr, lr, ar, qr, kt, v, ldv, r, nk, diag, dh, &pf); break;
    case 3: fwd_rows<3>(P, mr, lr, ar, qr, kt, v, ldv, r, nk, diag, dh, &pf); break;
    case 2: fwd_rows<2>(P, mr, lr, ar, qr, kt, v, ldv, r, nk, diag, dh, &pf); break;
    case 1: fwd_rows<1>(P, mr, lr, ar, qr, kt, v, ldv, r, nk, diag, dh, &pf); break;
    default: break;
  }
}

// ---------------------------------------------------------------------------------------------
// Few query rows (nr <= 8, not causal: the decoder's label queries), one (sample, head) whole:
// the rows live in the 8 lanes of a vector and k / v are read in place — no kᵀ transpose, no v
// copy, no 6 + 1 row split. Scores: S_j (lane r = row r) = Σ_d Qᵀ[d] · k_j[d] for 12 keys at a
// time (12 accumulators, one Qᵀ load and 12 k broadcasts per d), stored key-major [lk][8];
// the softmax is lane-wise (max and sum over keys are vertical: no horizontal work); then
// accᵀ[d] (lanes = rows) += P_j · v_j[d] in 12-column chunks over blocks of 16 keys (the 16 v
// rows of a block, 2 KB apart, stay in L1 for the chunks). Two passes over the keys, so the
// softmax is exact (no α rescaling).
namespace {

constexpr int kFewKeys = 12;  // keys per score group (12 accumulators)
constexpr int kFewCols = 12;  // head-dim columns per P·V chunk
constexpr int64_t kFewBlock = 16;  // keys per P·V block

template <int NJ>
inline void few_scores(float* __restrict S, const float* __restrict qt, const float* k,
                       int64_t ldk, int64_t dh, const float* kn, int64_t nkn, const float* vp,
                       int64_t ldv) {
  __m256 c[NJ];
  #pragma GCC unroll 12
  for (int j = 0; j < NJ; ++j) c[j] = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= dh; d += 16) {
    // One line of each of the next group's k rows (into L1) and of this group's v rows (L2)
    // per 16 d steps: every line of both arrives once, spread over the loop.
    for (int64_t j = 0; j < nkn; ++j) _mm_prefetch(reinterpret_cast<const char*>(kn + j * ldk + d), _MM_HINT_T0);
    #pragma GCC unroll 12
    for (int j = 0; j < NJ; ++j) _mm_prefetch(reinterpret_cast<const char*>(vp + j * ldv + d), _MM_HINT_T1);
    #pragma GCC unroll 4
    for (int64_t e = d; e < d + 16; ++e) {
      const __m256 a = _mm256_load_ps(qt + e * 8);
      #pragma GCC unroll 12
      for (int j = 0; j < NJ; ++j) c[j] = _mm256_fmadd_ps(a, _mm256_broadcast_ss(k + j * ldk + e), c[j]);
    }
  }
  for (; d < dh; ++d) {
    const __m256 a = _mm256_load_ps(qt + d * 8);
    #pragma GCC unroll 12
    for (int j = 0; j < NJ; ++j) c[j] = _mm256_fmadd_ps(a, _mm256_broadcast_ss(k + j * ldk + d), c[j]);
  }
  #pragma GCC unroll 12
  for (int j = 0; j < NJ; ++j) _mm256_store_ps(S + j * 8, c[j]);
}

// accᵀ[w] (w < W) += Σ_{j < nb} P_j · v_j[w]; accᵀ rows 8 floats apart.
template <int W>
inline void few_pv(float* __restrict at, const float* __restrict P, const float* v, int64_t ldv,
                   int64_t nb) {
  __m256 o[W];
  #pragma GCC unroll 12
  for (int w = 0; w < W; ++w) o[w] = _mm256_load_ps(at + w * 8);
  #pragma GCC unroll 2
  for (int64_t j = 0; j < nb; ++j) {
    const __m256 p = _mm256_load_ps(P + j * 8);
    const float* vj = v + j * ldv;
    #pragma GCC unroll 12
    for (int w = 0; w < W; ++w) o[w] = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vj + w), o[w]);
  }
  #pragma GCC unroll 12
  for (int w = 0; w < W; ++w) _mm256_store_ps(at + w * 8, o[w]);
}

inline void few_pv_cols(float* at, const float* P, const float* v, int64_t ldv, int64_t nb,
                        int64_t w) {
  switch (w) {
    case 12: few_pv<12>(at, P, v, ldv, nb); break;
    case 11: few_pv<11>(at, P, v, ldv, nb); break;
    case 10: few_pv<10>(at, P, v, ldv, nb); break;
    case 9: few_pv<9>(at, P, v, ldv, nb); break;
    case 8: few_pv<8>(at, P, v, ldv, nb); break;
    case 7: few_pv<7>(at, P, v, ldv, nb); break;
    case 6: few_pv<6>(at, P, v, ldv, nb); break;
    case 5: few_pv<5>(at, P, v, ldv, nb); break;
    case 4: few_pv<4>(at, P, v, ldv, nb); break;
    case 3: few_pv<3>(at, P, v, ldv, nb); break;
    case 2: few_pv<2>(at, P, v, ldv, nb); break;
    default: few_pv<1>(at, P, v, ldv, nb); break;
  }
}

}  // namespace

int64_t attention_fwd_few_rows_scratch_avx2(int64_t lk, int64_t dh) { return 8 * (2 * dh + lk); }

void attention_fwd_few_rows_avx2(float* m, float* l, float* acc, const float* q, int64_t ldq,
                                 const float* k, int64_t ldk, const float* v, int64_t ldv,
                                 int64_t nr, int64_t lk, int64_t dh, float scale,
                                 float* scratch) {
  float* qt = scratch;         // [dh][8]: scale·q, rows in lanes (lanes >= nr zero)
  float* at = qt + 8 * dh;     // [dh][8]: accᵀ
  float* S = at + 8 * dh;      // [lk][8]: scores, then P
  for (int64_t d = 0; d < dh; ++d)
    for (int r = 0; r < 8; ++r) qt[d * 8 + r] = r < nr ? scale * q[r * ldq + d] : 0.0f;
  // Scores, 12 keys at a time; the next group's k rows and this group's v rows prefetched.
  int64_t j = 0;
  for (; j + kFewKeys <= lk; j += kFewKeys) {
    const int64_t nkn = std::min<int64_t>(kFewKeys, lk - j - kFewKeys);
    few_scores<kFewKeys>(S + j * 8, qt, k + j * ldk, ldk, dh, k + (j + kFewKeys) * ldk, nkn,
                         v + j * ldv, ldv);
  }
  switch (lk - j) {
#define MERCLIP_FEW_TAIL(n) \
    case n: few_scores<n>(S + j * 8, qt, k + j * ldk, ldk, dh, nullptr, 0, v + j * ldv, ldv); break;
    MERCLIP_FEW_TAIL(11) MERCLIP_FEW_TAIL(10) MERCLIP_FEW_TAIL(9) MERCLIP_FEW_TAIL(8)
    MERCLIP_FEW_TAIL(7) MERCLIP_FEW_TAIL(6) MERCLIP_FEW_TAIL(5) MERCLIP_FEW_TAIL(4)
    MERCLIP_FEW_TAIL(3) MERCLIP_FEW_TAIL(2) MERCLIP_FEW_TAIL(1)
#undef MERCLIP_FEW_TAIL
    default: break;
  }
  // Softmax, lane-wise: max over keys (NaN scores are dropped by max_ps and flagged apart),
  // P = e^{S − max} (a row whose scores are all −inf subtracts 0: P = 0, l = 0), l = Σ P in
  // four partial sums combined in a fixed order.
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 mx = ninf, nan = _mm256_setzero_ps();
  for (int64_t i = 0; i < lk; ++i) {
    const __m256 x = _mm256_load_ps(S + i * 8);
    mx = _mm256_max_ps(x, mx);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  const __m256 ref = _mm256_blendv_ps(mx, _mm256_setzero_ps(), _mm256_cmp_ps(mx, ninf, _CMP_EQ_OQ));
  __m256 sum[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t i = 0; i < lk; ++i) {
    const __m256 e = exp_nonpos8(_mm256_sub_ps(_mm256_load_ps(S + i * 8), ref));
    _mm256_store_ps(S + i * 8, e);
    sum[i & 3] = _mm256_add_ps(sum[i & 3], e);
  }
  const __m256 ls = _mm256_add_ps(_mm256_add_ps(sum[0], sum[1]), _mm256_add_ps(sum[2], sum[3]));
  // accᵀ = Σ_j P_j v_jᵀ: blocks of 16 keys, 12-column chunks inside a block.
  for (int64_t i = 0; i < 8 * dh; i += 8) _mm256_store_ps(at + i, _mm256_setzero_ps());
  for (int64_t j0 = 0; j0 < lk; j0 += kFewBlock) {
    const int64_t nb = std::min<int64_t>(kFewBlock, lk - j0);
    for (int64_t w = 0; w < dh; w += kFewCols)
      few_pv_cols(at + w * 8, S + j0 * 8, v + j0 * ldv + w, ldv, nb, std::min<int64_t>(kFewCols, dh - w));
  }
  alignas(32) float mv[8], lv[8], nv[8];
  _mm256_store_ps(mv, mx);
  _mm256_store_ps(lv, ls);
  _mm256_store_ps(nv, nan);
  for (int64_t r = 0; r < nr; ++r) {
    const bool nan_row = nv[r] != 0.0f;  // all-ones bits (a NaN pattern) when flagged
    m[r] = nan_row ? std::numeric_limits<float>::quiet_NaN() : mv[r];
    l[r] = nan_row ? std::numeric_limits<float>::quiet_NaN() : lv[r];
    for (int64_t d = 0; d < dh; ++d) acc[r * dh + d] = at[d * 8 + r];
  }
}

void attention_bwd_scores_avx2(float* P, float* dS, const float* q, int64_t ldq, const float* g,
                               int64_t ldg, const float* kt, const float* vt, const float* L,
                               const float* D, int64_t nr, int64_t nk, int64_t diag, int64_t dh,
                               float scale) {
  int64_t r = 0;
  for (; r + kRB <= nr; r += kRB)
    bwd_rows<kRB>(P + r * kT, dS + r * kT, q + r * ldq, ldq, g + r * ldg, ldg, kt, vt, L + r,
                  D + r, r, nk, diag, dh, scale);
  float *Pr = P + r * kT, *dSr = dS + r * kT;
  const float *qr = q + r * ldq, *gr = g + r * ldg, *Lr = L + r, *Dr = D + r;
  switch (nr - r) {
    case 5: bwd_rows<5>(Pr, dSr, qr, ldq, gr, ldg, kt, vt, Lr, Dr, r, nk, diag, dh, scale); break;
    case 4: bwd_rows<4>(Pr, dSr, qr, ldq, gr, ldg, kt, vt, Lr, Dr, r, nk, diag, dh, scale); break;
    case 3: bwd_rows<3>(Pr, dSr, qr, ldq, gr, ldg, kt, vt, Lr, Dr, r, nk, diag, dh, scale); break;
    case 2: bwd_rows<2>(Pr, dSr, qr, ldq, gr, ldg, kt, vt, Lr, Dr, r, nk, diag, dh, scale); break;
    case 1: bwd_rows<1>(Pr, dSr, qr, ldq, gr, ldg, kt, vt, Lr, Dr, r, nk, diag, dh, scale); break;
    default: break;
  }
}

void attention_bwd_nn_acc_avx2(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                               const float* B, int64_t ldb, int64_t rows, int64_t nc,
                               int64_t dh) {
  nn_all<false>(C, ldc, A, ars, acs, B, ldb, rows, nc, dh, nullptr);
}

// The row loops of attention_rows.h, built here with -mavx2 -mfma (used at the avx2 and avx512
// levels, so native and portable builds run the same code).
void attention_copy_rows_avx2(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t n,
                              int64_t dh) {
  rows_copy(dst, ldd, src, lds, n, dh);
}
void attention_scale_rows_avx2(float* qs, const float* q, int64_t ldq, int64_t nr, int64_t dh,
                               float scale) {
  rows_scale(qs, q, ldq, nr, dh, scale);
}
void attention_finish_rows_avx2(float* out, int64_t ldo, float* lse, const float* m,
                                const float* l, const float* acc, int64_t nr, int64_t dh) {
  rows_finish(out, ldo, lse, m, l, acc, nr, dh);
}

void attention_transpose_tile_avx2(float* Bt, const float* X, int64_t ldx, int64_t nk,
                                   int64_t dh) {
  const int64_t jf = nk / 8 * 8, df = dh / 8 * 8;
  for (int64_t j0 = 0; j0 < jf; j0 += 8)
    for (int64_t d0 = 0; d0 < df; d0 += 8) transpose8(Bt + d0 * kT + j0, kT, X + j0 * ldx + d0, ldx);
  for (int64_t d = 0; d < dh; ++d) {
    float* row = Bt + d * kT;
    const int64_t jlo = d < df ? jf : 0;  // rows d >= df were not covered by the blocks
    for (int64_t j = jlo; j < nk; ++j) row[j] = X[j * ldx + d];
    for (int64_t j = nk; j < kT; ++j) row[j] = 0.0f;
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
