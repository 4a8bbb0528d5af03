// native/core/cpu/cosine_topk.cc — CPU cosine top-k (merclip::cpu::cosine_topk, declared in
// merclip/cosine.h; contract there and in cpu/cosine.cc: outputs overwritten, ties to the lower
// index, NaN scores rank below every number). The readable twin is ref/cosine_ref.cc.
// Labels in tiles of kTopkTile, rows in blocks of kTopkRows; each tile's raw scores x·e_tileᵀ
// come from the GEMM (merclip::cpu::gemm, dispatched per SIMD level) into thread_local scratch,
// are scaled by scale·rx_i·re_j and merged into the per-row lists kept sorted in the output
// arrays (memory O(n·k + tile)). Inverse norms from cosine.cc's row kernels. Parallel split:
// the GEMM's own, then rows of the block (each task owns its rows' lists): results do not
// depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "../common/aligned_buffer.h"
#include "cosine_kernels.h"
#include "merclip/cosine.h"
#include "merclip/error.h"
#include "merclip/gemm.h"
#include "merclip/thread_pool.h"

namespace merclip {
namespace cpu {

namespace {

constexpr int64_t kTopkTile = 2048;  // labels per top-k tile
constexpr int64_t kTopkRows = 256;   // rows per top-k GEMM block

thread_local AlignedBuffer t_r;  // inverse norms of x and of the tile's labels
thread_local AlignedBuffer t_s;  // tile scores
thread_local std::vector<std::pair<float, int32_t>> t_cand;  // merge (per worker)
thread_local std::vector<std::pair<float, int32_t>> t_merge;

}  // namespace

// indices [n,k] (int32), scores [n,k]; x [n,dim]; e [c,dim]; 1 <= k <= c
// For each label tile (kTopkTile labels) and row block (kTopkRows rows): S = x_blk·e_tileᵀ by
// the GEMM, score_ij = S_ij·rx_i·(scale·re_j), then each row's candidates above its current
// k-th score are sorted and merged into its list (kept sorted in indices/scores; all rows have
// seen the same labels, so every list holds min(k, labels seen) entries). Tiles arrive in
// increasing label order, so an equal score from a later tile never displaces an earlier one.

void cosine_topk(int32_t* indices, float* scores, const float* x, const float* e,
                 const CosineParams& p, int64_t k) {
  MERCLIP_CHECK(p.n >= 0 && p.c >= 0 && p.dim >= 0, "cosine_topk: sizes must be >= 0");
  MERCLIP_CHECK(k >= 1 && k <= p.c, "cosine_topk: k must be in [1, c]");
  MERCLIP_CHECK(p.c <= INT32_MAX, "cosine_topk: c must fit in int32");
  const int64_t n = p.n, c = p.c, dim = p.dim;
  const float scale = p.scale, eps = p.eps;
  if (n == 0) return;
  const int64_t tile = std::min(c, kTopkTile);
  const int64_t rblk = std::min(n, kTopkRows);
  float* rx = t_r.floats(static_cast<size_t>(n + tile));
  float* fe = rx + n;  // scale·re_j of the current tile
  float* s = t_s.floats(static_cast<size_t>(rblk * tile));
  detail::cosine_rnorms(rx, x, n, dim, eps);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  auto before = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };

  for (int64_t t0 = 0; t0 < c; t0 += tile) {
    const int64_t tc = std::min(tile, c - t0);
    const int64_t have = std::min(k, t0);  // list length of every row before this tile
    const int64_t now = std::min(k, t0 + tc);
    const float* et = e + t0 * dim;
    detail::cosine_rnorms(fe, et, tc, dim, eps);
    for (int64_t j = 0; j < tc; ++j) fe[j] *= scale;
    for (int64_t r0 = 0; r0 < n; r0 += rblk) {
      const int64_t rc = std::min(rblk, n - r0);
      if (dim > 0) {
        GemmParams g;
        g.m = rc, g.n = tc, g.k = dim, g.trans_b = true;
        gemm(s, x + r0 * dim, et, nullptr, g);
      } else {
        std::memset(s, 0, sizeof(float) * static_cast<size_t>(rc * tc));
      }
      parallel_for(0, rc, std::max<int64_t>(1, 4096 / tc), [&](int64_t lo, int64_t hi) {
        auto& cand = t_cand;
        auto& merged = t_merge;
        for (int64_t r = lo; r < hi; ++r) {
          const int64_t i = r0 + r;
          float* si = s + r * tc;
          const float f = rx[i];
          for (int64_t j = 0; j < tc; ++j) si[j] = si[j] * f * fe[j];
          int32_t* ii = indices + i * k;
          float* sc = scores + i * k;
          cand.clear();
          if (have == k) {
            const float thr = sc[k - 1];
            for (int64_t j = 0; j < tc; ++j)
              if (si[j] > thr) cand.emplace_back(si[j], static_cast<int32_t>(t0 + j));
          } else {
            for (int64_t j = 0; j < tc; ++j) {
              const float v = std::isnan(si[j]) ? neg_inf : si[j];
              cand.emplace_back(v, static_cast<int32_t>(t0 + j));
            }
          }
          if (cand.empty()) continue;
          const int64_t take = std::min<int64_t>(static_cast<int64_t>(cand.size()), now);
          if (take < static_cast<int64_t>(cand.size())) {
            std::partial_sort(cand.begin(), cand.begin() + take, cand.end(), before);
            cand.resize(static_cast<size_t>(take));
          } else {
            std::sort(cand.begin(), cand.end(), before);
          }
          // Merge the old list (have entries) with the sorted candidates, keep `now`.
          merged.clear();
          int64_t a = 0, b = 0;
          const int64_t nc = static_cast<int64_t>(cand.size());
          while (static_cast<int64_t>(merged.size()) < now && (a < have || b < nc)) {
            if (b >= nc || (a < have && before({sc[a], ii[a]}, cand[b]))) {
              merged.emplace_back(sc[a], ii[a]);
              ++a;
            } else {
              merged.push_back(cand[b]);
              ++b;
            }
          }
          for (int64_t t = 0; t < now; ++t) {
            sc[t] = merged[t].first;
            ii[t] = merged[t].second;
          }
        }
      });
    }
  }
}

}  // namespace cpu
}  // namespace merclip
