// native/binding/ops.cc — layerNormForward/Backward, geluForward/Backward, softmax,
// softmaxBackward, softmaxCrossEntropyForward/Backward, adamwStep, permute0213, addScaled.
// Each op: a parse function validates every argument (args.h) and leaves the core call in an
// OpJob; entry<> (async_job.h) runs it on the JS thread (NAME) or on a libuv worker
// (NAME + "Async", a promise; the arrays stay pinned until it settles).
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "async_job.h"
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

merclip::GeluApprox gelu_approx(Args& args) {
  return static_cast<merclip::GeluApprox>(args.one_of("approximate", {"none", "tanh", "quick"}));
}

void parse_layer_norm_forward(Args& args, OpJob& job) {
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

void parse_layer_norm_backward(Args& args, OpJob& job) {
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

void parse_permute_0213(Args& args, OpJob& job) {
  const int64_t a = args.size("a"), b = args.size("b"), c = args.size("c"), d = args.size("d");
  uint64_t n = 0;
  if (!checked_product({a, b, c, d}, &n)) args.range_error("a·b·c·d to fit in memory", "an overflowing product");
  const F32 src = args.f32("src", n, "a·b·c·d");
  const F32 dst = args.f32("dst", n, "a·b·c·d");
  args.no_overlap(dst, src);
  job.run = [=] { merclip::cpu::permute_0213(dst.data, src.data, a, b, c, d); };
}

// unpackHeads / packHeads: batch, len, heads, headDim, lengths ([batch], each in [0, len],
// copied), then src and dst (packed [Σ lengths, heads·headDim] ↔ padded [batch, heads, len, headDim]).
void parse_packed_heads(Args& args, OpJob& job, bool unpack) {
  const int64_t batch = args.size("batch"), len = args.size("len");
  const int64_t heads = args.size("heads"), head_dim = args.size("headDim");
  const I32 lv = args.i32("lengths", static_cast<uint64_t>(batch), "batch");
  auto lengths = std::make_shared<std::vector<int32_t>>(lv.data, lv.data + lv.length);
  int64_t total = 0;
  for (size_t b = 0; b < lengths->size(); ++b) {
    const int32_t l = (*lengths)[b];
    if (l < 0 || l > len)
      args.range_error("lengths[" + std::to_string(b) + "] to be an integer in [0, " + std::to_string(len) + "]", std::to_string(l));
    total += l;
  }
  uint64_t np = 0, nd = 0;
  if (!checked_product({total, heads, head_dim}, &np) || !checked_product({batch, heads, len, head_dim}, &nd))
    args.range_error("batch·heads·len·headDim to fit in memory", "an overflowing product");
  const char* what_p = "Σ lengths·heads·headDim";
  const char* what_d = "batch·heads·len·headDim";
  const F32 src = unpack ? args.f32("src", np, what_p) : args.f32("src", nd, what_d);
  const F32 dst = unpack ? args.f32("dst", nd, what_d) : args.f32("dst", np, what_p);
  args.no_overlap(dst, src);
  job.run = [=] {
    if (unpack) merclip::cpu::unpack_heads(dst.data, src.data, lengths->data(), batch, len, heads, head_dim);
    else merclip::cpu::pack_heads(dst.data, src.data, lengths->data(), batch, len, heads, head_dim);
  };
}
void parse_unpack_heads(Args& args, OpJob& job) { parse_packed_heads(args, job, true); }
void parse_pack_heads(Args& args, OpJob& job) { parse_packed_heads(args, job, false); }

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

void register_ops(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "layerNormForward", OpJob, parse_layer_norm_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "layerNormBackward", OpJob, parse_layer_norm_backward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "geluForward", OpJob, parse_gelu_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "geluBackward", OpJob, parse_gelu_backward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "softmax", OpJob, parse_softmax_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "softmaxBackward", OpJob, parse_softmax_backward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "softmaxCrossEntropyForward", OpJob,
                              parse_xent_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "softmaxCrossEntropyBackward", OpJob,
                              parse_xent_backward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "adamwStep", OpJob, parse_adamw_step);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "permute0213", OpJob, parse_permute_0213);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "unpackHeads", OpJob, parse_unpack_heads);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "packHeads", OpJob, parse_pack_heads);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "addScaled", OpJob, parse_add_scaled);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "sumSquares", OpJob, parse_sum_squares);
}

}  // namespace merclip_binding
