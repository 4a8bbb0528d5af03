// test/audio/logmel.test.ts — logMel (the native log-mel, native/core/include/merclip/logmel.h)
// against the float64 TS reference test/helpers/logmelRef.ts (naive DFT, filterbank from the
// formulas) on several lengths and signals, against the numpy fixture
// test/fixtures/logmel/ (make_fixture.py: numpy.fft.rfft in float64, a stereo 16-bit WAV read
// through readWav + toMono), the framing rule, thread-count independence, and audioFeatures /
// audioFeaturesSync end to end (WAV path, WAV bytes, a waveform at another rate).
//
// Tolerance (logmelExcess): |got − ref| <= 1e-4 + 3e-8·E_t / exp(ref) on the log values, E_t the
// frame's windowed energy. 1e-4 absolute on a log is 1e-4 relative on the mel energy, ~100× the
// float32 rounding of the native path (window, twiddles, 8 butterfly stages, filter sums, each
// ~6e-8 relative) where a band holds a fair share of the frame's energy; for bands far below it
// (a tone's leakage) the float32 FFT's error is absolute, ~1e-7 of the frame's energy, hence the
// second term. The same rule as native/core/tests/test_logmel.cc.
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { backend } from '../../lib/index.js';
import {
  audioFeatures, audioFeaturesSync, LOGMEL_BINS, LOGMEL_HOP, LOGMEL_SAMPLE_RATE, logMel, logMelAsync, logmelFrames,
  readWav, resample, toMono, writeWav,
} from '../../lib/audio/index.js';
import { expectSameBits } from '../helpers/compare.js';
import { logmelExcess, refFrames, refLogMel } from '../helpers/logmelRef.js';
import { makeRng } from '../helpers/seed.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/logmel/', import.meta.url));

function signal(kind: string, n: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    x[i] = kind === 'noise' ? rng.uniform(-1, 1)
      : kind === 'tones' ? 0.5 * Math.sin(2 * Math.PI * 440 * t) + 0.25 * Math.sin(2 * Math.PI * 3150 * t + 0.3) + 0.01 * rng.normal()
      : kind === 'pure' ? 0.8 * Math.sin(2 * Math.PI * 1234.5 * t)
      : 0;
  }
  return x;
}

describe('logMel vs the float64 reference', () => {
  const cases: Array<[string, number]> = [
    ['noise', 1], ['noise', 399], ['noise', 400], ['noise', 401], ['noise', 560], ['noise', 561], ['noise', 4000 + 37],
    ['tones', 100], ['tones', 400], ['tones', 1777], ['tones', 8000],
    ['pure', 400], ['pure', 3333], ['silence', 1000],
  ];
  it.each(cases)('%s, n = %i', (kind, n) => {
    const x = signal(kind, n, 1000 + n);
    const got = logMel(x);
    const ref = refLogMel(x);
    expect(got.frames).toBe(ref.frames);
    expect(got.bins).toBe(80);
    expect(got.data.length).toBe(ref.frames * 80);
    const { worstRatio, worstIndex, maxAbs } = logmelExcess(got.data, ref);
    expect(worstRatio, `worst [${worstIndex}] got ${got.data[worstIndex]} want ${ref.logmel[worstIndex]} (max |diff| ${maxAbs})`).toBeLessThanOrEqual(1);
  });

  it('silence is the floor ln(1e-10) everywhere', () => {
    const { data } = logMel(new Float32Array(900));
    for (const v of data) expect(Math.abs(v - Math.log(1e-10))).toBeLessThan(1e-6);
  });

  it('an empty waveform gives 0 frames (sync and async)', async () => {
    expect(logMel(new Float32Array(0))).toEqual({ data: new Float32Array(0), frames: 0, bins: 80 });
    expect((await logMelAsync(new Float32Array(0))).frames).toBe(0);
    expect(() => logMel(new Float32Array(0), { out: new Float32Array(80) })).toThrow(/logMel: expected out to be a Float32Array of length 0/);
  });

  it('async equals sync bitwise; a caller-provided out is filled', async () => {
    const x = signal('tones', 5000, 7);
    const sync = logMel(x);
    expectSameBits((await logMelAsync(x)).data, sync.data);
    const out = new Float32Array(sync.frames * 80).fill(NaN);
    expect(logMel(x, { out }).data).toBe(out);
    expectSameBits(out, sync.data);
  });

  it('frames = 1 + ceil(max(0, n − 400) / 160), 0 for n = 0', () => {
    for (const n of [0, 1, 399, 400, 401, 559, 560, 561, 16000, 16001]) {
      let T = n === 0 ? 0 : 1;
      while (n > 0 && (T - 1) * 160 + 400 < n) T++; // the fewest frames covering n samples
      expect(logmelFrames(n), `n=${n}`).toBe(T);
      expect(refFrames(n)).toBe(T);
    }
    expect(() => logmelFrames(-1)).toThrow(RangeError);
    expect(() => logmelFrames(1.5)).toThrow(RangeError);
  });

  it('is bitwise independent of the thread count', () => {
    const x = signal('noise', 16000 * 2 + 5, 99);
    const all = logMel(x).data;
    const before = backend.getNumThreads();
    try {
      backend.setNumThreads(1);
      expectSameBits(logMel(x).data, all);
    } finally {
      backend.setNumThreads(before);
    }
  });

  it('rejects a non-Float32Array waveform', () => {
    expect(() => logMel(new Float64Array(10) as unknown as Float32Array)).toThrow(/logMel: expected waveform16k to be a Float32Array/);
  });
});

describe('numpy fixture (test/fixtures/logmel/make_fixture.py)', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
    sampleRate: number; channels: number; frames: number; logmelFrames: number; bins: number; logmel: number[];
  };
  const wavPath = join(FIXTURE, 'tone_stereo_16k.wav');

  it('readWav + toMono + logMel match numpy', () => {
    const wav = readWav(wavPath);
    expect([wav.sampleRate, wav.channels, wav.frames]).toEqual([expected.sampleRate, expected.channels, expected.frames]);
    const mono = toMono(wav.data);
    const got = logMel(mono);
    expect(got.frames).toBe(expected.logmelFrames);
    // numpy's float64 log-mel as the reference, with the energies from the TS reference's framing
    const ref = refLogMel(mono);
    const { worstRatio, maxAbs } = logmelExcess(got.data, { ...ref, logmel: Float64Array.from(expected.logmel) });
    expect(worstRatio, `max |diff| ${maxAbs}`).toBeLessThanOrEqual(1);
    // and the two float64 references agree to float64-level accuracy (9 printed digits)
    let refDiff = 0;
    for (let i = 0; i < ref.logmel.length; i++) refDiff = Math.max(refDiff, Math.abs(ref.logmel[i]! - expected.logmel[i]!));
    expect(refDiff).toBeLessThan(1e-6);
  });

  it('audioFeatures(path) and audioFeatures(bytes) give the same features', async () => {
    const a = await audioFeatures(wavPath, 'fixture');
    const b = await audioFeatures(readFileSync(wavPath), 'fixture bytes');
    expect(a.length).toBe(expected.logmelFrames * 80);
    expectSameBits(a, b);
    const { worstRatio } = logmelExcess(a, { ...refLogMel(toMono(readWav(wavPath).data)), logmel: Float64Array.from(expected.logmel) });
    expect(worstRatio).toBeLessThanOrEqual(1);
  });
});

describe('audioFeatures', () => {
  it('constants', () => {
    expect([LOGMEL_BINS, LOGMEL_SAMPLE_RATE, LOGMEL_HOP]).toEqual([80, 16000, 160]);
  });

  it('a waveform at 44.1 kHz is resampled to 16 kHz first (sync and async agree)', async () => {
    const x = signal('tones', 44100, 3).subarray(0, 22050); // any content; rate is what matters
    const want = logMel(resample(x, 44100, 16000)).data;
    expectSameBits(audioFeaturesSync(x, 44100), want);
    expectSameBits(await audioFeatures({ waveform: x, sampleRate: 44100 }), want);
    expect(want.length).toBe(logmelFrames(8000) * 80);
  });

  it('a 16 kHz mono WAV written to disk round-trips to the features of its samples', async () => {
    const x = signal('tones', 3000, 5);
    const dir = mkdtempSync(join(tmpdir(), 'merclip-audio-'));
    const path = join(dir, 'a.wav');
    writeFileSync(path, writeWav([x], 16000, 'float32'));
    expectSameBits(await audioFeatures(path), logMel(x).data);
  });

  it('errors name where and the file', async () => {
    await expect(audioFeatures('/nonexistent/x.wav', 'sample 3 audio')).rejects.toThrow(/^sample 3 audio: \/nonexistent\/x\.wav: cannot read/);
    await expect(audioFeatures('/nonexistent/x.wav', 'sample 3 audio')).rejects.toMatchObject({ name: 'WavError', code: 'io', file: '/nonexistent/x.wav' });
    await expect(audioFeatures(new Uint8Array([1, 2, 3]), 'clip 7')).rejects.toThrow(/^clip 7: <WAV bytes>: file is 3 bytes/);
    await expect(audioFeatures({ waveform: new Float32Array(10), sampleRate: 0 }, 'clip 8')).rejects.toThrow(/^clip 8: audioFeatures: expected sampleRate/);
    await expect(audioFeatures({ waveform: [1, 2] as unknown as Float32Array, sampleRate: 16000 }, 'clip 9')).rejects.toThrow(TypeError);
    await expect(audioFeatures(42 as unknown as string, 'clip 10')).rejects.toThrow(/^clip 10: audioFeatures: expected a \.wav path/);
    expect(() => audioFeaturesSync(new Float32Array(4), 1.5)).toThrow(RangeError);
  });
});
