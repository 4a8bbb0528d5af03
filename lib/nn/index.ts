// lib/nn/index.ts — modules, layers and optimisation.
export { Module, ModuleList, bindParameters } from './module.js';
export {
  Linear,
  LayerNorm,
  Embedding,
  MultiHeadAttention,
  Mlp,
  TransformerEncoderLayer,
  CrossModalDecoderLayer,
  activationOf,
  applyActivation,
  type Activation,
  type AttentionCallOptions,
  type EncoderLayerOptions,
  type DecoderMemory,
} from './layers.js';
export { normal as normalInit, uniform as uniformInit, constant as constantInit, unbound, isUnbound, UNBOUND } from './init.js';
export { AdamW, clipGradNorm, warmupCosine, type AdamWOptions, type WarmupCosineOptions } from './optim.js';
