// lib/audio/logmel.ts — logMel: the log-mel spectrogram [frames, 80] of 16 kHz mono audio.
//
// The definition is in native/core/include/merclip/logmel.h (25 ms periodic-Hann frames every
// 10 ms, no centering, 512-point power spectrum, librosa's Slaney mel filterbank, natural log
// floored at 1e-10; frames = 0 for an empty waveform, else 1 + ceil(max(0, n − 400) / 160), the
// last frame zero-padded). It runs natively (lib/kernels/logmel.ts → the addon's logmelForward);
// the mel filterbank is built in the C++ core (logmel_filterbank, in double, rounded to float
// once), so JS holds no table. An empty waveform gives 0 frames without calling the addon.
import { LOGMEL_BINS, logmelForward, logmelForwardAsync, logmelFrames } from '../kernels/logmel.js';

export interface LogMelOptions {
  /** Output [frames, 80], overwritten; allocated when absent. */
  out?: Float32Array;
}

export interface LogMel {
  /** [frames, 80] row-major. */
  data: Float32Array;
  frames: number;
  bins: 80;
}

function checkWaveform(fn: string, w: unknown): asserts w is Float32Array {
  if (!(w instanceof Float32Array)) {
    throw new TypeError(`${fn}: expected waveform16k to be a Float32Array, received ${w === null ? 'null' : typeof w}`);
  }
}

function emptyOut(out: Float32Array | undefined): Float32Array {
  if (out !== undefined && (!(out instanceof Float32Array) || out.length !== 0)) {
    throw new RangeError(`logMel: expected out to be a Float32Array of length 0 (0 frames), received ${out instanceof Float32Array ? `length ${out.length}` : typeof out}`);
  }
  return out ?? new Float32Array(0);
}

export function logMel(waveform16k: Float32Array, opts: LogMelOptions = {}): LogMel {
  checkWaveform('logMel', waveform16k);
  const frames = logmelFrames(waveform16k.length);
  if (frames === 0) return { data: emptyOut(opts.out), frames, bins: LOGMEL_BINS };
  const data = logmelForward({ waveform: waveform16k, out: opts.out });
  return { data, frames, bins: LOGMEL_BINS };
}

/** logMel on a libuv worker (the event loop stays free). */
export async function logMelAsync(waveform16k: Float32Array, opts: LogMelOptions = {}): Promise<LogMel> {
  checkWaveform('logMelAsync', waveform16k);
  const frames = logmelFrames(waveform16k.length);
  if (frames === 0) return { data: emptyOut(opts.out), frames, bins: LOGMEL_BINS };
  const data = await logmelForwardAsync({ waveform: waveform16k, out: opts.out });
  return { data, frames, bins: LOGMEL_BINS };
}
