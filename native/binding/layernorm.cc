// native/binding/layernorm.cc — layernormForward, layernormBackward, each with its …Async form
// (LayerNorm; the core's merclip/layernorm.h names, camelCased). Each op: a parse function
// validates every argument (args.h) and leaves the core call in an OpJob; entry<> (async_job.h)
// runs it on the JS thread (NAME) or on a libuv worker (NAME + "Async", a promise; the arrays stay
// pinned until it settles).
#include <napi.h>


#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/layernorm.h"

namespace merclip_binding {

namespace {

using Bound = Args::Bound;

uint64_t prod(int64_t a, int64_t b) {
  uint64_t p = 0;
  checked_product({a, b}, &p);  // sizes are < 2^31: never overflows
  return p;
}

void parse_layernorm_forward(Args& args, OpJob& job) {
  const int64_t rows = args.size("rows"), dim = args.size("dim");
  const float eps = static_cast<float>(args.number("eps", Bound::open, 0, Bound::none, 0));
  const uint64_t n = prod(rows, dim);
  const F32 x = args.f32("x", n, "rows·dim");
  const F32 weight = args.f32_optional("weight", static_cast<uint64_t>(dim), "dim");
  const F32 bias = args.f32_optional("bias", static_cast<uint64_t>(dim), "dim");
  const F32 out = args.f32("out", n, "rows·dim");
  const F32 mean = args.f32("mean", static_cast<uint64_t>(rows), "rows");
  const F32 rstd = args.f32("rstd", static_cast<uint64_t>(rows), "rows");
  args.no_overlap(out, x, true);
  for (const F32* o : {&out, &mean, &rstd}) {
    args.no_overlap(*o, weight);
    args.no_overlap(*o, bias);
  }
  args.no_overlap(mean, x);
  args.no_overlap(rstd, x);
  args.no_overlap(mean, out);
  args.no_overlap(rstd, out);
  args.no_overlap(mean, rstd);
  job.run = [=] {
    merclip::cpu::layernorm_forward(out.data, mean.data, rstd.data, x.data, weight.data, bias.data,
                                    rows, dim, eps);
  };
}

void parse_layernorm_backward(Args& args, OpJob& job) {
  const int64_t rows = args.size("rows"), dim = args.size("dim");
  const uint64_t n = prod(rows, dim);
  const F32 dout = args.f32("dOut", n, "rows·dim");
  const F32 x = args.f32("x", n, "rows·dim");
  const F32 weight = args.f32_optional("weight", static_cast<uint64_t>(dim), "dim");
  const F32 mean = args.f32("mean", static_cast<uint64_t>(rows), "rows");
  const F32 rstd = args.f32("rstd", static_cast<uint64_t>(rows), "rows");
  const F32 dx = args.f32("dx", n, "rows·dim");
  const F32 dweight = args.f32_optional("dWeight", static_cast<uint64_t>(dim), "dim");
  const F32 dbias = args.f32_optional("dBias", static_cast<uint64_t>(dim), "dim");
  args.disjoint({&dx, &dweight, &dbias}, {&dout, &x, &weight, &mean, &rstd});
  job.run = [=] {
    merclip::cpu::layernorm_backward(dx.data, dweight.data, dbias.data, dout.data, x.data,
                                     weight.data, mean.data, rstd.data, rows, dim);
  };
}

}  // namespace

void register_layernorm(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "layernormForward", OpJob, parse_layernorm_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "layernormBackward", OpJob, parse_layernorm_backward);
}

}  // namespace merclip_binding
