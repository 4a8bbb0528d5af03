// lib/kernels/adamw.ts — one fused AdamW update (torch.optim.AdamW semantics), in place.
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export interface AdamWStepOptions {
  param: Float32Array;
  grad: Float32Array;
  /** First moment, updated in place. */
  m: Float32Array;
  /** Second moment, updated in place. */
  v: Float32Array;
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** 1-based count of this update (bias correction uses it). */
  step: number;
}

const adamwStepOp = defineOp('adamwStep', (fn, opts: AdamWStepOptions) => {
  const val = new Validator(fn, opts);
  const param = val.f32Any('param');
  const n = param.length;
  const grad = val.f32('grad', n, 'param.length');
  const m = val.f32('m', n, 'param.length');
  const v = val.f32('v', n, 'param.length');
  const lr = val.number('lr', undefined, 'closed', 0);
  const beta1 = val.number('beta1', 0.9, 'closed', 0, 'open', 1);
  const beta2 = val.number('beta2', 0.999, 'closed', 0, 'open', 1);
  const eps = val.number('eps', 1e-8, 'open', 0);
  const weightDecay = val.number('weightDecay', 0.01, 'closed', 0);
  const step = val.integer('step', 1, 2 ** 53);
  val.noOverlap('param', param, 'grad', grad);
  val.noOverlap('param', param, 'm', m);
  val.noOverlap('param', param, 'v', v);
  val.noOverlap('m', m, 'v', v);
  val.noOverlap('m', m, 'grad', grad);
  val.noOverlap('v', v, 'grad', grad);
  return { args: { param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step }, result: () => undefined };
});

export const adamwStep: (opts: AdamWStepOptions) => void = adamwStepOp.sync;
export const adamwStepAsync: (opts: AdamWStepOptions) => Promise<void> = adamwStepOp.async;
