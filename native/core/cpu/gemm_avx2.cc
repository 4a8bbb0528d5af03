// cpu/gemm_avx2.cc — the AVX2+FMA level of the GEMM: the register tile and the packing moves the
// driver (gemm.cc) uses at this level. Compiled with -mavx2 -mfma; only called after runtime
// detection. Contract: gemm_kernels.h.
//
// Register tile 6×16: 12 ymm accumulators + 2 B vectors + 1 broadcast of A = 15 of the 16 ymm
// registers; per k step 2 B loads, 6 broadcasts and 12 FMAs: FMA-bound on AVX2 cores (2 FMAs and
// >= 2 loads per cycle); ~98–100% of the AVX2 FMA peak with its panels in L1/L2 (any kc from 64
// to 1024). 6×16 rather than 4×24 (the same 12 FMAs, one load fewer): the gemm table's m and n
// are multiples of 6 or 16, while 4×24 wastes a third of a panel at n = 512.
// Verdicts (kept):
// - k loop unrolled by 4: fewer loop-carried pointer updates per FMA.
// - full tiles store with plain loads/stores; only edge tiles use vmaskmov (a masked store is
//   microcoded on AMD cores).
// - the tile's C lines prefetched before the k loop: C (up to 98 MB) is never cached.
// - the in-place-B variant (few rows): the tile's first A panel brings each B row from L3/DRAM
//   with an 8-row-ahead prefetch, the others read it from L1; no B pack (m = 32: ~76% → ~84% of
//   peak on one core). From L1 only if the panel stays there: B rows 2 KB apart fill 2 of the
//   64 L1 sets, so on Zen 4 (32 KB L1) the later panels read it from L2 (m = 32: 52 % of peak).
//   Hence the copying variant: the first A panel's tile also stores the 16 floats of each step
//   to a packed panel, the later panels run the packed kernel on it (Zen 4, one core, B warm:
//   m = 32 61.5 → 95 GFLOP/s, m = 16 54 → 85, m = 64 57 → 102; cold B: the same ~60).
// - packing with ymm moves here, not auto-vectorised C++ in gemm.cc (the portable build then
//   packs like the native one); the k-major Aᵀ pack prefetches its rows 4 steps ahead.
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

// kLdb == 0: b is a packed panel (NR floats per step, 32-byte aligned); otherwise B in place,
// step p at b + p·ldb, the next rows prefetched (each is a new cache line, read once from L3 or
// DRAM by the tile's first A panel and from L1 by the others).
template <int MR, bool kInPlace, bool kCopy = false>
__attribute__((always_inline)) inline void kernel_body(int64_t kc, const float* __restrict a,
                                                       const float* __restrict b, int64_t ldb,
                                                       const GemmTile& t,
                                                       float* __restrict copy = nullptr) {
  const int64_t bstep = kInPlace ? ldb : kNR;
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    c0[i] = _mm256_setzero_ps();
    c1[i] = _mm256_setzero_ps();
    // The tile's C lines arrive while the k loop runs (C is far too large to stay cached).
    _mm_prefetch(reinterpret_cast<const char*>(t.c + i * t.ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(t.c + i * t.ldc + 15), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    __m256 b0, b1;
    if (kInPlace) {
      _mm_prefetch(reinterpret_cast<const char*>(b + 8 * bstep), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b + 8 * bstep + 15), _MM_HINT_T0);
      b0 = _mm256_loadu_ps(b);
      b1 = _mm256_loadu_ps(b + 8);
      if (kCopy) {
        _mm256_store_ps(copy, b0);
        _mm256_store_ps(copy + 8, b1);
        copy += kNR;
      }
    } else {
      b0 = _mm256_load_ps(b);
      b1 = _mm256_load_ps(b + 8);
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMR;
    b += bstep;
  }
  const __m256 alpha = _mm256_set1_ps(t.alpha);
  if (t.nr == kNR) {
    __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
    if (t.first && t.bias != nullptr) {
      bias0 = _mm256_loadu_ps(t.bias);
      bias1 = _mm256_loadu_ps(t.bias + 8);
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* c = t.c + i * t.ldc;
      __m256 r0, r1;
      if (t.first) {
        r0 = _mm256_fmadd_ps(alpha, c0[i], bias0);
        r1 = _mm256_fmadd_ps(alpha, c1[i], bias1);
        if (t.beta != 0.0f) {
          const __m256 beta = _mm256_set1_ps(t.beta);
          r0 = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c), r0);
          r1 = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c + 8), r1);
        }
      } else {
        r0 = _mm256_fmadd_ps(alpha, c0[i], _mm256_loadu_ps(c));
        r1 = _mm256_fmadd_ps(alpha, c1[i], _mm256_loadu_ps(c + 8));
      }
      _mm256_storeu_ps(c, r0);
      _mm256_storeu_ps(c + 8, r1);
    }
    return;
  }
  const int nr = t.nr;
  const __m256i m0 = lane_mask(nr < 8 ? nr : 8);
  const __m256i m1 = lane_mask(nr <= 8 ? 0 : nr - 8);
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
      r0 = _mm256_fmadd_ps(alpha, c0[i], bias0);
      r1 = _mm256_fmadd_ps(alpha, c1[i], bias1);
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

template <int MR>
void kernel(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  kernel_body<MR, false>(kc, a, b, 0, t);
}

template <int MR>
void kernel_in_place(int64_t kc, const float* a, const float* b, int64_t ldb, float* copy,
                     const GemmTile& t) {
  if (copy != nullptr) kernel_body<MR, true, true>(kc, a, b, ldb, t, copy);
  else kernel_body<MR, true>(kc, a, b, ldb, t);
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

// B in place reads 16 columns per step: the driver calls it for full-width tiles only.
void micro_kernel_in_place(int64_t kc, const float* a, const float* b, int64_t ldb, float* copy,
                           const GemmTile& t) {
  switch (t.mr) {
    case 6: kernel_in_place<6>(kc, a, b, ldb, copy, t); break;
    case 5: kernel_in_place<5>(kc, a, b, ldb, copy, t); break;
    case 4: kernel_in_place<4>(kc, a, b, ldb, copy, t); break;
    case 3: kernel_in_place<3>(kc, a, b, ldb, copy, t); break;
    case 2: kernel_in_place<2>(kc, a, b, ldb, copy, t); break;
    default: kernel_in_place<1>(kc, a, b, ldb, copy, t); break;
  }
}

// 8×8 transpose of r[0..7] into o[0..7] (o[q] lane j = r[j] lane q).
__attribute__((always_inline)) inline void transpose8(const __m256 r[8], __m256 o[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  o[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  o[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  o[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  o[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Stores the first 6 lanes of v at d (a 16-byte and an 8-byte move).
__attribute__((always_inline)) inline void store6(float* d, __m256 v) {
  _mm_storeu_ps(d, _mm256_castps256_ps128(v));
  _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(v, 1));
}

}  // namespace

// Dot form only up to 8 rows (one sample's label queries): A then stays in L1 beside the 4 B rows
// and the call is bound by reading B; with more rows the 8-lane form is load-bound and the packed
// path is faster (native/core/dev/README.md).
GemmKernelInfo gemm_kernel_avx2() {
  return {micro_kernel, kMR, kNR, micro_kernel_in_place, gemm_dot_avx2, 8, true};
}

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
      __m256 r[8], o[8];
      for (int q = 0; q < 8; ++q) r[q] = q < rj ? _mm256_loadu_ps(s + q * lds + p0) : zero;
      transpose8(r, o);
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

void pack_a_avx2(float* dst, const float* src, int64_t lda, int64_t mc, int64_t kc) {
  // Panel ip: rows ib … ib+5 of src (row-major, k contiguous), step p at d[p·6 + i]. Eight k
  // steps at a time: load 6 row segments (2 zero rows), transpose, and store each step's 8 lanes
  // at its slot — lanes 6, 7 land in the next step's slot, which the next store overwrites; the
  // block's last step stores 6 lanes only.
  const __m256 zero = _mm256_setzero_ps();
  const int64_t kc8 = kc & ~int64_t{7};
  const int64_t panels = (mc + kMR - 1) / kMR;
  for (int64_t ip = 0; ip < panels; ++ip) {
    const int64_t ib = ip * kMR;
    const int rows = mc - ib < kMR ? static_cast<int>(mc - ib) : kMR;
    const float* s = src + ib * lda;
    float* d = dst + ip * kc * kMR;
    for (int64_t p0 = 0; p0 < kc8; p0 += 8) {
      __m256 r[8], o[8];
      for (int q = 0; q < 8; ++q) r[q] = q < rows ? _mm256_loadu_ps(s + q * lda + p0) : zero;
      transpose8(r, o);
      float* dp = d + p0 * kMR;
      for (int q = 0; q < 7; ++q) _mm256_storeu_ps(dp + q * kMR, o[q]);
      store6(dp + 7 * kMR, o[7]);
    }
    for (int64_t p = kc8; p < kc; ++p)
      for (int i = 0; i < kMR; ++i) d[p * kMR + i] = i < rows ? s[i * lda + p] : 0.0f;
  }
}

void pack_a_trans_avx2(float* dst, const float* src, int64_t lda, int64_t mc, int64_t kc) {
  // op(A)(i, p) = src[p·lda + i]: step p of every panel is one contiguous run of the source row;
  // p outermost so each source row is read once, front to back.
  const int64_t full = mc / kMR;
  const int tail = static_cast<int>(mc - full * kMR);
  const __m256i tail_mask = lane_mask(tail);
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = src + p * lda;
    float* d = dst + p * kMR;
    // Rows are far apart (A is k-major, e.g. dYᵀ with 10⁴ rows of 2048): fetch the row 4 steps
    // ahead ourselves, a line at a time; the hardware prefetcher sees only short runs.
    if (p + 4 < kc) {
      for (int64_t i = 0; i < mc; i += 16) _mm_prefetch(reinterpret_cast<const char*>(s + 4 * lda + i), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(s + 4 * lda + mc - 1), _MM_HINT_T0);
    }
    for (int64_t ip = 0; ip < full; ++ip) {
      const __m128 lo = _mm_loadu_ps(s + ip * kMR);
      const __m128 hi = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(s + ip * kMR + 4)));
      float* dp = d + ip * kc * kMR;
      _mm_storeu_ps(dp, lo);
      _mm_storel_pi(reinterpret_cast<__m64*>(dp + 4), hi);
    }
    if (tail > 0) store6(d + full * kc * kMR, _mm256_maskload_ps(s + full * kMR, tail_mask));
  }
}

void pack_b_avx2(float* dst, const float* src, int64_t ldb, int cols, int64_t kc) {
  // op(B)(p, j) = src[p·ldb + j], 16 columns per step (zero past `cols`).
  if (cols == kNR) {
    for (int64_t p = 0; p < kc; ++p) {
      const float* s = src + p * ldb;
      _mm256_store_ps(dst + p * kNR, _mm256_loadu_ps(s));
      _mm256_store_ps(dst + p * kNR + 8, _mm256_loadu_ps(s + 8));
    }
    return;
  }
  const __m256i m0 = lane_mask(cols < 8 ? cols : 8);
  const __m256i m1 = lane_mask(cols <= 8 ? 0 : cols - 8);
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = src + p * ldb;
    _mm256_store_ps(dst + p * kNR, _mm256_maskload_ps(s, m0));
    _mm256_store_ps(dst + p * kNR + 8, _mm256_maskload_ps(s + 8, m1));
  }
}


// gemm_dot_avx2 (gemm_kernels.h): 2 rows of A × 4 rows of B = 8 ymm accumulators (8 FMA
// chains: two FMA pipes of latency 4), 4 B vectors and 1 A vector live = 13 of the 16 ymm
// registers, so nothing spills; per 8 steps of k, 6 loads and 8 FMAs. B rows are read straight
// from memory, front to back (4 sequential streams): for a few rows of A there is no reuse of B
// to pay for a pack, and the Linear weights these calls read (1–4 MB each) usually come from
// DRAM. The 8 accumulators reduce in one fixed hadd tree to C's 2×4 block.
namespace {

__attribute__((always_inline)) inline __m128 hsum4(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
  // Lane j of the result = the sum of the 8 lanes of v_j.
  const __m256 t0 = _mm256_hadd_ps(v0, v1);
  const __m256 t1 = _mm256_hadd_ps(v2, v3);
  const __m256 u = _mm256_hadd_ps(t0, t1);
  return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

__attribute__((always_inline)) inline float hsum1(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 h = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

template <int MI, int NJ, bool kPrefetch>
__attribute__((always_inline)) inline void dot_block2(float* c, int64_t ldc, const float* a,
                                                      int64_t lda, const float* b, int64_t ldb,
                                                      const float* bias, int64_t k, float alpha,
                                                      float beta, const float* next) {
  __m256 acc[MI][NJ];
  for (int i = 0; i < MI; ++i)
    for (int j = 0; j < NJ; ++j) acc[i][j] = _mm256_setzero_ps();
  int64_t p = 0;
  for (; p + 8 <= k; p += 8) {
    if (kPrefetch && (p & 8) == 0) {
      for (int j = 0; j < 4; ++j) _mm_prefetch(reinterpret_cast<const char*>(next + j * ldb + p), _MM_HINT_T0);
    }
    __m256 bv[NJ];
    for (int j = 0; j < NJ; ++j) bv[j] = _mm256_loadu_ps(b + j * ldb + p);
    for (int i = 0; i < MI; ++i) {
      const __m256 av = _mm256_loadu_ps(a + i * lda + p);
      for (int j = 0; j < NJ; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  if (p < k) {
    const __m256i mask = lane_mask(static_cast<int>(k - p));
    __m256 bv[NJ];
    for (int j = 0; j < NJ; ++j) bv[j] = _mm256_maskload_ps(b + j * ldb + p, mask);
    for (int i = 0; i < MI; ++i) {
      const __m256 av = _mm256_maskload_ps(a + i * lda + p, mask);
      for (int j = 0; j < NJ; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MI; ++i) {
    float* ci = c + i * ldc;
    if constexpr (NJ == 4) {
      __m128 r = _mm_mul_ps(_mm_set1_ps(alpha), hsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
      if (beta != 0.0f) r = _mm_add_ps(r, _mm_mul_ps(_mm_set1_ps(beta), _mm_loadu_ps(ci)));
      if (bias != nullptr) r = _mm_add_ps(r, _mm_loadu_ps(bias));
      _mm_storeu_ps(ci, r);
    } else {
      for (int j = 0; j < NJ; ++j) {
        float r = alpha * hsum1(acc[i][j]);
        if (beta != 0.0f) r += beta * ci[j];
        if (bias != nullptr) r += bias[j];
        ci[j] = r;
      }
    }
  }
}

template <int NJ>
void dot_rows2(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
               const float* bias, int64_t m, int64_t k, float alpha, float beta,
               const float* next) {
  // The first row block also brings the next 4 rows of B into cache (next == null: none).
  int64_t i = 0;
  if (next != nullptr && m >= 2) {
    dot_block2<2, NJ, true>(c, ldc, a, lda, b, ldb, bias, k, alpha, beta, next);
    i = 2;
  }
  for (; i + 2 <= m; i += 2) dot_block2<2, NJ, false>(c + i * ldc, ldc, a + i * lda, lda, b, ldb, bias, k, alpha, beta, nullptr);
  if (i < m) dot_block2<1, NJ, false>(c + i * ldc, ldc, a + i * lda, lda, b, ldb, bias, k, alpha, beta, nullptr);
}

}  // namespace

void gemm_dot_avx2(float* c, int64_t ldc, const float* a, int64_t lda, const float* b,
                   int64_t ldb, const float* bias, int64_t m, int64_t j0, int64_t j1, int64_t k,
                   float alpha, float beta) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    const float* next = j + 8 <= j1 ? b + (j + 4) * ldb : nullptr;
    dot_rows2<4>(c + j, ldc, a, lda, b + j * ldb, ldb, bias ? bias + j : nullptr, m, k, alpha,
                 beta, next);
  }
  for (; j < j1; ++j)
    dot_rows2<1>(c + j, ldc, a, lda, b + j * ldb, ldb, bias ? bias + j : nullptr, m, k, alpha,
                 beta, nullptr);
}

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
