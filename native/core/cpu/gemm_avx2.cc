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

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
