// native/core/cpu/layernorm.cc — fast CPU LayerNorm forward / backward (merclip::cpu, declared
// in merclip/layernorm.h; the readable twin is ref/layernorm_ref.cc, tests/test_layernorm.cc
// holds the two together). The row loops are cpu/layernorm_kernels.h, compiled here as isa_base
// and per ISA in cpu/layernorm_avx2.cc / cpu/layernorm_avx512.cc; this file checks the
// arguments, picks the ISA (cpu/isa.h) and splits the work.
// Split: forward parallel over rows; backward over fixed row blocks (see layernorm_backward).
#include <cstdint>

#define MERCLIP_ISA isa_base
#include "layernorm_kernels.h"
#undef MERCLIP_ISA

#include "../common/aligned_buffer.h"
#include "merclip/error.h"
#include "merclip/layernorm.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

// LayerNorm forward: out, x [rows, dim]; weight, bias [dim] (null → 1 / 0); saves mean, rstd
// [rows] (nullable). Rows in parallel (layernorm_forward_rows, cpu/layernorm_kernels.h).
void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                       const float* bias, int64_t rows, int64_t dim, float eps) {
  MERCLIP_CHECK(rows >= 0 && dim >= 1, "layernorm_forward: rows must be >= 0 and dim >= 1");
  const auto fwd = MERCLIP_ISA_PICK(current_isa(), layernorm_forward_rows);
  parallel_for(0, rows, row_grain(dim), [&](int64_t r0, int64_t r1) {
    fwd(out, mean, rstd, x, weight, bias, r0, r1, dim, eps);
  });
}

// LayerNorm backward
// dx [rows, dim]; dweight, dbias [dim] (null → skipped); dout, x [rows, dim]; weight [dim]
// (null → 1); mean, rstd [rows] from the forward.
// One pass over fixed blocks of rows, blocks in parallel (ln_bwd_rows): per row,
//   xhat = (x − mean)·rstd, g = dout·w, dx = rstd·(g − mean(g) − xhat·mean(g·xhat))
// (the two means from double lanes), and the row's dweight / dbias terms dout·xhat, dout are
// added to the block's per-column double partials, which are then summed in block order. The
// blocks depend only on rows and dim (never on the thread count), so dx, dweight and dbias are
// bitwise the same for any number of threads. dout and x are read from memory once (row sums,
// then dx and the column terms from L1).
// Blocks: at least row_grain(dim) rows (~32K elements) and 16 rows (so the partials stay below
// a quarter of the input's size), and at most kLnMaxBlocks blocks.

namespace {
constexpr int64_t kLnMaxBlocks = 64;
constexpr int64_t kLnMinBlockRows = 16;
// A block's dbias partials start kLnPad doubles after its dweight partials end, so the two
// accumulators of a column are never 4 KiB apart (dim = 512: loads of one would wait on
// stores to the other, a false dependency).
constexpr int64_t kLnPad = 8;
}  // namespace

void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                        const float* weight, const float* mean, const float* rstd, int64_t rows,
                        int64_t dim) {
  MERCLIP_CHECK(rows >= 0 && dim >= 1, "layernorm_backward: rows must be >= 0 and dim >= 1");
  const bool acc = dweight != nullptr || dbias != nullptr;
  if (dx == nullptr && !acc) return;
  int64_t block_rows = row_grain(dim);
  if (block_rows < kLnMinBlockRows) block_rows = kLnMinBlockRows;
  const int64_t min_rows_for_cap = (rows + kLnMaxBlocks - 1) / kLnMaxBlocks;
  if (block_rows < min_rows_for_cap) block_rows = min_rows_for_cap;
  const int64_t nblocks = (rows + block_rows - 1) / block_rows;  // 0 when rows == 0
  // Per-block partials: nblocks × [dweight terms (dim), pad, dbias terms (dim), pad]; every
  // block zeroes its own before accumulating, so the buffer needs no initialisation.
  const int64_t stride = 2 * (dim + kLnPad);
  // Reused across calls (a fresh ~0.5 MB allocation per call would be paid in page faults).
  thread_local AlignedBuffer t_partials;
  double* const part_base =
      acc && nblocks > 0 ? t_partials.doubles(static_cast<size_t>(nblocks * stride)) : nullptr;
  const auto block = MERCLIP_ISA_PICK(current_isa(), layernorm_backward_block);
  parallel_for(0, nblocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t r0 = blk * block_rows;
      const int64_t r1 = rows - r0 < block_rows ? rows : r0 + block_rows;
      double* accw = acc ? part_base + blk * stride : nullptr;
      double* accb = acc ? accw + dim + kLnPad : nullptr;
      block(dx, accw, accb, dout, x, weight, mean, rstd, r0, r1, dim);
    }
  });
  if (!acc) return;
  if (nblocks == 0) {  // no rows: the column sums are 0
    for (int64_t j = 0; j < dim; ++j) {
      if (dweight != nullptr) dweight[j] = 0.0f;
      if (dbias != nullptr) dbias[j] = 0.0f;
    }
    return;
  }
  // Sum the partials in block order into block 0's (the same order for every split).
  double* totw = part_base;
  double* totb = totw + dim + kLnPad;
  for (int64_t blk = 1; blk < nblocks; ++blk) {
    const double* pw = part_base + blk * stride;
    const double* pb = pw + dim + kLnPad;
    for (int64_t j = 0; j < dim; ++j) totw[j] += pw[j];
    for (int64_t j = 0; j < dim; ++j) totb[j] += pb[j];
  }
  if (dweight != nullptr) {
    for (int64_t j = 0; j < dim; ++j) dweight[j] = static_cast<float>(totw[j]);
  }
  if (dbias != nullptr) {
    for (int64_t j = 0; j < dim; ++j) dbias[j] = static_cast<float>(totb[j]);
  }
}


}  // namespace cpu
}  // namespace merclip
