// native/core/ref/gemm_ref.cc — the reference GEMM: plain triple loops, double accumulation.
//
// Contract (merclip/gemm.h):
//   C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C + bias[n]
// - row-major; lda/ldb/ldc of 0 mean "packed" and are resolved by gemm_resolve;
// - every element of C is written once, rounded from a double: alpha·acc (+ beta·C) (+ bias);
// - beta == 0 → C is write-only (never read, so NaN garbage in C cannot leak into the result);
//   alpha == 0 → A and B are not read (C = beta·C + bias), as in BLAS;
// - bias is added unscaled; null bias → no bias;
// - batched form: item i uses A + i·stride_a, B + i·stride_b, C + i·stride_c; stride 0
//   broadcasts an input operand (never C: the C items of different batch entries must not
//   overlap);
// - bias_grad overwrites dbias[n] with the column sums of dy[m,n].
// This file is the yardstick tests/test_gemm.cc measures merclip::cpu::gemm against; it is slow
// and boring on purpose. gemm_resolve is shared by both implementations.
#include <string>

#include "merclip/error.h"
#include "merclip/gemm.h"

namespace merclip {

// ---------------------------------------------------------------------------------------------
// gemm_resolve: packed leading dimensions + invariant checks.

GemmParams gemm_resolve(const GemmParams& p) {
  MERCLIP_CHECK(p.m >= 1 && p.n >= 1 && p.k >= 1,
                "gemm: m, n, k must be >= 1 (m=" + std::to_string(p.m) + ", n=" +
                    std::to_string(p.n) + ", k=" + std::to_string(p.k) + ")");
  GemmParams r = p;
  const int64_t a_row = p.trans_a ? p.m : p.k;  // row length of A as stored
  const int64_t b_row = p.trans_b ? p.k : p.n;  // row length of B as stored
  if (r.lda == 0) r.lda = a_row;
  if (r.ldb == 0) r.ldb = b_row;
  if (r.ldc == 0) r.ldc = p.n;
  MERCLIP_CHECK(r.lda >= a_row, "gemm: lda=" + std::to_string(r.lda) + " is smaller than the row "
                                    "length of A (" + std::to_string(a_row) + ")");
  MERCLIP_CHECK(r.ldb >= b_row, "gemm: ldb=" + std::to_string(r.ldb) + " is smaller than the row "
                                    "length of B (" + std::to_string(b_row) + ")");
  MERCLIP_CHECK(r.ldc >= p.n, "gemm: ldc=" + std::to_string(r.ldc) + " is smaller than n (" +
                                  std::to_string(p.n) + ")");
  return r;
}

namespace ref {

// ---------------------------------------------------------------------------------------------
// gemm
// c [m, ldc], a [m, lda] or (trans_a) [k, lda], b [k, ldb] or (trans_b) [n, ldb], bias [n]

void gemm(float* c, const float* a, const float* b, const float* bias, const GemmParams& params) {
  const GemmParams p = gemm_resolve(params);
  MERCLIP_CHECK(c != nullptr && a != nullptr && b != nullptr, "gemm: null matrix pointer");
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      double acc = 0.0;
      // alpha == 0: A and B are not referenced (BLAS semantics; an inf/NaN in them does not
      // turn into 0·inf = NaN).
      for (int64_t l = 0; p.alpha != 0.0f && l < p.k; ++l) {
        const float av = p.trans_a ? a[l * p.lda + i] : a[i * p.lda + l];
        const float bv = p.trans_b ? b[j * p.ldb + l] : b[l * p.ldb + j];
        acc += static_cast<double>(av) * static_cast<double>(bv);
      }
      double v = static_cast<double>(p.alpha) * acc;
      float* cij = c + i * p.ldc + j;
      if (p.beta != 0.0f) v += static_cast<double>(p.beta) * static_cast<double>(*cij);
      if (bias != nullptr) v += static_cast<double>(bias[j]);
      *cij = static_cast<float>(v);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// gemm_batched: `batch` independent gemm calls at fixed element strides.

void gemm_batched(float* c, const float* a, const float* b, const float* bias,
                  const GemmParams& params, const GemmBatch& batch) {
  const GemmParams p = gemm_resolve(params);
  MERCLIP_CHECK(batch.batch >= 1, "gemm_batched: batch must be >= 1");
  MERCLIP_CHECK(batch.stride_a >= 0 && batch.stride_b >= 0 && batch.stride_c >= 0,
                "gemm_batched: strides must be >= 0");
  // C items must not overlap (a stride_c of 0 with batch > 1 would make the result depend on
  // the order the items run in).
  MERCLIP_CHECK(batch.batch == 1 || batch.stride_c >= (p.m - 1) * p.ldc + p.n,
                "gemm_batched: stride_c is smaller than one C matrix");
  for (int64_t i = 0; i < batch.batch; ++i) {
    gemm(c + i * batch.stride_c, a + i * batch.stride_a, b + i * batch.stride_b, bias, p);
  }
}

// ---------------------------------------------------------------------------------------------
// bias_grad: dbias[n] = sum_i dy[i, :]   (the backward of "+ bias[n]"), overwrites dbias.

void bias_grad(float* dbias, const float* dy, int64_t m, int64_t n) {
  MERCLIP_CHECK(m >= 0 && n >= 0, "bias_grad: m and n must be >= 0");
  for (int64_t j = 0; j < n; ++j) {
    double acc = 0.0;
    for (int64_t i = 0; i < m; ++i) acc += static_cast<double>(dy[i * n + j]);
    dbias[j] = static_cast<float>(acc);
  }
}

}  // namespace ref
}  // namespace merclip
