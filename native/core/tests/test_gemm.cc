// native/core/tests/test_gemm.cc — merclip::cpu::gemm / gemm_batched / bias_grad vs the
// merclip::ref reference (ref/gemm_ref.cc), at every SIMD level this CPU and build support.
//
// Covered: all four (trans_a, trans_b) combinations; each level's shape classes (few rows with
// B or Bᵀ, FFN-like X·W, X·Wᵀ, dY·W, dYᵀ·X) at 1 thread and at the whole pool; seeded samples of m, n, k from
// {1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 129, 257} plus 512×512×512 and 300×1000×77;
// alpha/beta other than 1/0, alpha = 0; beta = 0 with C pre-filled with NaN (must not leak);
// bias on/off; explicit lda/ldb/ldc larger than packed (A/B padding holds NaN and must not
// be read, C's padding columns must stay untouched); batched form with strides, including stride 0 broadcasts and gaps between C
// items; bias_grad; gemm_resolve's packed defaults and its errors; inputs left unmodified.
//
// Tolerance. C is a fp32 sum of k products compared with a float64 reference. For random
// operands the rounding error of a length-k fp32 dot product grows like u·k·max|a|·max|b|
// (k partial sums of size ~√k·max|a|·max|b|, each rounded with relative error u = 2^-24, the
// errors adding up like a random walk), so we allow
//   |c − r| <= atol + 1e-5·|r|,
//   atol = 1e-6·k·|alpha|·max|A|·max|B| + 1e-6·(|beta|·max|C0| + max|bias|),
// i.e. about 16× the typical accumulated error: loose enough for any summation order or
// blocking, tight enough that a dropped or doubled product term, a wrong stride or a stale
// accumulator (all errors of size ~max|a|·max|b| or more) fails.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "merclip/cpu_features.h"
#include "merclip/error.h"
#include "merclip/gemm.h"
#include "merclip/thread_pool.h"
#include "test_util.h"

using merclip::GemmBatch;
using merclip::GemmParams;
using merclip::SimdLevel;
using merclip_test::Buffer;
using merclip_test::compare;
using merclip_test::fmt;
using merclip_test::max_abs;
using merclip_test::Rng;

namespace {

const int64_t kSizes[] = {1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 129, 257};
constexpr float kPadValue = 12345.0f;  // written into C's ldc padding; must survive

// One GEMM problem: operands, an initial C (with padding), and the reference result.
struct Problem {
  GemmParams p;   // as passed (ld may be 0)
  GemmParams rp;  // resolved
  bool use_bias = false;
  Buffer a, b, bias, c0, want;
  double atol = 0;
  std::string tag;
};

Problem make_problem(Rng& rng, int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha,
                     float beta, bool use_bias, int64_t pad_a, int64_t pad_b, int64_t pad_c) {
  Problem pr;
  GemmParams& p = pr.p;
  p.m = m, p.n = n, p.k = k, p.trans_a = ta, p.trans_b = tb, p.alpha = alpha, p.beta = beta;
  const int64_t a_rows = ta ? k : m, a_row = ta ? m : k;
  const int64_t b_rows = tb ? n : k, b_row = tb ? k : n;
  p.lda = pad_a < 0 ? 0 : a_row + pad_a;  // pad < 0 → 0 (packed, resolved by gemm_resolve)
  p.ldb = pad_b < 0 ? 0 : b_row + pad_b;
  p.ldc = pad_c < 0 ? 0 : n + pad_c;
  pr.rp = merclip::gemm_resolve(p);
  pr.use_bias = use_bias;
  pr.a.resize(a_rows * pr.rp.lda);
  pr.b.resize(b_rows * pr.rp.ldb);
  pr.bias.resize(n);
  pr.c0.resize(m * pr.rp.ldc);
  merclip_test::fill_random(pr.a.data(), pr.a.size(), rng, -1.0, 1.0);
  merclip_test::fill_random(pr.b.data(), pr.b.size(), rng, -1.0, 1.0);
  merclip_test::fill_random(pr.bias.data(), n, rng, -2.0, 2.0);
  merclip_test::fill_random(pr.c0.data(), pr.c0.size(), rng, -1.0, 1.0);
  // Leading-dimension padding of A and B is never to be read: make any read poison C.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t r = 0; r < a_rows; ++r)
    for (int64_t j = a_row; j < pr.rp.lda; ++j) pr.a[r * pr.rp.lda + j] = nan;
  for (int64_t r = 0; r < b_rows; ++r)
    for (int64_t j = b_row; j < pr.rp.ldb; ++j) pr.b[r * pr.rp.ldb + j] = nan;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < pr.rp.ldc; ++j) {
      float& cij = pr.c0[i * pr.rp.ldc + j];
      if (j >= n) cij = kPadValue;
      else if (beta == 0.0f) cij = std::numeric_limits<float>::quiet_NaN();  // must not leak
    }
  }
  pr.want.copy_from(pr.c0);
  merclip::ref::gemm(pr.want.data(), pr.a.data(), pr.b.data(), use_bias ? pr.bias.data() : nullptr,
                     p);
  pr.atol = 1e-6 * static_cast<double>(k) * std::fabs(alpha) * max_abs(pr.a.data(), pr.a.size()) *
                max_abs(pr.b.data(), pr.b.size()) +
            // max|C0| <= 1 and max|bias| <= 2 by construction (C0's padding is not compared)
            1e-6 * (std::fabs(beta) * 1.0 + (use_bias ? 2.0 : 0.0)) + 1e-30;
  pr.tag = fmt("m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g bias=%d lda=%lld ldb=%lld "
               "ldc=%lld",
               (long long)m, (long long)n, (long long)k, ta, tb, alpha, beta, use_bias,
               (long long)p.lda, (long long)p.ldb, (long long)p.ldc);
  return pr;
}

// Runs cpu::gemm on a copy of C0 and checks it against the reference, the padding and guards.
void check_problem(const Problem& pr, const char* lvl) {
  Buffer c;
  c.copy_from(pr.c0);
  Buffer a_before, b_before;
  a_before.copy_from(pr.a), b_before.copy_from(pr.b);
  const std::string tag = fmt("gemm[%s] ", lvl) + pr.tag;
  try {
    merclip::cpu::gemm(c.data(), pr.a.data(), pr.b.data(), pr.use_bias ? pr.bias.data() : nullptr,
                       pr.p);
  } catch (const std::exception& e) {
    CHECK(!"cpu::gemm threw");
    std::printf("  %s: threw %s\n", tag.c_str(), e.what());
    return;
  }
  // Element-wise on the logical m×n part; padding must be bit-identical (kPadValue).
  const int64_t ldc = pr.rp.ldc;
  std::vector<float> got, want;
  got.reserve(static_cast<size_t>(pr.p.m * pr.p.n));
  want.reserve(got.capacity());
  bool pad_ok = true;
  for (int64_t i = 0; i < pr.p.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      if (j < pr.p.n) {
        got.push_back(c[i * ldc + j]);
        want.push_back(pr.want[i * ldc + j]);
      } else {
        pad_ok = pad_ok && c[i * ldc + j] == kPadValue;
      }
    }
  }
  compare(tag, got.data(), want.data(), static_cast<int64_t>(got.size()), 1e-5, pr.atol);
  if (!pad_ok) std::printf("FAIL %s: ldc padding overwritten\n", tag.c_str());
  CHECK(pad_ok);
  c.guards_ok(tag + " C");
  compare(tag + " A unchanged", pr.a, a_before, 0.0, 0.0, /*allow_nan=*/true);
  compare(tag + " B unchanged", pr.b, b_before, 0.0, 0.0, /*allow_nan=*/true);
}

// ---------------------------------------------------------------------------------------------

void test_resolve() {
  GemmParams p;
  p.m = 3, p.n = 5, p.k = 7;
  GemmParams r = merclip::gemm_resolve(p);
  CHECK(r.lda == 7 && r.ldb == 5 && r.ldc == 5);
  p.trans_a = true, p.trans_b = true;
  r = merclip::gemm_resolve(p);
  CHECK(r.lda == 3 && r.ldb == 7 && r.ldc == 5);
  p.lda = 10, p.ldb = 11, p.ldc = 12;
  r = merclip::gemm_resolve(p);
  CHECK(r.lda == 10 && r.ldb == 11 && r.ldc == 12);

  auto throws = [](GemmParams q) {
    try {
      merclip::gemm_resolve(q);
    } catch (const merclip::Error& e) {
      return e.code() == merclip::ErrorCode::invalid_argument;
    }
    return false;
  };
  GemmParams bad;
  bad.m = 0, bad.n = 1, bad.k = 1;
  CHECK(throws(bad));
  bad.m = 1, bad.n = 1, bad.k = -1;
  CHECK(throws(bad));
  bad.k = 4, bad.lda = 3;  // lda < k
  CHECK(throws(bad));
  bad.lda = 0, bad.trans_a = true, bad.m = 5, bad.lda = 4;  // trans: lda < m
  CHECK(throws(bad));
  bad = GemmParams{};
  bad.m = 2, bad.n = 6, bad.k = 3, bad.ldc = 5;  // ldc < n
  CHECK(throws(bad));
  bad.ldc = 0, bad.trans_b = true, bad.ldb = 2;  // trans: ldb < k
  CHECK(throws(bad));

  // cpu::gemm validates too (it is callable directly): never aborts, throws.
  float x = 0;
  bool threw = false;
  try {
    GemmParams q;
    q.m = 1, q.n = 1, q.k = 0;
    merclip::cpu::gemm(&x, &x, &x, nullptr, q);
  } catch (const merclip::Error&) {
    threw = true;
  }
  CHECK(threw);
}

void test_sampled_shapes(const std::vector<SimdLevel>& lv) {
  Rng rng(2024);
  const float alphas[] = {1.0f, 0.5f, -1.25f};
  const float betas[] = {0.0f, 1.0f, -0.75f};
  int count = 0;
  for (int combo = 0; combo < 4; ++combo) {
    const bool ta = combo & 1, tb = combo & 2;
    for (int s = 0; s < 14; ++s) {
      int64_t m = kSizes[rng.index(12)], n = kSizes[rng.index(12)], k = kSizes[rng.index(12)];
      if (s == 0) m = n = k = 1;
      if (s == 1) m = 257, n = 129, k = 257;
      const float alpha = alphas[rng.index(3)], beta = betas[rng.index(3)];
      const bool bias = rng.index(2) == 1;
      const int64_t pads[] = {-1, 0, 3, 16};
      Problem pr = make_problem(rng, m, n, k, ta, tb, alpha, beta, bias, pads[rng.index(4)],
                                pads[rng.index(4)], pads[rng.index(4)]);
      for (SimdLevel l : lv) {
        merclip::set_simd_level(l);
        check_problem(pr, merclip::simd_level_name(l));
      }
      ++count;
    }
  }
  merclip::set_simd_level(merclip::max_simd_level());
  std::printf("sampled shapes: %d problems × %zu levels\n", count, lv.size());
}

void test_special(const std::vector<SimdLevel>& lv) {
  Rng rng(7);
  std::vector<Problem> probs;
  // Larger shapes (the reference is computed once, reused for every level).
  probs.push_back(make_problem(rng, 512, 512, 512, false, false, 1.0f, 0.0f, true, -1, -1, -1));
  probs.push_back(make_problem(rng, 512, 512, 512, false, true, 0.5f, 1.0f, false, -1, -1, -1));
  for (int combo = 0; combo < 4; ++combo) {
    probs.push_back(make_problem(rng, 300, 1000, 77, combo & 1, combo & 2, 1.0f, 0.0f, true, -1,
                                 -1, -1));
  }
  // k spanning several KC slabs with beta != 0, and odd edges everywhere.
  probs.push_back(make_problem(rng, 33, 47, 1100, true, false, -0.5f, 0.25f, true, 5, 7, 9));
  // Every blocking loop of cpu::gemm's main path at once (m > 64): n > NC (2048) gives two
  // column slabs, k = 2100 two KC slabs of 1050, and packed B (NC·k floats) past its budget
  // two k groups.
  for (int combo = 0; combo < 4; ++combo) {
    probs.push_back(make_problem(rng, 67, 2100, 2100, combo & 1, combo & 2, 1.0f,
                                 combo == 3 ? 0.5f : 0.0f, combo & 1, -1, -1, -1));
  }
  // The small-m path (m <= 64) with several k slabs and n past NC.
  probs.push_back(make_problem(rng, 23, 2100, 2500, true, true, 1.0f, 0.5f, true, -1, -1, -1));
  probs.push_back(make_problem(rng, 64, 300, 1500, false, false, 2.0f, 0.0f, false, -1, -1, -1));
  // alpha = 0: C = beta·C + bias, A and B not needed for the value.
  probs.push_back(make_problem(rng, 17, 31, 15, false, false, 0.0f, 0.5f, true, -1, -1, 2));
  probs.push_back(make_problem(rng, 17, 31, 15, false, true, 0.0f, 0.0f, true, -1, -1, -1));
  // beta = 0 with NaN in C and large padding.
  probs.push_back(make_problem(rng, 129, 100, 64, true, true, 2.0f, 0.0f, false, 16, 16, 16));
  // alpha = 0 with an inf in A: A and B are not referenced, so no 0·inf = NaN.
  {
    Problem pr = make_problem(rng, 9, 20, 33, false, false, 0.0f, -1.5f, true, -1, -1, -1);
    pr.a[4] = std::numeric_limits<float>::infinity();
    pr.want.copy_from(pr.c0);
    merclip::ref::gemm(pr.want.data(), pr.a.data(), pr.b.data(), pr.bias.data(), pr.p);
    pr.tag += " (inf in A)";
    probs.push_back(std::move(pr));
  }
  for (const Problem& pr : probs) {
    for (SimdLevel l : lv) {
      merclip::set_simd_level(l);
      check_problem(pr, merclip::simd_level_name(l));
    }
  }
  merclip::set_simd_level(merclip::max_simd_level());
}

// The shape classes each level's driver treats differently, at 1 thread and at the whole pool
// (the thread split changes which task packs what and where the column / row blocks fall):
// - few rows (m <= 64), row-major B: balanced A panels packed once per thread, full-width B
//   panels read in place (AVX2) and the edge panel packed; several k slabs (k > KC);
// - few rows with Bᵀ: the dot-product form (AVX-512: m <= 64; AVX2: m <= 8; k tails of 1–7
//   and 1–15 lanes, n tails);
// - FFN-like shapes scaled down: X·W (KC slabs, m not a multiple of MR, n not of NR), X·Wᵀ,
//   dX = dY·W, dW = dYᵀ·X (transposed A with a row tail), and an odd number of MC blocks;
// each with beta ≠ 0 or bias somewhere, and ld padding.
void test_shape_classes_threads(const std::vector<SimdLevel>& lv) {
  Rng rng(31);
  std::vector<Problem> probs;
  // Few rows.
  probs.push_back(make_problem(rng, 32, 512, 512, false, false, 1.0f, 0.0f, true, -1, -1, -1));
  probs.push_back(make_problem(rng, 32, 519, 600, false, false, 0.5f, -1.0f, true, 3, 5, 2));
  probs.push_back(make_problem(rng, 1, 300, 700, false, false, 1.0f, 0.5f, false, -1, 16, -1));
  probs.push_back(make_problem(rng, 64, 130, 257, false, false, -1.0f, 0.0f, true, -1, -1, -1));
  probs.push_back(make_problem(rng, 7, 64, 33, true, false, 1.0f, 1.0f, true, 2, -1, -1));
  probs.push_back(make_problem(rng, 32, 512, 512, false, true, 1.0f, 0.0f, true, -1, -1, -1));
  probs.push_back(make_problem(rng, 33, 515, 517, false, true, 0.75f, 0.5f, true, 1, 9, 4));
  probs.push_back(make_problem(rng, 5, 7, 1031, false, true, 1.0f, 0.0f, false, -1, -1, -1));
  probs.push_back(make_problem(rng, 64, 100, 15, false, true, 1.0f, -0.5f, true, -1, -1, -1));
  // The AVX2 dot form (m <= 8): odd m (a single-row block), n tails of 3 and 1 after blocks of
  // 4 (and the next-block prefetch of the first row block), k tails of 5 and 0, ld padding.
  probs.push_back(make_problem(rng, 7, 515, 517, false, true, 1.0f, 0.5f, true, 3, 1, 2));
  probs.push_back(make_problem(rng, 8, 9, 512, false, true, -0.5f, 0.0f, false, -1, -1, -1));
  probs.push_back(make_problem(rng, 1, 33, 3, false, true, 1.0f, 1.0f, true, -1, -1, -1));
  // FFN-like, scaled down.
  probs.push_back(make_problem(rng, 301, 530, 600, false, false, 1.0f, 0.0f, true, -1, -1, -1));
  probs.push_back(make_problem(rng, 299, 136, 700, false, true, 1.0f, 0.5f, false, -1, 3, -1));
  probs.push_back(make_problem(rng, 250, 128, 1030, false, false, 1.0f, 1.0f, false, 7, -1, 5));
  probs.push_back(make_problem(rng, 263, 96, 1500, true, false, 1.0f, 0.0f, false, -1, -1, -1));
  probs.push_back(make_problem(rng, 13 * 168 + 5, 40, 70, false, false, 1.0f, 0.0f, true, -1, -1, -1));
  auto& pool = merclip::ThreadPool::global();
  const int counts[] = {1, pool.size()};
  for (const Problem& pr : probs) {
    for (SimdLevel l : lv) {
      merclip::set_simd_level(l);
      for (int t : counts) {
        pool.set_active_threads(t);
        check_problem(pr, fmt("%s, %d thr", merclip::simd_level_name(l), t).c_str());
      }
    }
  }
  pool.set_active_threads(0);
  merclip::set_simd_level(merclip::max_simd_level());
  std::printf("shape classes: %zu problems × %zu levels × threads {1, %d}\n", probs.size(),
              lv.size(), pool.size());
}

// Batched: compares each item with ref::gemm_batched, checks the gaps between C items.
void batched_case(Rng& rng, const std::vector<SimdLevel>& lv, int64_t batch, int64_t m, int64_t n,
                  int64_t k, bool ta, bool tb, bool bcast_a, bool bcast_b, int64_t gap_c,
                  float beta, bool use_bias) {
  GemmParams p;
  p.m = m, p.n = n, p.k = k, p.trans_a = ta, p.trans_b = tb, p.alpha = 0.75f, p.beta = beta;
  GemmBatch bt;
  bt.batch = batch;
  bt.stride_a = bcast_a ? 0 : m * k + 3;
  bt.stride_b = bcast_b ? 0 : k * n + 1;
  bt.stride_c = m * n + gap_c;
  Buffer a(bcast_a ? m * k : bt.stride_a * batch), b(bcast_b ? k * n : bt.stride_b * batch);
  Buffer bias(n), c0(bt.stride_c * batch);
  merclip_test::fill_random(a.data(), a.size(), rng);
  merclip_test::fill_random(b.data(), b.size(), rng);
  merclip_test::fill_random(bias.data(), n, rng);
  merclip_test::fill_random(c0.data(), c0.size(), rng);
  // Gaps between A / B items hold NaN: never to be read.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 0; !bcast_a && i < batch; ++i)
    for (int64_t e = m * k; e < bt.stride_a; ++e) a[i * bt.stride_a + e] = nan;
  for (int64_t i = 0; !bcast_b && i < batch; ++i)
    for (int64_t e = k * n; e < bt.stride_b; ++e) b[i * bt.stride_b + e] = nan;
  for (int64_t i = 0; i < batch; ++i) {
    for (int64_t e = 0; e < bt.stride_c; ++e) {
      float& v = c0[i * bt.stride_c + e];
      if (e >= m * n) v = kPadValue;
      else if (beta == 0.0f) v = std::numeric_limits<float>::quiet_NaN();
    }
  }
  Buffer want;
  want.copy_from(c0);
  const float* bp = use_bias ? bias.data() : nullptr;
  merclip::ref::gemm_batched(want.data(), a.data(), b.data(), bp, p, bt);
  const double atol = 1e-6 * static_cast<double>(k) * 0.75 + 1e-6 * (std::fabs(beta) + 1.0);
  for (SimdLevel l : lv) {
    merclip::set_simd_level(l);
    Buffer c;
    c.copy_from(c0);
    merclip::cpu::gemm_batched(c.data(), a.data(), b.data(), bp, p, bt);
    const std::string tag =
        fmt("gemm_batched[%s] batch=%lld m=%lld n=%lld k=%lld ta=%d tb=%d bcast_a=%d bcast_b=%d "
            "gap=%lld beta=%g bias=%d",
            merclip::simd_level_name(l), (long long)batch, (long long)m, (long long)n,
            (long long)k, ta, tb, bcast_a, bcast_b, (long long)gap_c, beta, use_bias);
    // Gaps hold kPadValue in both, so one elementwise compare covers values and gaps.
    compare(tag, c, want, 1e-5, atol);
    c.guards_ok(tag);
  }
  merclip::set_simd_level(merclip::max_simd_level());
}

void test_batched(const std::vector<SimdLevel>& lv) {
  Rng rng(99);
  batched_case(rng, lv, 3, 17, 33, 15, false, false, false, true, 5, 0.0f, true);   // shared B
  batched_case(rng, lv, 4, 7, 64, 100, true, false, true, false, 0, 1.0f, false);   // shared A
  batched_case(rng, lv, 8, 16, 16, 16, false, true, false, false, 2, -0.5f, true);  // many small
  batched_case(rng, lv, 2, 129, 100, 257, true, true, false, false, 1, 0.0f, false);  // large
  batched_case(rng, lv, 1, 1, 1, 1, false, false, false, false, 0, 0.0f, true);
}

void test_bias_grad() {
  Rng rng(5);
  for (int64_t m : {1, 7, 100, 1027}) {
    for (int64_t n : {1, 16, 33, 257, 1000}) {
      Buffer dy(m * n), want(n), got(n);
      merclip_test::fill_normal(dy.data(), dy.size(), rng);
      want.fill_nan(), got.fill_nan();
      merclip::ref::bias_grad(want.data(), dy.data(), m, n);
      merclip::cpu::bias_grad(got.data(), dy.data(), m, n);
      const std::string tag = fmt("bias_grad m=%lld n=%lld", (long long)m, (long long)n);
      compare(tag, got, want, 1e-5, 1e-6 * std::sqrt(static_cast<double>(m)));
      got.guards_ok(tag);
      // Fixed row blocks: one thread and the whole pool give the same bits.
      auto& pool = merclip::ThreadPool::global();
      Buffer one(n);
      pool.set_active_threads(1);
      merclip::cpu::bias_grad(one.data(), dy.data(), m, n);
      pool.set_active_threads(0);
      CHECK(merclip_test::bitwise_equal(one, got));
    }
  }
}

// Informational: the cpu GEMM's result with one thread vs the whole pool.
void report_thread_determinism() {
  Rng rng(11);
  Problem pr = make_problem(rng, 257, 300, 600, false, true, 1.0f, 0.0f, true, -1, -1, -1);
  auto& pool = merclip::ThreadPool::global();
  Buffer c1, cn;
  c1.copy_from(pr.c0), cn.copy_from(pr.c0);
  pool.set_active_threads(1);
  merclip::cpu::gemm(c1.data(), pr.a.data(), pr.b.data(), pr.bias.data(), pr.p);
  pool.set_active_threads(0);
  merclip::cpu::gemm(cn.data(), pr.a.data(), pr.b.data(), pr.bias.data(), pr.p);
  const bool same = std::memcmp(c1.data(), cn.data(), sizeof(float) * c1.size()) == 0;
  std::printf("note: cpu::gemm 1 thread vs %d threads: %s\n", pool.size(),
              same ? "bitwise identical" : "differs in rounding (allowed)");
  compare("gemm threads", cn, c1, 1e-5, pr.atol);
}

}  // namespace

int main() {
  const std::vector<SimdLevel> lv = merclip_test::simd_levels();
  std::printf("SIMD levels tested:");
  for (SimdLevel l : lv) std::printf(" %s", merclip::simd_level_name(l));
  std::printf("\n");
  test_resolve();
  test_sampled_shapes(lv);
  test_special(lv);
  test_shape_classes_threads(lv);
  test_batched(lv);
  test_bias_grad();
  report_thread_determinism();
  merclip::set_simd_level(merclip::max_simd_level());
  return merclip_test::finish("test_gemm");
}
