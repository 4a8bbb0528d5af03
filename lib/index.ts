// merclip — fast native backend for multimodal emotion recognition (MER-CLIP).
export { kernels } from './kernels/index.js';
export type {
  GemmOptions,
  GemmBatchedOptions,
  LayerNormForwardOptions,
  LayerNormBackwardOptions,
  LayerNormForwardResult,
  GeluForwardOptions,
  GeluBackwardOptions,
  SoftmaxOptions,
  SoftmaxBackwardOptions,
  CrossEntropyForwardOptions,
  CrossEntropyBackwardOptions,
  AdamWStepOptions,
  AttentionForwardOptions,
  AttentionBackwardOptions,
  AttentionShape,
  CosineSimilarityOptions,
  CosineSimilarityBackwardOptions,
  CosinePairedOptions,
  CosinePairedBackwardOptions,
  CosineTopKOptions,
} from './kernels/index.js';
export { backend, AddonLoadError } from './backend/index.js';
export type { BackendInfo, NativeBinding, NativeInfo, SimdLevelName, GeluApproximate } from './backend/index.js';
export { reference } from './reference/index.js';
export * from './tensor/index.js';
export * as nn from './nn/index.js';
export { ClipTokenizer, TokenizerError, type EncodeBatchOptions } from './clip/tokenizer.js';
export {
  readSafetensors,
  readSafetensorsSync,
  readSafetensorsHeader,
  writeSafetensors,
  writeSafetensorsSync,
  parseSafetensors,
  serializeSafetensors,
  SafetensorsError,
  type SafetensorsDtype,
  type SafetensorsTensor,
  type WritableTensor,
} from './io/index.js';
