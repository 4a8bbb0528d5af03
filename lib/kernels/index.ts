// lib/kernels/index.ts — the typed kernel API: `import { kernels } from 'merclip'`.
// Every kernel has a synchronous form and an `…Async` form that runs off the event loop.
import { adamwStep, adamwStepAsync } from './adamw.js';
import {
  attentionBackward, attentionBackwardAsync, attentionForward, attentionForwardAsync,
  memoryAttentionBackward, memoryAttentionBackwardAsync, memoryAttentionForward, memoryAttentionForwardAsync,
} from './attention.js';
import {
  cosinePaired,
  cosinePairedAsync,
  cosinePairedBackward,
  cosinePairedBackwardAsync,
  cosineSimilarity,
  cosineSimilarityAsync,
  cosineSimilarityBackward,
  cosineSimilarityBackwardAsync,
  cosineTopK,
  cosineTopKAsync,
} from './cosine.js';
import {
  softmaxCrossEntropyBackward,
  softmaxCrossEntropyBackwardAsync,
  softmaxCrossEntropyForward,
  softmaxCrossEntropyForwardAsync,
} from './crossEntropy.js';
import { geluBackward, geluBackwardAsync, geluForward, geluForwardAsync } from './gelu.js';
import { biasGrad, gemm, gemmAsync, gemmBatched, gemmBatchedAsync } from './gemm.js';
import {
  addScaled, addScaledAsync, packHeads, packHeadsAsync, permute0213, permute0213Async, sumSquares, sumSquaresAsync,
  unpackHeads, unpackHeadsAsync,
} from './layout.js';
import { layerNormBackward, layerNormBackwardAsync, layerNormForward, layerNormForwardAsync } from './layernorm.js';
import { softmax, softmaxAsync, softmaxBackward, softmaxBackwardAsync } from './softmax.js';

export type { GemmOptions, GemmBatchedOptions } from './gemm.js';
export type { LayerNormForwardOptions, LayerNormBackwardOptions, LayerNormForwardResult } from './layernorm.js';
export type { GeluForwardOptions, GeluBackwardOptions } from './gelu.js';
export type { SoftmaxOptions, SoftmaxBackwardOptions } from './softmax.js';
export type { CrossEntropyForwardOptions, CrossEntropyBackwardOptions } from './crossEntropy.js';
export type { AdamWStepOptions } from './adamw.js';
export type { Permute0213Options, AddScaledOptions } from './layout.js';
export type {
  AttentionForwardOptions, AttentionBackwardOptions, AttentionShape,
  MemoryAttentionShape, MemoryAttentionForwardOptions, MemoryAttentionBackwardOptions,
} from './attention.js';
export type {
  CosineSimilarityOptions,
  CosineSimilarityBackwardOptions,
  CosinePairedOptions,
  CosinePairedBackwardOptions,
  CosineTopKOptions,
} from './cosine.js';

export const kernels = {
  gemm,
  gemmAsync,
  gemmBatched,
  gemmBatchedAsync,
  biasGrad,
  layerNormForward,
  layerNormForwardAsync,
  layerNormBackward,
  layerNormBackwardAsync,
  geluForward,
  geluForwardAsync,
  geluBackward,
  geluBackwardAsync,
  softmax,
  softmaxAsync,
  softmaxBackward,
  softmaxBackwardAsync,
  softmaxCrossEntropyForward,
  softmaxCrossEntropyForwardAsync,
  softmaxCrossEntropyBackward,
  softmaxCrossEntropyBackwardAsync,
  adamwStep,
  adamwStepAsync,
  attentionForward,
  attentionForwardAsync,
  attentionBackward,
  attentionBackwardAsync,
  memoryAttentionForward,
  memoryAttentionForwardAsync,
  memoryAttentionBackward,
  memoryAttentionBackwardAsync,
  cosineSimilarity,
  cosineSimilarityAsync,
  cosineSimilarityBackward,
  cosineSimilarityBackwardAsync,
  cosinePaired,
  cosinePairedAsync,
  cosinePairedBackward,
  cosinePairedBackwardAsync,
  cosineTopK,
  cosineTopKAsync,
  permute0213,
  permute0213Async,
  unpackHeads,
  unpackHeadsAsync,
  packHeads,
  packHeadsAsync,
  sumSquares,
  sumSquaresAsync,
  addScaled,
  addScaledAsync,
};
