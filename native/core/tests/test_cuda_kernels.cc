// native/core/tests/test_cuda_kernels.cc — merclip::cuda attention and cosine kernels vs
// merclip::cpu (merclip/cuda_kernels.h), in every build:
// - no CUDA device (or a build without CUDA): prints that the comparisons were SKIPPED because
//   no device exists, and checks that every entry point (device_malloc and each kernel) throws
//   merclip::Error{cuda} — a clean error, never a crash;
// - with a device (the GPU box): random seeded inputs, CUDA vs CPU.
//   Attention (forward + backward): head dims 1, 6, 64, 100, 256 (and 32, 128, 200), Lq ≠ Lk,
//   Lq = 1, the decoder's Lq = 7 × Lk = 500, causal, key padding with one batch at length 0
//   (fully masked rows: out 0, lse +inf, zero gradients), query padding, causal + padding; a NaN
//   query / key (NaN rows where the CPU has them).
//   Cosine: plain and paired, forward and backward, with and without saved norms, a zero row
//   (gradients compared row by row: the zero row's gradient is ~1/eps times the others).
// Tolerances (fp32 vs fp32): out, lse and cosine outputs |cuda − cpu| <= 1e-5·max|cpu| of the
// tensor (lse also +1e-5·|cpu|; +inf / NaN must match exactly); attention gradients
// 1e-5·max|cpu| plus, for dq / dk, 1e-6·max|dout|·max|v|·max|k (or q) — the size of the terms
// that cancel in dS = P ∘ (dP − D), as in test_attention.cc; cosine gradients 1e-5·max|cpu|.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "merclip/attention.h"
#include "merclip/cosine.h"
#include "merclip/cuda.h"
#include "merclip/cuda_kernels.h"
#include "merclip/error.h"
#include "test_util.h"

using merclip::AttentionParams;
using merclip::CosineParams;
using merclip::CosinePairedParams;
using merclip_test::Buffer;
using merclip_test::max_finite_abs;
using merclip_test::compare;
using merclip_test::fmt;
using merclip_test::Rng;
namespace mcuda = merclip::cuda;

namespace {

// Row by row: |got − want| <= 1e-5·max|want row| + 1e-6·bound[row], where bound[row] bounds the
// size of the terms that cancel in that gradient row (a row per tensor-wide scale would let a
// clamped zero vector's row, ~1/eps larger, hide the others; and dim 1 has gradient 0 exactly,
// so the fp32 results there are pure rounding noise of that size).
void compare_rows(const std::string& what, const Buffer& got, const Buffer& want, int64_t rows,
                  int64_t cols, const std::vector<double>& bound) {
  for (int64_t r = 0; r < rows; ++r) {
    const double m = max_finite_abs(want.data() + r * cols, cols);
    if (!compare(fmt("%s row %lld", what.c_str(), (long long)r), got.data() + r * cols,
                 want.data() + r * cols, cols, 0.0, 1e-5 * m + 1e-6 * bound[r] + 1e-30))
      return;  // one failing row is reported; the rest would repeat it
  }
}

// Σ_k |g(r,k)| · w_k · max|v_k| over k for each r (g(r,k) = g[r·gr + k·gk]): the cancellation
// bound of a cosine gradient row.
std::vector<double> grad_bound(const float* g, int64_t gr, int64_t gk, int64_t rows, int64_t K,
                               const float* w, const float* v, int64_t dim, double scale,
                               const float* self_r) {
  std::vector<double> out(static_cast<size_t>(rows), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0.0;
    for (int64_t k = 0; k < K; ++k)
      s += std::fabs(g[r * gr + k * gk]) * w[k] * max_finite_abs(v + k * dim, dim);
    out[r] = std::fabs(scale) * self_r[r] * s;
  }
  return out;
}

// A device array of T, freed on scope exit.
template <class T>
struct Dev {
  T* p = nullptr;
  int64_t n = 0;
  explicit Dev(int64_t count) : n(count) {
    p = static_cast<T*>(mcuda::device_malloc(static_cast<size_t>(count) * sizeof(T)));
  }
  Dev(const T* host, int64_t count) : Dev(count) { upload(host); }
  ~Dev() { mcuda::device_free(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void upload(const T* host) { mcuda::copy_to_device(p, host, static_cast<size_t>(n) * sizeof(T)); }
  void download(T* host) const { mcuda::copy_to_host(host, p, static_cast<size_t>(n) * sizeof(T)); }
};

// NaN-filled device output (a forgotten element shows up as NaN).
Dev<float>* nan_dev(int64_t n) {
  std::vector<float> h(static_cast<size_t>(n > 0 ? n : 1), std::numeric_limits<float>::quiet_NaN());
  auto* d = new Dev<float>(n > 0 ? n : 1);
  d->upload(h.data());
  return d;
}

Buffer download(const Dev<float>& d, int64_t n) {
  Buffer b(n);
  if (n > 0) mcuda::copy_to_host(b.data(), d.p, static_cast<size_t>(n) * sizeof(float));
  return b;
}

// ---------------------------------------------------------------------------------------------
// Attention

struct AttnCase {
  int64_t B, H, lq, lk, dh;
  bool causal;
  bool key_ragged;    // key lengths: sample 0 → 0 (no keys), last → lk, others random
  bool query_ragged;  // query lengths random in [0, lq], sample 0 → lq
  const char* nan_at = nullptr;  // "query" / "key": one NaN input
};

// Packed layout (merclip/attention.h): q [Tq, H·Dh], k, v [Tk, H·Dh], cu_seqlens on the device.
void attention_case(const AttnCase& c, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> klen(static_cast<size_t>(c.B), static_cast<int32_t>(c.lk)),
      qlen(static_cast<size_t>(c.B), static_cast<int32_t>(c.lq));
  if (c.key_ragged) {
    for (int64_t b = 0; b < c.B; ++b) klen[b] = static_cast<int32_t>(rng.index(c.lk + 1));
    klen[0] = 0;
    if (c.B > 1) klen[c.B - 1] = static_cast<int32_t>(c.lk);
  }
  if (c.query_ragged) {
    for (int64_t b = 0; b < c.B; ++b) qlen[b] = static_cast<int32_t>(rng.index(c.lq + 1));
    qlen[0] = static_cast<int32_t>(c.lq);
  }
  std::vector<int32_t> cuq(1, 0), cuk(1, 0);
  for (int64_t b = 0; b < c.B; ++b) {
    cuq.push_back(cuq.back() + qlen[b]);
    cuk.push_back(cuk.back() + klen[b]);
  }
  AttentionParams p;
  p.batch = c.B;
  p.heads = c.H;
  p.head_dim = c.dh;
  p.total_q = cuq.back();
  p.total_k = cuk.back();
  p.max_seqlen_q = c.lq;
  p.max_seqlen_k = c.lk;
  p.cu_seqlens_q = cuq.data();
  p.cu_seqlens_k = cuk.data();
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.dh)));
  p.causal = c.causal;
  const int64_t nq = p.total_q * c.H * c.dh, nk = p.total_k * c.H * c.dh, nl = c.H * p.total_q;
  Buffer q(nq), k(nk), v(nk), dout(nq);
  merclip_test::fill_normal(q.data(), nq, rng);
  merclip_test::fill_normal(k.data(), nk, rng);
  merclip_test::fill_normal(v.data(), nk, rng);
  merclip_test::fill_normal(dout.data(), nq, rng);
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  const std::string nan_at = c.nan_at ? c.nan_at : "";
  const int64_t ld = c.H * c.dh;
  if (nan_at == "query") q[(qlen[0] - 1) * ld + c.dh - 1] = qnan;  // sample 0, head 0, last query
  if (nan_at == "key") k[1 * ld] = qnan;                          // sample 0, head 0, key 1

  // CPU
  Buffer out_c(nq), lse_c(nl), dq_c(nq), dk_c(nk), dv_c(nk);
  merclip::cpu::attention_forward(out_c.data(), lse_c.data(), q.data(), k.data(), v.data(), p);
  merclip::cpu::attention_backward(dq_c.data(), dk_c.data(), dv_c.data(), dout.data(), q.data(),
                                   k.data(), v.data(), out_c.data(), lse_c.data(), p);
  // CUDA (the same inputs; the backward takes the CUDA forward's out / lse)
  Dev<float> dq_in(q.data(), nq), dk_in(k.data(), nk), dv_in(v.data(), nk), dg(dout.data(), nq);
  Dev<int32_t> dcq(cuq.data(), c.B + 1), dck(cuk.data(), c.B + 1);
  AttentionParams pd = p;
  pd.cu_seqlens_q = dcq.p;
  pd.cu_seqlens_k = dck.p;
  std::unique_ptr<Dev<float>> o(nan_dev(nq)), l(nan_dev(nl)), gq(nan_dev(nq)), gk(nan_dev(nk)),
      gv(nan_dev(nk));
  mcuda::attention_forward(o->p, l->p, dq_in.p, dk_in.p, dv_in.p, pd);
  mcuda::attention_backward(gq->p, gk->p, gv->p, dg.p, dq_in.p, dk_in.p, dv_in.p, o->p, l->p, pd);
  mcuda::synchronize();
  const Buffer out = download(*o, nq), lse = download(*l, nl), dq = download(*gq, nq),
               dk = download(*gk, nk), dv = download(*gv, nk);

  const std::string t = fmt("cuda attention B=%lld H=%lld lq=%lld lk=%lld dh=%lld causal=%d kragged=%d qragged=%d%s%s",
                            (long long)c.B, (long long)c.H, (long long)c.lq, (long long)c.lk,
                            (long long)c.dh, c.causal, c.key_ragged, c.query_ragged,
                            nan_at.empty() ? "" : " nan=", nan_at.c_str());
  const bool allow_nan = !nan_at.empty();
  compare(t + " out", out, out_c, 0.0, 1e-5 * max_finite_abs(out_c) + 1e-30, allow_nan);
  compare(t + " lse", lse, lse_c, 1e-5, 1e-5 * max_finite_abs(lse_c) + 1e-30, allow_nan);
  if (allow_nan) {
    // The NaN rows (out / lse) must be exactly the CPU's; the gradients' NaN spread is
    // implementation-specific (see test_attention.cc), so only their finite values are compared.
    int64_t nan_rows = 0;
    for (int64_t i = 0; i < nl; ++i) nan_rows += std::isnan(lse_c[i]);
    std::printf("  %s: %lld NaN rows\n", t.c_str(), (long long)nan_rows);
    return;
  }
  const double mg = max_finite_abs(dout), mq = max_finite_abs(q), mk = max_finite_abs(k),
               mv = max_finite_abs(v);
  compare(t + " dq", dq, dq_c, 0.0, 1e-5 * max_finite_abs(dq_c) + 1e-6 * mg * mv * mk + 1e-30);
  compare(t + " dk", dk, dk_c, 0.0, 1e-5 * max_finite_abs(dk_c) + 1e-6 * mg * mv * mq + 1e-30);
  compare(t + " dv", dv, dv_c, 0.0, 1e-5 * max_finite_abs(dv_c) + 1e-30);
  // fully masked rows: out 0, lse +inf, dq 0 (checked against the CPU above; counted here)
  int64_t masked_rows = 0;
  for (int64_t i = 0; i < nl; ++i) masked_rows += std::isinf(lse[i]) && lse[i] > 0;
  if (masked_rows > 0) std::printf("  %s: %lld fully masked rows\n", t.c_str(), (long long)masked_rows);
}

void test_attention() {
  std::vector<AttnCase> cases;
  for (int64_t dh : {1, 6, 32, 64, 100, 128, 200, 256}) {
    cases.push_back({2, 2, 33, 45, dh, false, false, false});
    cases.push_back({2, 2, 70, 70, dh, true, false, false});
    cases.push_back({3, 2, 37, 64, dh, false, true, true});
    cases.push_back({3, 1, 50, 50, dh, true, true, true});
  }
  cases.push_back({1, 1, 1, 1, 64, false, false, false});
  cases.push_back({2, 3, 1, 129, 64, false, true, false});
  cases.push_back({2, 8, 7, 500, 64, false, true, false});   // decoder cross-attention
  cases.push_back({1, 2, 375, 375, 64, false, true, false}); // encoder-sized
  cases.push_back({1, 2, 129, 100, 64, true, false, false}); // causal, lq > lk
  cases.push_back({2, 1, 20, 130, 6, true, false, true});    // causal, lq < lk
  cases.push_back({2, 2, 5, 9, 8, false, false, false, "query"});
  cases.push_back({2, 2, 5, 9, 8, false, false, false, "key"});
  cases.push_back({2, 2, 9, 9, 8, true, false, false, "key"});
  uint64_t seed = 1000;
  for (const auto& c : cases) attention_case(c, ++seed);
}

// ---------------------------------------------------------------------------------------------
// Cosine

void cosine_case(int64_t n, int64_t c, int64_t dim, float scale, bool save, uint64_t seed) {
  Rng rng(seed);
  Buffer x(n * dim), e(c * dim), dout(n * c);
  merclip_test::fill_normal(x.data(), x.size(), rng);
  merclip_test::fill_normal(e.data(), e.size(), rng);
  merclip_test::fill_normal(dout.data(), dout.size(), rng);
  if (n > 1)
    for (int64_t d = 0; d < dim; ++d) x[1 * dim + d] = 0.0f;  // a zero row: cosine 0, clamped
  CosineParams p;
  p.n = n;
  p.c = c;
  p.dim = dim;
  p.scale = scale;
  Buffer out_c(n * c), rx_c(n), re_c(c), dx_c(n * dim), de_c(c * dim);
  merclip::cpu::cosine_forward(out_c.data(), rx_c.data(), re_c.data(), x.data(), e.data(), p);
  merclip::cpu::cosine_backward(dx_c.data(), de_c.data(), dout.data(), out_c.data(), x.data(),
                                e.data(), rx_c.data(), re_c.data(), p);
  Dev<float> X(x.data(), n * dim), E(e.data(), c * dim), G(dout.data(), n * c);
  std::unique_ptr<Dev<float>> o(nan_dev(n * c)), rx(nan_dev(n)), re(nan_dev(c)),
      dx(nan_dev(n * dim)), de(nan_dev(c * dim));
  mcuda::cosine_forward(o->p, save ? rx->p : nullptr, save ? re->p : nullptr, X.p, E.p, p);
  mcuda::cosine_backward(dx->p, de->p, G.p, o->p, X.p, E.p, save ? rx->p : nullptr,
                         save ? re->p : nullptr, p);
  mcuda::synchronize();
  const std::string t = fmt("cuda cosine n=%lld c=%lld dim=%lld scale=%g saved=%d", (long long)n,
                            (long long)c, (long long)dim, scale, save);
  compare(t + " out", download(*o, n * c), out_c, 0.0, 1e-5 * max_finite_abs(out_c) + 1e-30);
  if (save) {
    compare(t + " x_rnorm", download(*rx, n), rx_c, 1e-5, 0.0);
    compare(t + " e_rnorm", download(*re, c), re_c, 1e-5, 0.0);
  }
  compare_rows(t + " dx", download(*dx, n * dim), dx_c, n, dim,
               grad_bound(dout.data(), c, 1, n, c, re_c.data(), e.data(), dim, scale, rx_c.data()));
  compare_rows(t + " de", download(*de, c * dim), de_c, c, dim,
               grad_bound(dout.data(), 1, c, c, n, rx_c.data(), x.data(), dim, scale, re_c.data()));
}

void cosine_paired_case(int64_t batch, int64_t c, int64_t dim, float scale, bool save,
                        uint64_t seed) {
  Rng rng(seed);
  Buffer h(batch * c * dim), e(c * dim), dout(batch * c);
  merclip_test::fill_normal(h.data(), h.size(), rng);
  merclip_test::fill_normal(e.data(), e.size(), rng);
  merclip_test::fill_normal(dout.data(), dout.size(), rng);
  if (batch * c > 1)
    for (int64_t d = 0; d < dim; ++d) h[1 * dim + d] = 0.0f;
  CosinePairedParams p;
  p.batch = batch;
  p.c = c;
  p.dim = dim;
  p.scale = scale;
  const int64_t rows = batch * c;
  Buffer out_c(rows), rh_c(rows), re_c(c), dh_c(rows * dim), de_c(c * dim);
  merclip::cpu::cosine_paired_forward(out_c.data(), rh_c.data(), re_c.data(), h.data(), e.data(), p);
  merclip::cpu::cosine_paired_backward(dh_c.data(), de_c.data(), dout.data(), out_c.data(),
                                       h.data(), e.data(), rh_c.data(), re_c.data(), p);
  Dev<float> Hd(h.data(), rows * dim), E(e.data(), c * dim), G(dout.data(), rows);
  std::unique_ptr<Dev<float>> o(nan_dev(rows)), rh(nan_dev(rows)), re(nan_dev(c)),
      dh(nan_dev(rows * dim)), de(nan_dev(c * dim));
  mcuda::cosine_paired_forward(o->p, save ? rh->p : nullptr, save ? re->p : nullptr, Hd.p, E.p, p);
  mcuda::cosine_paired_backward(dh->p, de->p, G.p, o->p, Hd.p, E.p, save ? rh->p : nullptr,
                                save ? re->p : nullptr, p);
  mcuda::synchronize();
  const std::string t = fmt("cuda cosine_paired batch=%lld c=%lld dim=%lld scale=%g saved=%d",
                            (long long)batch, (long long)c, (long long)dim, scale, save);
  compare(t + " out", download(*o, rows), out_c, 0.0, 1e-5 * max_finite_abs(out_c) + 1e-30);
  if (save) {
    compare(t + " h_rnorm", download(*rh, rows), rh_c, 1e-5, 0.0);
    compare(t + " e_rnorm", download(*re, c), re_c, 1e-5, 0.0);
  }
  std::vector<double> bh(static_cast<size_t>(rows)), be(static_cast<size_t>(c), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t j = r % c;
    bh[r] = std::fabs(scale) * rh_c[r] * std::fabs(dout[r]) * re_c[j] * max_finite_abs(e.data() + j * dim, dim);
    be[j] += std::fabs(scale) * re_c[j] * std::fabs(dout[r]) * rh_c[r] * max_finite_abs(h.data() + r * dim, dim);
  }
  compare_rows(t + " dh", download(*dh, rows * dim), dh_c, rows, dim, bh);
  compare_rows(t + " de", download(*de, c * dim), de_c, c, dim, be);
}

void test_cosine() {
  uint64_t seed = 2000;
  for (bool save : {true, false}) {
    cosine_case(1, 1, 1, 1.0f, save, ++seed);
    cosine_case(7, 33, 64, 1.0f, save, ++seed);
    cosine_case(37, 5, 512, 100.0f, save, ++seed);
    cosine_case(64, 1000, 768, 14.3f, save, ++seed);
    cosine_paired_case(1, 1, 1, 1.0f, save, ++seed);
    cosine_paired_case(3, 7, 33, 1.0f, save, ++seed);
    cosine_paired_case(32, 7, 512, 100.0f, save, ++seed);
  }
}

// ---------------------------------------------------------------------------------------------
// No device: every entry point throws merclip::Error{cuda}.

void expect_cuda_error(const char* what, const std::function<void()>& fn) {
  bool clean = false;
  try {
    fn();
    std::printf("FAIL %s: returned without a device (expected merclip::Error{cuda})\n", what);
  } catch (const merclip::Error& e) {
    clean = e.code() == merclip::ErrorCode::cuda;
    std::printf("  %s → merclip::Error{%s}: %s\n", what, merclip::error_code_name(e.code()), e.what());
  } catch (const std::exception& e) {
    std::printf("FAIL %s: threw a non-merclip exception: %s\n", what, e.what());
  }
  CHECK(clean);
}

void test_no_device() {
  float* f = nullptr;  // never dereferenced: the call must fail before touching memory
  AttentionParams ap;
  const int32_t cuq[3] = {0, 17, 34}, cuk[3] = {0, 33, 66};
  ap.batch = 2;
  ap.heads = 2;
  ap.head_dim = 64;
  ap.total_q = 34;
  ap.total_k = 66;
  ap.max_seqlen_q = 17;
  ap.max_seqlen_k = 33;
  ap.cu_seqlens_q = cuq;
  ap.cu_seqlens_k = cuk;
  ap.scale = 0.125f;
  CosineParams cp;
  cp.n = 4;
  cp.c = 5;
  cp.dim = 8;
  CosinePairedParams pp;
  pp.batch = 2;
  pp.c = 3;
  pp.dim = 8;
  expect_cuda_error("device_malloc", [] { mcuda::device_free(mcuda::device_malloc(1024)); });
  expect_cuda_error("attention_forward", [&] { mcuda::attention_forward(f, f, f, f, f, ap); });
  expect_cuda_error("attention_backward",
                    [&] { mcuda::attention_backward(f, f, f, f, f, f, f, f, f, ap); });
  ap.causal = true;
  ap.head_dim = 256;
  expect_cuda_error("attention_forward (causal, dh 256)",
                    [&] { mcuda::attention_forward(f, f, f, f, f, ap); });
  expect_cuda_error("cosine_forward", [&] { mcuda::cosine_forward(f, f, f, f, f, cp); });
  expect_cuda_error("cosine_backward",
                    [&] { mcuda::cosine_backward(f, f, f, f, f, f, f, f, cp); });
  expect_cuda_error("cosine_paired_forward",
                    [&] { mcuda::cosine_paired_forward(f, f, f, f, f, pp); });
  expect_cuda_error("cosine_paired_backward",
                    [&] { mcuda::cosine_paired_backward(f, f, f, f, f, f, f, f, pp); });
}

}  // namespace

int main() {
  const merclip::CudaStatus s = merclip::cuda_status();
  std::printf("cuda: compiled=%d devices=%d error='%s'\n", s.compiled, s.device_count,
              s.error.c_str());
  for (const auto& d : s.devices) std::printf("  %s\n", d.c_str());
  if (s.device_count == 0) {
    std::printf("SKIPPED: CUDA vs CPU comparisons (attention, cosine) not run: no CUDA device "
                "exists%s; checking the clean-error path instead\n",
                s.compiled ? "" : " (this build has no CUDA)");
    test_no_device();
    return merclip_test::finish("test_cuda_kernels (no device: error path only)");
  }
  try {
    test_attention();
    test_cosine();
  } catch (const merclip::Error& e) {
    std::printf("FAIL: merclip::Error{%s}: %s\n", merclip::error_code_name(e.code()), e.what());
    ++merclip_test::failures();
  }
  return merclip_test::finish("test_cuda_kernels");
}
