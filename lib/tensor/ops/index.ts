// lib/tensor/ops/index.ts — the differentiable ops (`ops.*`), one file per family, each backward
// next to its forward (contract: common.ts):
//   matmul.ts       linear, matmul, bmm
//   elementwise.ts  add, sub, mul, scale, exp, scaleRows, gelu, quickGelu, dropout
//   norm.ts         layerNorm, softmax
//   attention.ts    attention (packed q/k/v, cu_seqlens), memoryAttention
//   cosine.ts       cosineSimilarity, cosinePaired
//   losses.ts       sum, mean, crossEntropy, l1Loss, mseLoss
//   layout.ts       splitHeads, mergeHeads, slice, concat, gatherSeq, gatherRows, embedding,
//                   addPackedPositions, withZeroGrad
// and the packed-sequence offsets (../packed.ts).
export { bmm, linear, matmul } from './matmul.js';
export { add, dropout, exp, gelu, mul, quickGelu, scale, scaleRows, sub } from './elementwise.js';
export { layerNorm, softmax } from './norm.js';
export { attention, memoryAttention, type AttentionOpOptions } from './attention.js';
export { cosinePaired, cosineSimilarity } from './cosine.js';
export { crossEntropy, l1Loss, mean, mseLoss, sum } from './losses.js';
export { addPackedPositions, concat, embedding, gatherRows, gatherSeq, mergeHeads, slice, splitHeads, withZeroGrad } from './layout.js';
export { offsetsOf, packedCount, uniformOffsets } from '../packed.js';
