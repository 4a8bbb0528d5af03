// merclip — fast native backend for multimodal emotion recognition (MER-CLIP).
export { kernels } from './kernels/index.js';
export * as audio from './audio/index.js';
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
export { Clip, parseClipConfig, type ClipConfig } from './clip/model.js';
export { ClipTextTransformer, type ClipTextConfig } from './clip/text.js';
export { ClipVisionTransformer, type ClipVisionConfig } from './clip/vision.js';
export { preprocessImages, type RgbFrame } from './clip/image.js';
export { decodeFrame, FrameDecodeError, type FrameInput } from './clip/frames.js';
export { LabelEncoder, DEFAULT_TEMPLATE } from './clip/labels.js';
export { defaultTokenizer } from './clip/assets.js';
export { MerClip, saveModel, loadModel, type ModelBatch, type ForwardResult, type LabelSet } from './model/merclip.js';
export {
  makeConfig, PRESETS, SENTIMENT_LABELS, SENTIMENT_VALUES, withClipSources, withLogMelAudio, type MerClipConfig, type Modality, type ModalityConfig,
  type ModalitySource, type TextClipOptions, type VisionClipOptions,
} from './model/config.js';
export type { Sample, SampleModality, SampleInput, FramesInput, Prediction, PredictOptions, BatchingOptions } from './model/predict.js';
export { configFromClip } from './model/clipWeights.js';
export { featurize, type FeaturizeOptions } from './model/raw.js';
export { BatcherError, DynamicBatcher, type CloseResult } from './model/batcher.js';
export { PredictWorkerError } from './model/predictorThread.js';
export { generateSynthetic, type SyntheticOptions } from './data/synth.js';
export { makeBatches, type DataSplit, type Batch } from './data/batch.js';
export { readDataset, writeDataset, readDatasetInfo } from './data/file.js';
export { evaluateRegression, formatMetricTable, meanStd, type RegressionMetrics } from './eval/metrics.js';
export { train, evaluate, TrainingDivergedError, type TrainOptions, type TrainResult, type TrainEvent } from './train/index.js';
export { scoreDistributed, runWorker, sweep, ShardsFailedError, RedisUnavailableError, readResults, writeResults, type ScoreOptions, type ScoreRun, type ScoreSummary, type WorkerOptions, type WorkerHandle, type SweepOptions, type SweepRun, type SweepSummary, type ResultRow } from './distributed/index.js';
