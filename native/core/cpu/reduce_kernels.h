// native/core/cpu/reduce_kernels.h — internal: the sum_squares and add_scaled loops, compiled once
// per ISA (cpu/isa.h): into isa_base by cpu/reduce.cc, isa_avx2 / isa_avx512 by
// cpu/reduce_avx2.cc / cpu/reduce_avx512.cc. Without MERCLIP_ISA defined it only declares them.
// No intrinsics: contiguous loops vectorised at the including file's width.
#ifndef MERCLIP_CORE_CPU_REDUCE_KERNELS_H_
#define MERCLIP_CORE_CPU_REDUCE_KERNELS_H_

#include <cstdint>

#include "isa.h"

MERCLIP_ISA_DECLARE(
    // Σ x[i]² over n values: 8 double lanes (lane l sums elements ≡ l mod 8 in index order),
    // combined as a fixed pairwise tree, so the bits do not depend on the vector width.
    double sum_squares_chunk(const float* x, int64_t n);
    // o[t] = x[t] + alpha · y[t] for t < n; o may alias x.
    void add_scaled_run(float* o, const float* x, const float* y, float alpha, int64_t n);)

#endif  // MERCLIP_CORE_CPU_REDUCE_KERNELS_H_

#ifdef MERCLIP_ISA
namespace merclip {
namespace cpu {
namespace MERCLIP_ISA {

double sum_squares_chunk(const float* x, int64_t n) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += static_cast<double>(x[i + l]) * static_cast<double>(x[i + l]);
  for (; i < n; ++i) acc[0] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void add_scaled_run(float* o, const float* x, const float* y, float alpha, int64_t n) {
  for (int64_t t = 0; t < n; ++t) o[t] = x[t] + alpha * y[t];
}

}  // namespace MERCLIP_ISA
}  // namespace cpu
}  // namespace merclip
#endif  // MERCLIP_ISA
