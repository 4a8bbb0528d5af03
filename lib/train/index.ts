// lib/train/index.ts — training, evaluation and checkpoints.
export { train, evaluate, TRAIN_DEFAULTS, warmupStepsFor, confusionMatrix, decodeTrainState, encodeTrainState, TrainingDivergedError, type TrainData, type TrainOptions, type TrainEvent, type TrainResult, type TrainState, type EpochRecord, type Evaluation } from './train.js';
