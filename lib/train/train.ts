// lib/train/train.ts — training and evaluation of MER-CLIP (SPEC §4 checkpoints, §5 metrics, §8
// reliability).
//
// train(): AdamW, linear warmup + cosine schedule, gradient clipping by global norm, evaluation
// on valid every epoch, the best epoch kept by valid loss, test metrics at the best epoch.
//
// Checkpoints (outDir/checkpoint.safetensors, written atomically: temp file, fsync, rename)
// hold the weights (`model.<name>`), AdamW's moments (`optim.m.<name>`, `optim.v.<name>`) and, in
// metadata, the step / epoch / batch position, the configs, the best epoch so far and the history.
// The batch order of an epoch is a function of (seed, epoch) only and every kernel is
// deterministic, so resuming from a checkpoint ends with bit-identical weights to a run that was
// never interrupted. The best epoch's model is outDir/best/ (config.json + model.safetensors, the
// directory `merclip eval/predict --model` read), metrics.jsonl (a line per epoch),
// test_metrics.json (the best epoch's test metrics and confusion matrix) and report.html. A NaN/Inf loss stops training with a clear
// error before the optimiser touches the weights, so the last checkpoint stays the last good one.

import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ClipTokenizer } from '../clip/tokenizer.js';
import { batchIndices, gatherBatch, type Batch, type DataSplit } from '../data/batch.js';
import { evaluateRegression, type RegressionMetrics } from '../eval/metrics.js';
import { readSafetensors, type WritableTensor, writeSafetensors } from '../io/index.js';
import { type MerClipConfig, makeConfig, type Modality, sentimentClass, validateConfig } from '../model/config.js';
import { loadModel, MerClip, saveModel, weightTensors } from '../model/merclip.js';
import { AdamW, clipGradNorm, warmupCosine } from '../nn/index.js';
import { noGrad, tidy } from '../tensor/index.js';
import { writeReport } from './report.js';

export interface TrainData {
  train: DataSplit;
  valid: DataSplit;
  test?: DataSplit | undefined;
}

export interface TrainOptions {
  /** Model config (default: the tiny preset). */
  model?: MerClipConfig;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  /** Warmup as a fraction of all steps (default 0.05). */
  warmup?: number;
  /** Max global gradient norm (default 1). */
  gradClip?: number;
  seed?: number;
  /** Where checkpoints, best/ and metrics.jsonl go; nothing is written when absent. */
  outDir?: string;
  /** Also checkpoint every N optimiser steps (default 0: once per epoch). */
  checkpointEvery?: number;
  /** Continue from outDir/checkpoint.safetensors when it exists. */
  resume?: boolean;
  /** Modalities removed from every sample (an ablation: the model never sees them). */
  drop?: Modality[];
  tokenizer?: ClipTokenizer;
  /** Default: the training batch size (its activation buffers are then reused from the pool). */
  evalBatchSize?: number;
  onEvent?: (e: TrainEvent) => void;
  /** Stop after this many optimiser steps in this call (tests use it to simulate a crash). */
  maxStepsThisRun?: number;
}

export type TrainEvent =
  | { type: 'start'; totalSteps: number; stepsPerEpoch: number; epochs: number; resumedAtStep: number; parameters: number; trainable: number }
  | { type: 'step'; epoch: number; step: number; totalSteps: number; loss: number; lr: number; samplesPerSec: number }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'checkpoint'; path: string; step: number };

export interface EpochRecord {
  epoch: number;
  step: number;
  trainLoss: number;
  validLoss: number;
  valid: RegressionMetrics;
  /** When a test split was given. */
  testLoss?: number;
  test?: RegressionMetrics;
  lr: number;
  seconds: number;
  samplesPerSec: number;
}

export interface TrainResult {
  model: MerClip;
  bestEpoch: number;
  bestValidLoss: number;
  history: EpochRecord[];
  /** Test metrics with the best epoch's weights (when a test split was given). */
  test: RegressionMetrics | null;
  /** 7-class confusion matrix [true][predicted] of the test split at the best epoch. */
  confusion: number[][] | null;
  /** outDir/best when outDir was given. */
  modelDir: string | null;
  steps: number;
  /** False when maxStepsThisRun stopped it early. */
  finished: boolean;
}

export class TrainingDivergedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

interface TrainState {
  epoch: number;
  batch: number;
  step: number;
  bestEpoch: number;
  bestValidLoss: number;
  history: EpochRecord[];
  /** Sum and count of the current epoch's training loss so far. */
  lossSum: number;
  lossCount: number;
  /** The test split's 7-class confusion matrix at the best epoch so far. */
  bestConfusion: number[][] | null;
}

/** [true class][predicted class] over the 7 sentiment classes (round half to even of clip(y, ±3)). */
export function confusionMatrix(preds: ArrayLike<number>, labels: ArrayLike<number>): number[][] {
  const m = Array.from({ length: 7 }, () => new Array<number>(7).fill(0));
  for (let i = 0; i < labels.length; i++) m[sentimentClass(labels[i]!)]![sentimentClass(preds[i]!)]!++;
  return m;
}

const CHECKPOINT = 'checkpoint.safetensors';
const FORMAT = 'merclip-checkpoint';

/** A batch with some modalities removed (lengths 0: the model skips them). */
function withoutModalities<T extends Batch | DataSplit>(b: T, drop: readonly Modality[]): T {
  if (drop.length === 0) return b;
  const out = { ...b } as T & Record<Modality, unknown>;
  for (const m of drop) out[m] = { ...b[m], lengths: new Int32Array(b.count) };
  return out;
}

// ---------------------------------------------------------------------------------------------
// evaluation

export interface Evaluation {
  preds: Float32Array;
  /** Mean of L1 + λ·CE over the samples (the quantity the best epoch is chosen by). */
  loss: number;
  metrics: RegressionMetrics;
}

/**
 * Predictions for a whole split, in batches sorted by length (less padding; results do not
 * depend on the order — every attention takes the true lengths).
 */
export function evaluate(model: MerClip, split: DataSplit, opts: { batchSize?: number; drop?: Modality[] } = {}): Evaluation {
  const bs = opts.batchSize ?? 32;
  const n = split.count;
  if (n === 0) throw new RangeError('evaluate: the split is empty');
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => split.vision.lengths[b]! - split.vision.lengths[a]! || a - b);
  const preds = new Float32Array(n);
  let lossSum = 0;
  for (let s = 0; s < n; s += bs) {
    const idx = order.subarray(s, Math.min(n, s + bs));
    const batch = withoutModalities(gatherBatch(split, idx), opts.drop ?? []);
    lossSum += noGrad(() => tidy(() => {
      const out = model.forward(batch);
      out.score.data.forEach((v, i) => (preds[idx[i]!] = v));
      const { loss } = model.loss(out, batch.labels);
      return loss.item() * batch.count;
    }));
  }
  return { preds, loss: lossSum / n, metrics: evaluateRegression(preds, split.labels) };
}

// ---------------------------------------------------------------------------------------------
// checkpoints

async function writeCheckpoint(dir: string, model: MerClip, opt: AdamW, state: TrainState, options: object): Promise<string> {
  const tensors = new Map<string, WritableTensor>();
  for (const [name, t] of weightTensors(model)) tensors.set(`model.${name}`, t);
  const names = [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
  const { m, v, step } = opt.state();
  names.forEach((name, i) => {
    tensors.set(`optim.m.${name}`, { dtype: 'F32', shape: [m[i]!.length], data: m[i]! });
    tensors.set(`optim.v.${name}`, { dtype: 'F32', shape: [v[i]!.length], data: v[i]! });
  });
  const path = join(dir, CHECKPOINT);
  await writeSafetensors(path, tensors, {
    format: FORMAT,
    version: '1',
    config: JSON.stringify(model.config),
    options: JSON.stringify(options),
    state: JSON.stringify(state),
    optimStep: String(step),
  });
  return path;
}

async function readCheckpoint(dir: string, model: MerClip, opt: AdamW): Promise<TrainState> {
  const path = join(dir, CHECKPOINT);
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== FORMAT) throw new Error(`${path}: not a merclip checkpoint (format ${JSON.stringify(metadata.format)})`);
  const saved = JSON.parse(metadata.config ?? 'null') as MerClipConfig;
  if (JSON.stringify(saved) !== JSON.stringify(model.config)) {
    throw new Error(`${path}: the checkpoint was written for another model config; use another --out directory or the same config`);
  }
  const weights = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    if (name.startsWith('model.')) weights.set(name.slice(6), { shape: t.shape, data: t.data as Float32Array });
  }
  model.loadStateDict(weights, { source: path });
  const names = [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
  const get = (k: string): Float32Array => {
    const t = tensors.get(k);
    if (!t || !(t.data instanceof Float32Array)) throw new Error(`${path}: missing optimiser tensor "${k}"`);
    return t.data;
  };
  opt.loadState({ step: Number(metadata.optimStep), m: names.map((n) => get(`optim.m.${n}`)), v: names.map((n) => get(`optim.v.${n}`)) });
  return JSON.parse(metadata.state ?? 'null') as TrainState;
}

/** test_metrics.json: the best epoch so far, its test metrics and confusion matrix. */
function writeTestSummary(dir: string, state: TrainState, classes: readonly string[]): void {
  const test = state.history.find((r) => r.epoch === state.bestEpoch)?.test;
  if (!test) return;
  const summary = { bestEpoch: state.bestEpoch, bestValidLoss: state.bestValidLoss, test, confusion: state.bestConfusion, classes };
  const tmp = join(dir, `.test_metrics.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(summary, null, 2) + '\n');
  renameSync(tmp, join(dir, 'test_metrics.json'));
}

// ---------------------------------------------------------------------------------------------
// train

export async function train(data: TrainData, options: TrainOptions = {}): Promise<TrainResult> {
  const config = validateConfig(options.model ?? makeConfig('tiny'));
  const epochs = options.epochs ?? 4;
  const bs = options.batchSize ?? 32;
  const lr = options.lr ?? 2e-3;
  const seed = options.seed ?? 0;
  const drop = options.drop ?? [];
  for (const [k, v] of Object.entries({ epochs, batchSize: bs })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`train: ${k} must be a positive integer, received ${v}`);
  }
  if (!(lr > 0) || !Number.isFinite(lr)) throw new RangeError(`train: lr must be a positive number, received ${lr}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`train: seed must be a safe integer, received ${seed}`);
  if (data.train.count < 1 || data.valid.count < 1) throw new RangeError('train: the train and valid splits must not be empty');

  const model = new MerClip(config, options.tokenizer, { seed });
  const trainable = model.trainableParameters();
  const opt = new AdamW(trainable, { lr, weightDecay: options.weightDecay ?? 0.01 });
  const stepsPerEpoch = Math.ceil(data.train.count / bs);
  const totalSteps = epochs * stepsPerEpoch;
  const schedule = warmupCosine({ baseLr: lr, warmupSteps: Math.round((options.warmup ?? 0.05) * totalSteps), totalSteps, minLr: lr / 100 });
  const gradClip = options.gradClip ?? 1;
  // what a resumed run must agree on
  const runOptions = { epochs, batchSize: bs, lr, weightDecay: opt.weightDecay, warmup: options.warmup ?? 0.05, gradClip, seed, drop };

  const outDir = options.outDir ?? null;
  if (outDir) mkdirSync(outDir, { recursive: true });
  let state: TrainState = { epoch: 0, batch: 0, step: 0, bestEpoch: -1, bestValidLoss: Infinity, history: [], lossSum: 0, lossCount: 0, bestConfusion: null };
  let best: Float32Array[] | null = null;
  if (outDir && options.resume && existsSync(join(outDir, CHECKPOINT))) {
    state = await readCheckpoint(outDir, model, opt);
    if (state.bestEpoch >= 0 && existsSync(join(outDir, 'best', 'model.safetensors'))) {
      best = (await loadModel(join(outDir, 'best'), options.tokenizer)).parameters().map((p) => Float32Array.from(p.data));
    }
  } else if (outDir) {
    for (const f of ['metrics.jsonl', 'test_metrics.json', 'report.html']) rmSync(join(outDir, f), { force: true });
  }
  const emit = options.onEvent ?? ((): void => {});
  emit({ type: 'start', totalSteps, stepsPerEpoch, epochs, resumedAtStep: state.step, parameters: model.parameterCount(), trainable: trainable.reduce((s, p) => s + p.size, 0) });

  const saveCheckpoint = async (): Promise<void> => {
    if (!outDir) return;
    const path = await writeCheckpoint(outDir, model, opt, state, runOptions);
    emit({ type: 'checkpoint', path, step: state.step });
  };

  let stepsThisRun = 0;
  while (state.epoch < epochs) {
    const order = batchIndices(data.train.count, bs, { shuffle: true, seed: seed * 1000 + state.epoch });
    const t0 = performance.now();
    let seen = 0;
    for (; state.batch < order.length; ) {
      if (options.maxStepsThisRun !== undefined && stepsThisRun >= options.maxStepsThisRun) {
        return { model, bestEpoch: state.bestEpoch, bestValidLoss: state.bestValidLoss, history: state.history, test: null, confusion: null, modelDir: null, steps: state.step, finished: false };
      }
      const batch = withoutModalities(gatherBatch(data.train, order[state.batch]!), drop);
      const loss = tidy(() => {
        const out = model.forward(batch);
        const { loss: l } = model.loss(out, batch.labels);
        const v = l.item();
        if (Number.isFinite(v)) l.backward();
        return v;
      });
      const diverged = (what: string, value: number): TrainingDivergedError => {
        opt.zeroGrad();
        return new TrainingDivergedError(
          `training stopped: the ${what} became ${value} at step ${state.step + 1} (epoch ${state.epoch + 1}); ` +
          (outDir ? `the last good checkpoint is ${join(outDir, CHECKPOINT)}` : 'no checkpoint was written (no output directory)') +
          '. Check the data for NaN/Inf, or try a lower learning rate (--lr) or stronger gradient clipping.',
        );
      };
      if (!Number.isFinite(loss)) throw diverged('loss', loss);
      const lrNow = schedule(state.step);
      const gradNorm = clipGradNorm(trainable, gradClip);
      if (!Number.isFinite(gradNorm)) throw diverged('gradient norm', gradNorm); // before the weights change
      opt.step(lrNow);
      opt.zeroGrad();
      state.step++;
      state.batch++;
      stepsThisRun++;
      state.lossSum += loss * batch.count;
      state.lossCount += batch.count;
      seen += batch.count;
      emit({ type: 'step', epoch: state.epoch, step: state.step, totalSteps, loss, lr: lrNow, samplesPerSec: seen / ((performance.now() - t0) / 1000) });
      if (options.checkpointEvery && state.step % options.checkpointEvery === 0 && state.batch < order.length) await saveCheckpoint();
    }
    const seconds = (performance.now() - t0) / 1000;
    const v = evaluate(model, data.valid, { batchSize: options.evalBatchSize ?? bs, drop });
    const t = data.test && data.test.count > 0 ? evaluate(model, data.test, { batchSize: options.evalBatchSize ?? bs, drop }) : null;
    const record: EpochRecord = {
      epoch: state.epoch + 1,
      step: state.step,
      trainLoss: state.lossSum / Math.max(1, state.lossCount),
      validLoss: v.loss,
      valid: v.metrics,
      ...(t ? { testLoss: t.loss, test: t.metrics } : {}),
      lr: schedule(Math.max(0, state.step - 1)),
      seconds,
      samplesPerSec: seen / seconds,
    };
    state.history.push(record);
    if (v.loss < state.bestValidLoss) {
      state.bestValidLoss = v.loss;
      state.bestEpoch = record.epoch;
      state.bestConfusion = t ? confusionMatrix(t.preds, data.test!.labels) : null;
      best = model.parameters().map((p) => Float32Array.from(p.data));
      if (outDir) await saveModel(model, join(outDir, 'best'), { epoch: String(record.epoch), validLoss: String(v.loss) });
    }
    if (outDir) appendFileSync(join(outDir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
    if (outDir) {
      writeTestSummary(outDir, state, model.config.labels);
      await writeReport(outDir);
    }
    emit({ type: 'epoch', record });
    state.epoch++;
    state.batch = 0;
    state.lossSum = 0;
    state.lossCount = 0;
    await saveCheckpoint();
  }

  // the final weights stay in the checkpoint; the returned model gets the best epoch's, whose
  // test metrics were measured at that epoch
  if (best) model.parameters().forEach((p, i) => p.data.set(best![i]!));
  const test = state.history.find((r) => r.epoch === state.bestEpoch)?.test ?? null;
  return {
    model, bestEpoch: state.bestEpoch, bestValidLoss: state.bestValidLoss, history: state.history, test, confusion: state.bestConfusion,
    modelDir: outDir ? join(outDir, 'best') : null, steps: state.step, finished: true,
  };
}
