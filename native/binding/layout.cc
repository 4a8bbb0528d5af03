// native/binding/layout.cc — permute0213 and permute0213Async (the heads permute; the core's
// merclip/layout.h name, camelCased). A parse function validates every argument (args.h) and
// leaves the core call in an OpJob; entry<> (async_job.h) runs it on the JS thread (NAME) or on a libuv worker
// (NAME + "Async", a promise; the arrays stay pinned until it settles).
#include <napi.h>

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

}  // namespace

void register_layout(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "permute0213", OpJob, parse_permute_0213);
}

}  // namespace merclip_binding
