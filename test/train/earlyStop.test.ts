// Early stopping and the warmup schedule of train(): the run stops when the valid loss has not
// improved for `patience` epochs (epochs is a maximum), keeps the best epoch's weights, and a
// resume of such a run finds it finished; warmup is a fraction of the steps with a floor (capped
// at a quarter of the run), and the learning rate of every step follows warmupCosine exactly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { generateSynthetic } from '../../lib/data/synth.js';
import { warmupCosine } from '../../lib/nn/index.js';
import { TRAIN_DEFAULTS, train, type TrainEvent, warmupStepsFor } from '../../lib/train/train.js';
import { smallConfig, tempDirs } from '../helpers/training.js';

const tmp = tempDirs('early');

const data = generateSynthetic({ seed: 9, sizes: { train: 48, valid: 16, test: 16 }, text: { length: 5, dim: 6 }, audio: { length: 6, dim: 5 }, vision: { length: 7, dim: 4 } }).splits;
const model = smallConfig(data.train);

describe('warmup steps', () => {
  it('are the fraction of the steps, at least the floor, at most a quarter of the run', () => {
    expect(warmupStepsFor(10_000, 0.05, 100)).toBe(500);
    expect(warmupStepsFor(1000, 0.05, 100)).toBe(100); // 50 → the floor
    expect(warmupStepsFor(200, 0.05, 100)).toBe(50); // the floor capped at a quarter
    expect(warmupStepsFor(3, 0.05, 100)).toBe(0);
    expect(warmupStepsFor(1000, 0, 0)).toBe(0);
    expect(TRAIN_DEFAULTS.warmupFloor).toBeGreaterThan(0);
  });

  it('every step trains at warmupCosine(lr, warmup steps, total steps)', async () => {
    const lrs: number[] = [];
    let start: Extract<TrainEvent, { type: 'start' }> | null = null;
    await train(data, { model, epochs: 4, batchSize: 8, lr: 3e-3, warmup: 0.1, warmupFloor: 5, patience: 0, onEvent: (e) => {
      if (e.type === 'step') lrs.push(e.lr);
      if (e.type === 'start') start = e;
    } });
    expect(start!.totalSteps).toBe(24);
    expect(start!.warmupSteps).toBe(5); // round(2.4) = 2 → floor 5 (≤ 24/4)
    const want = warmupCosine({ baseLr: 3e-3, warmupSteps: 5, totalSteps: 24, minLr: 3e-5 });
    expect(lrs).toEqual(Array.from({ length: 24 }, (_, s) => want(s)));
  });
});

describe('early stopping', () => {
  it('stops after `patience` epochs without a better valid loss, keeps the best epoch, and resumes as finished', async () => {
    const out = tmp();
    const events: TrainEvent[] = [];
    // a learning rate high enough that the valid loss stops improving early
    const opts = { model, epochs: 40, batchSize: 8, lr: 5e-2, patience: 2, seed: 1, outDir: out };
    const r = await train(data, { ...opts, onEvent: (e) => events.push(e) });
    const losses = r.history.map((h) => h.valid.mae); // the default monitor
    const best = losses.indexOf(Math.min(...losses)) + 1;
    expect(r.bestEpoch).toBe(best);
    expect(r.stoppedEarly).toBe(true);
    expect(r.history.length).toBe(best + 2); // exactly `patience` epochs after the best
    for (const l of losses.slice(best)) expect(l).toBeGreaterThanOrEqual(losses[best - 1]!);
    expect(events.filter((e) => e.type === 'early-stop')).toEqual([{ type: 'early-stop', epoch: best + 2, bestEpoch: best, patience: 2, monitor: 'mae' }]);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(best + 2);
    const again = await train(data, { ...opts, resume: true });
    expect(again.alreadyFinished).toBe(true);
    expect(again.stoppedEarly).toBe(true);
    expect(again.bestEpoch).toBe(best);
  });

  it("monitor 'loss' picks the epoch of the lowest valid loss", async () => {
    const r = await train(data, { model, epochs: 6, batchSize: 8, lr: 5e-2, patience: 2, monitor: 'loss', seed: 1 });
    const losses = r.history.map((h) => h.validLoss);
    expect(r.bestEpoch).toBe(losses.indexOf(Math.min(...losses)) + 1);
    expect(r.bestValidLoss).toBe(Math.min(...losses));
  });

  it('patience 0 runs every epoch', async () => {
    const r = await train(data, { model, epochs: 3, batchSize: 16, lr: 5e-2, patience: 0, seed: 1 });
    expect(r.history).toHaveLength(3);
    expect(r.stoppedEarly).toBe(false);
  });

  it('rejects bad values', async () => {
    await expect(train(data, { model, patience: -1 })).rejects.toThrow(/patience must be a non-negative integer, received -1/);
    await expect(train(data, { model, warmupFloor: 1.5 })).rejects.toThrow(/warmupFloor must be a non-negative integer/);
    await expect(train(data, { model, warmup: 2 })).rejects.toThrow(/warmup must be a fraction in \[0, 1\]/);
    await expect(train(data, { model, monitor: 'corr' as never })).rejects.toThrow(/monitor must be 'mae' or 'loss', received "corr"/);
  });
});
