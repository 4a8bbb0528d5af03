// native/binding/attention.cc — attentionForward / attentionBackward and their …Async forms
// (memory attention: memory_attention.cc).
// Validation first (args.h). Packed layout (merclip/attention.h): q [Tq, ·], k, v [Tk, ·] with
// per-sample offsets cuSeqlensQ / cuSeqlensK [batch + 1], Tq = cuSeqlensQ[batch]; out, dOut,
// dq [Tq, heads·headDim]; dk, dv [Tk, heads·headDim]; lse [heads, Tq]. The offsets are checked
// element by element (cu[0] = 0, cu[b] <= cu[b+1] <= cu[b] + maxSeqlen, maxSeqlen <= T) and
// COPIED into the job, so a caller that mutates the arrays while an async call runs cannot push
// the kernel out of bounds. Rows of q / k / v are qStride / kStride / vStride floats apart
// (default heads·headDim); a dense input has exactly T·heads·headDim floats, a strided one at
// least (T − 1)·stride + heads·headDim (a fused [T, 3d] projection's subarray qualifies); every
// other array exactly its size.
#include <napi.h>

#include <memory>
#include <string>
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

// Floats a strided [rows, ·] input needs: (rows − 1)·stride + width (0 rows: 0).
uint64_t strided(int64_t rows, int64_t stride, int64_t width) {
  if (rows == 0) return 0;
  const uint64_t a = prod({rows - 1, stride});
  const uint64_t w = static_cast<uint64_t>(width);
  return a > ~uint64_t{0} - w ? ~uint64_t{0} : a + w;
}

// One offsets array: [batch + 1] with cu[0] = 0 and cu[b] <= cu[b+1] <= cu[b] + max_len, then
// max_len <= cu[batch] (= T, returned). Copied into *copy.
int64_t offsets(Args& args, const char* name, const char* max_name, int64_t batch, int64_t max_len,
                std::vector<int32_t>* copy) {
  const I32 cu = args.i32(name, static_cast<uint64_t>(batch) + 1, "batch + 1");
  copy->assign(cu.data, cu.data + cu.length);
  const std::vector<int32_t>& c = *copy;
  if (c[0] != 0) args.range_error(std::string(name) + "[0] to be an integer in [0, 0]", std::to_string(c[0]));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t lo = c[static_cast<size_t>(b)];
    const int64_t hi = std::min<int64_t>(lo + max_len, kMaxDim);
    const int64_t x = c[static_cast<size_t>(b + 1)];
    if (x < lo || x > hi)
      args.range_error(std::string(name) + "[" + std::to_string(b + 1) + "] to be an integer in [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "]",
                       std::to_string(x));
  }
  const int64_t total = c.back();
  if (max_len > total)
    args.range_error(std::string(max_name) + " to be an integer in [0, " + std::to_string(total) +
                         "] (the total length)",
                     std::to_string(max_len));
  return total;
}

// Sizes, offsets (copied into *cu: q's then k's), strides, scale, causal; fills p.
void attention_params(Args& args, merclip::AttentionParams* p,
                      std::shared_ptr<std::vector<int32_t>>* cu) {
  p->batch = args.size("batch");
  p->heads = args.size("heads");
  p->head_dim = args.integer("headDim", 1, kMaxHeadDim);
  p->max_seqlen_q = args.integer("maxSeqlenQ", 0, kMaxDim);
  p->max_seqlen_k = args.integer("maxSeqlenK", 0, kMaxDim);
  std::vector<int32_t> cq, ck;
  p->total_q = offsets(args, "cuSeqlensQ", "maxSeqlenQ", p->batch, p->max_seqlen_q, &cq);
  p->total_k = offsets(args, "cuSeqlensK", "maxSeqlenK", p->batch, p->max_seqlen_k, &ck);
  const int64_t width = p->heads * p->head_dim;  // <= 2^31 · 256: no overflow
  p->q_stride = args.integer_or("qStride", width, kMaxDim, width);
  p->k_stride = args.integer_or("kStride", width, kMaxDim, width);
  p->v_stride = args.integer_or("vStride", width, kMaxDim, width);
  p->scale = static_cast<float>(args.finite("scale"));
  p->causal = args.boolean("causal");
  auto copy = std::make_shared<std::vector<int32_t>>(std::move(cq));
  copy->insert(copy->end(), ck.begin(), ck.end());
  *cu = copy;
  p->cu_seqlens_q = copy->data();
  p->cu_seqlens_k = copy->data() + p->batch + 1;
}

constexpr const char* kWhatO = "Tq·heads·headDim";
constexpr const char* kWhatK = "Tk·heads·headDim";

// What forward and backward share: parameters, offsets (owned copy), q, k, v, out, lse — read
// in this order, as lib/kernels/attention.ts does.
struct Common {
  merclip::AttentionParams p;
  std::shared_ptr<std::vector<int32_t>> cu;  // owns p.cu_seqlens_q and p.cu_seqlens_k
  uint64_t no = 0, nk = 0;
  F32 q, k, v, out, lse;
};

Common parse_common(Args& args) {
  Common c;
  attention_params(args, &c.p, &c.cu);
  const int64_t width = c.p.heads * c.p.head_dim;
  c.no = prod({c.p.total_q, width});
  c.nk = prod({c.p.total_k, width});
  // dense rows (stride heads·headDim): exactly T rows; strided: at least up to the last row's
  // heads (a view into a wider projection may run on past them)
  auto input = [&](const char* name, int64_t rows, int64_t stride, const char* what) {
    const uint64_t n = strided(rows, stride, width);
    return stride == width ? args.f32(name, n, what) : args.f32_at_least(name, n, what);
  };
  c.q = input("q", c.p.total_q, c.p.q_stride, "(Tq − 1)·qStride + heads·headDim");
  c.k = input("k", c.p.total_k, c.p.k_stride, "(Tk − 1)·kStride + heads·headDim");
  c.v = input("v", c.p.total_k, c.p.v_stride, "(Tk − 1)·vStride + heads·headDim");
  c.out = args.f32("out", c.no, kWhatO);
  c.lse = args.f32("lse", prod({c.p.heads, c.p.total_q}), "heads·Tq");
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
  const F32 dout = args.f32("dOut", c.no, kWhatO);
  const F32 dq = args.f32("dq", c.no, kWhatO);
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
