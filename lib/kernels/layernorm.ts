// lib/kernels/layernorm.ts — LayerNorm over the last dim (native/core/include/merclip/layernorm.h);
// forward saves mean and rstd.
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export interface LayerNormForwardOptions {
  x: Float32Array;
  /** [dim]; omitted → 1. */
  weight?: Float32Array;
  /** [dim]; omitted → 0. */
  bias?: Float32Array;
  rows: number;
  dim: number;
  eps?: number;
  out?: Float32Array;
  mean?: Float32Array;
  rstd?: Float32Array;
}

export interface LayerNormForwardResult {
  out: Float32Array;
  mean: Float32Array;
  /** 1 / sqrt(biased variance + eps) */
  rstd: Float32Array;
}

const layernormForwardOp = defineOp('layernormForward', (fn, opts: LayerNormForwardOptions) => {
  const v = new Validator(fn, opts);
  const rows = v.size('rows');
  const dim = v.size('dim');
  const eps = v.number('eps', 1e-5, 'open', 0);
  const x = v.f32('x', rows * dim, 'rows·dim');
  const weight = v.f32Optional('weight', dim, 'dim');
  const bias = v.f32Optional('bias', dim, 'dim');
  const out = v.f32Out('out', rows * dim, 'rows·dim');
  const mean = v.f32Out('mean', rows, 'rows');
  const rstd = v.f32Out('rstd', rows, 'rows');
  v.noOverlap('out', out, 'x', x, true);
  for (const [name, o] of [['out', out], ['mean', mean], ['rstd', rstd]] as const) {
    v.noOverlap(name, o, 'weight', weight);
    v.noOverlap(name, o, 'bias', bias);
  }
  v.noOverlap('mean', mean, 'x', x);
  v.noOverlap('rstd', rstd, 'x', x);
  v.noOverlap('mean', mean, 'out', out);
  v.noOverlap('rstd', rstd, 'out', out);
  v.noOverlap('mean', mean, 'rstd', rstd);
  return { args: { x, weight: weight ?? null, bias: bias ?? null, out, mean, rstd, rows, dim, eps }, result: () => ({ out, mean, rstd }) };
});

export const layernormForward: (opts: LayerNormForwardOptions) => LayerNormForwardResult = layernormForwardOp.sync;
export const layernormForwardAsync: (opts: LayerNormForwardOptions) => Promise<LayerNormForwardResult> = layernormForwardOp.async;

export interface LayerNormBackwardOptions {
  dOut: Float32Array;
  x: Float32Array;
  weight?: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
  rows: number;
  dim: number;
  dx?: Float32Array;
  dWeight?: Float32Array;
  dBias?: Float32Array;
}

const layernormBackwardOp = defineOp('layernormBackward', (fn, opts: LayerNormBackwardOptions) => {
  const v = new Validator(fn, opts);
  const rows = v.size('rows');
  const dim = v.size('dim');
  const dOut = v.f32('dOut', rows * dim, 'rows·dim');
  const x = v.f32('x', rows * dim, 'rows·dim');
  const weight = v.f32Optional('weight', dim, 'dim');
  const mean = v.f32('mean', rows, 'rows');
  const rstd = v.f32('rstd', rows, 'rows');
  const dx = v.f32Out('dx', rows * dim, 'rows·dim');
  const dWeight = v.f32Out('dWeight', dim, 'dim');
  const dBias = v.f32Out('dBias', dim, 'dim');
  v.disjoint(
    [['dx', dx], ['dWeight', dWeight], ['dBias', dBias]],
    [['dOut', dOut], ['x', x], ['weight', weight], ['mean', mean], ['rstd', rstd]],
  );
  return { args: { dOut, x, weight: weight ?? null, mean, rstd, dx, dWeight, dBias, rows, dim }, result: () => ({ dx, dWeight, dBias }) };
});

export const layernormBackward: (opts: LayerNormBackwardOptions) => { dx: Float32Array; dWeight: Float32Array; dBias: Float32Array } = layernormBackwardOp.sync;
export const layernormBackwardAsync: (opts: LayerNormBackwardOptions) => Promise<{ dx: Float32Array; dWeight: Float32Array; dBias: Float32Array }> = layernormBackwardOp.async;
