// native/binding/gemm.cc — gemm, gemmAsync, gemmBatched, gemmBatchedAsync, biasGrad.
#include <napi.h>

#include "args.h"
#include "async_job.h"
#include "bindings.h"
#include "merclip/gemm.h"

namespace merclip_binding {

namespace {

struct GemmJob {
  float* c = nullptr;
  const float* a = nullptr;
  const float* b = nullptr;
  const float* bias = nullptr;
  merclip::GemmParams p;
  merclip::GemmBatch batch;
  bool batched = false;

  void execute() {
    if (batched) merclip::cpu::gemm_batched(c, a, b, bias, p, batch);
    else merclip::cpu::gemm(c, a, b, bias, p);
  }
  Napi::Value result(Napi::Env env) { return env.Undefined(); }
};

// Reads and validates every gemm / gemmBatched argument; fills `job`.
GemmJob parse_gemm(Args& args, bool batched) {
  GemmJob job;
  job.batched = batched;
  merclip::GemmParams& p = job.p;
  const int64_t batch = batched ? args.size("batch") : 1;
  p.m = args.size("m");
  p.n = args.size("n");
  p.k = args.size("k");
  p.trans_a = args.boolean("transA");
  p.trans_b = args.boolean("transB");
  p.alpha = static_cast<float>(args.finite("alpha"));
  p.beta = static_cast<float>(args.finite("beta"));
  uint64_t mk, kn, mn;
  checked_product({p.m, p.k}, &mk);  // each < 2^62: sizes are < 2^31
  checked_product({p.k, p.n}, &kn);
  checked_product({p.m, p.n}, &mn);
  F32 a, b, c;
  if (!batched) {
    a = args.f32("a", mk, "m·k");
    b = args.f32("b", kn, "k·n");
    c = args.f32("c", mn, "m·n");
  } else {
    const int64_t sa = args.integer("strideA", 0, int64_t{1} << 53);
    const int64_t sb = args.integer("strideB", 0, int64_t{1} << 53);
    const int64_t sc = args.integer("strideC", 0, int64_t{1} << 53);
    if (batch > 1 && static_cast<uint64_t>(sc) < mn)
      args.range_error("strideC to be at least m·n = " + std::to_string(mn) +
                           " (batch outputs must not overlap)",
                       std::to_string(sc));
    // Required lengths (batch − 1)·stride + size, overflow-checked.
    auto need = [&](int64_t stride, uint64_t size, uint64_t* out) {
      uint64_t span;
      return checked_product({batch - 1, stride}, &span) &&
             !__builtin_add_overflow(span, size, out);
    };
    uint64_t na, nb, nc;
    if (!need(sa, mk, &na)) args.range_error("(batch−1)·strideA + m·k to fit in memory", "an overflow");
    if (!need(sb, kn, &nb)) args.range_error("(batch−1)·strideB + k·n to fit in memory", "an overflow");
    if (!need(sc, mn, &nc)) args.range_error("(batch−1)·strideC + m·n to fit in memory", "an overflow");
    a = args.f32_at_least("a", na, "(batch−1)·strideA + m·k");
    b = args.f32_at_least("b", nb, "(batch−1)·strideB + k·n");
    c = args.f32_at_least("c", nc, "(batch−1)·strideC + m·n");
    job.batch.batch = batch;
    job.batch.stride_a = sa;
    job.batch.stride_b = sb;
    job.batch.stride_c = sc;
  }
  const F32 bias = args.f32_optional("bias", static_cast<uint64_t>(p.n), "n");
  args.no_overlap(c, a);
  args.no_overlap(c, b);
  args.no_overlap(c, bias);
  job.a = a.data;
  job.b = b.data;
  job.c = c.data;
  job.bias = bias.data;
  return job;
}

void parse_gemm_single(Args& args, GemmJob& job) { job = parse_gemm(args, false); }
void parse_gemm_batched(Args& args, GemmJob& job) { job = parse_gemm(args, true); }

Napi::Value bias_grad(const Napi::CallbackInfo& info) {
  Args args(info, "biasGrad");
  const int64_t m = args.size("m"), n = args.size("n");
  uint64_t mn;
  checked_product({m, n}, &mn);
  const F32 dy = args.f32("dy", mn, "m·n");
  const F32 dbias = args.f32("dBias", static_cast<uint64_t>(n), "n");
  args.no_overlap(dbias, dy);
  try {
    merclip::cpu::bias_grad(dbias.data, dy.data, m, n);
  } catch (...) {
    rethrow_core_error(info.Env(), "biasGrad");
  }
  return info.Env().Undefined();
}

}  // namespace

void register_gemm(Napi::Env env, Napi::Object exports) {
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "gemm", GemmJob, parse_gemm_single);
  MERCLIP_REGISTER_SYNC_ASYNC(env, exports, "gemmBatched", GemmJob, parse_gemm_batched);
  exports.Set("biasGrad", Napi::Function::New(env, bias_grad, "biasGrad"));
}

}  // namespace merclip_binding
