// native/binding/layout.cc — permute0213, unpackHeads, packHeads, each with its …Async form (the
// heads permute and the packed ↔ padded heads gathers; the core's merclip/layout.h names,
// camelCased). Each op: a parse function validates every argument (args.h) and leaves the core
// call in an OpJob; entry<> (async_job.h) runs it on the JS thread (NAME) or on a libuv worker
// (NAME + "Async", a promise; the arrays stay pinned until it settles).
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/layout.h"

namespace merclip_binding {

namespace {

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
// copied), then src and dst (packed [Σ lengths, heads·headDim] ↔ padded [batch, heads, len,
// headDim]).
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

}  // namespace

void register_layout(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "permute0213", OpJob, parse_permute_0213);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "unpackHeads", OpJob, parse_unpack_heads);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "packHeads", OpJob, parse_pack_heads);
}

}  // namespace merclip_binding
