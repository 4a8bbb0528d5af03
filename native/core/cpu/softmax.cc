// native/core/cpu/softmax.cc — fast CPU row softmax and softmax cross-entropy, forward and
// backward (merclip::cpu, declared in merclip/softmax.h; the readable twin is
// ref/softmax_ref.cc, tests/test_softmax.cc holds them together). The row loops are
// cpu/softmax_kernels.h, compiled here as isa_base and per ISA in cpu/softmax_avx2.cc /
// cpu/softmax_avx512.cc; this file checks the arguments, picks the ISA (cpu/isa.h) and splits
// the work: rows over merclip::parallel_for (at least ~32K elements per task); every task writes
// disjoint rows, so results do not depend on the thread count.
#include <cstdint>
#include <string>

#define MERCLIP_ISA isa_base
#include "softmax_kernels.h"
#undef MERCLIP_ISA

#include "../common/aligned_buffer.h"
#include "merclip/error.h"
#include "merclip/softmax.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

// Exposed for tests/test_softmax.cc (declared there, not in a public header): the vectorisable
// exp every softmax and cross-entropy row uses, the copy of the ISA the kernels run at.
float exp_approx_for_test(float x) { return MERCLIP_ISA_PICK(current_isa(), exp_one)(x); }

void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 0 && cols >= 1, "softmax_forward: rows must be >= 0 and cols >= 1");
  const auto fwd = MERCLIP_ISA_PICK(current_isa(), softmax_forward_rows);
  parallel_for(0, rows, row_grain(cols),
               [&](int64_t r0, int64_t r1) { fwd(out, x, r0, r1, cols); });
}

void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 0 && cols >= 1, "softmax_backward: rows must be >= 0 and cols >= 1");
  const auto bwd = MERCLIP_ISA_PICK(current_isa(), softmax_backward_rows);
  parallel_for(0, rows, row_grain(cols),
               [&](int64_t r0, int64_t r1) { bwd(dx, dout, out, r0, r1, cols); });
}

namespace {
void check_targets(const char* what, const int32_t* targets, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    MERCLIP_CHECK(targets[r] >= 0 && targets[r] < cols,
                  std::string(what) + ": target " + std::to_string(targets[r]) + " of row " +
                      std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
  }
}
}  // namespace

// loss [1]; lse [rows] (saved; nullable); targets checked before any thread starts. The row
// losses go to a per-row double buffer and are summed serially, so the loss does not depend on
// the split.
void softmax_xent_forward(float* loss, float* lse, const float* logits, const int32_t* targets,
                          int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 1 && cols >= 1, "softmax_xent_forward: rows and cols must be >= 1");
  check_targets("softmax_xent_forward", targets, rows, cols);
  thread_local AlignedBuffer t_row_loss;  // reused across calls
  double* const row_loss = t_row_loss.doubles(static_cast<size_t>(rows));
  const auto fwd = MERCLIP_ISA_PICK(current_isa(), softmax_xent_forward_rows);
  parallel_for(0, rows, row_grain(cols),
               [&](int64_t r0, int64_t r1) { fwd(row_loss, lse, logits, targets, r0, r1, cols); });
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) total += row_loss[static_cast<size_t>(r)];
  loss[0] = static_cast<float>(total / static_cast<double>(rows));
}

// dlogits = dloss/rows · (exp(x − lse) − onehot(target)).
void softmax_xent_backward(float* dlogits, const float* logits, const float* lse,
                           const int32_t* targets, float dloss, int64_t rows, int64_t cols) {
  MERCLIP_CHECK(rows >= 1 && cols >= 1, "softmax_xent_backward: rows and cols must be >= 1");
  check_targets("softmax_xent_backward", targets, rows, cols);
  const float scale = static_cast<float>(static_cast<double>(dloss) / static_cast<double>(rows));
  const auto bwd = MERCLIP_ISA_PICK(current_isa(), softmax_xent_backward_rows);
  parallel_for(0, rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    bwd(dlogits, logits, lse, targets, scale, r0, r1, cols);
  });
}

}  // namespace cpu
}  // namespace merclip
