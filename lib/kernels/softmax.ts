// lib/kernels/softmax.ts — row softmax and its backward.
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export interface SoftmaxOptions {
  x: Float32Array;
  rows: number;
  cols: number;
  out?: Float32Array;
}

export interface SoftmaxBackwardOptions {
  dOut: Float32Array;
  out: Float32Array;
  rows: number;
  cols: number;
  dx?: Float32Array;
}

const softmaxOp = defineOp('softmax', (fn, opts: SoftmaxOptions) => {
  const v = new Validator(fn, opts);
  const rows = v.size('rows');
  const cols = v.size('cols');
  const x = v.f32('x', rows * cols, 'rows·cols');
  const out = v.f32Out('out', rows * cols, 'rows·cols');
  v.noOverlap('out', out, 'x', x, true);
  return { args: { x, out, rows, cols }, result: () => out };
});

export const softmax: (opts: SoftmaxOptions) => Float32Array = softmaxOp.sync;
export const softmaxAsync: (opts: SoftmaxOptions) => Promise<Float32Array> = softmaxOp.async;

/** dx = out ∘ (dOut − rowsum(dOut ∘ out)). */
const softmaxBackwardOp = defineOp('softmaxBackward', (fn, opts: SoftmaxBackwardOptions) => {
  const v = new Validator(fn, opts);
  const rows = v.size('rows');
  const cols = v.size('cols');
  const dOut = v.f32('dOut', rows * cols, 'rows·cols');
  const out = v.f32('out', rows * cols, 'rows·cols');
  const dx = v.f32Out('dx', rows * cols, 'rows·cols');
  v.noOverlap('dx', dx, 'dOut', dOut, true);
  v.noOverlap('dx', dx, 'out', out);
  return { args: { dOut, out, dx, rows, cols }, result: () => dx };
});

export const softmaxBackward: (opts: SoftmaxBackwardOptions) => Float32Array = softmaxBackwardOp.sync;
export const softmaxBackwardAsync: (opts: SoftmaxBackwardOptions) => Promise<Float32Array> = softmaxBackwardOp.async;
