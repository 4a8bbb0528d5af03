// lib/model/predictorThread.ts — the main-thread side of predict(): one worker per model,
// requests answered in order; the worker is unref'd while nothing is pending.
//
// Faults: when the worker dies (terminated, out of memory, a native error, an uncaught
// exception, a failed start such as an import error), every pending call rejects with an error
// that says what happened (PredictWorkerError, with `code` and `cause`), and the NEXT call starts
// a fresh worker. close() rejects the pending calls at once with a "closed" error and stops the
// worker between calls (no batch thrown away half done; predictWorker.ts); a later
// run() starts a fresh one (the model stays usable).
import { type ResourceLimits, Worker } from 'node:worker_threads';

import { backend } from '../backend/index.js';
import { MODALITIES } from '../data/batch.js';
import type { ModelBatch } from './batch.js';
import type { MerClipConfig } from './config.js';

/** What the worker is built from: the model's config and its shared weights (name → array). */
export interface WeightSource {
  readonly config: MerClipConfig;
  sharedWeights(): Map<string, Float32Array>;
}

export interface PredictRequest {
  id: number;
  batches: ModelBatch[];
  labels: string[];
  /** Values for the score (null: none). */
  values: number[] | null;
  /** Tokenized prompts [count, length] and the encoder's cache key. */
  tokens: { ids: Int32Array; count: number; length: number; key: string };
}

/**
 * What the main thread posts: a request, the end of the worker, or (test hook, see
 * PredictorThread._injectFault) a fault raised between calls: 'exit' ends the thread with code 1
 * as a library calling process.exit would, 'throw' is an uncaught exception.
 */
export type WorkerMessage =
  | ({ kind: 'predict' } & PredictRequest)
  | { kind: 'close' }
  | { kind: 'fault'; fault: 'exit' | 'throw' };

export type PredictResponse =
  | { id: number; scores: Float32Array | null; probs: Float32Array }
  | { id: number; error: { name: string; message: string } };

export interface PredictWorkerData {
  config: MerClipConfig;
  weights: Map<string, Float32Array>;
  /** Int32Array(1) on a SharedArrayBuffer: non-zero once the main thread stops this worker. */
  stop: Int32Array;
}


type Result = { scores: Float32Array | null; probs: Float32Array };

/** Why a predict() call could not be answered by the worker (it died, or the model was closed). */
export class PredictWorkerError extends Error {
  /** 'ERR_PREDICT_WORKER_EXIT' | 'ERR_PREDICT_WORKER_FAILED' | 'ERR_WORKER_OUT_OF_MEMORY' | 'ERR_PREDICT_CLOSED' */
  readonly code: string;
  constructor(message: string, code: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'PredictWorkerError';
    this.code = code;
  }
}

export interface PredictorThreadOptions {
  /** Heap limits of the worker (node:worker_threads ResourceLimits); exceeding them is reported as out of memory. */
  resourceLimits?: ResourceLimits;
}

function startWorker(workerData: unknown, resourceLimits: ResourceLimits | undefined): Worker {
  const opts = { workerData, ...(resourceLimits ? { resourceLimits } : {}) };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./predictWorker.js', import.meta.url), opts);
  // Under a TypeScript runner (the tests, tsx) this file is .ts: the worker registers tsx's
  // loader first, then imports the .ts worker. A failed import rethrows: the worker's 'error'.
  const url = new URL('./predictWorker.ts', import.meta.url).href;
  const code = `(async () => { const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(url)}); })()
    .catch((e) => { throw e; });`;
  return new Worker(code, { ...opts, eval: true });
}

interface Pending {
  resolve: (r: Result) => void;
  reject: (e: Error) => void;
}

/** One started worker and the calls it owes an answer to. */
interface Live {
  worker: Worker;
  pending: Map<number, Pending>;
  /** The worker's stop flag (shared). */
  stop: Int32Array;
  /** Resolves on the worker's 'exit'. */
  exited: Promise<void>;
}

/** The worker's error as the same built-in class (a RangeError stays a RangeError), else an Error with its name. */
const BUILTIN_ERRORS: Record<string, ErrorConstructor> = { TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
function rebuildError(e: { name: string; message: string }): Error {
  const err = new (BUILTIN_ERRORS[e.name] ?? Error)(e.message);
  err.name = e.name;
  return err;
}

const pendingCalls = (n: number): string => (n === 1 ? '1 call was pending' : `${n} calls were pending`);

/** How long close() waits for a busy worker to finish its current batch before terminating it. */
const STOP_GRACE_MS = 30_000;

export class PredictorThread {
  private live: Live | null = null;
  private nextId = 1;
  /**
   * Weak: a running worker keeps its Worker object (and so its listeners and this thread) alive,
   * and a strong reference here would keep the model alive with it; a model dropped without
   * close() could then never be collected, nor its worker stopped (see MerClip's finalizer).
   */
  private readonly model: WeakRef<WeightSource>;

  constructor(model: WeightSource, private readonly opts: PredictorThreadOptions = {}) {
    this.model = new WeakRef(model);
  }

  /**
   * Test hook (internal; not part of the API): the current worker, or null when none is started.
   */
  _currentWorker(): Worker | null {
    return this.live?.worker ?? null;
  }

  /**
   * Test hook (internal; not part of the API): makes the current worker die between calls, as a
   * library calling process.exit(1) would ('exit') or by an uncaught exception ('throw'). The
   * message is queued behind the calls already sent, so calls made after it are pending when it
   * dies. (The tests also terminate the worker from outside in the middle of a call.)
   */
  _injectFault(fault: 'exit' | 'throw'): void {
    const live = (this.live ??= this.start());
    const msg: WorkerMessage = { kind: 'fault', fault };
    live.worker.postMessage(msg);
  }

  private start(): Live {
    const model = this.model.deref();
    if (!model) throw new Error('predict: the model was garbage-collected'); // unreachable: run() is called through the model
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const data: PredictWorkerData = { config: model.config, weights: model.sharedWeights(), stop };
    const worker = startWorker(data, this.opts.resourceLimits);
    let exited!: () => void;
    const live: Live = { worker, pending: new Map(), stop, exited: new Promise<void>((r) => (exited = r)) };
    worker.unref();
    worker.on('message', (res: PredictResponse) => {
      const p = live.pending.get(res.id);
      if (!p) return;
      live.pending.delete(res.id);
      if (live.pending.size === 0) worker.unref();
      if ('error' in res) p.reject(rebuildError(res.error));
      else p.resolve({ scores: res.scores, probs: res.probs });
    });
    worker.on('error', (err: Error & { code?: string }) => {
      const n = live.pending.size;
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      const what = oom
        ? `predict worker ran out of memory (${err.code}: ${err.message})`
        : `predict worker failed: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}`;
      this.fail(live, () => new PredictWorkerError(`${what} while ${pendingCalls(n)}; the next call starts a new worker`,
        oom ? 'ERR_WORKER_OUT_OF_MEMORY' : 'ERR_PREDICT_WORKER_FAILED', err));
    });
    worker.on('messageerror', (err: Error) => {
      const n = live.pending.size;
      this.fail(live, () => new PredictWorkerError(`predict worker sent a message that could not be read (${err.message}) while ` +
        `${pendingCalls(n)}; the next call starts a new worker`, 'ERR_PREDICT_WORKER_FAILED', err));
      void this.stopWorker(live);
    });
    worker.on('exit', (code) => {
      // The worker's C heap (its arena: activation scratch, the kernels' buffers) is free now;
      // glibc keeps those pages resident until trimmed (after close(): ~55 MiB, paper model).
      backend.native().trimHeap();
      exited();
      const n = live.pending.size;
      this.fail(live, () => new PredictWorkerError(`predict worker exited unexpectedly (code ${code}) while ${pendingCalls(n)}; ` +
        'the next call starts a new worker', 'ERR_PREDICT_WORKER_EXIT'));
    });
    return live;
  }

  /** Rejects every pending call of `live` (one error each) and forgets the worker (idempotent). */
  private fail(live: Live, error: () => Error): void {
    if (this.live === live) this.live = null;
    const pending = [...live.pending.values()];
    live.pending.clear();
    live.worker.unref();
    for (const p of pending) p.reject(error());
  }

  /**
   * Ends a worker from JS, between calls (see predictWorker.ts): raise its stop flag, post close,
   * wait for its exit. Terminates it only when it has not exited after STOP_GRACE_MS (a batch
   * that long, or a worker stuck in JS).
   */
  private async stopWorker(live: Live): Promise<void> {
    Atomics.store(live.stop, 0, 1);
    const msg: WorkerMessage = { kind: 'close' };
    try {
      live.worker.postMessage(msg);
    } catch {
      // already gone: its exit event has fired or will
    }
    // Held until it has exited: a script ending with `await model.close()` does not end while
    // the worker finishes its batch.
    live.worker.ref();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), STOP_GRACE_MS);
      timer.unref();
    });
    if ((await Promise.race([live.exited, late])) === 'late') await live.worker.terminate();
    clearTimeout(timer);
  }

  run(req: Omit<PredictRequest, 'id'>): Promise<Result> {
    const transfer: ArrayBuffer[] = [];
    for (const b of req.batches) for (const m of MODALITIES) {
      const x = b[m];
      if (x) transfer.push(x.rows.buffer as ArrayBuffer, x.lengths.buffer as ArrayBuffer, x.offsets.buffer as ArrayBuffer);
    }
    // raw inputs (packSamples made these arrays: the caller's are never transferred)
    for (const b of req.batches) {
      const t = b.raw?.text, v = b.raw?.vision;
      if (t) transfer.push(t.ids.buffer as ArrayBuffer, t.lengths.buffer as ArrayBuffer);
      if (v) transfer.push(v.lengths.buffer as ArrayBuffer, ...v.frames.map((f) => f.data.buffer as ArrayBuffer));
    }
    const live = (this.live ??= this.start());
    const id = this.nextId++;
    const context = new Error();
    return new Promise((resolve, reject) => {
      const msg: WorkerMessage = { kind: 'predict', ...req, id };
      try {
        live.worker.postMessage(msg, transfer);
      } catch (err) {
        reject(err as Error);
        return;
      }
      live.pending.set(id, {
        resolve,
        reject: (e) => {
          e.stack = `${e.name}: ${e.message}\n${(context.stack ?? '').split('\n').slice(1).join('\n')}`;
          reject(e);
        },
      });
      live.worker.ref();
    });
  }

  /**
   * Stops the worker; calls still pending reject at once with a "closed" PredictWorkerError, and
   * the promise resolves when the worker has exited (after at most its current batch). The thread
   * stays usable: a later run() starts a fresh worker.
   */
  async terminate(): Promise<void> {
    const live = this.live;
    if (!live) return;
    const n = live.pending.size;
    this.fail(live, () => new PredictWorkerError(`predict: the model was closed while ${pendingCalls(n)}`, 'ERR_PREDICT_CLOSED'));
    await this.stopWorker(live);
  }
}
