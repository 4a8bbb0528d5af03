// native/binding/logmel.cc — logmelForward (+ logmelForwardAsync), merclip/logmel.h's
// logmel_forward camelCased, and the bench probe measureRfftFlops. The parse function validates
// every argument (args.h) before any pointer is read and leaves the core call in an OpJob;
// entry<> (async_job.h) runs it on the JS thread or on a libuv worker (the arrays stay pinned
// until the promise settles).
#include <napi.h>

#include <cstdint>

#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/logmel.h"
#include "merclip/thread_pool.h"

namespace merclip_binding {

namespace {

// { waveform: Float32Array [n >= 1] (16 kHz mono), out: Float32Array [frames·80] }
void parse_logmel_forward(Args& args, OpJob& job) {
  const F32 waveform = args.f32_any("waveform");
  const int64_t n = static_cast<int64_t>(waveform.length);
  const int64_t frames = merclip::logmel_frames(n);  // n >= 1 here, so no throw
  const F32 out = args.f32("out", static_cast<uint64_t>(frames) * merclip::kLogmelBins,
                           "frames·80, frames = 1 + ceil(max(0, waveform.length − 400) / 160)");
  args.no_overlap(out, waveform);
  job.run = [=] { merclip::cpu::logmel_forward(out.data, waveform.data, n); };
}

// { threads: 1 … pool size, seconds: (0, 60] } → GFLOP/s of the size-512 real FFT.
Napi::Value measure_rfft_flops(const Napi::CallbackInfo& cb) {
  Args args(cb, "measureRfftFlops");
  const int threads =
      static_cast<int>(args.integer("threads", 1, merclip::ThreadPool::global().size()));
  const double seconds = args.number("seconds", Args::Bound::open, 0, Args::Bound::closed, 60);
  double g = 0;
  try {
    g = merclip::cpu::measure_rfft512_gflops(threads, seconds);
  } catch (...) {
    rethrow_core_error(cb.Env(), "measureRfftFlops");
  }
  return Napi::Number::New(cb.Env(), g);
}

}  // namespace

void register_logmel(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "logmelForward", OpJob, parse_logmel_forward);
  exports.Set("measureRfftFlops", Napi::Function::New(env, measure_rfft_flops, "measureRfftFlops"));
}

}  // namespace merclip_binding
