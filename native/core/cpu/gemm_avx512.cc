// cpu/gemm_avx512.cc — AVX-512 GEMM micro-kernel: 14 rows × 32 columns (28 zmm accumulators,
// 2 zmm B loads + 14 broadcasts per k step). Compiled with -mavx512f -mavx512bw -mavx512vl
// -mavx512dq -mfma; only called after runtime detection says the CPU has them.
// Contract: see gemm_kernels.h.
// Verdicts: the in-place-B variant for few rows (B read where it lies, no pack) is kept:
// 32×512×512 on one core ~62% → ~85% of the AVX-512 peak (the B pack was a third of the time).
// The dot form's first row block prefetches the next 4 rows of B (as the AVX2 twin): kept, Zen 5,
// weights cold (64 distinct 512×512 matrices), m 7 … 64 × n 512 × k 512 Y = X·Wᵀ: 1.35–1.5× on
// one thread at m 7, 1.2–1.27× on two threads at every m; no loss with the weights in cache.
#include <immintrin.h>

#include "gemm_kernels.h"

namespace merclip {
namespace cpu {
namespace detail {

namespace {

constexpr int kMR = 14;
constexpr int kNR = 32;

template <int MR>
__attribute__((always_inline)) inline void store_row(float* c, __m512 acc0, __m512 acc1,
                                                     const GemmTile& t, __mmask16 m0,
                                                     __mmask16 m1, __m512 bias0, __m512 bias1) {
  const __m512 alpha = _mm512_set1_ps(t.alpha);
  if (t.first) {
    __m512 r0 = _mm512_add_ps(_mm512_mul_ps(alpha, acc0), bias0);
    __m512 r1 = _mm512_add_ps(_mm512_mul_ps(alpha, acc1), bias1);
    if (t.beta != 0.0f) {
      const __m512 beta = _mm512_set1_ps(t.beta);
      r0 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m0, c), r0);
      r1 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m1, c + 16), r1);
    }
    _mm512_mask_storeu_ps(c, m0, r0);
    _mm512_mask_storeu_ps(c + 16, m1, r1);
  } else {
    _mm512_mask_storeu_ps(c, m0, _mm512_fmadd_ps(alpha, acc0, _mm512_maskz_loadu_ps(m0, c)));
    _mm512_mask_storeu_ps(c + 16, m1,
                          _mm512_fmadd_ps(alpha, acc1, _mm512_maskz_loadu_ps(m1, c + 16)));
  }
}

// kInPlace: B read where it lies, step p at b + p·ldb (few rows; see gemm_kernels.h), the rows
// 8 steps ahead prefetched; otherwise a packed, 64-byte aligned panel.
template <int MR, bool kInPlace>
__attribute__((always_inline)) inline void kernel_body(int64_t kc, const float* __restrict a,
                                                       const float* __restrict b, int64_t ldb,
                                                       const GemmTile& t) {
  const int64_t bstep = kInPlace ? ldb : kNR;
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    c0[i] = _mm512_setzero_ps();
    c1[i] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < kc; ++p) {
    __m512 b0, b1;
    if (kInPlace) {
      _mm_prefetch(reinterpret_cast<const char*>(b + 8 * bstep), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b + 8 * bstep + 31), _MM_HINT_T0);
      b0 = _mm512_loadu_ps(b);
      b1 = _mm512_loadu_ps(b + 16);
    } else {
      b0 = _mm512_load_ps(b);
      b1 = _mm512_load_ps(b + 16);
      _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kNR), _MM_HINT_T0);
    }
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMR;
    b += bstep;
  }
  const int nr = t.nr;
  const __mmask16 m0 = nr >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nr) - 1u);
  const __mmask16 m1 = nr >= 32 ? 0xFFFF
                       : nr <= 16 ? 0
                                  : static_cast<__mmask16>((1u << (nr - 16)) - 1u);
  __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
  if (t.first && t.bias != nullptr) {
    bias0 = _mm512_maskz_loadu_ps(m0, t.bias);
    bias1 = _mm512_maskz_loadu_ps(m1, t.bias + 16);
  }
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) store_row<MR>(t.c + i * t.ldc, c0[i], c1[i], t, m0, m1, bias0, bias1);
}

template <int MR>
void kernel(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  kernel_body<MR, false>(kc, a, b, 0, t);
}

template <int MR>
void kernel_in_place(int64_t kc, const float* a, const float* b, int64_t ldb, const GemmTile& t) {
  kernel_body<MR, true>(kc, a, b, ldb, t);
}

// Few rows only (m <= 64: balanced panels of 5 … 14 rows). No copy (copy_in_place_b is false
// here: gemm_kernels.h), so `copy` is always null.
void micro_kernel_in_place(int64_t kc, const float* a, const float* b, int64_t ldb,
                           float* /*copy*/, const GemmTile& t) {
  switch (t.mr) {
    case 14: kernel_in_place<14>(kc, a, b, ldb, t); break;
    case 13: kernel_in_place<13>(kc, a, b, ldb, t); break;
    case 12: kernel_in_place<12>(kc, a, b, ldb, t); break;
    case 11: kernel_in_place<11>(kc, a, b, ldb, t); break;
    case 10: kernel_in_place<10>(kc, a, b, ldb, t); break;
    case 9: kernel_in_place<9>(kc, a, b, ldb, t); break;
    case 8: kernel_in_place<8>(kc, a, b, ldb, t); break;
    case 7: kernel_in_place<7>(kc, a, b, ldb, t); break;
    case 6: kernel_in_place<6>(kc, a, b, ldb, t); break;
    case 5: kernel_in_place<5>(kc, a, b, ldb, t); break;
    case 4: kernel_in_place<4>(kc, a, b, ldb, t); break;
    case 3: kernel_in_place<3>(kc, a, b, ldb, t); break;
    case 2: kernel_in_place<2>(kc, a, b, ldb, t); break;
    default: kernel_in_place<1>(kc, a, b, ldb, t); break;
  }
}

void micro_kernel(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  switch (t.mr) {
    case 14: kernel<14>(kc, a, b, t); break;
    case 13: kernel<13>(kc, a, b, t); break;
    case 12: kernel<12>(kc, a, b, t); break;
    case 11: kernel<11>(kc, a, b, t); break;
    case 10: kernel<10>(kc, a, b, t); break;
    case 9: kernel<9>(kc, a, b, t); break;
    case 8: kernel<8>(kc, a, b, t); break;
    case 7: kernel<7>(kc, a, b, t); break;
    case 6: kernel<6>(kc, a, b, t); break;
    case 5: kernel<5>(kc, a, b, t); break;
    case 4: kernel<4>(kc, a, b, t); break;
    case 3: kernel<3>(kc, a, b, t); break;
    case 2: kernel<2>(kc, a, b, t); break;
    default: kernel<1>(kc, a, b, t); break;
  }
}

}  // namespace

// Dot form up to 64 rows with Bᵀ (Linear layers on a handful of tokens: the label prompts, one
// utterance's text).
GemmKernelInfo gemm_kernel_avx512() {
  return {micro_kernel, kMR, kNR, micro_kernel_in_place, gemm_dot_avx512, 64};
}

void pack_a_trans_avx512(float* dst, const float* src, int64_t lda, int64_t mc, int64_t kc,
                         int mr) {
  const int64_t panels = (mc + mr - 1) / mr;
  const __mmask16 store_mask = static_cast<__mmask16>((1u << mr) - 1u);
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = src + p * lda;
    float* d = dst + p * mr;
    for (int64_t ip = 0; ip < panels; ++ip) {
      const int64_t ib = ip * mr;
      const int64_t rows = mc - ib < mr ? mc - ib : mr;
      const __mmask16 load_mask = static_cast<__mmask16>((1u << rows) - 1u);
      _mm512_mask_storeu_ps(d + ip * kc * mr, store_mask, _mm512_maskz_loadu_ps(load_mask, s + ib));
    }
  }
}


// ---------------------------------------------------------------------------------------------
// gemm_dot_avx512 (see gemm_kernels.h): 4 rows of A × 4 rows of B = 16 zmm accumulators; per 16
// steps of k, 8 loads and 16 FMAs. A tail of k < 16 uses masked loads (zeros beyond k).

namespace {

template <int MI, int NJ, bool kPrefetch>
__attribute__((always_inline)) inline void dot_block(float* c, int64_t ldc, const float* a,
                                                     int64_t lda, const float* b, int64_t ldb,
                                                     const float* bias, int64_t k, float alpha,
                                                     float beta, const float* next) {
  __m512 acc[MI][NJ];
  for (int i = 0; i < MI; ++i)
    for (int j = 0; j < NJ; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t p = 0;
  for (; p + 16 <= k; p += 16) {
    if (kPrefetch) {  // one line of each of the next 4 rows of B per 16 steps
      for (int j = 0; j < 4; ++j) _mm_prefetch(reinterpret_cast<const char*>(next + j * ldb + p), _MM_HINT_T0);
    }
    __m512 av[MI], bv[NJ];
    for (int i = 0; i < MI; ++i) av[i] = _mm512_loadu_ps(a + i * lda + p);
    for (int j = 0; j < NJ; ++j) bv[j] = _mm512_loadu_ps(b + j * ldb + p);
    for (int i = 0; i < MI; ++i)
      for (int j = 0; j < NJ; ++j) acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
  }
  if (p < k) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (k - p)) - 1u);
    __m512 av[MI], bv[NJ];
    for (int i = 0; i < MI; ++i) av[i] = _mm512_maskz_loadu_ps(mask, a + i * lda + p);
    for (int j = 0; j < NJ; ++j) bv[j] = _mm512_maskz_loadu_ps(mask, b + j * ldb + p);
    for (int i = 0; i < MI; ++i)
      for (int j = 0; j < NJ; ++j) acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
  }
  for (int i = 0; i < MI; ++i) {
    for (int j = 0; j < NJ; ++j) {
      float r = alpha * _mm512_reduce_add_ps(acc[i][j]);
      if (beta != 0.0f) r += beta * c[i * ldc + j];
      if (bias != nullptr) r += bias[j];
      c[i * ldc + j] = r;
    }
  }
}

// The first row block also brings the next 4 rows of B into cache (next == null: none): the
// weights these calls read come from DRAM, and 4 interleaved 2 KB rows are too short for the
// hardware prefetcher to ramp up on.
template <int NJ>
void dot_rows(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
              const float* bias, int64_t m, int64_t k, float alpha, float beta, const float* next) {
  int64_t i = 0;
  if (next != nullptr && m >= 4) {
    dot_block<4, NJ, true>(c, ldc, a, lda, b, ldb, bias, k, alpha, beta, next);
    i = 4;
  } else if (next != nullptr) {
    dot_block<1, NJ, true>(c, ldc, a, lda, b, ldb, bias, k, alpha, beta, next);
    i = 1;
  }
  for (; i + 4 <= m; i += 4) dot_block<4, NJ, false>(c + i * ldc, ldc, a + i * lda, lda, b, ldb, bias, k, alpha, beta, nullptr);
  for (; i < m; ++i) dot_block<1, NJ, false>(c + i * ldc, ldc, a + i * lda, lda, b, ldb, bias, k, alpha, beta, nullptr);
}

}  // namespace

void gemm_dot_avx512(float* c, int64_t ldc, const float* a, int64_t lda, const float* b,
                     int64_t ldb, const float* bias, int64_t m, int64_t j0, int64_t j1,
                     int64_t k, float alpha, float beta) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    const float* next = j + 8 <= j1 ? b + (j + 4) * ldb : nullptr;
    dot_rows<4>(c + j, ldc, a, lda, b + j * ldb, ldb, bias ? bias + j : nullptr, m, k, alpha, beta, next);
  }
  for (; j < j1; ++j) {
    dot_rows<1>(c + j, ldc, a, lda, b + j * ldb, ldb, bias ? bias + j : nullptr, m, k, alpha, beta, nullptr);
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
