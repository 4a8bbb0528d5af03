// lib/train/types.ts — the record of one training epoch, shared by train.ts (which produces it)
// and report.ts (which reads it back from metrics.jsonl); its own module so neither imports the
// other's module for it.
import type { RegressionMetrics } from '../eval/metrics.js';

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
  /** e^s, the cosine head's logit scale, at the epoch's end (absent in files before it was recorded). */
  logitScale?: number;
  seconds: number;
  samplesPerSec: number;
}
