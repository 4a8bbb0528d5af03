// lib/train/train.ts — training and evaluation of MER-CLIP (SPEC §4 checkpoints, §5 metrics, §8
// reliability).
//
// train(): AdamW, linear warmup + cosine schedule, gradient clipping by global norm, evaluation
// on valid every epoch, the best epoch kept by the valid MAE (or loss: TrainOptions.monitor), early stopping, test metrics at the best epoch.
//
// Outputs in outDir: checkpoint.safetensors — the weights (`model.<name>`), AdamW's moments
// (`optim.m.<name>`, `optim.v.<name>`) and, in metadata, the run state (step / epoch / batch
// position, best epoch so far, history; exact JSON, io/json.ts, so Infinity and NaN survive) and
// the options a resume must agree on; best/ (config.json + model.safetensors, the best epoch's
// model, the directory `merclip eval/predict --model` read); metrics.jsonl (a line per epoch);
// test_metrics.json (the best epoch's test metrics and confusion matrix); report.html.
//
// Crash safety (a run killed at any moment resumes to the outputs of an uninterrupted run):
// - every file is written atomically (io/atomic.ts); a resume deletes the temp files killed
//   writers left;
// - the checkpoint is the commit point: at an epoch's end best/, metrics.jsonl, test_metrics.json
//   and report.html are written first (each a pure function of the run state), the checkpoint
//   last. A kill before the checkpoint's rename replays the epoch from the previous checkpoint,
//   which rewrites those files with the same content (timings aside); a kill after it finds them
//   complete. best/ may thus be one epoch ahead of the checkpoint after a kill; its weights are
//   used only when its epoch is the checkpoint's best epoch, and the replay rewrites it;
// - the batch order of an epoch is a function of (seed, epoch) only and every kernel is
//   deterministic, so the replayed steps give bit-identical weights.
// Resuming a finished run does nothing and says so (TrainResult.alreadyFinished). A NaN/Inf loss
// stops training with a clear error before the optimiser touches the weights, so the last
// checkpoint stays the last good one.

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import type { Clip } from '../clip/model.js';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import { batchIndices, gatherBatch, type DataSplit, withoutModalities } from '../data/batch.js';
import { evaluateRegression, type RegressionMetrics } from '../eval/metrics.js';
import { failpoint, parseExact, readSafetensors, removeStaleTemps, stringifyExact, type WritableTensor, writeFileAtomic, writeSafetensors } from '../io/index.js';
import { type MerClipConfig, makeConfig, type Modality, sentimentClass, validateConfig } from '../model/config.js';
import { MerClip, saveModel, weightTensors } from '../model/merclip.js';
import { AdamW, clipGradNorm, warmupCosine } from '../nn/index.js';
import { deriveSeed, noGrad, Rng, tidy } from '../tensor/index.js';
import { writeReport } from './report.js';
import type { EpochRecord } from './types.js';

export type { EpochRecord } from './types.js';

export interface TrainData {
  train: DataSplit;
  valid: DataSplit;
  test?: DataSplit | undefined;
}

export interface TrainOptions {
  /** Model config (default: the tiny preset). */
  model?: MerClipConfig;
  /** The most epochs (early stopping may end the run sooner). Default TRAIN_DEFAULTS.epochs. */
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  /** Warmup as a fraction of all steps (default 0.05), at least `warmupFloor` steps. */
  warmup?: number;
  /** Fewest warmup steps (default DEFAULT_WARMUP_FLOOR; never more than a quarter of the run). */
  warmupFloor?: number;
  /**
   * Early stopping (MMSA's convention): stop when the monitored valid metric (`monitor`) has not improved for this many
   * epochs; `epochs` is then a maximum. 0 turns it off. Default TRAIN_DEFAULTS.patience.
   */
  patience?: number;
  /**
   * What picks the best epoch and drives early stopping: 'mae' (default; the valid split's mean
   * absolute error — the regression objective, MMSA's key metric) or 'loss' (the training
   * objective L1 + λ·CE on valid, whose CE part keeps rising as the model grows confident even
   * while its predictions improve).
   */
  monitor?: 'mae' | 'loss';
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
  /**
   * CLIP weights (an HF CLIP model, Clip.fromPretrained) copied into the fresh model before
   * training (MerClip.loadClip): the label encoder, and the towers of 'clip' sources. The config
   * must match it (configFromClip).
   */
  clip?: Clip;
  /** Default: the training batch size (its activation buffers are then reused from the pool). */
  evalBatchSize?: number;
  onEvent?: (e: TrainEvent) => void;
  /** Stop after this many optimiser steps in this call (tests use it to simulate a crash). */
  maxStepsThisRun?: number;
}

export type TrainEvent =
  | { type: 'start'; totalSteps: number; stepsPerEpoch: number; epochs: number; warmupSteps: number; patience: number; resumedAtStep: number; parameters: number; trainable: number }
  | { type: 'early-stop'; epoch: number; bestEpoch: number; patience: number; monitor: 'mae' | 'loss' }
  | { type: 'step'; epoch: number; step: number; totalSteps: number; loss: number; lr: number; samplesPerSec: number }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'checkpoint'; path: string; step: number };

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
  /** True when early stopping ended the run before `epochs`. */
  stoppedEarly: boolean;
  /** True when resume found a run that had already finished: nothing was trained or written. */
  alreadyFinished: boolean;
}

export class TrainingDivergedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

/**
 * train()'s defaults, which `merclip train` shares: `epochs` is a maximum — early stopping ends
 * the run once the valid MAE has not improved for `patience` epochs — and the cosine schedule
 * spans it, so the learning rate stays near its peak while the model is still learning; warmup
 * is 5 % of the steps but at least `warmupFloor` steps (issue 21's study: bench/training).
 */
export const TRAIN_DEFAULTS = { epochs: 30, batchSize: 32, lr: 1e-3, weightDecay: 0.01, warmup: 0.05, warmupFloor: 100, patience: 6, monitor: 'mae', gradClip: 1 } as const;

/** Warmup steps of a run: the fraction of all steps, at least the floor, at most a quarter. */
export function warmupStepsFor(totalSteps: number, fraction: number, floor: number): number {
  return Math.min(Math.floor(totalSteps / 4), Math.max(floor, Math.round(fraction * totalSteps)));
}

export interface TrainState {
  epoch: number;
  batch: number;
  step: number;
  bestEpoch: number;
  /** The valid loss at the best epoch. */
  bestValidLoss: number;
  /** The monitored value (TrainOptions.monitor) at the best epoch; Infinity before the first. */
  bestMonitored: number;
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

// ---------------------------------------------------------------------------------------------
// evaluation

export interface Evaluation {
  preds: Float32Array;
  /** Mean of L1 + λ·CE over the samples (the quantity the best epoch is chosen by). */
  loss: number;
  metrics: RegressionMetrics;
}

/**
 * Predictions for a whole split, in batches sorted by length (similar batch shapes; results do
 * not depend on the order — every sample is computed on its own valid rows).
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
    failpoint('train.eval');
  }
  return { preds, loss: lossSum / n, metrics: evaluateRegression(preds, split.labels) };
}

// ---------------------------------------------------------------------------------------------
// checkpoints

/** The run state as the checkpoint's metadata holds it (exact JSON: Infinity, NaN and −0 kept). */
export function encodeTrainState(state: TrainState): string {
  return stringifyExact(state);
}

/** Reads encodeTrainState's text back, checking every field (errors name `source` and the field). */
export function decodeTrainState(text: string, source: string): TrainState {
  const bad = (what: string): Error => new Error(`${source}: the checkpoint's run state is invalid (${what}); delete the checkpoint to start the run afresh`);
  let raw: unknown;
  try {
    raw = parseExact(text);
  } catch (err) {
    throw bad(`not JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('not an object');
  const r = raw as Record<string, unknown>;
  const int = (k: string, min: number): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(`${k} must be an integer ≥ ${min}, found ${JSON.stringify(v)}`);
    return v;
  };
  const num = (k: string): number => {
    if (typeof r[k] !== 'number') throw bad(`${k} must be a number, found ${JSON.stringify(r[k])}`);
    return r[k] as number;
  };
  if (!Array.isArray(r.history)) throw bad('history must be an array');
  r.history.forEach((h, i) => {
    if (h === null || typeof h !== 'object' || typeof (h as EpochRecord).epoch !== 'number' || typeof (h as EpochRecord).validLoss !== 'number') {
      throw bad(`history[${i}] is not an epoch record`);
    }
  });
  const conf = r.bestConfusion;
  if (conf !== null && !(Array.isArray(conf) && conf.every((row) => Array.isArray(row) && row.every((x) => typeof x === 'number')))) {
    throw bad('bestConfusion must be null or a matrix of numbers');
  }
  return {
    epoch: int('epoch', 0), batch: int('batch', 0), step: int('step', 0), bestEpoch: int('bestEpoch', -1), bestValidLoss: num('bestValidLoss'), bestMonitored: num('bestMonitored'),
    history: r.history as EpochRecord[], lossSum: num('lossSum'), lossCount: int('lossCount', 0), bestConfusion: conf as number[][] | null,
  };
}

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
    state: encodeTrainState(state),
    optimStep: String(step),
  });
  return path;
}

async function readCheckpoint(dir: string, model: MerClip, opt: AdamW, options: object): Promise<TrainState> {
  const path = join(dir, CHECKPOINT);
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== FORMAT) throw new Error(`${path}: not a merclip checkpoint (format ${JSON.stringify(metadata.format)})`);
  const saved = JSON.parse(metadata.config ?? 'null') as MerClipConfig;
  if (JSON.stringify(saved) !== JSON.stringify(model.config)) {
    throw new Error(`${path}: the checkpoint was written for another model config; use another --out directory or the same config`);
  }
  const savedOptions = JSON.parse(metadata.options ?? 'null') as Record<string, unknown> | null;
  const differ = Object.entries(options as Record<string, unknown>)
    .filter(([k, v]) => JSON.stringify(savedOptions?.[k]) !== JSON.stringify(v))
    .map(([k, v]) => `${k} ${JSON.stringify(savedOptions?.[k])} → ${JSON.stringify(v)}`);
  if (differ.length) {
    throw new Error(`${path}: the checkpoint was written with other training options (${differ.join(', ')}); resume with the same options, or use another --out directory`);
  }
  const state = decodeTrainState(metadata.state ?? '', path);
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
  return state;
}

/**
 * The best epoch's weights from dir/best/model.safetensors, in model.parameters() order — or null
 * when that file is absent or holds another epoch (a kill between writing best/ and the
 * checkpoint leaves it one epoch ahead; the replayed epoch rewrites it).
 */
async function readBestWeights(dir: string, model: MerClip, epoch: number): Promise<Float32Array[] | null> {
  const path = join(dir, 'best', 'model.safetensors');
  if (epoch < 0 || !existsSync(path)) return null;
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.epoch !== String(epoch)) return null;
  return [...model.namedParameters()].map(([name, p]) => {
    const t = tensors.get(name);
    if (!t || !(t.data instanceof Float32Array) || t.data.length !== p.size) throw new Error(`${path}: tensor "${name}" is missing or has the wrong size`);
    return t.data;
  });
}

/** metrics.jsonl, test_metrics.json and report.html from the run state (each written atomically). */
async function writeRunFiles(dir: string, state: TrainState, classes: readonly string[]): Promise<void> {
  await writeFileAtomic(join(dir, 'metrics.jsonl'), state.history.map((r) => JSON.stringify(r) + '\n').join(''));
  const test = state.history.find((r) => r.epoch === state.bestEpoch)?.test;
  if (test) {
    const summary = { bestEpoch: state.bestEpoch, bestValidLoss: state.bestValidLoss, test, confusion: state.bestConfusion, classes };
    await writeFileAtomic(join(dir, 'test_metrics.json'), JSON.stringify(summary, null, 2) + '\n');
  }
  await writeReport(dir);
}

// ---------------------------------------------------------------------------------------------
// train

export async function train(data: TrainData, options: TrainOptions = {}): Promise<TrainResult> {
  const config = validateConfig(options.model ?? makeConfig('tiny'));
  const epochs = options.epochs ?? TRAIN_DEFAULTS.epochs;
  const bs = options.batchSize ?? TRAIN_DEFAULTS.batchSize;
  const lr = options.lr ?? TRAIN_DEFAULTS.lr;
  const seed = options.seed ?? 0;
  const drop = options.drop ?? [];
  for (const [k, v] of Object.entries({ epochs, batchSize: bs })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`train: ${k} must be a positive integer, received ${v}`);
  }
  if (!(lr > 0) || !Number.isFinite(lr)) throw new RangeError(`train: lr must be a positive number, received ${lr}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`train: seed must be a safe integer, received ${seed}`);
  if (data.train.count < 1 || data.valid.count < 1) throw new RangeError('train: the train and valid splits must not be empty');

  const model = new MerClip(config, options.tokenizer ?? options.clip?.tokenizer ?? undefined, { seed });
  if (options.clip) model.loadClip(options.clip);
  const trainable = model.trainableParameters();
  const opt = new AdamW(trainable, { lr, weightDecay: options.weightDecay ?? TRAIN_DEFAULTS.weightDecay });
  const stepsPerEpoch = Math.ceil(data.train.count / bs);
  const totalSteps = epochs * stepsPerEpoch;
  const warmup = options.warmup ?? TRAIN_DEFAULTS.warmup;
  const warmupFloor = options.warmupFloor ?? TRAIN_DEFAULTS.warmupFloor;
  const patience = options.patience ?? TRAIN_DEFAULTS.patience;
  const monitor = options.monitor ?? TRAIN_DEFAULTS.monitor;
  if (monitor !== 'mae' && monitor !== 'loss') throw new RangeError(`train: monitor must be 'mae' or 'loss', received ${JSON.stringify(monitor)}`);
  for (const [k, v] of Object.entries({ warmupFloor, patience })) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`train: ${k} must be a non-negative integer, received ${v}`);
  }
  if (!(warmup >= 0 && warmup <= 1)) throw new RangeError(`train: warmup must be a fraction in [0, 1], received ${warmup}`);
  const warmupSteps = warmupStepsFor(totalSteps, warmup, warmupFloor);
  const schedule = warmupCosine({ baseLr: lr, warmupSteps, totalSteps, minLr: lr / 100 });
  const gradClip = options.gradClip ?? TRAIN_DEFAULTS.gradClip;
  // what a resumed run must agree on
  const runOptions = { epochs, batchSize: bs, lr, weightDecay: opt.weightDecay, warmup, warmupFloor, patience, monitor, gradClip, seed, drop };
  /** Whether early stopping ends the run after the epochs in `st` (none without a best epoch yet). */
  const patienceSpent = (st: TrainState): boolean => patience > 0 && st.bestEpoch >= 0 && st.epoch - st.bestEpoch >= patience;

  const outDir = options.outDir ?? null;
  if (outDir) mkdirSync(outDir, { recursive: true });
  let state: TrainState = { epoch: 0, batch: 0, step: 0, bestEpoch: -1, bestValidLoss: Infinity, bestMonitored: Infinity, history: [], lossSum: 0, lossCount: 0, bestConfusion: null };
  let best: Float32Array[] | null = null;
  if (outDir && options.resume) for (const d of [outDir, join(outDir, 'best')]) removeStaleTemps(d);
  if (outDir && options.resume && existsSync(join(outDir, CHECKPOINT))) {
    state = await readCheckpoint(outDir, model, opt, runOptions);
    best = await readBestWeights(outDir, model, state.bestEpoch);
    if (state.epoch >= epochs || patienceSpent(state)) {
      // a finished run: its outputs were complete before its last checkpoint was written
      if (!best && state.bestEpoch >= 0) throw new Error(`${join(outDir, 'best', 'model.safetensors')}: missing or not the best epoch's (${state.bestEpoch}) model although the run finished`);
      if (best) model.parameters().forEach((p, i) => p.data.set(best![i]!));
      return {
        model, bestEpoch: state.bestEpoch, bestValidLoss: state.bestValidLoss, history: state.history,
        test: state.history.find((r) => r.epoch === state.bestEpoch)?.test ?? null, confusion: state.bestConfusion,
        modelDir: join(outDir, 'best'), steps: state.step, finished: true, stoppedEarly: state.epoch < epochs, alreadyFinished: true,
      };
    }
  } else if (outDir) {
    for (const f of ['metrics.jsonl', 'test_metrics.json', 'report.html']) rmSync(join(outDir, f), { force: true });
  }
  const emit = options.onEvent ?? ((): void => {});
  emit({ type: 'start', totalSteps, stepsPerEpoch, epochs, warmupSteps, patience, resumedAtStep: state.step, parameters: model.parameterCount(), trainable: trainable.reduce((s, p) => s + p.size, 0) });

  const saveCheckpoint = async (): Promise<void> => {
    if (!outDir) return;
    const path = await writeCheckpoint(outDir, model, opt, state, runOptions);
    emit({ type: 'checkpoint', path, step: state.step });
  };

  let stepsThisRun = 0;
  while (state.epoch < epochs && !patienceSpent(state)) {
    const order = batchIndices(data.train.count, bs, { shuffle: true, seed: seed * 1000 + state.epoch });
    const t0 = performance.now();
    let seen = 0;
    for (; state.batch < order.length; ) {
      if (options.maxStepsThisRun !== undefined && stepsThisRun >= options.maxStepsThisRun) {
        return { model, bestEpoch: state.bestEpoch, bestValidLoss: state.bestValidLoss, history: state.history, test: null, confusion: null, modelDir: null, steps: state.step, finished: false, stoppedEarly: false, alreadyFinished: false };
      }
      const batch = withoutModalities(gatherBatch(data.train, order[state.batch]!), drop);
      // masks a function of (seed, step): a resumed run draws the same ones
      const fwd = config.dropout > 0 ? { dropoutRng: new Rng(deriveSeed(seed, `dropout/${state.step}`)) } : {};
      const loss = tidy(() => {
        const out = model.forward(batch, undefined, undefined, fwd);
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
      failpoint('train.step');
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
      logitScale: Math.exp(model.logit_scale.data[0]!),
      seconds,
      samplesPerSec: seen / seconds,
    };
    state.history.push(record);
    const monitored = monitor === 'mae' ? v.metrics.mae : v.loss;
    if (monitored < state.bestMonitored) {
      state.bestMonitored = monitored;
      state.bestValidLoss = v.loss;
      state.bestEpoch = record.epoch;
      state.bestConfusion = t ? confusionMatrix(t.preds, data.test!.labels) : null;
      best = model.parameters().map((p) => Float32Array.from(p.data));
      if (outDir) await saveModel(model, join(outDir, 'best'), { epoch: String(record.epoch), validLoss: String(v.loss) });
    }
    emit({ type: 'epoch', record });
    state.epoch++;
    state.batch = 0;
    state.lossSum = 0;
    state.lossCount = 0;
    // the files first, the checkpoint last: it commits the epoch (see the header)
    if (outDir) await writeRunFiles(outDir, state, model.config.labels);
    await saveCheckpoint();
    failpoint('train.epoch-end');
  }
  if (state.epoch < epochs) emit({ type: 'early-stop', epoch: state.epoch, bestEpoch: state.bestEpoch, patience, monitor });
  failpoint('train.done');
  if (state.bestEpoch >= 0 && !best) {
    throw new Error(`train: the best epoch's (${state.bestEpoch}) weights are not available: ${outDir ? join(outDir, 'best', 'model.safetensors') : 'best/'} is missing or holds another epoch, and the resumed epochs did not rewrite it`);
  }

  // the final weights stay in the checkpoint; the returned model gets the best epoch's, whose
  // test metrics were measured at that epoch
  if (best) model.parameters().forEach((p, i) => p.data.set(best![i]!));
  const test = state.history.find((r) => r.epoch === state.bestEpoch)?.test ?? null;
  return {
    model, bestEpoch: state.bestEpoch, bestValidLoss: state.bestValidLoss, history: state.history, test, confusion: state.bestConfusion,
    modelDir: outDir ? join(outDir, 'best') : null, steps: state.step, finished: true, stoppedEarly: state.epoch < epochs, alreadyFinished: false,
  };
}
