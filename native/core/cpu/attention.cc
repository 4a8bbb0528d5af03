// native/core/cpu/attention.cc — fused multi-head attention on the CPU (merclip::cpu, declared
// in merclip/attention.h), fp32. The readable twin is ref/attention_ref.cc; tests/
// test_attention.cc holds the two together.
//
// Contract (same as the ref):
// (a) the forward saves lse [B,H,Lq] (float, log Σ_j exp(S_ij) in the scaled domain);
// (b) every output is OVERWRITTEN: out and lse by the forward, dq / dk / dv by the backward
//     (it zeroes them itself — no hidden beta = 1 contract);
// (c) a query row whose keys are all masked gives out = 0, lse = +inf and zero gradients (dq
//     row 0, and it adds nothing to dk / dv) — flash-attention's convention, never NaN;
// (d) parallel split, race-free and independent of the thread count (see each function).
//
// Tiles: kBQ query rows × kBK keys. The forward's per-key-tile step (S = scale·q kᵀ, the
// online-softmax update, acc += P v) is fwd_tile_step in cpu/attention_tiles.h: register-tiled
// loops over fixed-width float lanes that GCC vectorises at -O3, with the row max and sum taken
// over 16 partial lanes and reduced in a fixed order (an in-order float reduction would not
// vectorise). When simd_level() is avx512 the step runs from attention_avx512.cc instead: a
// hand-written kernel that keeps 4 rows × 64 scores in zmm registers from the score GEMM through
// the mask, max, exp and sum, then does α·acc + P v on the same rows. The backward's tile GEMMs
// (gemm_nt / gemm_nn_acc, also in cpu/attention_tiles.h: 4 rows × 64 lanes, A broadcast with
// any strides so Pᵀ / dSᵀ products need no transposed copy) are its generic path; with AVX-512
// the backward runs a fused score step from attention_avx512.cc instead (S, P, dP, dS per
// 4-row block in zmm registers; then its own C += op(A)·B kernel for dV, dq, dK), and the kᵀ
// tiles [Dh, 64] the score kernels want are transposed through registers there (a pure copy). The forward keeps the transposed tiles of the current (b, h)
// per thread for its next query tiles, and prefetches the next tile's k and v rows (with Lq = 7
// every tile is read from memory once).
// Levels may differ in rounding (FMA or not, exp polynomial evaluation); threads never do. exp is
// exp_f (cpu/vec_math.h, shared with cpu/ops.cc: a branch-free Cephes expf, relative error
// < 2e-7) or its AVX-512 twin (same reduction and polynomial, 2^n by scalef), so no libm call
// sits in a hot loop (one std::log per query row).
// Optimisation verdicts (forward, 2-core Zen 4, A/B in one process, medians):
// - softmax with lane-wise max / sum instead of scalar in-order loops: long 1024 54 → 64 % of
//   peak, encoder 64 → 76 %; kept (fwd_tile_step).
// - fused AVX-512 step, scores kept in registers: a further 10–20 % on every shape, 2× at head
//   dim 6 (the exp dominates there); kept. 6-row blocks instead of 4: no difference; 4 kept.
// - software prefetch (L2) of the next tile's k and v rows on the first pass over a (b, h):
//   decoder 25 → 30 % of peak, long / encoder neutral; kept. Prefetching the current v tile
//   into L1 at the tile start instead: about half the gain. Issuing the prefetches a few per
//   score-loop iteration (AVX-512 step) instead of in one burst before the step (which stalls
//   the load queue): a further ~11 % on the decoder shapes (CPU time); kept.
// - causal diagonal / partial tiles: each 4-row block computes only the 16-key column chunks
//   some row of it sees, and P v only over those keys: CLIP text causal (L 77) 28 → 38 %.
// Optimisation verdicts (backward, same machine, old vs new A/B in one process, medians of 7):
// - fused AVX-512 score step (attention_bwd_scores_avx512: per 4-row block S = q kᵀ in zmm
//   registers, P = e^{scale·S − lse} masked by lane masks, then dP = dO vᵀ in the same
//   registers and scale·dS stored — no P / dP round trip between separate GEMMs and scalar
//   exp loops) plus an AVX-512 C += op(A)·B with row blocks sized to the head dim (4 rows × 64
//   lanes, 8 × 32, 16 × 16, masked head-dim tail instead of scalar columns): backward
//   encoder 375 / 500 1.66× / 1.54×, long 1024 1.53×, CLIP causal 1.27×, decoder 1.09×,
//   head dim 6 4.4×; kept. AVX2 / portable levels keep the generic path below. `npm run bench
//   -- attention` back to back (bwd ms): encoder 375 204 → 123, 500 310 → 224, long 449 → 273,
//   CLIP causal 12.5 → 8.8, decoder 375 19.0 → 8.9, head dim 6 66.7 → 14.8.
//   Tried, no gain (dropped): 6-row blocks (24 accumulators) in the nn kernel at head dim 64;
//   3 / 2-row remainder blocks instead of single rows (decoder Lq 7); an L2 prefetch of the
//   next key tile's k / v rows at each tile start (−2 %).
// Scratch: thread_local grow-only AlignedBuffers (no per-call allocation once warm).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "../common/aligned_buffer.h"
#include "merclip/attention.h"
#include "merclip/cpu_features.h"
#include "merclip/error.h"
#include "merclip/thread_pool.h"
#include "attention_tiles.h"
#include "vec_math.h"

namespace merclip {
namespace cpu {

namespace detail {
// attention_avx512.cc: the same as transpose_tile below (a pure copy, bitwise identical) …
void attention_transpose_tile_avx512(float* Bt, const float* X, int64_t nk, int64_t dh);
void attention_fwd_tile_step_avx512(float* s, float* m, float* l, float* acc, const float* qs,
                                    const float* kt, const float* v, int64_t nr, int64_t nk,
                                    int64_t diag, int64_t dh, const float* pf0, int64_t n0,
                                    const float* pf1, int64_t n1);
// Backward: P and scale·dS of query rows against one key tile (scores in registers) …
void attention_bwd_scores_avx512(float* P, float* dS, const float* q, const float* g,
                                 const float* kt, const float* vt, const float* L,
                                 const float* D, int64_t nr, int64_t nk, int64_t diag,
                                 int64_t dh, float scale);
// … and C += op(A) B with row blocks sized to the head dim, masked head-dim tail.
void attention_bwd_nn_acc_avx512(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                                 const float* B, int64_t ldb, int64_t rows, int64_t nc,
                                 int64_t dh);
}  // namespace detail

namespace {

constexpr int64_t kBQ = 64;  // query rows per tile
constexpr int64_t kBK = 64;  // keys per tile (the lane width of the score kernel)
// Split-K (flash-decoding) when (batch·heads·query tiles) is below this — a function of the
// shape only, never of the thread count, so results do not depend on it.
constexpr int64_t kSplitMinTasks = 32;
constexpr int64_t kSplitMinTiles = 2;  // key tiles per split block, at least

constexpr float kInf = std::numeric_limits<float>::infinity();

thread_local AlignedBuffer t_tile;      // per-task tiles (forward and backward)
thread_local AlignedBuffer t_partials;  // split-K partial (m, l, acc), caller thread

// Forward kᵀ cache: the key tiles of the (b, h) this thread worked on last, transposed once and
// reused by its next query tiles of the same (b, h) (tasks are claimed in order, so a thread
// usually gets several). Keyed by a per-call generation number, so a later call never sees a
// stale copy; the values are exact copies, so caching cannot change any result.
std::atomic<uint64_t> g_forward_generation{0};
struct KtCache {
  uint64_t generation = 0;  // 0 = empty
  int64_t bh = -1;
  const float* data = nullptr;  // tiles' storage when the flags were set
  std::vector<uint8_t> ready;  // per key tile
  AlignedBuffer tiles;         // [nkt][dh][kBK]
};
thread_local KtCache t_kt;

// ---------------------------------------------------------------------------------------------
// Small register-tiled GEMMs of the backward's generic path (AVX2 / portable levels): the loops
// live in cpu/attention_tiles.h (this file's own copy, built with its flags); with AVX-512 the
// backward runs attention_avx512.cc's fused score step and nn kernel instead.
static_assert(kBK == kTileN, "attention_tiles.h's lane width must match kBK");

// C [rows, kBK] (row stride ldc) = A [rows, dh] · Btᵀ, Bt [dh, kBK].
inline void gemm_nt(float* C, int64_t ldc, const float* A, int64_t lda, const float* Bt,
                    int64_t rows, int64_t dh) {
  gemm_nt_tiles(C, ldc, A, lda, Bt, rows, dh);
}

// C [rows, dh] += op(A) [rows, nc] · B [nc, dh]; element (r, c) of op(A) is A[r·ars + c·acs]
// (ars = lda, acs = 1 for A; ars = 1, acs = lda for Aᵀ).
inline void gemm_nn_acc(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                        const float* B, int64_t ldb, int64_t rows, int64_t nc, int64_t dh) {
  gemm_nn_acc_tiles(C, ldc, A, ars, acs, B, ldb, rows, nc, dh);
}

// Bt [dh, kBK] = rows [j0, j0 + nk) of X (row stride dh) transposed, zero-padded to kBK columns.
inline void transpose_tile(float* __restrict Bt, const float* __restrict X, int64_t nk,
                           int64_t dh) {
#ifdef MERCLIP_HAVE_AVX512
  if (simd_level() == SimdLevel::avx512) {
    detail::attention_transpose_tile_avx512(Bt, X, nk, dh);
    return;
  }
#endif
  for (int64_t d = 0; d < dh; ++d) {
    float* __restrict row = Bt + d * kBK;
    for (int64_t j = 0; j < nk; ++j) row[j] = X[j * dh + d];
    for (int64_t j = nk; j < kBK; ++j) row[j] = 0.0f;
  }
}

// Prefetches n floats from p into L2 (prefetcht1), one request per cache line.
inline void prefetch_rows(const float* p, int64_t n) {
  const char* c = reinterpret_cast<const char*>(p);
  const int64_t bytes = n * static_cast<int64_t>(sizeof(float));
  for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b, 0, 2);
}

// Keys query i may see: [0, key_end(i)).
inline int64_t key_limit(const AttentionParams& p, int64_t b) {
  return p.key_lengths ? std::min<int64_t>(std::max<int32_t>(p.key_lengths[b], 0), p.lk) : p.lk;
}

// Query rows of batch b that are computed: [0, query_limit) (the rest are padding rows).
inline int64_t query_limit(const AttentionParams& p, int64_t b) {
  return p.query_lengths ? std::min<int64_t>(std::max<int32_t>(p.query_lengths[b], 0), p.lq) : p.lq;
}

// Rows [from, nr) of an output tile: padding query rows, written as fully masked rows.
void masked_rows(float* out, float* lse, int64_t from, int64_t nr, int64_t dh) {
  for (int64_t r = from; r < nr; ++r) {
    std::memset(out + r * dh, 0, sizeof(float) * static_cast<size_t>(dh));
    lse[r] = kInf;
  }
}

void check_params(const AttentionParams& p) {
  MERCLIP_CHECK(p.batch >= 0 && p.heads >= 0 && p.lq >= 0 && p.lk >= 0,
                "attention: negative size");
  MERCLIP_CHECK(p.head_dim >= 1 && p.head_dim <= 256, "attention: head_dim must be in [1, 256]");
}

// ---------------------------------------------------------------------------------------------
// Forward tile: query rows [i0, i0 + nr) of one (b, h) against key tiles [kt0, kt1) (keys
// clipped to [0, kend), and to j <= i when causal). Produces the running max m[r], running sum
// l[r] and unnormalised accumulator acc[r·dh + d] (not divided by l). A row that saw no
// unmasked key keeps m = −inf, l = 0, acc = 0.
void fwd_tile(float* m, float* l, float* acc, const float* q, const float* k, const float* v,
              int64_t i0, int64_t nr, int64_t kt0, int64_t kt1, int64_t kend, bool causal,
              float scale, int64_t dh, uint64_t generation, int64_t bh, int64_t nkt) {
  float* qs = t_tile.floats(static_cast<size_t>(kBQ * dh + kBQ * kBK));
  float* s = qs + kBQ * dh;
  float* kt_all = t_kt.tiles.floats(static_cast<size_t>(nkt * dh * kBK));
  if (t_kt.generation != generation || t_kt.bh != bh || t_kt.data != kt_all) {
    t_kt.generation = generation;
    t_kt.bh = bh;
    t_kt.data = kt_all;
    t_kt.ready.assign(static_cast<size_t>(nkt), 0);
  }
  for (int64_t r = 0; r < nr; ++r) {
    const float* qi = q + (i0 + r) * dh;
    float* qo = qs + r * dh;
    for (int64_t d = 0; d < dh; ++d) qo[d] = scale * qi[d];
    m[r] = -kInf;
    l[r] = 0.0f;
  }
  std::memset(acc, 0, sizeof(float) * static_cast<size_t>(nr * dh));
  int64_t jend = kend;
  if (causal) jend = std::min(jend, i0 + nr);  // j <= i0 + nr − 1
  for (int64_t t = kt0; t < kt1; ++t) {
    const int64_t j0 = t * kBK;
    if (j0 >= jend) break;
    const int64_t nk = std::min(kBK, jend - j0);
    float* kt = kt_all + t * dh * kBK;
    // Prefetch (into L2) the k and v rows of the tile after this one while this one is
    // computed, on the first pass over this (b, h)'s keys only (later query tiles find kᵀ
    // cached and v in L2). With Lq = 7 every tile is a first pass, read from memory once.
    if (t == kt0 && !t_kt.ready[static_cast<size_t>(t)]) {
      prefetch_rows(k + j0 * dh, std::min(kBK, jend - j0) * dh);
      prefetch_rows(v + j0 * dh, std::min(kBK, jend - j0) * dh);
    }
    int64_t npf = 0;  // floats of k and v to prefetch for the next tile, from kn / vn
    const float* kn = nullptr;
    const float* vn = nullptr;
    if (j0 + kBK < jend && t + 1 < kt1 && !t_kt.ready[static_cast<size_t>(t + 1)]) {
      npf = std::min(kBK, jend - j0 - kBK) * dh;
      kn = k + (j0 + kBK) * dh;
      vn = v + (j0 + kBK) * dh;
    }
    if (!t_kt.ready[static_cast<size_t>(t)]) {  // all keys < kend of the tile (masked below)
      transpose_tile(kt, k + j0 * dh, std::min(kBK, kend - j0), dh);
      t_kt.ready[static_cast<size_t>(t)] = 1;
    }
    // S = (scale·q) kᵀ, online-softmax update of (m, l, acc), acc += P v — row r of the tile
    // sees keys j < min(nk, r + diag + 1).
    const int64_t diag = causal ? i0 - j0 : nk;
#ifdef MERCLIP_HAVE_AVX512
    if (simd_level() == SimdLevel::avx512) {
      // (the prefetches are spread over the step's inner loop there)
      detail::attention_fwd_tile_step_avx512(s, m, l, acc, qs, kt, v + j0 * dh, nr, nk, diag, dh,
                                             kn, npf, vn, npf);
      continue;
    }
#endif
    prefetch_rows(kn, npf);
    prefetch_rows(vn, npf);
    fwd_tile_step(s, m, l, acc, qs, kt, v + j0 * dh, nr, nk, diag, dh);
  }
}

// out / lse rows from (m, l, acc).
void finish_rows(float* out, float* lse, const float* m, const float* l, const float* acc,
                 int64_t nr, int64_t dh) {
  for (int64_t r = 0; r < nr; ++r) {
    float* o = out + r * dh;
    if (l[r] > 0.0f) {
      const float inv = 1.0f / l[r];
      for (int64_t d = 0; d < dh; ++d) o[d] = acc[r * dh + d] * inv;
      lse[r] = m[r] + std::log(l[r]);
    } else if (l[r] != l[r]) {  // a NaN score (NaN or ±inf inputs): the row is NaN, as in the ref
      for (int64_t d = 0; d < dh; ++d) o[d] = std::numeric_limits<float>::quiet_NaN();
      lse[r] = std::numeric_limits<float>::quiet_NaN();
    } else {
      for (int64_t d = 0; d < dh; ++d) o[d] = 0.0f;
      lse[r] = kInf;
    }
  }
}

}  // namespace

// =============================================================================================
// attention_forward: out [B,H,Lq,Dh], lse [B,H,Lq] from q [B,H,Lq,Dh], k, v [B,H,Lk,Dh].
//
// Per (b, h, query tile of kBQ rows): for each key tile of kBK keys (up to the key length, and
// the diagonal when causal): S = scale·q kᵀ on the tile, running row max m, rescale factor
// α = e^{m_old − m_new}, l = α·l + Σ_j e^{S − m}, acc = α·acc + P v; at the end out = acc / l,
// lse = m + log l. Memory: the lse output plus per-thread tiles (q tile, kᵀ tile, S tile).
// Parallel split: one task per (b, h, query tile), each writing its own rows of out and lse.
// Split-K: when B·H·⌈Lq/kBQ⌉ < kSplitMinTasks (a fixed constant — the split depends on the shape
// only), each task's key tiles are also split into nsplit blocks; block s writes its partial
// (m, l, acc) into its own slot of a scratch array, then a second pass merges the slots of a
// task in block order (M = max m_s, L = Σ l_s e^{m_s − M}, acc = Σ acc_s e^{m_s − M}). No two
// tasks write the same memory, and the arithmetic is the same for any thread count.
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionParams& p) {
  check_params(p);
  const int64_t B = p.batch, H = p.heads, lq = p.lq, lk = p.lk, dh = p.head_dim;
  if (B == 0 || H == 0 || lq == 0) return;
  const int64_t nqt = (lq + kBQ - 1) / kBQ;
  const int64_t nkt = (lk + kBK - 1) / kBK;
  const int64_t ntasks = B * H * nqt;
  int64_t nsplit = 1;
  if (ntasks < kSplitMinTasks && nkt >= 2 * kSplitMinTiles)
    nsplit = std::min((kSplitMinTasks + ntasks - 1) / ntasks, nkt / kSplitMinTiles);
  const int64_t tiles_per_split = (nkt + nsplit - 1) / std::max<int64_t>(nsplit, 1);
  const uint64_t gen = ++g_forward_generation;

  auto task_coords = [&](int64_t task, int64_t* bh, int64_t* i0, int64_t* nr) {
    *bh = task / nqt;
    *i0 = (task % nqt) * kBQ;
    *nr = std::min(kBQ, lq - *i0);
  };

  if (nsplit == 1) {
    ThreadPool::global().run(ntasks, [&](int64_t task) {
      int64_t bh, i0, nr;
      task_coords(task, &bh, &i0, &nr);
      const int64_t b = bh / H;
      const int64_t nv = std::max<int64_t>(0, std::min(nr, query_limit(p, b) - i0));  // real rows
      float* stats = t_partials.floats(static_cast<size_t>(kBQ * (dh + 2)));
      float* m = stats;
      float* l = m + kBQ;
      float* acc = l + kBQ;
      if (nv > 0) {
        fwd_tile(m, l, acc, q + bh * lq * dh, k + bh * lk * dh, v + bh * lk * dh, i0, nv, 0, nkt,
                 key_limit(p, b), p.causal, p.scale, dh, gen, bh, nkt);
        finish_rows(out + (bh * lq + i0) * dh, lse + bh * lq + i0, m, l, acc, nv, dh);
      }
      masked_rows(out + (bh * lq + i0) * dh, lse + bh * lq + i0, nv, nr, dh);
    });
    return;
  }

  // Split-K: slot (task, s) holds m [kBQ], l [kBQ], acc [kBQ·dh].
  const int64_t slot = kBQ * (dh + 2);
  float* parts = t_partials.floats(static_cast<size_t>(ntasks * nsplit * slot));
  ThreadPool::global().run(ntasks * nsplit, [&](int64_t ts) {
    const int64_t task = ts / nsplit, s = ts % nsplit;
    int64_t bh, i0, nr;
    task_coords(task, &bh, &i0, &nr);
    const int64_t nv = std::max<int64_t>(0, std::min(nr, query_limit(p, bh / H) - i0));
    if (nv == 0) return;  // padding rows only (written by the merge below)
    float* m = parts + ts * slot;
    float* l = m + kBQ;
    float* acc = l + kBQ;
    const int64_t kt0 = s * tiles_per_split, kt1 = std::min(nkt, kt0 + tiles_per_split);
    fwd_tile(m, l, acc, q + bh * lq * dh, k + bh * lk * dh, v + bh * lk * dh, i0, nv, kt0, kt1,
             key_limit(p, bh / H), p.causal, p.scale, dh, gen, bh, nkt);
  });
  ThreadPool::global().run(ntasks, [&](int64_t task) {
    int64_t bh, i0, nr;
    task_coords(task, &bh, &i0, &nr);
    const int64_t nv = std::max<int64_t>(0, std::min(nr, query_limit(p, bh / H) - i0));
    float* base = parts + task * nsplit * slot;  // merged in place into slot 0
    float* M = base;
    float* L = M + kBQ;
    float* A = L + kBQ;
    for (int64_t s = 1; s < nsplit; ++s) {
      const float* m = base + s * slot;
      const float* l = m + kBQ;
      const float* acc = l + kBQ;
      for (int64_t r = 0; r < nv; ++r) {
        if (l[r] == 0.0f) continue;  // block saw no key for this row
        if (l[r] != l[r] || L[r] != L[r]) {  // a NaN score in either block: the row is NaN
          M[r] = L[r] = std::numeric_limits<float>::quiet_NaN();
          continue;
        }
        const float mx = std::max(M[r], m[r]);
        const float a = exp_f(M[r] - mx), c = exp_f(m[r] - mx);
        L[r] = L[r] * a + l[r] * c;
        M[r] = mx;
        float* ar = A + r * dh;
        const float* br = acc + r * dh;
        for (int64_t d = 0; d < dh; ++d) ar[d] = ar[d] * a + br[d] * c;
      }
    }
    if (nv > 0) finish_rows(out + (bh * lq + i0) * dh, lse + bh * lq + i0, M, L, A, nv, dh);
    masked_rows(out + (bh * lq + i0) * dh, lse + bh * lq + i0, nv, nr, dh);
  });
}

// =============================================================================================
// attention_backward: dq [B,H,Lq,Dh], dk, dv [B,H,Lk,Dh] from dout [B,H,Lq,Dh] and the
// forward's out and lse.
//
// Per (b, h) — one task each, so every task owns its dq, dk, dv slices (race-free, no atomics;
// each task's arithmetic order is fixed, hence bitwise identical for any thread count):
//   0. dq slice = 0; D_i = Σ_d dO_id · O_id (undoes the normalisation out = acc / l);
//   for each key tile (keys < key length): dK_t = dV_t = 0; for each query tile (skipping those
//   entirely above the diagonal when causal):
//   1. S = scale·q kᵀ, P = e^{S − lse_i} (recomputes the forward's softmax; masked or +inf lse
//      → 0);
//   2. dV_t += Pᵀ dO                     (undoes out = P v, w.r.t. v);
//   3. dP = dO vᵀ, dS = P ∘ (dP − D)     (undoes out = P v w.r.t. P, then the softmax);
//   4. dq_i += scale · dS k, dK_t += scale · dSᵀ q (undoes S = scale·q kᵀ);
//   then dk, dv rows of the tile = dK_t, dV_t. Keys at or past the key length get dk = dv = 0.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const AttentionParams& p) {
  check_params(p);
  const int64_t B = p.batch, H = p.heads, lq = p.lq, lk = p.lk, dh = p.head_dim;
  const float scale = p.scale;
  ThreadPool::global().run(B * H, [&](int64_t bh) {
    const int64_t kend = key_limit(p, bh / H);
    const float* qb = q + bh * lq * dh;
    const float* kb = k + bh * lk * dh;
    const float* vb = v + bh * lk * dh;
    const float* gb = dout + bh * lq * dh;
    const float* ob = out + bh * lq * dh;
    const float* lb = lse + bh * lq;
    float* dqb = dq + bh * lq * dh;
    float* dkb = dk + bh * lk * dh;
    float* dvb = dv + bh * lk * dh;
    std::memset(dqb, 0, sizeof(float) * static_cast<size_t>(lq * dh));
    // Keys past the key length get no gradient; the others are written tile by tile below.
    std::memset(dkb + kend * dh, 0, sizeof(float) * static_cast<size_t>((lk - kend) * dh));
    std::memset(dvb + kend * dh, 0, sizeof(float) * static_cast<size_t>((lk - kend) * dh));
    // Padding query rows (past the query length) take no part: their dq stays 0.
    const int64_t qend = query_limit(p, bh / H);
    if (qend == 0 || kend == 0) {
      std::memset(dkb, 0, sizeof(float) * static_cast<size_t>(kend * dh));
      std::memset(dvb, 0, sizeof(float) * static_cast<size_t>(kend * dh));
      return;
    }
    const size_t need = static_cast<size_t>(2 * dh * kBK + 2 * kBQ * kBK + 2 * kBK * dh);
    float* Dv = t_tile.floats(need + static_cast<size_t>(lq));
    float* ktr = Dv + lq;                 // kᵀ tile [dh, kBK]
    float* vtr = ktr + dh * kBK;          // vᵀ tile [dh, kBK]
    float* P = vtr + dh * kBK;            // [kBQ, kBK]
    float* dP = P + kBQ * kBK;            // [kBQ, kBK], then scale·dS
    float* dKt = dP + kBQ * kBK;          // [kBK, dh]
    float* dVt = dKt + kBK * dh;          // [kBK, dh]
    for (int64_t i = 0; i < qend; ++i) {
      float s = 0.0f;
      for (int64_t d = 0; d < dh; ++d) s += gb[i * dh + d] * ob[i * dh + d];
      Dv[i] = s;
    }
    for (int64_t j0 = 0; j0 < kend; j0 += kBK) {
      const int64_t nk = std::min(kBK, kend - j0);
      transpose_tile(ktr, kb + j0 * dh, nk, dh);
      transpose_tile(vtr, vb + j0 * dh, nk, dh);
      std::memset(dKt, 0, sizeof(float) * static_cast<size_t>(2 * kBK * dh));
      const int64_t i_first = p.causal ? (j0 / kBQ) * kBQ : 0;  // tiles with some i >= j0
      for (int64_t i0 = i_first; i0 < qend; i0 += kBQ) {
        const int64_t nr = std::min(kBQ, qend - i0);
#ifdef MERCLIP_HAVE_AVX512
        if (simd_level() == SimdLevel::avx512) {
          // 1.–3. fused: P, scale·dS (scores in registers)
          detail::attention_bwd_scores_avx512(P, dP, qb + i0 * dh, gb + i0 * dh, ktr, vtr,
                                              lb + i0, Dv + i0, nr, nk,
                                              p.causal ? i0 - j0 : nk, dh, scale);
          detail::attention_bwd_nn_acc_avx512(dVt, dh, P, 1, kBK, gb + i0 * dh, dh, nk, nr, dh);
          detail::attention_bwd_nn_acc_avx512(dqb + i0 * dh, dh, dP, kBK, 1, kb + j0 * dh, dh, nr,
                                              nk, dh);
          detail::attention_bwd_nn_acc_avx512(dKt, dh, dP, 1, kBK, qb + i0 * dh, dh, nk, nr, dh);
          continue;
        }
#endif
        // 1. P = exp(scale·q kᵀ − lse)
        gemm_nt(P, kBK, qb + i0 * dh, dh, ktr, nr, dh);
        const bool need_causal = p.causal && j0 + nk - 1 > i0;
        for (int64_t r = 0; r < nr; ++r) {
          float* pr = P + r * kBK;
          int64_t lim = nk;
          if (need_causal) lim = std::max<int64_t>(0, std::min(nk, i0 + r - j0 + 1));
          const float L = lb[i0 + r];
          for (int j = 0; j < kBK; ++j) pr[j] = j < lim ? exp_f(scale * pr[j] - L) : 0.0f;
        }
        // 2. dV_t += Pᵀ dO
        gemm_nn_acc(dVt, dh, P, 1, kBK, gb + i0 * dh, dh, nk, nr, dh);
        // 3. dP = dO vᵀ; dS·scale = scale · P ∘ (dP − D)
        gemm_nt(dP, kBK, gb + i0 * dh, dh, vtr, nr, dh);
        for (int64_t r = 0; r < nr; ++r) {
          float* dr = dP + r * kBK;
          const float* pr = P + r * kBK;
          const float Di = Dv[i0 + r];
          for (int j = 0; j < kBK; ++j) dr[j] = scale * pr[j] * (dr[j] - Di);
        }
        // 4. dq += dS·scale k; dK_t += (dS·scale)ᵀ q
        gemm_nn_acc(dqb + i0 * dh, dh, dP, kBK, 1, kb + j0 * dh, dh, nr, nk, dh);
        gemm_nn_acc(dKt, dh, dP, 1, kBK, qb + i0 * dh, dh, nk, nr, dh);
      }
      std::memcpy(dkb + j0 * dh, dKt, sizeof(float) * static_cast<size_t>(nk * dh));
      std::memcpy(dvb + j0 * dh, dVt, sizeof(float) * static_cast<size_t>(nk * dh));
    }
  });
}

}  // namespace cpu
}  // namespace merclip
