// lib/kernels/crossEntropy.ts — softmax cross-entropy, mean over rows; forward saves lse.
import { defineOp } from './op.js';
import { Validator } from './validate.js';

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

const softmaxCrossEntropyForwardOp = defineOp('softmaxCrossEntropyForward', (fn, opts: CrossEntropyForwardOptions) => {
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

export const softmaxCrossEntropyForward: (opts: CrossEntropyForwardOptions) => { loss: number; lse: Float32Array } = softmaxCrossEntropyForwardOp.sync;
export const softmaxCrossEntropyForwardAsync: (opts: CrossEntropyForwardOptions) => Promise<{ loss: number; lse: Float32Array }> = softmaxCrossEntropyForwardOp.async;

/** dLogits = dLoss / rows · (softmax(logits) − onehot(targets)). */
const softmaxCrossEntropyBackwardOp = defineOp('softmaxCrossEntropyBackward', (fn, opts: CrossEntropyBackwardOptions) => {
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

export const softmaxCrossEntropyBackward: (opts: CrossEntropyBackwardOptions) => Float32Array = softmaxCrossEntropyBackwardOp.sync;
export const softmaxCrossEntropyBackwardAsync: (opts: CrossEntropyBackwardOptions) => Promise<Float32Array> = softmaxCrossEntropyBackwardOp.async;
