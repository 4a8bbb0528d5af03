// cuda/bench_attention.cu — attention forward / backward throughput of merclip::cuda on the GPU
// (built only with CUDA; run by cuda/gpu-check.sh, not by ctest). Shapes: the issue's
// B 32, H 8, L 375 / 500, Dh 64 (self-attention), plus the decoder's Lq 7 × Lk 500 and a causal
// L 77. FLOPs counted as flash-attention does: forward 4·B·H·Lq·Lk·Dh (halved when causal),
// backward 2.5 × forward. Median of `iters` timed runs after warm-up (cudaEvent timing).
// Without a device: prints why and exits 0.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cuda_check.h"
#include "merclip/cuda.h"
#include "merclip/cuda_kernels.h"
#include "merclip/error.h"

namespace {

__global__ void fill_kernel(float* x, long long n, unsigned seed) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    x[i] = (static_cast<float>(h & 0xffffff) / 16777216.0f) * 2.0f - 1.0f;
  }
}

float* dev_random(long long n, unsigned seed) {
  float* p = static_cast<float*>(merclip::cuda::device_malloc(static_cast<size_t>(n) * 4));
  fill_kernel<<<1024, 256>>>(p, n, seed);
  MERCLIP_CUDA_CHECK(cudaGetLastError());
  return p;
}

template <class F>
double median_ms(F&& fn, int iters) {
  cudaEvent_t a, b;
  MERCLIP_CUDA_CHECK(cudaEventCreate(&a));
  MERCLIP_CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) fn();
  MERCLIP_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    MERCLIP_CUDA_CHECK(cudaEventRecord(a));
    fn();
    MERCLIP_CUDA_CHECK(cudaEventRecord(b));
    MERCLIP_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0.0f;
    MERCLIP_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void bench(long long B, long long H, long long lq, long long lk, long long dh, bool causal,
           int iters) {
  // the padded batch as packed rows: uniform offsets b·L
  std::vector<int32_t> cu(static_cast<size_t>(2 * (B + 1)));
  for (long long i = 0; i <= B; ++i) {
    cu[static_cast<size_t>(i)] = static_cast<int32_t>(i * lq);
    cu[static_cast<size_t>(B + 1 + i)] = static_cast<int32_t>(i * lk);
  }
  int32_t* dcu = static_cast<int32_t*>(merclip::cuda::device_malloc(cu.size() * sizeof(int32_t)));
  merclip::cuda::copy_to_device(dcu, cu.data(), cu.size() * sizeof(int32_t));
  merclip::AttentionParams p;
  p.batch = B;
  p.heads = H;
  p.total_q = B * lq;
  p.total_k = B * lk;
  p.max_seqlen_q = lq;
  p.max_seqlen_k = lk;
  p.cu_seqlens_q = dcu;
  p.cu_seqlens_k = dcu + B + 1;
  p.head_dim = dh;
  p.scale = 1.0f / std::sqrt(static_cast<float>(dh));
  p.causal = causal;
  const long long nq = B * H * lq * dh, nk = B * H * lk * dh;
  float *q = dev_random(nq, 1), *k = dev_random(nk, 2), *v = dev_random(nk, 3),
        *g = dev_random(nq, 4);
  float *o = dev_random(nq, 5), *l = dev_random(B * H * lq, 6);
  float *dq = dev_random(nq, 7), *dk = dev_random(nk, 8), *dv = dev_random(nk, 9);
  const double fwd_ms = median_ms([&] { merclip::cuda::attention_forward(o, l, q, k, v, p); }, iters);
  const double bwd_ms = median_ms(
      [&] { merclip::cuda::attention_backward(dq, dk, dv, g, q, k, v, o, l, p); }, iters);
  const double flops = 4.0 * B * H * lq * lk * dh * (causal ? 0.5 : 1.0);
  std::printf("attention B=%lld H=%lld Lq=%lld Lk=%lld Dh=%lld causal=%d: forward %.3f ms "
              "(%.2f TFLOP/s), backward %.3f ms (%.2f TFLOP/s)\n",
              B, H, lq, lk, dh, causal, fwd_ms, flops / fwd_ms * 1e-9, bwd_ms,
              2.5 * flops / bwd_ms * 1e-9);
  for (float* x : {q, k, v, g, o, l, dq, dk, dv}) merclip::cuda::device_free(x);
  merclip::cuda::device_free(dcu);
}

}  // namespace

int main(int argc, char** argv) {
  const merclip::CudaStatus s = merclip::cuda_status();
  if (s.device_count == 0) {
    std::printf("bench_attention: no CUDA device (%s); nothing measured\n", s.error.c_str());
    return 0;
  }
  std::printf("bench_attention on %s\n", s.devices.empty() ? "?" : s.devices[0].c_str());
  const int iters = argc > 1 ? std::atoi(argv[1]) : 20;
  try {
    bench(32, 8, 375, 375, 64, false, iters);
    bench(32, 8, 500, 500, 64, false, iters);
    bench(32, 8, 7, 500, 64, false, iters);
    bench(32, 8, 77, 77, 64, true, iters);
  } catch (const merclip::Error& e) {
    std::printf("bench_attention: merclip::Error: %s\n", e.what());
    return 1;
  }
  return 0;
}
