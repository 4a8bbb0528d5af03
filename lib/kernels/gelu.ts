// lib/kernels/gelu.ts — GELU (erf form), its tanh approximation, and CLIP's quick-GELU.
import type { GeluApproximate } from '../backend/native.js';
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export interface GeluForwardOptions {
  x: Float32Array;
  approximate?: GeluApproximate;
  out?: Float32Array;
}

export interface GeluBackwardOptions {
  dOut: Float32Array;
  x: Float32Array;
  approximate?: GeluApproximate;
  dx?: Float32Array;
}

export const GELU_APPROXIMATIONS: readonly GeluApproximate[] = ['none', 'tanh', 'quick'];

const geluForwardOp = defineOp('geluForward', (fn, opts: GeluForwardOptions) => {
  const v = new Validator(fn, opts);
  const x = v.f32Any('x');
  const approximate = v.oneOf('approximate', GELU_APPROXIMATIONS, 'none');
  const out = v.f32Out('out', x.length, 'x.length');
  v.noOverlap('out', out, 'x', x, true);
  return { args: { x, out, approximate }, result: () => out };
});

export const geluForward: (opts: GeluForwardOptions) => Float32Array = geluForwardOp.sync;
export const geluForwardAsync: (opts: GeluForwardOptions) => Promise<Float32Array> = geluForwardOp.async;

const geluBackwardOp = defineOp('geluBackward', (fn, opts: GeluBackwardOptions) => {
  const v = new Validator(fn, opts);
  const x = v.f32Any('x');
  const dOut = v.f32('dOut', x.length, 'x.length');
  const approximate = v.oneOf('approximate', GELU_APPROXIMATIONS, 'none');
  const dx = v.f32Out('dx', x.length, 'x.length');
  v.noOverlap('dx', dx, 'dOut', dOut, true);
  v.noOverlap('dx', dx, 'x', x);
  return { args: { dOut, x, dx, approximate }, result: () => dx };
});

export const geluBackward: (opts: GeluBackwardOptions) => Float32Array = geluBackwardOp.sync;
export const geluBackwardAsync: (opts: GeluBackwardOptions) => Promise<Float32Array> = geluBackwardOp.async;
