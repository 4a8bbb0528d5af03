// cuda/cosine.cu — batched cosine similarity on the GPU (merclip::cuda, declared in
// merclip/cuda_kernels.h), fp32, forward and backward, plain and paired. Same semantics as
// cpu/cosine.cc and ref/cosine_ref.cc (merclip/cosine.h):
//   out[i,j] = scale · <x_i, e_j> · rx_i · re_j,  r = float(1 / max(‖v‖, eps)) (in double),
// a clamped vector's saved inverse norm is float(1 / double(eps)), and in the backward a vector
// is active (projection term kept) iff its inverse norm < that clamped value. Every output is
// overwritten; optional outputs may be null (the norms then live in scratch device memory).
// All pointers are device pointers.
//
// Kernels:
//   rnorm_kernel       : one warp per row, sum of squares (fp32) → r.
//   cos_fwd_kernel     : out = scale · (x eᵀ) ∘ rx ∘ reᵀ, a 16 × 16 output tile per block with
//                        16 × 16 shared-memory tiles of x and e along dim.
//   row_dot_kernel     : t_i = Σ_j dout_ij out_ij (warp per row); col_dot_kernel: u_j likewise
//                        down the columns (thread per column, coalesced).
//   cos_bwd_kernel     : dst[r,d] = rs_r · (scale · Σ_k g(r,k) · ro_k · other[k,d]
//                                          − act_r · rs_r · t_r · self[r,d]),
//                        g read with strides (dout for dx, doutᵀ for de), tiled like the forward.
//   paired_fwd_kernel  : warp per (b, j): out = scale · <h_bj, e_j> · rh_bj · re_j.
//   paired_dh_kernel   : elementwise dh; paired_de_kernel: thread per (j, d), sums over b.
// Deterministic (no atomics).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "cuda_check.h"
#include "merclip/cuda_kernels.h"
#include "merclip/error.h"

namespace merclip {
namespace cuda {

namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kT = 16;  // tile edge of the GEMM-shaped kernels

__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(kFull, x, o);
  return x;
}

__device__ __forceinline__ float inv_norm(float ss, float eps) {
  const double nrm = sqrt(static_cast<double>(ss));
  const double e = static_cast<double>(eps);
  return static_cast<float>(1.0 / (nrm > e ? nrm : e));
}

// r[row] = 1 / max(‖v_row‖, eps); 8 warps per block.
__global__ void rnorm_kernel(float* __restrict__ r, const float* __restrict__ v, int64_t rows,
                             int64_t dim, float eps) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * 8 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* x = v + row * dim;
  float ss = 0.0f;
  for (int64_t d = lane; d < dim; d += 32) ss = fmaf(x[d], x[d], ss);
  ss = warp_sum(ss);
  if (lane == 0) r[row] = inv_norm(ss, eps);
}

// out [n,c] = scale · <x_i, e_j> · rx_i · re_j. Block (16,16): tx → j, ty → i.
__global__ void cos_fwd_kernel(float* __restrict__ out, const float* __restrict__ x,
                               const float* __restrict__ e, const float* __restrict__ rx,
                               const float* __restrict__ re, int64_t n, int64_t c, int64_t dim,
                               float scale) {
  __shared__ float sX[kT][kT + 1];
  __shared__ float sE[kT][kT + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t i = static_cast<int64_t>(blockIdx.y) * kT + ty;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kT + tx;
  const int64_t ib = static_cast<int64_t>(blockIdx.y) * kT;
  const int64_t jb = static_cast<int64_t>(blockIdx.x) * kT;
  float acc = 0.0f;
  for (int64_t d0 = 0; d0 < dim; d0 += kT) {
    // sX[r][dd] = x[ib + r, d0 + dd]; sE[r][dd] = e[jb + r, d0 + dd] (coalesced along dd = tx)
    {
      const int64_t d = d0 + tx;
      const int64_t xi = ib + ty, ej = jb + ty;
      sX[ty][tx] = (xi < n && d < dim) ? x[xi * dim + d] : 0.0f;
      sE[ty][tx] = (ej < c && d < dim) ? e[ej * dim + d] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int dd = 0; dd < kT; ++dd) acc = fmaf(sX[ty][dd], sE[tx][dd], acc);
    __syncthreads();
  }
  if (i < n && j < c) out[i * c + j] = scale * acc * rx[i] * re[j];
}

// t[row] = Σ_k g[row·rs + k] · o[row·rs + k] over k < len (row-major rows), warp per row.
__global__ void row_dot_kernel(float* __restrict__ t, const float* __restrict__ g,
                               const float* __restrict__ o, int64_t rows, int64_t len) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * 8 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  float s = 0.0f;
  for (int64_t k = lane; k < len; k += 32) s = fmaf(g[row * len + k], o[row * len + k], s);
  s = warp_sum(s);
  if (lane == 0) t[row] = s;
}

// u[col] = Σ_r g[r·cols + col] · o[r·cols + col], thread per column.
__global__ void col_dot_kernel(float* __restrict__ u, const float* __restrict__ g,
                               const float* __restrict__ o, int64_t rows, int64_t cols) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  float s = 0.0f;
  for (int64_t r = 0; r < rows; ++r) s = fmaf(g[r * cols + col], o[r * cols + col], s);
  u[col] = s;
}

// dst [rows, dim]: rs_r · (scale · Σ_k g(r,k) · ro_k · other[k,:] − act_r · rs_r · t_r · self[r,:]),
// g(r,k) = g[r·gr + k·gk]; act_r = rs_r < clamped. Block (16,16): tx → d, ty → r.
__global__ void cos_bwd_kernel(float* __restrict__ dst, const float* __restrict__ g, int64_t gr,
                               int64_t gk, const float* __restrict__ ro,
                               const float* __restrict__ other, const float* __restrict__ rs,
                               const float* __restrict__ t, const float* __restrict__ self,
                               int64_t rows, int64_t K, int64_t dim, float scale, float clamped) {
  __shared__ float sG[kT][kT + 1];  // [r][k]
  __shared__ float sO[kT][kT + 1];  // [k][d]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t rb = static_cast<int64_t>(blockIdx.y) * kT;
  const int64_t db = static_cast<int64_t>(blockIdx.x) * kT;
  const int64_t r = rb + ty, d = db + tx;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < K; k0 += kT) {
    {
      // sG[ty][tx] = g(rb + ty, k0 + tx) · ro[k0 + tx]; sO[ty][tx] = other[k0 + ty, db + tx]
      const int64_t gr_row = rb + ty, kk = k0 + tx;
      float gv = 0.0f;
      if (gr_row < rows && kk < K) {
        const float gg = g[gr_row * gr + kk * gk];
        gv = gg == 0.0f ? 0.0f : gg * ro[kk];
      }
      sG[ty][tx] = gv;
      const int64_t ok = k0 + ty;
      sO[ty][tx] = (ok < K && d < dim) ? other[ok * dim + d] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kT; ++kk) acc = fmaf(sG[ty][kk], sO[kk][tx], acc);
    __syncthreads();
  }
  if (r < rows && d < dim) {
    const float rr = rs[r];
    float val = scale * acc;
    if (rr < clamped) val -= rr * t[r] * self[r * dim + d];
    dst[r * dim + d] = rr * val;
  }
}

// Paired forward: warp per (b, j) row of h [batch·c, dim]; 8 warps per block.
__global__ void paired_fwd_kernel(float* __restrict__ out, float* __restrict__ rh_out,
                                  const float* __restrict__ h, const float* __restrict__ e,
                                  const float* __restrict__ re, int64_t rows, int64_t c,
                                  int64_t dim, float scale, float eps) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * 8 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const int64_t j = row % c;
  const float* hv = h + row * dim;
  const float* ev = e + j * dim;
  float dot = 0.0f, ss = 0.0f;
  for (int64_t d = lane; d < dim; d += 32) {
    dot = fmaf(hv[d], ev[d], dot);
    ss = fmaf(hv[d], hv[d], ss);
  }
  dot = warp_sum(dot);
  ss = warp_sum(ss);
  if (lane == 0) {
    const float rh = inv_norm(ss, eps);
    if (rh_out != nullptr) rh_out[row] = rh;
    out[row] = scale * dot * rh * re[j];
  }
}

// dh[bj, d] = rh_bj · (scale · dout_bj · re_j · e_jd − act_bj · rh_bj · dout_bj · out_bj · h_bj,d)
__global__ void paired_dh_kernel(float* __restrict__ dh, const float* __restrict__ dout,
                                 const float* __restrict__ out, const float* __restrict__ h,
                                 const float* __restrict__ e, const float* __restrict__ rh,
                                 const float* __restrict__ re, int64_t rows, int64_t c,
                                 int64_t dim, float scale, float clamped) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= rows * dim) return;
  const int64_t row = idx / dim, d = idx - row * dim, j = row % c;
  const float g = dout[row];
  const float r = rh[row];
  float val = g == 0.0f ? 0.0f : scale * g * re[j] * e[j * dim + d];
  if (r < clamped && g != 0.0f) val -= r * g * out[row] * h[idx];
  dh[idx] = r * val;
}

// de[j, d] = re_j · (scale · Σ_b dout_bj · rh_bj · h_bj,d − act_j · re_j · (Σ_b dout_bj out_bj) · e_jd)
__global__ void paired_de_kernel(float* __restrict__ de, const float* __restrict__ dout,
                                 const float* __restrict__ out, const float* __restrict__ h,
                                 const float* __restrict__ e, const float* __restrict__ rh,
                                 const float* __restrict__ re, int64_t batch, int64_t c,
                                 int64_t dim, float scale, float clamped) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= c * dim) return;
  const int64_t j = idx / dim, d = idx - j * dim;
  float acc = 0.0f, u = 0.0f;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t row = b * c + j;
    const float g = dout[row];
    if (g == 0.0f) continue;
    acc = fmaf(g * rh[row], h[row * dim + d], acc);
    u = fmaf(g, out[row], u);
  }
  const float r = re[j];
  float val = scale * acc;
  if (r < clamped) val -= r * u * e[idx];
  de[idx] = r * val;
}

// ---------------------------------------------------------------------------------------------
// Host side.

struct Scratch {
  float* p = nullptr;
  ~Scratch() {
    if (p != nullptr) cudaFree(p);
  }
  float* get(int64_t n) {
    MERCLIP_CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(n > 0 ? n : 1) * sizeof(float)));
    return p;
  }
};

unsigned blocks_for(int64_t n, int64_t per_block, const char* fn) {
  const int64_t b = (n + per_block - 1) / per_block;
  MERCLIP_CHECK(b <= 0x7fffffffLL, std::string(fn) + ": problem too large for the CUDA grid");
  return static_cast<unsigned>(b);
}

dim3 tile_grid(int64_t cols, int64_t rows, const char* fn) {
  const int64_t gx = (cols + kT - 1) / kT, gy = (rows + kT - 1) / kT;
  MERCLIP_CHECK(gx <= 0x7fffffffLL && gy <= 65535,
                std::string(fn) + ": problem too large for the CUDA grid");
  return dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
}

void rnorms(float* r, const float* v, int64_t rows, int64_t dim, float eps, const char* fn) {
  if (rows <= 0) return;
  rnorm_kernel<<<blocks_for(rows, 8, fn), 256>>>(r, v, rows, dim, eps);
  MERCLIP_CUDA_CHECK(cudaGetLastError());
}

float clamped_rnorm(float eps) { return static_cast<float>(1.0 / static_cast<double>(eps)); }

void check_sizes(int64_t a, int64_t b, int64_t dim, float eps, const char* fn) {
  MERCLIP_CHECK(a >= 0 && b >= 0 && dim >= 0, std::string(fn) + ": sizes must be >= 0");
  MERCLIP_CHECK(eps > 0.0f, std::string(fn) + ": eps must be > 0");
}

}  // namespace

// out [n,c]; x_rnorm [n], e_rnorm [c] optional; x [n,dim]; e [c,dim].
void cosine_forward(float* out, float* x_rnorm, float* e_rnorm, const float* x, const float* e,
                    const CosineParams& p) {
  const char* fn = "cuda::cosine_forward";
  check_sizes(p.n, p.c, p.dim, p.eps, fn);
  Scratch sx, se;
  float* rx = x_rnorm ? x_rnorm : (p.n > 0 ? sx.get(p.n) : nullptr);
  float* re = e_rnorm ? e_rnorm : (p.c > 0 ? se.get(p.c) : nullptr);
  rnorms(rx, x, p.n, p.dim, p.eps, fn);
  rnorms(re, e, p.c, p.dim, p.eps, fn);
  if (p.n == 0 || p.c == 0) return;
  cos_fwd_kernel<<<tile_grid(p.c, p.n, fn), dim3(kT, kT)>>>(out, x, e, rx, re, p.n, p.c, p.dim,
                                                            p.scale);
  MERCLIP_CUDA_CHECK(cudaGetLastError());
}

// dx [n,dim], de [c,dim] (either may be null) from dout [n,c] and the forward's out.
void cosine_backward(float* dx, float* de, const float* dout, const float* out, const float* x,
                     const float* e, const float* x_rnorm, const float* e_rnorm,
                     const CosineParams& p) {
  const char* fn = "cuda::cosine_backward";
  check_sizes(p.n, p.c, p.dim, p.eps, fn);
  if (p.dim == 0) return;
  const float clamped = clamped_rnorm(p.eps);
  Scratch sx, se, st;
  const float* rx = x_rnorm;
  const float* re = e_rnorm;
  if (rx == nullptr && p.n > 0) {
    float* r = sx.get(p.n);
    rnorms(r, x, p.n, p.dim, p.eps, fn);
    rx = r;
  }
  if (re == nullptr && p.c > 0) {
    float* r = se.get(p.c);
    rnorms(r, e, p.c, p.dim, p.eps, fn);
    re = r;
  }
  if (dx != nullptr && p.n > 0) {
    float* t = st.get(p.n + p.c);
    if (p.c > 0) {
      row_dot_kernel<<<blocks_for(p.n, 8, fn), 256>>>(t, dout, out, p.n, p.c);
      MERCLIP_CUDA_CHECK(cudaGetLastError());
    } else {
      MERCLIP_CUDA_CHECK(cudaMemset(t, 0, static_cast<size_t>(p.n) * sizeof(float)));
    }
    cos_bwd_kernel<<<tile_grid(p.dim, p.n, fn), dim3(kT, kT)>>>(
        dx, dout, p.c, 1, re, e, rx, t, x, p.n, p.c, p.dim, p.scale, clamped);
    MERCLIP_CUDA_CHECK(cudaGetLastError());
  }
  if (de != nullptr && p.c > 0) {
    float* u = st.p != nullptr ? st.p + p.n : st.get(p.c);
    if (p.n > 0) {
      col_dot_kernel<<<blocks_for(p.c, 256, fn), 256>>>(u, dout, out, p.n, p.c);
      MERCLIP_CUDA_CHECK(cudaGetLastError());
    } else {
      MERCLIP_CUDA_CHECK(cudaMemset(u, 0, static_cast<size_t>(p.c) * sizeof(float)));
    }
    cos_bwd_kernel<<<tile_grid(p.dim, p.c, fn), dim3(kT, kT)>>>(
        de, dout, 1, p.c, rx, x, re, u, e, p.c, p.n, p.dim, p.scale, clamped);
    MERCLIP_CUDA_CHECK(cudaGetLastError());
  }
}

// out [batch,c]; h_rnorm [batch·c], e_rnorm [c] optional; h [batch,c,dim]; e [c,dim].
void cosine_paired_forward(float* out, float* h_rnorm, float* e_rnorm, const float* h,
                           const float* e, const CosinePairedParams& p) {
  const char* fn = "cuda::cosine_paired_forward";
  check_sizes(p.batch, p.c, p.dim, p.eps, fn);
  Scratch se;
  float* re = e_rnorm ? e_rnorm : (p.c > 0 ? se.get(p.c) : nullptr);
  rnorms(re, e, p.c, p.dim, p.eps, fn);
  const int64_t rows = p.batch * p.c;
  if (rows == 0) return;
  paired_fwd_kernel<<<blocks_for(rows, 8, fn), 256>>>(out, h_rnorm, h, e, re, rows, p.c, p.dim,
                                                       p.scale, p.eps);
  MERCLIP_CUDA_CHECK(cudaGetLastError());
}

// dh [batch,c,dim], de [c,dim] (either may be null).
void cosine_paired_backward(float* dh, float* de, const float* dout, const float* out,
                            const float* h, const float* e, const float* h_rnorm,
                            const float* e_rnorm, const CosinePairedParams& p) {
  const char* fn = "cuda::cosine_paired_backward";
  check_sizes(p.batch, p.c, p.dim, p.eps, fn);
  const int64_t rows = p.batch * p.c;
  if (p.dim == 0 || p.c == 0) return;
  const float clamped = clamped_rnorm(p.eps);
  Scratch sh, se;
  const float* rh = h_rnorm;
  const float* re = e_rnorm;
  if (rh == nullptr && rows > 0) {
    float* r = sh.get(rows);
    rnorms(r, h, rows, p.dim, p.eps, fn);
    rh = r;
  }
  if (re == nullptr) {
    float* r = se.get(p.c);
    rnorms(r, e, p.c, p.dim, p.eps, fn);
    re = r;
  }
  if (dh != nullptr && rows > 0) {
    paired_dh_kernel<<<blocks_for(rows * p.dim, 256, fn), 256>>>(dh, dout, out, h, e, rh, re,
                                                                 rows, p.c, p.dim, p.scale,
                                                                 clamped);
    MERCLIP_CUDA_CHECK(cudaGetLastError());
  }
  if (de != nullptr) {
    paired_de_kernel<<<blocks_for(p.c * p.dim, 256, fn), 256>>>(de, dout, out, h, e, rh, re,
                                                                p.batch, p.c, p.dim, p.scale,
                                                                clamped);
    MERCLIP_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace cuda
}  // namespace merclip
