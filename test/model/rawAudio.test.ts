// test/model/rawAudio.test.ts — audio with source 'logmel': a .wav path, WAV bytes or a waveform
// go through the log-mel front end (lib/audio) before packing. Checked: predict() on a 16 kHz WAV
// file equals predict() on the float64 reference log-mel of the same samples (test/helpers/
// logmelRef.ts: naive DFT, filterbank from the formula); path, bytes and waveform agree exactly;
// a 44.1 kHz stereo file equals its mono mix given as a waveform; featurize() gives the features
// predict() uses; with dynamic batching too; and a corrupt file is an error naming the file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { audioFeatures, toMono, writeWav } from '../../lib/audio/index.js';
import { withLogMelAudio } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import type { Prediction } from '../../lib/model/predict.js';
import { featurize } from '../../lib/model/raw.js';
import { Rng } from '../../lib/tensor/index.js';
import { expectClose } from '../helpers/compare.js';
import { refLogMel } from '../helpers/logmelRef.js';
import { TINY_BASE } from '../helpers/tinyClip.js';

const config = withLogMelAudio(TINY_BASE, { maxLength: 200 });
const model = new MerClip(config, undefined, { seed: 3 });
const dir = mkdtempSync(join(tmpdir(), 'merclip-rawaudio-'));
afterAll(async () => {
  await model.close();
  rmSync(dir, { recursive: true, force: true });
});

const rng = new Rng(17);
/** A second of speech-like audio: two tones and noise, quantised to 16 bits. */
function tone(n: number, rate: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.round((0.3 * Math.sin((2 * Math.PI * 220 * i) / rate) + 0.2 * Math.sin((2 * Math.PI * 1870 * i) / rate) + 0.05 * rng.normal()) * 32767) / 32768);
}
const text = (): Float32Array => rng.fillNormal(new Float32Array(9 * 12));
const probs = (p: Prediction | Prediction[]): Float32Array => Float32Array.from((Array.isArray(p) ? p : [p]).flatMap((x) => x.probs));

describe('audio with source "logmel"', () => {
  const wave = tone(16000, 16000);
  const path = join(dir, 'a.wav');
  writeFileSync(path, writeWav([wave], 16000, 'pcm16'));

  it('a WAV file predicts as the float64 reference log-mel of its samples does', async () => {
    const t = text();
    const ref = refLogMel(wave);
    const fromRef = await model.predict({ text: t, audio: { features: Float32Array.from(ref.logmel) } });
    const fromFile = await model.predict({ text: t, audio: path });
    expectClose(probs(fromFile), probs(fromRef), { atol: 2e-5, rtol: 1e-4 });
    // the prediction does depend on the audio: other audio (or none) moves it far more than that
    const other = probs(await model.predict({ text: t, audio: { waveform: tone(16000, 16000), sampleRate: 16000 } }));
    const none = probs(await model.predict({ text: t }));
    const gap = (x: Float32Array): number => Math.max(...x.map((v, i) => Math.abs(v - probs(fromFile)[i]!)));
    expect(gap(other)).toBeGreaterThan(10 * 2e-5); // ten times the tolerance above
    expect(gap(none)).toBeGreaterThan(10 * 2e-5);
    expect(ref.frames).toBe(1 + Math.ceil((16000 - 400) / 160));
  });

  it('path, WAV bytes and waveform agree; a stereo 44.1 kHz file equals its mono mix', async () => {
    const t = text();
    const a = await model.predict({ text: t, audio: path });
    const b = await model.predict({ text: t, audio: writeWav([wave], 16000, 'pcm16') });
    const c = await model.predict({ text: t, audio: { waveform: wave, sampleRate: 16000 } });
    expect(probs(b)).toEqual(probs(a));
    expect(probs(c)).toEqual(probs(a));
    const left = tone(44100, 44100), right = tone(44100, 44100);
    const stereo = join(dir, 'stereo.wav');
    writeFileSync(stereo, writeWav([left, right], 44100, 'float32'));
    const s = await model.predict({ text: t, audio: stereo });
    const m = await model.predict({ text: t, audio: { waveform: toMono([left, right]), sampleRate: 44100 } });
    expect(probs(s)).toEqual(probs(m));
  });

  it('featurize gives the log-mel predict() uses, and batching keeps each caller its own audio', async () => {
    const samples = [{ text: text(), audio: path }, { text: text() }, { audio: { waveform: tone(8000, 16000), sampleRate: 16000 } }];
    const feats = await featurize(model, samples);
    expect((feats[0]!.audio as { features: Float32Array }).features).toEqual(await audioFeatures(path));
    expect(feats[1]!.audio).toBeUndefined();
    const direct = await model.predict(samples);
    expectClose(probs(await model.predict(feats)), probs(direct), { atol: 1e-6, rtol: 1e-6 });
    await model.setBatching({ maxBatchSize: 8, maxDelayMs: 20 });
    try {
      const each = await Promise.all(samples.map((s) => model.predict(s)));
      expectClose(probs(each), probs(direct), { atol: 1e-6, rtol: 1e-6 });
    } finally {
      await model.setBatching(null);
    }
  });

  it('a truncated or foreign file is an error naming the sample and the file', async () => {
    const bad = join(dir, 'bad.wav');
    writeFileSync(bad, writeWav([wave], 16000).subarray(0, 30));
    await expect(model.predict({ audio: bad })).rejects.toThrow(new RegExp(`predict: sample 0 audio: ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    const txt = join(dir, 'notes.wav');
    writeFileSync(txt, 'hello, this is not a WAV file at all');
    await expect(model.predict({ audio: txt })).rejects.toThrow(/notes\.wav: .*RIFF/);
    await expect(model.predict({ audio: join(dir, 'missing.wav') })).rejects.toThrow(/missing\.wav/);
    // more frames than the model's maxLength (200 = 2 s)
    await expect(model.predict({ audio: { waveform: tone(48000, 16000), sampleRate: 16000 } })).rejects.toThrow(/exceed the model's maxLength 200/);
  });
});
