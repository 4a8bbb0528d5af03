// The checkpointed run state survives a write/read round trip field by field — Infinity, NaN,
// −0, an empty history — in the codec, and through a real checkpoint written before the first
// epoch ended (the case that used to come back with bestValidLoss null and lose the best model
// and the test metrics on resume). A corrupt state is refused with the field named.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { generateSynthetic } from '../../lib/data/synth.js';
import { readSafetensors } from '../../lib/io/index.js';
import { decodeTrainState, encodeTrainState, train, type TrainState } from '../../lib/train/index.js';
import { smallConfig, tempDirs } from '../helpers/training.js';

const tmp = tempDirs('state');

const metrics = { count: 3, countNon0: 2, mae: 0.5, corr: NaN, acc7: 1 / 3, acc5: -0, acc2Has0: 1, acc2Non0: NaN, f1Has0: Infinity, f1Non0: -Infinity };
const record = { epoch: 1, step: 6, trainLoss: 1.25, validLoss: -0, valid: metrics, testLoss: NaN, test: { ...metrics, mae: 0.1 + 0.2 }, lr: 1e-3, seconds: 0.5, samplesPerSec: Infinity };

const states: Array<[string, TrainState]> = [
  ['before the first epoch ends', { epoch: 0, batch: 3, step: 3, bestEpoch: -1, bestValidLoss: Infinity, bestMonitored: Infinity, history: [], lossSum: 4.5, lossCount: 48, bestConfusion: null }],
  ['special numbers everywhere', { epoch: 1, batch: 0, step: 6, bestEpoch: 1, bestValidLoss: -0, bestMonitored: 0.25, history: [record], lossSum: -0, lossCount: 0, bestConfusion: [[0, 1], [2, 3]] }],
  ['a NaN best loss and -Infinity sums', { epoch: 2, batch: 1, step: 13, bestEpoch: 2, bestValidLoss: NaN, bestMonitored: -Infinity, history: [record, { ...record, epoch: 2 }], lossSum: -Infinity, lossCount: 16, bestConfusion: null }],
];

/** Object.is on every leaf, naming the path of the first difference. */
function expectSameFields(got: unknown, want: unknown, path = 'state'): void {
  if (typeof want === 'number') {
    expect(Object.is(got, want), `${path}: ${String(got)} vs ${String(want)}`).toBe(true);
    return;
  }
  if (want === null || typeof want !== 'object') {
    expect(got, path).toBe(want);
    return;
  }
  expect(got !== null && typeof got === 'object', path).toBe(true);
  expect(Array.isArray(got), path).toBe(Array.isArray(want));
  const keys = Object.keys(want).sort();
  expect(Object.keys(got as object).sort(), path).toEqual(keys);
  for (const k of keys) expectSameFields((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`);
}

describe('run state codec', () => {
  for (const [name, state] of states) {
    it(`round-trips every field: ${name}`, () => {
      const text = encodeTrainState(state);
      const back = decodeTrainState(text, 'ckpt');
      expectSameFields(back, state);
      expect(encodeTrainState(back)).toBe(text);
    });
  }

  it('refuses a corrupt state, naming the field', () => {
    const good = JSON.parse(encodeTrainState(states[0]![1])) as Record<string, unknown>;
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /ckpt: the checkpoint's run state is invalid \(not JSON/],
      [[], /not an object/],
      [{ ...good, bestValidLoss: null }, /bestValidLoss must be a number, found null/],
      [{ ...good, bestMonitored: 'x' }, /bestMonitored must be a number, found "x"/],
      [{ ...good, epoch: -1 }, /epoch must be an integer ≥ 0, found -1/],
      [{ ...good, step: 1.5 }, /step must be an integer ≥ 0, found 1.5/],
      [{ ...good, bestEpoch: -2 }, /bestEpoch must be an integer ≥ -1/],
      [{ ...good, history: {} }, /history must be an array/],
      [{ ...good, history: [{ epoch: 1 }] }, /history\[0\] is not an epoch record/],
      [{ ...good, bestConfusion: [[1, 'x']] }, /bestConfusion must be null or a matrix of numbers/],
      [{ ...good, lossCount: undefined }, /lossCount must be an integer/],
    ];
    for (const [raw, re] of cases) expect(() => decodeTrainState(typeof raw === 'string' ? raw : JSON.stringify(raw), 'ckpt')).toThrow(re);
  });
});

describe('a checkpoint written before the first epoch ends', () => {
  const data = generateSynthetic({ seed: 4, sizes: { train: 64, valid: 16, test: 16 }, text: { length: 6, dim: 8 }, audio: { length: 8, dim: 5 }, vision: { length: 10, dim: 4 } }).splits;
  const model = smallConfig(data.train);
  const opts = { model, epochs: 2, batchSize: 16, lr: 2e-3, checkpointEvery: 3, seed: 2 };

  it('holds bestValidLoss Infinity, and resuming from it keeps best/ and the test metrics', async () => {
    const out = tmp();
    const stopped = await train(data, { ...opts, outDir: out, maxStepsThisRun: 3 });
    expect(stopped.finished).toBe(false);
    const { metadata } = await readSafetensors(join(out, 'checkpoint.safetensors'));
    const state = decodeTrainState(metadata.state!, 'ckpt');
    expectSameFields(state, { ...state, epoch: 0, batch: 3, step: 3, bestEpoch: -1, bestValidLoss: Infinity, bestMonitored: Infinity, history: [], bestConfusion: null });
    const resumed = await train(data, { ...opts, outDir: out, resume: true });
    const full = await train(data, { ...opts, outDir: tmp() });
    expect(resumed.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(resumed.bestEpoch).toBe(full.bestEpoch);
    expect(resumed.test).toEqual(full.test);
    expect(existsSync(join(out, 'best', 'model.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'test_metrics.json'), 'utf8')).bestEpoch).toBe(full.bestEpoch);
    // the returned model holds the best epoch's weights, as best/ does
    const best = await readSafetensors(join(out, 'best', 'model.safetensors'));
    for (const [name, p] of resumed.model.namedParameters()) expect(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).equals(Buffer.from((best.tensors.get(name)!.data as Float32Array).buffer, best.tensors.get(name)!.data.byteOffset, best.tensors.get(name)!.data.byteLength)), name).toBe(true);
  });

  it('a finished run resumes to alreadyFinished without writing anything', async () => {
    const out = tmp();
    await train(data, { ...opts, outDir: out });
    const before = readFileSync(join(out, 'checkpoint.safetensors'));
    const again = await train(data, { ...opts, outDir: out, resume: true });
    expect(again.alreadyFinished).toBe(true);
    expect(again.history).toHaveLength(2);
    expect(readFileSync(join(out, 'checkpoint.safetensors')).equals(before)).toBe(true);
  });

  it('refuses to resume with other training options, naming them', async () => {
    const out = tmp();
    await train(data, { ...opts, outDir: out, maxStepsThisRun: 3 });
    await expect(train(data, { ...opts, epochs: 3, lr: 1e-3, outDir: out, resume: true })).rejects.toThrow(/written with other training options \(epochs 2 → 3, lr 0\.002 → 0\.001\)/);
  });
});
