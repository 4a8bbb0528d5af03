// The dataset generator's RNG: xoshiro128** against hand-stepped values, pinned streams (so a seed
// gives the same data on every platform), distributions, and state save/restore.
import { describe, expect, it } from 'vitest';

import { Rng, deriveSeed } from '../../lib/data/index.js';

describe('Rng (xoshiro128**)', () => {
  it('steps xoshiro128** correctly from a known state', () => {
    // state (1, 2, 3, 4): out1 = rotl(2·5, 7)·9 = 11520; then state (7, 0, 1026, 12288) → out2 = 0;
    // then (12295, 1029, 1026, 25165824) → out3 = rotl(1029·5, 7)·9 = 5927040
    const r = new Rng(0);
    r.setState({ s: [1, 2, 3, 4], spare: null });
    expect([r.nextU32(), r.nextU32(), r.nextU32()]).toEqual([11520, 0, 5927040]);
  });

  it('gives pinned streams for pinned seeds (cross-platform determinism)', () => {
    const a = new Rng(0);
    expect([a.nextU32(), a.nextU32(), a.nextU32(), a.nextU32()]).toEqual([3809008728, 1133695204, 53579671, 2891528803]);
    const b = new Rng(42);
    expect([b.nextU32(), b.nextU32(), b.nextU32(), b.nextU32()]).toEqual([2837322924, 544945897, 479756282, 3500138142]);
    const c = new Rng(42);
    expect(c.next()).toBe(0.6606157208001621);
    expect(c.normal()).toBeCloseTo(1.5576636023738426, 14); // Math.log: V8's fdlibm port
    expect(c.int(1, 6)).toBe(5);
    expect(deriveSeed(1, 'train')).toBe(1587460467);
    expect(deriveSeed(1, 'test')).toBe(3132742589);
  });

  it('has sane distributions', () => {
    const r = new Rng(3);
    const n = 200_000;
    let s = 0, ss = 0, lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      s += u;
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
    }
    expect(s / n).toBeCloseTo(0.5, 2);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    s = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      ss += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.01);
    expect(ss / n).toBeCloseTo(1, 1);
    const buf = r.fillNormal(new Float64Array(n + 1)); // odd count exercises the spare
    s = 0;
    ss = 0;
    for (const z of buf) {
      s += z;
      ss += z * z;
    }
    expect(Math.abs(s / buf.length)).toBeLessThan(0.01);
    expect(ss / buf.length).toBeCloseTo(1, 1);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.int(1, 6) - 1]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
    expect(() => r.int(3, 2)).toThrow(RangeError);
  });

  it('permutation is a permutation and depends on the seed', () => {
    const p = new Rng(5).permutation(100);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(new Rng(5).permutation(100))).toEqual(Array.from(p));
    expect(Array.from(new Rng(6).permutation(100))).not.toEqual(Array.from(p));
  });

  it('state() / setState() resume the exact stream, normals included', () => {
    const r = new Rng(11);
    r.normal(); // leaves a spare normal cached
    const st = r.state();
    const want = [r.normal(), r.nextU32(), r.next(), r.normal()];
    const q = new Rng(999);
    q.setState(JSON.parse(JSON.stringify(st)));
    expect([q.normal(), q.nextU32(), q.next(), q.normal()]).toEqual(want);
    expect(() => q.setState({ s: [0, 0, 0, 0], spare: null })).toThrow(RangeError);
    expect(() => new Rng(1.5)).toThrow(RangeError);
  });
});
