// lib/audio/index.ts — audio in: WAV decoding, resampling to 16 kHz, log-mel features.
//
// audioFeatures(input, where?) → the log-mel [T, 80] (lib/audio/logmel.ts; T frames of 10 ms) of
// a .wav path, WAV bytes, or a { waveform, sampleRate } pair: channels averaged to mono
// (toMono), resampled to 16 kHz (resample), then logMel. Errors name `where` (the caller's label,
// e.g. "sample 3 audio") and the file.
import { LOGMEL_BINS as BINS, LOGMEL_HOP as HOP } from '../kernels/logmel.js';
import { logMel, logMelAsync } from './logmel.js';
import { resample } from './resample.js';
import { readWavAsync, toMono, WavError } from './wav.js';

export { logMel, logMelAsync, type LogMel, type LogMelOptions } from './logmel.js';
export { resample, resampledLength, type ResampleOptions } from './resample.js';
export { parseWav, readWav, readWavAsync, toMono, writeWav, WavError, type WavAudio, type WavErrorCode, type WavWriteFormat } from './wav.js';
export { logmelFrames } from '../kernels/logmel.js';

export const LOGMEL_BINS = BINS;
export const LOGMEL_SAMPLE_RATE = 16000;
export const LOGMEL_HOP = HOP;

export type AudioInput = string /* .wav path */ | Uint8Array /* WAV bytes */ | { waveform: Float32Array; sampleRate: number };

function prefix(where: string | undefined, msg: string): string {
  return where ? `${where}: ${msg}` : msg;
}

/** Mono 16 kHz waveform → log-mel [T, 80] (sync, on the JS thread). */
export function audioFeaturesSync(waveform: Float32Array, sampleRate: number): Float32Array {
  checkWaveform('audioFeaturesSync', undefined, waveform, sampleRate);
  return logMel(resample(waveform, sampleRate, LOGMEL_SAMPLE_RATE)).data;
}

function checkWaveform(fn: string, where: string | undefined, waveform: unknown, sampleRate: unknown): void {
  if (!(waveform instanceof Float32Array)) {
    throw new TypeError(prefix(where, `${fn}: expected waveform to be a Float32Array, received ${waveform === null ? 'null' : typeof waveform}`));
  }
  if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 2 ** 31 - 1) {
    throw new RangeError(prefix(where, `${fn}: expected sampleRate to be a positive integer (Hz), received ${String(sampleRate)}`));
  }
}

/** Log-mel features [T, 80] of a .wav path, WAV bytes or a waveform (mono-mixed, resampled to
 *  16 kHz); the FFT runs on a libuv worker. */
export async function audioFeatures(input: AudioInput, where?: string): Promise<Float32Array> {
  let waveform: Float32Array;
  let sampleRate: number;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    let wav;
    try {
      wav = await readWavAsync(input, typeof input === 'string' ? input : '<WAV bytes>');
    } catch (err) {
      if (where && err instanceof WavError) err.message = `${where}: ${err.message}`; // err.file stays the file
      throw err;
    }
    waveform = toMono(wav.data);
    sampleRate = wav.sampleRate;
  } else if (input !== null && typeof input === 'object' && 'waveform' in input) {
    checkWaveform('audioFeatures', where, input.waveform, input.sampleRate);
    waveform = input.waveform;
    sampleRate = input.sampleRate;
  } else {
    throw new TypeError(prefix(where, `audioFeatures: expected a .wav path, WAV bytes (Uint8Array) or { waveform, sampleRate }, received ${input === null ? 'null' : typeof input}`));
  }
  return (await logMelAsync(resample(waveform, sampleRate, LOGMEL_SAMPLE_RATE))).data;
}
