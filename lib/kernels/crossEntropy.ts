// lib/kernels/crossEntropy.ts — softmax cross-entropy, mean over rows; forward saves lse.
import { loadNative } from '../backend/load.js';
import { Validator } from './validate.js';

export function softmaxCrossEntropyForward(opts: {
  logits: Float32Array; targets: Int32Array; rows: number; cols: number; lse?: Float32Array;
}): { loss: number; lse: Float32Array } {
  const v = new Validator('softmaxCrossEntropyForward', opts);
  const rows = v.size('rows');
  const cols = v.size('cols');
  const logits = v.f32('logits', rows * cols, 'rows·cols');
  const targets = v.i32('targets', rows, 'rows');
  const lse = v.f32Out('lse', rows, 'rows');
  v.noOverlap('lse', lse, 'logits', logits);
  v.noOverlap('lse', lse, 'targets', targets);
  v.indices('targets', targets, 0, cols - 1);
  const loss = loadNative().softmaxCrossEntropyForward({ logits, targets, lse, rows, cols });
  return { loss, lse };
}

/** dLogits = dLoss / rows · (softmax(logits) − onehot(targets)). */
export function softmaxCrossEntropyBackward(opts: {
  logits: Float32Array; lse: Float32Array; targets: Int32Array; rows: number; cols: number; dLoss?: number; dLogits?: Float32Array;
}): Float32Array {
  const v = new Validator('softmaxCrossEntropyBackward', opts);
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
  loadNative().softmaxCrossEntropyBackward({ logits, lse, targets, dLogits, rows, cols, dLoss });
  return dLogits;
}
