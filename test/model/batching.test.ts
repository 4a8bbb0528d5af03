// test/model/batching.test.ts — predict()'s opt-in dynamic batching (model.setBatching): concurrent
// single-sample calls coalesce into batches (observed through the queue depth while a batch runs)
// and each caller gets the numbers a lone predict() gives it (≤ 1e-6); a bad sample fails only its
// caller; maxQueue, AbortSignal and close({ drain }) behave as documented.
import { afterAll, describe, expect, it } from 'vitest';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import type { Sample } from '../../lib/model/batch.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import type { Prediction } from '../../lib/model/predict.js';
import { Rng } from '../../lib/tensor/index.js';

const config = makeConfig('tiny', {
  width: 16,
  heads: 2,
  modalities: { text: { dim: 12, maxLength: 20 }, audio: { dim: 5, maxLength: 30 }, vision: { dim: 6, maxLength: 40 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
});

function sample(rng: Rng, i: number): Sample {
  const mod = (L: number, D: number) => ({ features: rng.fillNormal(new Float32Array(L * D)), length: rng.int(1, L) });
  return { text: mod(rng.int(1, 20), 12), audio: i % 4 === 0 ? null : mod(30, 5), vision: mod(rng.int(1, 40), 6) };
}

function expectClose(got: Prediction, want: Prediction): void {
  expect(got.label).toBe(want.label);
  for (let c = 0; c < want.probs.length; c++) expect(Math.abs(got.probs[c]! - want.probs[c]!)).toBeLessThanOrEqual(1e-6);
  expect(Math.abs(got.score! - want.score!)).toBeLessThanOrEqual(3e-6);
}

describe('predict() with dynamic batching', () => {
  const model = new MerClip(config, undefined, { seed: 5 });
  const rng = new Rng(11);
  const samples = Array.from({ length: 24 }, (_, i) => sample(rng, i));
  afterAll(() => model.close());

  it('coalesces concurrent single-sample calls; each caller gets its own numbers', async () => {
    const alone: Prediction[] = [];
    for (const s of samples) alone.push(await model.predict(s));
    expect(await model.setBatching({ maxBatchSize: 8, maxDelayMs: 5 })).toBeNull();
    const calls = samples.map((s) => model.predict(s));
    // all were submitted synchronously: the first batch (≤ 8) runs, the rest wait in the queue
    expect(model.predictQueueDepth).toBeGreaterThanOrEqual(samples.length - 8);
    const got = await Promise.all(calls);
    got.forEach((g, i) => expectClose(g, alone[i]!));
    // an array call and another label set go through the batcher too
    const pair = await model.predict([samples[0]!, samples[1]!], { labels: ['sad', 'happy'], values: [-1, 1] });
    const pairAlone = await (async () => {
      await model.setBatching(null);
      return model.predict([samples[0]!, samples[1]!], { labels: ['sad', 'happy'], values: [-1, 1] });
    })();
    pair.forEach((p, i) => expectClose(p, pairAlone[i]!));
  });

  it('a bad sample fails only its own call; abort withdraws a waiting call; maxQueue refuses with a code', async () => {
    await model.setBatching({ maxBatchSize: 4, maxDelayMs: 0, maxQueue: 6 });
    const good = [model.predict(samples[2]!), model.predict(samples[3]!)];
    const bad = model.predict({ text: { features: new Float32Array(7), length: 1 } }); // 7 is not a multiple of dim 12
    await expect(bad).rejects.toThrow(/text/);
    const ac = new AbortController();
    const waiting = model.predict(samples[4]!, { signal: ac.signal });
    ac.abort(new Error('client went away'));
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    const results = await Promise.all(good);
    expect(results).toHaveLength(2);
    // flood: the first batch starts, then at most 6 samples may wait
    const flood = Array.from({ length: 16 }, (_, i) => model.predict(samples[i]!).then(() => 'ok', (e: { code?: string }) => e.code ?? 'other'));
    const outcomes = await Promise.all(flood);
    expect(outcomes.filter((o) => o === 'ERR_BATCHER_QUEUE_FULL').length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(7);
    expect(outcomes.every((o) => o === 'ok' || o === 'ERR_BATCHER_QUEUE_FULL')).toBe(true);
  });

  it('close({ drain: true }) runs the queued calls, close() rejects them, and says how many', async () => {
    await model.setBatching({ maxBatchSize: 2, maxDelayMs: 0 });
    const drained = samples.slice(0, 6).map((s) => model.predict(s));
    const r = await model.close({ drain: true });
    expect(r).toEqual({ completed: expect.any(Number), rejected: 0 });
    expect((await Promise.all(drained)).length).toBe(6);
    const rejected = samples.slice(0, 6).map((s) => model.predict(s).then(() => 'ok', (e: { code?: string }) => e.code));
    const r2 = await model.close();
    expect(r2!.rejected).toBeGreaterThan(0);
    const outcomes = await Promise.all(rejected);
    expect(outcomes.filter((o) => o === 'ERR_BATCHER_CLOSED').length).toBe(r2!.rejected);
    // batching stays on and the model stays usable after close()
    expect(model.predictQueueDepth).toBe(0);
    expect((await model.predict(samples[0]!)).probs).toHaveLength(7);
  });
});
