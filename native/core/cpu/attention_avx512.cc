// native/core/cpu/attention_avx512.cc — AVX-512 helpers for cpu/attention.cc (built with
// -mavx512f…; called only when merclip::simd_level() is avx512), so a portable build (baseline
// x86-64 generic code) still gets zmm tile kernels.
//
// transpose_tile_avx512: Bt [dh, 64] = X [nk, dh] (row stride ldx)ᵀ, columns nk … 63 zeroed — the
// kᵀ / vᵀ tiles of the attention kernels. Full 16 × 16 blocks go through registers (the
// unpack / shuffle_f32x4 transpose); edges are copied element by element. A pure copy, so the
// result is bitwise the same as the generic loop's.
//
// attention_fwd_tile_step_avx512: one key tile of the forward for up to 64 query rows,
// hand-written: per block of 4 rows, S = qs kᵀ in 16 zmm accumulators, the causal / length mask
// by lane masks, the row max, P = e^{S − m} (exp_nonpos: exp_f's range reduction and polynomial,
// 2^n by scalef), the running sum, then acc = α·acc + P v with the acc rows in registers (head
// dim in chunks of 64 lanes, the last vector masked, so any head dim 1…256 works). Same maths as
// fwd_tile_step in cpu/attention_tiles.h; rounding differs slightly (reduction order).
// A 4-row block computes only the 16-key column chunks some row of it sees (causal diagonal
// tiles, partial last tiles) — the skipped columns are masked for all its rows, so no result
// changes. Head dims <= 16 (MulT: 6) do P v as dot products over the keys against a vᵀ copy of
// the tile, P still in registers, reduced by a transpose-and-add tree (hsum16): head dim 6 went
// from 20 to 31 % of peak (CPU time, A/B in one process) — the broadcast-per-key form used 6 of
// 16 lanes. The next tile's k / v rows are prefetched a few lines per score-loop iteration.
// The register-array loops carry `#pragma GCC unroll`: without it GCC 12 left pv_rows<4, 4>'s
// 16 accumulators in memory (16 zmm stores per key) once fwd_rows_nc grew, and long 1024 fell
// from ~73 to ~44 % of peak; with it, no spills (checked with objdump).
// attention_bwd_scores_avx512 / attention_bwd_nn_acc_avx512: the backward's fused score step
// (P and scale·dS of a query tile against one key tile, S and dP kept in zmm registers per
// 4-row block) and its C += op(A)·B with register blocks sized to the head dim (masked tail).
// Verdict: backward 1.5–1.7× on the dh 64 shapes, 4.4× at head dim 6 (A/B in one process
// against the generic tile GEMMs); kept.
#include <immintrin.h>

#include "avx512_util.h"

#include <cstdint>
#include <limits>

#include "attention_tiles.h"

namespace merclip {
namespace cpu {
namespace detail {

namespace {

inline void transpose16(float* dst, int64_t ldd, const float* src, int64_t lds) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int h = 0; h < 16; h += 8) {
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ldd, r[i]);
}


// ---------------------------------------------------------------------------------------------
// Fused forward step (hand-written AVX-512). e^x for x <= 0 (or −inf / NaN): the same
// range reduction and Cephes polynomial as exp_f (cpu/vec_math.h), 2^n applied with scalef;
// x < −88 (and −inf) gives exactly 0, NaN flows through.
inline __m512 exp_nonpos(__m512 x) {
  const __m512 nf = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-88.0f), _CMP_NLT_UQ);
  return _mm512_maskz_scalef_ps(keep, p, nf);
}

inline __mmask16 lanes_below(int64_t n) {  // lanes w < n, n clamped to [0, 16]
  return n <= 0 ? __mmask16(0) : n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1u);
}

// acc rows [R, w0 + 16·NW) (the last vector masked by tail) = alpha · acc + P [R, nk] · v.
template <int R, int NW>
inline void pv_rows(float* acc, int64_t dh, int64_t w0, __mmask16 tail, const float* alpha,
                    const float* P, const float* v, int64_t ldv, int64_t nk) {
  __m512 o[R][NW];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 a = _mm512_set1_ps(alpha[r]);
    #pragma GCC unroll 16
    for (int i = 0; i < NW; ++i) {
      const __mmask16 k = i == NW - 1 ? tail : __mmask16(0xffff);
      o[r][i] = _mm512_mul_ps(a, _mm512_maskz_loadu_ps(k, acc + r * dh + w0 + 16 * i));
    }
  }
  for (int64_t c = 0; c < nk; ++c) {
    const float* vr = v + c * ldv + w0;
    __m512 b[NW];
    #pragma GCC unroll 16
    for (int i = 0; i < NW; ++i)
      b[i] = _mm512_maskz_loadu_ps(i == NW - 1 ? tail : __mmask16(0xffff), vr + 16 * i);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 p = _mm512_set1_ps(P[r * kTileN + c]);
      #pragma GCC unroll 16
      for (int i = 0; i < NW; ++i) o[r][i] = _mm512_fmadd_ps(p, b[i], o[r][i]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 16
    for (int i = 0; i < NW; ++i)
      _mm512_mask_storeu_ps(acc + r * dh + w0 + 16 * i, i == NW - 1 ? tail : __mmask16(0xffff),
                            o[r][i]);
}

template <int R>
inline void pv_block(float* acc, int64_t dh, const float* alpha, const float* P, const float* v,
                     int64_t ldv, int64_t nk) {
  for (int64_t w0 = 0; w0 < dh; w0 += 64) {
    const int64_t left = dh - w0;
    const __mmask16 tail = lanes_below(left - (left > 64 ? 48 : (left - 1) / 16 * 16));
    switch (left >= 64 ? 4 : (left + 15) / 16) {
      case 4: pv_rows<R, 4>(acc, dh, w0, tail, alpha, P, v, ldv, nk); break;
      case 3: pv_rows<R, 3>(acc, dh, w0, tail, alpha, P, v, ldv, nk); break;
      case 2: pv_rows<R, 2>(acc, dh, w0, tail, alpha, P, v, ldv, nk); break;
      default: pv_rows<R, 1>(acc, dh, w0, tail, alpha, P, v, ldv, nk); break;
    }
  }
}

// Small head dims (dh <= 16): acc rows = α·acc + P v as dot products over the tile's keys, P
// still in registers (e [R][NC]) against vt = vᵀ [dh, kTileN] (zero past the tile's keys), the
// R·dh sums reduced by hsum16 — instead of one broadcast + one mostly-empty FMA per (row, key).

template <int NC>
inline __m512 dot_keys(const __m512* e, const float* vtd) {
  __m512 a = _mm512_mul_ps(e[0], _mm512_loadu_ps(vtd));
  for (int i = 1; i < NC; ++i) a = _mm512_fmadd_ps(e[i], _mm512_loadu_ps(vtd + 16 * i), a);
  return a;
}

template <int R, int NC>
inline void pv_small(float* acc, int64_t dh, const float* alpha, const __m512 (*e)[NC],
                     const float* vt) {
  if (dh <= 8) {  // two rows per reduction tree: lanes 0–7 row r, 8–15 row r + 1
    const __mmask8 k8 = static_cast<__mmask8>((1u << dh) - 1u);
    for (int r = 0; r < R; r += 2) {
      __m512 u[16];
      for (int h = 0; h < 2; ++h)
        for (int d = 0; d < 8; ++d)
          u[h * 8 + d] = (r + h < R && d < dh) ? dot_keys<NC>(e[r + h], vt + d * kTileN)
                                                : _mm512_setzero_ps();
      const __m512 t = hsum16(u);
      float* a0 = acc + r * dh;
      _mm256_mask_storeu_ps(a0, k8, _mm256_fmadd_ps(_mm256_set1_ps(alpha[r]),
                                                    _mm256_maskz_loadu_ps(k8, a0),
                                                    _mm512_castps512_ps256(t)));
      if (r + 1 < R) {
        float* a1 = acc + (r + 1) * dh;
        _mm256_mask_storeu_ps(a1, k8, _mm256_fmadd_ps(_mm256_set1_ps(alpha[r + 1]),
                                                      _mm256_maskz_loadu_ps(k8, a1),
                                                      _mm512_extractf32x8_ps(t, 1)));
      }
    }
    return;
  }
  const __mmask16 k16 = static_cast<__mmask16>((1u << dh) - 1u);
  for (int r = 0; r < R; ++r) {
    __m512 u[16];
    for (int d = 0; d < 16; ++d)
      u[d] = d < dh ? dot_keys<NC>(e[r], vt + d * kTileN) : _mm512_setzero_ps();
    float* a0 = acc + r * dh;
    _mm512_mask_storeu_ps(a0, k16, _mm512_fmadd_ps(_mm512_set1_ps(alpha[r]),
                                                   _mm512_maskz_loadu_ps(k16, a0), hsum16(u)));
  }
}

// Cache lines to prefetch (into L2) while a tile step computes: up to two regions of rows
// (row_lines lines per row, rows stride bytes apart), handed out a few lines per inner-loop
// iteration so the requests spread over the step instead of stalling the load queue in one
// burst.
struct Prefetch {
  const char* p[2];    // the current row of each region
  int64_t stride[2];   // bytes between rows
  int64_t lines[2];    // lines left in the region
  int64_t row_lines;   // lines per row
  int64_t at;          // line within the current row
  int64_t per_iter;    // lines per score-loop iteration
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

// Note on the three register-blocked tile products (S = q kᵀ here, and S = q kᵀ, dP = dO vᵀ in
// bwd_rows below): they are written out in place on purpose. Sharing them through one
// always_inline helper that takes the accumulator array by reference made GCC 12 keep the
// accumulators in memory — zmm stores to the stack in this object went from 342 to 584 — which
// is the spill the unroll pragmas exist to prevent.
// R query rows (starting at tile row r0) of one key tile: S = qs kᵀ in registers, masked,
// online-softmax update of (m, l), P stored to P [R, kTileN], then acc = α·acc + P v. Only the
// first NC·16 key columns are computed, and only the first kn keys enter P v: kn = the most keys
// any of the R rows sees (causal diagonal tiles, partial last tiles); the columns skipped are
// masked for every row (P = 0 there), so skipping them changes no result.
template <int R, int NC>
inline void fwd_rows_nc(float* P, float* m, float* l, float* acc, const float* qs,
                        const float* kt, const float* v, int64_t ldv, int64_t r0, int64_t nk,
                        int64_t kn, int64_t diag, int64_t dh, Prefetch* pf, const float* vt) {
  __m512 c[R][NC];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 16
    for (int i = 0; i < NC; ++i) c[r][i] = _mm512_setzero_ps();
  for (int64_t d = 0; d < dh; ++d) {
    pf->some();
    const float* b = kt + d * kTileN;
    __m512 bv[NC];
    #pragma GCC unroll 16
    for (int i = 0; i < NC; ++i) bv[i] = _mm512_loadu_ps(b + 16 * i);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(qs[r * dh + d]);
      #pragma GCC unroll 16
      for (int i = 0; i < NC; ++i) c[r][i] = _mm512_fmadd_ps(a, bv[i], c[r][i]);
    }
  }
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  float alpha[R];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    int64_t lim = r0 + r + diag + 1;
    lim = lim < 0 ? 0 : (lim > nk ? nk : lim);
    __m512 mv = ninf;
    __mmask16 nan = 0;  // max drops NaN: NaN scores (NaN / ±inf inputs) are looked for apart
    #pragma GCC unroll 16
    for (int i = 0; i < NC; ++i) {
      c[r][i] = _mm512_mask_mov_ps(ninf, lanes_below(lim - 16 * i), c[r][i]);
      mv = _mm512_max_ps(mv, c[r][i]);
      nan |= _mm512_cmp_ps_mask(c[r][i], c[r][i], _CMP_UNORD_Q);
    }
    const float tmx = _mm512_reduce_max_ps(mv);
    const float mold = m[r];
    const float mx = mold > tmx ? mold : tmx;
    float* pr = P + r * kTileN;
    const bool nan_row = nan != 0 || mold != mold;
    if (nan_row || mx == -std::numeric_limits<float>::infinity()) {  // NaN row or nothing seen yet: P row = 0
      #pragma GCC unroll 16
      for (int i = 0; i < NC; ++i) {
        c[r][i] = _mm512_setzero_ps();
        _mm512_storeu_ps(pr + 16 * i, c[r][i]);
      }
      // acc is still 0 (alpha 1), or the row is NaN for good: alpha NaN makes acc NaN
      alpha[r] = nan_row ? std::numeric_limits<float>::quiet_NaN() : 1.0f;
      if (nan_row) m[r] = l[r] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const __m512 vmx = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    #pragma GCC unroll 16
    for (int i = 0; i < NC; ++i) {
      const __m512 e = exp_nonpos(_mm512_sub_ps(c[r][i], vmx));
      c[r][i] = e;
      if (!vt) _mm512_storeu_ps(pr + 16 * i, e);
      sum = _mm512_add_ps(sum, e);
    }
    const float a = _mm512_cvtss_f32(exp_nonpos(_mm512_set1_ps(mold - mx)));  // −inf → 0
    l[r] = l[r] * a + _mm512_reduce_add_ps(sum);
    m[r] = mx;
    alpha[r] = a;
  }
  if (vt) pv_small<R, NC>(acc, dh, alpha, c, vt);
  else pv_block<R>(acc, dh, alpha, P, v, ldv, kn);
}

template <int R>
inline void fwd_rows(float* P, float* m, float* l, float* acc, const float* qs, const float* kt,
                     const float* v, int64_t ldv, int64_t r0, int64_t nk, int64_t diag,
                     int64_t dh, Prefetch* pf, const float* vt) {
  int64_t kn = r0 + R + diag;  // keys j < kn are seen by some row of the block
  kn = kn > nk ? nk : kn;
  if (kn <= 0) return;  // no row of the block sees a key of this tile: nothing changes
  switch ((kn + 15) / 16) {
    case 1: fwd_rows_nc<R, 1>(P, m, l, acc, qs, kt, v, ldv, r0, nk, kn, diag, dh, pf, vt); break;
    case 2: fwd_rows_nc<R, 2>(P, m, l, acc, qs, kt, v, ldv, r0, nk, kn, diag, dh, pf, vt); break;
    case 3: fwd_rows_nc<R, 3>(P, m, l, acc, qs, kt, v, ldv, r0, nk, kn, diag, dh, pf, vt); break;
    default: fwd_rows_nc<R, 4>(P, m, l, acc, qs, kt, v, ldv, r0, nk, kn, diag, dh, pf, vt); break;
  }
}

inline void fwd_rows_all(float* s, float* m, float* l, float* acc, const float* qs,
                         const float* kt, const float* v, int64_t ldv, int64_t nr, int64_t nk,
                         int64_t diag, int64_t dh, Prefetch* pf, const float* vt) {
  int64_t r = 0;
  for (; r + 4 <= nr; r += 4)
    fwd_rows<4>(s + r * kTileN, m + r, l + r, acc + r * dh, qs + r * dh, kt, v, ldv, r, nk, diag,
                dh, pf, vt);
  float* P = s + r * kTileN;
  float *mr = m + r, *lr = l + r, *ar = acc + r * dh;
  const float* qr = qs + r * dh;
  switch (nr - r) {
    case 3: fwd_rows<3>(P, mr, lr, ar, qr, kt, v, ldv, r, nk, diag, dh, pf, vt); break;
    case 2: fwd_rows<2>(P, mr, lr, ar, qr, kt, v, ldv, r, nk, diag, dh, pf, vt); break;
    case 1: fwd_rows<1>(P, mr, lr, ar, qr, kt, v, ldv, r, nk, diag, dh, pf, vt); break;
    default: break;
  }
}

// ---------------------------------------------------------------------------------------------
// Backward (hand-written AVX-512).
//
// bwd_rows: R query rows (tile row r0) of one key tile: S = q kᵀ in R·NC zmm accumulators,
// P = e^{scale·S − lse} on the keys the row sees (0 elsewhere: causal, key length; lse = +inf →
// 0, NaN → NaN), P stored; then dP = dO vᵀ in the same registers and dS·scale =
// scale·P ∘ (dP − D) stored — the formula of the generic path on every column < 16·NC, so
// masked columns come out as scale·0·(dP − D) there too (NaN when D is NaN). A block no row of
// which sees any key of the tile skips the score GEMM (P = 0).
template <int R, int NC>
inline void bwd_rows(float* P, float* dS, const float* q, int64_t ldq, const float* g,
                     int64_t ldg, const float* kt, const float* vt, const float* L,
                     const float* D, int64_t r0, int64_t nk, int64_t diag, int64_t dh,
                     float scale) {
  __m512 c[R][NC];
  const __m512 vscale = _mm512_set1_ps(scale);
  if (r0 + R + diag > 0) {
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 16
      for (int i = 0; i < NC; ++i) c[r][i] = _mm512_setzero_ps();
    for (int64_t d = 0; d < dh; ++d) {
      const float* b = kt + d * kTileN;
      __m512 bv[NC];
      #pragma GCC unroll 16
      for (int i = 0; i < NC; ++i) bv[i] = _mm512_loadu_ps(b + 16 * i);
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 a = _mm512_set1_ps(q[r * ldq + d]);
        #pragma GCC unroll 16
        for (int i = 0; i < NC; ++i) c[r][i] = _mm512_fmadd_ps(a, bv[i], c[r][i]);
      }
    }
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      int64_t lim = r0 + r + diag + 1;
      lim = lim < 0 ? 0 : (lim > nk ? nk : lim);
      const __m512 vl = _mm512_set1_ps(L[r]);
      #pragma GCC unroll 16
      for (int i = 0; i < NC; ++i) {
        const __m512 e = exp_nonpos(_mm512_sub_ps(_mm512_mul_ps(vscale, c[r][i]), vl));
        _mm512_storeu_ps(P + r * kTileN + 16 * i,
                         _mm512_maskz_mov_ps(lanes_below(lim - 16 * i), e));
      }
    }
  } else {
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 16
      for (int i = 0; i < NC; ++i) _mm512_storeu_ps(P + r * kTileN + 16 * i, _mm512_setzero_ps());
  }
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 16
    for (int i = 0; i < NC; ++i) c[r][i] = _mm512_setzero_ps();
  for (int64_t d = 0; d < dh; ++d) {
    const float* b = vt + d * kTileN;
    __m512 bv[NC];
    #pragma GCC unroll 16
    for (int i = 0; i < NC; ++i) bv[i] = _mm512_loadu_ps(b + 16 * i);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(g[r * ldg + d]);
      #pragma GCC unroll 16
      for (int i = 0; i < NC; ++i) c[r][i] = _mm512_fmadd_ps(a, bv[i], c[r][i]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 vd = _mm512_set1_ps(D[r]);
    #pragma GCC unroll 16
    for (int i = 0; i < NC; ++i) {
      const __m512 p = _mm512_loadu_ps(P + r * kTileN + 16 * i);
      _mm512_storeu_ps(dS + r * kTileN + 16 * i,
                       _mm512_mul_ps(_mm512_mul_ps(vscale, p), _mm512_sub_ps(c[r][i], vd)));
    }
  }
}

template <int NC>
inline void bwd_rows_all(float* P, float* dS, const float* q, int64_t ldq, const float* g,
                         int64_t ldg, const float* kt, const float* vt, const float* L,
                         const float* D, int64_t nr, int64_t nk, int64_t diag, int64_t dh,
                         float scale) {
  int64_t r = 0;
  for (; r + 4 <= nr; r += 4)
    bwd_rows<4, NC>(P + r * kTileN, dS + r * kTileN, q + r * ldq, ldq, g + r * ldg, ldg, kt, vt,
                    L + r, D + r, r, nk, diag, dh, scale);
  for (; r < nr; ++r)
    bwd_rows<1, NC>(P + r * kTileN, dS + r * kTileN, q + r * ldq, ldq, g + r * ldg, ldg, kt, vt,
                    L + r, D + r, r, nk, diag, dh, scale);
}

// C rows [R, w0 + 16·NW) (the last vector masked by tail) += op(A) [R, nc] · B [nc, ·].
template <int R, int NW>
inline void nn_rows(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                    const float* B, int64_t ldb, int64_t nc, __mmask16 tail) {
  __m512 o[R][NW];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 16
    for (int i = 0; i < NW; ++i)
      o[r][i] = _mm512_maskz_loadu_ps(i == NW - 1 ? tail : __mmask16(0xffff), C + r * ldc + 16 * i);
  for (int64_t c = 0; c < nc; ++c) {
    const float* br = B + c * ldb;
    __m512 b[NW];
    #pragma GCC unroll 16
    for (int i = 0; i < NW; ++i)
      b[i] = _mm512_maskz_loadu_ps(i == NW - 1 ? tail : __mmask16(0xffff), br + 16 * i);
    const float* ac = A + c * acs;
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(ac[r * ars]);
      #pragma GCC unroll 16
      for (int i = 0; i < NW; ++i) o[r][i] = _mm512_fmadd_ps(a, b[i], o[r][i]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 16
    for (int i = 0; i < NW; ++i)
      _mm512_mask_storeu_ps(C + r * ldc + 16 * i, i == NW - 1 ? tail : __mmask16(0xffff), o[r][i]);
}

// All rows for one column chunk of NW vectors: blocks of RB rows (RB·NW ≈ 16 accumulators),
// then 4-row blocks, then single rows.
template <int RB, int NW>
inline void nn_chunk(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                     const float* B, int64_t ldb, int64_t rows, int64_t nc, __mmask16 tail) {
  int64_t r = 0;
  for (; r + RB <= rows; r += RB)
    nn_rows<RB, NW>(C + r * ldc, ldc, A + r * ars, ars, acs, B, ldb, nc, tail);
  if (RB > 4)
    for (; r + 4 <= rows; r += 4)
      nn_rows<4, NW>(C + r * ldc, ldc, A + r * ars, ars, acs, B, ldb, nc, tail);
  for (; r < rows; ++r) nn_rows<1, NW>(C + r * ldc, ldc, A + r * ars, ars, acs, B, ldb, nc, tail);
}

}  // namespace

void attention_bwd_scores_avx512(float* P, float* dS, const float* q, int64_t ldq,
                                 const float* g, int64_t ldg, const float* kt, const float* vt,
                                 const float* L, const float* D, int64_t nr, int64_t nk,
                                 int64_t diag, int64_t dh, float scale) {
  switch ((nk + 15) / 16) {
    case 1: bwd_rows_all<1>(P, dS, q, ldq, g, ldg, kt, vt, L, D, nr, nk, diag, dh, scale); break;
    case 2: bwd_rows_all<2>(P, dS, q, ldq, g, ldg, kt, vt, L, D, nr, nk, diag, dh, scale); break;
    case 3: bwd_rows_all<3>(P, dS, q, ldq, g, ldg, kt, vt, L, D, nr, nk, diag, dh, scale); break;
    default: bwd_rows_all<4>(P, dS, q, ldq, g, ldg, kt, vt, L, D, nr, nk, diag, dh, scale); break;
  }
}

void attention_bwd_nn_acc_avx512(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                                 const float* B, int64_t ldb, int64_t rows, int64_t nc,
                                 int64_t dh) {
  for (int64_t w0 = 0; w0 < dh; w0 += 64) {
    const int64_t left = dh - w0;
    const __mmask16 tail = lanes_below(left - (left > 64 ? 48 : (left - 1) / 16 * 16));
    float* Cw = C + w0;
    const float* Bw = B + w0;
    switch (left >= 64 ? 4 : (left + 15) / 16) {
      case 4: nn_chunk<4, 4>(Cw, ldc, A, ars, acs, Bw, ldb, rows, nc, tail); break;
      case 3: nn_chunk<5, 3>(Cw, ldc, A, ars, acs, Bw, ldb, rows, nc, tail); break;
      case 2: nn_chunk<8, 2>(Cw, ldc, A, ars, acs, Bw, ldb, rows, nc, tail); break;
      default: nn_chunk<16, 1>(Cw, ldc, A, ars, acs, Bw, ldb, rows, nc, tail); break;
    }
  }
}

void attention_fwd_tile_step_avx512(float* s, float* m, float* l, float* acc, const float* qs,
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
  const int64_t iters = (nr + 3) / 4 * dh;
  pf.per_iter = (pf.lines[0] + pf.lines[1] + iters - 1) / iters;
  alignas(64) float vt[16 * kTileN];  // vᵀ of the tile for small head dims
  const float* vtp = nullptr;
  if (dh <= 16) {
    for (int64_t d = 0; d < dh; ++d) {
      float* row = vt + d * kTileN;
      for (int64_t j = 0; j < nk; ++j) row[j] = v[j * ldv + d];
      for (int64_t j = nk; j < kTileN; ++j) row[j] = 0.0f;
    }
    vtp = vt;
  }
  fwd_rows_all(s, m, l, acc, qs, kt, v, ldv, nr, nk, diag, dh, &pf, vtp);
}

void attention_transpose_tile_avx512(float* Bt, const float* X, int64_t ldx, int64_t nk,
                                     int64_t dh) {
  constexpr int64_t kW = 64;
  const int64_t jf = nk / 16 * 16, df = dh / 16 * 16;
  for (int64_t j0 = 0; j0 < jf; j0 += 16)
    for (int64_t d0 = 0; d0 < df; d0 += 16) transpose16(Bt + d0 * kW + j0, kW, X + j0 * ldx + d0, ldx);
  for (int64_t d = 0; d < dh; ++d) {
    float* row = Bt + d * kW;
    const int64_t jlo = d < df ? jf : 0;  // rows d >= df were not covered by the blocks
    for (int64_t j = jlo; j < nk; ++j) row[j] = X[j * ldx + d];
    for (int64_t j = nk; j < kW; ++j) row[j] = 0.0f;
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
