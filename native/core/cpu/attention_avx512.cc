// native/core/cpu/attention_avx512.cc — AVX-512 helpers for cpu/attention.cc (built with
// -mavx512f…; called only when merclip::simd_level() is avx512), so a portable build (baseline
// x86-64 generic code) still gets zmm tile kernels.
//
// attention_gemm_nt_avx512 / attention_gemm_nn_acc_avx512: the two tile GEMMs of attention.cc
// (gemm_nt_tiles / gemm_nn_acc_tiles from cpu/attention_tiles.h, the same loops attention.cc
// runs otherwise; the header's anonymous namespace gives this file its own copy, compiled here
// with AVX-512 flags into 4-row × 64-lane register tiles of zmm FMAs).
//
// transpose_tile_avx512: Bt [dh, 64] = X [nk, dh] (row stride dh)ᵀ, columns nk … 63 zeroed — the
// kᵀ / vᵀ tiles of the attention kernels. Full 16 × 16 blocks go through registers (the
// unpack / shuffle_f32x4 transpose); edges are copied element by element. A pure copy, so the
// result is bitwise the same as the generic loop's.
#include <immintrin.h>

#include <cstdint>

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

}  // namespace

void attention_gemm_nt_avx512(float* C, int64_t ldc, const float* A, int64_t lda,
                              const float* Bt, int64_t rows, int64_t dh) {
  gemm_nt_tiles(C, ldc, A, lda, Bt, rows, dh);
}

void attention_gemm_nn_acc_avx512(float* C, int64_t ldc, const float* A, int64_t ars,
                                  int64_t acs, const float* B, int64_t ldb, int64_t rows,
                                  int64_t nc, int64_t dh) {
  gemm_nn_acc_tiles(C, ldc, A, ars, acs, B, ldb, rows, nc, dh);
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
