// lib/kernels/index.ts — the typed kernel API: `import { kernels } from 'merclip'`.
import { adamwStep } from './adamw.js';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from './crossEntropy.js';
import { geluBackward, geluForward } from './gelu.js';
import { biasGrad, gemm, gemmAsync, gemmBatched, gemmBatchedAsync } from './gemm.js';
import { layerNormBackward, layerNormForward } from './layernorm.js';
import { softmax, softmaxBackward } from './softmax.js';

export type { GemmOptions, GemmBatchedOptions } from './gemm.js';
export type { LayerNormForwardOptions, LayerNormBackwardOptions, LayerNormForwardResult } from './layernorm.js';
export type { AdamWStepOptions } from './adamw.js';

export const kernels = {
  gemm,
  gemmAsync,
  gemmBatched,
  gemmBatchedAsync,
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
};
