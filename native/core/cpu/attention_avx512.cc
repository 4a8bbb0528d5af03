// native/core/cpu/attention_avx512.cc — AVX-512 helpers for cpu/attention.cc (built with
// -mavx512f…; called only when merclip::simd_level() is avx512), so a portable build (baseline
// x86-64 generic code) still gets zmm tile kernels.
//
// attention_gemm_nt_avx512 / attention_gemm_nn_acc_avx512: the two tile GEMMs of attention.cc
// (gemm_nt, gemm_nn_acc there — the same loops, kept in step by hand; compiled here with
// AVX-512 flags they become 4-row × 64-lane register tiles of zmm FMAs).
//
// transpose_tile_avx512: Bt [dh, 64] = X [nk, dh] (row stride dh)ᵀ, columns nk … 63 zeroed — the
// kᵀ / vᵀ tiles of the attention kernels. Full 16 × 16 blocks go through registers (the
// unpack / shuffle_f32x4 transpose); edges are copied element by element. A pure copy, so the
// result is bitwise the same as the generic loop's.
#include <immintrin.h>

#include <cstdint>

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

// C [rows, 64] = A [rows, dh] · Btᵀ, Bt [dh, 64].
template <int R>
inline void nt_rows(float* __restrict C, int64_t ldc, const float* __restrict A, int64_t lda,
                    const float* __restrict Bt, int64_t dh) {
  constexpr int kBK = 64;
  float acc[R][kBK] = {};
  for (int64_t d = 0; d < dh; ++d) {
    const float* __restrict b = Bt + d * kBK;
    for (int r = 0; r < R; ++r) {
      const float a = A[r * lda + d];
      for (int j = 0; j < kBK; ++j) acc[r][j] += a * b[j];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < kBK; ++j) C[r * ldc + j] = acc[r][j];
}

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

}  // namespace

void attention_gemm_nt_avx512(float* C, int64_t ldc, const float* A, int64_t lda,
                              const float* Bt, int64_t rows, int64_t dh) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) nt_rows<4>(C + r * ldc, ldc, A + r * lda, lda, Bt, dh);
  switch (rows - r) {
    case 3: nt_rows<3>(C + r * ldc, ldc, A + r * lda, lda, Bt, dh); break;
    case 2: nt_rows<2>(C + r * ldc, ldc, A + r * lda, lda, Bt, dh); break;
    case 1: nt_rows<1>(C + r * ldc, ldc, A + r * lda, lda, Bt, dh); break;
    default: break;
  }
}

void attention_gemm_nn_acc_avx512(float* C, int64_t ldc, const float* A, int64_t ars,
                                  int64_t acs, const float* B, int64_t ldb, int64_t rows,
                                  int64_t nc, int64_t dh) {
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

void attention_transpose_tile_avx512(float* Bt, const float* X, int64_t nk, int64_t dh) {
  constexpr int64_t kW = 64;
  const int64_t jf = nk / 16 * 16, df = dh / 16 * 16;
  for (int64_t j0 = 0; j0 < jf; j0 += 16)
    for (int64_t d0 = 0; d0 < df; d0 += 16) transpose16(Bt + d0 * kW + j0, kW, X + j0 * dh + d0, dh);
  for (int64_t d = 0; d < dh; ++d) {
    float* row = Bt + d * kW;
    const int64_t jlo = d < df ? jf : 0;  // rows d >= df were not covered by the blocks
    for (int64_t j = jlo; j < nk; ++j) row[j] = X[j * dh + d];
    for (int64_t j = nk; j < kW; ++j) row[j] = 0.0f;
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
