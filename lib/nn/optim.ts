// lib/nn/optim.ts — AdamW (the native fused update), gradient clipping by global norm, and the
// learning-rate schedule (linear warmup + cosine decay).

import { kernels } from '../kernels/index.js';
import type { Tensor } from '../tensor/index.js';

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

interface Slot {
  m: Float32Array;
  v: Float32Array;
}

/**
 * torch.optim.AdamW semantics (decoupled weight decay, bias correction), one fused native update
 * per parameter. Moments are allocated once, at construction. A parameter without a grad at
 * step() is skipped (as PyTorch does), but the step count is shared.
 */
export class AdamW {
  readonly params: readonly Tensor[];
  private readonly slots: Slot[];
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  stepCount = 0;

  constructor(params: Iterable<Tensor>, opts: AdamWOptions = {}) {
    this.params = [...params];
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.slots = this.params.map((p) => ({ m: new Float32Array(p.size), v: new Float32Array(p.size) }));
  }

  step(lr = this.lr): void {
    this.stepCount++;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      const s = this.slots[i]!;
      kernels.adamwStep({
        param: p.data, grad: p.grad.data, m: s.m, v: s.v, lr,
        beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.stepCount,
      });
    });
  }

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Moments in parameter order (for checkpoints). */
  state(): { step: number; m: Float32Array[]; v: Float32Array[] } {
    return { step: this.stepCount, m: this.slots.map((s) => s.m), v: this.slots.map((s) => s.v) };
  }

  loadState(state: { step: number; m: readonly ArrayLike<number>[]; v: readonly ArrayLike<number>[] }): void {
    if (state.m.length !== this.slots.length || state.v.length !== this.slots.length) {
      throw new RangeError(`AdamW.loadState: state for ${state.m.length} parameters, the optimiser has ${this.slots.length}`);
    }
    this.slots.forEach((s, i) => {
      if (state.m[i]!.length !== s.m.length || state.v[i]!.length !== s.v.length) {
        throw new RangeError(`AdamW.loadState: parameter ${i} has ${s.m.length} elements, the state ${state.m[i]!.length}`);
      }
    });
    if (!Number.isInteger(state.step) || state.step < 0) throw new RangeError(`AdamW.loadState: invalid step ${state.step}`);
    this.slots.forEach((s, i) => {
      s.m.set(state.m[i]!);
      s.v.set(state.v[i]!);
    });
    this.stepCount = state.step;
  }
}

/**
 * Scales every gradient so that their global L2 norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_); returns the norm before clipping (float64 accumulation).
 * A non-finite norm is returned as is and nothing is scaled.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: expected maxNorm > 0, received ${maxNorm}`);
  const grads = [...params].map((p) => p.grad?.data).filter((g): g is Float32Array => g !== undefined);
  let sq = 0;
  for (const g of grads) {
    if (g.length >= 32768) sq += kernels.sumSquares({ x: g }); // native: threaded, double lanes
    else for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  }
  const norm = Math.sqrt(sq);
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i]! *= coef;
  return norm;
}

export interface WarmupCosineOptions {
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor of the cosine (default 0). */
  minLr?: number;
}

/**
 * lr(step) for step = 0, 1, …: linear warmup from baseLr/warmupSteps to baseLr over warmupSteps
 * steps, then cosine decay to minLr at totalSteps (and minLr after).
 */
export function warmupCosine(opts: WarmupCosineOptions): (step: number) => number {
  const { baseLr, warmupSteps, totalSteps } = opts;
  const minLr = opts.minLr ?? 0;
  if (!(baseLr >= 0) || !(minLr >= 0) || minLr > baseLr) throw new RangeError(`warmupCosine: expected 0 ≤ minLr ≤ baseLr, received ${minLr}, ${baseLr}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || !Number.isInteger(totalSteps) || totalSteps < warmupSteps) {
    throw new RangeError(`warmupCosine: expected integers 0 ≤ warmupSteps ≤ totalSteps, received ${warmupSteps}, ${totalSteps}`);
  }
  return (step: number): number => {
    if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
    if (step >= totalSteps) return minLr;
    const t = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * t));
  };
}
