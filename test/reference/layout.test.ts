// test/reference/layout.test.ts — the float64 layout references against independent routes:
// permute0213 twice is the identity and matches an index formula written here; unpackHeads is
// the permute of the zero-padded rows [B, len, H, Dh] → [B, H, len, Dh]; packHeads undoes it.
import { describe, expect, it } from 'vitest';

import { reference } from '../../lib/index.js';

describe('reference layout', () => {
  it('permute0213: element (i, j, k, l) of src lands at (i, k, j, l); twice is the identity', () => {
    const [a, b, c, d] = [2, 3, 4, 5];
    const src = Array.from({ length: a * b * c * d }, (_, i) => i * 0.5 - 7);
    const dst = reference.permute0213({ src, a, b, c, d });
    expect(dst[((1 * c + 2) * b + 1) * d + 3]).toBe(src[((1 * b + 1) * c + 2) * d + 3]);
    expect(Array.from(reference.permute0213({ src: dst, a, b: c, c: b, d }))).toEqual(src);
  });

  it('unpackHeads = permute of the zero-padded rows; packHeads(unpackHeads(x)) = x', () => {
    const lengths = [3, 0, 5, 1];
    const len = 5, heads = 2, headDim = 3, stride = heads * headDim;
    const T = lengths.reduce((s, l) => s + l, 0);
    const packed = Array.from({ length: T * stride }, (_, i) => 1 + i);
    const padded = new Float64Array(lengths.length * len * stride);
    let off = 0;
    lengths.forEach((l, b) => {
      for (let j = 0; j < l; j++) for (let e = 0; e < stride; e++) padded[(b * len + j) * stride + e] = packed[(off + j) * stride + e]!;
      off += l;
    });
    const want = reference.permute0213({ src: padded, a: lengths.length, b: len, c: heads, d: headDim });
    const got = reference.unpackHeads({ src: packed, lengths, len, heads, headDim });
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(Array.from(reference.packHeads({ src: got, lengths, len, heads, headDim }))).toEqual(packed);
    expect(() => reference.unpackHeads({ src: packed, lengths: [6], len, heads, headDim })).toThrow(/lengths\[0\]/);
  });
});
