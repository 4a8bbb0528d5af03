// merclip/cpu_features.h — runtime CPU feature detection and SIMD dispatch level.
//
// x86-64: the detected level is the best of avx512 (F+BW+VL+DQ with OS-enabled ZMM state), avx2
// (AVX2+FMA with OS-enabled YMM state) and scalar. AArch64: neon (Advanced SIMD is part of
// ARMv8-A, so there is nothing to detect) or scalar. MERCLIP_SIMD=scalar|avx2|avx512|neon in the
// environment, or set_simd_level(), lowers the level used by the kernels (never above what the
// CPU supports, and never above what this build compiled in; a level of the other architecture
// leaves the best one in place) — tests use it to check each path. Levels order within an
// architecture only: code compares them (>= avx2) inside that ISA's #ifdef blocks.
#pragma once

namespace merclip {

enum class SimdLevel : int { scalar = 0, avx2 = 1, avx512 = 2, neon = 3 };

struct CpuFeatures {
  bool sse42 = false;
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512bf16 = false;
  bool os_ymm = false;  // XCR0 enables YMM state
  bool os_zmm = false;  // XCR0 enables opmask + ZMM state
};

const CpuFeatures& cpu_features();

// Best level this CPU and this build support.
SimdLevel max_simd_level();
// Level the kernels dispatch to now.
SimdLevel simd_level();
// Sets the dispatch level, clamped to max_simd_level(); returns the level in effect.
SimdLevel set_simd_level(SimdLevel level);

const char* simd_level_name(SimdLevel level);
// Parses "scalar" | "avx2" | "avx512" | "neon"; returns false on anything else.
bool parse_simd_level(const char* name, SimdLevel* out);

// Whether the AVX-512 / AVX2 kernel files were compiled into this build.
bool built_with_avx512();
bool built_with_avx2();
// Whether this is an AArch64 build (the NEON kernel files are compiled in).
bool built_with_neon();

}  // namespace merclip
