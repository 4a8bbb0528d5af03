// test/reference/layout.test.ts — the float64 heads permute against an independent route:
// permute0213 twice is the identity and matches an index formula written here.
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
});
