// cpu/gemm_kernels.h — internal interface between the GEMM driver (gemm.cc, default flags) and
// the ISA-specific micro-kernels (gemm_avx512.cc, gemm_avx2.cc, compiled with per-file -m flags;
// gemm_neon.cc on AArch64, default flags).
//
// A micro-kernel computes one MR_MAX×NR tile (fewer rows when mr < MR_MAX) from packed panels:
//   a_panel: kc steps of MR_MAX floats (row i of step p at a_panel[p·MR_MAX + i]; rows ≥ mr unused)
//   b_panel: kc steps of NR floats (zero-padded past the matrix edge), 64-byte aligned
// and writes it to C (only the nr first columns):
//   first:  C = alpha·acc + beta·C (C not read when beta == 0) + bias[0..nr)
//   !first: C += alpha·acc          (later k blocks)
// Nothing in the ISA files may use inline functions shared with other translation units
// (std:: templates included): the linker could pick the AVX-512 copy for a portable caller.
#pragma once

#include <cstdint>

namespace merclip {
namespace cpu {
namespace detail {

struct GemmTile {
  float* c;
  int64_t ldc;
  float alpha;
  float beta;
  const float* bias;  // already offset to this tile's first column, or null
  int mr;             // rows of C to write, 1 … MR_MAX
  int nr;             // columns of C to write, 1 … NR
  bool first;
};

using GemmMicroKernel = void (*)(int64_t kc, const float* a_panel, const float* b_panel,
                                 const GemmTile& tile);
// The same tile with B read in place instead of from a packed panel: step p's NR floats at
// b + p·ldb (row-major op(B) = B). Reads all NR columns: for full-width tiles (nr == NR) only.
// copy: null, or (only where GemmKernelInfo::copy_in_place_b) a 64-byte aligned buffer of kc·NR
// floats that the tile fills with the steps it reads (copy[p·NR …]) — the packed panel the
// tile's other row panels then read from L1.
using GemmMicroKernelB = void (*)(int64_t kc, const float* a_panel, const float* b, int64_t ldb,
                                  float* copy, const GemmTile& tile);

// Few rows × Bᵀ as dot products (gemm_dot_avx512 / gemm_dot_avx2 below): columns [j0, j1) of C.
using GemmDotKernel = void (*)(float* c, int64_t ldc, const float* a, int64_t lda, const float* b,
                               int64_t ldb, const float* bias, int64_t m, int64_t j0, int64_t j1,
                               int64_t k, float alpha, float beta);

struct GemmKernelInfo {
  GemmMicroKernel kernel;
  int mr_max;
  int nr;
  GemmMicroKernelB kernel_unpacked_b = nullptr;  // null where the level has none
  GemmDotKernel dot = nullptr;  // used for m <= dot_max_m with Bᵀ; null where the level has none
  int64_t dot_max_m = 0;
  // The few-rows driver has the first row panel's in-place tile copy B for the later panels.
  // AVX2: yes (B rows 2 KB apart alias 2 L1 sets; m = 32 62 → 95 GFLOP/s on a Zen 4 core).
  // AVX-512: no (warm B the same either way; cold B 6–10 % slower with the copy, Zen 4).
  bool copy_in_place_b = false;
};

// Defined in gemm_avx512.cc / gemm_avx2.cc / gemm_neon.cc only when those files are built.
GemmKernelInfo gemm_kernel_avx512();
GemmKernelInfo gemm_kernel_avx2();
GemmKernelInfo gemm_kernel_neon();

// Transposing pack, the shape both "A not transposed" and "B transposed" panels need:
//   dst[p·dst_stride + j] = j < rows ? src[j·lds + p] : 0     for p < kc, j < width
// with 8×8 in-register transposes (AVX2); a strided scalar loop costs several times more.
// Packs an A block when op(A) = Aᵀ (A stored [k,m]): src points at A[p0, i0];
//   dst[ip·kc·mr + p·mr + i] = i < rows of panel ip ? src[p·lda + ip·mr + i] : 0
// one masked 16-lane move per panel and step (mr <= 16).
void pack_a_trans_avx512(float* dst, const float* src, int64_t lda, int64_t mc, int64_t kc,
                         int mr);

void pack_transpose_avx2(float* dst, int64_t dst_stride, int width, const float* src,
                         int64_t lds, int rows, int64_t kc);

// AVX2 level (MR 6, NR 16) packing, same layouts as gemm.cc's portable pack_a / pack_b_panel:
//   pack_a_avx2:       A block [mc×kc] from row-major op(A) = A (src at A[i0, p0])
//   pack_a_trans_avx2: the same when op(A) = Aᵀ (A stored [k, m], src at A[p0, i0])
//   pack_b_avx2:       one 16-wide B panel from row-major op(B) = B (src at B[p0, j0]),
//                      dst 32-byte aligned, columns >= cols zero
void pack_a_avx2(float* dst, const float* src, int64_t lda, int64_t mc, int64_t kc);
void pack_a_trans_avx2(float* dst, const float* src, int64_t lda, int64_t mc, int64_t kc);
void pack_b_avx2(float* dst, const float* src, int64_t ldb, int cols, int64_t kc);

// Few rows with B transposed (B stored [n, k], as Linear weights [out, in]): columns [j0, j1) of
//   C = alpha·A·Bᵀ + beta·C + bias     (A [m, k] row-major; every row of A and B contiguous in k)
// as dot products — no packing, B read once (4 of its rows at a time stay in L1 while every row
// block of A, small enough for L2, passes over them). Each C element is one 16-lane dot product
// reduced in a fixed order, so the result does not depend on how columns are split over threads.
void gemm_dot_avx512(float* c, int64_t ldc, const float* a, int64_t lda, const float* b,
                     int64_t ldb, const float* bias, int64_t m, int64_t j0, int64_t j1,
                     int64_t k, float alpha, float beta);
// The same at the AVX2 level: 8-lane dot products, blocks of 2 rows of A × 4 rows of B.
void gemm_dot_avx2(float* c, int64_t ldc, const float* a, int64_t lda, const float* b,
                   int64_t ldb, const float* bias, int64_t m, int64_t j0, int64_t j1, int64_t k,
                   float alpha, float beta);

}  // namespace detail
}  // namespace cpu
}  // namespace merclip
