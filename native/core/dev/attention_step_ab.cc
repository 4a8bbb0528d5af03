// native/core/dev/attention_step_ab.cc — scratch A/B of the AVX2 attention tile kernels in L1
// (one 64 × 64 tile, thread CPU time): variant A = native/core/cpu/attention_avx2.cc, variant
// B = any other version of that file with its four entry points renamed *_avx2_B. Not built by
// CMake:
//   git show REV:native/core/cpu/attention_avx2.cc | sed 's/attention_\([a-z_]*\)_avx2(/attention_\1_avx2_B(/' > /tmp/B.cc
//   g++ -O3 -mavx2 -mfma -std=c++17 -c native/core/cpu/attention_avx2.cc -o /tmp/A.o
//   g++ -O3 -mavx2 -mfma -std=c++17 -c /tmp/B.cc -o /tmp/B.o
//   g++ -O2 -std=c++17 native/core/dev/attention_step_ab.cc /tmp/A.o /tmp/B.o build-core/libmerclip_core.a -lpthread -o /tmp/ab
//   /tmp/ab [dh] [rows]
#include <time.h>
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cmath>
namespace merclip { namespace cpu { namespace detail {
#define DECL(S) \
void attention_fwd_tile_step_avx2##S(float* s, float* m, float* l, float* acc, const float* qs, const float* kt, const float* v, int64_t ldv, int64_t nr, int64_t nk, int64_t diag, int64_t dh, const float* pf0, int64_t ld0, const float* pf1, int64_t ld1, int64_t npf); \
void attention_bwd_scores_avx2##S(float* P, float* dS, const float* q, int64_t ldq, const float* g, int64_t ldg, const float* kt, const float* vt, const float* L, const float* D, int64_t nr, int64_t nk, int64_t diag, int64_t dh, float scale); \
void attention_bwd_nn_acc_avx2##S(float* C, int64_t ldc, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb, int64_t rows, int64_t nc, int64_t dh);
DECL() DECL(_B)
}}}
namespace merclip { namespace detail { float fma_loop_avx2(int64_t iters, double* flops); } }
using namespace merclip::cpu::detail;
double now() { timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char** argv) {
  const int64_t dh = argc > 1 ? atoi(argv[1]) : 64, nr = argc > 2 ? atoi(argv[2]) : 64, nk = 64;
  std::vector<float> s(64 * 64), m(64), l(64), acc(64 * dh), qs(64 * dh), kt(dh * 64), v(64 * dh), dS(64*64), g(64*dh), L(64, 1.0f), D(64, 0.1f), C(64*dh);
  for (size_t i = 0; i < qs.size(); ++i) qs[i] = 0.01f * (i % 17) - 0.08f;
  for (size_t i = 0; i < kt.size(); ++i) kt[i] = 0.01f * (i % 13) - 0.06f, v[i] = 0.02f * (i % 7), g[i] = 0.01f * (i % 5);
  auto fwd = [&](bool b) {
    for (int64_t r = 0; r < nr; ++r) m[r] = -INFINITY, l[r] = 0;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int t = 0; t < 6; ++t)
      (b ? attention_fwd_tile_step_avx2_B : attention_fwd_tile_step_avx2)(s.data(), m.data(), l.data(), acc.data(), qs.data(), kt.data(), v.data(), dh, nr, nk, nk, dh, nullptr, 0, nullptr, 0, 0);
  };
  auto bwd = [&](bool b) {
    for (int t = 0; t < 6; ++t) {
      (b ? attention_bwd_scores_avx2_B : attention_bwd_scores_avx2)(s.data(), dS.data(), qs.data(), dh, g.data(), dh, kt.data(), kt.data(), L.data(), D.data(), nr, nk, nk, dh, 0.125f);
      auto nn = b ? attention_bwd_nn_acc_avx2_B : attention_bwd_nn_acc_avx2;
      nn(C.data(), dh, s.data(), 1, 64, g.data(), dh, nk, nr, dh);
      nn(C.data(), dh, dS.data(), 64, 1, qs.data(), dh, nr, nk, dh);
      nn(C.data(), dh, dS.data(), 1, 64, qs.data(), dh, nk, nr, dh);
    }
  };
  double fl = 0; float x = merclip::detail::fma_loop_avx2(20000000, &fl);
  std::vector<double> ta[2], tb[2];
  for (int rep = 0; rep < 21; ++rep)
    for (int b = 0; b < 2; ++b) {
      double t0 = now(); for (int i = 0; i < 200; ++i) fwd(b); ta[b].push_back(now() - t0);
      t0 = now(); for (int i = 0; i < 100; ++i) bwd(b); tb[b].push_back(now() - t0);
    }
  double peak = 0;
  for (int i = 0; i < 3; ++i) { double f; double t0 = now(); x += merclip::detail::fma_loop_avx2(20000000, &f); peak = std::max(peak, f / (now() - t0)); }
  const double ff = 200.0 * 6 * 4 * nr * nk * dh, fb = 100.0 * 6 * 10 * nr * nk * dh;
  for (int b = 0; b < 2; ++b) {
    std::sort(ta[b].begin(), ta[b].end()); std::sort(tb[b].begin(), tb[b].end());
    printf("%s: fwd step %.1f %% of peak (best %.1f) | bwd step %.1f %% (best %.1f)\n", b ? "B" : "A",
           100 * ff / ta[b][10] / peak, 100 * ff / ta[b][0] / peak, 100 * fb / tb[b][10] / peak, 100 * fb / tb[b][0] / peak);
  }
  return x == 12345.f;
}
