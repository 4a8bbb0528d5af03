// cuda/device_check.h — internal to the core (not installed, not in include/merclip): a minimal
// device kernel that tests/test_cuda.cc runs to check that a CUDA device works end to end
// (allocation, copies, a launch). Defined in cuda/device.cu, or by common/cuda_stub.cc (throws
// merclip::Error{cuda}) in a build without CUDA.
#pragma once

namespace merclip {
namespace cuda {
// y[i] = a·x[i] + y[i] (fmaf) on the device, for n floats (host pointers; copies in and out).
void saxpy(float* y, const float* x, float a, long long n);
}  // namespace cuda
}  // namespace merclip
