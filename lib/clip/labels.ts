// lib/clip/labels.ts — the label encoder: each emotion label, put in a prompt template, tokenized
// and encoded by the CLIP text tower; the pooled output times text_projection is its embedding.
//
// encode(labels) → [C, E]. Frozen (the default): computed under noGrad and cached per
// (label set, template, weights version) — a training loop pays for it once. Fine-tuned: computed
// on the tape every call, so gradients reach the tower.
//
// The batch is cut to its longest prompt (padding to 77 would only add work): the tower is
// causal, so positions after a prompt's end token never change its pooled output.

import { Linear, Module } from '../nn/index.js';
import { noGrad, type Tensor } from '../tensor/index.js';
import type { ClipTextTransformer } from './text.js';
import type { ClipTokenizer } from './tokenizer.js';

export const DEFAULT_TEMPLATE = 'a person feeling {label}';

export function fillTemplate(template: string, label: string): string {
  if (!template.includes('{label}')) throw new RangeError(`label template "${template}" has no {label} placeholder`);
  return template.split('{label}').join(label);
}

/** The text side CLIP needs to embed labels: the tower and its projection. */
export interface TextEncoder {
  readonly text_model: ClipTextTransformer;
  readonly text_projection: Linear;
  /** Bumped whenever the weights are replaced (cache key). */
  readonly weightsVersion: number;
}

export class LabelEncoder {
  private cache: { key: string; embeddings: Tensor } | null = null;
  frozen: boolean;

  constructor(
    readonly clip: TextEncoder & Module,
    readonly tokenizer: ClipTokenizer,
    readonly template = DEFAULT_TEMPLATE,
    opts: { frozen?: boolean } = {},
  ) {
    this.frozen = opts.frozen ?? true;
    fillTemplate(template, 'x'); // validates the template
  }

  /** Token ids of the prompts, cut to the longest: { ids [C, L], length L }. */
  tokenize(labels: readonly string[]): { ids: Int32Array; length: number } {
    if (labels.length === 0) throw new RangeError('LabelEncoder: expected at least one label');
    const ctx = this.clip.text_model.config.max_position_embeddings;
    const rows = labels.map((l, i) => {
      if (typeof l !== 'string' || l.trim() === '') throw new RangeError(`LabelEncoder: label ${i} is empty`);
      return this.tokenizer.encodeFitted(fillTemplate(this.template, l), { contextLength: ctx, truncate: false }, `label ${JSON.stringify(l)}`);
    });
    const length = Math.max(...rows.map((r) => r.length));
    const ids = new Int32Array(labels.length * length); // pad 0, as clip.tokenize
    rows.forEach((r, i) => ids.set(r, i * length));
    return { ids, length };
  }

  /** [C, E] label embeddings (see the file header for caching). */
  encode(labels: readonly string[]): Tensor {
    const key = this.cacheKey(labels);
    if (this.frozen && this.cache?.key === key) return this.cache.embeddings;
    const { ids, length } = this.tokenize(labels);
    return this.encodeTokens(ids, labels.length, length, key);
  }

  /** The cache key of a label set: (weights version, template, labels). */
  cacheKey(labels: readonly string[]): string {
    return `${this.clip.weightsVersion}\u0000${this.template}\u0000${labels.join('\u0000')}`;
  }

  /** [C, E] from already tokenized prompts ids [count, length] (cached under `key` when frozen). */
  encodeTokens(ids: Int32Array, count: number, length: number, key: string): Tensor {
    if (this.frozen && this.cache?.key === key) return this.cache.embeddings;
    const run = (): Tensor => this.clip.text_projection.forward(this.clip.text_model.pooledShared(ids, count, length));
    if (!this.frozen) return run();
    const e = noGrad(run);
    e.keep();
    this.cache?.embeddings.dispose();
    this.cache = { key, embeddings: e };
    return e;
  }

  /** Drops the cached embeddings. */
  clear(): void {
    this.cache?.embeddings.dispose();
    this.cache = null;
  }
}
