// lib/kernels/index.ts — the typed kernel API: `import { kernels } from 'merclip'`.
// Every kernel has a synchronous form and an `…Async` form that runs off the event loop.
// One file per op family, the same family names as native/core (merclip/<family>.h), and the
// function names of the core camelCased (layernorm_forward → layernormForward), as the binding
// exports them. The older names (layerNormForward, softmax, softmaxCrossEntropy…, cosineSimilarity…,
// cosinePaired, cosineTopK) stay on `kernels` as aliases of the same functions.
import { adamwStep, adamwStepAsync } from './adamw.js';
import { attentionBackward, attentionBackwardAsync, attentionForward, attentionForwardAsync } from './attention.js';
import {
  cosineBackward, cosineBackwardAsync, cosineForward, cosineForwardAsync,
  cosinePairedBackward, cosinePairedBackwardAsync, cosinePairedForward, cosinePairedForwardAsync,
  cosineTopk, cosineTopkAsync,
} from './cosine.js';
import { geluBackward, geluBackwardAsync, geluForward, geluForwardAsync } from './gelu.js';
import { biasGrad, gemm, gemmAsync, gemmBatched, gemmBatchedAsync } from './gemm.js';
import { layernormBackward, layernormBackwardAsync, layernormForward, layernormForwardAsync } from './layernorm.js';
import { permute0213, permute0213Async } from './layout.js';
import { logmelForward, logmelForwardAsync } from './logmel.js';
import {
  memoryAttentionBackward, memoryAttentionBackwardAsync, memoryAttentionForward, memoryAttentionForwardAsync,
} from './memoryAttention.js';
import { addScaled, addScaledAsync, sumSquares, sumSquaresAsync } from './reduce.js';
import {
  softmaxBackward, softmaxBackwardAsync, softmaxForward, softmaxForwardAsync,
  softmaxXentBackward, softmaxXentBackwardAsync, softmaxXentForward, softmaxXentForwardAsync,
} from './softmax.js';

export type { GemmOptions, GemmBatchedOptions } from './gemm.js';
export type { LayerNormForwardOptions, LayerNormBackwardOptions, LayerNormForwardResult } from './layernorm.js';
export type { GeluForwardOptions, GeluBackwardOptions } from './gelu.js';
export type { SoftmaxOptions, SoftmaxBackwardOptions, CrossEntropyForwardOptions, CrossEntropyBackwardOptions } from './softmax.js';
export type { AdamWStepOptions } from './adamw.js';
export type { Permute0213Options } from './layout.js';
export type { LogmelForwardOptions } from './logmel.js';
export type { AddScaledOptions } from './reduce.js';
export type { AttentionForwardOptions, AttentionBackwardOptions, AttentionShape } from './attention.js';
export type { MemoryAttentionShape, MemoryAttentionForwardOptions, MemoryAttentionBackwardOptions } from './memoryAttention.js';
export type {
  CosineSimilarityOptions,
  CosineSimilarityBackwardOptions,
  CosinePairedOptions,
  CosinePairedBackwardOptions,
  CosineTopKOptions,
} from './cosine.js';

export const kernels = {
  // gemm
  gemm,
  gemmAsync,
  gemmBatched,
  gemmBatchedAsync,
  biasGrad,
  // layernorm
  layernormForward,
  layernormForwardAsync,
  layernormBackward,
  layernormBackwardAsync,
  // gelu
  geluForward,
  geluForwardAsync,
  geluBackward,
  geluBackwardAsync,
  // softmax (+ cross-entropy)
  softmaxForward,
  softmaxForwardAsync,
  softmaxBackward,
  softmaxBackwardAsync,
  softmaxXentForward,
  softmaxXentForwardAsync,
  softmaxXentBackward,
  softmaxXentBackwardAsync,
  // adamw
  adamwStep,
  adamwStepAsync,
  // attention, memory_attention
  attentionForward,
  attentionForwardAsync,
  attentionBackward,
  attentionBackwardAsync,
  memoryAttentionForward,
  memoryAttentionForwardAsync,
  memoryAttentionBackward,
  memoryAttentionBackwardAsync,
  // cosine
  cosineForward,
  cosineForwardAsync,
  cosineBackward,
  cosineBackwardAsync,
  cosinePairedForward,
  cosinePairedForwardAsync,
  cosinePairedBackward,
  cosinePairedBackwardAsync,
  cosineTopk,
  cosineTopkAsync,
  // layout
  permute0213,
  permute0213Async,
  // logmel
  logmelForward,
  logmelForwardAsync,
  // reduce
  sumSquares,
  sumSquaresAsync,
  addScaled,
  addScaledAsync,

  // Older names of the same functions (callers in lib/tensor, lib/nn and user code).
  layerNormForward: layernormForward,
  layerNormForwardAsync: layernormForwardAsync,
  layerNormBackward: layernormBackward,
  layerNormBackwardAsync: layernormBackwardAsync,
  softmax: softmaxForward,
  softmaxAsync: softmaxForwardAsync,
  softmaxCrossEntropyForward: softmaxXentForward,
  softmaxCrossEntropyForwardAsync: softmaxXentForwardAsync,
  softmaxCrossEntropyBackward: softmaxXentBackward,
  softmaxCrossEntropyBackwardAsync: softmaxXentBackwardAsync,
  cosineSimilarity: cosineForward,
  cosineSimilarityAsync: cosineForwardAsync,
  cosineSimilarityBackward: cosineBackward,
  cosineSimilarityBackwardAsync: cosineBackwardAsync,
  cosinePaired: cosinePairedForward,
  cosinePairedAsync: cosinePairedForwardAsync,
  cosineTopK: cosineTopk,
  cosineTopKAsync: cosineTopkAsync,
};
