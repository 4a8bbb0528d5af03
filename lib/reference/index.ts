// lib/reference/index.ts — the float64 JavaScript reference kernels, one namespace object.
//
// Same option names as lib/kernels (inputs: any ArrayLike<number>; outputs: new Float64Arrays).
// Plain loops with double accumulators: the oracle the native kernels are tested against, and
// the "reference" backend for tests. Imports nothing from other lib/ folders.

import { biasGrad, gemm, gemmBatched } from './gemm.js';
import { layerNormBackward, layerNormForward } from './layernorm.js';
import { erf, erfc, geluBackward, geluDerivative, geluForward, geluScalar, normalCdf, normalPdf } from './gelu.js';
import { softmax, softmaxBackward } from './softmax.js';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from './crossEntropy.js';
import { adamwStep } from './adamw.js';
import { cosinePaired, cosinePairedBackward, cosineSimilarity, cosineSimilarityBackward, cosineTopK } from './cosine.js';
import { attentionBackward, attentionForward, memoryAttentionForward } from './attention.js';

export type { GemmRefOptions, GemmBatchedRefOptions } from './gemm.js';
export type { LayerNormForwardRefOptions, LayerNormBackwardRefOptions } from './layernorm.js';
export type { GeluApproximate } from './gelu.js';
export type { AdamwStepRefOptions } from './adamw.js';
export type {
  CosineRefOptions,
  CosineBackwardRefOptions,
  CosinePairedRefOptions,
  CosinePairedBackwardRefOptions,
  CosineTopKRefOptions,
} from './cosine.js';
export type { AttentionRefOptions, AttentionBackwardRefOptions, MemoryAttentionRefOptions } from './attention.js';

export const reference = {
  gemm,
  gemmBatched,
  biasGrad,
  layerNormForward,
  layerNormBackward,
  geluForward,
  geluBackward,
  softmax,
  softmaxBackward,
  softmaxCrossEntropyForward,
  softmaxCrossEntropyBackward,
  adamwStep,
  cosineSimilarity,
  cosineSimilarityBackward,
  cosinePaired,
  cosinePairedBackward,
  cosineTopK,
  attentionForward,
  attentionBackward,
  memoryAttentionForward,
  // scalar helpers (used by the gelu reference; exported for tests)
  erf,
  erfc,
  normalCdf,
  normalPdf,
  geluScalar,
  geluDerivative,
} as const;

export type Reference = typeof reference;
