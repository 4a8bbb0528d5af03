// lib/kernels/logmel.ts — the log-mel spectrogram kernel (native/core/include/merclip/logmel.h
// holds the definition): out [frames, 80] of a 16 kHz mono waveform, frames =
// 1 + ceil(max(0, n − 400) / 160). The waveform must be non-empty here; lib/audio/logmel.ts
// (logMel) also accepts an empty one (0 frames).
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export const LOGMEL_BINS = 80;
export const LOGMEL_FRAME = 400;
export const LOGMEL_HOP = 160;

/** Frames of the log-mel of n samples: 0 for n = 0, else 1 + ceil(max(0, n − 400) / 160). */
export function logmelFrames(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`logmelFrames: expected n to be an integer >= 0, received ${String(n)}`);
  return n === 0 ? 0 : 1 + Math.ceil(Math.max(0, n - LOGMEL_FRAME) / LOGMEL_HOP);
}

export interface LogmelForwardOptions {
  /** 16 kHz mono samples (non-empty). */
  waveform: Float32Array;
  /** [frames, 80]; allocated when absent. */
  out?: Float32Array;
}

const logmelForwardOp = defineOp('logmelForward', (fn, opts: LogmelForwardOptions) => {
  const v = new Validator(fn, opts);
  const waveform = v.f32Any('waveform');
  const frames = logmelFrames(waveform.length);
  const out = v.f32Out('out', frames * LOGMEL_BINS, 'frames·80, frames = 1 + ceil(max(0, waveform.length − 400) / 160)');
  v.noOverlap('out', out, 'waveform', waveform);
  return { args: { waveform, out }, result: () => out };
});

export const logmelForward: (opts: LogmelForwardOptions) => Float32Array = logmelForwardOp.sync;
export const logmelForwardAsync: (opts: LogmelForwardOptions) => Promise<Float32Array> = logmelForwardOp.async;
