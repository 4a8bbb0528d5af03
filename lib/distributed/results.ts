// lib/distributed/results.ts — the scoring results file that `merclip predict --out`,
// `merclip score` and each scoring shard write (by extension):
//   RESULTS.jsonl        one JSON object per sample, in dataset order:
//                          {"id": "...", "score": 0.41, "probs": [p_1, …, p_C], "label": "positive"}
//                        (score null when the label set has no values)
//   RESULTS.safetensors  tensors probs F32 [N, C], labels I32 [N] (index of the most probable
//                        label), scores F32 [N] (absent when there are no scores); metadata
//                        format "merclip-results", version "1", ids (JSON array of N strings),
//                        label_set (JSON array of the C label names), plus the writer's extras.
// Scores and probabilities are float32 values in both formats (JSON prints each exactly), so the
// two formats and every writer hold identical numbers for the same predictions. Files are written
// atomically (io/atomic.ts): a reader sees the old file or the new one, never a part.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';

import { readSafetensors, writeFileAtomic, writeSafetensors, type WritableTensor } from '../io/index.js';
import type { Prediction } from '../model/predict.js';

export const RESULTS_FORMAT = 'merclip-results';

/** One sample's result: its id and the prediction. */
export interface ResultRow extends Prediction {
  id: string;
}

export interface ResultsFile {
  rows: ResultRow[];
  /** The label set (safetensors files record it; for .jsonl, null). */
  labelSet: string[] | null;
  /** The safetensors metadata (empty for .jsonl). */
  metadata: Record<string, string>;
}

export type ResultsKind = 'jsonl' | 'safetensors';

/** The format a results path names, or a clear error. */
export function resultsKind(file: string): ResultsKind {
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl') return 'jsonl';
  if (ext === '.safetensors') return 'safetensors';
  throw new RangeError(`${file}: results go to a .jsonl or a .safetensors file (by extension)`);
}

function* jsonlChunks(rows: readonly ResultRow[]): Iterable<Uint8Array> {
  const per = 4096;
  for (let i = 0; i < rows.length; i += per) {
    let s = '';
    for (const r of rows.slice(i, i + per)) s += JSON.stringify({ id: r.id, score: r.score, probs: r.probs, label: r.label }) + '\n';
    yield Buffer.from(s, 'utf8');
  }
}

/** Writes `rows` (label set `labelSet`) atomically to `file` in the format its extension names. */
export async function writeResults(file: string, rows: readonly ResultRow[], labelSet: readonly string[], metadata: Record<string, string> = {}): Promise<void> {
  if (resultsKind(file) === 'jsonl') {
    await writeFileAtomic(file, rows.length === 0 ? '' : jsonlChunks(rows));
    return;
  }
  const N = rows.length;
  const C = labelSet.length;
  const probs = new Float32Array(N * C);
  const labels = new Int32Array(N);
  const hasScores = N > 0 && rows[0]!.score !== null;
  const scores = new Float32Array(hasScores ? N : 0);
  rows.forEach((r, i) => {
    if (r.probs.length !== C) throw new RangeError(`${file}: sample ${r.id} has ${r.probs.length} probabilities for ${C} labels`);
    probs.set(r.probs, i * C);
    const li = labelSet.indexOf(r.label);
    if (li < 0) throw new RangeError(`${file}: sample ${r.id} has label "${r.label}", not one of ${labelSet.join(', ')}`);
    labels[i] = li;
    if ((r.score === null) === hasScores) throw new RangeError(`${file}: either every sample has a score or none does (sample ${r.id})`);
    if (hasScores) scores[i] = r.score!;
  });
  const tensors: Record<string, WritableTensor> = {
    probs: { dtype: 'F32', shape: [N, C], data: probs },
    labels: { dtype: 'I32', shape: [N], data: labels },
  };
  if (hasScores) tensors.scores = { dtype: 'F32', shape: [N], data: scores };
  await writeSafetensors(file, tensors, { ...metadata, format: RESULTS_FORMAT, version: '1', ids: JSON.stringify(rows.map((r) => r.id)), label_set: JSON.stringify(labelSet) });
}

function bad(file: string, what: string): never {
  throw new Error(`${file}: not a merclip results file (${what})`);
}

/** Reads a results file (either format), checking its structure. */
export async function readResults(file: string): Promise<ResultsFile> {
  if (resultsKind(file) === 'jsonl') {
    const text = readFileSync(file, 'utf8');
    const rows = text === '' ? [] : text.replace(/\n$/, '').split('\n').map((line, i) => {
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch (err) {
        return bad(file, `line ${i + 1}: ${(err as Error).message}`);
      }
      const r = o as ResultRow;
      if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || !Array.isArray(r.probs) || typeof r.label !== 'string' || !(r.score === null || typeof r.score === 'number')) bad(file, `line ${i + 1} is not { id, score, probs, label }`);
      return { id: r.id, score: r.score, probs: r.probs, label: r.label };
    });
    return { rows, labelSet: null, metadata: {} };
  }
  const { tensors, metadata } = await readSafetensors(file);
  if (metadata.format !== RESULTS_FORMAT) bad(file, `format is ${JSON.stringify(metadata.format)}`);
  let ids: unknown;
  let labelSet: unknown;
  try {
    ids = JSON.parse(metadata.ids ?? 'null');
    labelSet = JSON.parse(metadata.label_set ?? 'null');
  } catch {
    bad(file, 'ids or label_set is not JSON');
  }
  if (!Array.isArray(ids) || !ids.every((s) => typeof s === 'string')) bad(file, 'ids is not an array of strings');
  if (!Array.isArray(labelSet) || !labelSet.every((s) => typeof s === 'string')) bad(file, 'label_set is not an array of strings');
  const N = (ids as string[]).length;
  const C = (labelSet as string[]).length;
  const probs = tensors.get('probs');
  const labels = tensors.get('labels');
  const scores = tensors.get('scores');
  if (!probs || probs.dtype !== 'F32' || probs.shape.join() !== `${N},${C}`) bad(file, `probs must be F32 [${N}, ${C}]`);
  if (!labels || labels.dtype !== 'I32' || labels.shape.join() !== `${N}`) bad(file, `labels must be I32 [${N}]`);
  if (scores && (scores.dtype !== 'F32' || scores.shape.join() !== `${N}`)) bad(file, `scores must be F32 [${N}]`);
  const p = probs!.data as Float32Array;
  const l = labels!.data as Int32Array;
  const rows: ResultRow[] = (ids as string[]).map((id, i) => {
    const li = l[i]!;
    if (li < 0 || li >= C) bad(file, `labels[${i}] = ${li} is outside [0, ${C})`);
    return { id, score: scores ? (scores.data as Float32Array)[i]! : null, probs: Array.from(p.subarray(i * C, (i + 1) * C)), label: (labelSet as string[])[li]! };
  });
  return { rows, labelSet: labelSet as string[], metadata };
}
