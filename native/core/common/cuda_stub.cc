// common/cuda_stub.cc — the CUDA status of a build without CUDA (node-gyp, or cmake without
// the toolkit). Compiled only when MERCLIP_HAVE_CUDA is not defined.
#include "merclip/cuda.h"
#include "merclip/error.h"

namespace merclip {

CudaStatus cuda_status() {
  CudaStatus s;
  s.compiled = false;
  s.error = "this build has no CUDA support (build it with `npm run build:cuda`)";
  return s;
}

namespace cuda {
void saxpy(float*, const float*, float, long long) {
  throw Error(ErrorCode::cuda, "this build has no CUDA support (build it with `npm run build:cuda`)");
}
}  // namespace cuda

}  // namespace merclip
