// lib/kernels/op.ts — one definition gives each kernel its sync and async wrapper.
//
// `prepare` validates the options (lib/kernels/validate.ts), allocates the outputs the caller
// did not pass, and returns the raw binding's arguments plus how to build the result. The sync
// form calls NAME on the JS thread; the async form calls NAME + "Async" (a libuv worker): its
// validation errors reject the promise, and native errors are re-thrown with the caller's stack.
import { loadNative } from '../backend/load.js';
import type { NativeOpName, NativeOps } from '../backend/native.js';
import { withCallerStack } from './errors.js';

export interface Prepared<K extends NativeOpName, R> {
  args: Parameters<NativeOps[K]>[0];
  result: (ret: ReturnType<NativeOps[K]>) => R;
}

export function defineOp<K extends NativeOpName, O, R>(
  name: K,
  prepare: (fn: string, opts: O) => Prepared<K, R>,
): { sync: (opts: O) => R; async: (opts: O) => Promise<R> } {
  type Call = (args: Parameters<NativeOps[K]>[0]) => ReturnType<NativeOps[K]>;
  type AsyncCall = (args: Parameters<NativeOps[K]>[0]) => Promise<ReturnType<NativeOps[K]>>;
  const asyncName = `${name}Async` as const;
  return {
    sync(opts: O): R {
      const p = prepare(name, opts);
      const native = loadNative();
      return p.result((native[name] as unknown as Call).call(native, p.args));
    },
    async async(opts: O): Promise<R> {
      const context = new Error();
      const p = prepare(asyncName, opts);
      const native = loadNative();
      let ret: ReturnType<NativeOps[K]>;
      try {
        ret = await (native[asyncName] as unknown as AsyncCall).call(native, p.args);
      } catch (err) {
        throw withCallerStack(err as Error, context);
      }
      return p.result(ret);
    },
  };
}
