// native/binding/attention.cc — attentionForward / attentionBackward and their …Async forms.
// Validation first (args.h); keyLengths are checked element by element and COPIED into the job,
// so a caller that mutates the array while an async call runs cannot push the kernel out of
// bounds.
#include <napi.h>

#include <memory>
#include <vector>

#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/attention.h"

namespace merclip_binding {

namespace {

constexpr int64_t kMaxHeadDim = 256;

uint64_t prod(std::initializer_list<int64_t> dims) {
  uint64_t p = 0;
  if (!checked_product(dims, &p)) p = ~uint64_t{0};  // no array can have this length
  return p;
}

// Sizes, scale, causal and key lengths (copied into *lengths); fills p (key_lengths → *lengths).
void attention_params(Args& args, merclip::AttentionParams* p,
                      std::shared_ptr<std::vector<int32_t>>* lengths) {
  p->batch = args.size("batch");
  p->heads = args.size("heads");
  p->lq = args.size("lq");
  p->lk = args.size("lk");
  p->head_dim = args.integer("headDim", 1, kMaxHeadDim);
  p->scale = static_cast<float>(args.finite("scale"));
  p->causal = args.boolean("causal");
  lengths->reset();
  p->key_lengths = nullptr;
  const I32 view = args.i32_optional("keyLengths", static_cast<uint64_t>(p->batch), "batch");
  if (view.data == nullptr) return;
  auto copy = std::make_shared<std::vector<int32_t>>(view.data, view.data + view.length);
  for (size_t b = 0; b < copy->size(); ++b) {
    const int32_t len = (*copy)[b];
    if (len < 0 || len > p->lk)
      args.range_error("keyLengths[" + std::to_string(b) + "] to be an integer in [0, " +
                           std::to_string(p->lk) + "]",
                       std::to_string(len));
  }
  *lengths = copy;
  p->key_lengths = copy->data();
}

void parse_forward(Args& args, OpJob& job) {
  merclip::AttentionParams p;
  std::shared_ptr<std::vector<int32_t>> lengths;
  attention_params(args, &p, &lengths);
  const uint64_t nq = prod({p.batch, p.heads, p.lq, p.head_dim});
  const uint64_t nk = prod({p.batch, p.heads, p.lk, p.head_dim});
  const F32 q = args.f32("q", nq, "batch·heads·lq·headDim");
  const F32 k = args.f32("k", nk, "batch·heads·lk·headDim");
  const F32 v = args.f32("v", nk, "batch·heads·lk·headDim");
  const F32 out = args.f32("out", nq, "batch·heads·lq·headDim");
  const F32 lse = args.f32("lse", prod({p.batch, p.heads, p.lq}), "batch·heads·lq");
  for (const F32* o : {&out, &lse})
    for (const F32* i : {&q, &k, &v}) args.no_overlap(*o, *i);
  args.no_overlap(out, lse);
  job.run = [=] {
    (void)lengths;  // owns p.key_lengths
    merclip::cpu::attention_forward(out.data, lse.data, q.data, k.data, v.data, p);
  };
}

void parse_backward(Args& args, OpJob& job) {
  merclip::AttentionParams p;
  std::shared_ptr<std::vector<int32_t>> lengths;
  attention_params(args, &p, &lengths);
  const uint64_t nq = prod({p.batch, p.heads, p.lq, p.head_dim});
  const uint64_t nk = prod({p.batch, p.heads, p.lk, p.head_dim});
  const F32 q = args.f32("q", nq, "batch·heads·lq·headDim");
  const F32 k = args.f32("k", nk, "batch·heads·lk·headDim");
  const F32 v = args.f32("v", nk, "batch·heads·lk·headDim");
  const F32 out = args.f32("out", nq, "batch·heads·lq·headDim");
  const F32 lse = args.f32("lse", prod({p.batch, p.heads, p.lq}), "batch·heads·lq");
  const F32 dout = args.f32("dOut", nq, "batch·heads·lq·headDim");
  const F32 dq = args.f32("dq", nq, "batch·heads·lq·headDim");
  const F32 dk = args.f32("dk", nk, "batch·heads·lk·headDim");
  const F32 dv = args.f32("dv", nk, "batch·heads·lk·headDim");
  for (const F32* o : {&dq, &dk, &dv})
    for (const F32* i : {&q, &k, &v, &out, &lse, &dout}) args.no_overlap(*o, *i);
  args.no_overlap(dq, dk);
  args.no_overlap(dq, dv);
  args.no_overlap(dk, dv);
  job.run = [=] {
    (void)lengths;  // owns p.key_lengths
    merclip::cpu::attention_backward(dq.data, dk.data, dv.data, dout.data, q.data, k.data, v.data,
                                     out.data, lse.data, p);
  };
}

}  // namespace

void register_attention(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "attentionForward", OpJob, parse_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "attentionBackward", OpJob, parse_backward);
}

}  // namespace merclip_binding
