// native/binding/ops.cc — layerNormForward/Backward, geluForward/Backward, softmax,
// softmaxBackward, softmaxCrossEntropyForward/Backward, adamwStep.
// Each entry: validate every argument (args.h), then one core call inside rethrow_core_error.
#include <napi.h>

#include "args.h"
#include "bindings.h"
#include "merclip/ops.h"

namespace merclip_binding {

namespace {

using Bound = Args::Bound;

uint64_t prod(int64_t a, int64_t b) {
  uint64_t p = 0;
  checked_product({a, b}, &p);  // sizes are < 2^31: never overflows
  return p;
}

template <class F>
void call_core(Napi::Env env, const char* fn, F&& body) {
  try {
    body();
  } catch (...) {
    rethrow_core_error(env, fn);
  }
}

merclip::GeluApprox gelu_approx(Args& args) {
  return static_cast<merclip::GeluApprox>(args.one_of("approximate", {"none", "tanh", "quick"}));
}

Napi::Value layer_norm_forward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormForward");
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
  call_core(info.Env(), args.fn(), [&] {
    merclip::cpu::layernorm_forward(out.data, mean.data, rstd.data, x.data, weight.data, bias.data,
                                    rows, dim, eps);
  });
  return info.Env().Undefined();
}

Napi::Value layer_norm_backward(const Napi::CallbackInfo& info) {
  Args args(info, "layerNormBackward");
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
  for (const F32* o : {&dx, &dweight, &dbias}) {
    for (const F32* i : {&dout, &x, &weight, &mean, &rstd}) args.no_overlap(*o, *i);
  }
  args.no_overlap(dx, dweight);
  args.no_overlap(dx, dbias);
  args.no_overlap(dweight, dbias);
  call_core(info.Env(), args.fn(), [&] {
    merclip::cpu::layernorm_backward(dx.data, dweight.data, dbias.data, dout.data, x.data,
                                     weight.data, mean.data, rstd.data, rows, dim);
  });
  return info.Env().Undefined();
}

Napi::Value gelu_forward(const Napi::CallbackInfo& info) {
  Args args(info, "geluForward");
  const F32 x = args.f32_any("x");
  const merclip::GeluApprox approx = gelu_approx(args);
  const F32 out = args.f32("out", x.length, "x.length");
  args.no_overlap(out, x, true);
  call_core(info.Env(), args.fn(), [&] {
    merclip::cpu::gelu_forward(out.data, x.data, static_cast<int64_t>(x.length), approx);
  });
  return info.Env().Undefined();
}

Napi::Value gelu_backward(const Napi::CallbackInfo& info) {
  Args args(info, "geluBackward");
  const F32 x = args.f32_any("x");
  const F32 dout = args.f32("dOut", x.length, "x.length");
  const merclip::GeluApprox approx = gelu_approx(args);
  const F32 dx = args.f32("dx", x.length, "x.length");
  args.no_overlap(dx, dout, true);
  args.no_overlap(dx, x);
  call_core(info.Env(), args.fn(), [&] {
    merclip::cpu::gelu_backward(dx.data, dout.data, x.data, static_cast<int64_t>(x.length), approx);
  });
  return info.Env().Undefined();
}

Napi::Value softmax_forward(const Napi::CallbackInfo& info) {
  Args args(info, "softmax");
  const int64_t rows = args.size("rows"), cols = args.size("cols");
  const uint64_t n = prod(rows, cols);
  const F32 x = args.f32("x", n, "rows·cols");
  const F32 out = args.f32("out", n, "rows·cols");
  args.no_overlap(out, x, true);
  call_core(info.Env(), args.fn(),
            [&] { merclip::cpu::softmax_forward(out.data, x.data, rows, cols); });
  return info.Env().Undefined();
}

Napi::Value softmax_backward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxBackward");
  const int64_t rows = args.size("rows"), cols = args.size("cols");
  const uint64_t n = prod(rows, cols);
  const F32 dout = args.f32("dOut", n, "rows·cols");
  const F32 out = args.f32("out", n, "rows·cols");
  const F32 dx = args.f32("dx", n, "rows·cols");
  args.no_overlap(dx, dout, true);
  args.no_overlap(dx, out);
  call_core(info.Env(), args.fn(), [&] {
    merclip::cpu::softmax_backward(dx.data, dout.data, out.data, rows, cols);
  });
  return info.Env().Undefined();
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

Napi::Value xent_forward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxCrossEntropyForward");
  const int64_t rows = args.size("rows"), cols = args.size("cols");
  const F32 logits = args.f32("logits", prod(rows, cols), "rows·cols");
  const I32 targets = args.i32("targets", static_cast<uint64_t>(rows), "rows");
  const F32 lse = args.f32("lse", static_cast<uint64_t>(rows), "rows");
  args.no_overlap(lse, logits);
  args.no_overlap(lse, targets);
  check_targets(args, targets, cols);
  float loss = 0.0f;
  call_core(info.Env(), args.fn(), [&] {
    merclip::cpu::softmax_xent_forward(&loss, lse.data, logits.data, targets.data, rows, cols);
  });
  return Napi::Number::New(info.Env(), loss);
}

Napi::Value xent_backward(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxCrossEntropyBackward");
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
  call_core(info.Env(), args.fn(), [&] {
    merclip::cpu::softmax_xent_backward(dlogits.data, logits.data, lse.data, targets.data, dloss,
                                        rows, cols);
  });
  return info.Env().Undefined();
}

Napi::Value adamw_step(const Napi::CallbackInfo& info) {
  Args args(info, "adamwStep");
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
  call_core(info.Env(), args.fn(), [&] {
    merclip::cpu::adamw_step(param.data, m.data, v.data, grad.data, static_cast<int64_t>(n), p);
  });
  return info.Env().Undefined();
}

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNormForward", Napi::Function::New(env, layer_norm_forward, "layerNormForward"));
  exports.Set("layerNormBackward",
              Napi::Function::New(env, layer_norm_backward, "layerNormBackward"));
  exports.Set("geluForward", Napi::Function::New(env, gelu_forward, "geluForward"));
  exports.Set("geluBackward", Napi::Function::New(env, gelu_backward, "geluBackward"));
  exports.Set("softmax", Napi::Function::New(env, softmax_forward, "softmax"));
  exports.Set("softmaxBackward", Napi::Function::New(env, softmax_backward, "softmaxBackward"));
  exports.Set("softmaxCrossEntropyForward",
              Napi::Function::New(env, xent_forward, "softmaxCrossEntropyForward"));
  exports.Set("softmaxCrossEntropyBackward",
              Napi::Function::New(env, xent_backward, "softmaxCrossEntropyBackward"));
  exports.Set("adamwStep", Napi::Function::New(env, adamw_step, "adamwStep"));
}

}  // namespace merclip_binding
