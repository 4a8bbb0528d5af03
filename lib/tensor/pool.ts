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
// When its own class has no free buffer, a request takes one of the next larger classes up to
// twice its size, so tokens of different lengths (one modality encoder after another) share
// buffers. releaseFreePages gives the free buffers' pages back to the OS while they wait.
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
  /** Free buffers whose pages were given back (releaseFreePages) and not touched since. */
  private readonly released = new WeakSet<ArrayBuffer>();
  private stats_: PoolStats = { allocations: 0, allocatedBytes: 0, reuses: 0, freeBytes: 0, liveBytes: 0 };
  /** Free bytes above which released buffers are dropped instead of kept (default 4 GiB). */
  maxFreeBytes = 4 * 2 ** 30;

  /** A Float32Array of exactly n floats; contents unspecified. */
  acquire(n: number): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const cap = sizeClass(n);
    let ab = this.free.get(cap)?.pop() ?? this.popLarger(cap);
    if (ab) {
      this.released.delete(ab);
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

  /**
   * A free buffer of the smallest class above `cap` and at most twice it, when the exact class has
   * none: sequences of different lengths (one modality after another) then share buffers instead
   * of each keeping its own set.
   */
  private popLarger(cap: number): ArrayBuffer | undefined {
    let best = 0;
    for (const [c, list] of this.free) if (c > cap && c <= 2 * cap && list.length > 0 && (best === 0 || c < best)) best = c;
    return best ? this.free.get(best)!.pop() : undefined;
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
    const want = sizeClass(a.length);
    if (a.byteOffset !== 0 || cap < want || cap > 2 * want) {
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

  /**
   * Gives the pages of every free buffer back to the operating system (`release` is the addon's
   * releasePages: madvise MADV_DONTNEED). The buffers stay in the free lists and valid — the next
   * acquire of one faults its pages back in, as zeros — so a process at rest holds only what is
   * live, without waiting for a GC. Returns the bytes given back. Buffers already released and not
   * used since are skipped.
   */
  releaseFreePages(release: (ab: ArrayBuffer) => number): number {
    let bytes = 0;
    for (const list of this.free.values()) {
      for (const ab of list) {
        if (this.released.has(ab)) continue;
        bytes += release(ab);
        this.released.add(ab);
      }
    }
    return bytes;
  }

  /** Drops every free buffer (the GC reclaims them). */
  trim(): void {
    this.free.clear();
    this.stats_.freeBytes = 0;
  }
}

/** The process-wide pool tensors use. */
export const pool = new BufferPool();
