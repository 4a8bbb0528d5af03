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
  inferenceStep,
  noGrad,
  isGradEnabled,
} from './tensor.js';
export * as ops from './ops/index.js';
export type { AttentionOpOptions } from './ops/index.js';
export { handGrad, type GradSlot } from './tensor.js';
export { emptySequence, layoutOf, packSequences, validatePacked, type PackedSequence, type SequenceLayout } from './packed.js';
export { BufferPool, pool, type PoolStats } from './pool.js';
export { Rng, deriveSeed, type RngState } from './random.js';
