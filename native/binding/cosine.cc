// native/binding/cosine.cc — cosineForward / cosineBackward, cosinePairedForward / Backward,
// cosineTopk (merclip/cosine.h's names, camelCased), each with its …Async form. Validation
// first (args.h), then one core call in an OpJob.
#include <napi.h>

#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/cosine.h"

namespace merclip_binding {

namespace {

using Bound = Args::Bound;

uint64_t prod(std::initializer_list<int64_t> dims) {
  uint64_t p = 0;
  if (!checked_product(dims, &p)) p = ~uint64_t{0};  // no array can have this length
  return p;
}

// scale (finite) and eps (> 0), in that order.
void scale_eps(Args& args, float* scale, float* eps) {
  *scale = static_cast<float>(args.finite("scale"));
  *eps = static_cast<float>(args.number("eps", Bound::open, 0, Bound::none, 0));
}

merclip::CosineParams cosine_params(Args& args) {
  merclip::CosineParams p;
  p.n = args.size("n");
  p.c = args.size("c");
  p.dim = args.size("dim");
  scale_eps(args, &p.scale, &p.eps);
  return p;
}

void parse_cosine_forward(Args& args, OpJob& job) {
  const merclip::CosineParams p = cosine_params(args);
  const F32 x = args.f32("x", prod({p.n, p.dim}), "n·dim");
  const F32 e = args.f32("e", prod({p.c, p.dim}), "c·dim");
  const F32 out = args.f32("out", prod({p.n, p.c}), "n·c");
  args.no_overlap(out, x);
  args.no_overlap(out, e);
  job.run = [=] { merclip::cpu::cosine_forward(out.data, nullptr, nullptr, x.data, e.data, p); };
}

void parse_cosine_backward(Args& args, OpJob& job) {
  const merclip::CosineParams p = cosine_params(args);
  const F32 dout = args.f32("dOut", prod({p.n, p.c}), "n·c");
  const F32 out = args.f32("out", prod({p.n, p.c}), "n·c");
  const F32 x = args.f32("x", prod({p.n, p.dim}), "n·dim");
  const F32 e = args.f32("e", prod({p.c, p.dim}), "c·dim");
  const F32 dx = args.f32("dx", prod({p.n, p.dim}), "n·dim");
  const F32 de = args.f32("de", prod({p.c, p.dim}), "c·dim");
  args.disjoint({&dx, &de}, {&dout, &out, &x, &e});
  job.run = [=] {
    merclip::cpu::cosine_backward(dx.data, de.data, dout.data, out.data, x.data, e.data, nullptr,
                                  nullptr, p);
  };
}

merclip::CosinePairedParams paired_params(Args& args) {
  merclip::CosinePairedParams p;
  p.batch = args.size("batch");
  p.c = args.size("c");
  p.dim = args.size("dim");
  scale_eps(args, &p.scale, &p.eps);
  return p;
}

void parse_paired_forward(Args& args, OpJob& job) {
  const merclip::CosinePairedParams p = paired_params(args);
  const F32 h = args.f32("h", prod({p.batch, p.c, p.dim}), "batch·c·dim");
  const F32 e = args.f32("e", prod({p.c, p.dim}), "c·dim");
  const F32 out = args.f32("out", prod({p.batch, p.c}), "batch·c");
  args.no_overlap(out, h);
  args.no_overlap(out, e);
  job.run = [=] {
    merclip::cpu::cosine_paired_forward(out.data, nullptr, nullptr, h.data, e.data, p);
  };
}

void parse_paired_backward(Args& args, OpJob& job) {
  const merclip::CosinePairedParams p = paired_params(args);
  const F32 dout = args.f32("dOut", prod({p.batch, p.c}), "batch·c");
  const F32 out = args.f32("out", prod({p.batch, p.c}), "batch·c");
  const F32 h = args.f32("h", prod({p.batch, p.c, p.dim}), "batch·c·dim");
  const F32 e = args.f32("e", prod({p.c, p.dim}), "c·dim");
  const F32 dh = args.f32("dh", prod({p.batch, p.c, p.dim}), "batch·c·dim");
  const F32 de = args.f32("de", prod({p.c, p.dim}), "c·dim");
  args.disjoint({&dh, &de}, {&dout, &out, &h, &e});
  job.run = [=] {
    merclip::cpu::cosine_paired_backward(dh.data, de.data, dout.data, out.data, h.data, e.data,
                                         nullptr, nullptr, p);
  };
}

void parse_topk(Args& args, OpJob& job) {
  const merclip::CosineParams p = cosine_params(args);
  const int64_t k = args.integer("k", 1, p.c);
  const F32 x = args.f32("x", prod({p.n, p.dim}), "n·dim");
  const F32 e = args.f32("e", prod({p.c, p.dim}), "c·dim");
  const I32 indices = args.i32("indices", prod({p.n, k}), "n·k");
  const F32 scores = args.f32("scores", prod({p.n, k}), "n·k");
  for (const F32* i : {&x, &e}) {
    args.no_overlap(scores, *i);
    args.no_overlap(indices, *i);
  }
  args.no_overlap(indices, scores);
  job.run = [=] { merclip::cpu::cosine_topk(indices.data, scores.data, x.data, e.data, p, k); };
}

}  // namespace

void register_cosine(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "cosineForward", OpJob, parse_cosine_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "cosineBackward", OpJob, parse_cosine_backward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "cosinePairedForward", OpJob, parse_paired_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "cosinePairedBackward", OpJob, parse_paired_backward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "cosineTopk", OpJob, parse_topk);
}

}  // namespace merclip_binding
