// The CLIP vocabulary shipped in assets/clip is the project's reference copy, byte for byte, and
// the default tokenizer reads it.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { defaultTokenizer, defaultVocabDir } from '../../lib/clip/assets.js';

const shared = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/clip');

describe('bundled CLIP vocabulary', () => {
  it('is byte-identical to ../shared/data/clip and loads as the default tokenizer', () => {
    for (const f of ['vocab.json', 'merges.txt']) {
      expect(readFileSync(join(defaultVocabDir(), f)).equals(readFileSync(join(shared, f))), f).toBe(true);
    }
    expect(defaultTokenizer().encode('highly negative')).toEqual([49406, 5302, 8869, 49407]);
    expect(defaultTokenizer()).toBe(defaultTokenizer());
  });
});
