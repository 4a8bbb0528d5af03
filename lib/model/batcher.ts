// lib/serve/batcher.ts — dynamic batching: concurrent calls coalesced into batches for a function
// that runs one batch (the model's predict), with the knobs Triton and Ray Serve use.
//
// Contract
// - submit(items, { options, signal }) queues one CALL of ≥ 1 items and resolves with exactly that
//   call's results, in its items' order (the batch's results are sliced back per call).
// - One batch runs at a time (the model has one worker). A batch is formed from the queue's head:
//   the oldest waiting call, then later calls with the same options key (keyOf) in arrival order,
//   while the total stays ≤ maxBatchSize items. A call is never split: a call larger than
//   maxBatchSize runs as a batch of its own (run() splits it further as it likes).
// - When a batch is dispatched: as soon as nothing runs and either maxBatchSize items wait or the
//   oldest waiting call has waited maxDelayMs (Triton's max_queue_delay). Calls that arrive while
//   a batch runs wait for it, so a busy model coalesces without any delay (with maxDelayMs = 0 an
//   idle model starts on the first call at once, and the calls behind it form the next batch).
// - Errors: `validate(items, options)` (optional, synchronous) runs per call at submit(), before
//   the call is queued: a call that fails it rejects alone, with that error, and never reaches a
//   batch. If run() rejects for a batch of several calls anyway, the batch is split and each call
//   is retried alone, in order, so a sample's error fails only its own caller (the others get
//   their results; the cost of the retries falls on that one failing batch). A call that fails
//   alone rejects with run()'s error.
// - Backpressure: at most maxQueue items wait (the running batch not counted); a call that would
//   exceed it rejects at once with BatcherError code ERR_BATCHER_QUEUE_FULL. Memory is bounded by
//   maxQueue + maxBatchSize items (plus one oversized call).
// - Abort: a call whose signal aborts before its batch starts is removed from the queue and
//   rejects with an AbortError (`name` 'AbortError', `cause` the signal's reason). Once its batch
//   has started, the signal is ignored and the call completes (a batch is not torn apart).
// - close({ drain: true }) runs every queued call (without waiting for the delay) and resolves
//   when all have settled; close({ drain: false }) rejects the queued calls with ERR_BATCHER_CLOSED
//   and waits for the running batch only. Either way it resolves with how many calls completed
//   after close() and how many it rejected; submit() after close() rejects with ERR_BATCHER_CLOSED.
//
// Intended hook in MerClip (opt-in `{ maxBatchSize, maxDelayMs }`): build
//   new DynamicBatcher((s, o) => predictNow(s, { ...o, batchSize: maxBatchSize }), { maxBatchSize,
//   maxDelayMs, maxQueue, validate: (s, o) => { resolveLabelSet(config, o); packSamples(s, config) },
//   keyOf: labelSetKey })
// and let predict() return batcher.submit(list, { options: { labels, values }, signal }).

/** BatcherError codes: 'ERR_BATCHER_QUEUE_FULL' | 'ERR_BATCHER_CLOSED' | 'ERR_BATCHER_RESULTS'. */
export class BatcherError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'BatcherError';
    this.code = code;
  }
}

export interface BatcherOptions<T, O> {
  /** Items per batch (≥ 1). */
  maxBatchSize: number;
  /** How long the oldest call may wait for others to join it while the model is idle (ms, ≥ 0). */
  maxDelayMs: number;
  /** Items that may wait (≥ 1; default 64 × maxBatchSize). */
  maxQueue?: number;
  /** Per-call validation at submit(); throws to reject that call alone. */
  validate?: (items: readonly T[], options: O | undefined) => void;
  /** Calls are coalesced only with calls of the same key (default: JSON of the options). */
  keyOf?: (options: O | undefined) => string;
  /** Told about every batch that ran (metrics). */
  onBatch?: (info: BatchInfo) => void;
}

export interface BatchInfo {
  /** Items in the batch. */
  size: number;
  /** Calls in the batch. */
  calls: number;
  /** How long each call waited in the queue (ms). */
  waitedMs: number[];
  /** How long run() took (ms). */
  runMs: number;
  /** Whether run() failed and the batch was split into single-call retries. */
  split: boolean;
}

export interface SubmitOptions<O> {
  options?: O;
  signal?: AbortSignal;
}

export interface CloseResult {
  /** Calls that completed (resolved or rejected by run()) after close() was called. */
  completed: number;
  /** Queued calls close() rejected with ERR_BATCHER_CLOSED (0 when draining). */
  rejected: number;
}

interface Call<T, R, O> {
  items: readonly T[];
  options: O | undefined;
  key: string;
  enqueuedAt: number;
  resolve: (r: R[]) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`DynamicBatcher: ${name} must be a positive integer, received ${String(v)}`);
  return v;
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('the call was aborted before its batch started', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

export class DynamicBatcher<T, R, O = undefined> {
  readonly maxBatchSize: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;
  private readonly queue: Call<T, R, O>[] = [];
  private queuedItems = 0;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private closing: { drain: boolean; completedAtClose: number; rejected: number; done: Promise<CloseResult>; resolve: (r: CloseResult) => void } | null = null;
  private completed = 0;
  private aborted = 0;
  private readonly opts: BatcherOptions<T, O>;

  constructor(private readonly run: (items: T[], options: O | undefined) => Promise<R[]>, opts: BatcherOptions<T, O>) {
    if (typeof run !== 'function') throw new TypeError('DynamicBatcher: expected a function that runs one batch');
    this.maxBatchSize = positiveInt('maxBatchSize', opts.maxBatchSize);
    if (typeof opts.maxDelayMs !== 'number' || !Number.isFinite(opts.maxDelayMs) || opts.maxDelayMs < 0) {
      throw new RangeError(`DynamicBatcher: maxDelayMs must be a finite number ≥ 0, received ${String(opts.maxDelayMs)}`);
    }
    this.maxDelayMs = opts.maxDelayMs;
    this.maxQueue = opts.maxQueue === undefined ? 64 * this.maxBatchSize : positiveInt('maxQueue', opts.maxQueue);
    this.opts = opts;
  }

  /** Items waiting (not counting the running batch). */
  get queueDepth(): number {
    return this.queuedItems;
  }

  /** Calls waiting. */
  get pendingCalls(): number {
    return this.queue.length;
  }

  /** Whether a batch is running. */
  get busy(): boolean {
    return this.running;
  }

  /** Calls removed from the queue by their AbortSignal so far. */
  get abortedCalls(): number {
    return this.aborted;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Queues one call; resolves with its results (one per item, in order). */
  submit(items: readonly T[], opts: SubmitOptions<O> = {}): Promise<R[]> {
    if (this.closing) return Promise.reject(new BatcherError('the batcher is closed; no new calls are accepted', 'ERR_BATCHER_CLOSED'));
    if (!Array.isArray(items) || items.length === 0) return Promise.reject(new TypeError('DynamicBatcher.submit: expected a non-empty array of items'));
    const { signal, options } = opts;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    try {
      this.opts.validate?.(items, options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.queuedItems + items.length > this.maxQueue) {
      return Promise.reject(new BatcherError(
        `queue full: ${this.queuedItems} items are waiting and this call adds ${items.length}; the limit is ${this.maxQueue} (maxQueue). Retry later or add replicas`,
        'ERR_BATCHER_QUEUE_FULL'));
    }
    return new Promise<R[]>((resolve, reject) => {
      const call: Call<T, R, O> = {
        items, options, key: this.opts.keyOf ? this.opts.keyOf(options) : JSON.stringify(options ?? null),
        enqueuedAt: performance.now(), resolve, reject, signal, onAbort: null,
      };
      if (signal) {
        call.onAbort = () => this.withdraw(call);
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      this.queue.push(call);
      this.queuedItems += items.length;
      this.schedule();
    });
  }

  /**
   * Stops accepting calls. drain: true runs the queued calls; false rejects them
   * (ERR_BATCHER_CLOSED). Resolves once nothing runs; a second close() returns the first's result.
   */
  close(opts: { drain?: boolean } = {}): Promise<CloseResult> {
    if (this.closing) return this.closing.done;
    const drain = opts.drain ?? true;
    let resolve!: (r: CloseResult) => void;
    const done = new Promise<CloseResult>((r) => (resolve = r));
    this.closing = { drain, completedAtClose: this.completed, rejected: 0, done, resolve };
    if (!drain) {
      for (const call of this.queue.splice(0)) {
        this.detach(call);
        this.closing.rejected++;
        call.reject(new BatcherError('the batcher was closed before this call ran (close({ drain: false }))', 'ERR_BATCHER_CLOSED'));
      }
      this.queuedItems = 0;
    }
    this.schedule();
    return done;
  }

  private detach(call: Call<T, R, O>): void {
    if (call.signal && call.onAbort) call.signal.removeEventListener('abort', call.onAbort);
    call.onAbort = null;
  }

  private withdraw(call: Call<T, R, O>): void {
    const i = this.queue.indexOf(call);
    if (i < 0) return; // already in a running batch
    this.queue.splice(i, 1);
    this.queuedItems -= call.items.length;
    this.aborted++;
    call.onAbort = null;
    call.reject(abortError(call.signal!));
    this.schedule();
  }

  /** Dispatches a batch now, or arms the timer for when the oldest call's delay is up. */
  private schedule(): void {
    if (this.running) return;
    if (this.queue.length === 0) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.finishClose();
      return;
    }
    const waited = performance.now() - this.queue[0]!.enqueuedAt;
    if (this.closing || this.queuedItems >= this.maxBatchSize || waited >= this.maxDelayMs) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.dispatch();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, Math.max(0, this.maxDelayMs - waited));
    }
  }

  private finishClose(): void {
    const c = this.closing;
    if (c && !this.running && this.queue.length === 0) c.resolve({ completed: this.completed - c.completedAtClose, rejected: c.rejected });
  }

  /** Takes the head call and later same-key calls (≤ maxBatchSize items) and runs them. */
  private dispatch(): void {
    if (this.running || this.queue.length === 0) return;
    const head = this.queue[0]!;
    const batch: Call<T, R, O>[] = [];
    let size = 0;
    for (let i = 0; i < this.queue.length;) {
      const c = this.queue[i]!;
      const fits = batch.length === 0 || size + c.items.length <= this.maxBatchSize;
      if (c.key === head.key && fits) {
        batch.push(c);
        size += c.items.length;
        this.queue.splice(i, 1);
        if (size >= this.maxBatchSize) break;
      } else i++;
    }
    this.queuedItems -= size;
    for (const c of batch) this.detach(c);
    this.running = true;
    void this.runBatch(batch, size).finally(() => {
      this.running = false;
      this.schedule();
    });
  }

  private async runBatch(batch: Call<T, R, O>[], size: number): Promise<void> {
    const start = performance.now();
    const waitedMs = batch.map((c) => start - c.enqueuedAt);
    const items = batch.length === 1 ? [...batch[0]!.items] : batch.flatMap((c) => c.items);
    let split = false;
    try {
      const results = await this.runChecked(items, batch[0]!.options);
      let o = 0;
      for (const c of batch) {
        c.resolve(results.slice(o, o + c.items.length));
        o += c.items.length;
      }
    } catch (err) {
      if (batch.length === 1) batch[0]!.reject(err);
      else {
        // Split: each call alone, in order, so one call's bad item fails only that call.
        split = true;
        for (const c of batch) {
          try {
            c.resolve(await this.runChecked([...c.items], c.options));
          } catch (e) {
            c.reject(e);
          }
        }
      }
    }
    this.completed += batch.length;
    try {
      this.opts.onBatch?.({ size, calls: batch.length, waitedMs, runMs: performance.now() - start, split });
    } catch {
      // a metrics callback's failure must not stall the queue (the calls are already answered)
    }
  }

  private async runChecked(items: T[], options: O | undefined): Promise<R[]> {
    const results = await this.run(items, options);
    if (!Array.isArray(results) || results.length !== items.length) {
      throw new BatcherError(`the batch function returned ${Array.isArray(results) ? results.length : typeof results} results for ${items.length} items`, 'ERR_BATCHER_RESULTS');
    }
    return results;
  }
}
