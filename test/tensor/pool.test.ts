// test/tensor/pool.test.ts — the buffer pool: size classes, reuse, reuse across classes up to
// twice the size, the release check, and releaseFreePages (the addon's madvise): a released free
// buffer reads as zeros afterwards — the observable sign that its pages went back to the OS —
// and stays a valid, writable buffer that the pool hands out again.
import { describe, expect, it } from 'vitest';

import { backend } from '../../lib/backend/index.js';
import { BufferPool, sizeClass } from '../../lib/tensor/pool.js';

const release = (ab: ArrayBuffer): number => backend.native().releasePages(ab);

describe('BufferPool', () => {
  it('serves a request from its own class, then from a larger class up to twice its size', () => {
    const p = new BufferPool();
    const big = p.acquire(300_000);
    expect(big.buffer.byteLength).toBe(sizeClass(300_000) * 4);
    p.release(big);
    const same = p.acquire(299_000);
    expect(same.buffer).toBe(big.buffer); // same class
    p.release(same);
    const smaller = p.acquire(200_000); // a smaller class (229,376 floats); 327,680 ≤ 2 × that
    expect(smaller.buffer).toBe(big.buffer);
    expect(smaller.length).toBe(200_000);
    p.release(smaller); // a larger-class buffer goes back without complaint
    const tiny = p.acquire(100_000); // 327,680 > 2 × 114,688: a fresh buffer
    expect(tiny.buffer).not.toBe(big.buffer);
    expect(p.stats().allocations).toBe(2);
    expect(p.stats().reuses).toBe(2);
  });

  it('refuses a buffer it did not hand out', () => {
    const p = new BufferPool();
    expect(() => p.release(new Float32Array(new ArrayBuffer(4 * sizeClass(100_000)), 0, 100_000))).not.toThrow(); // a class-sized buffer
    expect(() => p.release(new Float32Array(100_000))).toThrow(/did not hand out/); // capacity below its class
    expect(() => p.release(new Float32Array(new ArrayBuffer(4 * 500_000), 0, 100_000))).toThrow(/did not hand out/);
    expect(() => p.release(new Float32Array(new ArrayBuffer(4 * 200_000), 4, 100_000))).toThrow(/did not hand out/);
  });

  it('releaseFreePages gives the pages of free buffers back: they read as zeros, stay usable', () => {
    const p = new BufferPool();
    const n = 1 << 20; // 4 MiB: many whole pages
    const a = p.acquire(n);
    a.fill(7);
    const ab = a.buffer as ArrayBuffer;
    p.release(a);
    const live = p.acquire(n + 1); // a different class, held: must not be touched
    live.fill(3);
    const bytes = p.releaseFreePages(release);
    if (process.platform === 'linux') {
      // whole pages inside the buffer only; the partial pages at either end keep their values
      expect(bytes).toBeGreaterThan(ab.byteLength - 2 * 65536);
      const view = new Float32Array(ab);
      let zeros = 0;
      for (let i = 0; i < view.length; i++) if (view[i] === 0) zeros++;
      expect(zeros * 4).toBe(bytes);
      let other = 0;
      for (let i = 0; i < view.length; i++) if (view[i] !== 0 && view[i] !== 7) other++;
      expect(other).toBe(0);
    }
    expect(live.every((v) => v === 3)).toBe(true);
    expect(p.releaseFreePages(release)).toBe(0); // already released, untouched since
    const again = p.acquire(n);
    expect(again.buffer).toBe(ab);
    again.fill(5);
    expect(again.every((v) => v === 5)).toBe(true);
    p.release(again);
    expect(p.releaseFreePages(release)).toBe(bytes); // used again, so released again
  });

  it('releasePages validates its argument', () => {
    expect(() => backend.native().releasePages(new Float32Array(4) as unknown as ArrayBuffer)).toThrow(/releasePages: expected buffer to be an ArrayBuffer/);
    expect(backend.native().releasePages(new ArrayBuffer(0))).toBe(0);
  });

  // What they give back is checked against the kernel's resident set in native/core/tests/test_memory.cc.
  it('trimHeap and setMmapThreshold validate their arguments', () => {
    const n = backend.native();
    expect(typeof n.trimHeap()).toBe('boolean');
    expect(() => (n.trimHeap as (x: unknown) => boolean)(1)).toThrow(/trimHeap: takes no arguments, received 1/);
    expect(() => (n.setMmapThreshold as (x: unknown) => boolean)('131072')).toThrow(/setMmapThreshold: expected bytes to be a number/);
    expect(() => n.setMmapThreshold(4095)).toThrow(/setMmapThreshold: bytes must be an integer in \[4096, 33554432\], got 4095/);
    expect(() => n.setMmapThreshold(2 ** 25 + 1)).toThrow(/must be an integer in/);
    expect(() => n.setMmapThreshold(131072.5)).toThrow(/must be an integer in/);
    expect(() => n.setMmapThreshold(Number.NaN)).toThrow(/must be an integer in/);
    // glibc takes it; elsewhere there is no such setting
    expect(n.setMmapThreshold(128 * 1024)).toBe(process.platform === 'linux');
  });
});
