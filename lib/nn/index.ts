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
  normal as normalInit,
  applyActivation,
  type Activation,
  type AttentionCallOptions,
  type EncoderLayerOptions,
  type DecoderMemory,
  type Packing,
} from './layers.js';
export { AdamW, clipGradNorm, warmupCosine, type AdamWOptions, type WarmupCosineOptions } from './optim.js';
