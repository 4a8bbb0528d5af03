// cpu/machine_avx512.cc — AVX-512 FMA peak loop and read-bandwidth sum (per-file ISA flags).
// The loop keeps 16 independent zmm accumulators in registers (a float FMA chain cannot be
// folded by the compiler, so no barrier is needed): enough to cover FMA latency
// (4 cycles) × throughput (2 per cycle) on every current core. The disassembly of the loop body
// is 16 × vfmadd…ps zmm, zmm, zmm with no loads or stores (checked with objdump).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace merclip {
namespace detail {

float fma_loop_avx512(int64_t iters, double* flops) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999999f);
  const __m512 y = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
  *flops = static_cast<double>(iters) * 16.0 * 16.0 * 2.0;
  return _mm512_reduce_add_ps(s);
}

float read_sum_avx512(const float* data, size_t count) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
         a3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= count; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(data + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(data + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(data + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(data + i + 48));
  }
  float tail = 0.0f;
  for (; i < count; ++i) tail += data[i];
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) + tail;
}

}  // namespace detail
}  // namespace merclip
