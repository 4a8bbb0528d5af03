// test/serve/batcher.test.ts — DynamicBatcher: which calls are coalesced and when (a recording
// batch function), each caller getting exactly its own results, errors confined to their call,
// backpressure, abort and close; then against a tiny real model: concurrent single-sample calls
// coalesced into batches give the numbers of single predict() calls (≤ 1e-6).
import { afterAll, describe, expect, it } from 'vitest';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import { packSamples, type Sample } from '../../lib/model/batch.js';
import { type Prediction, type PredictOptions } from '../../lib/model/predict.js';
import { type BatchInfo, BatcherError, DynamicBatcher } from '../../lib/model/batcher.js';
import { Rng } from '../../lib/tensor/index.js';

interface Deferred { resolve: () => void; promise: Promise<void> }
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { resolve, promise };
}

/** A batch function that records each batch and finishes it only when told (gate), mapping x → 10x (or rejecting on 'bad'). */
function recorder(opts: { gate?: boolean } = {}) {
  const batches: Array<{ items: Array<number | string>; options: unknown }> = [];
  const gates: Deferred[] = [];
  const run = async (items: Array<number | string>, options: unknown): Promise<number[]> => {
    batches.push({ items: [...items], options });
    if (opts.gate) {
      const g = deferred();
      gates.push(g);
      await g.promise;
    }
    if (items.includes('bad')) throw new RangeError(`item ${items.indexOf('bad')} is bad`);
    return items.map((x) => 10 * Number(x));
  };
  return { run, batches, gates };
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('DynamicBatcher scheduling', () => {
  it('calls that arrive while a batch runs are coalesced; each caller gets its own results in order', async () => {
    const r = recorder({ gate: true });
    const infos: BatchInfo[] = [];
    const b = new DynamicBatcher(r.run, { maxBatchSize: 8, maxDelayMs: 0, onBatch: (i) => infos.push(i) });
    const first = b.submit([1]);
    await tick();
    expect(r.batches).toHaveLength(1); // idle + no delay: ran at once
    const later = [b.submit([2, 3]), b.submit([4]), b.submit([5, 6, 7])];
    expect(b.queueDepth).toBe(6);
    expect(b.pendingCalls).toBe(3);
    r.gates[0]!.resolve();
    await tick();
    expect(r.batches.map((x) => x.items)).toEqual([[1], [2, 3, 4, 5, 6, 7]]);
    r.gates[1]!.resolve();
    expect(await first).toEqual([10]);
    expect(await Promise.all(later)).toEqual([[20, 30], [40], [50, 60, 70]]);
    expect(infos.map((i) => [i.size, i.calls])).toEqual([[1, 1], [6, 3]]);
    expect(b.queueDepth).toBe(0);
  });

  it('maxDelayMs lets an idle batcher wait for company; maxBatchSize caps a batch and dispatches at once when reached', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatchSize: 4, maxDelayMs: 40 });
    const p1 = b.submit([1]);
    await tick(5);
    expect(r.batches).toHaveLength(0); // waiting for the delay
    const p2 = b.submit([2]);
    await Promise.all([p1, p2]);
    expect(r.batches.map((x) => x.items)).toEqual([[1, 2]]);
    // 4 items reach maxBatchSize: no delay; the fifth call goes to the next batch
    const ps = [b.submit([1, 2]), b.submit([3, 4]), b.submit([5])];
    expect(r.batches).toHaveLength(2); // dispatched within submit(), not after the delay
    await Promise.all(ps);
    expect(r.batches.slice(1).map((x) => x.items)).toEqual([[1, 2, 3, 4], [5]]);
  });

  it('a call larger than maxBatchSize runs alone and is never split', async () => {
    const r = recorder({ gate: true });
    const b = new DynamicBatcher(r.run, { maxBatchSize: 2, maxDelayMs: 0 });
    const a = b.submit([1]);
    await tick();
    const big = b.submit([2, 3, 4, 5, 6]);
    const small = b.submit([7]);
    r.gates[0]!.resolve();
    await tick();
    r.gates[1]!.resolve();
    await tick();
    r.gates[2]!.resolve();
    expect(await Promise.all([a, big, small])).toEqual([[10], [20, 30, 40, 50, 60], [70]]);
    expect(r.batches.map((x) => x.items)).toEqual([[1], [2, 3, 4, 5, 6], [7]]);
  });

  it('coalesces only calls with the same options key, keeping each key in arrival order', async () => {
    const r = recorder({ gate: true });
    const b = new DynamicBatcher<number | string, number, { labels: string[] }>(r.run, { maxBatchSize: 16, maxDelayMs: 0 });
    const first = b.submit([0]);
    await tick();
    const A = { labels: ['a', 'b'] };
    const ps = [b.submit([1], { options: A }), b.submit([2]), b.submit([3], { options: { labels: ['a', 'b'] } }), b.submit([4])];
    r.gates[0]!.resolve();
    await tick();
    r.gates[1]!.resolve();
    await tick();
    r.gates[2]!.resolve();
    await Promise.all([first, ...ps]);
    expect(r.batches.map((x) => x.items)).toEqual([[0], [1, 3], [2, 4]]);
    expect(r.batches[1]!.options).toEqual(A);
    expect(r.batches[2]!.options).toBeUndefined();
  });
});

describe('DynamicBatcher errors, backpressure, abort, close', () => {
  it('validate() rejects a call alone at submit(); it never reaches a batch', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, {
      maxBatchSize: 8, maxDelayMs: 10,
      validate: (items) => { if (items.includes('bad')) throw new RangeError('no bad items'); },
    });
    const ps = [b.submit([1]), b.submit(['bad']), b.submit([2])];
    await expect(ps[1]).rejects.toThrow(/no bad items/);
    expect(await ps[0]).toEqual([10]);
    expect(await ps[2]).toEqual([20]);
    expect(r.batches.map((x) => x.items)).toEqual([[1, 2]]);
  });

  it('a batch that fails is split: the failing call gets the error, the others their results', async () => {
    const r = recorder();
    const infos: BatchInfo[] = [];
    const b = new DynamicBatcher(r.run, { maxBatchSize: 8, maxDelayMs: 10, onBatch: (i) => infos.push(i) });
    const ps = [b.submit([1]), b.submit([2, 'bad']), b.submit([3, 4])];
    const settled = await Promise.allSettled(ps);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: [10] });
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: { name: 'RangeError', message: 'item 1 is bad' } });
    expect(settled[2]).toEqual({ status: 'fulfilled', value: [30, 40] });
    expect(r.batches.map((x) => x.items)).toEqual([[1, 2, 'bad', 3, 4], [1], [2, 'bad'], [3, 4]]);
    expect(infos).toHaveLength(1);
    expect(infos[0]).toMatchObject({ size: 5, calls: 3, split: true });
  });

  it('a batch function that returns the wrong number of results rejects its callers with ERR_BATCHER_RESULTS', async () => {
    const b = new DynamicBatcher(async (items: number[]) => items.slice(1), { maxBatchSize: 4, maxDelayMs: 0 });
    await expect(b.submit([1, 2])).rejects.toMatchObject({ code: 'ERR_BATCHER_RESULTS', message: /returned 1 results for 2 items/ });
  });

  it('backpressure: beyond maxQueue waiting items a call rejects at once with ERR_BATCHER_QUEUE_FULL', async () => {
    const r = recorder({ gate: true });
    const b = new DynamicBatcher(r.run, { maxBatchSize: 2, maxDelayMs: 0, maxQueue: 3 });
    const running = b.submit([1, 2]);
    await tick();
    const ok = [b.submit([3, 4]), b.submit([5])]; // 3 waiting: at the limit
    const full = b.submit([6]);
    await expect(full).rejects.toBeInstanceOf(BatcherError);
    await expect(full).rejects.toMatchObject({ code: 'ERR_BATCHER_QUEUE_FULL', message: /3 items are waiting and this call adds 1; the limit is 3/ });
    expect(b.queueDepth).toBe(3);
    for (let i = 0; i < 3; i++) {
      r.gates[i]!.resolve();
      await tick();
    }
    expect(await Promise.all([running, ...ok])).toEqual([[10, 20], [30, 40], [50]]);
  });

  it('abort before the batch starts: AbortError, removed from the queue; after it starts: completes', async () => {
    const r = recorder({ gate: true });
    const b = new DynamicBatcher(r.run, { maxBatchSize: 8, maxDelayMs: 0 });
    const startedCtl = new AbortController();
    const started = b.submit([1], { signal: startedCtl.signal });
    await tick();
    const ctl = new AbortController();
    const queued = b.submit([2], { signal: ctl.signal });
    const stays = b.submit([3]);
    expect(b.queueDepth).toBe(2);
    ctl.abort();
    startedCtl.abort(); // its batch is running: ignored
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect(b.queueDepth).toBe(1);
    expect(b.abortedCalls).toBe(1);
    const pre = new AbortController();
    pre.abort(new Error('client went away'));
    await expect(b.submit([4], { signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError', cause: { message: 'client went away' } });
    r.gates[0]!.resolve();
    await tick();
    r.gates[1]!.resolve();
    expect(await started).toEqual([10]);
    expect(await stays).toEqual([30]);
    expect(r.batches.map((x) => x.items)).toEqual([[1], [3]]);
  });

  it('close({ drain: true }) runs the queued calls at once and says so', async () => {
    const r = recorder({ gate: true });
    const b = new DynamicBatcher(r.run, { maxBatchSize: 2, maxDelayMs: 10_000 });
    const ps = [b.submit([1]), b.submit([2]), b.submit([3])];
    await tick();
    expect(r.batches).toHaveLength(1); // two items: maxBatchSize reached
    const closed = b.close({ drain: true });
    await expect(b.submit([9])).rejects.toMatchObject({ code: 'ERR_BATCHER_CLOSED' });
    r.gates[0]!.resolve();
    await tick();
    expect(r.batches.map((x) => x.items)).toEqual([[1, 2], [3]]); // no 10 s delay while draining
    r.gates[1]!.resolve();
    expect(await closed).toEqual({ completed: 3, rejected: 0 }); // the two running at close() and the one drained
    expect(await Promise.all(ps)).toEqual([[10], [20], [30]]);
    expect(await b.close()).toEqual({ completed: 3, rejected: 0 });
  });

  it('close({ drain: false }) rejects the queued calls, lets the running batch finish, and says so', async () => {
    const r = recorder({ gate: true });
    const b = new DynamicBatcher(r.run, { maxBatchSize: 1, maxDelayMs: 0 });
    const ps = [b.submit([1]), b.submit([2]), b.submit([3])];
    await tick();
    const closed = b.close({ drain: false });
    await expect(ps[1]).rejects.toMatchObject({ code: 'ERR_BATCHER_CLOSED', message: /closed before this call ran/ });
    await expect(ps[2]).rejects.toMatchObject({ code: 'ERR_BATCHER_CLOSED' });
    r.gates[0]!.resolve();
    expect(await ps[0]).toEqual([10]);
    expect(await closed).toEqual({ completed: 1, rejected: 2 });
    expect(r.batches).toHaveLength(1);
  });

  it('rejects bad options and bad calls with messages', async () => {
    const run = async (x: number[]): Promise<number[]> => x;
    expect(() => new DynamicBatcher(run, { maxBatchSize: 0, maxDelayMs: 0 })).toThrow(/maxBatchSize must be a positive integer, received 0/);
    expect(() => new DynamicBatcher(run, { maxBatchSize: 2, maxDelayMs: -1 })).toThrow(/maxDelayMs must be a finite number ≥ 0/);
    expect(() => new DynamicBatcher(run, { maxBatchSize: 2, maxDelayMs: 0, maxQueue: 1.5 })).toThrow(/maxQueue must be a positive integer/);
    const b = new DynamicBatcher(run, { maxBatchSize: 2, maxDelayMs: 0 });
    await expect(b.submit([])).rejects.toThrow(/non-empty array/);
    expect(b.maxQueue).toBe(128);
  });
});

describe('DynamicBatcher over a real model', () => {
  const config = makeConfig('tiny', {
    width: 16,
    heads: 2,
    modalities: { text: { dim: 12, maxLength: 20 }, audio: { dim: 5, maxLength: 30 }, vision: { dim: 6, maxLength: 40 } },
    clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
  });
  const model = new MerClip(config, undefined, { seed: 3 });
  afterAll(() => model.close());

  function sample(rng: Rng, i: number): Sample {
    const mod = (L: number, D: number) => ({ features: rng.fillNormal(new Float32Array(L * D)), length: rng.int(1, L) });
    // varied true lengths and padding sizes; every fifth sample lacks audio
    return { text: mod(rng.int(1, 20), 12), audio: i % 5 === 0 ? null : mod(30, 5), vision: mod(rng.int(1, 40), 6) };
  }
  // probabilities to 1e-6; the score Σ p_c v_c to 1e-6 × max |v_c| (3 for the sentiment values):
  // a sample's numbers differ by a few float32 ulps between batch compositions (kernel blocking)
  const expectClose = (got: Prediction, want: Prediction, maxValue = 3): void => {
    expect(got.label).toBe(want.label);
    expect(Math.abs(got.score! - want.score!)).toBeLessThanOrEqual(1e-6 * maxValue);
    got.probs.forEach((p, c) => expect(Math.abs(p - want.probs[c]!)).toBeLessThanOrEqual(1e-6));
  };

  it('64 concurrent single-sample calls are coalesced and each equals a single predict() call', async () => {
    const rng = new Rng(21);
    const samples = Array.from({ length: 64 }, (_, i) => sample(rng, i));
    const singles: Prediction[] = [];
    for (const s of samples) singles.push(await model.predict(s));
    const sizes: number[] = [];
    const b = new DynamicBatcher<Sample, Prediction, PredictOptions>((s, o) => model.predict(s, { ...o, batchSize: 16 }), {
      maxBatchSize: 16, maxDelayMs: 2, onBatch: (i) => sizes.push(i.size),
    });
    const got = await Promise.all(samples.map((s) => b.submit([s])));
    got.forEach(([p], i) => expectClose(p!, singles[i]!));
    expect(sizes.reduce((a, x) => a + x, 0)).toBe(64);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    // calls of several samples and another label set, interleaved: each gets its own
    const labels = { labels: ['negative', 'neutral', 'positive'], values: [-1, 0, 1] };
    const custom = await Promise.all(samples.slice(0, 6).map((s) => model.predict(s, labels)));
    const mixed = await Promise.all([
      b.submit(samples.slice(0, 3)), b.submit(samples.slice(0, 3), { options: labels }),
      b.submit(samples.slice(3, 6)), b.submit(samples.slice(3, 6), { options: labels }),
    ]);
    mixed[0]!.forEach((p, i) => expectClose(p, singles[i]!));
    mixed[1]!.forEach((p, i) => expectClose(p, custom[i]!));
    mixed[2]!.forEach((p, i) => expectClose(p, singles[3 + i]!));
    mixed[3]!.forEach((p, i) => expectClose(p, custom[3 + i]!));
    await b.close();
  });

  it("a bad sample fails only its caller: validated at submit(), or split out of the batch when it was not", async () => {
    const rng = new Rng(5);
    const good = Array.from({ length: 4 }, (_, i) => sample(rng, i + 1));
    const singles = await model.predict(good);
    const nan = new Float32Array(2 * 12);
    nan[13] = Number.NaN;
    const bad: Sample = { text: nan };
    for (const validate of [undefined, (s: readonly Sample[]) => { packSamples(s, config, s.length); }]) {
      let runs = 0;
      const b = new DynamicBatcher<Sample, Prediction, PredictOptions>((s, o) => { runs++; return model.predict(s, o); }, { maxBatchSize: 8, maxDelayMs: 20, validate });
      const ps = [b.submit([good[0]!]), b.submit([good[1]!, bad]), b.submit([good[2]!, good[3]!])];
      const settled = await Promise.allSettled(ps);
      expect(settled[1]).toMatchObject({ status: 'rejected', reason: { name: 'RangeError', message: /sample 1 text: value NaN at step 1, feature 1/ } });
      expectClose((settled[0] as PromiseFulfilledResult<Prediction[]>).value[0]!, singles[0]!);
      const last = (settled[2] as PromiseFulfilledResult<Prediction[]>).value;
      expectClose(last[0]!, singles[2]!);
      expectClose(last[1]!, singles[3]!);
      expect(runs).toBe(validate ? 1 : 4); // validated: one batch of the good calls; else the batch and three retries
      await b.close();
    }
  });
});
