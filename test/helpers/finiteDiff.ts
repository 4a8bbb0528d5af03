// test/helpers/finiteDiff.ts — central finite differences in float64.
//
// grad_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h. Truncation error O(h² f'''), rounding error
// O(ε·|f| / h); h ≈ 1e-6 balances the two for O(1) inputs (≈ 1e-9 … 1e-10 absolute), which is
// what "rtol ~1e-6" in the reference tests relies on. x is perturbed in place and restored
// exactly (x_i is saved, not recomputed as (x_i + h) − h).

/** ∇f(x) by central differences; f must not keep a reference to x. */
export function finiteDiffGrad(
  f: (x: Float64Array) => number,
  x: Float64Array,
  h = 1e-6,
): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i]!;
    x[i] = saved + h;
    const plus = f(x);
    x[i] = saved - h;
    const minus = f(x);
    x[i] = saved;
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

/** Σ_i w_i · y_i — turns a vector-valued function into the scalar ⟨dOut, F(x)⟩ whose gradient
 *  is the vector–Jacobian product a backward kernel computes. */
export function dot(w: ArrayLike<number>, y: ArrayLike<number>): number {
  if (w.length !== y.length) throw new RangeError(`dot: lengths differ (${w.length} vs ${y.length})`);
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i]! * y[i]!;
  return s;
}
