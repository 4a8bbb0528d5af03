// cuda/device.cu — device discovery (merclip/cuda.h) and the device check saxpy
// (cuda/device_check.h, internal: tests/test_cuda.cc runs it to see that a device works).
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "cuda_check.h"
#include "device_check.h"
#include "merclip/cuda.h"
#include "merclip/cuda_kernels.h"

namespace merclip {

CudaStatus cuda_status() {
  CudaStatus s;
  s.compiled = true;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    s.error = cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky-free error state
    return s;
  }
  s.device_count = count;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
                  static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    s.devices.emplace_back(buf);
  }
  return s;
}

namespace cuda {

namespace {
__global__ void saxpy_kernel(float* __restrict__ y, const float* __restrict__ x, float a,
                             long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    y[i] = fmaf(a, x[i], y[i]);
}

struct DeviceBuffer {
  float* p = nullptr;
  ~DeviceBuffer() {
    if (p != nullptr) cudaFree(p);
  }
};
}  // namespace

void saxpy(float* y, const float* x, float a, long long n) {
  MERCLIP_CHECK(n >= 0, "saxpy: n must be >= 0");
  if (n == 0) return;
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  DeviceBuffer dx, dy;
  MERCLIP_CUDA_CHECK(cudaMalloc(&dx.p, bytes));
  MERCLIP_CUDA_CHECK(cudaMalloc(&dy.p, bytes));
  MERCLIP_CUDA_CHECK(cudaMemcpy(dx.p, x, bytes, cudaMemcpyHostToDevice));
  MERCLIP_CUDA_CHECK(cudaMemcpy(dy.p, y, bytes, cudaMemcpyHostToDevice));
  const int threads = 256;
  const long long blocks_needed = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(blocks_needed < 65535 ? blocks_needed : 65535);
  saxpy_kernel<<<blocks, threads>>>(dy.p, dx.p, a, n);
  MERCLIP_CUDA_CHECK(cudaGetLastError());
  MERCLIP_CUDA_CHECK(cudaMemcpy(y, dy.p, bytes, cudaMemcpyDeviceToHost));
}

// ---- device memory helpers (merclip/cuda_kernels.h) ------------------------------------------

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  MERCLIP_CUDA_CHECK(cudaMalloc(&p, bytes == 0 ? 1 : bytes));
  return p;
}

void device_free(void* p) noexcept {
  if (p != nullptr) cudaFree(p);
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  MERCLIP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  MERCLIP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void synchronize() { MERCLIP_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace cuda
}  // namespace merclip
