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

// Sizes, scale, causal, key and query lengths (copied into *lengths); fills p (the length
// pointers point into *lengths).
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
  p->query_lengths = nullptr;
  const uint64_t nb = static_cast<uint64_t>(p->batch);
  const I32 kv = args.i32_optional("keyLengths", nb, "batch");
  auto copy = std::make_shared<std::vector<int32_t>>();
  auto take = [&](const I32& view, const char* name, int64_t hi) {
    for (size_t b = 0; b < view.length; ++b) {
      const int32_t len = view.data[b];
      if (len < 0 || len > hi)
        args.range_error(std::string(name) + "[" + std::to_string(b) + "] to be an integer in [0, " +
                             std::to_string(hi) + "]",
                         std::to_string(len));
      copy->push_back(len);
    }
  };
  if (kv.data != nullptr) take(kv, "keyLengths", p->lk);
  const I32 qv = args.i32_optional("queryLengths", nb, "batch");
  if (qv.data != nullptr) take(qv, "queryLengths", p->lq);
  if (copy->empty()) return;
  *lengths = copy;
  if (kv.data != nullptr) p->key_lengths = copy->data();
  if (qv.data != nullptr) p->query_lengths = copy->data() + (kv.data != nullptr ? nb : 0);
}

constexpr const char* kWhatQ = "batch·heads·lq·headDim";
constexpr const char* kWhatK = "batch·heads·lk·headDim";

// What forward and backward share: parameters, key lengths (owned copy), q, k, v, out, lse —
// read in this order, as lib/kernels/attention.ts does.
struct Common {
  merclip::AttentionParams p;
  std::shared_ptr<std::vector<int32_t>> lengths;  // owns p.key_lengths and p.query_lengths
  uint64_t nq = 0, nk = 0;
  F32 q, k, v, out, lse;
};

Common parse_common(Args& args) {
  Common c;
  attention_params(args, &c.p, &c.lengths);
  c.nq = prod({c.p.batch, c.p.heads, c.p.lq, c.p.head_dim});
  c.nk = prod({c.p.batch, c.p.heads, c.p.lk, c.p.head_dim});
  c.q = args.f32("q", c.nq, kWhatQ);
  c.k = args.f32("k", c.nk, kWhatK);
  c.v = args.f32("v", c.nk, kWhatK);
  c.out = args.f32("out", c.nq, kWhatQ);
  c.lse = args.f32("lse", prod({c.p.batch, c.p.heads, c.p.lq}), "batch·heads·lq");
  return c;
}

void parse_forward(Args& args, OpJob& job) {
  const Common c = parse_common(args);
  args.disjoint({&c.out, &c.lse}, {&c.q, &c.k, &c.v});
  job.run = [c] {
    merclip::cpu::attention_forward(c.out.data, c.lse.data, c.q.data, c.k.data, c.v.data, c.p);
  };
}

void parse_backward(Args& args, OpJob& job) {
  const Common c = parse_common(args);
  const F32 dout = args.f32("dOut", c.nq, kWhatQ);
  const F32 dq = args.f32("dq", c.nq, kWhatQ);
  const F32 dk = args.f32("dk", c.nk, kWhatK);
  const F32 dv = args.f32("dv", c.nk, kWhatK);
  args.disjoint({&dq, &dk, &dv}, {&c.q, &c.k, &c.v, &c.out, &c.lse, &dout});
  job.run = [c, dout, dq, dk, dv] {
    merclip::cpu::attention_backward(dq.data, dk.data, dv.data, dout.data, c.q.data, c.k.data,
                                     c.v.data, c.out.data, c.lse.data, c.p);
  };
}

}  // namespace

void register_attention(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "attentionForward", OpJob, parse_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "attentionBackward", OpJob, parse_backward);
}

}  // namespace merclip_binding
