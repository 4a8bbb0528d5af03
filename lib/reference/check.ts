// lib/reference/check.ts — tiny argument checks shared by the float64 reference kernels.
//
// The references are test oracles, not user-facing API: they only guard against a test feeding
// them inconsistent shapes (which would otherwise silently read `undefined` → NaN). Messages
// follow the package template "<fn>: expected <arg> to be <what>, received <value>".

/** Throws unless `n` is an integer ≥ 1. */
export function checkSize(fn: string, name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${fn}: expected ${name} to be an integer ≥ 1, received ${String(n)}`);
  }
}

/** Throws unless `arr.length === expected`. */
export function checkLength(
  fn: string,
  name: string,
  arr: ArrayLike<number>,
  expected: number,
  what: string,
): void {
  if (arr.length !== expected) {
    throw new RangeError(
      `${fn}: expected ${name} to be of length ${expected} (${what}), received length ${arr.length}`,
    );
  }
}

/** Throws unless `arr.length >= expected`. */
export function checkMinLength(
  fn: string,
  name: string,
  arr: ArrayLike<number>,
  expected: number,
  what: string,
): void {
  if (arr.length < expected) {
    throw new RangeError(
      `${fn}: expected ${name} to be of length at least ${expected} (${what}), received length ${arr.length}`,
    );
  }
}

/** Element `i` of an array-like whose bounds the caller has already checked. */
export function at(arr: ArrayLike<number>, i: number): number {
  return arr[i]!;
}
