// cpu/machine.cc — drivers for the peak-FLOP and bandwidth measurements (see merclip/machine.h).
#include "merclip/machine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "merclip/error.h"
#include "merclip/thread_pool.h"

namespace merclip {

namespace {

using Clock = std::chrono::steady_clock;

// Portable FMA-shaped loop for the scalar level (8 independent chains).
float fma_loop_scalar(int64_t iters, double* flops) {
  float acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = 0.001f * static_cast<float>(i);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < 8; ++i) acc[i] = acc[i] * 0.999999f + 1e-7f;
    __asm__ volatile("" : "+m"(acc));
  }
  *flops = static_cast<double>(iters) * 8.0 * 2.0;
  float s = 0.0f;
  for (float a : acc) s += a;
  return s;
}

float fma_loop(SimdLevel level, int64_t iters, double* flops) {
  switch (level) {
#ifdef MERCLIP_HAVE_AVX512
    case SimdLevel::avx512: return detail::fma_loop_avx512(iters, flops);
#endif
#ifdef MERCLIP_HAVE_AVX2
    case SimdLevel::avx2: return detail::fma_loop_avx2(iters, flops);
#endif
    default: return fma_loop_scalar(iters, flops);
  }
}

float read_sum(const float* data, size_t count) {
  switch (simd_level()) {
#ifdef MERCLIP_HAVE_AVX512
    case SimdLevel::avx512: return detail::read_sum_avx512(data, count);
#endif
#ifdef MERCLIP_HAVE_AVX2
    case SimdLevel::avx2: return detail::read_sum_avx2(data, count);
#endif
    default: {
      float s = 0.0f;
      for (size_t i = 0; i < count; ++i) s += data[i];
      return s;
    }
  }
}

std::atomic<float> g_sink{0.0f};

// Limits the global pool to `threads` for the guard's lifetime (restored on exceptions too).
class ActiveThreadsGuard {
 public:
  ActiveThreadsGuard(ThreadPool& pool, int threads) : pool_(pool), saved_(pool.active_threads()) {
    pool_.set_active_threads(threads);
  }
  ~ActiveThreadsGuard() { pool_.set_active_threads(saved_); }
  ActiveThreadsGuard(const ActiveThreadsGuard&) = delete;
  ActiveThreadsGuard& operator=(const ActiveThreadsGuard&) = delete;

 private:
  ThreadPool& pool_;
  int saved_;
};

// Best (least disturbed) of `reps` timed runs of body over `threads` tasks; returns the
// highest bytes_per_run / seconds in GB/s.
template <class Body>
double best_bandwidth_gbs(int threads, int reps, double bytes_per_run, const Body& body) {
  ThreadPool& pool = ThreadPool::global();
  threads = std::min(threads, pool.size());
  ActiveThreadsGuard guard(pool, threads);
  double best = 0.0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    pool.run(threads, [&](int64_t t) { body(t, threads); });
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, bytes_per_run / dt * 1e-9);
  }
  return best;
}

}  // namespace

double measure_fma_peak_gflops(int threads, double seconds, SimdLevel level) {
  MERCLIP_CHECK(threads >= 1, "measure_fma_peak_gflops: threads must be >= 1");
  MERCLIP_CHECK(seconds > 0 && seconds <= 60, "measure_fma_peak_gflops: seconds must be in (0, 60]");
  if (level > max_simd_level()) level = max_simd_level();
  ThreadPool& pool = ThreadPool::global();
  threads = std::min(threads, pool.size());

  // Calibrate: iterations for ~10 ms on one thread.
  int64_t iters = 1 << 16;
  for (;;) {
    double f;
    const auto t0 = Clock::now();
    g_sink.store(fma_loop(level, iters, &f), std::memory_order_relaxed);
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (dt > 0.01 || iters > (int64_t{1} << 40)) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * 0.01 / std::max(dt, 1e-9)) + 1;
      break;
    }
    iters *= 4;
  }

  // Repeat ~10 ms rounds on every thread at once and keep the best round (least disturbed).
  ActiveThreadsGuard guard(pool, threads);
  double best = 0.0;
  const auto start = Clock::now();
  do {
    std::vector<double> flops(static_cast<size_t>(threads), 0.0);
    const auto t0 = Clock::now();
    pool.run(threads, [&](int64_t t) {
      double f = 0.0;
      g_sink.store(fma_loop(level, iters, &f), std::memory_order_relaxed);
      flops[static_cast<size_t>(t)] = f;
    });
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    double total = 0.0;
    for (double f : flops) total += f;
    best = std::max(best, total / dt * 1e-9);
  } while (std::chrono::duration<double>(Clock::now() - start).count() < seconds);
  return best;
}

double measure_read_bandwidth_gbs(const float* data, size_t count, int threads, int reps) {
  MERCLIP_CHECK(data != nullptr && count > 0, "measure_read_bandwidth_gbs: empty buffer");
  MERCLIP_CHECK(threads >= 1 && reps >= 1, "measure_read_bandwidth_gbs: threads, reps >= 1");
  return best_bandwidth_gbs(threads, reps, static_cast<double>(count) * sizeof(float),
                            [&](int64_t t, int nt) {
                              const size_t lo = count * t / nt, hi = count * (t + 1) / nt;
                              g_sink.store(read_sum(data + lo, hi - lo), std::memory_order_relaxed);
                            });
}

double measure_triad_bandwidth_gbs(float* a, const float* b, const float* c, size_t count,
                                   int threads, int reps) {
  MERCLIP_CHECK(a != nullptr && b != nullptr && c != nullptr && count > 0,
                "measure_triad_bandwidth_gbs: empty buffer");
  MERCLIP_CHECK(threads >= 1 && reps >= 1, "measure_triad_bandwidth_gbs: threads, reps >= 1");
  return best_bandwidth_gbs(threads, reps, 3.0 * static_cast<double>(count) * sizeof(float),
                            [&](int64_t t, int nt) {
                              const size_t lo = count * t / nt, hi = count * (t + 1) / nt;
                              float* __restrict pa = a + lo;
                              const float* __restrict pb = b + lo;
                              const float* __restrict pc = c + lo;
                              for (size_t i = 0; i < hi - lo; ++i) pa[i] = pb[i] + 3.0f * pc[i];
                            });
}

}  // namespace merclip
