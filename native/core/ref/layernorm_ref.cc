// native/core/ref/layernorm_ref.cc — reference LayerNorm forward / backward (merclip::ref,
// declared in merclip/layernorm.h).
//
// Plain loops with double accumulators, single-threaded, boring on purpose: the oracle
// tests/test_layernorm.cc compares merclip::cpu against and its finite-difference checks validate.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "merclip/error.h"
#include "merclip/layernorm.h"

namespace merclip {
namespace ref {

// LayerNorm
// out, x [rows, dim]; weight, bias [dim] (null → 1 / 0); saves mean [rows], rstd [rows]
// (either may be null when no backward follows).
//   out = (x − mean) · rstd · weight + bias,  rstd = 1/√(var + eps), var biased (÷ dim).

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                       const float* bias, int64_t rows, int64_t dim, float eps) {
  MERCLIP_CHECK(rows >= 0 && dim >= 1, "layernorm_forward: rows must be >= 0 and dim >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    double m = 0.0;
    for (int64_t i = 0; i < dim; ++i) m += xr[i];
    m /= static_cast<double>(dim);
    double var = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      const double d = xr[i] - m;
      var += d * d;
    }
    var /= static_cast<double>(dim);
    const double s = 1.0 / std::sqrt(var + static_cast<double>(eps));
    float* outr = out + r * dim;
    for (int64_t i = 0; i < dim; ++i) {
      const double w = weight ? weight[i] : 1.0;
      const double b = bias ? bias[i] : 0.0;
      outr[i] = static_cast<float>((xr[i] - m) * s * w + b);
    }
    if (mean) mean[r] = static_cast<float>(m);
    if (rstd) rstd[r] = static_cast<float>(s);
  }
}

// dx [rows, dim]; dweight, dbias [dim] (null → skipped); dout, x [rows, dim]; weight [dim] (null
// → 1); mean, rstd [rows] as saved by the forward.
// Undoes out = xhat · w + b with xhat = (x − mean) · rstd:
//   dbias = Σ_rows dout;  dweight = Σ_rows dout · xhat;
//   dx = rstd · (g − mean(g) − xhat · mean(g · xhat)),  g = dout · w.

void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                        const float* weight, const float* mean, const float* rstd, int64_t rows,
                        int64_t dim) {
  MERCLIP_CHECK(rows >= 0 && dim >= 1, "layernorm_backward: rows must be >= 0 and dim >= 1");
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    const float* dr = dout + r * dim;
    const double m = mean[r];
    const double s = rstd[r];
    double g_mean = 0.0, gx_mean = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      const double xhat = (xr[i] - m) * s;
      const double g = dr[i] * (weight ? static_cast<double>(weight[i]) : 1.0);
      g_mean += g;
      gx_mean += g * xhat;
    }
    g_mean /= static_cast<double>(dim);
    gx_mean /= static_cast<double>(dim);
    float* dxr = dx + r * dim;
    for (int64_t i = 0; i < dim; ++i) {
      const double xhat = (xr[i] - m) * s;
      const double g = dr[i] * (weight ? static_cast<double>(weight[i]) : 1.0);
      dxr[i] = static_cast<float>(s * (g - g_mean - xhat * gx_mean));
    }
  }
  // Parameter gradients: column sums over all rows.
  for (int64_t i = 0; i < dim; ++i) {
    double dw = 0.0, db = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const double d = dout[r * dim + i];
      dw += d * (x[r * dim + i] - static_cast<double>(mean[r])) * static_cast<double>(rstd[r]);
      db += d;
    }
    if (dweight) dweight[i] = static_cast<float>(dw);
    if (dbias) dbias[i] = static_cast<float>(db);
  }
}

}  // namespace ref
}  // namespace merclip
