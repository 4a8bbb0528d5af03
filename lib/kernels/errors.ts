// lib/kernels/errors.ts — the one error vocabulary shared with native/binding/args.cc:
//   "<fn>: expected <arg> to be <what>, received <value>"
// TypeError for a wrong type, RangeError for a wrong value, size or length.

/** How a value is shown after "received" (same words as the native describe()). */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '…' : v}'`;
  if (typeof v === 'bigint') return 'a bigint';
  if (typeof v === 'symbol') return 'a symbol';
  if (typeof v === 'function') return 'a function';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return 'Array';
  if (v instanceof ArrayBuffer) return 'ArrayBuffer';
  return 'object';
}

export function argTypeError(fn: string, what: string, value: unknown): TypeError {
  return new TypeError(`${fn}: expected ${what}, received ${describe(value)}`);
}

export function argRangeError(fn: string, what: string, received: string): RangeError {
  return new RangeError(`${fn}: expected ${what}, received ${received}`);
}

/**
 * Re-throws an error from the addon with the caller's stack (captured before an async call),
 * so a rejection points at the user's code, not at a libuv callback (sharp's nativeError).
 */
export function withCallerStack<E extends Error>(native: E, context: Error): E {
  const callerFrames = (context.stack ?? '').split('\n').slice(1).join('\n');
  native.stack = `${native.name}: ${native.message}\n${callerFrames}`;
  return native;
}
