// native/core/cpu/gelu.cc — fast CPU GELU family forward / backward (merclip::cpu, declared in
// merclip/gelu.h; the readable twin is ref/gelu_ref.cc, tests/test_gelu.cc holds them together).
// The element loops are cpu/gelu_kernels.h, compiled here as isa_base and per ISA in
// cpu/gelu_avx2.cc / cpu/gelu_avx512.cc; this file checks the arguments, picks the ISA
// (cpu/isa.h) and splits the work: contiguous chunks of kMapGrain elements or more over
// merclip::parallel_for, every chunk computed the same way whatever the split.
#include <cstdint>

#define MERCLIP_ISA isa_base
#include "gelu_kernels.h"
#undef MERCLIP_ISA

#include "merclip/error.h"
#include "merclip/gelu.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

// Exposed for tests/test_gelu.cc (declared there, not in a public header), so the accuracy
// claims of cpu/gelu_kernels.h are tested directly; the copy of the ISA the kernels run at.
float gelu_erf_approx_for_test(float x) { return MERCLIP_ISA_PICK(current_isa(), gelu_erf_one)(x); }
float gelu_erf_grad_approx_for_test(float x) {
  return MERCLIP_ISA_PICK(current_isa(), gelu_erf_grad_one)(x);
}

void gelu_forward(float* out, const float* x, int64_t n, GeluApprox approx) {
  MERCLIP_CHECK(n >= 0, "gelu_forward: n must be >= 0");
  MERCLIP_CHECK(approx == GeluApprox::none || approx == GeluApprox::tanh ||
                    approx == GeluApprox::quick,
                "gelu_forward: unknown approximation");
  const auto chunk = MERCLIP_ISA_PICK(current_isa(), gelu_forward_chunk);
  parallel_for(0, n, kMapGrain, [&](int64_t lo, int64_t hi) { chunk(out + lo, x + lo, hi - lo, approx); });
}

void gelu_backward(float* dx, const float* dout, const float* x, int64_t n, GeluApprox approx) {
  MERCLIP_CHECK(n >= 0, "gelu_backward: n must be >= 0");
  MERCLIP_CHECK(approx == GeluApprox::none || approx == GeluApprox::tanh ||
                    approx == GeluApprox::quick,
                "gelu_backward: unknown approximation");
  const auto chunk = MERCLIP_ISA_PICK(current_isa(), gelu_backward_chunk);
  parallel_for(0, n, kMapGrain,
               [&](int64_t lo, int64_t hi) { chunk(dx + lo, dout + lo, x + lo, hi - lo, approx); });
}

}  // namespace cpu
}  // namespace merclip
