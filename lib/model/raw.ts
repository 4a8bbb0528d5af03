// lib/model/raw.ts — featurize(): raw inputs (transcripts, frames) replaced by the features the
// model's CLIP towers make of them, { features: Float32Array [L, dim] }, so a dataset can be
// extracted once and trained on without re-running frozen towers every epoch (`merclip
// extract`). The features come from MerClip.towerRows, the very code forward runs on raw
// batches, so predict(raw) and predict(featurize(raw)) agree to rounding (≤ 1e-6; the test
// checks it). Runs on the calling thread, batchSize samples per tower call, yielding to the
// event loop between batches.

import { noGrad, tidy } from '../tensor/index.js';
import type { ModelBatch, Sample } from './batch.js';
import { packSamples } from './batch.js';
import { decodeSamples } from './decode.js';
import type { MerClip } from './merclip.js';

export interface FeaturizeOptions {
  /** Samples per tower call (default 32). */
  batchSize?: number;
  /** Called after each batch with (samples done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Per-sample copies of a batch's tower rows: [sample in batch, features [L, dim]] for each raw sample. */
function splitRows(rows: Float32Array, lengths: Int32Array, dim: number): Array<[number, Float32Array]> {
  const out: Array<[number, Float32Array]> = [];
  let o = 0;
  lengths.forEach((l, b) => {
    if (l === 0) return;
    out.push([b, rows.slice(o * dim, (o + l) * dim)]);
    o += l;
  });
  return out;
}

/**
 * The samples with every raw text / vision input replaced by `{ features }` (other inputs kept
 * as they are). Errors are predict()'s (the same validation).
 */
export async function featurize(model: MerClip, samples: readonly Sample[], opts: FeaturizeOptions = {}): Promise<Sample[]> {
  const batchSize = opts.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`featurize: batchSize must be a positive integer, received ${batchSize}`);
  const decoded = await decodeSamples(samples, model.config);
  const out: Sample[] = decoded.map((s) => ({ ...s }));
  const tokenizer = model.labels.tokenizer;
  for (let s0 = 0; s0 < decoded.length; s0 += batchSize) {
    const chunk = decoded.slice(s0, s0 + batchSize);
    const [batch] = packSamples(chunk, model.config, chunk.length, { tokenizer }) as [ModelBatch];
    if (batch.raw) {
      noGrad(() => tidy(() => {
        const rows = model.towerRows(batch);
        for (const m of ['text', 'vision'] as const) {
          const t = rows[m];
          if (!t) continue;
          for (const [b, features] of splitRows(t.data, batch.raw![m]!.lengths, t.dim(1))) out[s0 + b]![m] = { features };
        }
      }));
    }
    opts.onProgress?.(Math.min(s0 + batchSize, decoded.length), decoded.length);
    if (s0 + batchSize < decoded.length) await new Promise<void>((r) => setImmediate(r));
  }
  return out;
}
