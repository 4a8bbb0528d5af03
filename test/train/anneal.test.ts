// The anneal before early stopping (TrainOptions.anneal): once the valid MAE has not improved for
// `patience` epochs, the learning rate falls from the schedule's value at that step to lr/100
// along a half cosine over `anneal` epochs, and the run stops after them. Pinned against an
// independent reading of the run's own history: the epoch the anneal begins (the first epoch
// `patience` epochs past the best so far), the learning rate of every optimiser step, the stop
// epoch, the best epoch's weights in the returned model, and a resume cut inside the anneal (and
// at its start) ending bit-identical to the uninterrupted run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { generateSynthetic } from '../../lib/data/synth.js';
import { readSafetensors } from '../../lib/io/index.js';
import { warmupCosine } from '../../lib/nn/index.js';
import { evaluate, train, type TrainEvent, type TrainOptions } from '../../lib/train/index.js';
import { smallConfig, tempDirs } from '../helpers/training.js';

const tmp = tempDirs('anneal');

const data = generateSynthetic({ seed: 9, sizes: { train: 48, valid: 16, test: 16 }, text: { length: 5, dim: 6 }, audio: { length: 6, dim: 5 }, vision: { length: 7, dim: 4 } }).splits;
const model = smallConfig(data.train);
const STEPS_PER_EPOCH = 6; // 48 / 8
const EPOCHS = 40;
// a learning rate high enough that the valid MAE stalls early (as in earlyStop.test.ts)
const opts: TrainOptions = { model, epochs: EPOCHS, batchSize: 8, lr: 5e-2, warmupFloor: 6, patience: 2, anneal: 3, seed: 1 };

/** The epochs done when `patience` epochs have passed without a lower valid MAE (1-based history). */
function stallEpoch(maes: number[], patience: number): number {
  let best = 1;
  for (let e = 1; e <= maes.length; e++) {
    if (maes[e - 1]! < maes[best - 1]!) best = e;
    if (e - best >= patience) return e;
  }
  return -1;
}

async function checkpointTensors(dir: string): Promise<Map<string, Buffer>> {
  const { tensors } = await readSafetensors(join(dir, 'checkpoint.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]));
}

describe('anneal before early stopping', () => {
  it('anneals from the stall for `anneal` epochs at the exact learning rates, then stops, keeping the best epoch', async () => {
    const lrs: number[] = [];
    const events: TrainEvent[] = [];
    const r = await train(data, { ...opts, onEvent: (e) => {
      events.push(e);
      if (e.type === 'step') lrs.push(e.lr);
    } });
    const maes = r.history.map((h) => h.valid.mae);
    const a = stallEpoch(maes, 2);
    expect(a).toBeGreaterThan(0);
    expect(a).toBeLessThan(EPOCHS - 3); // the test needs a stall well before the last epoch
    // the run stops exactly `anneal` epochs after the stall
    expect(r.history).toHaveLength(a + 3);
    expect(r.stoppedEarly).toBe(true);
    expect(lrs).toHaveLength((a + 3) * STEPS_PER_EPOCH);
    // every step's learning rate, computed here in float64 from the definitions
    const total = EPOCHS * STEPS_PER_EPOCH;
    const warm = Math.min(Math.floor(total / 4), Math.max(6, Math.round(0.05 * total))); // 12
    const main = (s: number): number => (s < warm ? (5e-2 * (s + 1)) / warm : 5e-4 + 0.5 * (5e-2 - 5e-4) * (1 + Math.cos((Math.PI * (s - warm)) / (total - warm))));
    const from = a * STEPS_PER_EPOCH;
    const n = 3 * STEPS_PER_EPOCH;
    lrs.forEach((lr, s) => {
      const want = s < from ? main(s) : 5e-4 + 0.5 * (main(from) - 5e-4) * (1 + Math.cos((Math.PI * (s - from)) / n));
      expect(lr, `step ${s}`).toBeCloseTo(want, 12);
    });
    // up to the stall it is the plain schedule, bit for bit; the anneal falls monotonically towards lr/100
    const plain = warmupCosine({ baseLr: 5e-2, warmupSteps: warm, totalSteps: total, minLr: 5e-4 });
    expect(lrs.slice(0, from)).toEqual(Array.from({ length: from }, (_, s) => plain(s)));
    for (let s = from + 1; s < lrs.length; s++) expect(lrs[s]!).toBeLessThan(lrs[s - 1]!);
    expect(lrs.at(-1)! - 5e-4).toBeLessThan(0.01 * (main(from) - 5e-4));
    // the epoch records' lr is the last step's
    r.history.forEach((h) => expect(h.lr).toBe(lrs[h.epoch * STEPS_PER_EPOCH - 1]));
    // the best epoch over the whole run (anneal included), and its weights in the returned model
    const best = maes.indexOf(Math.min(...maes)) + 1;
    expect(r.bestEpoch).toBe(best);
    expect(evaluate(r.model, data.valid, { batchSize: 8 }).metrics.mae).toBe(maes[best - 1]);
    expect(evaluate(r.model, data.test!, { batchSize: 8 }).metrics).toEqual(r.test);
    const anneals = events.filter((e) => e.type === 'anneal');
    expect(anneals.map(({ lr: _lr, ...rest }) => rest)).toEqual([{ type: 'anneal', epoch: a, bestEpoch: stallBest(maes, a), patience: 2, epochs: 3 }]);
    expect(anneals[0]!.lr).toBeCloseTo(main(from), 12);
    expect(events.filter((e) => e.type === 'early-stop')).toEqual([{ type: 'early-stop', epoch: a + 3, bestEpoch: best, patience: 2, monitor: 'mae' }]);
  });

  it('anneal 0 stops at the stall; the anneal run is that run up to the stall', async () => {
    const r0 = await train(data, { ...opts, anneal: 0 });
    const r3 = await train(data, { ...opts });
    const a = stallEpoch(r3.history.map((h) => h.valid.mae), 2);
    expect(r0.history).toHaveLength(a);
    const strip = (h: typeof r0.history): unknown[] => h.map(({ seconds: _s, samplesPerSec: _p, ...rest }) => rest);
    expect(strip(r3.history.slice(0, a))).toEqual(strip(r0.history));
  });

  for (const [what, cut] of [['inside the anneal', 8], ['at its start', 0]] as const) {
    it(`a run cut ${what} resumes to the uninterrupted run's checkpoint, bit for bit`, async () => {
      const fullDir = tmp();
      const full = await train(data, { ...opts, outDir: fullDir });
      const a = stallEpoch(full.history.map((h) => h.valid.mae), 2);
      const cutDir = tmp();
      const first = await train(data, { ...opts, outDir: cutDir, checkpointEvery: 5, maxStepsThisRun: a * STEPS_PER_EPOCH + cut });
      expect(first.finished).toBe(false);
      const again = await train(data, { ...opts, outDir: cutDir, checkpointEvery: 5, resume: true });
      expect(again.finished).toBe(true);
      expect(again.history).toHaveLength(full.history.length);
      expect(again.bestEpoch).toBe(full.bestEpoch);
      const x = await checkpointTensors(fullDir);
      const y = await checkpointTensors(cutDir);
      expect([...y.keys()]).toEqual([...x.keys()]);
      for (const [k, v] of x) expect(y.get(k)!.equals(v), k).toBe(true);
      const lines = (d: string): unknown[] => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => { const { seconds: _s, samplesPerSec: _p, ...rest } = JSON.parse(l) as Record<string, unknown>; return rest; });
      expect(lines(cutDir)).toEqual(lines(fullDir));
      const done = await train(data, { ...opts, outDir: cutDir, resume: true });
      expect(done.alreadyFinished).toBe(true);
    });
  }

  it('rejects a bad anneal', async () => {
    await expect(train(data, { model, anneal: -1 })).rejects.toThrow(/anneal must be a non-negative integer, received -1/);
    await expect(train(data, { model, anneal: 1.5 })).rejects.toThrow(/anneal must be a non-negative integer, received 1.5/);
  });
});

/** The best epoch (lowest valid MAE) among the first `upTo` epochs. */
function stallBest(maes: number[], upTo: number): number {
  const head = maes.slice(0, upTo);
  return head.indexOf(Math.min(...head)) + 1;
}
