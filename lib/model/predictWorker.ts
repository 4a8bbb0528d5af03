// lib/model/predictWorker.ts — the worker thread behind MerClip.predict(): it builds the model
// from the config, points its parameters at the caller's shared weights (no copy) and answers
// one message per predict() call, in order. See predict.ts.
import { parentPort, workerData } from 'node:worker_threads';

import { bindParameters } from '../nn/index.js';
import { noGrad, tidy } from '../tensor/index.js';
import type { MerClipConfig } from './config.js';
import { MerClip, type ModelBatch } from './merclip.js';

export interface PredictRequest {
  id: number;
  batches: ModelBatch[];
  labels: string[];
  /** Values for the score (null: none). */
  values: number[] | null;
  /** Tokenized prompts [count, length] and the encoder's cache key. */
  tokens: { ids: Int32Array; count: number; length: number; key: string };
}

export type PredictResponse =
  | { id: number; scores: Float32Array | null; probs: Float32Array }
  | { id: number; error: { name: string; message: string } };

const { config, weights } = workerData as { config: MerClipConfig; weights: Map<string, Float32Array> };
const model = new MerClip(config);
bindParameters(model, weights);

function run(req: PredictRequest): PredictResponse {
  const C = req.labels.length;
  const total = req.batches.reduce((s, b) => s + b.count, 0);
  const probs = new Float32Array(total * C);
  const scores = req.values ? new Float32Array(total) : null;
  // the label embeddings: computed once per label set (cached while frozen)
  const e = model.labels.encodeTokens(req.tokens.ids, req.tokens.count, req.tokens.length, req.tokens.key);
  let offset = 0;
  for (const batch of req.batches) {
    noGrad(() => tidy(() => {
      const out = model.forward(batch, { labels: req.labels, values: req.values ?? new Array<number>(C).fill(0) }, e);
      probs.set(out.probs.data, offset * C);
      if (scores) scores.set(out.score.data, offset);
    }));
    offset += batch.count;
  }
  return { id: req.id, scores, probs };
}

parentPort!.on('message', (req: PredictRequest) => {
  let res: PredictResponse;
  try {
    res = run(req);
  } catch (err) {
    const e = err as Error;
    res = { id: req.id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err) } };
  }
  parentPort!.postMessage(res);
});
