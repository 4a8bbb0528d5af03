// lib/nn/module.ts — Module: named parameters and sub-modules, PyTorch-style dotted names.
//
// `namedParameters()` walks registration order and yields names such as
// `decoder.layers.0.cross_attn.1.q_proj.weight` — the keys a PyTorch state_dict (and the
// safetensors checkpoints) use. Parameters are leaf tensors the module owns (never pooled, never
// disposed by tidy()); `freeze()` turns their gradients off.

import { fmtShape, parameter, type Tensor, unboundParameter } from '../tensor/index.js';
import { isUnbound, UNBOUND } from './init.js';

export abstract class Module {
  training = true;
  private readonly params_ = new Map<string, Tensor>();
  private readonly children_ = new Map<string, Module>();

  /**
   * Registers a parameter under `name` (no dots) and returns it. Inside unbound() (init.ts), or
   * with data UNBOUND, the parameter has no storage until bindParameters gives it one.
   */
  protected addParameter(name: string, data: Float32Array, shape: readonly number[]): Tensor {
    checkName(name);
    if (this.params_.has(name) || this.children_.has(name)) throw new Error(`Module: "${name}" is registered twice`);
    const t = isUnbound() || data === UNBOUND ? unboundParameter(shape) : parameter(toShared(data), shape);
    this.params_.set(name, t);
    return t;
  }

  /** Registers a sub-module under `name` and returns it. */
  protected addModule<M extends Module>(name: string, m: M): M {
    checkName(name);
    if (this.params_.has(name) || this.children_.has(name)) throw new Error(`Module: "${name}" is registered twice`);
    this.children_.set(name, m);
    return m;
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this.params_) yield [prefix + n, p];
    for (const [n, c] of this.children_) yield* c.namedParameters(`${prefix}${n}.`);
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  /** Parameters that require grad (what an optimiser updates). */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix.replace(/\.$/, ''), this];
    for (const [n, c] of this.children_) yield* c.namedModules(`${prefix}${n}.`);
  }

  parameterCount(): number {
    let n = 0;
    for (const p of this.parameters()) n += p.size;
    return n;
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Turns gradients off (frozen) or on for every parameter. */
  freeze(frozen = true): this {
    for (const p of this.parameters()) p.requiresGrad = !frozen;
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** name → the parameter's Float32Array (shared memory; see toShared). */
  sharedWeights(): Map<string, Float32Array> {
    return new Map([...this.namedParameters()].map(([n, p]) => [n, p.data]));
  }

  /** name → parameter (the live tensors; their data is the module's weights). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies weights in. Every parameter must be present with the same shape (strict), and no
   * unknown name may appear unless `allowUnexpected`; `ignore` drops names first (e.g. HF's
   * legacy position_ids buffers). Nothing is modified unless everything checks out.
   */
  loadStateDict(
    weights: Map<string, { shape: readonly number[]; data: ArrayLike<number> }>,
    opts: { strict?: boolean; allowUnexpected?: boolean; ignore?: (name: string) => boolean; source?: string } = {},
  ): void {
    const strict = opts.strict ?? true;
    const src = opts.source ? `${opts.source}: ` : '';
    const own = this.stateDict();
    const problems: string[] = [];
    const copies: Array<[Tensor, ArrayLike<number>]> = [];
    for (const [name, p] of own) {
      const w = weights.get(name);
      if (!w) {
        if (strict) problems.push(`missing weight "${name}" ${fmtShape(p.shape)}`);
        continue;
      }
      const same = w.shape.length === p.shape.length && w.shape.every((d, i) => d === p.shape[i]);
      if (!same || w.data.length !== p.size) {
        problems.push(`weight "${name}" has shape ${fmtShape(w.shape)}, the model expects ${fmtShape(p.shape)}`);
        continue;
      }
      copies.push([p, w.data]);
    }
    if (!opts.allowUnexpected) {
      for (const name of weights.keys()) {
        if (!own.has(name) && !(opts.ignore?.(name) ?? false)) problems.push(`unexpected weight "${name}"`);
      }
    }
    if (problems.length) {
      const shown = problems.slice(0, 10).join('; ') + (problems.length > 10 ? `; … and ${problems.length - 10} more` : '');
      throw new Error(`${src}cannot load weights: ${shown}`);
    }
    for (const [p, data] of copies) p.data.set(data);
  }
}

/**
 * Parameters live in SharedArrayBuffers: a predict() worker thread reads the very same weights
 * (no copy, never stale), and the native kernels read shared views like any other.
 */
function toShared(data: Float32Array): Float32Array {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  const shared = new Float32Array(new SharedArrayBuffer(data.byteLength));
  shared.set(data);
  return shared;
}

/**
 * Points each named parameter at the given arrays (shared weights of another thread's module, or
 * the weights of a module built unbound); every parameter must get one.
 */
export function bindParameters(module: Module, weights: ReadonlyMap<string, Float32Array>): void {
  for (const [name, p] of module.namedParameters()) {
    const w = weights.get(name);
    if (!w || w.length !== p.size) throw new Error(`bindParameters: no array of ${p.size} floats for "${name}"`);
    p._rebind(w);
  }
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`Module: invalid name "${name}" (letters, digits and _ only)`);
}

/** An indexed list of modules: children named 0, 1, 2, … as torch.nn.ModuleList. */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];
  constructor(items: readonly M[]) {
    super();
    this.items = [...items];
    this.items.forEach((m, i) => this.addModule(String(i), m));
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new RangeError(`ModuleList: index ${i} out of range (length ${this.items.length})`);
    return m;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
