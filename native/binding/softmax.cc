// native/binding/softmax.cc — softmaxForward, softmaxBackward, softmaxXentForward,
// softmaxXentBackward, each with its …Async form (row softmax and softmax cross-entropy; the
// core's merclip/softmax.h names, camelCased). Each op: a parse function validates every argument
// (args.h) and leaves the core call in an OpJob; entry<> (async_job.h) runs it on the JS thread
// (NAME) or on a libuv worker (NAME + "Async", a promise; the arrays stay pinned until it
// settles).
#include <napi.h>

#include <memory>
#include <string>

#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/softmax.h"

namespace merclip_binding {

namespace {

uint64_t prod(int64_t a, int64_t b) {
  uint64_t p = 0;
  checked_product({a, b}, &p);  // sizes are < 2^31: never overflows
  return p;
}

void parse_softmax_forward(Args& args, OpJob& job) {
  const int64_t rows = args.size("rows"), cols = args.size("cols");
  const uint64_t n = prod(rows, cols);
  const F32 x = args.f32("x", n, "rows·cols");
  const F32 out = args.f32("out", n, "rows·cols");
  args.no_overlap(out, x, true);
  job.run = [=] { merclip::cpu::softmax_forward(out.data, x.data, rows, cols); };
}

void parse_softmax_backward(Args& args, OpJob& job) {
  const int64_t rows = args.size("rows"), cols = args.size("cols");
  const uint64_t n = prod(rows, cols);
  const F32 dout = args.f32("dOut", n, "rows·cols");
  const F32 out = args.f32("out", n, "rows·cols");
  const F32 dx = args.f32("dx", n, "rows·cols");
  args.no_overlap(dx, dout, true);
  args.no_overlap(dx, out);
  job.run = [=] {
    merclip::cpu::softmax_backward(dx.data, dout.data, out.data, rows, cols);
  };
}

// targets[r] must be in [0, cols): checked element by element (the data is read here, on the
// JS thread, before the kernel runs).
void check_targets(Args& args, const I32& targets, int64_t cols) {
  for (size_t r = 0; r < targets.length; ++r) {
    const int32_t t = targets.data[r];
    if (t < 0 || t >= cols)
      args.range_error("targets[" + std::to_string(r) + "] to be an integer in [0, " +
                           std::to_string(cols - 1) + "]",
                       std::to_string(t));
  }
}

void parse_xent_forward(Args& args, OpJob& job) {
  const int64_t rows = args.size("rows"), cols = args.size("cols");
  const F32 logits = args.f32("logits", prod(rows, cols), "rows·cols");
  const I32 targets = args.i32("targets", static_cast<uint64_t>(rows), "rows");
  const F32 lse = args.f32("lse", static_cast<uint64_t>(rows), "rows");
  args.no_overlap(lse, logits);
  args.no_overlap(lse, targets);
  check_targets(args, targets, cols);
  job.scalar = std::make_shared<float>(0.0f);
  float* loss = job.scalar.get();
  job.run = [=] {
    merclip::cpu::softmax_xent_forward(loss, lse.data, logits.data, targets.data, rows, cols);
  };
}

void parse_xent_backward(Args& args, OpJob& job) {
  const int64_t rows = args.size("rows"), cols = args.size("cols");
  const uint64_t n = prod(rows, cols);
  const F32 logits = args.f32("logits", n, "rows·cols");
  const F32 lse = args.f32("lse", static_cast<uint64_t>(rows), "rows");
  const I32 targets = args.i32("targets", static_cast<uint64_t>(rows), "rows");
  const float dloss = static_cast<float>(args.finite("dLoss"));
  const F32 dlogits = args.f32("dLogits", n, "rows·cols");
  args.no_overlap(dlogits, logits);
  args.no_overlap(dlogits, lse);
  args.no_overlap(dlogits, targets);
  check_targets(args, targets, cols);
  job.run = [=] {
    merclip::cpu::softmax_xent_backward(dlogits.data, logits.data, lse.data, targets.data, dloss,
                                        rows, cols);
  };
}

}  // namespace

void register_softmax(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "softmaxForward", OpJob, parse_softmax_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "softmaxBackward", OpJob, parse_softmax_backward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "softmaxXentForward", OpJob, parse_xent_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "softmaxXentBackward", OpJob, parse_xent_backward);
}

}  // namespace merclip_binding
