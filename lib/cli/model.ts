// lib/cli/model.ts — `merclip eval` (the metric table of a trained model on a dataset split) and
// `merclip predict` (scores and label distributions for a dataset split or for samples in a JSON
// file, optionally for another label set).

import { readFileSync } from 'node:fs';

import type { Command } from 'commander';

import type { DataSplit } from '../data/batch.js';
import { readDataset } from '../data/file.js';
import { readManifest } from '../data/manifest.js';
import { writeResults } from '../distributed/results.js';
import type { SplitName } from '../data/synth.js';
import { formatMetricTable } from '../eval/metrics.js';
import { MODALITIES } from '../model/config.js';
import { sampleOf } from '../model/extract.js';
import { MerClip } from '../model/merclip.js';
import type { Prediction, Sample } from '../model/predict.js';
import { evaluate } from '../train/index.js';
import { parseIntOption } from './train.js';

const SPLIT_NAMES = ['train', 'valid', 'test'];

function parseSplit(value: string): SplitName {
  if (!SPLIT_NAMES.includes(value)) throw new Error(`--split must be train, valid or test, received "${value}"`);
  return value as SplitName;
}

async function loadSplit(file: string, split: SplitName): Promise<DataSplit> {
  const { splits } = await readDataset(file);
  const s = splits[split];
  if (!s) throw new Error(`${file}: no ${split} split (it has ${Object.keys(splits).join(', ') || 'none'})`);
  return s;
}

/** The model must accept the data's feature sizes. */
function checkCompatible(model: MerClip, split: DataSplit, file: string): void {
  for (const m of model.config.modalityOrder) {
    const want = model.config.modalities[m];
    if (split[m].dim !== want.dim) throw new Error(`${file}: ${m} features have dim ${split[m].dim}, the model expects ${want.dim} (a model trained on other data?)`);
    if (split[m].length > want.maxLength) throw new Error(`${file}: ${m} sequences have length ${split[m].length}, the model accepts at most ${want.maxLength}`);
  }
}

export function registerEval(program: Command, out: (s: string) => void): void {
  program
    .command('eval')
    .description('evaluate a trained model on a dataset split (MMSA metrics)')
    .requiredOption('--model <dir>', 'model directory (config.json + model.safetensors, e.g. RUN/best)')
    .requiredOption('--data <file>', 'dataset file')
    .option('--split <name>', 'train, valid or test', parseSplit, 'test' as SplitName)
    .option('--batch-size <n>', 'batch size', parseIntOption('--batch-size', 1), 64)
    .option('--json', 'print as JSON')
    .action(async (opts: { model: string; data: string; split: SplitName; batchSize: number; json?: boolean }) => {
      const model = await MerClip.load(opts.model);
      const split = await loadSplit(opts.data, opts.split);
      checkCompatible(model, split, opts.data);
      const r = evaluate(model, split, { batchSize: opts.batchSize });
      if (opts.json) out(JSON.stringify({ model: opts.model, data: opts.data, split: opts.split, count: split.count, loss: r.loss, metrics: r.metrics }, null, 2) + '\n');
      else out(`${opts.data} (${opts.split}, ${split.count} samples), model ${opts.model}:\n${formatMetricTable(r.metrics)}\n`);
    });
}

/** Samples from a JSON file: [{ id?, text?, audio?, vision? }], each modality rows of numbers or { features, length }. */
function readSamples(file: string): { ids: string[]; samples: Sample[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : [raw];
  const ids: string[] = [];
  const samples = list.map((s, i) => {
    if (typeof s !== 'object' || s === null) throw new Error(`${file}: sample ${i} must be an object`);
    const o = s as Record<string, unknown>;
    ids.push(typeof o.id === 'string' ? o.id : String(i));
    const sample: Sample = {};
    for (const m of MODALITIES) {
      const v = o[m];
      if (v === undefined || v === null) continue;
      if (typeof v === 'string' && m !== 'vision') sample[m] = v; // a transcript, or a .wav path (raw inputs)
      else if (m === 'vision' && typeof v === 'object' && Array.isArray((v as { frames?: unknown }).frames)) sample.vision = v as { frames: string[] };
      else if (Array.isArray(v)) sample[m] = { features: v as number[][] };
      else if (typeof v === 'object' && Array.isArray((v as { features?: unknown }).features)) {
        const f = v as { features: number[][]; length?: number };
        sample[m] = f.length === undefined ? { features: f.features } : { features: f.features, length: f.length };
      } else throw new Error(`${file}: sample ${i} ${m} must be an array of rows, { features, length }${m === 'vision' ? ' or { frames: [image files] }' : m === 'text' ? ' or a transcript' : ' or a .wav path'}`);
    }
    return sample;
  });
  return { ids, samples };
}

function splitSamples(split: DataSplit, limit: number): { ids: string[]; samples: Sample[] } {
  const n = Math.min(split.count, limit);
  const samples: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const s: Sample = {};
    for (const m of MODALITIES) {
      const md = split[m];
      const row = md.length * md.dim;
      s[m] = { features: md.features.subarray(i * row, (i + 1) * row), length: md.lengths[i]! };
    }
    samples.push(s);
  }
  return { ids: split.ids.slice(0, n), samples };
}

function parseList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

export function registerPredict(program: Command, out: (s: string) => void): void {
  program
    .command('predict')
    .description('scores and label distributions for a dataset split, samples in a JSON file, or raw utterances of a manifest')
    .requiredOption('--model <dir>', 'model directory (config.json + model.safetensors)')
    .option('--data <file>', 'dataset file')
    .option('--split <name>', 'split of --data', parseSplit, 'test' as SplitName)
    .option('--limit <n>', 'at most this many samples of --data', parseIntOption('--limit', 1), Number.MAX_SAFE_INTEGER)
    .option('--json [file]', 'JSON output; with a file, read the samples from it ([{ id?, text?, audio?, vision? }])')
    .option('--manifest <file>', 'raw utterances (merclip extract\'s JSON Lines manifest: text, frames, audio), for a model with raw-input sources')
    .option('--labels <list>', 'another label set, comma-separated (e.g. negative,positive)', parseList)
    .option('--values <list>', 'the value of each label (for a score)', (v: string) => parseList(v).map(Number))
    .option('--batch-size <n>', 'samples per batch', parseIntOption('--batch-size', 1), 32)
    .option('--out <results>', 'write the results to a file instead: .jsonl ({ id, score, probs, label } per line) or .safetensors (the `merclip score` format)')
    .action(async (opts: { model: string; data?: string; split: SplitName; limit: number; json?: boolean | string; manifest?: string; labels?: string[]; values?: number[]; batchSize: number; out?: string }) => {
      const jsonFile = typeof opts.json === 'string' ? opts.json : undefined;
      if ([opts.data, jsonFile, opts.manifest].filter((x) => x !== undefined).length !== 1) throw new Error('predict: give exactly one of --data FILE, --json FILE or --manifest FILE');
      const model = await MerClip.load(opts.model);
      try {
        const fromManifest = (file: string): { ids: string[]; samples: Sample[] } => {
          const entries = readManifest(file).slice(0, opts.limit);
          return { ids: entries.map((e) => e.id), samples: entries.map(sampleOf) };
        };
        const input = jsonFile ? readSamples(jsonFile) : opts.manifest ? fromManifest(opts.manifest) : splitSamples(await loadSplit(opts.data!, opts.split), opts.limit);
        const preds: Prediction[] = await model.predict(input.samples, { batchSize: opts.batchSize, ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.values ? { values: opts.values } : {}) });
        const labels = opts.labels ?? model.config.labels;
        if (opts.out) {
          await writeResults(opts.out, preds.map((p, i) => ({ id: input.ids[i]!, ...p })), labels);
          out(`wrote ${opts.out} (${preds.length} samples)\n`);
          return;
        }
        if (opts.json) {
          out(JSON.stringify(preds.map((p, i) => ({ id: input.ids[i], ...p })), null, 2) + '\n');
          return;
        }
        const w = Math.max(2, ...input.ids.map((s) => s.length));
        out(`${'id'.padEnd(w)}  score    label             ${labels.join(' | ')}\n`);
        preds.forEach((p, i) => {
          out(`${input.ids[i]!.padEnd(w)}  ${(p.score === null ? '-' : p.score.toFixed(3)).padStart(6)}   ${p.label.padEnd(16)}  ${p.probs.map((x) => x.toFixed(3)).join(' ')}\n`);
        });
      } finally {
        await model.close();
      }
    });
}
