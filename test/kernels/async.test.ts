// Every kernel's …Async form: same bits as the synchronous form (also with several calls in
// flight at once), invalid arguments reject (never throw synchronously) with the same error
// class, and the rejection's stack points at the caller.
import { describe, expect, it } from 'vitest';

import { backend, kernels } from '../../lib/index.js';
import { expectSameBits } from '../helpers/compare.js';
import { makeRng } from '../helpers/seed.js';

const rng = makeRng(4242);
const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
const rows = 37, dim = 65;

interface Case {
  name: string;
  /** Fresh options (fresh output buffers) for one call. */
  make(): Record<string, unknown>;
  sync(o: Record<string, unknown>): unknown;
  async(o: Record<string, unknown>): Promise<unknown>;
  /** The arrays the call writes, read after it finished. */
  outputs(o: Record<string, unknown>, ret: unknown): Float32Array[];
  /** One bad field: [field, value, error class]. */
  bad: [string, unknown, typeof TypeError | typeof RangeError];
}

const x = rand(rows * dim), g = rand(rows * dim), w = rand(dim), b = rand(dim);
const ln = kernels.layernormForward({ x, weight: w, bias: b, rows, dim });
const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7) % dim);
const xe = kernels.softmaxXentForward({ logits: x, targets, rows, cols: dim });
const sm = kernels.softmaxForward({ x, rows, cols: dim });
const a = rand(rows * 129), bm = rand(129 * dim);

const f32 = (v: unknown): Float32Array => v as Float32Array;
const cases: Case[] = [
  {
    name: 'gemm', make: () => ({ a, b: bm, m: rows, n: dim, k: 129, transB: false }),
    sync: (o) => kernels.gemm(o as never), async: (o) => kernels.gemmAsync(o as never),
    outputs: (_o, r) => [f32(r)], bad: ['k', 0, RangeError],
  },
  {
    name: 'gemmBatched', make: () => ({ a, b: bm, batch: 1, m: rows, n: dim, k: 129 }),
    sync: (o) => kernels.gemmBatched(o as never), async: (o) => kernels.gemmBatchedAsync(o as never),
    outputs: (_o, r) => [f32(r)], bad: ['batch', 0, RangeError],
  },
  {
    name: 'layernormForward', make: () => ({ x, weight: w, bias: b, rows, dim }),
    sync: (o) => kernels.layernormForward(o as never), async: (o) => kernels.layernormForwardAsync(o as never),
    outputs: (_o, r) => { const t = r as { out: Float32Array; mean: Float32Array; rstd: Float32Array }; return [t.out, t.mean, t.rstd]; },
    bad: ['eps', 0, RangeError],
  },
  {
    name: 'layernormBackward', make: () => ({ dOut: g, x, weight: w, mean: ln.mean, rstd: ln.rstd, rows, dim }),
    sync: (o) => kernels.layernormBackward(o as never), async: (o) => kernels.layernormBackwardAsync(o as never),
    outputs: (_o, r) => { const t = r as { dx: Float32Array; dWeight: Float32Array; dBias: Float32Array }; return [t.dx, t.dWeight, t.dBias]; },
    bad: ['mean', new Float64Array(rows), TypeError],
  },
  {
    name: 'geluForward', make: () => ({ x, approximate: 'tanh' }),
    sync: (o) => kernels.geluForward(o as never), async: (o) => kernels.geluForwardAsync(o as never),
    outputs: (_o, r) => [f32(r)], bad: ['approximate', 'fast', RangeError],
  },
  {
    name: 'geluBackward', make: () => ({ dOut: g, x }),
    sync: (o) => kernels.geluBackward(o as never), async: (o) => kernels.geluBackwardAsync(o as never),
    outputs: (_o, r) => [f32(r)], bad: ['dOut', new Float32Array(3), RangeError],
  },
  {
    name: 'softmaxForward', make: () => ({ x, rows, cols: dim }),
    sync: (o) => kernels.softmaxForward(o as never), async: (o) => kernels.softmaxForwardAsync(o as never),
    outputs: (_o, r) => [f32(r)], bad: ['rows', Number.NaN, RangeError],
  },
  {
    name: 'softmaxBackward', make: () => ({ dOut: g, out: sm, rows, cols: dim }),
    sync: (o) => kernels.softmaxBackward(o as never), async: (o) => kernels.softmaxBackwardAsync(o as never),
    outputs: (_o, r) => [f32(r)], bad: ['cols', '65', TypeError],
  },
  {
    name: 'softmaxXentForward', make: () => ({ logits: x, targets, rows, cols: dim }),
    sync: (o) => kernels.softmaxXentForward(o as never), async: (o) => kernels.softmaxXentForwardAsync(o as never),
    outputs: (_o, r) => { const t = r as { loss: number; lse: Float32Array }; return [Float32Array.of(t.loss), t.lse]; },
    bad: ['targets', Int32Array.from({ length: rows }, () => dim), RangeError],
  },
  {
    name: 'softmaxXentBackward', make: () => ({ logits: x, lse: xe.lse, targets, rows, cols: dim, dLoss: 0.5 }),
    sync: (o) => kernels.softmaxXentBackward(o as never), async: (o) => kernels.softmaxXentBackwardAsync(o as never),
    outputs: (_o, r) => [f32(r)], bad: ['dLoss', Number.POSITIVE_INFINITY, RangeError],
  },
  {
    name: 'adamwStep',
    make: () => ({ param: x.slice(), grad: g, m: new Float32Array(x.length), v: new Float32Array(x.length), lr: 1e-3, step: 1 }),
    sync: (o) => kernels.adamwStep(o as never), async: (o) => kernels.adamwStepAsync(o as never),
    outputs: (o) => [f32(o.param), f32(o.m), f32(o.v)], bad: ['beta2', 1, RangeError],
  },
];

describe.each(cases)('$name async form', (c) => {
  it('gives the same bits as the sync form, also with 4 calls in flight', async () => {
    const o = c.make();
    const expected = c.outputs(o, c.sync(o));
    const opts = [0, 1, 2, 3].map(() => c.make());
    const rets = await Promise.all(opts.map((oo) => c.async(oo)));
    rets.forEach((r, i) => {
      const got = c.outputs(opts[i]!, r);
      got.forEach((arr, j) => expectSameBits(arr, expected[j]!, `${c.name} call ${i} output ${j}`));
    });
  });

  it(`rejects a bad ${c.bad[0]} with ${c.bad[2].name}, naming the caller`, async () => {
    const o = { ...c.make(), [c.bad[0]]: c.bad[1] };
    let p: Promise<unknown> | undefined;
    expect(() => { p = c.async(o); }).not.toThrow();
    const err = await p!.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(c.bad[2]);
    expect((err as Error).message).toMatch(new RegExp(`^${c.name}Async: expected ${c.bad[0]}`));
    expect(() => c.sync(o)).toThrow(c.bad[2]);
    // and straight at the raw binding (which must reject, not throw)
    const raw = (backend.native() as unknown as Record<string, (a: unknown) => Promise<unknown>>)[`${c.name}Async`]!;
    const rawErr = await raw({}).then(() => undefined, (e: unknown) => e);
    expect(rawErr).toBeInstanceOf(Error);
  });
});

describe('native errors surface with the caller stack', () => {
  it('a validation failure inside the binding keeps this file in the stack', async () => {
    // The wrapper validates first; bypass it to reach the binding's own checks.
    const err = await kernels.gemmAsync({ a: new Float32Array(4), b: new Float32Array(4), m: 2, n: 2, k: 2, beta: 1, c: new Float32Array(3) })
      .then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(RangeError);
    expect(err!.stack).toMatch(/async\.test\.ts/);
  });
});
