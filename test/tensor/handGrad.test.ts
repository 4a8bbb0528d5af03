// test/tensor/handGrad.test.ts — the one way a backward hands an input its gradient: every case of
// tensor.ts's handGrad (owned buffer; a slot that becomes the grad, one that adds into it, a
// temporary added afterwards, a scratch for an input that needs none or a number, an input given
// twice) against plain sums, and that the pool gets every temporary back.
import { describe, expect, it } from 'vitest';

import { handGrad, parameter, pool, wrap } from '../../lib/tensor/index.js';

const N = 5000; // above the pool's small-buffer threshold, so buffers are pooled

const vals = (f: (i: number) => number): Float32Array => Float32Array.from({ length: N }, (_, i) => f(i));

describe('handGrad', () => {
  it('an owned buffer becomes the grad (no copy), then adds', () => {
    const x = parameter(new Float32Array(N), [N]);
    const g = pool.acquire(N);
    g.set(vals((i) => i));
    handGrad(x, g);
    expect(x.grad!.data).toBe(g);
    const g2 = pool.acquire(N);
    g2.set(vals(() => 1));
    handGrad(x, g2);
    expect(Array.from(x.grad!.data.subarray(0, 3))).toEqual([1, 2, 3]);
  });

  it('slots: fresh grad (overwrite), x.grad itself with adds, a temporary without; scratch for the rest', () => {
    const a = parameter(new Float32Array(N), [N]);
    const b = parameter(new Float32Array(N), [N]);
    const c = wrap(new Float32Array(N), [N]); // needs no grad
    const seen: Array<{ accumulate: boolean; isGrad: boolean }> = [];
    const write = (slots: readonly { buf: Float32Array; accumulate: boolean }[], xs: unknown[]): void => {
      slots.forEach((s, i) => {
        const x = xs[i] as { grad?: { data: Float32Array } | null } | number;
        seen.push({ accumulate: s.accumulate, isGrad: typeof x !== 'number' && x.grad?.data === s.buf });
        if (s.accumulate) for (let j = 0; j < N; j++) s.buf[j]! += 2;
        else s.buf.fill(2);
      });
    };
    const live0 = pool.stats().liveBytes;
    handGrad([a, b, c, 7000], (s) => write(s, [a, b, c, 7000]), { adds: [true, false, false, false] });
    // first call: a and b had no grad → the slots are their new grads; c and 7000 scratch
    expect(seen.splice(0)).toEqual([{ accumulate: false, isGrad: true }, { accumulate: false, isGrad: true }, { accumulate: false, isGrad: false }, { accumulate: false, isGrad: false }]);
    handGrad([a, b, c, 7000], (s) => write(s, [a, b, c, 7000]), { adds: [true, false, false, false] });
    // second call: a adds in place, b gets a temporary that is added afterwards
    expect(seen.splice(0)).toEqual([{ accumulate: true, isGrad: true }, { accumulate: false, isGrad: false }, { accumulate: false, isGrad: false }, { accumulate: false, isGrad: false }]);
    expect(a.grad!.data.every((v) => v === 4)).toBe(true);
    expect(b.grad!.data.every((v) => v === 4)).toBe(true);
    expect(c.grad).toBeNull();
    // only the two grads stay live: every temporary and scratch went back to the pool
    expect(pool.stats().liveBytes - live0).toBe(a.grad!.data.buffer.byteLength + b.grad!.data.buffer.byteLength);
  });

  it('an input given twice gets both contributions; nothing runs when no input needs a grad', () => {
    const x = parameter(new Float32Array(N), [N]);
    handGrad([x, x], ([s1, s2]) => {
      s1.buf.fill(1);
      s2.buf.fill(10);
    }, { adds: true });
    expect(x.grad!.data.every((v) => v === 11)).toBe(true);
    let ran = false;
    handGrad([wrap(new Float32Array(N), [N]), 10], () => (ran = true));
    expect(ran).toBe(false);
  });
});
