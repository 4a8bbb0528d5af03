// native/core/cpu/attention_neon.cc — AArch64 Advanced SIMD helpers for cpu/attention.cc (built
// only for AArch64, default flags; called only when merclip::simd_level() is neon), the NEON
// twins of the two tile steps attention_avx512.cc provides:
//
// attention_fwd_tile_step_neon: one key tile of the forward for up to 64 query rows — the same
// contract as fwd_tile_step in cpu/attention_tiles.h (S = qs kᵀ into s [nr, 64], the online-
// softmax update of m, l, acc with the causal / length mask, acc += P v; on return s holds P).
// attention_bwd_scores_neon: the backward's score step — the same contract as
// attention_bwd_scores_avx512 (P = e^{scale·S − L} masked to 0, scale·dS = scale·P ∘ (dP − D)
// with dP = dO vᵀ, both [nr, 64] row stride 64; columns >= nk rounded up to 4 are not
// written, and attention.cc reads only the first nk).
//
// Design (32 q registers of 4 floats): both GEMM-like products go through one register tile,
// C [4 rows × 16 columns] (16 accumulators) += A [4 × K] · B [K × 16], K in steps of 4: the 4 A
// rows are loaded as one vector each (4 consecutive k) and used by lane (vfmaq_laneq_f32), the
// 16 B values of each k are 4 vector loads, so a step of 4 k issues 4 + 16 loads for 64 FMAs
// (FMA-bound with 2 pipes: 32 cycles, loads ~10). Scores: A = the scaled q rows, B = the kᵀ tile
// [dh, 64]; P·V: A = P [nr, 64], B = the packed v rows [nk, dh] (head dim in 16 / 8 / 4-column
// chunks, the last < 4 columns scalar). The score columns computed stop at the last column some
// row sees (rounded up to 4; causal diagonal and partial tiles), and P·V runs over those keys
// only. Softmax per row: lane-wise max (FMAXV: NaN propagates, so a NaN score is caught from the
// max), e^x by exp_f's reduction and polynomial in NEON (same constants, FMA rounding), lane sum.
// On paper (Neoverse N1 / V1, 2 × 128-bit FMA, dh 64, 64 × 64 tile): score and P·V products
// ~90 % of the FMA peak inside the tile; with the exp (~20 instructions per 4 scores) and the
// per-row softmax bookkeeping, expected ~55–65 % of peak for the forward at encoder shapes
// (L 375), ~40–50 % for the backward score step plus the generic nn products (attention.cc's
// gemm_nn_acc, auto-vectorised to NEON by GCC at -O3). Correctness: ctest under qemu-aarch64
// (tests/test_attention.cc runs every case at the neon level against the float64-backed ref).
#include <arm_neon.h>

#include <cstdint>
#include <limits>

#include "attention_tiles.h"  // kTileN
#include "vec_math.h"         // exp_f (scalar α)

namespace merclip {
namespace cpu {
namespace detail {

namespace {

// exp_f (cpu/vec_math.h) on 4 lanes: n = round(x·log2 e) by the 1.5·2^23 trick, r = x − n·ln 2 in
// two parts, Cephes' degree-6 polynomial, 2^n in the exponent field; x < −88 (and −inf) → +0,
// x > 88.376 (and +inf) → +inf, NaN → NaN.
inline float32x4_t exp4(float32x4_t x) {
  const float32x4_t magic = vdupq_n_f32(12582912.0f);
  const float32x4_t t = vfmaq_f32(magic, x, vdupq_n_f32(1.44269504088896341f));
  const float32x4_t nf = vsubq_f32(t, magic);
  float32x4_t r = vfmsq_f32(x, nf, vdupq_n_f32(0.693359375f));
  r = vfmaq_f32(r, nf, vdupq_n_f32(2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), vmulq_f32(p, r), r);
  const uint32x4_t n = vsubq_u32(vreinterpretq_u32_f32(t), vdupq_n_u32(0x4B400000u));
  const uint32x4_t scale = vshlq_n_u32(vaddq_u32(n, vdupq_n_u32(127u)), 23);
  uint32x4_t y = vreinterpretq_u32_f32(vmulq_f32(p, vreinterpretq_f32_u32(scale)));
  const uint32x4_t under = vcltq_f32(x, vdupq_n_f32(-88.0f));
  const uint32x4_t over = vcgtq_f32(x, vdupq_n_f32(88.3762626647949f));
  y = vbicq_u32(y, vorrq_u32(under, over));
  y = vorrq_u32(y, vandq_u32(over, vdupq_n_u32(0x7f800000u)));
  return vreinterpretq_f32_u32(y);
}

// Lanes base + w < lim (w = 0..3).
inline uint32x4_t lanes_below(int64_t lim, int64_t base) {
  const int64_t n = lim - base;
  const int32_t c = n <= 0 ? 0 : (n >= 4 ? 4 : static_cast<int32_t>(n));
  const int32x4_t iota = {0, 1, 2, 3};
  return vcltq_s32(iota, vdupq_n_s32(c));
}

// C [R, 4·NV] (row stride ldc) = (kAcc ? C : 0) + A [R, K] (lda) · B [K, 4·NV] (ldb).
template <int R, int NV, bool kAcc>
inline void mm_rows(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                    int64_t ldb, int64_t K) {
  float32x4_t c[R][NV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[r][v] = kAcc ? vld1q_f32(C + r * ldc + 4 * v) : vdupq_n_f32(0.0f);
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    float32x4_t a[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) a[r] = vld1q_f32(A + r * lda + k);
#define MERCLIP_MM_LANE(L)                                                 \
  {                                                                        \
    const float* b = B + (k + L) * ldb;                                    \
    float32x4_t bv[NV];                                                    \
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) bv[v] = vld1q_f32(b + 4 * v); \
    _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r)                    \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v)                 \
        c[r][v] = vfmaq_laneq_f32(c[r][v], bv[v], a[r], L);                \
  }
    MERCLIP_MM_LANE(0)
    MERCLIP_MM_LANE(1)
    MERCLIP_MM_LANE(2)
    MERCLIP_MM_LANE(3)
#undef MERCLIP_MM_LANE
  }
  for (; k < K; ++k) {
    const float* b = B + k * ldb;
    float32x4_t bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = vld1q_f32(b + 4 * v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) c[r][v] = vfmaq_n_f32(c[r][v], bv[v], A[r * lda + k]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) vst1q_f32(C + r * ldc + 4 * v, c[r][v]);
}

// Columns [w0, w0 + n) (n < 4), scalar.
template <bool kAcc>
inline void mm_cols_scalar(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                           int64_t ldb, int64_t rows, int64_t K, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t w = 0; w < n; ++w) {
      float s = kAcc ? C[r * ldc + w] : 0.0f;
      for (int64_t k = 0; k < K; ++k) s = __builtin_fmaf(A[r * lda + k], B[k * ldb + w], s);
      C[r * ldc + w] = s;
    }
}

template <int NV, bool kAcc>
inline void mm_chunk(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                     int64_t ldb, int64_t rows, int64_t K) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) mm_rows<4, NV, kAcc>(C + r * ldc, ldc, A + r * lda, lda, B, ldb, K);
  switch (rows - r) {
    case 3: mm_rows<3, NV, kAcc>(C + r * ldc, ldc, A + r * lda, lda, B, ldb, K); break;
    case 2: mm_rows<2, NV, kAcc>(C + r * ldc, ldc, A + r * lda, lda, B, ldb, K); break;
    case 1: mm_rows<1, NV, kAcc>(C + r * ldc, ldc, A + r * lda, lda, B, ldb, K); break;
    default: break;
  }
}

// C [rows, W] (ldc) = (kAcc ? C : 0) + A [rows, K] (lda) · B [K, W] (ldb).
template <bool kAcc>
void mm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb,
        int64_t rows, int64_t K, int64_t W) {
  int64_t w = 0;
  for (; w + 16 <= W; w += 16) mm_chunk<4, kAcc>(C + w, ldc, A, lda, B + w, ldb, rows, K);
  if (w + 8 <= W) mm_chunk<2, kAcc>(C + w, ldc, A, lda, B + w, ldb, rows, K), w += 8;
  if (w + 4 <= W) mm_chunk<1, kAcc>(C + w, ldc, A, lda, B + w, ldb, rows, K), w += 4;
  if (w < W) mm_cols_scalar<kAcc>(C + w, ldc, A, lda, B + w, ldb, rows, K, W - w);
}

inline int64_t clamp_lim(int64_t lim, int64_t nk) { return lim < 0 ? 0 : (lim > nk ? nk : lim); }

}  // namespace

void attention_fwd_tile_step_neon(float* s, float* m, float* l, float* acc, const float* qs,
                                  const float* kt, const float* v, int64_t ldv, int64_t nr,
                                  int64_t nk, int64_t diag, int64_t dh) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const int64_t maxlim = clamp_lim(nr + diag, nk);  // the last row's limit is the largest
  if (maxlim == 0) {  // no row sees a key of this tile: only NaN rows need their marks kept
    for (int64_t r = 0; r < nr; ++r)
      if (m[r] != m[r])
        for (int64_t d = 0; d < dh; ++d) acc[r * dh + d] = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  const int64_t W = (maxlim + 3) & ~int64_t{3};
  mm<false>(s, kTileN, qs, dh, kt, kTileN, nr, dh, W);
  const float32x4_t ninf = vdupq_n_f32(kNegInf);
  for (int64_t r = 0; r < nr; ++r) {
    float* sr = s + r * kTileN;
    const int64_t lim = clamp_lim(r + diag + 1, nk);
    float32x4_t mv = ninf;
    for (int64_t c = 0; c < W; c += 4) {
      const float32x4_t x = vbslq_f32(lanes_below(lim, c), vld1q_f32(sr + c), ninf);
      vst1q_f32(sr + c, x);
      mv = vmaxq_f32(mv, x);
    }
    const float tmx = vmaxvq_f32(mv);
    const bool nan = tmx != tmx || m[r] != m[r];
    const float mx = m[r] > tmx ? m[r] : tmx;
    if (nan || mx == kNegInf) {  // NaN row, or nothing seen yet: P row = 0
      for (int64_t c = 0; c < W; c += 4) vst1q_f32(sr + c, vdupq_n_f32(0.0f));
      if (nan) {
        m[r] = l[r] = std::numeric_limits<float>::quiet_NaN();
        for (int64_t d = 0; d < dh; ++d) acc[r * dh + d] = std::numeric_limits<float>::quiet_NaN();
      }
      continue;
    }
    const float32x4_t vmx = vdupq_n_f32(mx);
    float32x4_t sv = vdupq_n_f32(0.0f);
    for (int64_t c = 0; c < W; c += 4) {
      const float32x4_t e = exp4(vsubq_f32(vld1q_f32(sr + c), vmx));
      vst1q_f32(sr + c, e);
      sv = vaddq_f32(sv, e);
    }
    const float alpha = exp_f(m[r] - mx);  // m = −inf → 0
    l[r] = l[r] * alpha + vaddvq_f32(sv);
    m[r] = mx;
    if (alpha != 1.0f) {
      float* ar = acc + r * dh;
      const float32x4_t va = vdupq_n_f32(alpha);
      int64_t d = 0;
      for (; d + 4 <= dh; d += 4) vst1q_f32(ar + d, vmulq_f32(vld1q_f32(ar + d), va));
      for (; d < dh; ++d) ar[d] *= alpha;
    }
  }
  mm<true>(acc, dh, s, kTileN, v, ldv, nr, maxlim, dh);
}

void attention_bwd_scores_neon(float* P, float* dS, const float* q, int64_t ldq, const float* g,
                               int64_t ldg, const float* kt, const float* vt, const float* L,
                               const float* D, int64_t nr, int64_t nk, int64_t diag, int64_t dh,
                               float scale) {
  const int64_t W = (nk + 3) & ~int64_t{3};
  const float32x4_t vscale = vdupq_n_f32(scale), zero = vdupq_n_f32(0.0f);
  mm<false>(P, kTileN, q, ldq, kt, kTileN, nr, dh, W);  // S
  for (int64_t r = 0; r < nr; ++r) {
    float* pr = P + r * kTileN;
    const int64_t lim = clamp_lim(r + diag + 1, nk);
    const float32x4_t vl = vdupq_n_f32(L[r]);
    for (int64_t c = 0; c < W; c += 4) {
      const float32x4_t e = exp4(vsubq_f32(vmulq_f32(vscale, vld1q_f32(pr + c)), vl));
      vst1q_f32(pr + c, vbslq_f32(lanes_below(lim, c), e, zero));
    }
  }
  mm<false>(dS, kTileN, g, ldg, vt, kTileN, nr, dh, W);  // dP
  for (int64_t r = 0; r < nr; ++r) {
    float* dr = dS + r * kTileN;
    const float* pr = P + r * kTileN;
    const float32x4_t vd = vdupq_n_f32(D[r]);
    for (int64_t c = 0; c < W; c += 4)
      vst1q_f32(dr + c, vmulq_f32(vmulq_f32(vscale, vld1q_f32(pr + c)),
                                  vsubq_f32(vld1q_f32(dr + c), vd)));
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
