// lib/model/predict.ts — inference for applications: samples in, { score, probs, label } out.
//
// Predictor is what MerClip.predict() uses: it validates and packs the samples (packSamples,
// batch.ts), tokenizes the label prompts on the main thread, and hands the batches to a worker
// thread (predictorThread.ts / predictWorker.ts) that shares the model's weights (they live in
// SharedArrayBuffers) and runs the forward pass there; the event loop only packs inputs. Each
// predict() call is processed as its own batches, in order, so concurrent calls give exactly the
// results sequential calls give. (A call whose frames are image files or bytes is submitted once
// sharp has decoded them: later calls may overtake it.)
//
// Dynamic batching (opt-in, model.setBatching({ maxBatchSize, maxDelayMs, maxQueue })): calls
// are then queued in a DynamicBatcher (batcher.ts) and those that arrive while the worker is busy,
// or within maxDelayMs, run as one batch; each caller gets exactly its own results (validated per
// call first, so a bad sample fails only its caller), `signal` withdraws a call that has not
// started, maxQueue bounds the waiting samples (ERR_BATCHER_QUEUE_FULL).
//
// Ownership: the model owns its Predictor, the Predictor owns the thread (started on the first
// call). The thread holds the model only weakly; a model dropped without close() has its worker
// stopped when it is collected (the finalizer below).

import type { ModelBatch, Sample } from './batch.js';
import { packSamples, validateSamples } from './batch.js';
import { type BatchInfo, type CloseResult, DynamicBatcher } from './batcher.js';
import type { MerClipConfig } from './config.js';
import { decodeSamples, needsDecoding } from './decode.js';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import { PredictorThread, type WeightSource } from './predictorThread.js';

export type { FrameInput, FramesInput, Sample, SampleInput, SampleModality } from './batch.js';

export interface PredictOptions {
  /** Another label set (encoded on the fly by the label encoder). */
  labels?: readonly string[];
  /** The regression value of each label (required for a score with a custom label set). */
  values?: readonly number[];
  /** Samples per batch (default 32; with dynamic batching, maxBatchSize). */
  batchSize?: number;
  /** Withdraws the call while it waits (dynamic batching) or before it starts: rejects with an AbortError. */
  signal?: AbortSignal;
}

/** Dynamic batching of concurrent predict() calls (the knobs Triton and Ray Serve use). */
export interface BatchingOptions {
  /** Samples per coalesced batch (≥ 1). */
  maxBatchSize: number;
  /** How long the oldest waiting call may wait for others while the worker is idle (ms, ≥ 0). */
  maxDelayMs: number;
  /** Samples that may wait (default 64 × maxBatchSize); beyond it a call rejects with code ERR_BATCHER_QUEUE_FULL. */
  maxQueue?: number;
}

type LabelSet = Pick<PredictOptions, 'labels' | 'values'>;

export interface Prediction {
  /** Σ_c p_c v_c; null when the label set has no values. */
  score: number | null;
  /** The label distribution, in label order. */
  probs: number[];
  /** The most probable label. */
  label: string;
}

/** What a Predictor needs of its model: the config, the prompt tokenizer, the shared weights. */
export interface PredictorModel extends WeightSource {
  readonly labels: {
    tokenize(labels: readonly string[]): { ids: Int32Array; length: number };
    cacheKey(labels: readonly string[]): string;
    /** Also tokenizes transcripts (text source 'clip'). */
    readonly tokenizer?: ClipTokenizer;
  };
}

/**
 * A model dropped without close() would otherwise keep its idle (unref'd) predict worker, and the
 * worker's copy of the model, for the life of the process; when the model is collected, its
 * worker is stopped. (The held value, the thread, references the model only weakly.)
 */
const stopWhenCollected = new FinalizationRegistry<PredictorThread>((p) => {
  void p.terminate().catch(() => undefined);
});

export class Predictor {
  private thread_: PredictorThread | null = null;
  private batcher_: DynamicBatcher<Sample, Prediction, LabelSet> | null = null;

  constructor(private readonly model: PredictorModel) {}

  /** The worker thread (null before the first predict()). */
  get thread(): PredictorThread | null {
    return this.thread_;
  }

  /** The dynamic batcher (null when batching is off). */
  get batcher(): DynamicBatcher<Sample, Prediction, LabelSet> | null {
    return this.batcher_;
  }

  /**
   * Turns dynamic batching on (or off with null). Calls already queued in a previous batcher are
   * drained through it first; the result says how many.
   */
  async setBatching(opts: BatchingOptions | null): Promise<CloseResult | null> {
    const old = this.batcher_;
    this.batcher_ = null;
    if (opts) {
      const { maxBatchSize } = opts;
      const tokenizer = this.model.labels.tokenizer;
      this.batcher_ = predictBatcher(this.model.config, (items, o) => this.predictNow(items, { ...o, batchSize: maxBatchSize }), { ...opts, ...(tokenizer ? { tokenizer } : {}) });
    }
    return old ? old.close({ drain: true }) : null;
  }

  predict(samples: Sample, opts?: PredictOptions): Promise<Prediction>;
  predict(samples: readonly Sample[], opts?: PredictOptions): Promise<Prediction[]>;
  predict(samples: Sample | readonly Sample[], opts?: PredictOptions): Promise<Prediction | Prediction[]>;
  async predict(samples: Sample | readonly Sample[], opts: PredictOptions = {}): Promise<Prediction | Prediction[]> {
    const single = !Array.isArray(samples);
    let list = single ? [samples as Sample] : (samples as readonly Sample[]);
    // image files / encoded frames decoded first (async, sharp's threads): packing is synchronous.
    // Only then: a call without them is submitted synchronously (its order among calls kept).
    if (needsDecoding(list, this.model.config)) list = await decodeSamples(list, this.model.config);
    let preds: Prediction[];
    if (this.batcher_ && list.length > 0) {
      const options: LabelSet = {};
      if (opts.labels) options.labels = opts.labels;
      if (opts.values) options.values = opts.values;
      preds = await this.batcher_.submit(list, { options, ...(opts.signal ? { signal: opts.signal } : {}) });
    } else {
      if (opts.signal?.aborted) {
        const err = new Error('the call was aborted before it started', { cause: opts.signal.reason });
        err.name = 'AbortError';
        throw err;
      }
      preds = await this.predictNow(list, opts);
    }
    return single ? preds[0]! : preds;
  }

  /** One call's samples, as its own batches, on the worker thread. */
  private async predictNow(list: readonly Sample[], opts: PredictOptions): Promise<Prediction[]> {
    const { labels, values } = resolveLabelSet(this.model.config, opts);
    const tokenizer = this.model.labels.tokenizer;
    const batches: ModelBatch[] = packSamples(list, this.model.config, opts.batchSize ?? 32, tokenizer ? { tokenizer } : {});
    if (batches.length === 0) return [];
    const { ids, length } = this.model.labels.tokenize(labels);
    if (!this.thread_) {
      this.thread_ = new PredictorThread(this.model);
      stopWhenCollected.register(this.model, this.thread_);
    }
    const res = await this.thread_.run({ batches, labels, values, tokens: { ids, count: labels.length, length, key: this.model.labels.cacheKey(labels) } });
    return toPredictions(res.scores, res.probs, labels);
  }

  /**
   * Stops the worker (pending calls reject with a "closed" PredictWorkerError); a later call starts
   * a fresh one. With dynamic batching, `drain: true` first runs every queued call, `drain: false`
   * (the default) rejects them with ERR_BATCHER_CLOSED; the result says how many of each (null
   * without batching). Batching stays on, with the same options, for later calls.
   */
  async close(opts: { drain?: boolean } = {}): Promise<CloseResult | null> {
    const b = this.batcher_;
    let result: CloseResult | null = null;
    if (b) {
      const { maxBatchSize, maxDelayMs, maxQueue } = b;
      result = await b.close({ drain: opts.drain ?? false });
      this.batcher_ = null;
      await this.setBatching({ maxBatchSize, maxDelayMs, maxQueue });
    }
    await this.thread_?.terminate();
    return result;
  }
}

/**
 * A DynamicBatcher for predict() calls: each call validated alone at submit (its label set and
 * samples, so a bad sample fails only its caller), coalesced only with calls of the same label
 * set. Used by Predictor.setBatching and by `merclip serve` (lib/serve/server.ts).
 */
export function predictBatcher<O extends LabelSet>(
  config: MerClipConfig,
  run: (items: Sample[], options: O | undefined) => Promise<Prediction[]>,
  opts: BatchingOptions & { onBatch?: (info: BatchInfo) => void; tokenizer?: ClipTokenizer },
): DynamicBatcher<Sample, Prediction, O> {
  const pack = opts.tokenizer ? { tokenizer: opts.tokenizer } : {};
  return new DynamicBatcher<Sample, Prediction, O>(run, {
    maxBatchSize: opts.maxBatchSize,
    maxDelayMs: opts.maxDelayMs,
    ...(opts.maxQueue !== undefined ? { maxQueue: opts.maxQueue } : {}),
    ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
    validate: (items, o) => {
      resolveLabelSet(config, o ?? {});
      validateSamples(items, config, pack); // raw inputs: decoded already (decodeSamples); nothing copied
    },
    keyOf: (o) => (o?.labels ? JSON.stringify([o.labels, o.values ?? null]) : ''),
  });
}

/** Turns scores and probabilities [B, C] into Predictions. */
export function toPredictions(scores: Float32Array | null, probs: Float32Array, labels: readonly string[]): Prediction[] {
  const C = labels.length;
  const B = probs.length / C;
  const out: Prediction[] = [];
  for (let b = 0; b < B; b++) {
    const p = Array.from(probs.subarray(b * C, (b + 1) * C));
    let best = 0;
    for (let c = 1; c < C; c++) if (p[c]! > p[best]!) best = c;
    out.push({ score: scores ? scores[b]! : null, probs: p, label: labels[best]! });
  }
  return out;
}

/** The label set of a predict call: the config's, or the given labels (values optional). */
export function resolveLabelSet(config: Pick<MerClipConfig, 'labels' | 'labelValues'>, opts: PredictOptions): { labels: string[]; values: number[] | null } {
  if (!opts.labels) {
    if (opts.values) throw new RangeError('predict: values were given without labels');
    return { labels: [...config.labels], values: [...config.labelValues] };
  }
  const labels = [...opts.labels];
  if (labels.length < 1 || labels.some((l) => typeof l !== 'string' || !l.trim())) throw new RangeError('predict: labels must be non-empty strings');
  if (opts.values) {
    if (opts.values.length !== labels.length || opts.values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new RangeError(`predict: expected ${labels.length} finite values (one per label), received ${opts.values.length}`);
    }
    return { labels, values: [...opts.values] };
  }
  return { labels, values: null };
}
