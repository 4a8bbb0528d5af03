// native/core/cpu/attention_rows.h — internal header: the forward's and backward's row loops
// outside the tile steps (the packed-row copies, the scaled q tile, out / lse from the online
// softmax's (m, l, acc)). Plain loops for the auto-vectoriser, in an ANONYMOUS namespace like
// attention_tiles.h: cpu/attention.cc compiles them with the build's generic flags (the scalar
// and NEON levels' path) and cpu/attention_avx2.cc with exactly -mavx2 -mfma, exported as
// attention_*_rows_avx2 for the avx2 AND avx512 levels — so a portable build (baseline x86-64
// generic code) runs the same machine code here as a native one. These loops are a third of the
// forward on few-tile shapes (CLIP text causal L 77, `perf`); with them in the generic file the
// portable forward ran 5–9 % behind the native one there (bench:portable --interleaved).
// Only builtins and C functions inside (no std:: inline templates: the linker may keep one TU's
// copy of an inline function for every caller).
#ifndef MERCLIP_CORE_CPU_ATTENTION_ROWS_H_
#define MERCLIP_CORE_CPU_ATTENTION_ROWS_H_

#include <math.h>

#include <cstdint>

namespace merclip {
namespace cpu {
namespace {

// dst rows (stride ldd) = n rows of dh floats of src (stride lds); head dim 64 as a fixed-size
// copy (vector moves rather than a libc call per 256-byte row; the same time — measured — but
// the same code in every build).
inline void rows_copy(float* __restrict dst, int64_t ldd, const float* __restrict src,
                      int64_t lds, int64_t n, int64_t dh) {
  if (dh == 64) {
    for (int64_t r = 0; r < n; ++r) __builtin_memcpy(dst + r * ldd, src + r * lds, 64 * sizeof(float));
    return;
  }
  for (int64_t r = 0; r < n; ++r) {
    float* __restrict d = dst + r * ldd;
    const float* __restrict s = src + r * lds;
    for (int64_t c = 0; c < dh; ++c) d[c] = s[c];
  }
}

// qs [nr, dh] (contiguous) = scale · q rows (stride ldq).
inline void rows_scale(float* __restrict qs, const float* __restrict q, int64_t ldq, int64_t nr,
                       int64_t dh, float scale) {
  for (int64_t r = 0; r < nr; ++r) {
    const float* __restrict qi = q + r * ldq;
    float* __restrict qo = qs + r * dh;
    for (int64_t d = 0; d < dh; ++d) qo[d] = scale * qi[d];
  }
}

// out / lse rows from (m, l, acc): out = acc / l, lse = m + log l; l NaN (a NaN score: NaN or
// ±inf inputs) → the row and its lse NaN; l = 0 (no key seen) → out 0, lse +inf. out rows ldo
// apart, lse contiguous.
inline void rows_finish(float* __restrict out, int64_t ldo, float* __restrict lse,
                        const float* __restrict m, const float* __restrict l,
                        const float* __restrict acc, int64_t nr, int64_t dh) {
  for (int64_t r = 0; r < nr; ++r) {
    float* __restrict o = out + r * ldo;
    const float* __restrict a = acc + r * dh;
    if (l[r] > 0.0f) {
      const float inv = 1.0f / l[r];
      for (int64_t d = 0; d < dh; ++d) o[d] = a[d] * inv;
      lse[r] = m[r] + logf(l[r]);
    } else if (l[r] != l[r]) {
      for (int64_t d = 0; d < dh; ++d) o[d] = __builtin_nanf("");
      lse[r] = __builtin_nanf("");
    } else {
      for (int64_t d = 0; d < dh; ++d) o[d] = 0.0f;
      lse[r] = __builtin_inff();
    }
  }
}

}  // namespace
}  // namespace cpu
}  // namespace merclip

#endif  // MERCLIP_CORE_CPU_ATTENTION_ROWS_H_
