// test/cli/extract.test.ts — raw utterances end to end through the real bin script: a manifest
// (transcripts, PNG frames, WAV files; some utterances lack a modality) → `merclip extract` with a
// tiny random CLIP in the Hugging Face layout → `merclip train --clip` on the extracted file →
// `merclip eval` → `merclip predict --manifest` on the raw inputs, which must give the numbers
// `merclip predict --data` gives on the extracted features. The extracted features are checked
// against the float64 CLIP text tower (test/helpers/clipRef.ts) and the float64 log-mel
// (test/helpers/logmelRef.ts), and against featurize() of the same raw samples (the on-the-fly
// path). Also: the provenance guards (no --clip, other CLIP weights) and manifest errors.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeWav } from '../../lib/audio/index.js';
import { packageRoot } from '../../lib/backend/index.js';
import type { Clip } from '../../lib/clip/model.js';
import { defaultTokenizer } from '../../lib/clip/assets.js';
import { readDataset } from '../../lib/data/file.js';
import { readManifest } from '../../lib/data/manifest.js';
import { extractConfig, extractProvenance, sampleOf } from '../../lib/model/extract.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import { featurize } from '../../lib/model/raw.js';
import { Rng } from '../../lib/tensor/index.js';
import { textTowerRef } from '../helpers/clipRef.js';
import { expectClose } from '../helpers/compare.js';
import { refLogMel } from '../helpers/logmelRef.js';
import { TEXT_REF, weights64, writeTinyClip } from '../helpers/tinyClip.js';

const bin = join(packageRoot(), 'bin', 'merclip.js');
const dir = mkdtempSync(join(tmpdir(), 'merclip-extract-'));
const manifest = join(dir, 'utterances.jsonl');
const data = join(dir, 'data.safetensors');
let clipDir = '';
let otherClipDir = '';
let clip: Clip;
afterAll(() => [dir, clipDir, otherClipDir].forEach((d) => d && rmSync(d, { recursive: true, force: true })));

const WORDS = ['great', 'awful', 'fine', 'movie', 'loved', 'boring', 'really', 'not', 'it', 'was', 'the', 'acting'];
const waves = new Map<string, Float32Array>();

beforeAll(async () => {
  ({ dir: clipDir, clip } = await writeTinyClip(5));
  ({ dir: otherClipDir } = await writeTinyClip(6));
  const rng = new Rng(3);
  mkdirSync(join(dir, 'frames'));
  mkdirSync(join(dir, 'wav'));
  const lines: string[] = [];
  const splits = [...Array(14).fill('train'), ...Array(6).fill('valid'), ...Array(6).fill('test')] as string[];
  for (let u = 0; u < splits.length; u++) {
    const id = `utt${u}`;
    const label = Math.round((rng.uniform() * 6 - 3) * 10) / 10;
    const text = Array.from({ length: rng.int(2, 9) }, () => WORDS[rng.int(0, WORDS.length - 1)]).join(' ');
    const entry: Record<string, unknown> = { id, split: splits[u], label, text };
    if (u % 5 !== 1) { // every fifth utterance has no frames
      const folder = join(dir, 'frames', id);
      mkdirSync(folder);
      for (let f = 0; f < rng.int(1, 3); f++) {
        const px = Buffer.from(Array.from({ length: 40 * 30 * 3 }, () => rng.int(0, 255)));
        await sharp(px, { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(join(folder, `frame${f + 1}.png`));
      }
      entry.frames = `frames/${id}`; // a folder, relative to the manifest
    }
    if (u % 7 !== 3) { // and every seventh no audio
      const n = 1600 + rng.int(0, 4000);
      const w = Float32Array.from({ length: n }, (_, i) => Math.round((0.4 * Math.sin(i * (0.05 + 0.01 * u)) + 0.05 * rng.normal()) * 32767) / 32768);
      waves.set(id, w);
      writeFileSync(join(dir, 'wav', `${id}.wav`), writeWav([w], 16000, 'pcm16'));
      entry.audio = `wav/${id}.wav`;
    }
    lines.push(JSON.stringify(entry));
  }
  writeFileSync(manifest, '# a test manifest\n' + lines.join('\n') + '\n');
});

const run = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir, timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('merclip extract → train → eval → predict on raw inputs', () => {
  it('extract writes the towers\' features, the log-mel and the provenance', async () => {
    const r = run(['extract', '--clip', clipDir, '--manifest', manifest, '--out', data, '--batch-size', '4']);
    expect(r.stderr).toMatch(/extract .*100%/); // the progress bar
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^extracted 26 utterances → .*data\.safetensors in [\d.]+ s\n/);
    expect(r.stdout).toMatch(/train +14 utterances {2}text \[\d+, 16\] \(14 with it\) {2}audio \[\d+, 80\] \(\d+ with it\) {2}vision \[3, 12\] \(\d+ with it\)/);
    expect(r.stdout).toContain(`train on it with: merclip train --data ${data} --clip ${clipDir}`);
    const { splits, metadata } = await readDataset(data);
    const p = extractProvenance(metadata, data)!;
    expect(p.manifest.utterances).toBe(26);
    expect(p.modalities).toMatchObject({ text: { source: 'clip', dim: 16 }, vision: { source: 'clip', dim: 12, clip: { embedding: 'projected' } }, audio: { source: 'logmel', dim: 80 } });
    const entries = readManifest(manifest);
    const train = splits.train!;
    expect(train.ids).toEqual(entries.filter((e) => e.split === 'train').map((e) => e.id));
    expect(Array.from(train.labels)).toEqual(entries.filter((e) => e.split === 'train').map((e) => Math.fround(e.label)));
    // text: the float64 CLIP text tower's final-LN hidden states of every token (SOT … EOT)
    const e0 = entries[0]!;
    const ids = defaultTokenizer().encode(e0.text!);
    expect(train.text.lengths[0]).toBe(ids.length);
    const ref = textTowerRef(ids, weights64(clip.namedParameters(), 'text_model.'), TEXT_REF);
    expectClose(train.text.features.subarray(0, ids.length * 16), Float32Array.from(ref), { atol: 1e-4, rtol: 1e-4 });
    // audio: the float64 log-mel of the WAV's samples; absent audio has length 0
    for (const [i, e] of entries.filter((x) => x.split === 'train').entries()) {
      const w = waves.get(e.id);
      const L = train.audio.length;
      if (!w) {
        expect(train.audio.lengths[i]).toBe(0);
        continue;
      }
      const lm = refLogMel(w);
      expect(train.audio.lengths[i]).toBe(lm.frames);
      expectClose(train.audio.features.subarray(i * L * 80, (i * L + lm.frames) * 80), Float32Array.from(lm.logmel), { atol: 2e-4, rtol: 1e-4 });
    }
    // everything equals the on-the-fly features of the same raw samples (featurize, predict's path)
    const model = await MerClip.fromClip(extractConfig(clip, 'projected', makeConfig('tiny')), clip);
    const test = entries.filter((e) => e.split === 'test');
    const feats = await featurize(model, test.map(sampleOf));
    test.forEach((_, i) => {
      for (const m of ['text', 'audio', 'vision'] as const) {
        const md = splits.test![m];
        const got = md.features.subarray(i * md.length * md.dim, (i * md.length + md.lengths[i]!) * md.dim);
        const want = (feats[i]![m] as { features: Float32Array } | undefined)?.features ?? new Float32Array(0);
        // equal up to fp32 summation order: a sample's GEMM rows may take another form (the dot
        // form for <= 8 rows) in a batch of another size
        expect(got.length).toBe(want.length);
        expectClose(got, want, { rtol: 1e-5, atol: 1e-6 });
      }
    });
  });

  it('train --clip on the extracted file, eval, and predict on the raw utterances = predict on the features', async () => {
    const runDir = join(dir, 'run');
    const t = run(['train', '--data', data, '--clip', clipDir, '--epochs', '2', '--out', runDir, '--quiet', '--json']);
    expect(t.status, t.stderr).toBe(0);
    const best = JSON.parse(t.stdout).runs[0].modelDir as string;
    const ev = run(['eval', '--model', best, '--data', data]);
    expect(ev.status, ev.stderr).toBe(0);
    expect(ev.stdout).toMatch(/test, 6 samples/);
    expect(ev.stdout).toMatch(/MAE/);
    const rawPred = run(['predict', '--model', best, '--manifest', manifest, '--json']);
    expect(rawPred.status, rawPred.stderr).toBe(0);
    const featPred = run(['predict', '--model', best, '--data', data, '--split', 'test', '--json']);
    expect(featPred.status, featPred.stderr).toBe(0);
    const raw = new Map((JSON.parse(rawPred.stdout) as Array<{ id: string; probs: number[]; score: number }>).map((p) => [p.id, p]));
    expect(raw.size).toBe(26);
    const feat = JSON.parse(featPred.stdout) as Array<{ id: string; probs: number[]; score: number }>;
    expect(feat).toHaveLength(6);
    for (const f of feat) {
      const r = raw.get(f.id)!;
      expectClose(Float32Array.from(r.probs), Float32Array.from(f.probs), { atol: 1e-6, rtol: 1e-6 });
      expect(Math.abs(r.score - f.score)).toBeLessThan(3e-6);
    }
  });

  it('train refuses an extracted file without --clip, or with other CLIP weights', () => {
    const none = run(['train', '--data', data, '--epochs', '1', '--out', join(dir, 'r2'), '--quiet']);
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/holds features merclip extract computed with the CLIP towers in .*: pass --clip DIR/);
    const other = run(['train', '--data', data, '--clip', otherClipDir, '--epochs', '1', '--out', join(dir, 'r3'), '--quiet']);
    expect(other.status).not.toBe(0);
    expect(other.stderr).toMatch(/was extracted with the CLIP weights in .* \(SHA-256 [0-9a-f]{12}…\), but .* holds others/);
    const inputs = run(['train', '--data', data, '--clip-inputs', 'text', '--epochs', '1', '--out', join(dir, 'r4'), '--quiet']);
    expect(inputs.status).toBe(1);
    expect(inputs.stderr).toBe('merclip: --clip-inputs needs --clip DIR.\n'); // printed, not swallowed as a commander usage error
  });
});

describe('manifest errors name the file and line', () => {
  const bad = (name: string, lines: string[]): string => {
    const f = join(dir, name);
    writeFileSync(f, lines.join('\n'));
    return f;
  };
  it.each([
    ['dup.jsonl', ['{"id":"a","split":"train","label":1,"text":"x"}', '{"id":"a","split":"test","label":0,"text":"y"}'], /dup\.jsonl:2: id "a" already used on line 1/],
    ['split.jsonl', ['{"id":"a","split":"dev","label":1,"text":"x"}'], /split\.jsonl:1: "split" must be one of train, valid, test, received "dev"/],
    ['label.jsonl', ['{"id":"a","split":"train","label":"high","text":"x"}'], /label\.jsonl:1: "label" must be a finite number/],
    ['json.jsonl', ['{"id":"a",'], /json\.jsonl:1: not valid JSON/],
    ['empty.jsonl', ['{"id":"a","split":"train","label":1}'], /empty\.jsonl:1: the utterance has none of text, frames, audio/],
    ['missing.jsonl', ['{"id":"a","split":"train","label":1,"audio":"nope.wav"}'], /missing\.jsonl:1: "audio": .*nope\.wav does not exist/],
    ['key.jsonl', ['{"id":"a","split":"train","label":1,"txt":"x"}'], /key\.jsonl:1: unknown key "txt"/],
  ])('%s', (name, lines, re) => {
    expect(() => readManifest(bad(name, lines))).toThrow(re);
  });
  it('a corrupt WAV fails extract with the file named, and writes nothing', () => {
    writeFileSync(join(dir, 'broken.wav'), 'RIFF....WAVEfmt ');
    const f = bad('broken.jsonl', ['{"id":"a","split":"train","label":1,"audio":"broken.wav"}']);
    const out = join(dir, 'never.safetensors');
    const r = run(['extract', '--clip', clipDir, '--manifest', f, '--out', out, '--quiet']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/broken\.wav/);
    expect(() => readManifest(f)).not.toThrow();
    expect(spawnSync('test', ['-e', out]).status).not.toBe(0);
  });
});
