// lib/kernels/cosine.ts — batched cosine similarity (forward, backward), the paired form of the
// prediction head, and top-k over large label sets.
//   out[i, j] = scale · <x_i, e_j> / (max(‖x_i‖, eps) · max(‖e_j‖, eps))
// eps (default 1e-8) guards zero vectors: their cosine is 0, never NaN, and the clamped
// normalisation is a constant in the backward (as PyTorch's F.normalize(v, eps) composition).
import { defineOp } from './op.js';
import { Validator } from './validate.js';

const DEFAULT_EPS = 1e-8;

export interface CosineSimilarityOptions {
  /** [n, dim] */
  x: Float32Array;
  /** [c, dim] */
  e: Float32Array;
  n: number;
  c: number;
  dim: number;
  scale?: number;
  eps?: number;
  /** [n, c], written in place when given. */
  out?: Float32Array;
}

export interface CosineSimilarityBackwardOptions {
  /** Gradient of the loss with respect to out, [n, c]. */
  dOut: Float32Array;
  /** The forward's output [n, c]. */
  out: Float32Array;
  x: Float32Array;
  e: Float32Array;
  n: number;
  c: number;
  dim: number;
  scale?: number;
  eps?: number;
  dx?: Float32Array;
  de?: Float32Array;
}

export interface CosinePairedOptions {
  /** [batch, c, dim]: h[b, j] is compared with e[j]. */
  h: Float32Array;
  /** [c, dim] */
  e: Float32Array;
  batch: number;
  c: number;
  dim: number;
  scale?: number;
  eps?: number;
  /** [batch, c] */
  out?: Float32Array;
}

export interface CosinePairedBackwardOptions {
  dOut: Float32Array;
  out: Float32Array;
  h: Float32Array;
  e: Float32Array;
  batch: number;
  c: number;
  dim: number;
  scale?: number;
  eps?: number;
  dh?: Float32Array;
  de?: Float32Array;
}

export interface CosineTopKOptions {
  x: Float32Array;
  e: Float32Array;
  n: number;
  c: number;
  dim: number;
  /** 1 … c */
  k: number;
  scale?: number;
  eps?: number;
  indices?: Int32Array;
  scores?: Float32Array;
}

function scaleEps(v: Validator): { scale: number; eps: number } {
  const scale = v.number('scale', 1);
  const eps = v.number('eps', DEFAULT_EPS, 'open', 0);
  return { scale, eps };
}

function sizes(v: Validator, rows: 'n' | 'batch'): { rows: number; c: number; dim: number } {
  return { rows: v.size(rows), c: v.size('c'), dim: v.size('dim') };
}

const cosineForwardOp = defineOp('cosineForward', (fn, opts: CosineSimilarityOptions) => {
  const v = new Validator(fn, opts);
  const { rows: n, c, dim } = sizes(v, 'n');
  const { scale, eps } = scaleEps(v);
  const x = v.f32('x', n * dim, 'n·dim');
  const e = v.f32('e', c * dim, 'c·dim');
  const out = v.f32Out('out', n * c, 'n·c');
  v.noOverlap('out', out, 'x', x);
  v.noOverlap('out', out, 'e', e);
  return { args: { x, e, out, n, c, dim, scale, eps }, result: () => out };
});

const cosineBackwardOp = defineOp('cosineBackward', (fn, opts: CosineSimilarityBackwardOptions) => {
  const v = new Validator(fn, opts);
  const { rows: n, c, dim } = sizes(v, 'n');
  const { scale, eps } = scaleEps(v);
  const dOut = v.f32('dOut', n * c, 'n·c');
  const out = v.f32('out', n * c, 'n·c');
  const x = v.f32('x', n * dim, 'n·dim');
  const e = v.f32('e', c * dim, 'c·dim');
  const dx = v.f32Out('dx', n * dim, 'n·dim');
  const de = v.f32Out('de', c * dim, 'c·dim');
  v.disjoint([['dx', dx], ['de', de]], [['dOut', dOut], ['out', out], ['x', x], ['e', e]]);
  return { args: { dOut, out, x, e, dx, de, n, c, dim, scale, eps }, result: () => ({ dx, de }) };
});

const cosinePairedForwardOp = defineOp('cosinePairedForward', (fn, opts: CosinePairedOptions) => {
  const v = new Validator(fn, opts);
  const { rows: batch, c, dim } = sizes(v, 'batch');
  const { scale, eps } = scaleEps(v);
  const h = v.f32('h', batch * c * dim, 'batch·c·dim');
  const e = v.f32('e', c * dim, 'c·dim');
  const out = v.f32Out('out', batch * c, 'batch·c');
  v.noOverlap('out', out, 'h', h);
  v.noOverlap('out', out, 'e', e);
  return { args: { h, e, out, batch, c, dim, scale, eps }, result: () => out };
});

const cosinePairedBackwardOp = defineOp('cosinePairedBackward', (fn, opts: CosinePairedBackwardOptions) => {
  const v = new Validator(fn, opts);
  const { rows: batch, c, dim } = sizes(v, 'batch');
  const { scale, eps } = scaleEps(v);
  const dOut = v.f32('dOut', batch * c, 'batch·c');
  const out = v.f32('out', batch * c, 'batch·c');
  const h = v.f32('h', batch * c * dim, 'batch·c·dim');
  const e = v.f32('e', c * dim, 'c·dim');
  const dh = v.f32Out('dh', batch * c * dim, 'batch·c·dim');
  const de = v.f32Out('de', c * dim, 'c·dim');
  v.disjoint([['dh', dh], ['de', de]], [['dOut', dOut], ['out', out], ['h', h], ['e', e]]);
  return { args: { dOut, out, h, e, dh, de, batch, c, dim, scale, eps }, result: () => ({ dh, de }) };
});

const cosineTopkOp = defineOp('cosineTopk', (fn, opts: CosineTopKOptions) => {
  const v = new Validator(fn, opts);
  const { rows: n, c, dim } = sizes(v, 'n');
  const { scale, eps } = scaleEps(v);
  const k = v.integer('k', 1, c);
  const x = v.f32('x', n * dim, 'n·dim');
  const e = v.f32('e', c * dim, 'c·dim');
  const idx = v.raw('indices');
  const indices = idx === undefined || idx === null ? new Int32Array(n * k) : v.i32('indices', n * k, 'n·k');
  const scores = v.f32Out('scores', n * k, 'n·k');
  for (const [inName, i] of [['x', x], ['e', e]] as const) {
    v.noOverlap('scores', scores, inName, i);
    v.noOverlap('indices', indices, inName, i);
  }
  v.noOverlap('indices', indices, 'scores', scores);
  return { args: { x, e, indices, scores, n, c, dim, k, scale, eps }, result: () => ({ indices, scores }) };
});

/** scale · cos(x_i, e_j) for every pair: [n, c]. */
export const cosineForward = cosineForwardOp.sync;
export const cosineForwardAsync = cosineForwardOp.async;
/** Gradients of cosineForward: { dx [n, dim], de [c, dim] }. */
export const cosineBackward = cosineBackwardOp.sync;
export const cosineBackwardAsync = cosineBackwardOp.async;
/** scale · cos(h[b, j], e[j]): [batch, c]. */
export const cosinePairedForward = cosinePairedForwardOp.sync;
export const cosinePairedForwardAsync = cosinePairedForwardOp.async;
export const cosinePairedBackward = cosinePairedBackwardOp.sync;
export const cosinePairedBackwardAsync = cosinePairedBackwardOp.async;
/** The k best-matching rows of e for each x_i, best first: { indices [n, k], scores [n, k] }. */
export const cosineTopk = cosineTopkOp.sync;
export const cosineTopkAsync = cosineTopkOp.async;
