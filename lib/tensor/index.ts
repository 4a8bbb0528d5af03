// lib/tensor/index.ts — Tensor, autograd, the differentiable ops, the buffer pool, the seeded RNG.
export {
  Tensor,
  type Node,
  type Shape,
  shapeSize,
  fmtShape,
  empty,
  zeros,
  full,
  fromArray,
  wrap,
  parameter,
  unboundParameter,
  tidy,
  noGrad,
  isGradEnabled,
} from './tensor.js';
export * as ops from './ops.js';
export type { AttentionOpOptions } from './ops.js';
export { BufferPool, pool, type PoolStats } from './pool.js';
export { Rng, deriveSeed, type RngState } from './random.js';
