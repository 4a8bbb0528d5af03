// native/binding/memory_attention.cc — memoryAttentionForward / memoryAttentionBackward and their
// …Async forms (the core's merclip/memory_attention.h names, camelCased). Layout: q [batch, rows,
// dim] padded queries, x [Σ lengths, dim] packed memory rows (keys = values), out [batch, rows,
// dim], lse [batch, rows]; the backward's dq / dx are overwritten, or added to when accumulate.
// Every argument is validated first (args.h); lengths are checked element by element and COPIED
// into the job, so a caller that mutates them while an async call runs cannot push the kernel out
// of bounds. entry<> (async_job.h) runs the core call on the JS thread (NAME) or on a libuv
// worker (NAME + "Async", a promise; the arrays stay pinned until it settles).
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/memory_attention.h"

namespace merclip_binding {

namespace {

uint64_t prod(std::initializer_list<int64_t> dims) {
  uint64_t p = 0;
  if (!checked_product(dims, &p)) p = ~uint64_t{0};  // no array can have this length
  return p;
}

// Read in this order (as lib/kernels/memoryAttention.ts does): batch, rows, dim, scale, lengths
// (checked element by element, summed to T and copied), accumulate (backward), then q, x, out,
// lse (, dOut, dq, dx).
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

void register_memory_attention(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "memoryAttentionForward", OpJob, parse_memory_forward);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "memoryAttentionBackward", OpJob, parse_memory_backward);
}

}  // namespace merclip_binding
