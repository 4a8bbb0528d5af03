// lib/tensor/tensor.ts — Tensor, its storage, scopes (tidy) and reverse-mode autograd.
//
// A Tensor is fp32, row-major and contiguous: `data` is a Float32Array the native kernels read
// without copying. Views (reshape) share one Storage, reference-counted; the storage goes back to
// the buffer pool (pool.ts) when its last tensor is disposed.
//
// Autograd: an op whose inputs require grad records a Node on its output (the inputs and a
// backward closure — the backward rule sits next to its forward in ops/). `loss.backward()`
// orders the graph topologically from the loss and runs the closures in reverse; each closure
// hands its contribution to its inputs through handGrad (accumulate semantics: a leaf's grad
// sums over every use and every backward call until zeroGrad). Gradients of intermediate tensors are
// released as soon as their node has run. `noGrad(fn)` records nothing.
//
// Memory: `tidy(fn)` disposes every tensor created inside fn except what fn returns (moved to
// the enclosing scope) and tensors marked with `keep()`. A training step is
// `tidy(() => { const loss = …; loss.backward(); return loss.item(); })`: every activation and
// intermediate gradient goes back to the pool at the end of the step, parameters and their
// grads stay.

import { kernels } from '../kernels/index.js';
import { pool } from './pool.js';

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`shape: expected non-negative integer dimensions, received [${shape.join(', ')}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n) || n > 2 ** 32) throw new RangeError(`shape: [${shape.join(', ')}] has too many elements (${n})`);
  return n;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

class Storage {
  refs = 1;
  constructor(
    public data: Float32Array,
    readonly pooled: boolean,
  ) {}
  retain(): void {
    this.refs++;
  }
  release(): void {
    if (--this.refs === 0) {
      if (this.pooled) pool.release(this.data);
      this.data = EMPTY;
    }
  }
}

const EMPTY = new Float32Array(0);
/** The storage of a parameter registered without values (nn's unbound()), until _rebind. */
const NOT_BOUND = new Float32Array(0);

/** A recorded operation: its inputs and the rule that pushes the output gradient to them. */
export interface Node {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /**
   * Adds d(loss)/d(input) to each input that requires grad (through handGrad). `take()` hands
   * the closure ownership of gradOut's buffer (to become an input's grad without a copy); do not
   * read gradOut after giving it away.
   */
  backward(gradOut: Float32Array, take: () => Float32Array): void;
}

// ---------------------------------------------------------------------------------------------
// scopes

let gradEnabled = true;
const scopes: Array<Set<Tensor>> = [];

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording any operation for autograd. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

type TensorContainer = Tensor | readonly TensorContainer[] | { readonly [k: string]: TensorContainer } | number | string | boolean | null | undefined | void;

function collect(x: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 8 || x === null || typeof x !== 'object') return;
  if (x instanceof Tensor) {
    out.add(x);
    return;
  }
  if (ArrayBuffer.isView(x)) return;
  for (const v of Array.isArray(x) ? x : Object.values(x)) collect(v, out, depth + 1);
}

/**
 * Runs fn; disposes every tensor created inside it except those reachable from its result
 * (tensors, arrays and plain objects of them), which move to the enclosing scope, and those
 * marked keep(). Synchronous only — an async fn would let other work run inside the scope.
 */
export function tidy<T extends TensorContainer>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    throw new TypeError('tidy: fn must be synchronous (it returned a promise)');
  }
  const kept = new Set<Tensor>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else if (!t.kept) t.dispose();
  }
  return result;
}

/**
 * tidy(fn) when no gradient is being recorded, fn() otherwise. Layers wrap their sub-blocks in it
 * so that inference hands each intermediate back to the pool as soon as the block that made it
 * returns (the working set of a forward is then a few activations, not all of them), while
 * training keeps every intermediate the backward pass needs.
 */
export function inferenceStep<T extends TensorContainer>(fn: () => T): T {
  return gradEnabled ? fn() : tidy(fn);
}

function track(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

// ---------------------------------------------------------------------------------------------
// Tensor

export class Tensor {
  private storage: Storage;
  readonly shape: readonly number[];
  readonly size: number;
  requiresGrad: boolean;
  /** d(loss)/d(this), same shape; created by backward(). */
  grad: Tensor | null = null;
  /** The op that produced this tensor (null for leaves and under noGrad). */
  node: Node | null = null;
  /** Excluded from tidy()'s disposal. */
  kept = false;
  name = '';
  /** Pool buffers the backward needs (lse, mean/rstd, masks): released with this tensor. */
  private saved: Float32Array[] | null = null;

  /** Wraps `data` (no copy). Prefer the factories below. */
  constructor(data: Float32Array, shape: Shape, opts: { requiresGrad?: boolean; pooled?: boolean; storage?: Storage } = {}) {
    const size = shapeSize(shape);
    if (data.length !== size && data !== NOT_BOUND) {
      throw new RangeError(`Tensor: data has ${data.length} elements but shape ${fmtShape(shape)} needs ${size}`);
    }
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.requiresGrad = opts.requiresGrad ?? false;
    if (opts.storage) {
      opts.storage.retain();
      this.storage = opts.storage;
    } else {
      this.storage = new Storage(data, opts.pooled ?? false);
    }
    track(this);
  }

  get data(): Float32Array {
    const d = this.storage.data;
    if (d.length !== this.size) {
      if (d === NOT_BOUND) throw new Error(`Tensor${this.name ? ` "${this.name}"` : ''} ${fmtShape(this.shape)} is a parameter without values yet (built unbound; bindParameters gives it its weights)`);
      throw new Error(`Tensor${this.name ? ` "${this.name}"` : ''} ${fmtShape(this.shape)} was disposed`);
    }
    return d;
  }

  get disposed(): boolean {
    return this.storage.data === EMPTY && this.size !== 0;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Size of dimension i (negative counts from the end). */
  dim(i: number): number {
    const d = this.shape[i < 0 ? this.shape.length + i : i];
    if (d === undefined) throw new RangeError(`Tensor.dim: axis ${i} out of range for shape ${fmtShape(this.shape)}`);
    return d;
  }

  /** The same storage under another shape (a view; no copy). -1 infers one dimension. */
  reshape(shape: Shape): Tensor {
    return reshapeImpl(this, shape);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`Tensor.item: expected one element, shape is ${fmtShape(this.shape)}`);
    return this.data[0]!;
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** Excludes this tensor from tidy()'s disposal (a parameter, a cache). Returns this. */
  keep(): this {
    this.kept = true;
    return this;
  }

  /** Releases the storage (back to the pool when no view shares it) and the grad. */
  dispose(): void {
    if (this.storage.data === EMPTY) return;
    this.storage.release();
    this.storage = DISPOSED;
    this.node = null;
    if (this.saved) {
      for (const b of this.saved) pool.release(b);
      this.saved = null;
    }
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Backpropagates from this tensor (a scalar unless `gradient` is given). */
  backward(gradient?: Float32Array): void {
    backwardImpl(this, gradient);
  }

  /** @internal replaces a (non-pooled) parameter's storage by `data` of the same size */
  _rebind(data: Float32Array): void {
    if (data.length !== this.size) throw new RangeError(`Tensor._rebind: ${data.length} floats for shape ${fmtShape(this.shape)}`);
    this.storage.release();
    this.storage = new Storage(data, false);
  }

  /** @internal keeps pool buffers alive as long as this tensor (for its backward) */
  _save(...bufs: Float32Array[]): void {
    (this.saved ??= []).push(...bufs);
  }

  /** @internal forgets the storage without releasing it (its buffer now belongs to another tensor) */
  _abandonStorage(): void {
    this.storage = DISPOSED;
  }

  /** @internal the storage, for views */
  get _storage(): Storage {
    return this.storage;
  }

  toString(): string {
    return `Tensor${fmtShape(this.shape)}${this.requiresGrad ? ' requiresGrad' : ''}`;
  }
}

const DISPOSED = new Storage(EMPTY, false);
DISPOSED.refs = Number.POSITIVE_INFINITY;

function reshapeImpl(x: Tensor, shape: Shape): Tensor {
  let infer = -1;
  let known = 1;
  shape.forEach((d, i) => {
    if (d === -1) {
      if (infer >= 0) throw new RangeError(`reshape: more than one -1 in ${fmtShape(shape)}`);
      infer = i;
    } else known *= d;
  });
  const full = [...shape];
  if (infer >= 0) {
    if (known === 0 || x.size % known !== 0) throw new RangeError(`reshape: cannot reshape ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
    full[infer] = x.size / known;
  }
  if (shapeSize(full) !== x.size) throw new RangeError(`reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`);
  const y = new Tensor(x.data, full, { storage: x._storage });
  if (x.requiresGrad && gradEnabled) {
    y.requiresGrad = true;
    y.node = { op: 'reshape', inputs: [x], backward: (_g, take) => handGrad(x, take()) };
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// factories

/** A new tensor of the given shape from the pool; contents unspecified (every op overwrites). */
export function empty(shape: Shape): Tensor {
  return new Tensor(pool.acquire(shapeSize(shape)), shape, { pooled: true });
}

export function zeros(shape: Shape, opts: { requiresGrad?: boolean } = {}): Tensor {
  const t = new Tensor(pool.acquireZeroed(shapeSize(shape)), shape, { pooled: true });
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

export function full(shape: Shape, value: number, opts: { requiresGrad?: boolean } = {}): Tensor {
  const t = empty(shape);
  t.data.fill(value);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/** Copies `values` into a new tensor (shape defaults to [values.length]). */
export function fromArray(values: ArrayLike<number>, shape: Shape = [values.length], opts: { requiresGrad?: boolean } = {}): Tensor {
  const n = shapeSize(shape);
  if (values.length !== n) throw new RangeError(`fromArray: ${values.length} values do not fill shape ${fmtShape(shape)} (${n})`);
  const t = empty(shape);
  t.data.set(values);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/** Wraps a Float32Array without copying (the caller keeps ownership; never pooled). */
export function wrap(data: Float32Array, shape: Shape, opts: { requiresGrad?: boolean } = {}): Tensor {
  return new Tensor(data, shape, { requiresGrad: opts.requiresGrad ?? false, pooled: false });
}

/** A tensor with no autograd history that the caller owns (a parameter, a buffer, a cache). */
export function parameter(data: Float32Array, shape: Shape): Tensor {
  const t = new Tensor(data, shape, { requiresGrad: true, pooled: false });
  untrack(t);
  return t.keep();
}

/** A parameter of this shape without storage yet (reading it throws until `_rebind`). */
export function unboundParameter(shape: Shape): Tensor {
  const t = new Tensor(NOT_BOUND, shape, { requiresGrad: true, pooled: false });
  untrack(t);
  return t.keep();
}

export function untrack(t: Tensor): void {
  for (const s of scopes) s.delete(t);
}

// ---------------------------------------------------------------------------------------------
// autograd

// Adds g (a pool buffer of x.size floats the caller owns) to x.grad; when x has no grad yet, g
// itself becomes the grad. The primitive under handGrad, module-private: a backward uses handGrad.
function addToGrad(x: Tensor, g: Float32Array): void {
  if (!x.requiresGrad) {
    pool.release(g);
    return;
  }
  if (g.length !== x.size) throw new Error(`internal: gradient of ${g.length} elements for a tensor of shape ${fmtShape(x.shape)}`);
  if (x.grad === null) {
    x.grad = newGrad(x, g);
    return;
  }
  const d = x.grad.data;
  if (d.length >= 32768) kernels.addScaled({ x: d, y: g, out: d });
  else for (let i = 0; i < d.length; i++) d[i]! += g[i]!;
  pool.release(g);
}

function newGrad(x: Tensor, buf: Float32Array): Tensor {
  const t = new Tensor(buf, x.shape, { pooled: true });
  untrack(t);
  return t;
}

/** Where a backward kernel writes one input's gradient (see handGrad). */
export interface GradSlot {
  readonly buf: Float32Array;
  /** true: ADD into buf (it is the input's grad already); false: overwrite buf. */
  readonly accumulate: boolean;
}

/**
 * The one way a backward hands its inputs their gradients — micrograd's `+=` (a gradient always
 * adds to what the input already has), with the pool's ownership explicit:
 *
 * - `handGrad(x, g)`: `g` is a pool buffer the backward owns (its `take()`, or one it filled).
 *   It becomes x.grad as it is (no copy) when x has none yet; otherwise it is added to x.grad and
 *   released; released when x needs no grad. Do not touch g afterwards.
 * - `handGrad(xs, write, { adds })`: a kernel that WRITES the gradients of xs (all at once: a
 *   fused backward) runs as write(slots), slot i for xs[i]:
 *   – x without a grad yet: a fresh pooled buffer that becomes x.grad (accumulate false);
 *   – x with a grad, and the kernel can add (adds / adds[i]: a GEMM β, a scatter-add): x.grad
 *     itself, accumulate true;
 *   – x with a grad, the kernel overwrites: a pooled temporary, added to x.grad afterwards;
 *   – x that needs no grad, or a number n (a scratch the kernel needs, e.g. dWeight of a
 *     LayerNorm without weight): a pooled buffer that is released afterwards.
 *   write is not called when no x needs a grad.
 */
export function handGrad(x: Tensor, g: Float32Array): void;
export function handGrad<const X extends readonly (Tensor | number)[]>(xs: X, write: (slots: { readonly [K in keyof X]: GradSlot }) => void, opts?: { adds?: boolean | readonly boolean[] }): void;
export function handGrad(
  a: Tensor | readonly (Tensor | number)[],
  b: Float32Array | ((slots: readonly GradSlot[]) => void),
  opts: { adds?: boolean | readonly boolean[] } = {},
): void {
  if (b instanceof Float32Array) {
    addToGrad(a as Tensor, b);
    return;
  }
  const xs = a as readonly (Tensor | number)[];
  if (!xs.some((x) => typeof x !== 'number' && x.requiresGrad)) return;
  const adds = (i: number): boolean => (typeof opts.adds === 'boolean' ? opts.adds : (opts.adds?.[i] ?? false));
  const plan = xs.map((x, i) => {
    if (typeof x === 'number') return { buf: pool.acquire(x), accumulate: false, to: null, temp: true };
    if (!x.requiresGrad) return { buf: pool.acquire(x.size), accumulate: false, to: null, temp: true };
    // an input given twice: its second slot is always a temporary (the kernel writes both)
    const repeated = xs.indexOf(x) !== i;
    if (x.grad === null) {
      x.grad = newGrad(x, pool.acquire(x.size));
      return { buf: x.grad.data, accumulate: false, to: x, temp: false };
    }
    if (adds(i) && !repeated) return { buf: x.grad.data, accumulate: true, to: x, temp: false };
    return { buf: pool.acquire(x.size), accumulate: false, to: x, temp: true };
  });
  b(plan);
  for (const s of plan) {
    if (!s.temp) continue;
    if (s.to) addToGrad(s.to, s.buf);
    else pool.release(s.buf);
  }
}

function backwardImpl(root: Tensor, gradient?: Float32Array): void {
  if (!root.requiresGrad) throw new Error('backward: the tensor does not require grad (no input required grad, or it was computed under noGrad)');
  if (gradient === undefined && root.size !== 1) {
    throw new RangeError(`backward: a gradient is needed for a non-scalar tensor of shape ${fmtShape(root.shape)}`);
  }
  if (gradient !== undefined && gradient.length !== root.size) {
    throw new RangeError(`backward: gradient has ${gradient.length} elements, the tensor has ${root.size}`);
  }
  // topological order (iterative DFS: graphs of deep models exceed the call stack otherwise)
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: Array<[Tensor, number]> = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i]!;
      if (child.requiresGrad && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  const g = pool.acquire(root.size);
  if (gradient) g.set(gradient);
  else g[0] = 1;
  handGrad(root, g);
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!;
    const node = t.node;
    if (!node || !t.grad) continue;
    const gt = t.grad;
    const g = gt.data;
    let taken = false;
    const take = (): Float32Array => {
      if (t === root) {
        // the root keeps its grad (the caller may read it): give away a copy
        const copy = pool.acquire(g.length);
        copy.set(g);
        return copy;
      }
      taken = true;
      return g;
    };
    node.backward(g, take);
    if (t !== root) {
      // an intermediate's gradient is not needed once its node has run
      t.grad = null;
      if (taken) gt._abandonStorage();
      else gt.dispose();
    }
  }
}
