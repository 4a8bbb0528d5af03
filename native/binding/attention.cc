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
#include "merclip/memory_attention.h"

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

// memoryAttentionForward / Backward: batch, rows, dim, scale, lengths (checked element by
// element, summed to T and copied), accumulate (backward), then q, x, out, lse (, dOut, dq, dx).
struct Memory {
  merclip::MemoryAttentionParams p;
  std::shared_ptr<std::vector<int32_t>> lengths;  // owns p.lengths
  uint64_t nq = 0, nx = 0;
  F32 q, x, out, lse;
};

Memory parse_memory(Args& args, bool backward) {
  Memory m;
  m.p.batch = args.size("batch");
  m.p.rows = args.size("rows");
  m.p.dim = args.size("dim");
  m.p.scale = static_cast<float>(args.finite("scale"));
  const I32 lv = args.i32("lengths", static_cast<uint64_t>(m.p.batch), "batch");
  m.lengths = std::make_shared<std::vector<int32_t>>(lv.data, lv.data + lv.length);
  int64_t total = 0;
  for (size_t b = 0; b < m.lengths->size(); ++b) {
    const int32_t len = (*m.lengths)[b];
    if (len < 0) args.range_error("lengths[" + std::to_string(b) + "] to be an integer in [0, 2147483647]", std::to_string(len));
    total += len;
  }
  m.p.total = total;
  m.p.lengths = m.lengths->data();
  m.p.accumulate = backward ? args.boolean("accumulate") : false;
  m.nq = prod({m.p.batch, m.p.rows, m.p.dim});
  m.nx = prod({total, m.p.dim});
  m.q = args.f32("q", m.nq, "batch·rows·dim");
  m.x = args.f32("x", m.nx, "Σ lengths·dim");
  m.out = args.f32("out", m.nq, "batch·rows·dim");
  m.lse = args.f32("lse", prod({m.p.batch, m.p.rows}), "batch·rows");
  return m;
}

void parse_memory_forward(Args& args, OpJob& job) {
  const Memory m = parse_memory(args, false);
  args.disjoint({&m.out, &m.lse}, {&m.q, &m.x});
  job.run = [m] { merclip::cpu::memory_attention_forward(m.out.data, m.lse.data, m.q.data, m.x.data, m.p); };
}

void parse_memory_backward(Args& args, OpJob& job) {
  const Memory m = parse_memory(args, true);
  const F32 dout = args.f32("dOut", m.nq, "batch·rows·dim");
  const F32 dq = args.f32("dq", m.nq, "batch·rows·dim");
  const F32 dx = args.f32("dx", m.nx, "Σ lengths·dim");
  args.disjoint({&dq, &dx}, {&m.q, &m.x, &m.out, &m.lse, &dout});
  job.run = [m, dout, dq, dx] {
    merclip::cpu::memory_attention_backward(dq.data, dx.data, dout.data, m.q.data, m.x.data,
                                            m.out.data, m.lse.data, m.p);
  };
}

}  // namespace

void register_attention(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "attentionForward", OpJob, parse_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "attentionBackward", OpJob, parse_backward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "memoryAttentionForward", OpJob, parse_memory_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "memoryAttentionBackward", OpJob, parse_memory_backward);
}

}  // namespace merclip_binding
