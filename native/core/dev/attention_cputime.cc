// native/core/dev/attention_cputime.cc — scratch benchmark of the CPU attention kernels in
// THREAD CPU TIME on one thread (a shared, oversubscribed machine makes wall-clock figures
// meaningless; CPU time still counts cache / SMT interference, so treat it as a best case).
// Not built by CMake; build against a core build dir:
//   g++ -O2 -std=c++17 -Inative/core/include native/core/dev/attention_cputime.cc \
//       build-core/libmerclip_core.a -lpthread -o build-core/attention_cputime
//   [ATTN_LEVEL=avx2] build-core/attention_cputime [reps] [shape-name substring] [fwd]
// Prints, per SIMD level and shape, forward and backward GFLOP/s per CPU second and % of that
// level's FMA peak (also measured in CPU time). FLOPs count valid keys only (forward
// 4·H·Dh·Σ Lq·Lk, causal: (Lk+1)/2; backward 2.5× the forward), as bench/attention.bench.ts;
// for unpadded shapes also the unfused composition (batched GEMM, row softmax, batched GEMM).
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "merclip/attention.h"
#include "merclip/cpu_features.h"
#include "merclip/gemm.h"
#include "merclip/machine.h"
#include "merclip/softmax.h"
#include "merclip/thread_pool.h"

namespace {

double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

struct Shape {
  const char* name;
  int b, h, lq, lk, dh;
  bool causal, pad;
};

std::vector<int32_t> key_lengths(int b, int lk) {  // as bench/attention.bench.ts
  std::vector<int32_t> out(b);
  uint32_t s = 12345;
  for (int i = 0; i < b; ++i) {
    s = s * 1664525u + 1013904223u;
    out[i] = static_cast<int32_t>(std::lround(0.4 * lk + (s / 4294967296.0) * 0.6 * lk));
  }
  return out;
}

template <class F>
double median_cpu(F f, int reps) {
  f();  // warm
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const double t0 = cpu_now();
    f();
    t.push_back(cpu_now() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  merclip::ThreadPool::global().set_active_threads(1);
  const Shape shapes[] = {
      {"decoder cross L375", 32, 8, 7, 375, 64, false, true},
      {"encoder self L375", 32, 8, 375, 375, 64, false, true},
      {"CLIP text causal", 32, 8, 77, 77, 64, true, false},
      {"long L1024", 8, 8, 1024, 1024, 64, false, false},
      {"MulT head dim 6", 32, 5, 375, 375, 6, false, true},
  };
  const char* only = std::getenv("ATTN_LEVEL");  // avx2 / avx512: that level only
  for (merclip::SimdLevel lv : {merclip::SimdLevel::avx2, merclip::SimdLevel::avx512}) {
    if (only && std::strcmp(only, merclip::simd_level_name(lv)) != 0) continue;
    if (merclip::set_simd_level(lv) != lv) continue;
    // peak in CPU time: the fma loop on the caller thread
    double peak = 0;
    for (int i = 0; i < 3; ++i) {
      double flops = 0;
      const double t0 = cpu_now();
      volatile float sink = lv == merclip::SimdLevel::avx512
                                ? merclip::detail::fma_loop_avx512(40000000, &flops)
                                : merclip::detail::fma_loop_avx2(40000000, &flops);
      (void)sink;
      peak = std::max(peak, flops / (cpu_now() - t0) / 1e9);
    }
    // calibration: the GEMM 512³ (the level's own GEMM kernel) in the same conditions
    std::vector<float> ga(512 * 512, 0.5f), gb(512 * 512, 0.25f), gc(512 * 512);
    merclip::GemmParams gp;
    gp.m = gp.n = gp.k = 512;
    const double tg = median_cpu([&] {
      merclip::cpu::gemm_serial(gc.data(), ga.data(), gb.data(), nullptr, gp);
    }, reps);
    std::printf("== %s: FMA peak %.1f GFLOP/s per CPU second (1 thread); GEMM 512^3 %.1f %% of it\n",
                merclip::simd_level_name(lv), peak, 100 * 2.0 * 512 * 512 * 512 / tg / 1e9 / peak);
    for (const Shape& s : shapes) {
      if (argc > 2 && !std::strstr(s.name, argv[2])) continue;
      std::vector<int32_t> kl = s.pad ? key_lengths(s.b, s.lk) : std::vector<int32_t>(s.b, s.lk);
      std::vector<int32_t> ql = s.pad && s.lq == s.lk ? kl : std::vector<int32_t>(s.b, s.lq);
      std::vector<int32_t> cuq(s.b + 1, 0), cuk(s.b + 1, 0);
      double real = 0;
      for (int b = 0; b < s.b; ++b) {
        cuq[b + 1] = cuq[b] + ql[b];
        cuk[b + 1] = cuk[b] + kl[b];
        real += 4.0 * s.h * s.dh * ql[b] * (s.causal ? (kl[b] + 1) / 2.0 : kl[b]);
      }
      merclip::AttentionParams p;
      p.batch = s.b;
      p.heads = s.h;
      p.head_dim = s.dh;
      p.total_q = cuq[s.b];
      p.total_k = cuk[s.b];
      p.cu_seqlens_q = cuq.data();
      p.cu_seqlens_k = cuk.data();
      p.causal = s.causal;
      p.scale = 1.0f / std::sqrt(static_cast<float>(s.dh));
      const size_t W = static_cast<size_t>(s.h) * s.dh;
      std::vector<float> q(p.total_q * W), k(p.total_k * W), v(p.total_k * W), g(p.total_q * W);
      uint32_t st = 1;
      for (auto* a : {&q, &k, &v, &g})
        for (float& x : *a) {
          st = st * 1664525u + 1013904223u;
          x = st / 4294967296.0f - 0.5f;
        }
      std::vector<float> out(q.size()), lse(static_cast<size_t>(s.h) * p.total_q), dq(q.size()),
          dk(k.size()), dv(v.size());
      const double tf = median_cpu([&] {
        merclip::cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), p);
      }, reps);
      const bool fwd_only = argc > 3 && !std::strcmp(argv[3], "fwd");
      const double tb = fwd_only ? 0.0 : median_cpu([&] {
        merclip::cpu::attention_backward(dq.data(), dk.data(), dv.data(), g.data(), q.data(),
                                         k.data(), v.data(), out.data(), lse.data(), p);
      }, reps);
      const double gf = real / tf / 1e9, gfb = 3.5 * real / (tf + tb) / 1e9;
      double tu = 0;  // unfused composition (unpadded shapes only): batched GEMM, softmax, GEMM
      if (!s.pad && !s.causal) {
        const int64_t BH = int64_t(s.b) * s.h;
        std::vector<float> qp(BH * s.lq * s.dh, 0.01f), kp(BH * s.lk * s.dh, 0.02f),
            vp(BH * s.lk * s.dh, 0.03f), S(BH * s.lq * s.lk), o2(BH * s.lq * s.dh);
        merclip::GemmParams g1;
        g1.m = s.lq, g1.n = s.lk, g1.k = s.dh, g1.trans_b = true, g1.alpha = p.scale;
        merclip::GemmBatch b1{BH, int64_t(s.lq) * s.dh, int64_t(s.lk) * s.dh, int64_t(s.lq) * s.lk};
        merclip::GemmParams g2;
        g2.m = s.lq, g2.n = s.dh, g2.k = s.lk;
        merclip::GemmBatch b2{BH, int64_t(s.lq) * s.lk, int64_t(s.lk) * s.dh, int64_t(s.lq) * s.dh};
        tu = median_cpu([&] {
          merclip::cpu::gemm_batched(S.data(), qp.data(), kp.data(), nullptr, g1, b1);
          merclip::cpu::softmax_forward(S.data(), S.data(), BH * s.lq, s.lk);
          merclip::cpu::gemm_batched(o2.data(), S.data(), vp.data(), nullptr, g2, b2);
        }, reps);
      }
      std::printf("  %-20s fwd %8.2f ms %6.1f GF/s %5.1f %% | bwd %8.2f ms | fwd+bwd %6.1f GF/s %5.1f %%",
                  s.name, tf * 1e3, gf, 100 * gf / peak, tb * 1e3, gfb, 100 * gfb / peak);
      if (tu > 0) std::printf(" | unfused fwd %.2f ms (fused %.2fx)", tu * 1e3, tu / tf);
      std::printf("\n");
    }
  }
  return 0;
}
