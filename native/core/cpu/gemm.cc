// cpu/gemm.cc — the GEMM driver: BLIS-style blocking, packing, threads, ISA dispatch.
//
//   C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C + bias[n]     (contract: merclip/gemm.h)
//
// Loops (outermost first):
//   jc  over n in NC-column slabs
//   pg  over k in groups of KC slabs whose packed B fits in ~1 MB (L2-sized; see kPackBFloats)
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
// Micro-kernels: AVX-512 14×32, AVX2 6×16 (gemm_avx512.cc / gemm_avx2.cc, per-file ISA flags),
// NEON 8×12 (gemm_neon.cc, AArch64)
// and a portable 4×16 C++ kernel here. The choice follows merclip::simd_level() at call time.
#include <algorithm>
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

GemmKernelInfo select_kernel() {
  switch (simd_level()) {
#ifdef MERCLIP_HAVE_AVX512
    case SimdLevel::avx512: return detail::gemm_kernel_avx512();
#endif
#ifdef MERCLIP_HAVE_AVX2
    case SimdLevel::avx2: return detail::gemm_kernel_avx2();
#endif
#ifdef MERCLIP_HAVE_NEON
    case SimdLevel::neon: return detail::gemm_kernel_neon();
#endif
    default: return {scalar_kernel, kScalarMR, kScalarNR};
  }
}

// ---------------------------------------------------------------------------------------------
// Packing.

// A block: rows [i0, i0+mc) × depth [p0, p0+kc) of op(A) → ceil(mc/MR) panels, each kc steps of
// MR floats (rows past mc are zero).
void pack_a(float* dst, const float* a, int64_t lda, bool trans, int64_t i0, int64_t mc,
            int64_t p0, int64_t kc, int mr) {
  const int64_t panels = (mc + mr - 1) / mr;
  if (trans) {
    // op(A)(i, p) = a[p·lda + i]: the block's rows are one contiguous run per step p. Walk p
    // outermost so each run (one or two pages) is read once for all panels: with k-major A
    // (e.g. dW = dYᵀ·X) a panel-outer walk touches a new page every step, per panel.
    const float* src = a + p0 * lda + i0;
#ifdef MERCLIP_HAVE_AVX512
    if (simd_level() >= SimdLevel::avx512 && mr <= 16) {
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
    if (simd_level() >= SimdLevel::avx2) {
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
void pack_b_panel(float* dst, const float* b, int64_t ldb, bool trans, int64_t p0, int64_t kc,
                  int64_t j0, int cols, int nr) {
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
    if (simd_level() >= SimdLevel::avx2) {
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

// Blocking. An MC×KC block of A stays in L2; the micro-kernel streams its panels from there.
// KC: the micro-kernel keeps ~98% of peak with its panels streaming from L2 up to kc = 1024
// (measured on Zen 4), so k slabs are as deep as kKCMax allows: fewer read-modify-write passes
// over C (at the FFN shape, C is 98 MB). k is split into equal slabs (no thin last slab).
constexpr int64_t kKCMax = 1024;
constexpr int64_t kSmallM = 64;  // up to here: the small-m path (no shared packed B)
constexpr int64_t kSmallDotM = 64;  // up to here, with B transposed: dot products (AVX-512)
constexpr int64_t kMC = 168;  // multiple of 14, 6 and 4; MC·KC·4 bytes <= 688 KB of L2
constexpr int64_t kNC = 2048;
// Packed B per k group: 1 MB, about one core's L2. Every A block task streams the whole group,
// so a group that stays in cache is read from L2/L3 rather than DRAM, at the cost of one
// barrier per group. Matters for the weight gradients (dW = dYᵀ X: m, n ≤ 2048, k = the tokens,
// ~10⁴): 16 MB groups ran them at ~150–175 GFLOP/s on Zen 4, 1 MB groups at ~190
// (scratch benchmark, 2 threads, peak 233); the other shapes were unchanged.
constexpr int64_t kPackBFloats = int64_t{1} << 18;

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
  const GemmKernelInfo kern = select_kernel();
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

#ifdef MERCLIP_HAVE_AVX512
  // Few rows times a transposed B (Linear layers on a handful of tokens: the label prompts, one
  // utterance's text): dot products straight from A and B, no packing (gemm_kernels.h).
  if (p.m <= kSmallDotM && p.trans_b && !p.trans_a && simd_level() == SimdLevel::avx512) {
    const int64_t jblocks = (p.n + 3) / 4;
    const int64_t groups = threads > 1 ? std::min<int64_t>(jblocks, 8 * threads) : 1;
    parallel(groups, [&](int64_t g) {
      const int64_t j0 = std::min<int64_t>(p.n, jblocks * g / groups * 4);
      const int64_t j1 = std::min<int64_t>(p.n, jblocks * (g + 1) / groups * 4);
      if (j0 < j1) {
        detail::gemm_dot_avx512(c, p.ldc, a, p.lda, b, p.ldb, bias, p.m, j0, j1, p.k, p.alpha, p.beta);
      }
    });
    return;
  }
#endif

  // Few rows (decoder queries, a batch of pooled vectors): no packed B is shared between A
  // blocks, so each task packs the B panels it uses right before using them (one parallel
  // loop, no barrier) and packs the whole, small, A itself.
  if (p.m <= kSmallM) {
    const int64_t npanels = (p.n + nr - 1) / nr;
    const int64_t groups = threads > 1 ? std::min<int64_t>(npanels, 4 * threads) : 1;
    const int64_t apanels = (p.m + mr - 1) / mr;
    parallel(groups, [&](int64_t g) {
      const int64_t jp_lo = npanels * g / groups, jp_hi = npanels * (g + 1) / groups;
      float* packed_a = t_pack_a.floats(static_cast<size_t>(apanels * mr * std::min(kKCMax, p.k)));
      float* packed_b = t_pack_b_panel.floats(static_cast<size_t>(nr * std::min(kKCMax, p.k)));
      const int64_t kslabs = (p.k + kKCMax - 1) / kKCMax;
      for (int64_t s = 0; s < kslabs; ++s) {
        const int64_t pc = p.k * s / kslabs, kc = p.k * (s + 1) / kslabs - pc;
        pack_a(packed_a, a, p.lda, p.trans_a, 0, p.m, pc, kc, mr);
        GemmTile tile;
        tile.ldc = p.ldc;
        tile.alpha = p.alpha;
        tile.beta = p.beta;
        tile.first = s == 0;
        for (int64_t jp = jp_lo; jp < jp_hi; ++jp) {
          const int64_t j0 = jp * nr;
          tile.nr = static_cast<int>(std::min<int64_t>(nr, p.n - j0));
          tile.bias = bias != nullptr ? bias + j0 : nullptr;
          pack_b_panel(packed_b, b, p.ldb, p.trans_b, pc, kc, j0, tile.nr, nr);
          for (int64_t ip = 0; ip < apanels; ++ip) {
            tile.mr = static_cast<int>(std::min<int64_t>(mr, p.m - ip * mr));
            tile.c = c + ip * mr * p.ldc + j0;
            kern.kernel(kc, packed_a + ip * mr * kc, packed_b, tile);
          }
        }
      }
    });
    return;
  }

  // Column slabs of at most kNC columns; within one, B is packed for as many KC slabs of k as
  // fit in kPackBFloats (a barrier between groups).
  const int64_t nc_max = std::min<int64_t>(kNC / nr * nr, (p.n + nr - 1) / nr * nr);  // whole panels (NEON NR = 12)
  const int64_t kKC = (p.k + (p.k + kKCMax - 1) / kKCMax - 1) / ((p.k + kKCMax - 1) / kKCMax);
  const int64_t kslabs_all = (p.k + kKC - 1) / kKC;
  const int64_t kslabs_per_group =
      std::max<int64_t>(1, std::min<int64_t>(kslabs_all, kPackBFloats / (nc_max * kKC)));
  const int64_t kgroup_depth = kslabs_per_group * kKC;
  float* packed_b =
      t_pack_b.floats(static_cast<size_t>(nc_max * std::min<int64_t>(kgroup_depth, p.k)));

  // A blocks: whole MR panels of rows, at most MC rows each; with several threads at least
  // 4 blocks per thread when there are enough panels. Panels are spread evenly (block sizes
  // differ by at most one panel), so the threads finish together.
  const int64_t apanels_all = (p.m + mr - 1) / mr;
  int64_t mblocks = (p.m + kMC - 1) / kMC;
  if (threads > 1) mblocks = std::max<int64_t>(mblocks, std::min<int64_t>(apanels_all, 4 * threads));
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
        pack_b_panel(packed_b + (pc - pg) * npanels * nr + jp * kc * nr, b, p.ldb, p.trans_b, pc,
                     kc, j0, cols, nr);
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
          pack_a(packed_a, a, p.lda, p.trans_a, i0, mcur, pc, kc, mr);
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

// dbias[j] = Σ_i dy[i, j]. Parallel over column chunks; double accumulation keeps the error
// independent of m (memory-bound anyway).
void bias_grad(float* dbias, const float* dy, int64_t m, int64_t n) {
  MERCLIP_CHECK(m >= 1 && n >= 1, "bias_grad: m and n must be >= 1");
  constexpr int64_t kChunk = 64;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(0, chunks, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, m * kChunk)),
               [&](int64_t lo, int64_t hi) {
                 double acc[kChunk];
                 for (int64_t ch = lo; ch < hi; ++ch) {
                   const int64_t j0 = ch * kChunk;
                   const int64_t w = std::min<int64_t>(kChunk, n - j0);
                   for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
                   for (int64_t i = 0; i < m; ++i) {
                     const float* row = dy + i * n + j0;
                     for (int64_t j = 0; j < w; ++j) acc[j] += row[j];
                   }
                   for (int64_t j = 0; j < w; ++j) dbias[j0 + j] = static_cast<float>(acc[j]);
                 }
               });
}

}  // namespace cpu
}  // namespace merclip
