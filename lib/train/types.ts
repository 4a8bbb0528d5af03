// lib/train/types.ts — the record of one training epoch, shared by train.ts (which produces it)
// and report.ts (which reads it back from metrics.jsonl), and what the report page is drawn from
// (reportHtml.ts); its own module so none of them imports another's module for it.
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

/** One line of metrics.jsonl: train's EpochRecord (NaN where the file has null). */
export type ReportEpoch = EpochRecord;

/** test_metrics.json. */
export interface ReportSummary {
  bestEpoch: number;
  bestValidLoss: number;
  test: RegressionMetrics | null;
  /** [true class][predicted class]. */
  confusion: number[][] | null;
  classes: string[];
}

export interface ReportData {
  /** The run directory (shown in the title). */
  dir: string;
  epochs: ReportEpoch[];
  summary?: ReportSummary | null;
  /** Shown in the footer when given (writeReport sets it). */
  generatedAt?: string;
}

/** The files of a run directory the report reads and writes. */
export const REPORT_FILE = 'report.html';
export const METRICS_FILE = 'metrics.jsonl';
export const TEST_METRICS_FILE = 'test_metrics.json';
