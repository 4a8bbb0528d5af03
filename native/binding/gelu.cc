// native/binding/gelu.cc — geluForward, geluBackward, each with its …Async form (the GELU family;
// the core's merclip/gelu.h names, camelCased). Each op: a parse function validates every argument
// (args.h) and leaves the core call in an OpJob; entry<> (async_job.h) runs it on the JS thread
// (NAME) or on a libuv worker (NAME + "Async", a promise; the arrays stay pinned until it
// settles).
#include <napi.h>


#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/gelu.h"

namespace merclip_binding {

namespace {

merclip::GeluApprox gelu_approx(Args& args) {
  return static_cast<merclip::GeluApprox>(args.one_of("approximate", {"none", "tanh", "quick"}));
}

void parse_gelu_forward(Args& args, OpJob& job) {
  const F32 x = args.f32_any("x");
  const merclip::GeluApprox approx = gelu_approx(args);
  const F32 out = args.f32("out", x.length, "x.length");
  args.no_overlap(out, x, true);
  job.run = [=] {
    merclip::cpu::gelu_forward(out.data, x.data, static_cast<int64_t>(x.length), approx);
  };
}

void parse_gelu_backward(Args& args, OpJob& job) {
  const F32 x = args.f32_any("x");
  const F32 dout = args.f32("dOut", x.length, "x.length");
  const merclip::GeluApprox approx = gelu_approx(args);
  const F32 dx = args.f32("dx", x.length, "x.length");
  args.no_overlap(dx, dout, true);
  args.no_overlap(dx, x);
  job.run = [=] {
    merclip::cpu::gelu_backward(dx.data, dout.data, x.data, static_cast<int64_t>(x.length), approx);
  };
}

}  // namespace

void register_gelu(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "geluForward", OpJob, parse_gelu_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "geluBackward", OpJob, parse_gelu_backward);
}

}  // namespace merclip_binding
