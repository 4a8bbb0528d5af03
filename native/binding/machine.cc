// native/binding/machine.cc — info, SIMD level and thread controls, peak/bandwidth probes.
#include <napi.h>

#include "args.h"
#include "bindings.h"
#include "merclip/cpu_features.h"
#include "merclip/cuda.h"
#include "merclip/machine.h"
#include "merclip/memory.h"
#include "merclip/thread_pool.h"

namespace merclip_binding {

namespace {

const char* build_system() {
#ifdef MERCLIP_BUILD_CMAKE
  return "cmake-js";
#else
  return "node-gyp";
#endif
}

bool portable_build() {
#if defined(MERCLIP_PORTABLE) && MERCLIP_PORTABLE
  return true;
#else
  return false;
#endif
}

// What the generic (non-ISA-specific) code was compiled for, read from the compiler's macros.
std::string compiler_flags() {
  std::string f;
#ifdef __OPTIMIZE__
  f += "-O3";
#else
  f += "-O0";
#endif
  f += portable_build() ? " (portable: baseline x86-64" : " -march=native (";
#ifdef __AVX512F__
  f += portable_build() ? ", AVX-512" : "AVX-512";
#elif defined(__AVX2__)
  f += portable_build() ? ", AVX2" : "AVX2";
#else
  f += portable_build() ? "" : "no AVX";
#endif
  f += " in generic code); per-file -mavx512f/bw/vl/dq -mfma and -mavx2 -mfma for the micro-kernels";
  return f;
}

Napi::Value info(const Napi::CallbackInfo& cb) {
  Napi::Env env = cb.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("bindingApiVersion", kBindingApiVersion);
  o.Set("buildSystem", build_system());
  o.Set("portable", portable_build());
#ifdef __VERSION__
  o.Set("compiler", std::string("gcc-compatible ") + __VERSION__);
#else
  o.Set("compiler", "unknown");
#endif
  o.Set("compilerFlags", compiler_flags());
  o.Set("simdLevel", merclip::simd_level_name(merclip::simd_level()));
  o.Set("maxSimdLevel", merclip::simd_level_name(merclip::max_simd_level()));
  o.Set("builtWithAvx512", merclip::built_with_avx512());
  o.Set("builtWithAvx2", merclip::built_with_avx2());
  const merclip::CpuFeatures& f = merclip::cpu_features();
  Napi::Object feats = Napi::Object::New(env);
  feats.Set("sse4_2", f.sse42);
  feats.Set("avx", f.avx);
  feats.Set("avx2", f.avx2);
  feats.Set("fma", f.fma);
  feats.Set("avx512f", f.avx512f);
  feats.Set("avx512bw", f.avx512bw);
  feats.Set("avx512vl", f.avx512vl);
  feats.Set("avx512dq", f.avx512dq);
  feats.Set("avx512bf16", f.avx512bf16);
  feats.Set("osYmm", f.os_ymm);
  feats.Set("osZmm", f.os_zmm);
  o.Set("cpuFeatures", feats);
  merclip::ThreadPool& pool = merclip::ThreadPool::global();
  o.Set("threads", pool.active_threads());
  o.Set("poolThreads", pool.size());
  const merclip::CudaStatus cs = merclip::cuda_status();
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", cs.compiled);
  cuda.Set("deviceCount", cs.device_count);
  Napi::Array devs = Napi::Array::New(env, cs.devices.size());
  for (size_t i = 0; i < cs.devices.size(); ++i) devs.Set(static_cast<uint32_t>(i), cs.devices[i]);
  cuda.Set("devices", devs);
  if (!cs.error.empty()) cuda.Set("error", cs.error);
  o.Set("cuda", cuda);
  return o;
}

merclip::SimdLevel parse_level(Napi::Env env, const char* fn, const Napi::Value& v) {
  merclip::SimdLevel level;
  if (!v.IsString())
    throw Napi::TypeError::New(env, std::string(fn) +
                                        ": expected level to be one of 'scalar', 'avx2', 'avx512', 'neon', received " +
                                        describe(v));
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (!merclip::parse_simd_level(s.c_str(), &level))
    throw Napi::RangeError::New(env, std::string(fn) +
                                         ": expected level to be one of 'scalar', 'avx2', 'avx512', 'neon', received " +
                                         describe(v));
  return level;
}

Napi::Value get_simd_level(const Napi::CallbackInfo& cb) {
  return Napi::String::New(cb.Env(), merclip::simd_level_name(merclip::simd_level()));
}

Napi::Value set_simd_level(const Napi::CallbackInfo& cb) {
  const merclip::SimdLevel want =
      parse_level(cb.Env(), "setSimdLevel", cb.Length() > 0 ? cb[0] : cb.Env().Undefined());
  return Napi::String::New(cb.Env(), merclip::simd_level_name(merclip::set_simd_level(want)));
}

Napi::Value get_num_threads(const Napi::CallbackInfo& cb) {
  return Napi::Number::New(cb.Env(), merclip::ThreadPool::global().active_threads());
}

Napi::Value set_num_threads(const Napi::CallbackInfo& cb) {
  Napi::Env env = cb.Env();
  merclip::ThreadPool& pool = merclip::ThreadPool::global();
  const Napi::Value v = cb.Length() > 0 ? cb[0] : env.Undefined();
  const std::string what = "setNumThreads: expected n to be an integer in [1, " +
                           std::to_string(pool.size()) + "], received " + describe(v);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, what);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= pool.size() && d == static_cast<double>(static_cast<int>(d))))
    throw Napi::RangeError::New(env, what);
  pool.set_active_threads(static_cast<int>(d));
  return Napi::Number::New(env, pool.active_threads());
}

Napi::Value measure_peak(const Napi::CallbackInfo& cb) {
  Args args(cb, "measurePeakFlops");
  merclip::ThreadPool& pool = merclip::ThreadPool::global();
  const int threads = static_cast<int>(args.integer("threads", 1, pool.size()));
  const double seconds = args.number("seconds", Args::Bound::open, 0, Args::Bound::closed, 60);
  merclip::SimdLevel level = merclip::max_simd_level();
  const Napi::Value lv = cb[0].As<Napi::Object>().Get("simd");
  if (!lv.IsUndefined()) level = parse_level(cb.Env(), "measurePeakFlops", lv);
  double g = 0;
  try {
    g = merclip::measure_fma_peak_gflops(threads, seconds, level);
  } catch (...) {
    rethrow_core_error(cb.Env(), "measurePeakFlops");
  }
  return Napi::Number::New(cb.Env(), g);
}

Napi::Value measure_bandwidth(const Napi::CallbackInfo& cb) {
  Args args(cb, "measureReadBandwidth");
  merclip::ThreadPool& pool = merclip::ThreadPool::global();
  const F32 buf = args.f32_any("buffer");
  const int threads = static_cast<int>(args.integer("threads", 1, pool.size()));
  const int reps = static_cast<int>(args.integer("reps", 1, 1000));
  double g = 0;
  try {
    g = merclip::measure_read_bandwidth_gbs(buf.data, buf.length, threads, reps);
  } catch (...) {
    rethrow_core_error(cb.Env(), "measureReadBandwidth");
  }
  return Napi::Number::New(cb.Env(), g);
}

Napi::Value measure_triad_bandwidth(const Napi::CallbackInfo& cb) {
  Args args(cb, "measureTriadBandwidth");
  merclip::ThreadPool& pool = merclip::ThreadPool::global();
  const F32 a = args.f32_any("a");
  const F32 b = args.f32("b", a.length, "a.length");
  const F32 c = args.f32("c", a.length, "a.length");
  args.no_overlap(a, b);
  args.no_overlap(a, c);
  const int threads = static_cast<int>(args.integer("threads", 1, pool.size()));
  const int reps = static_cast<int>(args.integer("reps", 1, 1000));
  double g = 0;
  try {
    g = merclip::measure_triad_bandwidth_gbs(a.data, b.data, c.data, a.length, threads, reps);
  } catch (...) {
    rethrow_core_error(cb.Env(), "measureTriadBandwidth");
  }
  return Napi::Number::New(cb.Env(), g);
}

// releasePages(buffer: ArrayBuffer): the whole pages of an ArrayBuffer the caller no longer needs
// the contents of leave the resident set (merclip/memory.h); returns the bytes given back.
Napi::Value release_pages(const Napi::CallbackInfo& cb) {
  Napi::Env env = cb.Env();
  if (cb.Length() < 1 || !cb[0].IsArrayBuffer())
    throw Napi::TypeError::New(env, "releasePages: expected buffer to be an ArrayBuffer, received " +
                                        describe(cb.Length() > 0 ? cb[0] : env.Undefined()));
  Napi::ArrayBuffer ab = cb[0].As<Napi::ArrayBuffer>();
  size_t released = 0;
  try {
    released = merclip::release_pages(ab.Data(), ab.ByteLength());
  } catch (...) {
    rethrow_core_error(env, "releasePages");
  }
  return Napi::Number::New(env, static_cast<double>(released));
}

// trimHeap(): the free memory inside the C heap goes back to the OS (merclip/memory.h); returns
// whether any was released.
Napi::Value trim_heap(const Napi::CallbackInfo& cb) {
  if (cb.Length() != 0)
    throw Napi::TypeError::New(cb.Env(), "trimHeap: takes no arguments, received " + std::to_string(cb.Length()));
  bool released = false;
  try {
    released = merclip::trim_heap();
  } catch (...) {
    rethrow_core_error(cb.Env(), "trimHeap");
  }
  return Napi::Boolean::New(cb.Env(), released);
}

// setMmapThreshold(bytes): glibc's mmap threshold fixed at `bytes` (merclip/memory.h); returns
// whether the allocator took it.
Napi::Value set_mmap_threshold(const Napi::CallbackInfo& cb) {
  Napi::Env env = cb.Env();
  if (cb.Length() != 1 || !cb[0].IsNumber())
    throw Napi::TypeError::New(env, "setMmapThreshold: expected bytes to be a number, received " +
                                        describe(cb.Length() > 0 ? cb[0] : env.Undefined()));
  const double v = cb[0].As<Napi::Number>().DoubleValue();
  if (!(v >= 4096 && v <= 32.0 * 1024 * 1024) || v != static_cast<double>(static_cast<int64_t>(v)))
    throw Napi::RangeError::New(env, "setMmapThreshold: bytes must be an integer in [4096, 33554432], got " +
                                         describe(cb[0]));
  bool ok = false;
  try {
    ok = merclip::set_mmap_threshold(static_cast<size_t>(v));
  } catch (...) {
    rethrow_core_error(env, "setMmapThreshold");
  }
  return Napi::Boolean::New(env, ok);
}

}  // namespace

void register_machine(Napi::Env env, Napi::Object exports) {
  exports.Set("bindingApiVersion", Napi::Number::New(env, kBindingApiVersion));
  exports.Set("info", Napi::Function::New(env, info, "info"));
  exports.Set("getSimdLevel", Napi::Function::New(env, get_simd_level, "getSimdLevel"));
  exports.Set("setSimdLevel", Napi::Function::New(env, set_simd_level, "setSimdLevel"));
  exports.Set("getNumThreads", Napi::Function::New(env, get_num_threads, "getNumThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, set_num_threads, "setNumThreads"));
  exports.Set("measurePeakFlops", Napi::Function::New(env, measure_peak, "measurePeakFlops"));
  exports.Set("releasePages", Napi::Function::New(env, release_pages, "releasePages"));
  exports.Set("trimHeap", Napi::Function::New(env, trim_heap, "trimHeap"));
  exports.Set("setMmapThreshold", Napi::Function::New(env, set_mmap_threshold, "setMmapThreshold"));
  exports.Set("measureReadBandwidth",
              Napi::Function::New(env, measure_bandwidth, "measureReadBandwidth"));
  exports.Set("measureTriadBandwidth",
              Napi::Function::New(env, measure_triad_bandwidth, "measureTriadBandwidth"));
}

}  // namespace merclip_binding
