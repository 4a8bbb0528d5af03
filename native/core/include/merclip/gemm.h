// merclip/gemm.h — general matrix multiply, fp32, row-major.
//
//   C[m,n] = alpha · op(A) · op(B) + beta · C + bias[n]
//
// op(A) is [m,k]: A itself ([m,k], lda >= k) or, with trans_a, A^T where A is [k,m] (lda >= m).
// op(B) is [k,n]: B itself ([k,n], ldb >= n) or, with trans_b, B^T where B is [n,k] (ldb >= k).
// A leading dimension of 0 means "packed" (the row length above). ldc >= n (0 → n).
// bias (may be null) is added to every row and is not scaled by alpha.
// beta == 0 means C is write-only: its old contents (even NaN) are never read, as in BLAS.
// alpha == 0 means A and B are not read at all (C = beta·C + bias), as in BLAS.
// C must not overlap A, B or bias (the binding rejects overlapping buffers).
//
// The same declarations exist in merclip::ref (plain loops, double accumulation; the
// reference the tests compare against) and merclip::cpu (packed panels, register-tiled
// AVX-512 / AVX2 / scalar micro-kernels, cache blocking, threads).
#pragma once

#include <cstdint>

namespace merclip {

struct GemmParams {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.0f;
  float beta = 0.0f;
  int64_t lda = 0, ldb = 0, ldc = 0;  // 0 → packed
};

// Batched (strided) form: for i in [0, batch): C + i·stride_c = op(A + i·stride_a) · op(B + i·stride_b) …
// A stride of 0 broadcasts that operand (e.g. one weight matrix for every batch item).
// With batch > 1, stride_c >= (m−1)·ldc + n: the C matrices must not overlap.
struct GemmBatch {
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};

// Resolves lda/ldb/ldc == 0 to the packed values; throws merclip::Error on inconsistent params.
GemmParams gemm_resolve(const GemmParams& p);

namespace ref {
void gemm(float* c, const float* a, const float* b, const float* bias, const GemmParams& p);
void gemm_batched(float* c, const float* a, const float* b, const float* bias, const GemmParams& p,
                  const GemmBatch& batch);
// dbias[n] = sum over rows of dy[m,n] (the backward of the bias add). Overwrites dbias.
void bias_grad(float* dbias, const float* dy, int64_t m, int64_t n);
}  // namespace ref

namespace cpu {
void gemm(float* c, const float* a, const float* b, const float* bias, const GemmParams& p);
// gemm on the calling thread only: for kernels that already run one task per thread.
void gemm_serial(float* c, const float* a, const float* b, const float* bias, const GemmParams& p);
void gemm_batched(float* c, const float* a, const float* b, const float* bias, const GemmParams& p,
                  const GemmBatch& batch);
void bias_grad(float* dbias, const float* dy, int64_t m, int64_t n);
}  // namespace cpu

}  // namespace merclip
