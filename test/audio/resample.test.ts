// test/audio/resample.test.ts — the band-limited resampler (lib/audio/resample.ts) against float64
// analytic sines: a tone in the passband keeps its amplitude, frequency and phase (the output is
// compared sample by sample with the sine at the output instants, away from the edges where the
// zero extension shows), a tone above the new Nyquist is attenuated by at least 60 dB, DC passes
// exactly; 44.1k→16k, 8k→16k, 16k→44.1k and a ratio too irregular for a polyphase table
// (44.1k→16001); the length rule; identity at equal rates; argument errors.
//
// Tolerance in the passband: the Kaiser design for 80 dB has a passband ripple of δ = 1e-4
// (relative), so |y − sine| <= 3e-4 · amplitude leaves room for δ plus float32 rounding (6e-8) and
// fails on any time offset ≥ ~0.01 input sample or gain error ≥ 0.03 %.
import { describe, expect, it } from 'vitest';

import { resample, resampledLength } from '../../lib/audio/resample.js';

function sine(n: number, fs: number, f: number, amp: number, phase = 0): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * f * i) / fs + phase));
}

/** max |y[m] − amp·sin(2π f m / fsOut + phase)| over the interior (margin samples cut each side). */
function maxErr(y: Float32Array, fsOut: number, f: number, amp: number, margin: number, phase = 0): number {
  let e = 0;
  for (let m = margin; m < y.length - margin; m++) e = Math.max(e, Math.abs(y[m]! - amp * Math.sin((2 * Math.PI * f * m) / fsOut + phase)));
  return e;
}

function rms(y: Float32Array, margin: number): number {
  let s = 0;
  for (let m = margin; m < y.length - margin; m++) s += y[m]! * y[m]!;
  return Math.sqrt(s / (y.length - 2 * margin));
}

describe('resample: passband tones keep amplitude, frequency and phase', () => {
  const cases: Array<[number, number, number]> = [
    [44100, 16000, 1000], [44100, 16000, 6000], [44100, 16000, 7100],
    [8000, 16000, 440], [8000, 16000, 3000], [8000, 16000, 3550],
    [16000, 44100, 5000], [48000, 16000, 2500], [22050, 16000, 7000],
  ];
  it.each(cases)('%i Hz → %i Hz, %i Hz tone', (fsIn, fsOut, f) => {
    const amp = 0.5;
    const x = sine(Math.round(fsIn * 0.25), fsIn, f, amp, 0.7);
    const y = resample(x, fsIn, fsOut);
    expect(y.length).toBe(resampledLength(x.length, fsIn, fsOut));
    expect(maxErr(y, fsOut, f, amp, Math.ceil(fsOut * 0.01), 0.7)).toBeLessThanOrEqual(3e-4 * amp);
  });

  it('44.1 kHz → 16001 Hz (no polyphase table: taps interpolated from a fine kernel grid)', () => {
    const x = sine(11025, 44100, 1500, 0.5, 0.2);
    const y = resample(x, 44100, 16001);
    expect(y.length).toBe(Math.round((11025 * 16001) / 44100));
    expect(maxErr(y, 16001, 1500, 0.5, 200, 0.2)).toBeLessThanOrEqual(1.5e-4);
  });

  it('DC passes with gain 1 (each phase normalised)', () => {
    const y = resample(new Float32Array(8000).fill(0.75), 44100, 16000);
    for (let m = 100; m < y.length - 100; m++) expect(Math.abs(y[m]! - 0.75)).toBeLessThan(1e-6);
  });
});

describe('resample: stopband', () => {
  it.each([[44100, 16000, 8800], [44100, 16000, 9000], [44100, 16000, 12000], [44100, 16000, 20000], [48000, 16000, 10000], [32000, 16000, 8500], [44100, 16001, 9000]])(
    '%i Hz → %i Hz: a %i Hz tone (above the new Nyquist) is ≥ 60 dB down', (fsIn, fsOut, f) => {
      const x = sine(fsIn / 2, fsIn, f, 0.9);
      const y = resample(x, fsIn, fsOut);
      const db = 20 * Math.log10(rms(y, 300) / (0.9 / Math.SQRT2));
      expect(db).toBeLessThanOrEqual(-60);
    });

  it('upsampling 8 kHz → 16 kHz leaves no image: the output is the band-limited sine alone', () => {
    // an image of 3 kHz would sit at 5 kHz; the passband comparison bounds it by −70 dB
    const y = resample(sine(4000, 8000, 3000, 0.9), 8000, 16000);
    expect(maxErr(y, 16000, 3000, 0.9, 200)).toBeLessThanOrEqual(0.9 * 3e-4);
  });
});

describe('resample: length, identity, errors', () => {
  it('length = round(N · out / in), halves up', () => {
    expect(resampledLength(1, 44100, 16000)).toBe(0);
    expect(resampledLength(3, 2, 1)).toBe(2);   // 1.5 → 2
    expect(resampledLength(5, 4, 2)).toBe(3);   // 2.5 → 3
    expect(resampledLength(44100, 44100, 16000)).toBe(16000);
    expect(resampledLength(441, 44100, 16000)).toBe(160);
    expect(resampledLength(1000, 8000, 16000)).toBe(2000);
    expect(resampledLength(0, 8000, 16000)).toBe(0);
    expect(resampledLength(2 ** 40, 44100, 16000)).toBe(Math.round((2 ** 40 * 16000) / 44100));
    for (let n = 1; n < 3000; n += 7) {
      for (const [a, b] of [[44100, 16000], [8000, 16000], [22050, 16000], [16000, 11025]] as const) {
        expect(resampledLength(n, a, b)).toBe(Math.round((n * b) / a));
        expect(resample(new Float32Array(n), a, b).length).toBe(Math.round((n * b) / a));
      }
    }
  });

  it('equal rates return a copy', () => {
    const x = Float32Array.from([1, -2, 3.5]);
    const y = resample(x, 16000, 16000);
    expect(y).toEqual(x);
    expect(y).not.toBe(x);
  });

  it('empty input gives empty output', () => {
    expect(resample(new Float32Array(0), 44100, 16000).length).toBe(0);
  });

  it('bad arguments name themselves', () => {
    const x = new Float32Array(10);
    expect(() => resample(x, 0, 16000)).toThrow(/resample: expected fsIn to be an integer sample rate/);
    expect(() => resample(x, 44100.5, 16000)).toThrow(RangeError);
    expect(() => resample(x, 44100, Number.NaN)).toThrow(/expected fsOut/);
    expect(() => resample(Array.from(x) as unknown as Float32Array, 8000, 16000)).toThrow(TypeError);
    expect(() => resample(x, 8000, 16000, { rolloff: 1.2 })).toThrow(/rolloff/);
    expect(() => resample(x, 8000, 16000, { stopbandDb: 10 })).toThrow(/stopbandDb/);
    expect(() => resampledLength(-1, 1, 1)).toThrow(RangeError);
  });
});
