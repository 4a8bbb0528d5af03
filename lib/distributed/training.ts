// lib/distributed/training.ts — one training run of a sweep, as a train-queue job runs it (in a
// worker thread: trainProcessor.ts), and the model config a sweep trains.
//
// A run always trains with resume on, into its own directory: the first attempt finds no
// checkpoint and starts from scratch (exactly `merclip train` with the same options and seed); an
// attempt after a worker died continues from the run's last checkpoint (lib/train's resume: no
// committed epoch is redone, and the outputs equal an uninterrupted run's); an attempt after the
// run finished returns its results without training. The model config is the preset (or a
// config.json) with each modality's dim and maxLength taken from the data, as `merclip train`
// does, so a sweep's run and a single `merclip train` run are the same computation.
import { readFileSync } from 'node:fs';

import type { DataSplit } from '../data/batch.js';
import { readDataset } from '../data/file.js';
import type { RegressionMetrics } from '../eval/metrics.js';
import { stringifyExact } from '../io/index.js';
import { MODALITIES, makeConfig, type MerClipConfig, type Modality, validateConfig } from '../model/config.js';
import { train } from '../train/index.js';

/** The training options a sweep sets (from its base options, then the grid point). */
export interface SweepTrainParams {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  patience?: number;
  warmupFloor?: number;
  monitor?: 'mae' | 'loss';
  checkpointEvery?: number;
  drop?: Modality[];
}

/** The grid's keys (the `merclip train` option names) and the TrainOptions field each sets. */
export const GRID_KEYS: Record<string, keyof SweepTrainParams> = {
  lr: 'lr', 'batch-size': 'batchSize', epochs: 'epochs', 'weight-decay': 'weightDecay',
  patience: 'patience', 'warmup-floor': 'warmupFloor', monitor: 'monitor', 'checkpoint-every': 'checkpointEvery',
};

/** Parses grid values: numbers stay numbers (1e-3 → 0.001), monitor stays a word. */
export function parseGridValue(key: string, raw: string): number | string {
  if (!(key in GRID_KEYS)) throw new RangeError(`--grid: unknown key "${key}" (one of ${Object.keys(GRID_KEYS).join(', ')})`);
  if (key === 'monitor') {
    if (raw !== 'mae' && raw !== 'loss') throw new RangeError(`--grid monitor: mae or loss, received "${raw}"`);
    return raw;
  }
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0) throw new RangeError(`--grid ${key}: "${raw}" is not a non-negative number`);
  if (key !== 'lr' && key !== 'weight-decay' && !Number.isInteger(v)) throw new RangeError(`--grid ${key}: "${raw}" is not an integer`);
  return v;
}

export interface TrainJobData {
  sweep: string;
  data: string;
  /** 'tiny', 'paper' or a config.json path. */
  config: string;
  seed: number;
  /** The grid point's name ("default" without a grid) and values. */
  configName: string;
  params: Record<string, number | string>;
  train: SweepTrainParams;
  outDir: string;
}

export interface TrainJobResult {
  seed: number;
  configName: string;
  params: Record<string, number | string>;
  outDir: string;
  modelDir: string | null;
  bestEpoch: number;
  epochs: number;
  test: RegressionMetrics | null;
  /** The optimiser step this attempt started from (0: from scratch; > 0: resumed). */
  resumedAtStep: number;
  alreadyFinished: boolean;
  seconds: number;
}

/** The model config for `data`'s splits (see the header). */
export function sweepModelConfig(config: string, splits: { train: DataSplit; valid: DataSplit; test?: DataSplit | undefined }): MerClipConfig {
  const model = config === 'tiny' || config === 'paper' ? makeConfig(config) : validateConfig(JSON.parse(readFileSync(config, 'utf8')) as MerClipConfig, config);
  for (const m of MODALITIES) {
    model.modalities[m] = { ...model.modalities[m], dim: splits.train[m].dim, maxLength: Math.max(model.modalities[m].maxLength, splits.train[m].length, splits.valid[m].length, splits.test?.[m].length ?? 0) };
  }
  return model;
}

/** Runs (or resumes) one training; `progress` gets { epoch, step, totalSteps } after each epoch. */
export async function runTrainJob(d: TrainJobData, progress: (p: { epoch: number; step: number; totalSteps: number }) => void = () => {}): Promise<TrainJobResult> {
  const t0 = performance.now();
  const { splits } = await readDataset(d.data);
  if (!splits.train || !splits.valid) throw new Error(`${d.data}: training needs a train and a valid split (it has ${Object.keys(splits).join(', ') || 'none'})`);
  const data = { train: splits.train, valid: splits.valid, test: splits.test };
  let resumedAtStep = -1;
  let totalSteps = 0;
  const t = d.train;
  const r = await train(data, {
    model: sweepModelConfig(d.config, data), seed: d.seed, outDir: d.outDir, resume: true,
    ...(t.epochs !== undefined ? { epochs: t.epochs } : {}), ...(t.batchSize !== undefined ? { batchSize: t.batchSize } : {}),
    ...(t.lr !== undefined ? { lr: t.lr } : {}), ...(t.weightDecay !== undefined ? { weightDecay: t.weightDecay } : {}),
    ...(t.patience !== undefined ? { patience: t.patience } : {}), ...(t.warmupFloor !== undefined ? { warmupFloor: t.warmupFloor } : {}),
    ...(t.monitor !== undefined ? { monitor: t.monitor } : {}), ...(t.checkpointEvery !== undefined ? { checkpointEvery: t.checkpointEvery } : {}),
    drop: t.drop ?? [],
    onEvent: (e) => {
      if (e.type === 'start') {
        resumedAtStep = e.resumedAtStep;
        totalSteps = e.totalSteps;
      } else if (e.type === 'epoch') progress({ epoch: e.record.epoch, step: e.record.step, totalSteps });
    },
  });
  return {
    seed: d.seed, configName: d.configName, params: d.params, outDir: d.outDir, modelDir: r.modelDir, bestEpoch: r.bestEpoch,
    epochs: r.history.length, test: r.test, resumedAtStep: resumedAtStep < 0 ? r.steps : resumedAtStep, alreadyFinished: r.alreadyFinished,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Job return values travel as exact JSON (NaN metrics survive). */
export const encodeResult = (v: unknown): { json: string } => ({ json: stringifyExact(v) });
