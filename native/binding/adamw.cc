// native/binding/adamw.cc — adamwStep, each with its …Async form (fused AdamW; the core's
// merclip/adamw.h names, camelCased). Each op: a parse function validates every argument (args.h)
// and leaves the core call in an OpJob; entry<> (async_job.h) runs it on the JS thread (NAME) or
// on a libuv worker (NAME + "Async", a promise; the arrays stay pinned until it settles).
#include <napi.h>


#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/adamw.h"

namespace merclip_binding {

namespace {

using Bound = Args::Bound;

void parse_adamw_step(Args& args, OpJob& job) {
  const F32 param = args.f32_any("param");
  const uint64_t n = param.length;
  const F32 grad = args.f32("grad", n, "param.length");
  const F32 m = args.f32("m", n, "param.length");
  const F32 v = args.f32("v", n, "param.length");
  merclip::AdamWParams p;
  p.lr = args.number("lr", Bound::closed, 0, Bound::none, 0);
  p.beta1 = args.number("beta1", Bound::closed, 0, Bound::open, 1);
  p.beta2 = args.number("beta2", Bound::closed, 0, Bound::open, 1);
  p.eps = args.number("eps", Bound::open, 0, Bound::none, 0);
  p.weight_decay = args.number("weightDecay", Bound::closed, 0, Bound::none, 0);
  p.step = args.integer("step", 1, int64_t{1} << 53);
  args.no_overlap(param, grad);
  args.no_overlap(param, m);
  args.no_overlap(param, v);
  args.no_overlap(m, v);
  args.no_overlap(m, grad);
  args.no_overlap(v, grad);
  job.run = [=] {
    merclip::cpu::adamw_step(param.data, m.data, v.data, grad.data, static_cast<int64_t>(n), p);
  };
}

}  // namespace

void register_adamw(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "adamwStep", OpJob, parse_adamw_step);
}

}  // namespace merclip_binding
