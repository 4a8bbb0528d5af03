// lib/train/index.ts — training, evaluation and checkpoints.
export { train, evaluate, confusionMatrix, decodeTrainState, encodeTrainState, TrainingDivergedError, type TrainData, type TrainOptions, type TrainEvent, type TrainResult, type TrainState, type EpochRecord, type Evaluation } from './train.js';
