// merclip/machine.h — measurements of the machine the kernels run on, for the benchmarks:
// fp32 FMA peak (register-resident accumulators, no memory traffic) and memory read bandwidth.
#pragma once

#include <cstddef>
#include <cstdint>

#include "merclip/cpu_features.h"

namespace merclip {

// Runs an FMA loop on `threads` threads of the pool for about `seconds`, at the given SIMD level
// (clamped to what the CPU supports). Returns GFLOP/s summed over threads (1 FMA = 2 FLOP).
double measure_fma_peak_gflops(int threads, double seconds, SimdLevel level);

// Sums `count` floats of `data` `reps` times, split over `threads` threads. Returns GB/s read.
// Touch the buffer first: the first pass over fresh memory measures page faults, not DRAM.
double measure_read_bandwidth_gbs(const float* data, size_t count, int threads, int reps);

// STREAM triad: a[i] = b[i] + 3·c[i] over `count` floats, `reps` times, over `threads`
// threads (a vectorised loop, no non-temporal stores). Returns GB/s of traffic: two arrays read
// plus one written. The reference for kernels that read and write several streams.
double measure_triad_bandwidth_gbs(float* a, const float* b, const float* c, size_t count,
                                   int threads, int reps);

namespace detail {
// FMA loop bodies, one per ISA file: `iters` iterations of kFmaChains independent FMAs on
// vectors; returns a value that depends on every accumulator (so nothing is optimised away)
// and sets *flops to the FLOPs executed.
float fma_loop_avx512(int64_t iters, double* flops);
float fma_loop_avx2(int64_t iters, double* flops);
float read_sum_avx512(const float* data, size_t count);
float read_sum_avx2(const float* data, size_t count);
}  // namespace detail

}  // namespace merclip
