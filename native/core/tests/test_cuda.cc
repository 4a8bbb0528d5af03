// tests/test_cuda.cc — the CUDA path of the core, in every build:
// - without CUDA compiled in: cuda_status() says so and cuda::saxpy (the internal device check,
//   cuda/device_check.h) throws merclip::Error{cuda} (never aborts);
// - with CUDA but no device (CI, this machine): the status carries the runtime's reason and
//   saxpy throws merclip::Error{cuda} with cudaGetErrorString's text;
// - with a device (the GPU box): saxpy matches the CPU result exactly (fmaf on both sides).
#include <cmath>
#include <cstdio>
#include <vector>

#include "merclip/cuda.h"
#include "merclip/error.h"
#include "../cuda/device_check.h"
#include "test_util.h"

int main() {
  const merclip::CudaStatus s = merclip::cuda_status();
  std::printf("cuda: compiled=%d devices=%d error='%s'\n", s.compiled, s.device_count,
              s.error.c_str());
  for (const auto& d : s.devices) std::printf("  %s\n", d.c_str());
  int failures = 0;
  const long long n = 100003;
  std::vector<float> x(n), y(n), expect(n);
  for (long long i = 0; i < n; ++i) {
    x[i] = std::sin(0.001f * static_cast<float>(i));
    y[i] = std::cos(0.002f * static_cast<float>(i));
    expect[i] = std::fma(1.5f, x[i], y[i]);
  }
  if (s.device_count > 0) {
    merclip::cuda::saxpy(y.data(), x.data(), 1.5f, n);
    for (long long i = 0; i < n; ++i) {
      if (y[i] != expect[i]) {
        std::printf("FAIL saxpy[%lld]: got %.9g expected %.9g\n", i, y[i], expect[i]);
        ++failures;
        break;
      }
    }
    std::printf("saxpy on the GPU: %s\n", failures ? "FAIL" : "ok");
  } else {
    bool threw = false;
    try {
      merclip::cuda::saxpy(y.data(), x.data(), 1.5f, n);
    } catch (const merclip::Error& e) {
      threw = e.code() == merclip::ErrorCode::cuda;
      std::printf("no device: saxpy threw merclip::Error{cuda}: %s\n", e.what());
    }
    if (!threw) {
      std::printf("FAIL: saxpy without a device must throw merclip::Error{cuda}\n");
      ++failures;
    }
    if (s.error.empty()) {
      std::printf("FAIL: cuda_status() without a device must say why\n");
      ++failures;
    }
  }
  std::printf(failures ? "test_cuda: FAILED\n" : "test_cuda: ok\n");
  return failures ? 1 : 0;
}
