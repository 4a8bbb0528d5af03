// lib/kernels/gelu.ts — GELU (erf form), its tanh approximation, and CLIP's quick-GELU.
import { loadNative } from '../backend/load.js';
import type { GeluApproximate } from '../backend/native.js';
import { Validator } from './validate.js';

export const GELU_APPROXIMATIONS: readonly GeluApproximate[] = ['none', 'tanh', 'quick'];

export function geluForward(opts: { x: Float32Array; approximate?: GeluApproximate; out?: Float32Array }): Float32Array {
  const v = new Validator('geluForward', opts);
  const x = v.f32Any('x');
  const approximate = v.oneOf('approximate', GELU_APPROXIMATIONS, 'none');
  const out = v.f32Out('out', x.length, 'x.length');
  v.noOverlap('out', out, 'x', x, true);
  loadNative().geluForward({ x, out, approximate });
  return out;
}

export function geluBackward(opts: { dOut: Float32Array; x: Float32Array; approximate?: GeluApproximate; dx?: Float32Array }): Float32Array {
  const v = new Validator('geluBackward', opts);
  const x = v.f32Any('x');
  const dOut = v.f32('dOut', x.length, 'x.length');
  const approximate = v.oneOf('approximate', GELU_APPROXIMATIONS, 'none');
  const dx = v.f32Out('dx', x.length, 'x.length');
  v.noOverlap('dx', dx, 'dOut', dOut, true);
  v.noOverlap('dx', dx, 'x', x);
  loadNative().geluBackward({ dOut, x, dx, approximate });
  return dx;
}
