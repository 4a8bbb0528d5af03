// cpu/avx512_util.h — small AVX-512 helpers shared by the AVX-512 kernel files (compiled with
// AVX-512 flags; include only from such files). Everything sits in an anonymous namespace, so
// each translation unit gets its own internal copy (see vec_math.h for why that matters).
#ifndef MERCLIP_CORE_CPU_AVX512_UTIL_H_
#define MERCLIP_CORE_CPU_AVX512_UTIL_H_

#include <immintrin.h>

namespace merclip {
namespace cpu {
namespace {

// Horizontal sums of v[0..15] in one vector, lane i = Σ v[i]: a transpose-and-add tree (45
// shuffles / adds instead of 16 separate reductions). Each v[i]'s lanes are added in the same
// order whatever the other inputs are, so a row's result does not depend on its companions.
inline __m512 hsum16(const __m512* v) {
  __m512 x[8], y[4], z[2];
  for (int i = 0; i < 8; ++i)
    x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[i], v[i + 8], 0x44),
                         _mm512_shuffle_f32x4(v[i], v[i + 8], 0xEE));
  for (int i = 0; i < 4; ++i)
    y[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x[i], x[i + 4], 0x88),
                         _mm512_shuffle_f32x4(x[i], x[i + 4], 0xDD));
  for (int i = 0; i < 2; ++i) {
    const __m512d a = _mm512_castps_pd(y[i]), b = _mm512_castps_pd(y[i + 2]);
    z[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  const __m512 t = _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], 0x88),
                                 _mm512_shuffle_ps(z[0], z[1], 0xDD));
  // The tree leaves Σ v[i] in lane perm[i] (perm is its own inverse): put it in lane i.
  const __m512i perm = _mm512_setr_epi32(0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15);
  return _mm512_permutexvar_ps(perm, t);
}

}  // namespace
}  // namespace cpu
}  // namespace merclip

#endif  // MERCLIP_CORE_CPU_AVX512_UTIL_H_
