// merclip/cuda_kernels.h — the CUDA kernels of the core (merclip::cuda), with the same names and
// signatures as merclip::cpu / merclip::ref (merclip/attention.h, merclip/cosine.h), so tests
// loop over implementations. Every pointer is a DEVICE pointer (cudaMalloc'd, or from
// cuda::device_malloc below); sizes and flags travel in the same params structs. For the
// attention, AttentionParams::cu_seqlens_q / cu_seqlens_k are DEVICE pointers too ([batch + 1]
// int32).
//
// Semantics are the CPU kernels' (see those headers): every output is overwritten; a fully
// masked attention row gives out 0, lse +inf and zero gradients; a NaN score makes the row NaN;
// head dims 1 … 256; cosine inverse norms 1 / max(‖v‖, eps), saved as float, clamped marker
// float(1 / double(eps)).
//
// Kernels are launched on the default stream and return without synchronising; a launch error
// is checked at once, an execution error surfaces at the next synchronising call (copy_to_host,
// synchronize), which checks it too. Every CUDA failure — including "no device" / "no driver" —
// throws merclip::Error{ErrorCode::cuda} with the call, file:line and cudaGetErrorString; nothing
// exits or aborts. A build without CUDA links common/cuda_stub.cc, where every function here
// throws merclip::Error{cuda} ("this build has no CUDA support").
//
// Implemented in cuda/device.cu (memory helpers), cuda/attention.cu and cuda/cosine.cu.
#pragma once

#include <cstddef>
#include <cstdint>

#include "merclip/attention.h"
#include "merclip/cosine.h"

namespace merclip {
namespace cuda {

// ---- device memory (for tests, benchmarks and the binding's edges) ----------------------------
void* device_malloc(size_t bytes);           // throws Error{cuda} (also when there is no device)
void device_free(void* p) noexcept;          // null is fine
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);  // synchronises (default stream)
void synchronize();                          // cudaDeviceSynchronize, checked

// ---- attention (flash-style, fp32) ----------------------------------------------------------
// out [Tq, H·Dh], lse [H, Tq] from packed q, k, v (merclip/attention.h).
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionParams& p);
// dq [Tq, H·Dh], dk, dv [Tk, H·Dh] from dout and the forward's out and lse.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const AttentionParams& p);

// ---- cosine similarity (fp32) ---------------------------------------------------------------
void cosine_forward(float* out, float* x_rnorm, float* e_rnorm, const float* x, const float* e,
                    const CosineParams& p);
void cosine_backward(float* dx, float* de, const float* dout, const float* out, const float* x,
                     const float* e, const float* x_rnorm, const float* e_rnorm,
                     const CosineParams& p);
void cosine_paired_forward(float* out, float* h_rnorm, float* e_rnorm, const float* h,
                           const float* e, const CosinePairedParams& p);
void cosine_paired_backward(float* dh, float* de, const float* dout, const float* out,
                            const float* h, const float* e, const float* h_rnorm,
                            const float* e_rnorm, const CosinePairedParams& p);

}  // namespace cuda
}  // namespace merclip
