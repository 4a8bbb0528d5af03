// native/core/cpu/attention.cc — fused multi-head attention on the CPU (merclip::cpu, declared
// in merclip/attention.h), fp32. The readable twin is ref/attention_ref.cc; tests/
// test_attention.cc holds the two together.
//
// Contract (same as the ref; layout in merclip/attention.h: packed rows [T, ·] with per-sample
// offsets cu_seqlens, head h at column h·Dh, q / k / v row strides given):
// (a) the forward saves lse [H, Tq] (float, log Σ_j exp(S_ij) in the scaled domain);
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
// vectorise) — the scalar level's path. When simd_level() is avx512 the step runs from
// attention_avx512.cc instead: a hand-written kernel that keeps 4 rows × 64 scores in zmm
// registers from the score GEMM through the mask, max, exp and sum, then does α·acc + P v on the
// same rows; when it is avx2, from attention_avx2.cc (-mavx2 -mfma only): 6-row × 16-key ymm
// micro-tiles, the scores of a 6-row block through mask / max / exp / sum from an L1 tile
// (16 ymm cannot hold a 64-key row block), then α·acc + P v in 6 × 16 register tiles. So every
// level's hot loops are hand-written for that level: the native build's -march=native never
// decides what the avx2 level runs. The backward's tile GEMMs
// (gemm_nt / gemm_nn_acc, also in cpu/attention_tiles.h: 4 rows × 64 lanes, A broadcast with
// any strides so Pᵀ / dSᵀ products need no transposed copy) are its generic path; with AVX-512
// the backward runs a fused score step from attention_avx512.cc instead (S, P, dP, dS per
// 4-row block in zmm registers; then its own C += op(A)·B kernel for dV, dq, dK), and the kᵀ
// tiles [Dh, 64] the score kernels want are transposed through registers there (a pure copy). The forward keeps the transposed tiles of the current (b, h)
// per thread for its next query tiles, and prefetches the next tile's k and v rows (with Lq = 7
// every tile is read from memory once).
// Levels may differ in rounding (FMA or not, exp polynomial evaluation); threads never do. exp is
// exp_f (cpu/vec_math.h, shared with cpu/ops.cc: a branch-free Cephes expf, relative error
// < 2e-7) or its AVX-512 / AVX2 twins (same reduction and polynomial; 2^n by scalef, or built in
// the exponent field), so no libm call
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
//   head dim 6 4.4×; kept. The avx2 level runs attention_avx2.cc's twins (same contracts, ymm
//   registers); only the scalar level keeps the generic path below. `npm run bench
//   -- attention` back to back (bwd ms): encoder 375 204 → 123, 500 310 → 224, long 449 → 273,
//   CLIP causal 12.5 → 8.8, decoder 375 19.0 → 8.9, head dim 6 66.7 → 14.8.
//   Tried, no gain (dropped): 6-row blocks (24 accumulators) in the nn kernel at head dim 64;
//   3 / 2-row remainder blocks instead of single rows (decoder Lq 7); an L2 prefetch of the
//   next key tile's k / v rows at each tile start (−2 %).
// Packed rows: every kernel below reads q / k / v rows through their row strides (head h at
// column h·Dh) and writes out / dq / dk / dv rows with stride H·Dh — no [B, H, L, Dh] copy of
// the whole batch exists. What the tile loops stream repeatedly is packed per task into
// thread-local contiguous rows (GEMM-style packing, in cache): the forward's kᵀ tiles and v
// tiles (cached per (sample, head) and thread), the scaled q tile; the backward's q, dout, k
// rows and its dq accumulator of one (sample, head). Rows H·Dh floats apart (2 KB at H 8,
// Dh 64) would otherwise alias a few L1 sets in the P·V / dS·K / dSᵀ·Q products: reading them
// in place made the AVX-512 backward ~2× slower at the encoder shapes (verdict: pack, kept).
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
#include "attention_rows.h"
#include "attention_tiles.h"
#include "vec_math.h"

namespace merclip {
namespace cpu {

namespace detail {
// attention_avx512.cc: the same as transpose_tile below (a pure copy, bitwise identical) …
void attention_transpose_tile_avx512(float* Bt, const float* X, int64_t ldx, int64_t nk,
                                     int64_t dh);
// Prefetches (into L2) rows of dh floats, ld apart, spread over the step: pf0 / pf1, n rows each.
void attention_fwd_tile_step_avx512(float* s, float* m, float* l, float* acc, const float* qs,
                                    const float* kt, const float* v, int64_t ldv, int64_t nr,
                                    int64_t nk, int64_t diag, int64_t dh, const float* pf0,
                                    int64_t ld0, const float* pf1, int64_t ld1, int64_t npf);
// Backward: P and scale·dS of query rows against one key tile (scores in registers) …
void attention_bwd_scores_avx512(float* P, float* dS, const float* q, int64_t ldq,
                                 const float* g, int64_t ldg, const float* kt, const float* vt,
                                 const float* L, const float* D, int64_t nr, int64_t nk,
                                 int64_t diag, int64_t dh, float scale);
// … and C += op(A) B with row blocks sized to the head dim, masked head-dim tail.
void attention_bwd_nn_acc_avx512(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                                 const float* B, int64_t ldb, int64_t rows, int64_t nc,
                                 int64_t dh);
// attention_avx2.cc: the same four kernels in ymm registers (contracts above; used when
// simd_level() is avx2).
void attention_transpose_tile_avx2(float* Bt, const float* X, int64_t ldx, int64_t nk,
                                   int64_t dh);
void attention_fwd_tile_step_avx2(float* s, float* m, float* l, float* acc, const float* qs,
                                  const float* kt, const float* v, int64_t ldv, int64_t nr,
                                  int64_t nk, int64_t diag, int64_t dh, const float* pf0,
                                  int64_t ld0, const float* pf1, int64_t ld1, int64_t npf);
void attention_bwd_scores_avx2(float* P, float* dS, const float* q, int64_t ldq, const float* g,
                               int64_t ldg, const float* kt, const float* vt, const float* L,
                               const float* D, int64_t nr, int64_t nk, int64_t diag, int64_t dh,
                               float scale);
void attention_bwd_nn_acc_avx2(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs,
                               const float* B, int64_t ldb, int64_t rows, int64_t nc,
                               int64_t dh);
// Few query rows (nr <= 8, not causal), one (sample, head) whole, k / v read in place: (m, l,
// acc [nr, dh]) as fwd_tile gives them. Scratch: attention_fwd_few_rows_scratch_avx2 floats,
// 32-byte aligned.
void attention_fwd_few_rows_avx2(float* m, float* l, float* acc, const float* q, int64_t ldq,
                                 const float* k, int64_t ldk, const float* v, int64_t ldv,
                                 int64_t nr, int64_t lk, int64_t dh, float scale,
                                 float* scratch);
int64_t attention_fwd_few_rows_scratch_avx2(int64_t lk, int64_t dh);
// attention_rows.h's loops built with -mavx2 -mfma (avx2 and avx512 levels).
void attention_copy_rows_avx2(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t n,
                              int64_t dh);
void attention_scale_rows_avx2(float* qs, const float* q, int64_t ldq, int64_t nr, int64_t dh,
                               float scale);
void attention_finish_rows_avx2(float* out, int64_t ldo, float* lse, const float* m,
                                const float* l, const float* acc, int64_t nr, int64_t dh);
#if defined(MERCLIP_HAVE_NEON)
// attention_neon.cc: fwd_tile_step's and the backward score step's NEON twins (same contracts).
void attention_fwd_tile_step_neon(float* s, float* m, float* l, float* acc, const float* qs,
                                  const float* kt, const float* v, int64_t ldv, int64_t nr,
                                  int64_t nk, int64_t diag, int64_t dh);
void attention_bwd_scores_neon(float* P, float* dS, const float* q, int64_t ldq, const float* g,
                               int64_t ldg, const float* kt, const float* vt, const float* L,
                               const float* D, int64_t nr, int64_t nk, int64_t diag, int64_t dh,
                               float scale);
#endif
}  // namespace detail

namespace {

constexpr int64_t kBQ = 64;  // query rows per tile
constexpr int64_t kBK = 64;  // keys per tile (the lane width of the score kernel)
// Split-K (flash-decoding) when (heads·Σ query tiles) is below this — a function of the
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
  int64_t bh = -1;  // b·H + h
  const float* data = nullptr;  // tiles' storage when the flags were set
  std::vector<uint8_t> ready;  // per key tile
  AlignedBuffer tiles;         // [nkt][dh][kBK]: kᵀ
  AlignedBuffer vtiles;        // [nkt][kBK][dh]: v rows, contiguous
};
thread_local KtCache t_kt;

// ---------------------------------------------------------------------------------------------
// Small register-tiled GEMMs of the backward's generic path (scalar level): the loops
// live in cpu/attention_tiles.h (this file's own copy, built with its flags); with AVX-512 /
// AVX2 the backward runs attention_avx512.cc's / attention_avx2.cc's fused score step and nn
// kernel instead.
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

// Bt [dh, kBK] = nk rows of X (row stride ldx, dh columns) transposed, zero-padded to kBK
// columns.
inline void transpose_tile(float* __restrict Bt, const float* __restrict X, int64_t ldx,
                           int64_t nk, int64_t dh) {
#ifdef MERCLIP_HAVE_AVX512
  if (simd_level() == SimdLevel::avx512) {
    detail::attention_transpose_tile_avx512(Bt, X, ldx, nk, dh);
    return;
  }
#endif
#ifdef MERCLIP_HAVE_AVX2
  if (simd_level() == SimdLevel::avx2) {
    detail::attention_transpose_tile_avx2(Bt, X, ldx, nk, dh);
    return;
  }
#endif
  for (int64_t d = 0; d < dh; ++d) {
    float* __restrict row = Bt + d * kBK;
    for (int64_t j = 0; j < nk; ++j) row[j] = X[j * ldx + d];
    for (int64_t j = nk; j < kBK; ++j) row[j] = 0.0f;
  }
}

// The row loops of attention_rows.h: attention_avx2.cc's copies at the avx2 and avx512 levels
// (the same machine code in native and portable builds), this file's own below that.
inline bool rows_from_avx2() {
#ifdef MERCLIP_HAVE_AVX2
  const SimdLevel s = simd_level();
  return s == SimdLevel::avx2 || s == SimdLevel::avx512;
#else
  return false;
#endif
}
inline void copy_rows(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t n,
                      int64_t dh) {
#ifdef MERCLIP_HAVE_AVX2
  if (rows_from_avx2()) return detail::attention_copy_rows_avx2(dst, ldd, src, lds, n, dh);
#endif
  rows_copy(dst, ldd, src, lds, n, dh);
}
inline void scale_rows(float* qs, const float* q, int64_t ldq, int64_t nr, int64_t dh,
                       float scale) {
#ifdef MERCLIP_HAVE_AVX2
  if (rows_from_avx2()) return detail::attention_scale_rows_avx2(qs, q, ldq, nr, dh, scale);
#endif
  rows_scale(qs, q, ldq, nr, dh, scale);
}
// out / lse rows from (m, l, acc) (attention_rows.h: rows_finish).
inline void finish_rows(float* out, int64_t ldo, float* lse, const float* m, const float* l,
                        const float* acc, int64_t nr, int64_t dh) {
#ifdef MERCLIP_HAVE_AVX2
  if (rows_from_avx2()) return detail::attention_finish_rows_avx2(out, ldo, lse, m, l, acc, nr, dh);
#endif
  rows_finish(out, ldo, lse, m, l, acc, nr, dh);
}

// Prefetches n rows of dh floats, ld apart, from p into L2 (prefetcht1), one request per line.
inline void prefetch_rows(const float* p, int64_t ld, int64_t n, int64_t dh) {
  const int64_t bytes = dh * static_cast<int64_t>(sizeof(float));
  for (int64_t r = 0; r < n; ++r) {
    const char* c = reinterpret_cast<const char*>(p + r * ld);
    for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b, 0, 2);
  }
}

void check_params(const AttentionParams& p) {
  MERCLIP_CHECK(p.batch >= 0 && p.heads >= 0 && p.total_q >= 0 && p.total_k >= 0,
                "attention: negative size");
  MERCLIP_CHECK(p.head_dim >= 1 && p.head_dim <= 256, "attention: head_dim must be in [1, 256]");
  MERCLIP_CHECK(p.batch == 0 || (p.cu_seqlens_q != nullptr && p.cu_seqlens_k != nullptr),
                "attention: cu_seqlens missing");
}

// One sample's rows: queries [q0, q0 + lq), keys [k0, k0 + lk).
struct Seq {
  int64_t q0, lq, k0, lk;
};
inline Seq seq(const AttentionParams& p, int64_t b) {
  const int64_t q0 = p.cu_seqlens_q[b], k0 = p.cu_seqlens_k[b];
  return {q0, p.cu_seqlens_q[b + 1] - q0, k0, p.cu_seqlens_k[b + 1] - k0};
}

// The strided views of one (sample, head): head h's columns of the sample's rows.
struct Views {
  const float* q;  // row stride ldq
  const float* k;  // ldk
  const float* v;  // ldv
  int64_t ldq, ldk, ldv, ldo;  // ldo = H·Dh: out, dout, dq, dk, dv
};
inline Views views(const AttentionParams& p, const Seq& s, int64_t h, const float* q,
                   const float* k, const float* v) {
  Views w;
  w.ldq = attention_q_stride(p);
  w.ldk = attention_k_stride(p);
  w.ldv = attention_v_stride(p);
  w.ldo = p.heads * p.head_dim;
  w.q = q + s.q0 * w.ldq + h * p.head_dim;
  w.k = k + s.k0 * w.ldk + h * p.head_dim;
  w.v = v + s.k0 * w.ldv + h * p.head_dim;
  return w;
}

// Forward tasks: one per (sample, head, query tile), in that order (so consecutive tasks share
// a (sample, head) and its cached kᵀ tiles). Built per call into a grow-only thread_local.
struct FwdTask {
  int32_t b, h;
  int32_t i0, nr;  // query rows [i0, i0 + nr) of the sample
};
thread_local std::vector<FwdTask> t_tasks;
thread_local std::vector<int64_t> t_pair_first;  // first task of each (sample, head) pair
// Per-pair tasks when there are at least this many pairs per thread (balance by claiming).
constexpr int64_t kPairTasksMin = 8;
// The few-rows forward (attention_avx2.cc): up to 8 query rows (one vector of lanes), and keys
// few enough for the [lk, 8] score buffer to stay in L1 / L2 (32 KB per 1024 keys).
constexpr int64_t kFewRowsMax = 8;
constexpr int64_t kFewRowsMaxKeys = 4096;

// ---------------------------------------------------------------------------------------------
// Forward tile: query rows [i0, i0 + nr) of one (b, h) (views w) against key tiles [kt0, kt1)
// (keys clipped to [0, kend), and to j <= i when causal). Produces the running max m[r],
// running sum l[r] and unnormalised accumulator acc[r·dh + d] (not divided by l). A row that
// saw no unmasked key keeps m = −inf, l = 0, acc = 0.
void fwd_tile(float* m, float* l, float* acc, const Views& w, int64_t i0, int64_t nr,
              int64_t kt0, int64_t kt1, int64_t kend, bool causal, float scale, int64_t dh,
              uint64_t generation, int64_t bh, int64_t nkt) {
  const float* q = w.q;
  const float* k = w.k;
  const float* v = w.v;
  const int64_t ldk = w.ldk, ldv = w.ldv;
  float* qs = t_tile.floats(static_cast<size_t>(kBQ * dh + kBQ * kBK));
  float* s = qs + kBQ * dh;
  float* kt_all = t_kt.tiles.floats(static_cast<size_t>(nkt * dh * kBK));
  float* vt_all = t_kt.vtiles.floats(static_cast<size_t>(nkt * dh * kBK));
  if (t_kt.generation != generation || t_kt.bh != bh || t_kt.data != kt_all) {
    t_kt.generation = generation;
    t_kt.bh = bh;
    t_kt.data = kt_all;
    t_kt.ready.assign(static_cast<size_t>(nkt), 0);
  }
  scale_rows(qs, q + i0 * w.ldq, w.ldq, nr, dh, scale);
  for (int64_t r = 0; r < nr; ++r) {
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
      prefetch_rows(k + j0 * ldk, ldk, std::min(kBK, jend - j0), dh);
      prefetch_rows(v + j0 * ldv, ldv, std::min(kBK, jend - j0), dh);
    }
    int64_t npf = 0;  // rows of k and v to prefetch for the next tile, from kn / vn
    const float* kn = nullptr;
    const float* vn = nullptr;
    if (j0 + kBK < jend && t + 1 < kt1 && !t_kt.ready[static_cast<size_t>(t + 1)]) {
      npf = std::min(kBK, jend - j0 - kBK);
      kn = k + (j0 + kBK) * ldk;
      vn = v + (j0 + kBK) * ldv;
    }
    float* vc = vt_all + t * kBK * dh;
    if (!t_kt.ready[static_cast<size_t>(t)]) {  // all keys < kend of the tile (masked below)
      const int64_t nkt_rows = std::min(kBK, kend - j0);
      transpose_tile(kt, k + j0 * ldk, ldk, nkt_rows, dh);
      // v rows packed contiguous (row stride dh): the P·V step streams them once per 4-row block,
      // and rows H·Dh floats apart (2 KB at H 8, Dh 64) would alias a few L1 sets
      copy_rows(vc, dh, v + j0 * ldv, ldv, nkt_rows, dh);
      t_kt.ready[static_cast<size_t>(t)] = 1;
    }
    // S = (scale·q) kᵀ, online-softmax update of (m, l, acc), acc += P v — row r of the tile
    // sees keys j < min(nk, r + diag + 1).
    const int64_t diag = causal ? i0 - j0 : nk;
#ifdef MERCLIP_HAVE_AVX512
    if (simd_level() == SimdLevel::avx512) {
      // (the prefetches are spread over the step's inner loop there)
      detail::attention_fwd_tile_step_avx512(s, m, l, acc, qs, kt, vc, dh, nr, nk, diag, dh, kn,
                                             ldk, vn, ldv, npf);
      continue;
    }
#endif
#ifdef MERCLIP_HAVE_AVX2
    if (simd_level() == SimdLevel::avx2) {
      detail::attention_fwd_tile_step_avx2(s, m, l, acc, qs, kt, vc, dh, nr, nk, diag, dh, kn,
                                           ldk, vn, ldv, npf);
      continue;
    }
#endif
    prefetch_rows(kn, ldk, npf, dh);
    prefetch_rows(vn, ldv, npf, dh);
#if defined(MERCLIP_HAVE_NEON)
    if (simd_level() == SimdLevel::neon) {
      detail::attention_fwd_tile_step_neon(s, m, l, acc, qs, kt, vc, dh, nr, nk, diag, dh);
      continue;
    }
#endif
    fwd_tile_step(s, m, l, acc, qs, kt, vc, dh, nr, nk, diag, dh);
  }
}

}  // namespace

// =============================================================================================
// attention_forward: out [Tq, H·Dh], lse [H, Tq] from packed q, k, v (merclip/attention.h).
//
// Per (sample, head, query tile of kBQ rows): for each key tile of kBK keys (up to the sample's
// key length, and the diagonal when causal): S = scale·q kᵀ on the tile, running row max m,
// rescale factor α = e^{m_old − m_new}, l = α·l + Σ_j e^{S − m}, acc = α·acc + P v; at the end
// out = acc / l, lse = m + log l. Memory: the lse output plus per-thread tiles (q tile, kᵀ
// tiles, S tile).
// Parallel split: one task per (sample, head, query tile), each writing its own rows of out and
// lse. Split-K: when there are fewer than kSplitMinTasks tasks (a fixed constant — the split
// depends on the lengths only), each task's key tiles are also split into nsplit blocks of
// tiles_per_split tiles (from the longest sample; a shorter one's later blocks are empty);
// block s writes its partial (m, l, acc) into its own slot of a scratch array, then a second
// pass merges the slots of a task in block order (M = max m_s, L = Σ l_s e^{m_s − M},
// acc = Σ acc_s e^{m_s − M}). No two tasks write the same memory, and the arithmetic is the
// same for any thread count.
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionParams& p) {
  check_params(p);
  const int64_t B = p.batch, H = p.heads, dh = p.head_dim, tq = p.total_q;
  if (B == 0 || H == 0 || tq == 0) return;
  std::vector<FwdTask>& tasks = t_tasks;
  std::vector<int64_t>& first = t_pair_first;  // tasks [first[g], first[g + 1]) are pair g's
  tasks.clear();
  first.clear();
  int64_t max_lk = 0, max_lq = 0;
  for (int64_t b = 0; b < B; ++b) {
    const Seq sq = seq(p, b);
    max_lk = std::max(max_lk, sq.lk);
    max_lq = std::max(max_lq, sq.lq);
    if (sq.lq == 0) continue;
    for (int64_t h = 0; h < H; ++h) {
      first.push_back(static_cast<int64_t>(tasks.size()));
      for (int64_t i0 = 0; i0 < sq.lq; i0 += kBQ)
        tasks.push_back({static_cast<int32_t>(b), static_cast<int32_t>(h), static_cast<int32_t>(i0),
                         static_cast<int32_t>(std::min(kBQ, sq.lq - i0))});
    }
  }
  const int64_t ntasks = static_cast<int64_t>(tasks.size());
  const int64_t npairs = static_cast<int64_t>(first.size());
  first.push_back(ntasks);
  if (ntasks == 0) return;
  const int64_t nkt = (max_lk + kBK - 1) / kBK;
  int64_t nsplit = 1;
  if (ntasks < kSplitMinTasks && nkt >= 2 * kSplitMinTiles)
    nsplit = std::min((kSplitMinTasks + ntasks - 1) / ntasks, nkt / kSplitMinTiles);
  const int64_t tiles_per_split = (nkt + nsplit - 1) / std::max<int64_t>(nsplit, 1);
  const uint64_t gen = ++g_forward_generation;
  const int64_t ldo = H * dh;
  const FwdTask* T = tasks.data();

  if (nsplit == 1) {
    // A few query rows per sample (the decoder's label queries): each (sample, head) whole in
    // one step with the rows in vector lanes and k / v read in place (AVX2 level).
    [[maybe_unused]] bool few_rows = false;
#ifdef MERCLIP_HAVE_AVX2
    few_rows = simd_level() == SimdLevel::avx2 && !p.causal && max_lq <= kFewRowsMax &&
               max_lk <= kFewRowsMaxKeys;
#endif
    auto run_task = [&](int64_t task) {
      const FwdTask& t = T[task];
      const Seq sq = seq(p, t.b);
      const Views w = views(p, sq, t.h, q, k, v);
      float* stats = t_partials.floats(static_cast<size_t>(kBQ * (dh + 2)));
      float* m = stats;
      float* l = m + kBQ;
      float* acc = l + kBQ;
#ifdef MERCLIP_HAVE_AVX2
      if (few_rows) {
        float* scratch = t_tile.floats(static_cast<size_t>(detail::attention_fwd_few_rows_scratch_avx2(sq.lk, dh)));
        detail::attention_fwd_few_rows_avx2(m, l, acc, w.q, w.ldq, w.k, w.ldk, w.v, w.ldv, t.nr,
                                            sq.lk, dh, p.scale, scratch);
      } else
#endif
      {
        const int64_t nkt_b = (sq.lk + kBK - 1) / kBK;
        fwd_tile(m, l, acc, w, t.i0, t.nr, 0, nkt_b, sq.lk, p.causal, p.scale, dh, gen,
                 t.b * H + t.h, nkt);
      }
      finish_rows(out + (sq.q0 + t.i0) * ldo + t.h * dh, ldo, lse + t.h * tq + sq.q0 + t.i0, m,
                  l, acc, t.nr, dh);
    };
    // Many (sample, head) pairs: one task per pair, its query tiles in order, so one thread
    // transposes the pair's key tiles (the kᵀ cache) and the others never do it again; with
    // per-tile tasks, threads claiming tiles in turn each transposed every pair's keys. Few
    // pairs (one sample): per-tile tasks, for the parallelism. Same arithmetic either way.
    if (npairs >= kPairTasksMin * ThreadPool::global().active_threads()) {
      ThreadPool::global().run(npairs, [&](int64_t g) {
        for (int64_t i = first[static_cast<size_t>(g)]; i < first[static_cast<size_t>(g) + 1]; ++i) run_task(i);
      });
    } else {
      ThreadPool::global().run(ntasks, run_task);
    }
    return;
  }

  // Split-K: slot (task, s) holds m [kBQ], l [kBQ], acc [kBQ·dh].
  const int64_t slot = kBQ * (dh + 2);
  float* parts = t_partials.floats(static_cast<size_t>(ntasks * nsplit * slot));
  ThreadPool::global().run(ntasks * nsplit, [&](int64_t ts) {
    const int64_t task = ts / nsplit, s = ts % nsplit;
    const FwdTask& t = T[task];
    const Seq sq = seq(p, t.b);
    const Views w = views(p, sq, t.h, q, k, v);
    float* m = parts + ts * slot;
    float* l = m + kBQ;
    float* acc = l + kBQ;
    const int64_t nkt_b = (sq.lk + kBK - 1) / kBK;
    const int64_t kt0 = std::min(nkt_b, s * tiles_per_split);
    const int64_t kt1 = std::min(nkt_b, kt0 + tiles_per_split);
    fwd_tile(m, l, acc, w, t.i0, t.nr, kt0, kt1, sq.lk, p.causal, p.scale, dh, gen,
             t.b * H + t.h, nkt);
  });
  ThreadPool::global().run(ntasks, [&](int64_t task) {
    const FwdTask& t = T[task];
    const Seq sq = seq(p, t.b);
    const int64_t nv = t.nr;
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
    finish_rows(out + (sq.q0 + t.i0) * ldo + t.h * dh, ldo, lse + t.h * tq + sq.q0 + t.i0, M, L,
                A, nv, dh);
  });
}

// =============================================================================================
// attention_backward: dq [Tq, H·Dh], dk, dv [Tk, H·Dh] from dout [Tq, H·Dh] and the forward's
// out and lse.
//
// Per (sample, head) — one task each, so every task owns its dq, dk, dv rows × head columns
// (race-free, no atomics; each task's arithmetic order is fixed, hence bitwise identical for
// any thread count):
//   0. dq rows = 0; D_i = Σ_d dO_id · O_id (undoes the normalisation out = acc / l);
//   for each key tile: dK_t = dV_t = 0; for each query tile (skipping those entirely above the
//   diagonal when causal):
//   1. S = scale·q kᵀ, P = e^{S − lse_i} (recomputes the forward's softmax; masked or +inf lse
//      → 0);
//   2. dV_t += Pᵀ dO                     (undoes out = P v, w.r.t. v);
//   3. dP = dO vᵀ, dS = P ∘ (dP − D)     (undoes out = P v w.r.t. P, then the softmax);
//   4. dq_i += scale · dS k, dK_t += scale · dSᵀ q (undoes S = scale·q kᵀ);
//   then dk, dv rows of the tile = dK_t, dV_t. A sample with no queries gets dk = dv = 0.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const AttentionParams& p) {
  check_params(p);
  const int64_t B = p.batch, H = p.heads, dh = p.head_dim, tq = p.total_q;
  const float scale = p.scale;
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(dh);
  ThreadPool::global().run(B * H, [&](int64_t bh) {
    const int64_t h = bh % H;
    const Seq sq = seq(p, bh / H);
    const Views w = views(p, sq, h, q, k, v);
    const int64_t ldo = w.ldo;
    const int64_t qend = sq.lq, kend = sq.lk;
    const float* gs = dout + sq.q0 * ldo + h * dh;
    const float* ob = out + sq.q0 * ldo + h * dh;
    const float* lb = lse + h * tq + sq.q0;
    float* dqs = dq + sq.q0 * ldo + h * dh;
    float* dkb = dk + sq.k0 * ldo + h * dh;
    float* dvb = dv + sq.k0 * ldo + h * dh;
    if (qend == 0 || kend == 0) {
      for (int64_t i = 0; i < qend; ++i) std::memset(dqs + i * ldo, 0, row_bytes);
      for (int64_t j = 0; j < kend; ++j) {
        std::memset(dkb + j * ldo, 0, row_bytes);
        std::memset(dvb + j * ldo, 0, row_bytes);
      }
      return;
    }
    // This (sample, head)'s q, dout and k rows gathered contiguous (row stride dh) and dq
    // accumulated contiguous, scattered at the end: the tile GEMMs below stream these rows
    // many times, and rows H·Dh floats apart (2 KB at H 8, Dh 64) alias a few L1 sets.
    const size_t tiles = static_cast<size_t>(2 * dh * kBK + 2 * kBQ * kBK + 2 * kBK * dh);
    const size_t rows = static_cast<size_t>((3 * qend + kend) * dh + qend);
    float* Dv = t_tile.floats(tiles + rows);
    float* qb = Dv + qend;                // [qend, dh]
    float* gb = qb + qend * dh;           // [qend, dh]
    float* dqb = gb + qend * dh;          // [qend, dh]
    float* kb = dqb + qend * dh;          // [kend, dh]
    float* ktr = kb + kend * dh;          // kᵀ tile [dh, kBK]
    float* vtr = ktr + dh * kBK;          // vᵀ tile [dh, kBK]
    float* P = vtr + dh * kBK;            // [kBQ, kBK]
    float* dP = P + kBQ * kBK;            // [kBQ, kBK], then scale·dS
    float* dKt = dP + kBQ * kBK;          // [kBK, dh]
    float* dVt = dKt + kBK * dh;          // [kBK, dh]
    copy_rows(qb, dh, w.q, w.ldq, qend, dh);
    copy_rows(gb, dh, gs, ldo, qend, dh);
    for (int64_t i = 0; i < qend; ++i) {
      float s = 0.0f;
      for (int64_t d = 0; d < dh; ++d) s += gs[i * ldo + d] * ob[i * ldo + d];
      Dv[i] = s;
    }
    copy_rows(kb, dh, w.k, w.ldk, kend, dh);
    std::memset(dqb, 0, row_bytes * static_cast<size_t>(qend));
    for (int64_t j0 = 0; j0 < kend; j0 += kBK) {
      const int64_t nk = std::min(kBK, kend - j0);
      transpose_tile(ktr, kb + j0 * dh, dh, nk, dh);
      transpose_tile(vtr, w.v + j0 * w.ldv, w.ldv, nk, dh);
      std::memset(dKt, 0, sizeof(float) * static_cast<size_t>(2 * kBK * dh));
      const int64_t i_first = p.causal ? (j0 / kBQ) * kBQ : 0;  // tiles with some i >= j0
      for (int64_t i0 = i_first; i0 < qend; i0 += kBQ) {
        const int64_t nr = std::min(kBQ, qend - i0);
#ifdef MERCLIP_HAVE_AVX512
        if (simd_level() == SimdLevel::avx512) {
          // 1.–3. fused: P, scale·dS (scores in registers)
          detail::attention_bwd_scores_avx512(P, dP, qb + i0 * dh, dh, gb + i0 * dh, dh, ktr, vtr,
                                              lb + i0, Dv + i0, nr, nk,
                                              p.causal ? i0 - j0 : nk, dh, scale);
          detail::attention_bwd_nn_acc_avx512(dVt, dh, P, 1, kBK, gb + i0 * dh, dh, nk, nr, dh);
          detail::attention_bwd_nn_acc_avx512(dqb + i0 * dh, dh, dP, kBK, 1, kb + j0 * dh, dh, nr,
                                              nk, dh);
          detail::attention_bwd_nn_acc_avx512(dKt, dh, dP, 1, kBK, qb + i0 * dh, dh, nk, nr, dh);
          continue;
        }
#endif
#ifdef MERCLIP_HAVE_AVX2
        if (simd_level() == SimdLevel::avx2) {  // the same, ymm kernels
          detail::attention_bwd_scores_avx2(P, dP, qb + i0 * dh, dh, gb + i0 * dh, dh, ktr, vtr,
                                            lb + i0, Dv + i0, nr, nk, p.causal ? i0 - j0 : nk,
                                            dh, scale);
          detail::attention_bwd_nn_acc_avx2(dVt, dh, P, 1, kBK, gb + i0 * dh, dh, nk, nr, dh);
          detail::attention_bwd_nn_acc_avx2(dqb + i0 * dh, dh, dP, kBK, 1, kb + j0 * dh, dh, nr,
                                            nk, dh);
          detail::attention_bwd_nn_acc_avx2(dKt, dh, dP, 1, kBK, qb + i0 * dh, dh, nk, nr, dh);
          continue;
        }
#endif
#if defined(MERCLIP_HAVE_NEON)
        if (simd_level() == SimdLevel::neon) {
          // 1.–3. P, scale·dS (attention_neon.cc), then the generic tile products
          detail::attention_bwd_scores_neon(P, dP, qb + i0 * dh, dh, gb + i0 * dh, dh, ktr, vtr,
                                            lb + i0, Dv + i0, nr, nk, p.causal ? i0 - j0 : nk,
                                            dh, scale);
          gemm_nn_acc(dVt, dh, P, 1, kBK, gb + i0 * dh, dh, nk, nr, dh);
          gemm_nn_acc(dqb + i0 * dh, dh, dP, kBK, 1, kb + j0 * dh, dh, nr, nk, dh);
          gemm_nn_acc(dKt, dh, dP, 1, kBK, qb + i0 * dh, dh, nk, nr, dh);
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
      copy_rows(dkb + j0 * ldo, ldo, dKt, dh, nk, dh);
      copy_rows(dvb + j0 * ldo, ldo, dVt, dh, nk, dh);
    }
    copy_rows(dqs, ldo, dqb, dh, qend, dh);
  });
}

}  // namespace cpu
}  // namespace merclip
