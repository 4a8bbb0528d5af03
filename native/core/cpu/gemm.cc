// cpu/gemm.cc — the GEMM driver: BLIS-style blocking, packing, threads, ISA dispatch.
//
//   C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C + bias[n]     (contract: merclip/gemm.h)
//
// Loops (outermost first):
//   jc  over n in NC-column slabs
//   pg  over k in groups of KC slabs whose packed B fits in ~1 MB (L2-sized; see kBlockWide)
//   parallel: pack op(B)[pg group, jc slab] into NR-wide panels, per KC-deep slab (shared,
//             read-only afterwards)
//   parallel task = (A block of MC rows, group of NR panels), and inside it
//     pc over k in KC slabs: pack the A block [MC×KC] into MR-tall panels (thread_local
//        buffer), then the micro-kernel over every (panel, MR rows) tile.
// Every task writes a disjoint set of C tiles and runs the k slabs in order itself (the first
// applies beta and bias, later ones accumulate), so the only barriers are the two parallel
// loops per (NC slab, k group). Packing zero-pads the edges, so the micro-kernels always run full K steps and
// mask only their stores.
//
// Few rows (m <= 64) skip the shared packed B and split over n instead (see gemm_impl); with Bᵀ
// at AVX-512 they are dot products.
//
// Micro-kernels: AVX-512 14×32, AVX2 6×16 (gemm_avx512.cc / gemm_avx2.cc, per-file ISA flags),
// NEON 8×12 (gemm_neon.cc, AArch64)
// and a portable 4×16 C++ kernel here. The choice, with the level's blocking (kBlockWide,
// kBlockAvx2) and packing moves, follows merclip::simd_level() when a call starts.
// Verdicts (kept): per-level blocking (AVX2 KC 256: its B panel stays in L1); A blocks a multiple
// of the thread count (dW = dYᵀ·X had 13 blocks on 2 threads); few rows: balanced panel heights,
// A packed once per thread per call, row-major B read in place by the level's in-place kernel.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "../common/aligned_buffer.h"
#include "gemm_kernels.h"
#include "merclip/cpu_features.h"
#include "merclip/error.h"
#include "merclip/gemm.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

using detail::GemmKernelInfo;
using detail::GemmTile;

namespace {

// ---------------------------------------------------------------------------------------------
// Portable micro-kernel (4×16). Plain loops the compiler vectorises with whatever ISA the build
// allows; it is the fallback for CPUs without AVX2 and the "scalar" level in tests.

constexpr int kScalarMR = 4;
constexpr int kScalarNR = 16;

void scalar_kernel(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  float acc[kScalarMR][kScalarNR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < kScalarMR; ++i) {
      const float ai = a[i];
      for (int j = 0; j < kScalarNR; ++j) acc[i][j] += ai * b[j];
    }
    a += kScalarMR;
    b += kScalarNR;
  }
  for (int i = 0; i < t.mr; ++i) {
    float* c = t.c + i * t.ldc;
    for (int j = 0; j < t.nr; ++j) {
      if (t.first) {
        float r = t.alpha * acc[i][j];
        if (t.bias != nullptr) r += t.bias[j];
        if (t.beta != 0.0f) r += t.beta * c[j];
        c[j] = r;
      } else {
        c[j] += t.alpha * acc[i][j];
      }
    }
  }
}

// Blocking (see the loop nest above). An MC×KC block of A stays in L2; the micro-kernel streams
// its panels from there while one KC×NR panel of B stays in L1.
struct Blocking {
  int64_t kc_max;         // deepest k slab; k is split into equal slabs (no thin last slab)
  int64_t mc;             // rows per A block (a multiple of every MR)
  int64_t nc;             // columns per slab
  int64_t pack_b_floats;  // packed B per k group (see kBlockWide)
};

// The kernel, its blocking and its packing moves, fixed for one call at the level in force when
// it starts (set_simd_level from another thread cannot mix levels within a call).
struct Level {
  SimdLevel simd;
  GemmKernelInfo kern;
  Blocking blk;
};

Level select_level();

// ---------------------------------------------------------------------------------------------
// Packing.

// A block: rows [i0, i0+mc) × depth [p0, p0+kc) of op(A) → ceil(mc/MR) panels, each kc steps of
// MR floats (rows past mc are zero).
void pack_a(SimdLevel simd, float* dst, const float* a, int64_t lda, bool trans, int64_t i0,
            int64_t mc, int64_t p0, int64_t kc, int mr) {
  const int64_t panels = (mc + mr - 1) / mr;
#ifdef MERCLIP_HAVE_AVX2
  if (simd == SimdLevel::avx2 && mr == 6) {
    if (trans) detail::pack_a_trans_avx2(dst, a + p0 * lda + i0, lda, mc, kc);
    else detail::pack_a_avx2(dst, a + i0 * lda + p0, lda, mc, kc);
    return;
  }
#endif
  if (trans) {
    // op(A)(i, p) = a[p·lda + i]: the block's rows are one contiguous run per step p. Walk p
    // outermost so each run (one or two pages) is read once for all panels: with k-major A
    // (e.g. dW = dYᵀ·X) a panel-outer walk touches a new page every step, per panel.
    const float* src = a + p0 * lda + i0;
#ifdef MERCLIP_HAVE_AVX512
    if (simd >= SimdLevel::avx512 && mr <= 16) {
      detail::pack_a_trans_avx512(dst, src, lda, mc, kc, mr);
      return;
    }
#endif
    for (int64_t p = 0; p < kc; ++p) {
      const float* s = src + p * lda;
      for (int64_t ip = 0; ip < panels; ++ip) {
        float* d = dst + ip * kc * mr + p * mr;
        const int64_t ib = ip * mr;
        const int rows = static_cast<int>(std::min<int64_t>(mr, mc - ib));
        int i = 0;
        for (; i < rows; ++i) d[i] = s[ib + i];
        for (; i < mr; ++i) d[i] = 0.0f;
      }
    }
    return;
  }
  // op(A)(i, p) = a[i·lda + p]: each panel is a transpose of `rows` row segments.
  for (int64_t ip = 0; ip < panels; ++ip) {
    const int64_t ib = ip * mr;
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - ib));
    const float* src = a + (i0 + ib) * lda + p0;
    float* d0 = dst + ip * kc * mr;
#ifdef MERCLIP_HAVE_AVX2
    if (simd >= SimdLevel::avx2) {
      detail::pack_transpose_avx2(d0, mr, mr, src, lda, rows, kc);
      continue;
    }
#endif
    for (int64_t p = 0; p < kc; ++p) {
      float* d = d0 + p * mr;
      int i = 0;
      for (; i < rows; ++i) d[i] = src[i * lda + p];
      for (; i < mr; ++i) d[i] = 0.0f;
    }
  }
}

// One B panel: depth [p0, p0+kc) × columns [j0, j0+NR) of op(B) → kc steps of NR floats
// (columns past n are zero).
void pack_b_panel(SimdLevel simd, float* dst, const float* b, int64_t ldb, bool trans, int64_t p0,
                  int64_t kc, int64_t j0, int cols, int nr) {
#ifdef MERCLIP_HAVE_AVX2
  if (simd == SimdLevel::avx2 && nr == 16 && !trans) {
    detail::pack_b_avx2(dst, b + p0 * ldb + j0, ldb, cols, kc);
    return;
  }
#endif
  if (!trans) {
    // op(B)(p, j) = b[p·ldb + j]
    const float* src = b + p0 * ldb + j0;
    for (int64_t p = 0; p < kc; ++p) {
      float* d = dst + p * nr;
      const float* s = src + p * ldb;
      // Fixed-size copies compile to a few vector moves; a runtime-size memcpy is a call per row.
      if (cols == nr && nr == 32) {
        std::memcpy(d, s, sizeof(float) * 32);
      } else if (cols == nr && nr == 16) {
        std::memcpy(d, s, sizeof(float) * 16);
      } else if (cols == nr) {
        std::memcpy(d, s, sizeof(float) * static_cast<size_t>(nr));
      } else {
        int j = 0;
        for (; j < cols; ++j) d[j] = s[j];
        for (; j < nr; ++j) d[j] = 0.0f;
      }
    }
  } else {
    // op(B)(p, j) = b[j·ldb + p].
#ifdef MERCLIP_HAVE_AVX2
    if (simd >= SimdLevel::avx2) {
      detail::pack_transpose_avx2(dst, nr, nr, b + j0 * ldb + p0, ldb, cols, kc);
      return;
    }
#endif
    // Portable: walk each source row contiguously, scatter with stride nr.
    const float* src = b + j0 * ldb + p0;
    for (int j = 0; j < cols; ++j) {
      const float* s = src + j * ldb;
      for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = s[p];
    }
    for (int j = cols; j < nr; ++j)
      for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = 0.0f;
  }
}

// Scratch: packed B owned by the calling thread, A blocks by whichever thread runs a task.
thread_local AlignedBuffer t_pack_b;
thread_local AlignedBuffer t_pack_a;
thread_local AlignedBuffer t_pack_b_panel;  // small-m path: one B panel at a time
// Small-m path: the call whose A this thread's t_pack_a holds (calls are numbered from 1).
std::atomic<uint64_t> g_small_call{0};
thread_local uint64_t t_small_a_call = 0;

// AVX-512 / portable: the micro-kernel keeps ~98% of peak with its panels streaming from L2 up
// to kc = 1024 (measured on Zen 4), so k slabs are as deep as that allows: fewer
// read-modify-write passes over C (at the FFN shape, C is 98 MB). MC·KC·4 bytes <= 688 KB of L2.
// Packed B per k group: 1 MB, about one core's L2. Every A block task streams the whole group,
// so a group that stays in cache is read from L2/L3 rather than DRAM, at the cost of one
// barrier per group. Matters for the weight gradients (dW = dYᵀ X: m, n ≤ 2048, k = the tokens,
// ~10⁴): 16 MB groups ran them at ~150–175 GFLOP/s on Zen 4, 1 MB groups at ~190
// (scratch benchmark, 2 threads, peak 233); the other shapes were unchanged.
constexpr Blocking kBlockWide{1024, 168, 2048, int64_t{1} << 18};
// AVX2 (6×16): KC = 256 keeps the 16 KB B panel in a 32–48 KB L1 beside the A panel it meets
// (at kc = 1024 the 64 KB panel streams from L2 at every tile); MC = 168 (28 panels, 168 KB).
constexpr Blocking kBlockAvx2{256, 168, 2048, int64_t{1} << 18};
constexpr int64_t kSmallM = 64;     // up to here: the small-m path (no shared packed B)

Level select_level() {
  const SimdLevel simd = simd_level();
  switch (simd) {
#ifdef MERCLIP_HAVE_AVX512
    case SimdLevel::avx512: return {simd, detail::gemm_kernel_avx512(), kBlockWide};
#endif
#ifdef MERCLIP_HAVE_AVX2
    case SimdLevel::avx2: return {simd, detail::gemm_kernel_avx2(), kBlockAvx2};
#endif
#ifdef MERCLIP_HAVE_NEON
    case SimdLevel::neon: return {simd, detail::gemm_kernel_neon(), kBlockWide};
#endif
    default: return {SimdLevel::scalar, {scalar_kernel, kScalarMR, kScalarNR, nullptr}, kBlockWide};
  }
}

// C = beta·C + bias, when there is no product to add (alpha == 0).
void scale_and_bias(float* c, const float* bias, const GemmParams& p) {
  for (int64_t i = 0; i < p.m; ++i) {
    float* row = c + i * p.ldc;
    for (int64_t j = 0; j < p.n; ++j) {
      float r = p.beta == 0.0f ? 0.0f : p.beta * row[j];
      if (bias != nullptr) r += bias[j];
      row[j] = r;
    }
  }
}

void gemm_impl(float* c, const float* a, const float* b, const float* bias, const GemmParams& p,
               bool allow_threads) {
  if (p.alpha == 0.0f) {
    scale_and_bias(c, bias, p);
    return;
  }
  const Level lv = select_level();
  const GemmKernelInfo kern = lv.kern;
  const Blocking& blk = lv.blk;
  const int mr = kern.mr_max;
  const int nr = kern.nr;
  ThreadPool& pool = ThreadPool::global();
  const double flops = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) *
                       static_cast<double>(p.k);
  // Below ~0.5 MFLOP the hand-over costs more than a second core saves.
  const int threads = allow_threads && flops >= 5e5 ? pool.active_threads() : 1;
  auto parallel = [&](int64_t ntasks, const std::function<void(int64_t)>& fn) {
    if (threads > 1) pool.run(ntasks, fn);
    else
      for (int64_t t = 0; t < ntasks; ++t) fn(t);
  };

  // Few rows times a transposed B (Linear layers on a handful of tokens), where the level has a
  // dot form (GemmKernelInfo::dot, up to dot_max_m rows): dot products straight from A and B, no
  // packing (gemm_kernels.h), column blocks of 4 split over the threads.
  if (kern.dot != nullptr && p.m <= kern.dot_max_m && p.trans_b && !p.trans_a) {
    const int64_t jblocks = (p.n + 3) / 4;
    const int64_t groups = threads > 1 ? std::min<int64_t>(jblocks, 8 * threads) : 1;
    parallel(groups, [&](int64_t g) {
      const int64_t j0 = std::min<int64_t>(p.n, jblocks * g / groups * 4);
      const int64_t j1 = std::min<int64_t>(p.n, jblocks * (g + 1) / groups * 4);
      if (j0 < j1) kern.dot(c, p.ldc, a, p.lda, b, p.ldb, bias, p.m, j0, j1, p.k, p.alpha, p.beta);
    });
    return;
  }

  // Few rows (decoder queries, a batch of pooled vectors): split over n. No packed B is shared
  // between A blocks, so each task packs the B panels it uses right before using them (one
  // parallel loop, no barrier). A is small: every thread packs all of it, every k slab, once
  // per call (the first task it runs), into panels of balanced height (m = 32 at MR 6: 6 panels
  // of 5–6 rows rather than five of 6 and one of 2, which leaves FMA latency uncovered).
  if (p.m <= kSmallM) {
    const int64_t npanels = (p.n + nr - 1) / nr;
    const int64_t groups = threads > 1 ? std::min<int64_t>(npanels, 4 * threads) : 1;
    const int64_t apanels = (p.m + mr - 1) / mr;
    const int64_t kslabs = (p.k + blk.kc_max - 1) / blk.kc_max;
    const int64_t kc_max = (p.k + kslabs - 1) / kslabs;
    const uint64_t call = g_small_call.fetch_add(1, std::memory_order_relaxed) + 1;
    auto panel_row = [&](int64_t ip) { return p.m * ip / apanels; };
    parallel(groups, [&](int64_t g) {
      const int64_t jp_lo = npanels * g / groups, jp_hi = npanels * (g + 1) / groups;
      // Packed A: the k slab starting at pc holds apanels panels of kc × MR floats at
      // packed_a + pc·apanels·MR + panel·kc·MR.
      float* packed_a = t_pack_a.floats(static_cast<size_t>(apanels * mr * p.k));
      if (t_small_a_call != call) {
        for (int64_t s = 0; s < kslabs; ++s) {
          const int64_t pc = p.k * s / kslabs, kc = p.k * (s + 1) / kslabs - pc;
          for (int64_t ip = 0; ip < apanels; ++ip) {
            pack_a(lv.simd, packed_a + pc * apanels * mr + ip * kc * mr, a, p.lda, p.trans_a,
                   panel_row(ip), panel_row(ip + 1) - panel_row(ip), pc, kc, mr);
          }
        }
        t_small_a_call = call;
      }
      float* packed_b = t_pack_b_panel.floats(static_cast<size_t>(nr * kc_max));
      for (int64_t s = 0; s < kslabs; ++s) {
        const int64_t pc = p.k * s / kslabs, kc = p.k * (s + 1) / kslabs - pc;
        GemmTile tile;
        tile.ldc = p.ldc;
        tile.alpha = p.alpha;
        tile.beta = p.beta;
        tile.first = s == 0;
        for (int64_t jp = jp_lo; jp < jp_hi; ++jp) {
          const int64_t j0 = jp * nr;
          tile.nr = static_cast<int>(std::min<int64_t>(nr, p.n - j0));
          tile.bias = bias != nullptr ? bias + j0 : nullptr;
          // Full-width panels of a row-major B are read in place where the level has that
          // kernel: B is read once, and packing it (a strided read from L3 or DRAM of NR floats
          // per row, then a write) cost a fifth (AVX2) to a third (AVX-512) of the product at
          // m = 32.
          // Where the level copies (GemmKernelInfo::copy_in_place_b), the first row panel's
          // in-place tile also stores the packed panel the later panels then read from L1.
          const bool in_place = !p.trans_b && tile.nr == nr && kern.kernel_unpacked_b != nullptr;
          const bool copy = in_place && kern.copy_in_place_b && apanels > 1;
          if (!in_place) pack_b_panel(lv.simd, packed_b, b, p.ldb, p.trans_b, pc, kc, j0, tile.nr, nr);
          for (int64_t ip = 0; ip < apanels; ++ip) {
            tile.mr = static_cast<int>(panel_row(ip + 1) - panel_row(ip));
            tile.c = c + panel_row(ip) * p.ldc + j0;
            const float* ap = packed_a + pc * apanels * mr + ip * kc * mr;
            if (in_place && (ip == 0 || !copy))
              kern.kernel_unpacked_b(kc, ap, b + pc * p.ldb + j0, p.ldb, copy ? packed_b : nullptr, tile);
            else kern.kernel(kc, ap, packed_b, tile);
          }
        }
      }
    });
    return;
  }

  // Column slabs of at most NC columns; within one, B is packed for as many KC slabs of k as
  // fit in pack_b_floats (a barrier between groups).
  const int64_t nc_max = std::min<int64_t>(blk.nc / nr * nr, (p.n + nr - 1) / nr * nr);  // whole panels (NEON NR = 12)
  const int64_t kslabs_all = (p.k + blk.kc_max - 1) / blk.kc_max;
  const int64_t kKC = (p.k + kslabs_all - 1) / kslabs_all;
  const int64_t kslabs_per_group =
      std::max<int64_t>(1, std::min<int64_t>(kslabs_all, blk.pack_b_floats / (nc_max * kKC)));
  const int64_t kgroup_depth = kslabs_per_group * kKC;
  float* packed_b =
      t_pack_b.floats(static_cast<size_t>(nc_max * std::min<int64_t>(kgroup_depth, p.k)));

  // A blocks: whole MR panels of rows, at most MC rows each; with several threads at least
  // 4 blocks per thread when there are enough panels, and a multiple of the thread count (13
  // blocks on 2 threads would leave one thread idle for a whole block). Panels are spread
  // evenly (block sizes differ by at most one panel), so the threads finish together.
  const int64_t apanels_all = (p.m + mr - 1) / mr;
  int64_t mblocks = (p.m + blk.mc - 1) / blk.mc;
  if (threads > 1) {
    mblocks = std::max<int64_t>(mblocks, 4 * threads);
    mblocks = std::min<int64_t>(apanels_all, (mblocks + threads - 1) / threads * threads);
  }
  auto block_rows = [&](int64_t ib, int64_t* i0, int64_t* rows) {
    const int64_t lo = apanels_all * ib / mblocks * mr;
    const int64_t hi = std::min<int64_t>(p.m, apanels_all * (ib + 1) / mblocks * mr);
    *i0 = lo;
    *rows = hi - lo;
  };
  const int64_t mc_max = (apanels_all + mblocks - 1) / mblocks * mr;

  for (int64_t jc = 0; jc < p.n; jc += nc_max) {
    const int64_t nc = std::min<int64_t>(nc_max, p.n - jc);
    const int64_t npanels = (nc + nr - 1) / nr;
    for (int64_t pg = 0; pg < p.k; pg += kgroup_depth) {
      const int64_t pg_end = std::min<int64_t>(p.k, pg + kgroup_depth);
      const int64_t kslabs = (pg_end - pg + kKC - 1) / kKC;
      // Packed B layout: the k slab starting at pc (depth kc) holds npanels panels of kc × NR
      // floats at packed_b + (pc − pg)·npanels·NR + panel·kc·NR.

      // 1. Pack B: one unit = (k slab, panel).
      parallel(kslabs * npanels, [&](int64_t u) {
        const int64_t s = u / npanels, jp = u % npanels;
        const int64_t pc = pg + s * kKC, kc = std::min<int64_t>(kKC, pg_end - pc);
        const int64_t j0 = jc + jp * nr;
        const int cols = static_cast<int>(std::min<int64_t>(nr, p.n - j0));
        pack_b_panel(lv.simd, packed_b + (pc - pg) * npanels * nr + jp * kc * nr, b, p.ldb,
                     p.trans_b, pc, kc, j0, cols, nr);
      });

      // 2. Tasks = (A block, panel group); each runs the group's k slabs in order, so its C
      //    tiles (disjoint from every other task's) see `first` once and accumulate after.
      int64_t groups = 1;
      if (threads > 1 && mblocks < 4 * threads)
        groups = std::min<int64_t>(npanels, (4 * threads + mblocks - 1) / mblocks);
      parallel(mblocks * groups, [&](int64_t t) {
        const int64_t ib = t / groups, g = t % groups;
        int64_t i0, mcur;
        block_rows(ib, &i0, &mcur);
        const int64_t jp_lo = npanels * g / groups, jp_hi = npanels * (g + 1) / groups;
        if (jp_lo >= jp_hi || mcur <= 0) return;
        const int64_t apanels = (mcur + mr - 1) / mr;
        float* packed_a = t_pack_a.floats(static_cast<size_t>(mc_max * kKC));
        for (int64_t pc = pg; pc < pg_end; pc += kKC) {
          const int64_t kc = std::min<int64_t>(kKC, pg_end - pc);
          pack_a(lv.simd, packed_a, a, p.lda, p.trans_a, i0, mcur, pc, kc, mr);
          GemmTile tile;
          tile.ldc = p.ldc;
          tile.alpha = p.alpha;
          tile.beta = p.beta;
          tile.first = pc == 0;
          for (int64_t jp = jp_lo; jp < jp_hi; ++jp) {
            const int64_t j0 = jc + jp * nr;
            const float* bp = packed_b + (pc - pg) * npanels * nr + jp * kc * nr;
            tile.bias = bias != nullptr ? bias + j0 : nullptr;
            tile.nr = static_cast<int>(std::min<int64_t>(nr, p.n - j0));
            for (int64_t ip = 0; ip < apanels; ++ip) {
              const int64_t row = i0 + ip * mr;
              tile.mr = static_cast<int>(std::min<int64_t>(mr, p.m - row));
              tile.c = c + row * p.ldc + j0;
              kern.kernel(kc, packed_a + ip * mr * kc, bp, tile);
            }
          }
        }
      });
    }
  }
}

}  // namespace

void gemm(float* c, const float* a, const float* b, const float* bias, const GemmParams& params) {
  const GemmParams p = gemm_resolve(params);
  gemm_impl(c, a, b, bias, p, true);
}

void gemm_serial(float* c, const float* a, const float* b, const float* bias,
                 const GemmParams& params) {
  gemm_impl(c, a, b, bias, gemm_resolve(params), false);
}

void gemm_batched(float* c, const float* a, const float* b, const float* bias,
                  const GemmParams& params, const GemmBatch& batch) {
  const GemmParams p = gemm_resolve(params);
  MERCLIP_CHECK(batch.batch >= 1, "gemm_batched: batch must be >= 1");
  MERCLIP_CHECK(batch.stride_a >= 0 && batch.stride_b >= 0 && batch.stride_c >= 0,
                "gemm_batched: strides must be >= 0");
  // Batch items write disjoint C matrices (items may run in parallel).
  MERCLIP_CHECK(batch.batch == 1 || batch.stride_c >= (p.m - 1) * p.ldc + p.n,
                "gemm_batched: C matrices of different batch items overlap (stride_c too small)");
  ThreadPool& pool = ThreadPool::global();
  const double flops = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) *
                       static_cast<double>(p.k);
  // Small matrices (attention heads, per-sample projections): one thread per batch item.
  // Large ones: items in order, each using every thread.
  if (batch.batch >= pool.active_threads() && flops < 4e6) {
    pool.run(batch.batch, [&](int64_t i) {
      gemm_impl(c + i * batch.stride_c, a + i * batch.stride_a, b + i * batch.stride_b, bias, p,
                false);
    });
  } else {
    for (int64_t i = 0; i < batch.batch; ++i)
      gemm_impl(c + i * batch.stride_c, a + i * batch.stride_a, b + i * batch.stride_b, bias, p,
                true);
  }
}

// dbias[j] = Σ_i dy[i, j]: one pass over dy, front to back. Fixed blocks of kBiasRows rows (a
// function of m only, never of the thread count) each sum their rows in double into a partial
// row (n doubles, in L1 up to n = 4096); the partials are then added in block order, so the
// result is the same on any number of threads. (A split over 64-column chunks, each walking
// every row, re-read each row's cache lines once per chunk: ~3× the DRAM traffic of one pass.)
namespace {
constexpr int64_t kBiasRows = 256;
thread_local AlignedBuffer t_bias_part;
}  // namespace

void bias_grad(float* dbias, const float* dy, int64_t m, int64_t n) {
  MERCLIP_CHECK(m >= 1 && n >= 1, "bias_grad: m and n must be >= 1");
  const int64_t nblk = (m + kBiasRows - 1) / kBiasRows;
  double* part = reinterpret_cast<double*>(t_bias_part.floats(static_cast<size_t>(2 * nblk * n)));
  parallel_for(0, nblk, std::max<int64_t>(1, (int64_t{1} << 16) / (kBiasRows * n)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t b = lo; b < hi; ++b) {
                   double* __restrict acc = part + b * n;
                   for (int64_t j = 0; j < n; ++j) acc[j] = 0.0;
                   const int64_t i1 = std::min(m, (b + 1) * kBiasRows);
                   for (int64_t i = b * kBiasRows; i < i1; ++i) {
                     const float* __restrict row = dy + i * n;
                     for (int64_t j = 0; j < n; ++j) acc[j] += row[j];
                   }
                 }
               });
  parallel_for(0, n, std::max<int64_t>(256, (int64_t{1} << 16) / nblk), [&](int64_t lo, int64_t hi) {
    // Block order per column, walking each partial row contiguously.
    for (int64_t b = 1; b < nblk; ++b) {
      const double* __restrict pb = part + b * n;
      for (int64_t j = lo; j < hi; ++j) part[j] += pb[j];
    }
    for (int64_t j = lo; j < hi; ++j) dbias[j] = static_cast<float>(part[j]);
  });
}

}  // namespace cpu
}  // namespace merclip
