// native/binding/reduce.cc — sumSquares, addScaled, each with its …Async form (sum of squares and
// the broadcast add; the core's merclip/reduce.h names, camelCased). Each op: a parse function
// validates every argument (args.h) and leaves the core call in an OpJob; entry<> (async_job.h)
// runs it on the JS thread (NAME) or on a libuv worker (NAME + "Async", a promise; the arrays stay
// pinned until it settles).
#include <napi.h>

#include <memory>
#include <string>

#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/reduce.h"

namespace merclip_binding {

namespace {

using Bound = Args::Bound;

void parse_sum_squares(Args& args, OpJob& job) {
  const F32 x = args.f32_any("x");
  job.scalar64 = std::make_shared<double>(0.0);
  double* out = job.scalar64.get();
  job.run = [=] { *out = merclip::cpu::sum_squares(x.data, static_cast<int64_t>(x.length)); };
}

void parse_add_scaled(Args& args, OpJob& job) {
  const F32 x = args.f32_any("x");
  const F32 y = args.f32_any("y");
  if (x.length % y.length != 0) {
    args.range_error("y.length to divide x.length (y repeats over x's leading dimensions)",
                     std::to_string(y.length) + " and " + std::to_string(x.length));
  }
  const F32 out = args.f32("out", x.length, "x.length");
  const float alpha = static_cast<float>(args.number("alpha", Bound::none, 0, Bound::none, 0));
  args.no_overlap(out, x, true);
  args.no_overlap(out, y);
  job.run = [=] {
    merclip::cpu::add_scaled(out.data, x.data, y.data, alpha, static_cast<int64_t>(x.length), static_cast<int64_t>(y.length));
  };
}

}  // namespace

void register_reduce(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "sumSquares", OpJob, parse_sum_squares);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "addScaled", OpJob, parse_add_scaled);
}

}  // namespace merclip_binding
