// lib/model/decode.ts — the asynchronous half of raw inputs: image files and encoded image bytes
// in a sample's frames are decoded (sharp, lib/clip/frames.ts) into RgbFrames before packing,
// so packSamples (synchronous; also the dynamic batcher's per-call validation) sees only frames
// it can check. predict() and featurize() call it; samples without encoded frames come back as
// they are (the same objects), so feature-only calls pay nothing.
//
// Extension point: an audio source 'logmel' (config.ts) turns a waveform into features here, with
// its async front end — `if (config.modalities.audio.source === 'logmel') audio = { features:
// await audioFeatures(s.audio) }` — before packing, like the frames below.

import { decodeFrame, isRgbFrame } from '../clip/frames.js';
import type { FramesInput, Sample } from './batch.js';
import type { MerClipConfig } from './config.js';

const hasFrames = (v: unknown): v is FramesInput => typeof v === 'object' && v !== null && 'frames' in v && Array.isArray((v as FramesInput).frames);

/** Whether any sample has an image file / encoded frame to decode (for a vision source 'clip'). */
export function needsDecoding(samples: readonly Sample[], config: MerClipConfig): boolean {
  if (config.modalities.vision.source !== 'clip' || !Array.isArray(samples)) return false;
  return samples.some((s) => {
    const v = typeof s === 'object' && s !== null ? s.vision : undefined;
    return hasFrames(v) && !v.frames.every(isRgbFrame);
  });
}

/** The samples with every image file / encoded frame decoded (errors name the sample, the frame and the file). */
export async function decodeSamples(samples: readonly Sample[], config: MerClipConfig): Promise<Sample[]> {
  if (!Array.isArray(samples)) throw new TypeError('predict: expected an array of samples');
  if (config.modalities.vision.source !== 'clip') return [...samples]; // frames are rejected by packSamples, naming the source
  return Promise.all(samples.map(async (s, i) => {
    const v = typeof s === 'object' && s !== null ? s.vision : undefined;
    if (!hasFrames(v) || v.frames.every(isRgbFrame)) return s;
    const frames = await Promise.all(v.frames.map((f, j) => decodeFrame(f, `predict: sample ${i} vision frame ${j}`)));
    return { ...s, vision: { ...v, frames } };
  }));
}
