// cpu_features.cc — CPUID/XGETBV detection and the process-wide SIMD dispatch level.
#include "merclip/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define MERCLIP_X86 1
#endif

namespace merclip {

namespace {

#ifdef MERCLIP_X86
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef MERCLIP_X86
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return f;
  const unsigned max_leaf = eax;
  __cpuid(1, eax, ebx, ecx, edx);
  f.sse42 = (ecx >> 20) & 1;
  f.fma = (ecx >> 12) & 1;
  const bool osxsave = (ecx >> 27) & 1;
  f.avx = (ecx >> 28) & 1;
  if (osxsave) {
    const uint64_t xcr0 = read_xcr0();
    f.os_ymm = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
    f.os_zmm = f.os_ymm && (xcr0 & 0xE0) == 0xE0;  // opmask + ZMM_Hi256 + Hi16_ZMM
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    f.avx2 = (ebx >> 5) & 1;
    f.avx512f = (ebx >> 16) & 1;
    f.avx512dq = (ebx >> 17) & 1;
    f.avx512bw = (ebx >> 30) & 1;
    f.avx512vl = (ebx >> 31) & 1;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx512bf16 = (eax >> 5) & 1;
  }
#endif
  return f;
}

SimdLevel detect_max() {
  if (built_with_neon()) return SimdLevel::neon;
  const CpuFeatures& f = cpu_features();
  if (built_with_avx512() && f.os_zmm && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
      f.fma && f.avx2)
    return SimdLevel::avx512;
  if (built_with_avx2() && f.os_ymm && f.avx && f.avx2 && f.fma) return SimdLevel::avx2;
  return SimdLevel::scalar;
}

std::atomic<int> g_level{-1};

// The level in effect for a request: itself when this CPU and build have it; the best level
// when the request names the other architecture's ISA or one above the best.
SimdLevel clamp_level(SimdLevel level) {
  const SimdLevel max = max_simd_level();
  if (level == SimdLevel::scalar || level == max) return level;
  const bool neon_build = max == SimdLevel::neon;
  if ((level == SimdLevel::neon) != neon_build) return max;
  return level > max ? max : level;
}

int initial_level() {
  SimdLevel level = max_simd_level();
  const char* env = std::getenv("MERCLIP_SIMD");
  SimdLevel wanted;
  if (env != nullptr && parse_simd_level(env, &wanted)) level = clamp_level(wanted);
  return static_cast<int>(level);
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

SimdLevel max_simd_level() {
  static const SimdLevel level = detect_max();
  return level;
}

SimdLevel simd_level() {
  int level = g_level.load(std::memory_order_relaxed);
  if (level < 0) {
    int expected = -1;
    g_level.compare_exchange_strong(expected, initial_level());
    level = g_level.load(std::memory_order_relaxed);
  }
  return static_cast<SimdLevel>(level);
}

SimdLevel set_simd_level(SimdLevel level) {
  level = clamp_level(level);
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
  return level;
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::avx512: return "avx512";
    case SimdLevel::avx2: return "avx2";
    case SimdLevel::neon: return "neon";
    default: return "scalar";
  }
}

bool parse_simd_level(const char* name, SimdLevel* out) {
  if (name == nullptr) return false;
  if (std::strcmp(name, "scalar") == 0) *out = SimdLevel::scalar;
  else if (std::strcmp(name, "avx2") == 0) *out = SimdLevel::avx2;
  else if (std::strcmp(name, "avx512") == 0) *out = SimdLevel::avx512;
  else if (std::strcmp(name, "neon") == 0) *out = SimdLevel::neon;
  else return false;
  return true;
}

bool built_with_avx512() {
#ifdef MERCLIP_HAVE_AVX512
  return true;
#else
  return false;
#endif
}

bool built_with_avx2() {
#ifdef MERCLIP_HAVE_AVX2
  return true;
#else
  return false;
#endif
}

bool built_with_neon() {
#ifdef MERCLIP_HAVE_NEON
  return true;
#else
  return false;
#endif
}

}  // namespace merclip
