// lib/tensor/pool.ts — a pool of reusable Float32Array buffers for activations, gradients and
// kernel scratch.
//
// Why: on these machines a fresh large allocation is paid in page faults at well under 1 GB/s
// (against ~50 GB/s for memory already touched), so a training step must not allocate its
// activations afresh. Tensors take their storage from here and give it back on dispose(); after
// the first step of a loop every request is met from the free lists.
//
// Size classes: a request of n floats is served from a buffer whose capacity is n rounded up to
// 2^k · {1, 1.25, 1.5, 1.75} (≤ 25 % slack), so sequences that vary a little from batch to batch
// (each batch packed to its own valid tokens) still reuse buffers. The caller sees a view of
// exactly n floats; the pool keys free buffers by their ArrayBuffer's capacity. Small requests
// (< MIN_POOLED floats) are plain allocations — V8 serves those from its heap cheaply.
//
// Contents of an acquired buffer are unspecified (the last user's values) unless acquireZeroed.

const MIN_POOLED = 4096; // floats (16 KiB)

export interface PoolStats {
  /** Fresh ArrayBuffers the pool created (large requests only). */
  allocations: number;
  /** Bytes of those fresh buffers. */
  allocatedBytes: number;
  /** Large requests served from the free lists. */
  reuses: number;
  /** Bytes currently held in the free lists. */
  freeBytes: number;
  /** Bytes currently handed out. */
  liveBytes: number;
}

export function sizeClass(n: number): number {
  if (n <= MIN_POOLED) return n;
  const p = 2 ** Math.floor(Math.log2(n));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const c = p * f;
    if (c >= n) return c;
  }
  return 2 * p;
}

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private stats_: PoolStats = { allocations: 0, allocatedBytes: 0, reuses: 0, freeBytes: 0, liveBytes: 0 };
  /** Free bytes above which released buffers are dropped instead of kept (default 4 GiB). */
  maxFreeBytes = 4 * 2 ** 30;

  /** A Float32Array of exactly n floats; contents unspecified. */
  acquire(n: number): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const cap = sizeClass(n);
    const list = this.free.get(cap);
    let ab = list?.pop();
    if (ab) {
      this.stats_.reuses++;
      this.stats_.freeBytes -= ab.byteLength;
    } else {
      ab = new ArrayBuffer(cap * 4);
      this.stats_.allocations++;
      this.stats_.allocatedBytes += ab.byteLength;
    }
    this.stats_.liveBytes += ab.byteLength;
    return new Float32Array(ab, 0, n);
  }

  /** A Float32Array of n zeros. */
  acquireZeroed(n: number): Float32Array {
    const a = this.acquire(n);
    if (n >= MIN_POOLED) a.fill(0);
    return a;
  }

  /** Gives a buffer obtained from acquire() back. Small buffers are left to the GC. */
  release(a: Float32Array): void {
    if (a.length < MIN_POOLED) return;
    const ab = a.buffer as ArrayBuffer;
    const cap = ab.byteLength / 4;
    if (a.byteOffset !== 0 || sizeClass(a.length) !== cap) {
      throw new Error(`BufferPool.release: a buffer of ${a.length} floats that the pool did not hand out`);
    }
    this.stats_.liveBytes -= ab.byteLength;
    if (this.stats_.freeBytes + ab.byteLength > this.maxFreeBytes) return;
    let list = this.free.get(cap);
    if (!list) this.free.set(cap, (list = []));
    list.push(ab);
    this.stats_.freeBytes += ab.byteLength;
  }

  stats(): PoolStats {
    return { ...this.stats_ };
  }

  /** Drops every free buffer (the GC reclaims them). */
  trim(): void {
    this.free.clear();
    this.stats_.freeBytes = 0;
  }
}

/** The process-wide pool tensors use. */
export const pool = new BufferPool();
