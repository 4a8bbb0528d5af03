// lib/model/predictorThread.ts — the main-thread side of predict(): one worker per model,
// requests answered in order; the worker is unref'd while nothing is pending.
import { Worker } from 'node:worker_threads';

import type { MerClip } from './merclip.js';
import type { PredictRequest, PredictResponse } from './predictWorker.js';

function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./predictWorker.js', import.meta.url), { workerData });
  // Under a TypeScript runner (the tests, tsx) this file is .ts: the worker registers tsx's
  // loader first, then imports the .ts worker.
  const url = new URL('./predictWorker.ts', import.meta.url).href;
  const code = `(async () => { const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(url)}); })()
    .catch((e) => { throw e; });`;
  return new Worker(code, { eval: true, workerData });
}

export class PredictorThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: { scores: Float32Array | null; probs: Float32Array }) => void; reject: (e: Error) => void }>();
  private failed: Error | null = null;

  constructor(model: MerClip) {
    this.worker = startWorker({ config: model.config, weights: model.sharedWeights() });
    this.worker.unref();
    this.worker.on('message', (res: PredictResponse) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (this.pending.size === 0) this.worker.unref();
      if ('error' in res) {
        const err = new Error(res.error.message);
        err.name = res.error.name;
        p.reject(err);
      } else p.resolve({ scores: res.scores, probs: res.probs });
    });
    const fail = (err: Error): void => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(new Error(`predict worker failed: ${err.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`predict worker exited (code ${code})`)));
  }

  run(req: Omit<PredictRequest, 'id'>): Promise<{ scores: Float32Array | null; probs: Float32Array }> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    const context = new Error();
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve,
        reject: (e) => {
          e.stack = `${e.name}: ${e.message}\n${(context.stack ?? '').split('\n').slice(1).join('\n')}`;
          reject(e);
        },
      });
      this.worker.ref();
      const transfer: ArrayBuffer[] = [];
      for (const b of req.batches) for (const m of ['text', 'audio', 'vision'] as const) {
        const x = b[m];
        if (x) transfer.push(x.features.buffer as ArrayBuffer, x.lengths.buffer as ArrayBuffer);
      }
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
