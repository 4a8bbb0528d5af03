// merclip/cuda.h — what the CUDA side of the core can report (the device kernels are in
// merclip/cuda_kernels.h). Implemented by cuda/device.cu when the build includes CUDA
// (MERCLIP_HAVE_CUDA), by common/cuda_stub.cc otherwise.
#pragma once

#include <string>
#include <vector>

namespace merclip {

struct CudaStatus {
  bool compiled = false;       // CUDA sources are part of this build
  int device_count = 0;        // devices the runtime sees (0 when none or no driver)
  std::vector<std::string> devices;  // "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"
  std::string error;           // why no device could be queried, if so
};

CudaStatus cuda_status();

}  // namespace merclip
