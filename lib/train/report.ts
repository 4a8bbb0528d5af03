// lib/train/report.ts — the training report: one self-contained HTML page (inline CSS and inline
// SVG only; no scripts, fonts or anything else fetched; drawn by reportHtml.ts) from a
// `merclip train` output directory — this file reads and validates the files and writes the page:
//
//   metrics.jsonl      one JSON record per epoch (train/valid/test loss, valid and test metrics,
//                      learning rate, seconds, samples/s) — required
//   test_metrics.json  the best epoch, its test metrics and the 7-class confusion matrix — optional
//                      (written only when the run had a test split and finished)
//
// The page has a summary (best epoch by valid MAE or loss, the test metric table in the paper's format),
// the loss curves, the valid metrics per epoch (accuracies/F1 in %, MAE and Corr on their own
// scales), a per-epoch table and the confusion matrix at the best epoch as a heat map.
//
// JSON writes NaN as null, so null metric values read back as NaN; they are drawn as gaps in the
// curves and shown as "–". Every string that comes from the files (the directory name, class names)
// is HTML-escaped. A record repeated for the same epoch (a run resumed after a crash between the
// metrics line and the checkpoint) keeps its last occurrence.

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { writeFileAtomic } from '../io/index.js';
import { METRIC_FIELDS, type RegressionMetrics } from '../eval/metrics.js';
import { renderReport } from './reportHtml.js';
import { METRICS_FILE, REPORT_FILE, type ReportData, type ReportEpoch, type ReportSummary, TEST_METRICS_FILE } from './types.js';

export { METRICS_FILE, REPORT_FILE, TEST_METRICS_FILE, type ReportData, type ReportEpoch, type ReportSummary } from './types.js';
export { bestEpochOf, epochAxis, escapeHtml, linearScale, niceAxis, niceStep, renderReport, segments, type Axis, type Scale } from './reportHtml.js';


// ---------------------------------------------------------------------------------------------
// Reading and validating the files

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}` : typeof v === 'object' ? 'an object' : String(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A number field; JSON's null (how JSON.stringify writes NaN/Infinity) reads as NaN. */
function numberField(obj: Record<string, unknown>, key: string, where: string, optional = false): number {
  const v = obj[key];
  if (v === null || (optional && v === undefined)) return NaN;
  if (typeof v !== 'number') throw new Error(`${where}: "${key}" must be a number (got ${describe(v)})`);
  return v;
}

function positiveInt(obj: Record<string, unknown>, key: string, where: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error(`${where}: "${key}" must be a positive integer (got ${describe(v)})`);
  return v;
}

function parseMetrics(v: unknown, where: string): RegressionMetrics {
  if (!isObject(v)) throw new Error(`${where}: must be an object of metrics (got ${describe(v)})`);
  const m = {} as RegressionMetrics;
  for (const f of METRIC_FIELDS) m[f] = numberField(v, f, where);
  m.count = numberField(v, 'count', where, true);
  m.countNon0 = numberField(v, 'countNon0', where, true);
  return m;
}

function parseEpoch(v: unknown, where: string): ReportEpoch {
  if (!isObject(v)) throw new Error(`${where}: a record must be a JSON object (got ${describe(v)})`);
  const rec: ReportEpoch = {
    epoch: positiveInt(v, 'epoch', where),
    step: numberField(v, 'step', where, true),
    trainLoss: numberField(v, 'trainLoss', where),
    validLoss: numberField(v, 'validLoss', where),
    valid: parseMetrics(v.valid, `${where}: "valid"`),
    lr: numberField(v, 'lr', where, true),
    seconds: numberField(v, 'seconds', where, true),
    samplesPerSec: numberField(v, 'samplesPerSec', where, true),
  };
  if (v.testLoss !== undefined) rec.testLoss = numberField(v, 'testLoss', where);
  if (v.test !== undefined) rec.test = parseMetrics(v.test, `${where}: "test"`);
  if (v.logitScale !== undefined) rec.logitScale = numberField(v, 'logitScale', where);
  return rec;
}

/**
 * Parses metrics.jsonl (`file` names it in errors, with the line number). Blank lines are skipped;
 * the records come back sorted by epoch, the last one kept when an epoch repeats.
 */
export function parseMetricsJsonl(text: string, file: string): ReportEpoch[] {
  const byEpoch = new Map<number, ReportEpoch>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
    }
    const rec = parseEpoch(value, where);
    byEpoch.set(rec.epoch, rec);
  }
  if (byEpoch.size === 0) throw new Error(`${file}: no epoch records (the file is empty)`);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** Parses test_metrics.json; errors name `file`. */
export function parseTestMetrics(text: string, file: string): ReportSummary {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(v)) throw new Error(`${file}: must be a JSON object (got ${describe(v)})`);
  const test = v.test === null || v.test === undefined ? null : parseMetrics(v.test, `${file}: "test"`);
  let confusion: number[][] | null = null;
  if (v.confusion !== null && v.confusion !== undefined) {
    const c = v.confusion;
    const square = Array.isArray(c) && c.length > 0 && c.every((row) => Array.isArray(row) && row.length === c.length
      && row.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0));
    if (!square) throw new Error(`${file}: "confusion" must be a square matrix of non-negative counts`);
    confusion = c as number[][];
  }
  let classes: string[];
  if (Array.isArray(v.classes)) {
    if (!v.classes.every((s) => typeof s === 'string')) throw new Error(`${file}: "classes" must be an array of strings`);
    classes = v.classes as string[];
    if (confusion && classes.length !== confusion.length) {
      throw new Error(`${file}: "classes" has ${classes.length} names but "confusion" is ${confusion.length}×${confusion.length}`);
    }
  } else {
    classes = Array.from({ length: confusion?.length ?? 0 }, (_, i) => `class ${i}`);
  }
  return {
    bestEpoch: positiveInt(v, 'bestEpoch', file),
    bestValidLoss: numberField(v, 'bestValidLoss', file),
    test,
    confusion,
    classes,
  };
}

async function readText(path: string, required: boolean): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return null;
    if (code === 'ENOENT') throw new Error(`${path}: not found (is this a \`merclip train\` output directory?)`);
    throw new Error(`${path}: cannot be read (${(err as Error).message})`);
  }
}

/** Reads metrics.jsonl (required) and test_metrics.json (when present) from a run directory. */
export async function readReportData(dir: string): Promise<ReportData> {
  const metricsPath = join(dir, METRICS_FILE);
  const epochs = parseMetricsJsonl((await readText(metricsPath, true))!, metricsPath);
  const testPath = join(dir, TEST_METRICS_FILE);
  const testText = await readText(testPath, false);
  const summary = testText === null ? null : parseTestMetrics(testText, testPath);
  return { dir: resolve(dir), epochs, summary };
}

/**
 * Regenerates dir/report.html from the files in dir; the page is written to a temporary file
 * beside it and renamed over it, so a reader never sees half a page. Returns the page's path.
 */
export async function writeReport(dir: string): Promise<string> {
  const data = await readReportData(dir);
  const html = renderReport({ ...data, generatedAt: new Date().toISOString() });
  const path = join(resolve(dir), REPORT_FILE);
  try {
    await writeFileAtomic(path, html);
  } catch (err) {
    throw new Error(`${path}: cannot be written (${(err as Error).message})`);
  }
  return path;
}

