// bench/training/runOne.ts — one study run (a task, a seed, train() options) for study.ts and
// tuned.ts: builds the tiny config for the task's dims, trains, and returns the history in a
// compact form that the scripts print and append to a JSONL log (--log FILE), so runs made by
// separate processes can be summarised together.
import { appendFileSync } from 'node:fs';

import { makeConfig } from '../../lib/model/config.js';
import { train, type TrainOptions } from '../../lib/train/index.js';
import { generateStudy, type StudyTask } from './generators.js';

export interface StudyEpoch { epoch: number; lr: number; trainLoss: number; validLoss: number; validMae: number; testCorr: number; testAcc2: number }
export interface StudyRun {
  task: string;
  seed: number;
  /** The seed of the data set draw (generateStudy(task, 1000 + dataSeed)); logs written before
   * --data-seed existed lack it: there it is the seed. */
  dataSeed?: number;
  /** Made with --data-seed: one draw for every seed of the group (the seeds vary the training only). */
  fixedDraw?: boolean;
  options: TrainOptions;
  model: Record<string, unknown>;
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  warmupSteps: number;
  /** At the best epoch. */
  validMae: number;
  testCorr: number;
  testAcc2: number;
  seconds: number;
  history: StudyEpoch[];
}

/** One run: the data set drawn with fixedDataSeed (the training seed unless given), trained with seed. */
export async function runOne(task: StudyTask, seed: number, extra: TrainOptions, modelOverrides: Record<string, unknown>, fixedDataSeed?: number): Promise<StudyRun> {
  const dataSeed = fixedDataSeed ?? seed;
  const splits = generateStudy(task, 1000 + dataSeed);
  const model = makeConfig('tiny', modelOverrides);
  for (const m of ['text', 'audio', 'vision'] as const) model.modalities[m] = { dim: splits.train[m].dim, maxLength: splits.train[m].length };
  const t0 = performance.now();
  let warmupSteps = 0;
  const r = await train(splits, { model, seed, ...extra, onEvent: (e) => { if (e.type === 'start') warmupSteps = e.warmupSteps; } });
  const best = r.history.find((h) => h.epoch === r.bestEpoch)!;
  return {
    task: task.name, seed, dataSeed, ...(fixedDataSeed !== undefined ? { fixedDraw: true } : {}), options: extra, model: modelOverrides, bestEpoch: r.bestEpoch, epochsRun: r.history.length, stoppedEarly: r.stoppedEarly, warmupSteps,
    validMae: best.valid.mae, testCorr: r.test!.corr, testAcc2: r.test!.acc2Has0, seconds: (performance.now() - t0) / 1000,
    history: r.history.map((h) => ({ epoch: h.epoch, lr: h.lr, trainLoss: h.trainLoss, validLoss: h.validLoss, validMae: h.valid.mae, testCorr: h.test!.corr, testAcc2: h.test!.acc2Has0 })),
  };
}

/** " data N" for a run made on a fixed draw (--data-seed N), "" for one whose seed drew its data. */
export const drawLabel = (r: StudyRun): string => (r.fixedDraw ? ` data ${r.dataSeed ?? r.seed}` : '');

export function logRun(file: string | null, run: StudyRun): void {
  if (file) appendFileSync(file, JSON.stringify(run) + '\n');
}

export const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
/** Sample standard deviation (n − 1); 0 for one value. */
export const std = (a: number[]): number => (a.length > 1 ? Math.sqrt(a.reduce((s, x) => s + (x - mean(a)) ** 2, 0) / (a.length - 1)) : 0);

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
