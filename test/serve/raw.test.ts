// test/serve/raw.test.ts — raw inputs over HTTP (KServe v2 BYTES tensors): transcripts, encoded
// images and WAV bytes sent as JSON strings / {"b64": …} or with the binary data extension give
// exactly what predict() gives for the same raw sample in this process (a second copy of the
// saved model); vision_lengths; clear 400s for a source mismatch, a file-path-like string for
// bytes, bad base64, undecodable images, lengths on a one-element-per-sample input; the model
// metadata names the raw forms. Real HTTP on 127.0.0.1 (a random port).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeWav } from '../../lib/audio/index.js';
import { configFromClip } from '../../lib/model/clipWeights.js';
import { withLogMelAudio } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import type { Sample } from '../../lib/model/predict.js';
import { InferenceServer } from '../../lib/serve/server.js';
import { TINY_BASE, writeTinyClip } from '../helpers/tinyClip.js';
import { expectSamePrediction, type InferReply, postJson, predictionsOf, Rng } from './helpers.js';

let tmp = '';
let clipDir = '';
let reference: MerClip;
let server: InferenceServer;
let infer = '';
let base = '';

const rng = new Rng(21);
const rgb = (w: number, h: number): Buffer => Buffer.from(Uint8Array.from({ length: w * h * 3 }, () => rng.int(0, 255)));
const png = (w: number, h: number): Promise<Buffer> => sharp(rgb(w, h), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
const tone = (n: number, f: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / 16000));
const b64 = (b: Uint8Array): { b64: string } => ({ b64: Buffer.from(b).toString('base64') });
/** A BYTES tensor's binary form: per element a little-endian uint32 length, then the bytes. */
const framed = (els: Uint8Array[]): Buffer => Buffer.concat(els.flatMap((e) => {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(e.length);
  return [n, Buffer.from(e)];
}));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'merclip-serve-raw-'));
  let clip;
  ({ dir: clipDir, clip } = await writeTinyClip(4));
  const config = withLogMelAudio(configFromClip(clip, TINY_BASE, { text: true, vision: { maxLength: 3 } }), { maxLength: 120 });
  const built = await MerClip.fromClip(config, clipDir, { seed: 6 });
  const dir = join(tmp, 'raw-mer');
  await built.save(dir);
  await built.close();
  reference = await MerClip.load(dir);
  server = new InferenceServer(await MerClip.load(dir), { name: 'raw-mer', maxBatchSize: 4, maxDelayMs: 2, maxQueue: 16 });
  await server.warmUp();
  base = await server.listen({ host: '127.0.0.1', port: 0 });
  infer = `${base}/v2/models/raw-mer/infer`;
});

afterAll(async () => {
  await server?.stop();
  await reference?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  if (clipDir) rmSync(clipDir, { recursive: true, force: true });
});

describe('merclip serve: raw inputs', () => {
  it('transcripts, images and WAV bytes in JSON give predict()\'s results for the same raw samples', async () => {
    const frames = [await png(40, 30), await png(33, 35), await png(20, 20)];
    const wav0 = writeWav([tone(8000, 440)], 16000, 'pcm16');
    const body = {
      inputs: [
        { name: 'text', datatype: 'BYTES', shape: [2], data: ['a happy day', 'so very sad'] },
        { name: 'vision', datatype: 'BYTES', shape: [2, 2], data: [[b64(frames[0]!), b64(frames[1]!)], [b64(frames[2]!), b64(frames[2]!)]] },
        { name: 'vision_lengths', datatype: 'INT32', shape: [2], data: [2, 1] },
        { name: 'audio', datatype: 'BYTES', shape: [2], data: [b64(wav0), { b64: '' }] },
      ],
    };
    const r = await postJson(infer, body);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const got = predictionsOf(r.json);
    const want: Sample[] = [
      { text: 'a happy day', vision: { frames: [frames[0]!, frames[1]!] }, audio: wav0 },
      { text: 'so very sad', vision: { frames: [frames[2]!] } },
    ];
    for (const [b, s] of want.entries()) expectSamePrediction(got[b]!, await reference.predict(s));
  });

  it('the binary data extension carries BYTES tensors (uint32 length + bytes per element)', async () => {
    const frame = await png(28, 28);
    const wav = writeWav([tone(6000, 300)], 16000, 'pcm16');
    const texts = [Buffer.from('calm and quiet'), Buffer.from('')]; // an empty transcript: text absent
    const parts = [framed(texts), framed([frame, frame]), framed([wav, wav])];
    const header = JSON.stringify({ inputs: [
      { name: 'text', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: parts[0]!.length } },
      { name: 'vision', datatype: 'BYTES', shape: [2, 1], parameters: { binary_data_size: parts[1]!.length } },
      { name: 'audio', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: parts[2]!.length } },
    ] });
    const res = await fetch(infer, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) },
      body: Buffer.concat([Buffer.from(header), ...parts]),
    });
    expect(res.status).toBe(200);
    const got = predictionsOf((await res.json()) as InferReply);
    expectSamePrediction(got[0]!, await reference.predict({ text: 'calm and quiet', vision: { frames: [frame] }, audio: wav }));
    expectSamePrediction(got[1]!, await reference.predict({ vision: { frames: [frame] }, audio: wav }));

    const short = await fetch(infer, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) },
      body: Buffer.concat([Buffer.from(header), parts[0]!.subarray(0, parts[0]!.length - 3)]),
    });
    expect(short.status).toBe(400);
    expect(((await short.json()) as { error: string }).error).toMatch(/input text: needs \d+ bytes of binary data but only \d+ remain/);
  });

  it('bad raw inputs are 400s that name the input', async () => {
    const frame = b64(await png(16, 16));
    const cases: Array<[string, unknown, RegExp]> = [
      ['a string where bytes are needed (never a file path)', { inputs: [{ name: 'vision', datatype: 'BYTES', shape: [1, 1], data: ['/etc/passwd'] }] }, /input vision: element 0 is a string; send bytes as \{"b64": "<base64>"\}/],
      ['bad base64', { inputs: [{ name: 'audio', datatype: 'BYTES', shape: [1], data: [{ b64: 'not base64!' }] }] }, /input audio: element 0: b64 is not valid base64/],
      ['undecodable image', { inputs: [{ name: 'vision', datatype: 'BYTES', shape: [1, 1], data: [b64(Buffer.from('not an image'))] }] }, /sample 0 vision frame 0/],
      ['undecodable WAV', { inputs: [{ name: 'audio', datatype: 'BYTES', shape: [1], data: [b64(Buffer.from('RIFF....WAVEjunk'))] }] }, /sample 0 audio/],
      ['lengths on transcripts', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['hi'] }, { name: 'text_lengths', datatype: 'INT32', shape: [1], data: [1] }] }, /input text_lengths: text is BYTES here \(one element per sample; an empty one is absent\), so it takes no lengths/],
      ['too many frames', { inputs: [{ name: 'vision', datatype: 'BYTES', shape: [1, 4], data: [frame, frame, frame, frame] }] }, /input vision: 4 frames per sample exceed the model's maxLength 3/],
      ['frames beyond vision_lengths bound', { inputs: [{ name: 'vision', datatype: 'BYTES', shape: [1, 1], data: [frame] }, { name: 'vision_lengths', datatype: 'INT32', shape: [1], data: [2] }] }, /input vision_lengths: sample 0 has 2 frames but vision has only 1 per sample/],
      ['an empty frame', { inputs: [{ name: 'vision', datatype: 'BYTES', shape: [1, 2], data: [frame, { b64: '' }] }] }, /input vision: sample 0 frame 1 is empty/],
      ['vision rank', { inputs: [{ name: 'vision', datatype: 'BYTES', shape: [1], data: [frame] }] }, /input vision: shape \[1\] has rank 1; expected rank 2/],
      ['every modality absent', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: [''] }] }, /sample 0 has none of the model's modalities/],
    ];
    for (const [name, body, message] of cases) {
      const r = await postJson(infer, body);
      expect(r.status, name).toBe(400);
      expect(r.json.error, name).toMatch(message);
    }
    // The server keeps serving.
    const ok = await postJson(infer, { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['fine'] }] });
    expect(ok.status).toBe(200);
  });

  it('a features-only model refuses BYTES, naming the source; the metadata lists the raw forms', async () => {
    const meta = (await (await fetch(`${base}/v2/models/raw-mer`)).json()) as { parameters: { raw_inputs: Record<string, string> } };
    expect(Object.keys(meta.parameters.raw_inputs).sort()).toEqual(['audio', 'text', 'vision']);
    const plain = new InferenceServer(new MerClip(TINY_BASE, undefined, { seed: 2 }), { name: 'plain', maxBatchSize: 2, maxDelayMs: 1 });
    await plain.warmUp();
    const url = await plain.listen({ host: '127.0.0.1', port: 0 });
    try {
      const r = await postJson(`${url}/v2/models/plain/infer`, { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['hello'] }] });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatch(/input text: BYTES \(transcripts\) needs modalities\.text\.source "clip"; this model's text source is "features" \(send FP32 features of dim 12\)/);
      const a = await postJson(`${url}/v2/models/plain/infer`, { inputs: [{ name: 'audio', datatype: 'FP64', shape: [1, 5], data: [1, 2, 3, 4, 5] }] });
      expect(a.json.error).toMatch(/input audio: datatype must be FP32, received "FP64"/);
      const meta2 = (await (await fetch(`${url}/v2/models/plain`)).json()) as { parameters: Record<string, unknown> };
      expect(meta2.parameters.raw_inputs).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });
});
