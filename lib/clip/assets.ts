// lib/clip/assets.ts — the CLIP vocabulary shipped with the package (assets/clip/), so the label
// encoder's tokenizer works offline and without a model download.
import { join } from 'node:path';

import { packageRoot } from '../backend/load.js';
import { ClipTokenizer } from './tokenizer.js';

let cached: ClipTokenizer | null = null;

export function defaultVocabDir(): string {
  return join(packageRoot(), 'assets', 'clip');
}

/** The CLIP tokenizer over the bundled 49,408-token vocabulary (loaded once). */
export function defaultTokenizer(): ClipTokenizer {
  cached ??= ClipTokenizer.fromDir(defaultVocabDir());
  return cached;
}
