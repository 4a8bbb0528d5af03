// native/core/ref/cosine_ref.cc — reference batched cosine similarity (merclip::ref, declared in
// merclip/cosine.h): forward, backward, paired forward/backward and top-k.
//
// Plain loops with double accumulators, single-threaded, boring on purpose: this is what
// tests/test_cosine.cc compares merclip::cpu against, and what the finite-difference checks
// validate. Contract, shared with cpu/cosine.cc:
// - every output is OVERWRITTEN, never accumulated into; optional outputs may be null;
// - r = 1 / max(‖v‖, eps); a saved inverse norm is stored as float(1 / max(‖v‖, eps)), so a
//   clamped vector saves exactly float(1 / double(eps));
// - in the backward a vector is "active" (its projection term is kept) iff ‖v‖ > eps; when the
//   backward is handed saved inverse norms instead, iff r < float(1 / double(eps)) (the two
//   agree except for norms within float rounding of eps);
// - top-k: all c scores of a row (scale · cos, in double), stable-sorted by descending score,
//   so ties go to the lower index.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "merclip/cosine.h"
#include "merclip/error.h"

namespace merclip {
namespace ref {

namespace {

// Inverse norm 1 / max(‖v‖, eps) in double; *active = ‖v‖ > eps.
double rnorm(const float* v, int64_t dim, float eps, bool* active) {
  double ss = 0.0;
  for (int64_t d = 0; d < dim; ++d) ss += static_cast<double>(v[d]) * static_cast<double>(v[d]);
  const double nrm = std::sqrt(ss);
  if (active) *active = nrm > static_cast<double>(eps);
  return 1.0 / std::max(nrm, static_cast<double>(eps));
}

double dot(const float* a, const float* b, int64_t dim) {
  double s = 0.0;
  for (int64_t d = 0; d < dim; ++d) s += static_cast<double>(a[d]) * static_cast<double>(b[d]);
  return s;
}

// Inverse norms of `rows` vectors: from `saved` when given (activity by the saved-value rule
// above), else recomputed.
void inverse_norms(std::vector<double>& r, std::vector<char>& active, const float* saved,
                   const float* v, int64_t rows, int64_t dim, float eps) {
  r.assign(static_cast<size_t>(rows), 0.0);
  active.assign(static_cast<size_t>(rows), 0);
  const float clamped = static_cast<float>(1.0 / static_cast<double>(eps));
  for (int64_t i = 0; i < rows; ++i) {
    if (saved) {
      r[i] = saved[i];
      active[i] = saved[i] < clamped;
    } else {
      bool a = false;
      r[i] = rnorm(v + i * dim, dim, eps, &a);
      active[i] = a;
    }
  }
}

void check_params(int64_t n, int64_t c, int64_t dim, const char* fn) {
  MERCLIP_CHECK(n >= 0 && c >= 0 && dim >= 0, std::string(fn) + ": sizes must be >= 0");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Forward
// out [n,c]; x_rnorm [n], e_rnorm [c] (optional); x [n,dim]; e [c,dim]

void cosine_forward(float* out, float* x_rnorm, float* e_rnorm, const float* x, const float* e,
                    const CosineParams& p) {
  check_params(p.n, p.c, p.dim, "cosine_forward");
  std::vector<double> re(static_cast<size_t>(p.c));
  for (int64_t j = 0; j < p.c; ++j) {
    re[j] = rnorm(e + j * p.dim, p.dim, p.eps, nullptr);
    if (e_rnorm) e_rnorm[j] = static_cast<float>(re[j]);
  }
  for (int64_t i = 0; i < p.n; ++i) {
    const float* xi = x + i * p.dim;
    const double rx = rnorm(xi, p.dim, p.eps, nullptr);
    if (x_rnorm) x_rnorm[i] = static_cast<float>(rx);
    for (int64_t j = 0; j < p.c; ++j) {
      out[i * p.c + j] =
          static_cast<float>(static_cast<double>(p.scale) * dot(xi, e + j * p.dim, p.dim) * rx *
                             re[j]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward
// dx [n,dim], de [c,dim] (either may be null); dout, out [n,c]; x [n,dim]; e [c,dim];
// x_rnorm [n], e_rnorm [c] (null → recomputed)
//   g_i = Σ_j dout_ij·out_ij,  h_j = Σ_i dout_ij·out_ij
//   dx_i = rx_i·(scale·Σ_j dout_ij·re_j·e_j − [active x_i]·rx_i·g_i·x_i)
//   de_j = re_j·(scale·Σ_i dout_ij·rx_i·x_i − [active e_j]·re_j·h_j·e_j)

void cosine_backward(float* dx, float* de, const float* dout, const float* out, const float* x,
                     const float* e, const float* x_rnorm, const float* e_rnorm,
                     const CosineParams& p) {
  check_params(p.n, p.c, p.dim, "cosine_backward");
  const int64_t n = p.n, c = p.c, dim = p.dim;
  const double scale = p.scale;
  std::vector<double> rx, re;
  std::vector<char> ax, ae;
  inverse_norms(rx, ax, x_rnorm, x, n, dim, p.eps);
  inverse_norms(re, ae, e_rnorm, e, c, dim, p.eps);
  std::vector<double> acc(static_cast<size_t>(dim));
  if (dx) {
    for (int64_t i = 0; i < n; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      double g = 0.0;
      for (int64_t j = 0; j < c; ++j) {
        const double dij = dout[i * c + j];
        g += dij * static_cast<double>(out[i * c + j]);
        const double w = scale * dij * re[j];
        for (int64_t d = 0; d < dim; ++d) acc[d] += w * static_cast<double>(e[j * dim + d]);
      }
      const double proj = ax[i] ? rx[i] * g : 0.0;
      for (int64_t d = 0; d < dim; ++d)
        dx[i * dim + d] =
            static_cast<float>(rx[i] * (acc[d] - proj * static_cast<double>(x[i * dim + d])));
    }
  }
  if (de) {
    for (int64_t j = 0; j < c; ++j) {
      std::fill(acc.begin(), acc.end(), 0.0);
      double h = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double dij = dout[i * c + j];
        h += dij * static_cast<double>(out[i * c + j]);
        const double w = scale * dij * rx[i];
        for (int64_t d = 0; d < dim; ++d) acc[d] += w * static_cast<double>(x[i * dim + d]);
      }
      const double proj = ae[j] ? re[j] * h : 0.0;
      for (int64_t d = 0; d < dim; ++d)
        de[j * dim + d] =
            static_cast<float>(re[j] * (acc[d] - proj * static_cast<double>(e[j * dim + d])));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Paired forward
// out [batch,c]; h_rnorm [batch·c], e_rnorm [c] (optional); h [batch,c,dim]; e [c,dim]

void cosine_paired_forward(float* out, float* h_rnorm, float* e_rnorm, const float* h,
                           const float* e, const CosinePairedParams& p) {
  check_params(p.batch, p.c, p.dim, "cosine_paired_forward");
  std::vector<double> re(static_cast<size_t>(p.c));
  for (int64_t j = 0; j < p.c; ++j) {
    re[j] = rnorm(e + j * p.dim, p.dim, p.eps, nullptr);
    if (e_rnorm) e_rnorm[j] = static_cast<float>(re[j]);
  }
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t j = 0; j < p.c; ++j) {
      const int64_t q = b * p.c + j;
      const float* hq = h + q * p.dim;
      const double rh = rnorm(hq, p.dim, p.eps, nullptr);
      if (h_rnorm) h_rnorm[q] = static_cast<float>(rh);
      out[q] = static_cast<float>(static_cast<double>(p.scale) * dot(hq, e + j * p.dim, p.dim) *
                                  rh * re[j]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Paired backward
// dh [batch,c,dim], de [c,dim] (either may be null); dout, out [batch,c]; h [batch,c,dim];
// e [c,dim]; h_rnorm [batch·c], e_rnorm [c] (null → recomputed)
//   dh_bj = rh_bj·(scale·dout_bj·re_j·e_j − [active h_bj]·rh_bj·dout_bj·out_bj·h_bj)
//   de_j  = re_j·(scale·Σ_b dout_bj·rh_bj·h_bj − [active e_j]·re_j·(Σ_b dout_bj·out_bj)·e_j)

void cosine_paired_backward(float* dh, float* de, const float* dout, const float* out,
                            const float* h, const float* e, const float* h_rnorm,
                            const float* e_rnorm, const CosinePairedParams& p) {
  check_params(p.batch, p.c, p.dim, "cosine_paired_backward");
  const int64_t batch = p.batch, c = p.c, dim = p.dim;
  const double scale = p.scale;
  std::vector<double> rh, re;
  std::vector<char> ah, ae;
  inverse_norms(rh, ah, h_rnorm, h, batch * c, dim, p.eps);
  inverse_norms(re, ae, e_rnorm, e, c, dim, p.eps);
  if (dh) {
    for (int64_t q = 0; q < batch * c; ++q) {
      const int64_t j = q % c;
      const double dq = dout[q];
      const double proj = ah[q] ? rh[q] * dq * static_cast<double>(out[q]) : 0.0;
      for (int64_t d = 0; d < dim; ++d)
        dh[q * dim + d] = static_cast<float>(
            rh[q] * (scale * dq * re[j] * static_cast<double>(e[j * dim + d]) -
                     proj * static_cast<double>(h[q * dim + d])));
    }
  }
  if (de) {
    std::vector<double> acc(static_cast<size_t>(dim));
    for (int64_t j = 0; j < c; ++j) {
      std::fill(acc.begin(), acc.end(), 0.0);
      double g = 0.0;
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t q = b * c + j;
        const double dq = dout[q];
        g += dq * static_cast<double>(out[q]);
        const double w = scale * dq * rh[q];
        for (int64_t d = 0; d < dim; ++d) acc[d] += w * static_cast<double>(h[q * dim + d]);
      }
      const double proj = ae[j] ? re[j] * g : 0.0;
      for (int64_t d = 0; d < dim; ++d)
        de[j * dim + d] =
            static_cast<float>(re[j] * (acc[d] - proj * static_cast<double>(e[j * dim + d])));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Top-k
// indices [n,k] (int32), scores [n,k]; x [n,dim]; e [c,dim]; 1 <= k <= c

void cosine_topk(int32_t* indices, float* scores, const float* x, const float* e,
                 const CosineParams& p, int64_t k) {
  check_params(p.n, p.c, p.dim, "cosine_topk");
  MERCLIP_CHECK(k >= 1 && k <= p.c, "cosine_topk: k must be in [1, c]");
  MERCLIP_CHECK(p.c <= INT32_MAX, "cosine_topk: c must fit in int32");
  std::vector<double> re(static_cast<size_t>(p.c)), s(static_cast<size_t>(p.c));
  std::vector<int64_t> order(static_cast<size_t>(p.c));
  for (int64_t j = 0; j < p.c; ++j) re[j] = rnorm(e + j * p.dim, p.dim, p.eps, nullptr);
  for (int64_t i = 0; i < p.n; ++i) {
    const float* xi = x + i * p.dim;
    const double rx = rnorm(xi, p.dim, p.eps, nullptr);
    for (int64_t j = 0; j < p.c; ++j)
      s[j] = static_cast<double>(p.scale) * dot(xi, e + j * p.dim, p.dim) * rx * re[j];
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
    for (int64_t t = 0; t < k; ++t) {
      indices[i * k + t] = static_cast<int32_t>(order[t]);
      scores[i * k + t] = static_cast<float>(s[order[t]]);
    }
  }
}

}  // namespace ref
}  // namespace merclip
