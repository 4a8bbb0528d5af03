// cpu/gemm_avx2.cc — AVX2+FMA GEMM micro-kernel: 6 rows × 16 columns (12 ymm accumulators).
// Compiled with -mavx2 -mfma; only called after runtime detection. Contract: gemm_kernels.h.
#include <immintrin.h>

#include "gemm_kernels.h"

namespace merclip {
namespace cpu {
namespace detail {

namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

__attribute__((always_inline)) inline __m256i lane_mask(int n) {
  // Lanes < n all-ones (n clamped to 0 … 8).
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

template <int MR>
void kernel(int64_t kc, const float* __restrict a, const float* __restrict b, const GemmTile& t) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    c0[i] = _mm256_setzero_ps();
    c1[i] = _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMR;
    b += kNR;
  }
  const int nr = t.nr;
  const __m256i m0 = lane_mask(nr < 8 ? nr : 8);
  const __m256i m1 = lane_mask(nr <= 8 ? 0 : (nr < 16 ? nr - 8 : 8));
  const __m256 alpha = _mm256_set1_ps(t.alpha);
  __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
  if (t.first && t.bias != nullptr) {
    bias0 = _mm256_maskload_ps(t.bias, m0);
    bias1 = _mm256_maskload_ps(t.bias + 8, m1);
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* c = t.c + i * t.ldc;
    __m256 r0, r1;
    if (t.first) {
      r0 = _mm256_add_ps(_mm256_mul_ps(alpha, c0[i]), bias0);
      r1 = _mm256_add_ps(_mm256_mul_ps(alpha, c1[i]), bias1);
      if (t.beta != 0.0f) {
        const __m256 beta = _mm256_set1_ps(t.beta);
        r0 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(c, m0), r0);
        r1 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(c + 8, m1), r1);
      }
    } else {
      r0 = _mm256_fmadd_ps(alpha, c0[i], _mm256_maskload_ps(c, m0));
      r1 = _mm256_fmadd_ps(alpha, c1[i], _mm256_maskload_ps(c + 8, m1));
    }
    _mm256_maskstore_ps(c, m0, r0);
    _mm256_maskstore_ps(c + 8, m1, r1);
  }
}

void micro_kernel(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  switch (t.mr) {
    case 6: kernel<6>(kc, a, b, t); break;
    case 5: kernel<5>(kc, a, b, t); break;
    case 4: kernel<4>(kc, a, b, t); break;
    case 3: kernel<3>(kc, a, b, t); break;
    case 2: kernel<2>(kc, a, b, t); break;
    default: kernel<1>(kc, a, b, t); break;
  }
}

}  // namespace

GemmKernelInfo gemm_kernel_avx2() { return {micro_kernel, kMR, kNR}; }

void pack_transpose_avx2(float* dst, int64_t dst_stride, int width, const float* src,
                         int64_t lds, int rows, int64_t kc) {
  const __m256 zero = _mm256_setzero_ps();
  const int64_t kc8 = kc & ~int64_t{7};
  for (int j0 = 0; j0 < width; j0 += 8) {
    const int wj = width - j0 < 8 ? width - j0 : 8;  // lanes to store
    const int rj = rows - j0 < 0 ? 0 : (rows - j0 < 8 ? rows - j0 : 8);  // lanes with data
    const __m256i store_mask = lane_mask(wj);
    const float* s = src + j0 * lds;
    for (int64_t p0 = 0; p0 < kc8; p0 += 8) {
      // r[q] = src row j0+q, columns p0 … p0+7 (zero past `rows`)
      __m256 r[8];
      for (int q = 0; q < 8; ++q) r[q] = q < rj ? _mm256_loadu_ps(s + q * lds + p0) : zero;
      // 8×8 transpose: unpack pairs, then 4-wide shuffles, then 128-bit lane permutes.
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      __m256 o[8];
      o[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
      o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
      o[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
      o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
      o[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
      o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
      o[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
      o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
      float* d = dst + p0 * dst_stride + j0;
      if (wj == 8) {
        for (int q = 0; q < 8; ++q) _mm256_storeu_ps(d + q * dst_stride, o[q]);
      } else {
        for (int q = 0; q < 8; ++q) _mm256_maskstore_ps(d + q * dst_stride, store_mask, o[q]);
      }
    }
    for (int64_t p = kc8; p < kc; ++p)
      for (int j = 0; j < wj; ++j) dst[p * dst_stride + j0 + j] = j < rj ? s[j * lds + p] : 0.0f;
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
