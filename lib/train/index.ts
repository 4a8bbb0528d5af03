// lib/train/index.ts — training, evaluation and checkpoints.
export { train, evaluate, confusionMatrix, TrainingDivergedError, type TrainData, type TrainOptions, type TrainEvent, type TrainResult, type EpochRecord, type Evaluation } from './train.js';
