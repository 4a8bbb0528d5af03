// lib/reference/gelu.ts — float64 reference GELU family, forward and backward side by side, plus
// the erf / erfc / normal CDF they need (JavaScript has no Math.erf).
//
//   none  : gelu(x) = x · Φ(x),  Φ(x) = ½ erfc(−x/√2)                         (PyTorch 'none')
//   tanh  : gelu(x) = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))               (PyTorch 'tanh')
//   quick : gelu(x) = x · σ(1.702 x)                                          (CLIP quick_gelu)
//
// Elementwise; outputs are new Float64Arrays of the input's length. The forward saves nothing:
// the backward recomputes from x.

import { checkLength } from './check.js';

export type GeluApproximate = 'none' | 'tanh' | 'quick';

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
const ONE_OVER_SQRT_PI = 0.5641895835477563; // 1/√π
const INV_SQRT_2 = 0.7071067811865476; // 1/√2
const INV_SQRT_2PI = 0.3989422804014327; // 1/√(2π)
const SQRT_2_OVER_PI = 0.7978845608028654; // √(2/π)
const TANH_COEF = 0.044715;
const QUICK_COEF = 1.702;

// Below this |x| erf comes from the all-positive series; above it erfc from its continued
// fraction (where 1 − erf would lose erfc's relative precision).
const SERIES_LIMIT = 3;

// ---------------------------------------------------------------------------------------------
// erf(x) = 2/√π · exp(−x²) · Σₙ 2ⁿ x²ⁿ⁺¹ / (1·3·5···(2n+1))   (Abramowitz & Stegun 7.1.6)
// Every term has the sign of x, so there is no cancellation (unlike the Taylor series in x):
// the relative error stays within a few ulp for |x| < SERIES_LIMIT (≈ 60 terms at |x| = 3).
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

// erfc(x) for x ≥ SERIES_LIMIT by the continued fraction (A&S 7.1.14)
//   erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
// evaluated with the modified Lentz algorithm to full double precision.
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x; // b0
  let c = f;
  let d = 0;
  for (let n = 1; n < 2000; n++) {
    const an = n / 2;
    d = x + an * d;
    if (d === 0) d = tiny;
    d = 1 / d;
    c = x + an / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

/** The error function, to ~1e-15 relative over the whole real line. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 1;
  if (x === -Infinity) return -1;
  if (Math.abs(x) < SERIES_LIMIT) return erfSeries(x);
  const tail = erfcContinuedFraction(Math.abs(x));
  return x > 0 ? 1 - tail : tail - 1;
}

/** The complementary error function 1 − erf(x), keeping relative precision for large x. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 0;
  if (x === -Infinity) return 2;
  if (x >= SERIES_LIMIT) return erfcContinuedFraction(x);
  if (x <= -SERIES_LIMIT) return 2 - erfcContinuedFraction(-x);
  return 1 - erfSeries(x);
}

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT_2);
}

/** φ(x), the standard normal density. */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

// ---------------------------------------------------------------------------------------------
/** gelu(x) for one value. */
export function geluScalar(x: number, approximate: GeluApproximate = 'none'): number {
  switch (approximate) {
    case 'none':
      return x * normalCdf(x);
    case 'tanh': {
      const u = SQRT_2_OVER_PI * (x + TANH_COEF * x * x * x);
      return 0.5 * x * (1 + Math.tanh(u));
    }
    case 'quick':
      return x * sigmoid(QUICK_COEF * x);
  }
}

/** d gelu(x) / dx for one value. */
export function geluDerivative(x: number, approximate: GeluApproximate = 'none'): number {
  switch (approximate) {
    case 'none':
      // d/dx [x Φ(x)] = Φ(x) + x φ(x)
      return normalCdf(x) + x * normalPdf(x);
    case 'tanh': {
      // t = tanh(u(x)):  ½(1 + t) + ½ x (1 − t²) u'(x),  u' = √(2/π)(1 + 3·0.044715 x²)
      const u = SQRT_2_OVER_PI * (x + TANH_COEF * x * x * x);
      const t = Math.tanh(u);
      const du = SQRT_2_OVER_PI * (1 + 3 * TANH_COEF * x * x);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
    }
    case 'quick': {
      // s = σ(1.702 x):  s + 1.702 x s (1 − s)
      const s = sigmoid(QUICK_COEF * x);
      return s + QUICK_COEF * x * s * (1 - s);
    }
  }
}

function checkApproximate(fn: string, approximate: string): void {
  if (approximate !== 'none' && approximate !== 'tanh' && approximate !== 'quick') {
    throw new RangeError(
      `${fn}: expected approximate to be one of 'none', 'tanh', 'quick', received '${approximate}'`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// x [n] → out [n]
export function geluForward(opts: {
  x: ArrayLike<number>;
  approximate?: GeluApproximate | undefined;
}): Float64Array {
  const { x } = opts;
  const approximate = opts.approximate ?? 'none';
  checkApproximate('reference.geluForward', approximate);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = geluScalar(x[i]!, approximate);
  return out;
}

// dOut [n], x [n] → dx [n] = dOut · gelu'(x)
export function geluBackward(opts: {
  dOut: ArrayLike<number>;
  x: ArrayLike<number>;
  approximate?: GeluApproximate | undefined;
}): Float64Array {
  const fn = 'reference.geluBackward';
  const { dOut, x } = opts;
  const approximate = opts.approximate ?? 'none';
  checkApproximate(fn, approximate);
  checkLength(fn, 'dOut', dOut, x.length, 'x.length');
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dx[i] = dOut[i]! * geluDerivative(x[i]!, approximate);
  return dx;
}
