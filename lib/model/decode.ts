// lib/model/decode.ts — the asynchronous half of raw inputs: image files and encoded image bytes
// in a sample's frames are decoded (sharp, lib/clip/frames.ts) into RgbFrames before packing,
// so packSamples (synchronous; also the dynamic batcher's per-call validation) sees only frames
// it can check. predict() and featurize() call it; samples without encoded frames come back as
// they are (the same objects), so feature-only calls pay nothing.
//
// Audio with source 'logmel' (config.ts): a .wav path, WAV bytes or { waveform, sampleRate }
// becomes its log-mel frames here (lib/audio: mono, resampled to 16 kHz, the FFT on a libuv
// worker), `{ features: [T, 80] }`, so what is packed and sent to the predict worker is features.

import { audioFeatures, type AudioInput } from '../audio/index.js';
import { decodeFrame, isRgbFrame } from '../clip/frames.js';
import { type FramesInput, isRawAudio, type Sample } from './batch.js';
import type { MerClipConfig } from './config.js';

const hasFrames = (v: unknown): v is FramesInput => typeof v === 'object' && v !== null && 'frames' in v && Array.isArray((v as FramesInput).frames);


const framesToDecode = (s: Sample, config: MerClipConfig): boolean => {
  if (config.modalities.vision.source !== 'clip') return false; // frames are rejected by packSamples, naming the source
  const v = typeof s === 'object' && s !== null ? s.vision : undefined;
  return hasFrames(v) && !v.frames.every(isRgbFrame);
};
const audioToDecode = (s: Sample, config: MerClipConfig): boolean =>
  config.modalities.audio.source === 'logmel' && typeof s === 'object' && s !== null && isRawAudio(s.audio);

/** Whether any sample has an image file / encoded frame (vision 'clip') or raw audio (audio 'logmel') to decode. */
export function needsDecoding(samples: readonly Sample[], config: MerClipConfig): boolean {
  return Array.isArray(samples) && samples.some((s) => framesToDecode(s, config) || audioToDecode(s, config));
}

/**
 * The samples with every image file / encoded frame decoded and every raw audio turned into
 * log-mel features (errors name the sample, the frame and the file).
 */
export async function decodeSamples(samples: readonly Sample[], config: MerClipConfig): Promise<Sample[]> {
  if (!Array.isArray(samples)) throw new TypeError('predict: expected an array of samples');
  return Promise.all(samples.map(async (s, i) => {
    const frames = framesToDecode(s, config), audio = audioToDecode(s, config);
    if (!frames && !audio) return s;
    const out: Sample = { ...s };
    if (frames) {
      const v = s.vision as FramesInput;
      out.vision = { ...v, frames: await Promise.all(v.frames.map((f, j) => decodeFrame(f, `predict: sample ${i} vision frame ${j}`))) };
    }
    if (audio) out.audio = { features: await audioFeatures(s.audio as AudioInput, `predict: sample ${i} audio`) };
    return out;
  }));
}
