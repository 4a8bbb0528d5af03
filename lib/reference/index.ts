// lib/reference/index.ts — the float64 JavaScript reference kernels, one namespace object.
//
// Same option names as lib/kernels (inputs: any ArrayLike<number>; outputs: new Float64Arrays),
// and the same family files and function names (merclip/<family>.h camelCased). Plain loops
// with double accumulators: the oracle the native kernels are tested against, and the
// "reference" backend for tests. Imports nothing from other lib/ folders. The older names
// (layerNormForward, softmax, softmaxCrossEntropy…, cosineSimilarity…, cosinePaired, cosineTopK)
// stay as aliases of the same functions.

import { biasGrad, gemm, gemmBatched } from './gemm.js';
import { layernormBackward, layernormForward } from './layernorm.js';
import { erf, erfc, geluBackward, geluDerivative, geluForward, geluScalar, normalCdf, normalPdf } from './gelu.js';
import { softmaxBackward, softmaxForward, softmaxXentBackward, softmaxXentForward } from './softmax.js';
import { adamwStep } from './adamw.js';
import { cosineBackward, cosineForward, cosinePairedBackward, cosinePairedForward, cosineTopk } from './cosine.js';
import { attentionBackward, attentionForward } from './attention.js';
import { memoryAttentionForward } from './memoryAttention.js';
import { permute0213 } from './layout.js';
import { addScaled, sumSquares } from './reduce.js';

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
export type { AttentionRefOptions, AttentionBackwardRefOptions } from './attention.js';
export type { MemoryAttentionRefOptions } from './memoryAttention.js';

export const reference = {
  gemm,
  gemmBatched,
  biasGrad,
  layernormForward,
  layernormBackward,
  geluForward,
  geluBackward,
  softmaxForward,
  softmaxBackward,
  softmaxXentForward,
  softmaxXentBackward,
  adamwStep,
  cosineForward,
  cosineBackward,
  cosinePairedForward,
  cosinePairedBackward,
  cosineTopk,
  attentionForward,
  attentionBackward,
  memoryAttentionForward,
  permute0213,
  sumSquares,
  addScaled,
  // scalar helpers (used by the gelu reference; exported for tests)
  erf,
  erfc,
  normalCdf,
  normalPdf,
  geluScalar,
  geluDerivative,
  // older names of the same functions
  layerNormForward: layernormForward,
  layerNormBackward: layernormBackward,
  softmax: softmaxForward,
  softmaxCrossEntropyForward: softmaxXentForward,
  softmaxCrossEntropyBackward: softmaxXentBackward,
  cosineSimilarity: cosineForward,
  cosineSimilarityBackward: cosineBackward,
  cosinePaired: cosinePairedForward,
  cosineTopK: cosineTopk,
} as const;

export type Reference = typeof reference;
