// lib/model/predictWorker.ts — the worker thread behind MerClip.predict(): it builds the model
// straight from the caller's shared weights (MerClip.fromWeights: nothing initialised, every
// parameter bound to the shared array, no copy) and answers one message per predict() call, in
// order. See predict.ts; the messages are defined in predictorThread.ts.
//
// Faults: an exception while handling a request is sent back as that call's error (the worker
// lives on); a failure to start (an import, bindParameters) ends the worker with an 'error'
// event, which rejects the pending calls (predictorThread.ts).
//
// Stopping: close() ends the worker between calls, so it never throws away a batch half done:
// the main thread raises the shared `stop` flag (checked before each request and between
// batches, so queued work is skipped) and posts { kind: 'close' }; the worker then exits from
// JS. A termination from outside in the middle of a kernel is safe too — the addon is built with
// NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS; without it, node-addon-api's error wrapper threw a
// second C++ exception from its catch block and std::terminate aborted the whole process
// (test/model/predictFaults.test.ts terminates a worker mid-kernel 40 times in a child process).
import { parentPort, workerData } from 'node:worker_threads';

import { backend } from '../backend/index.js';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import { noGrad, pool, tidy } from '../tensor/index.js';
import { batchPieces, sliceBatch } from './batch.js';
import { MerClip } from './merclip.js';
import type { PredictRequest, PredictResponse, PredictWorkerData, WorkerMessage } from './predictorThread.js';


const { config, weights, stop } = workerData as PredictWorkerData;
// The prompts arrive tokenized (the main thread holds the tokenizer), so the worker does not load
// one: that saves ~240 ms of start-up and the vocabulary's memory in every worker. Any use of this
// stand-in is a bug and says so.
const noTokenizer = new Proxy({}, {
  get(): never {
    throw new Error('predict worker: no tokenizer here (prompts are tokenized on the main thread)');
  },
}) as ClipTokenizer;
const model = MerClip.fromWeights(config, weights, noTokenizer);

const stopped = (): boolean => Atomics.load(stop, 0) !== 0;

// Memory at rest: the pool keeps a batch's activation buffers for the next one (fresh memory
// costs page faults), but once no request has come for IDLE_RELEASE_MS their pages go back to
// the OS (pool.releaseFreePages: the buffers stay valid, no GC needed), so an idle service holds
// its weights and little else. A steady stream of requests never pays the re-faulting.
// MERCLIP_IDLE_RELEASE_MS overrides the delay (0: release after every request; negative: never).
const IDLE_RELEASE_MS = ((): number => {
  const v = Number(process.env.MERCLIP_IDLE_RELEASE_MS ?? '');
  return process.env.MERCLIP_IDLE_RELEASE_MS !== undefined && Number.isFinite(v) ? v : 1000;
})();
let idleTimer: ReturnType<typeof setTimeout> | null = null;
// Then the C heap's free memory (the addon's scratch, freed chunks between live ones: glibc keeps
// them resident until trimmed) goes back too.
const releaseIdle = (): void => {
  pool.releaseFreePages((ab) => backend.native().releasePages(ab));
  backend.native().trimHeap();
};
function scheduleRelease(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  if (IDLE_RELEASE_MS < 0) return;
  if (IDLE_RELEASE_MS === 0) releaseIdle();
  else idleTimer = setTimeout(() => {
    idleTimer = null;
    releaseIdle();
  }, IDLE_RELEASE_MS);
}

// Working set: a batch runs as pieces of at most PIECE_ROWS rows per modality (batchPieces), so
// the activations — and the pool buffers kept for the next batch — are bounded by the piece, not
// by the batch. Paper model, B32 (10,692 vision rows), RSS above the weights right after three
// B32 predicts (`npm run bench -- memory`): 318 MiB in one piece, 280 in pieces of 4096 rows,
// 187 in pieces of 2048; B32 predict() time interleaved in one process: 2781 / 2854 / 2801 ms (the
// encoders' GEMMs still have ~2000 rows). MERCLIP_PREDICT_PIECE_ROWS overrides it (a positive integer).
const PIECE_ROWS = ((): number => {
  const v = Number(process.env.MERCLIP_PREDICT_PIECE_ROWS ?? '');
  return Number.isInteger(v) && v > 0 ? v : 2048;
})();

/** The answer to one request; null when the worker was stopped meanwhile (no one waits for it). */
function run(req: PredictRequest): PredictResponse | null {
  const C = req.labels.length;
  const total = req.batches.reduce((s, b) => s + b.count, 0);
  const probs = new Float32Array(total * C);
  const scores = req.values ? new Float32Array(total) : null;
  // the label embeddings: computed once per label set (cached while frozen)
  const e = model.labels.encodeTokens(req.tokens.ids, req.tokens.count, req.tokens.length, req.tokens.key);
  let offset = 0;
  const labelSet = { labels: req.labels, values: req.values ?? new Array<number>(C).fill(0) };
  for (const batch of req.batches) {
    for (const [b0, b1] of batchPieces(batch, PIECE_ROWS)) {
      if (stopped()) return null;
      noGrad(() => tidy(() => {
        const out = model.forward(sliceBatch(batch, b0, b1), labelSet, e);
        probs.set(out.probs.data, (offset + b0) * C);
        if (scores) scores.set(out.score.data, offset + b0);
      }));
    }
    offset += batch.count;
  }
  return { id: req.id, scores, probs };
}

function errorOf(id: number, err: unknown): PredictResponse {
  const e = err as Error | null | undefined;
  const isObj = typeof e === 'object' && e !== null;
  return { id, error: { name: isObj && typeof e.name === 'string' ? e.name : 'Error', message: isObj && typeof e.message === 'string' ? e.message : String(err) } };
}

parentPort!.on('message', (msg: WorkerMessage) => {
  if (msg?.kind === 'close') {
    releaseIdle(); // the pages go back now, before the isolate's teardown frees the buffers
    process.exit(0); // ends this thread only, from JS (not inside a kernel)
  }
  if (msg?.kind === 'fault') {
    if (msg.fault === 'exit') process.exit(1);
    throw new Error('predict worker: injected fault (an uncaught exception)');
  }
  if (stopped()) return;
  // Whatever goes wrong while handling a request becomes that call's rejection.
  let res: PredictResponse | null;
  try {
    res = run(msg);
  } catch (err) {
    res = errorOf(msg?.id, err);
  }
  scheduleRelease();
  if (res === null || stopped()) return;
  try {
    parentPort!.postMessage(res);
  } catch (err) {
    parentPort!.postMessage(errorOf(msg?.id, err));
  }
});
