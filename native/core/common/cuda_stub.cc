// common/cuda_stub.cc — the CUDA side of a build without CUDA (node-gyp, or cmake without the
// toolkit): cuda_status() says so, and every merclip::cuda function (merclip/cuda_kernels.h and
// the internal cuda/device_check.h) throws merclip::Error{cuda}. Compiled only when
// MERCLIP_HAVE_CUDA is not defined.
#include "merclip/cuda.h"
#include "merclip/cuda_kernels.h"
#include "merclip/error.h"
#include "../cuda/device_check.h"

#include <string>

namespace merclip {

CudaStatus cuda_status() {
  CudaStatus s;
  s.compiled = false;
  s.error = "this build has no CUDA support (build it with `npm run build:cuda`)";
  return s;
}

namespace cuda {
namespace {
[[noreturn]] void no_cuda(const char* fn) {
  throw Error(ErrorCode::cuda, std::string("cuda::") + fn +
                                   ": this build has no CUDA support (build it with `npm run build:cuda`)");
}
}  // namespace

void saxpy(float*, const float*, float, long long) { no_cuda("saxpy"); }

void* device_malloc(size_t) { no_cuda("device_malloc"); }
void device_free(void*) noexcept {}
void copy_to_device(void*, const void*, size_t) { no_cuda("copy_to_device"); }
void copy_to_host(void*, const void*, size_t) { no_cuda("copy_to_host"); }
void synchronize() { no_cuda("synchronize"); }

void attention_forward(float*, float*, const float*, const float*, const float*,
                       const AttentionParams&) {
  no_cuda("attention_forward");
}
void attention_backward(float*, float*, float*, const float*, const float*, const float*,
                        const float*, const float*, const float*, const AttentionParams&) {
  no_cuda("attention_backward");
}
void cosine_forward(float*, float*, float*, const float*, const float*, const CosineParams&) {
  no_cuda("cosine_forward");
}
void cosine_backward(float*, float*, const float*, const float*, const float*, const float*,
                     const float*, const float*, const CosineParams&) {
  no_cuda("cosine_backward");
}
void cosine_paired_forward(float*, float*, float*, const float*, const float*,
                           const CosinePairedParams&) {
  no_cuda("cosine_paired_forward");
}
void cosine_paired_backward(float*, float*, const float*, const float*, const float*,
                            const float*, const float*, const float*, const CosinePairedParams&) {
  no_cuda("cosine_paired_backward");
}
}  // namespace cuda

}  // namespace merclip
