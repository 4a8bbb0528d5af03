// lib/kernels/softmax.ts — row softmax and softmax cross-entropy (mean over rows), forward and
// backward (native/core/include/merclip/softmax.h); the cross-entropy forward saves lse.
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

const softmaxForwardOp = defineOp('softmaxForward', (fn, opts: SoftmaxOptions) => {
  const v = new Validator(fn, opts);
  const rows = v.size('rows');
  const cols = v.size('cols');
  const x = v.f32('x', rows * cols, 'rows·cols');
  const out = v.f32Out('out', rows * cols, 'rows·cols');
  v.noOverlap('out', out, 'x', x, true);
  return { args: { x, out, rows, cols }, result: () => out };
});

export const softmaxForward: (opts: SoftmaxOptions) => Float32Array = softmaxForwardOp.sync;
export const softmaxForwardAsync: (opts: SoftmaxOptions) => Promise<Float32Array> = softmaxForwardOp.async;

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

export interface CrossEntropyForwardOptions {
  logits: Float32Array;
  /** Class index per row, in [0, cols). */
  targets: Int32Array;
  rows: number;
  cols: number;
  lse?: Float32Array;
}

export interface CrossEntropyBackwardOptions {
  logits: Float32Array;
  lse: Float32Array;
  targets: Int32Array;
  rows: number;
  cols: number;
  /** Upstream gradient of the mean loss (default 1). */
  dLoss?: number;
  dLogits?: Float32Array;
}

const softmaxXentForwardOp = defineOp('softmaxXentForward', (fn, opts: CrossEntropyForwardOptions) => {
  const v = new Validator(fn, opts);
  const rows = v.size('rows');
  const cols = v.size('cols');
  const logits = v.f32('logits', rows * cols, 'rows·cols');
  const targets = v.i32('targets', rows, 'rows');
  const lse = v.f32Out('lse', rows, 'rows');
  v.noOverlap('lse', lse, 'logits', logits);
  v.noOverlap('lse', lse, 'targets', targets);
  v.indices('targets', targets, 0, cols - 1);
  return { args: { logits, targets, lse, rows, cols }, result: (loss) => ({ loss, lse }) };
});

export const softmaxXentForward: (opts: CrossEntropyForwardOptions) => { loss: number; lse: Float32Array } = softmaxXentForwardOp.sync;
export const softmaxXentForwardAsync: (opts: CrossEntropyForwardOptions) => Promise<{ loss: number; lse: Float32Array }> = softmaxXentForwardOp.async;

/** dLogits = dLoss / rows · (softmax(logits) − onehot(targets)). */
const softmaxXentBackwardOp = defineOp('softmaxXentBackward', (fn, opts: CrossEntropyBackwardOptions) => {
  const v = new Validator(fn, opts);
  const rows = v.size('rows');
  const cols = v.size('cols');
  const logits = v.f32('logits', rows * cols, 'rows·cols');
  const lse = v.f32('lse', rows, 'rows');
  const targets = v.i32('targets', rows, 'rows');
  const dLoss = v.number('dLoss', 1);
  const dLogits = v.f32Out('dLogits', rows * cols, 'rows·cols');
  v.noOverlap('dLogits', dLogits, 'logits', logits);
  v.noOverlap('dLogits', dLogits, 'lse', lse);
  v.noOverlap('dLogits', dLogits, 'targets', targets);
  v.indices('targets', targets, 0, cols - 1);
  return { args: { logits, lse, targets, dLogits, rows, cols, dLoss }, result: () => dLogits };
});

export const softmaxXentBackward: (opts: CrossEntropyBackwardOptions) => Float32Array = softmaxXentBackwardOp.sync;
export const softmaxXentBackwardAsync: (opts: CrossEntropyBackwardOptions) => Promise<Float32Array> = softmaxXentBackwardOp.async;
