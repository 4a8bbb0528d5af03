// lib/kernels/softmax.ts — row softmax and its backward.
import { loadNative } from '../backend/load.js';
import { Validator } from './validate.js';

export function softmax(opts: { x: Float32Array; rows: number; cols: number; out?: Float32Array }): Float32Array {
  const v = new Validator('softmax', opts);
  const rows = v.size('rows');
  const cols = v.size('cols');
  const x = v.f32('x', rows * cols, 'rows·cols');
  const out = v.f32Out('out', rows * cols, 'rows·cols');
  v.noOverlap('out', out, 'x', x, true);
  loadNative().softmax({ x, out, rows, cols });
  return out;
}

/** dx = out ∘ (dOut − rowsum(dOut ∘ out)). */
export function softmaxBackward(opts: { dOut: Float32Array; out: Float32Array; rows: number; cols: number; dx?: Float32Array }): Float32Array {
  const v = new Validator('softmaxBackward', opts);
  const rows = v.size('rows');
  const cols = v.size('cols');
  const dOut = v.f32('dOut', rows * cols, 'rows·cols');
  const out = v.f32('out', rows * cols, 'rows·cols');
  const dx = v.f32Out('dx', rows * cols, 'rows·cols');
  v.noOverlap('dx', dx, 'dOut', dOut, true);
  v.noOverlap('dx', dx, 'out', out);
  loadNative().softmaxBackward({ dOut, out, dx, rows, cols });
  return dx;
}
