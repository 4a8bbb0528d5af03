// cuda/attention.cu — fused multi-head attention on the GPU (merclip::cuda, declared in
// merclip/cuda_kernels.h), fp32, flash style. Same semantics as cpu/attention.cc and
// ref/attention_ref.cc (merclip/attention.h): packed rows q [Tq, ·], k, v [Tk, ·] with per-sample
// offsets cu_seqlens_q / cu_seqlens_k, head h at column h·Dh, row strides q/k/v_stride; out,
// dq [Tq, H·Dh], dk, dv [Tk, H·Dh], lse [H, Tq]; causal (key j of a sample masked for its query
// i when j > i); a row that sees no key → out 0, lse +inf, zero gradients; a NaN score → the
// row's out and lse are NaN; head dims 1 … 256. All pointers (the offsets included) are device
// pointers. The grids are sized by max_seqlen_q / max_seqlen_k; blocks past a sample's length
// return at once.
//
// Forward (attn_fwd_kernel): one block per (b·h, tile of kBQ = 16 query rows), 4 warps, each
// warp owns 4 rows. The block's Q tile and one key tile (kBK = 32 keys) of K and V sit in
// shared memory (row stride ld = Dh | 1, odd, so a warp reading 32 different rows hits 32
// banks). Per key tile: lane j computes S_ij = scale·q_i·k_j for the warp's 4 rows, the online
// softmax update (running max m, running sum l, acc scaled by exp(m_old − m_new)), then
// acc_i += Σ_j P_ij v_j with P broadcast by shuffles and lanes owning output dims d = lane + 32c
// (DCH = ceil(Dh/32) register chunks, a template argument). Saves lse = m + log l. The score
// matrix never exists beyond one 4 × 32 register tile per warp.
//
// Backward (deterministic, no atomics; recomputes P from q, k and lse):
//   attn_bwd_dot_kernel : D_i = Σ_d dout_id · out_id (one warp per row);
//   attn_bwd_dq_kernel  : per query tile, like the forward: P_ij = exp(S_ij − lse_i),
//                         dP_ij = dout_i · v_j, dS_ij = P_ij (dP_ij − D_i),
//                         dq_i = scale · Σ_j dS_ij k_j;
//   attn_bwd_dkdv_kernel: per key tile of kBKV = 16 keys (4 warps × 4 keys, lanes over 32
//                         query rows of a shared-memory Q / dout tile):
//                         dv_j = Σ_i P_ij dout_i, dk_j = scale · Σ_i dS_ij q_i.
// As in the ref, a zero probability contributes nothing (0 · NaN in masked / padding data does
// not leak into the gradients); a NaN row (lse NaN) propagates NaN.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "cuda_check.h"
#include "merclip/cuda_kernels.h"
#include "merclip/error.h"

namespace merclip {
namespace cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = 4;                 // query rows (forward / dq) or keys (dkdv) per warp
constexpr int kBQ = kWarps * kRows;      // 16 query rows per forward / dq block
constexpr int kBK = 32;                  // keys per key tile (one per lane)
constexpr int kBKV = kWarps * kRows;     // 16 keys per dkdv block
constexpr int kBQV = 32;                 // query rows per dkdv query tile (one per lane)
constexpr unsigned kFull = 0xffffffffu;

struct Args {
  int64_t heads, tq;
  int64_t ldq, ldk, ldv, ldo;  // row strides of q, k, v and of out / dout / dq / dk / dv
  int dh, ld;
  float scale;
  bool causal;
  const int32_t* cu_q;  // [B + 1]
  const int32_t* cu_k;
};

__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(kFull, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(kFull, x, o);
  return x;
}

// One sample's rows: queries [q0, q0 + lq), keys [k0, k0 + lk).
struct Seq {
  int64_t q0, lq, k0, lk;
};
__device__ __forceinline__ Seq seq_of(const Args& a, int64_t b) {
  Seq s;
  s.q0 = a.cu_q[b];
  s.lq = a.cu_q[b + 1] - s.q0;
  s.k0 = a.cu_k[b];
  s.lk = a.cu_k[b + 1] - s.k0;
  return s;
}

// rows [r0, r0 + nrows) of a [*, dh] matrix starting at `src`, rows lds floats apart (rows >=
// limit read as 0), into shared memory with stride ld.
__device__ __forceinline__ void load_tile(float* dst, const float* __restrict__ src, int64_t lds,
                                          int64_t r0, int nrows, int64_t limit, int dh, int ld) {
  for (int idx = threadIdx.x; idx < nrows * dh; idx += blockDim.x) {
    const int r = idx / dh, d = idx - r * dh;
    const int64_t row = r0 + r;
    dst[r * ld + d] = row < limit ? src[row * lds + d] : 0.0f;
  }
}

// ---------------------------------------------------------------------------------------------
// Forward. Grid (B·H, ceil(Lq / kBQ)); dynamic shared memory (kBQ + 2·kBK)·ld floats.
template <int DCH>
__global__ void __launch_bounds__(kThreads)
attn_fwd_kernel(float* __restrict__ out, float* __restrict__ lse, const float* __restrict__ q,
                const float* __restrict__ k, const float* __restrict__ v, Args a) {
  extern __shared__ float smem[];
  const int dh = a.dh, ld = a.ld;
  float* sQ = smem;
  float* sK = sQ + kBQ * ld;
  float* sV = sK + kBK * ld;
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / a.heads, h = bh % a.heads;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kBQ;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const Seq sq = seq_of(a, b);
  if (i0 >= sq.lq) return;  // past this sample's queries (the whole block)
  const int64_t qend = sq.lq;  // rows >= qend belong to no query of this sample
  int64_t kend = sq.lk;        // keys >= kend are masked for every row
  if (a.causal) {
    const int64_t last = (i0 + kBQ < qend ? i0 + kBQ : qend) - 1;  // last live row of the tile
    if (last + 1 < kend) kend = last + 1 > 0 ? last + 1 : 0;
  }
  const float* qb = q + sq.q0 * a.ldq + h * dh;
  const float* kb = k + sq.k0 * a.ldk + h * dh;
  const float* vb = v + sq.k0 * a.ldv + h * dh;
  load_tile(sQ, qb, a.ldq, i0, kBQ, qend, dh, ld);

  float m[kRows], l[kRows], acc[kRows][DCH];
  bool nanrow[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
    nanrow[r] = false;
#pragma unroll
    for (int c = 0; c < DCH; ++c) acc[r][c] = 0.0f;
  }
  const int rbase = warp * kRows;

  for (int64_t j0 = 0; j0 < kend; j0 += kBK) {
    __syncthreads();  // the previous tile is no longer read (and sQ is loaded, first time)
    load_tile(sK, kb, a.ldk, j0, kBK, kend, dh, ld);
    load_tile(sV, vb, a.ldv, j0, kBK, kend, dh, ld);
    __syncthreads();
    // S for the warp's rows, key j0 + lane
    float s[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) s[r] = 0.0f;
    for (int d = 0; d < dh; ++d) {
      const float kv = sK[lane * ld + d];
#pragma unroll
      for (int r = 0; r < kRows; ++r) s[r] = fmaf(sQ[(rbase + r) * ld + d], kv, s[r]);
    }
    const int64_t j = j0 + lane;
    float p[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int64_t i = i0 + rbase + r;
      const bool masked = i >= qend || j >= kend || (a.causal && j > i);
      const float sc = s[r] * a.scale;
      const bool isn = !masked && sc != sc;
      if (__any_sync(kFull, isn)) nanrow[r] = true;
      const float sm = (masked || isn) ? -INFINITY : sc;
      const float m_new = fmaxf(m[r], warp_max(sm));
      if (m_new == -INFINITY) {  // nothing visible yet for this row (warp-uniform)
        p[r] = 0.0f;
        continue;
      }
      const float alpha = expf(m[r] - m_new);  // m = −inf → 0
      p[r] = (masked || isn) ? 0.0f : expf(sc - m_new);
      l[r] = l[r] * alpha + warp_sum(p[r]);
#pragma unroll
      for (int c = 0; c < DCH; ++c) acc[r][c] *= alpha;
      m[r] = m_new;
    }
    const int nk = static_cast<int>(kend - j0 < kBK ? kend - j0 : kBK);
    for (int jj = 0; jj < nk; ++jj) {
      float pb[kRows];
#pragma unroll
      for (int r = 0; r < kRows; ++r) pb[r] = __shfl_sync(kFull, p[r], jj);
#pragma unroll
      for (int c = 0; c < DCH; ++c) {
        const int d = lane + 32 * c;
        if (d < dh) {
          const float vv = sV[jj * ld + d];
#pragma unroll
          for (int r = 0; r < kRows; ++r)
            acc[r][c] = pb[r] != 0.0f ? fmaf(pb[r], vv, acc[r][c]) : acc[r][c];
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t i = i0 + rbase + r;
    if (i >= qend) continue;
    float* o = out + (sq.q0 + i) * a.ldo + h * dh;
    float lv;
    if (!nanrow[r] && l[r] > 0.0f) {
      const float inv = 1.0f / l[r];
#pragma unroll
      for (int c = 0; c < DCH; ++c) {
        const int d = lane + 32 * c;
        if (d < dh) o[d] = acc[r][c] * inv;
      }
      lv = m[r] + logf(l[r]);
    } else if (nanrow[r] || l[r] != l[r]) {
#pragma unroll
      for (int c = 0; c < DCH; ++c) {
        const int d = lane + 32 * c;
        if (d < dh) o[d] = NAN;
      }
      lv = NAN;
    } else {
#pragma unroll
      for (int c = 0; c < DCH; ++c) {
        const int d = lane + 32 * c;
        if (d < dh) o[d] = 0.0f;
      }
      lv = INFINITY;
    }
    if (lane == 0) lse[h * a.tq + sq.q0 + i] = lv;
  }
}

// ---------------------------------------------------------------------------------------------
// Backward, step 1: D[h·Tq + t] = Σ_d dout[t, h·Dh + d] · out[t, h·Dh + d] (the lse layout),
// one warp per (head, row).
__global__ void attn_bwd_dot_kernel(float* __restrict__ D, const float* __restrict__ dout,
                                    const float* __restrict__ out, int64_t tq, int64_t heads,
                                    int dh) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= tq * heads) return;
  const int64_t h = row / tq, t = row - h * tq;
  const int64_t o = t * heads * dh + h * dh;
  float s = 0.0f;
  for (int d = lane; d < dh; d += 32) s = fmaf(dout[o + d], out[o + d], s);
  s = warp_sum(s);
  if (lane == 0) D[row] = s;
}

// Backward, step 2: dq. Grid (B·H, ceil(Lq / kBQ)); shared (2·kBQ + 2·kBK)·ld floats.
template <int DCH>
__global__ void __launch_bounds__(kThreads)
attn_bwd_dq_kernel(float* __restrict__ dq, const float* __restrict__ dout,
                   const float* __restrict__ q, const float* __restrict__ k,
                   const float* __restrict__ v, const float* __restrict__ lse,
                   const float* __restrict__ D, Args a) {
  extern __shared__ float smem[];
  const int dh = a.dh, ld = a.ld;
  float* sQ = smem;
  float* sG = sQ + kBQ * ld;
  float* sK = sG + kBQ * ld;
  float* sV = sK + kBK * ld;
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / a.heads, h = bh % a.heads;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kBQ;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const Seq sq = seq_of(a, b);
  if (i0 >= sq.lq) return;
  const int64_t qend = sq.lq;
  int64_t kend = sq.lk;
  if (a.causal) {
    const int64_t last = (i0 + kBQ < qend ? i0 + kBQ : qend) - 1;
    if (last + 1 < kend) kend = last + 1 > 0 ? last + 1 : 0;
  }
  load_tile(sQ, q + sq.q0 * a.ldq + h * dh, a.ldq, i0, kBQ, qend, dh, ld);
  load_tile(sG, dout + sq.q0 * a.ldo + h * dh, a.ldo, i0, kBQ, qend, dh, ld);
  const float* lb = lse + h * a.tq + sq.q0;
  const float* Db = D + h * a.tq + sq.q0;
  const int rbase = warp * kRows;
  float L[kRows], Di[kRows], acc[kRows][DCH];
  bool live[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t i = i0 + rbase + r;
    live[r] = i < qend;
    L[r] = live[r] ? lb[i] : INFINITY;
    Di[r] = live[r] ? Db[i] : 0.0f;
    live[r] = live[r] && L[r] != INFINITY;  // a fully masked row: no gradient
#pragma unroll
    for (int c = 0; c < DCH; ++c) acc[r][c] = 0.0f;
  }
  const float* kb = k + sq.k0 * a.ldk + h * dh;
  const float* vb = v + sq.k0 * a.ldv + h * dh;
  for (int64_t j0 = 0; j0 < kend; j0 += kBK) {
    __syncthreads();
    load_tile(sK, kb, a.ldk, j0, kBK, kend, dh, ld);
    load_tile(sV, vb, a.ldv, j0, kBK, kend, dh, ld);
    __syncthreads();
    float s[kRows], dp[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) s[r] = dp[r] = 0.0f;
    for (int d = 0; d < dh; ++d) {
      const float kv = sK[lane * ld + d];
      const float vv = sV[lane * ld + d];
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        s[r] = fmaf(sQ[(rbase + r) * ld + d], kv, s[r]);
        dp[r] = fmaf(sG[(rbase + r) * ld + d], vv, dp[r]);
      }
    }
    const int64_t j = j0 + lane;
    float ds[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int64_t i = i0 + rbase + r;
      const bool masked = !live[r] || j >= kend || (a.causal && j > i);
      const float p = masked ? 0.0f : expf(s[r] * a.scale - L[r]);
      ds[r] = p == 0.0f ? 0.0f : p * (dp[r] - Di[r]);
    }
    const int nk = static_cast<int>(kend - j0 < kBK ? kend - j0 : kBK);
    for (int jj = 0; jj < nk; ++jj) {
      float sb[kRows];
#pragma unroll
      for (int r = 0; r < kRows; ++r) sb[r] = __shfl_sync(kFull, ds[r], jj);
#pragma unroll
      for (int c = 0; c < DCH; ++c) {
        const int d = lane + 32 * c;
        if (d < dh) {
          const float kv = sK[jj * ld + d];
#pragma unroll
          for (int r = 0; r < kRows; ++r)
            acc[r][c] = sb[r] != 0.0f ? fmaf(sb[r], kv, acc[r][c]) : acc[r][c];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t i = i0 + rbase + r;
    if (i >= qend) continue;
    float* o = dq + (sq.q0 + i) * a.ldo + h * dh;
#pragma unroll
    for (int c = 0; c < DCH; ++c) {
      const int d = lane + 32 * c;
      if (d < dh) o[d] = live[r] ? a.scale * acc[r][c] : 0.0f;
    }
  }
}

// Backward, step 3: dk, dv. Grid (B·H, ceil(Lk / kBKV)); shared (2·kBKV + 2·kBQV)·ld + 2·kBQV
// floats. Warp w owns keys j0 + 4w … j0 + 4w + 3; lane = query row within the query tile.
template <int DCH>
__global__ void __launch_bounds__(kThreads)
attn_bwd_dkdv_kernel(float* __restrict__ dk, float* __restrict__ dv,
                     const float* __restrict__ dout, const float* __restrict__ q,
                     const float* __restrict__ k, const float* __restrict__ v,
                     const float* __restrict__ lse, const float* __restrict__ D, Args a) {
  extern __shared__ float smem[];
  const int dh = a.dh, ld = a.ld;
  float* sK = smem;
  float* sV = sK + kBKV * ld;
  float* sQ = sV + kBKV * ld;
  float* sG = sQ + kBQV * ld;
  float* sL = sG + kBQV * ld;
  float* sD = sL + kBQV;
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / a.heads, h = bh % a.heads;
  const int64_t j0 = static_cast<int64_t>(blockIdx.y) * kBKV;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const Seq sq = seq_of(a, b);
  if (j0 >= sq.lk) return;  // past this sample's keys (the whole block)
  const int64_t klen = sq.lk, qend = sq.lq;
  load_tile(sK, k + sq.k0 * a.ldk + h * dh, a.ldk, j0, kBKV, klen, dh, ld);
  load_tile(sV, v + sq.k0 * a.ldv + h * dh, a.ldv, j0, kBKV, klen, dh, ld);
  const float* lb = lse + h * a.tq + sq.q0;
  const float* Db = D + h * a.tq + sq.q0;
  const int kbase = warp * kRows;
  float accK[kRows][DCH], accV[kRows][DCH];
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int c = 0; c < DCH; ++c) accK[r][c] = accV[r][c] = 0.0f;
  const float* qb = q + sq.q0 * a.ldq + h * dh;
  const float* gb = dout + sq.q0 * a.ldo + h * dh;
  // causal: key j sees queries i >= j, so query tiles start at the tile holding row j0
  const int64_t istart = (a.causal ? (j0 / kBQV) * kBQV : 0);
  const int64_t iend = qend;
  for (int64_t t0 = istart; t0 < iend; t0 += kBQV) {
    __syncthreads();
    load_tile(sQ, qb, a.ldq, t0, kBQV, qend, dh, ld);
    load_tile(sG, gb, a.ldo, t0, kBQV, qend, dh, ld);
    for (int r = threadIdx.x; r < kBQV; r += blockDim.x) {
      const int64_t i = t0 + r;
      sL[r] = i < qend ? lb[i] : INFINITY;
      sD[r] = i < qend ? Db[i] : 0.0f;
    }
    __syncthreads();
    float s[kRows], dp[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) s[r] = dp[r] = 0.0f;
    for (int d = 0; d < dh; ++d) {
      const float qv = sQ[lane * ld + d];
      const float gv = sG[lane * ld + d];
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        s[r] = fmaf(qv, sK[(kbase + r) * ld + d], s[r]);
        dp[r] = fmaf(gv, sV[(kbase + r) * ld + d], dp[r]);
      }
    }
    const int64_t i = t0 + lane;
    const float Li = sL[lane], Dv = sD[lane];
    const bool row_live = i < qend && Li != INFINITY;
    float p[kRows], ds[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int64_t j = j0 + kbase + r;
      const bool masked = !row_live || j >= klen || (a.causal && j > i);
      p[r] = masked ? 0.0f : expf(s[r] * a.scale - Li);
      ds[r] = p[r] == 0.0f ? 0.0f : p[r] * (dp[r] - Dv);
    }
    const int ni = static_cast<int>(qend - t0 < kBQV ? qend - t0 : kBQV);
    for (int ii = 0; ii < ni; ++ii) {
      float pb[kRows], sb[kRows];
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        pb[r] = __shfl_sync(kFull, p[r], ii);
        sb[r] = __shfl_sync(kFull, ds[r], ii);
      }
#pragma unroll
      for (int c = 0; c < DCH; ++c) {
        const int d = lane + 32 * c;
        if (d < dh) {
          const float gv = sG[ii * ld + d];
          const float qv = sQ[ii * ld + d];
#pragma unroll
          for (int r = 0; r < kRows; ++r) {
            accV[r][c] = pb[r] != 0.0f ? fmaf(pb[r], gv, accV[r][c]) : accV[r][c];
            accK[r][c] = sb[r] != 0.0f ? fmaf(sb[r], qv, accK[r][c]) : accK[r][c];
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t j = j0 + kbase + r;
    if (j >= klen) continue;
    float* ok = dk + (sq.k0 + j) * a.ldo + h * dh;
    float* ov = dv + (sq.k0 + j) * a.ldo + h * dh;
#pragma unroll
    for (int c = 0; c < DCH; ++c) {
      const int d = lane + 32 * c;
      if (d < dh) {
        ok[d] = a.scale * accK[r][c];
        ov[d] = accV[r][c];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side.

void check_params(const AttentionParams& p, const char* fn) {
  MERCLIP_CHECK(p.batch >= 0 && p.heads >= 0 && p.total_q >= 0 && p.total_k >= 0 &&
                    p.max_seqlen_q >= 0 && p.max_seqlen_k >= 0,
                std::string(fn) + ": negative size");
  MERCLIP_CHECK(p.head_dim >= 1 && p.head_dim <= 256,
                std::string(fn) + ": head_dim must be in [1, 256]");
  MERCLIP_CHECK(p.batch == 0 || (p.cu_seqlens_q != nullptr && p.cu_seqlens_k != nullptr),
                std::string(fn) + ": cu_seqlens missing");
  MERCLIP_CHECK(p.batch * p.heads <= 0x7fffffffLL, std::string(fn) + ": batch·heads too large");
  MERCLIP_CHECK((p.max_seqlen_q + kBQ - 1) / kBQ <= 65535 &&
                    (p.max_seqlen_k + kBKV - 1) / kBKV <= 65535,
                std::string(fn) + ": sequence too long for the CUDA grid (max 1,048,560)");
}

Args make_args(const AttentionParams& p) {
  Args a;
  a.heads = p.heads > 0 ? p.heads : 1;
  a.tq = p.total_q;
  a.ldq = attention_q_stride(p);
  a.ldk = attention_k_stride(p);
  a.ldv = attention_v_stride(p);
  a.ldo = p.heads * p.head_dim;
  a.dh = static_cast<int>(p.head_dim);
  a.ld = a.dh | 1;  // odd row stride in shared memory: conflict-free column reads
  a.scale = p.scale;
  a.causal = p.causal;
  a.cu_q = p.cu_seqlens_q;
  a.cu_k = p.cu_seqlens_k;
  return a;
}

// Launches kernel<<<grid, kThreads, smem>>>(args...) after raising its dynamic shared-memory
// limit when needed; checks both.
template <typename Kernel, typename... Ts>
void launch(Kernel kernel, dim3 grid, size_t smem, Ts... args) {
  if (grid.x == 0 || grid.y == 0) return;
  MERCLIP_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(smem)));
  kernel<<<grid, kThreads, smem>>>(args...);
  MERCLIP_CUDA_CHECK(cudaGetLastError());
}

template <int DCH>
void forward_dch(float* out, float* lse, const float* q, const float* k, const float* v,
                 const AttentionParams& p) {
  const Args a = make_args(p);
  const dim3 grid(static_cast<unsigned>(p.batch * p.heads),
                  static_cast<unsigned>((p.max_seqlen_q + kBQ - 1) / kBQ));
  const size_t smem = static_cast<size_t>(kBQ + 2 * kBK) * a.ld * sizeof(float);
  launch(attn_fwd_kernel<DCH>, grid, smem, out, lse, q, k, v, a);
}

template <int DCH>
void backward_dch(float* dq, float* dk, float* dv, const float* dout, const float* q,
                  const float* k, const float* v, const float* lse, const float* D,
                  const AttentionParams& p) {
  const Args a = make_args(p);
  const unsigned bh = static_cast<unsigned>(p.batch * p.heads);
  const size_t smem_dq = static_cast<size_t>(2 * kBQ + 2 * kBK) * a.ld * sizeof(float);
  launch(attn_bwd_dq_kernel<DCH>, dim3(bh, static_cast<unsigned>((p.max_seqlen_q + kBQ - 1) / kBQ)),
         smem_dq, dq, dout, q, k, v, lse, D, a);
  const size_t smem_kv =
      (static_cast<size_t>(2 * kBKV + 2 * kBQV) * a.ld + 2 * kBQV) * sizeof(float);
  launch(attn_bwd_dkdv_kernel<DCH>, dim3(bh, static_cast<unsigned>((p.max_seqlen_k + kBKV - 1) / kBKV)),
         smem_kv, dk, dv, dout, q, k, v, lse, D, a);
}

struct DeviceScratch {
  float* p = nullptr;
  ~DeviceScratch() {
    if (p != nullptr) cudaFree(p);
  }
};

}  // namespace

// out [Tq, H·Dh], lse [H, Tq] from packed q, k, v (device pointers; merclip/attention.h).
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionParams& p) {
  check_params(p, "cuda::attention_forward");
  switch ((p.head_dim + 31) / 32) {
    case 1: return forward_dch<1>(out, lse, q, k, v, p);
    case 2: return forward_dch<2>(out, lse, q, k, v, p);
    case 3: return forward_dch<3>(out, lse, q, k, v, p);
    case 4: return forward_dch<4>(out, lse, q, k, v, p);
    case 5: return forward_dch<5>(out, lse, q, k, v, p);
    case 6: return forward_dch<6>(out, lse, q, k, v, p);
    case 7: return forward_dch<7>(out, lse, q, k, v, p);
    default: return forward_dch<8>(out, lse, q, k, v, p);
  }
}

// dq [Tq, H·Dh], dk, dv [Tk, H·Dh] from dout and the forward's out and lse (device pointers).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const AttentionParams& p) {
  check_params(p, "cuda::attention_backward");
  const int64_t rows = p.heads * p.total_q;
  DeviceScratch D;
  if (rows > 0) {
    MERCLIP_CUDA_CHECK(cudaMalloc(&D.p, static_cast<size_t>(rows) * sizeof(float)));
    const int64_t blocks = (rows + kWarps - 1) / kWarps;
    MERCLIP_CHECK(blocks <= 0x7fffffffLL, "cuda::attention_backward: too many rows");
    attn_bwd_dot_kernel<<<static_cast<unsigned>(blocks), kThreads>>>(
        D.p, dout, out, p.total_q, p.heads, static_cast<int>(p.head_dim));
    MERCLIP_CUDA_CHECK(cudaGetLastError());
  } else if (p.heads * p.total_k > 0) {
    // no query rows: dk = dv = 0 (the dkdv kernel writes them; D is never read)
    MERCLIP_CUDA_CHECK(cudaMalloc(&D.p, sizeof(float)));
  }
  switch ((p.head_dim + 31) / 32) {
    case 1: backward_dch<1>(dq, dk, dv, dout, q, k, v, lse, D.p, p); break;
    case 2: backward_dch<2>(dq, dk, dv, dout, q, k, v, lse, D.p, p); break;
    case 3: backward_dch<3>(dq, dk, dv, dout, q, k, v, lse, D.p, p); break;
    case 4: backward_dch<4>(dq, dk, dv, dout, q, k, v, lse, D.p, p); break;
    case 5: backward_dch<5>(dq, dk, dv, dout, q, k, v, lse, D.p, p); break;
    case 6: backward_dch<6>(dq, dk, dv, dout, q, k, v, lse, D.p, p); break;
    case 7: backward_dch<7>(dq, dk, dv, dout, q, k, v, lse, D.p, p); break;
    default: backward_dch<8>(dq, dk, dv, dout, q, k, v, lse, D.p, p); break;
  }
  // D is freed by the scratch's destructor: cudaFree waits for the kernels using it.
}

}  // namespace cuda
}  // namespace merclip
