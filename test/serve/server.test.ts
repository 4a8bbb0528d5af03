// test/serve/server.test.ts — the KServe v2 server through real HTTP on 127.0.0.1 (a free port):
// every endpoint, predictions equal to single predict() calls of an independently loaded copy of
// the model, malformed and oversize bodies, the binary tensor extension, coalescing of concurrent
// requests (seen in the batch-size metric), overload (503), and a client that disconnects.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MerClip } from '../../lib/model/merclip.js';
import type { Prediction, PredictOptions, Sample } from '../../lib/model/predict.js';
import { InferenceServer } from '../../lib/serve/server.js';
import { batchOf, DIMS, expectSamePrediction, type InferReply, MAX, metric, postJson, predictionsOf, Rng, saveTinyModel, waitFor } from './helpers.js';

let dir: string;
let reference: MerClip;
let server: InferenceServer;
let base: string;
let infer: string;
const BODY_LIMIT = 200_000;

beforeAll(async () => {
  dir = await saveTinyModel('tiny-mer');
  reference = await MerClip.load(dir);
  server = new InferenceServer(await MerClip.load(dir), { name: 'tiny-mer', maxBatchSize: 8, maxDelayMs: 5, maxQueue: 64, bodyLimit: BODY_LIMIT });
  expect(server.isReady).toBe(false);
  await server.warmUp();
  base = await server.listen({ host: '127.0.0.1', port: 0 });
  infer = `${base}/v2/models/tiny-mer/infer`;
});

afterAll(async () => {
  await server?.stop();
  await reference?.close();
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

const getJson = async (path: string): Promise<{ status: number; json: Record<string, unknown> }> => {
  const res = await fetch(base + path);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

/**
 * POSTs a JSON body and reads a binary-extension response independently of the server's code:
 * the JSON header (Inference-Header-Content-Length bytes), then each output's binary_data_size
 * bytes in output order, decoded (FP32 little-endian; BYTES as uint32 length + UTF-8 per element).
 * `values[i]` is output i's decoded data, or its JSON data.
 */
async function postBinaryOut(body: unknown): Promise<{ header: InferReply; values: Array<Array<number | string>> }> {
  const res = await fetch(infer, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/octet-stream');
  const bytes = Buffer.from(await res.arrayBuffer());
  const n = Number(res.headers.get('inference-header-content-length'));
  expect(Number.isInteger(n) && n > 0 && n < bytes.length).toBe(true);
  const header = JSON.parse(bytes.subarray(0, n).toString('utf8')) as InferReply;
  let off = n;
  const values = header.outputs.map((o) => {
    const size = o.parameters?.binary_data_size as number | undefined;
    if (size === undefined) return o.data;
    const blob = bytes.subarray(off, off + size);
    off += size;
    if (o.datatype === 'FP32') return Array.from({ length: size / 4 }, (_, i) => blob.readFloatLE(4 * i));
    const out: string[] = [];
    for (let p = 0; p < blob.length;) {
      const len = blob.readUInt32LE(p);
      out.push(blob.subarray(p + 4, p + 4 + len).toString('utf8'));
      p += 4 + len;
    }
    return out;
  });
  expect(off).toBe(bytes.length); // nothing left over
  return { header, values };
}

async function singles(samples: Sample[], opts: PredictOptions = {}): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for (const s of samples) out.push(await reference.predict(s, opts));
  return out;
}

describe('merclip serve: endpoints', () => {
  it('health, server and model metadata, 404s', async () => {
    expect(await getJson('/v2/health/live')).toEqual({ status: 200, json: { live: true } });
    expect(await getJson('/v2/health/ready')).toEqual({ status: 200, json: { ready: true } });
    expect(await getJson('/v2/models/tiny-mer/ready')).toEqual({ status: 200, json: { name: 'tiny-mer', ready: true } });
    expect((await getJson('/v2')).json).toMatchObject({ name: 'merclip', extensions: ['binary_tensor_data'] });
    const meta = await getJson('/v2/models/tiny-mer');
    expect(meta.status).toBe(200);
    expect(meta.json).toMatchObject({ name: 'tiny-mer', platform: 'merclip', parameters: { labels: reference.config.labels, values: reference.config.labelValues, max_lengths: MAX, max_batch_size: 8 } });
    expect(meta.json.inputs).toEqual([
      { name: 'text', datatype: 'FP32', shape: [-1, -1, DIMS.text] }, { name: 'text_lengths', datatype: 'INT32', shape: [-1] },
      { name: 'audio', datatype: 'FP32', shape: [-1, -1, DIMS.audio] }, { name: 'audio_lengths', datatype: 'INT32', shape: [-1] },
      { name: 'vision', datatype: 'FP32', shape: [-1, -1, DIMS.vision] }, { name: 'vision_lengths', datatype: 'INT32', shape: [-1] },
    ]);
    expect(meta.json.outputs).toEqual([
      { name: 'probs', datatype: 'FP32', shape: [-1, 7] }, { name: 'score', datatype: 'FP32', shape: [-1] }, { name: 'label', datatype: 'BYTES', shape: [-1] },
    ]);
    const unknown = await getJson('/v2/models/other');
    expect(unknown).toEqual({ status: 404, json: { error: 'unknown model "other"; this server serves "tiny-mer"' } });
    const r = await postJson(`${base}/v2/models/other/infer`, batchOf(new Rng(1), 1).body);
    expect(r.status).toBe(404);
    expect((await getJson('/v3/nothing')).status).toBe(404);
  });

  it('infer: a batch with lengths and an absent modality equals single predict() calls', async () => {
    const { samples, body } = batchOf(new Rng(2), 3);
    const r = await postJson(infer, { id: 'req-1', ...body });
    expect(r.status).toBe(200);
    expect(r.json.model_name).toBe('tiny-mer');
    expect(r.json.id).toBe('req-1');
    expect(r.json.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([['probs', 'FP32', [3, 7]], ['score', 'FP32', [3]], ['label', 'BYTES', [3]]]);
    expect(r.json.outputs[0]!.parameters).toEqual({ labels: reference.config.labels });
    const want = await singles(samples);
    predictionsOf(r.json).forEach((p, i) => expectSamePrediction(p, want[i]!));
  });

  it('infer: [L, D] shapes, nested data, chosen outputs, another label set', async () => {
    const rng = new Rng(3);
    const text = rng.fillNormal(new Float32Array(4 * DIMS.text));
    const nested = Array.from({ length: 4 }, (_, r) => Array.from(text.subarray(r * DIMS.text, (r + 1) * DIMS.text)));
    const [want] = await singles([{ text }]);
    const r = await postJson(infer, { inputs: [{ name: 'text', datatype: 'FP32', shape: [4, DIMS.text], data: nested }], outputs: [{ name: 'label' }, { name: 'score' }] });
    expect(r.status).toBe(200);
    expect(r.json.outputs.map((o) => o.name)).toEqual(['label', 'score']);
    expect(r.json.outputs[0]!.data).toEqual([want!.label]);
    expect(Math.abs((r.json.outputs[1]!.data[0] as number) - want!.score!)).toBeLessThanOrEqual(3e-6);

    const labels = ['negative', 'neutral', 'positive'];
    const [custom] = await singles([{ text }], { labels, values: [-1, 0, 1] });
    const c = await postJson(infer, { inputs: [{ name: 'text', datatype: 'FP32', shape: [4, DIMS.text], data: Array.from(text) }], parameters: { labels, values: '-1, 0, 1' } });
    expect(c.status).toBe(200);
    expect(c.json.outputs[0]!.shape).toEqual([1, 3]);
    expect(c.json.outputs[0]!.parameters).toEqual({ labels });
    expectSamePrediction(predictionsOf(c.json)[0]!, custom!);
    const noValues = await postJson(infer, { inputs: [{ name: 'text', datatype: 'FP32', shape: [4, DIMS.text], data: Array.from(text) }], parameters: { labels: 'happy,sad' } });
    expect(noValues.json.outputs.map((o) => o.name)).toEqual(['probs', 'label']); // no values: no score
  });

  it('the binary tensor extension gives the JSON results', async () => {
    const { samples } = batchOf(new Rng(4), 1);
    const s = samples[0]! as { text: { features: Float32Array; length: number }; vision: { features: Float32Array; length: number } };
    const header = JSON.stringify({ inputs: [
      { name: 'text', datatype: 'FP32', shape: [1, 7, DIMS.text], parameters: { binary_data_size: s.text.features.byteLength } },
      { name: 'text_lengths', datatype: 'INT32', shape: [1], parameters: { binary_data_size: 4 } },
      { name: 'vision', datatype: 'FP32', shape: [1, 9, DIMS.vision], data: Array.from(s.vision.features) },
    ] });
    const body = Buffer.concat([Buffer.from(header), Buffer.from(s.text.features.buffer), Buffer.from(Int32Array.of(s.text.length).buffer)]);
    const res = await fetch(infer, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) }, body });
    expect(res.status).toBe(200);
    const [want] = await singles([{ text: s.text, vision: { features: s.vision.features, length: 9 } }]);
    expectSamePrediction(predictionsOf((await res.json()) as InferReply)[0]!, want!);
    const short = await fetch(infer, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) }, body: body.subarray(0, body.length - 2) });
    expect(short.status).toBe(400);
    expect(((await short.json()) as { error: string }).error).toMatch(/input text_lengths: needs 4 bytes of binary data but only 2 remain/);
  });

  it('binary outputs: the header and the bytes after it carry the JSON response\'s values', async () => {
    const { body } = batchOf(new Rng(6), 3);
    const asJson = await postJson(infer, body);
    expect(asJson.status).toBe(200);
    const want = asJson.json as unknown as InferReply;

    // Every output binary: FP32 little-endian, BYTES as uint32 length + UTF-8, in output order.
    const all = await postBinaryOut({ ...body, parameters: { binary_data_output: true } });
    expect(all.header.outputs.map((o) => o.name)).toEqual(want.outputs.map((o) => o.name));
    for (const o of all.header.outputs) expect(o.data).toBeUndefined();
    expect(all.header.outputs[0]!.parameters).toEqual({ labels: want.outputs[0]!.parameters!.labels, binary_data_size: 3 * 7 * 4 });
    expect(all.values).toEqual(want.outputs.map((o) => o.data));

    // Per output: probs binary, label JSON, score left out.
    const some = await postBinaryOut({ ...body, outputs: [{ name: 'label' }, { name: 'probs', parameters: { binary_data: true } }] });
    expect(some.header.outputs.map((o) => [o.name, o.data === undefined])).toEqual([['label', false], ['probs', true]]);
    expect(some.header.outputs[0]!.data).toEqual(want.outputs.find((o) => o.name === 'label')!.data);
    expect(some.values[1]).toEqual(want.outputs[0]!.data);

    // binary_data: false overrides binary_data_output for that output.
    const mixed = await postBinaryOut({ ...body, parameters: { binary_data_output: true }, outputs: [{ name: 'probs' }, { name: 'label', parameters: { binary_data: false } }] });
    expect(mixed.header.outputs.map((o) => o.data === undefined)).toEqual([true, false]);
    expect(mixed.values[0]).toEqual(want.outputs[0]!.data);

    // All outputs JSON: a plain JSON response, no header.
    const none = await fetch(infer, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, parameters: { binary_data_output: false } }) });
    expect(none.headers.get('inference-header-content-length')).toBeNull();
    expect(((await none.json()) as InferReply).outputs).toEqual(want.outputs);
  });

  it('/metrics: latency histogram, batch sizes, queue depth, Node defaults with event-loop lag', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(metric(text, 'merclip_request_duration_seconds_count', 'route="/v2/models/:name/infer",status_code="200"')).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'merclip_batch_size_count')).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/^merclip_queue_depth 0$/m);
    expect(text).toMatch(/^merclip_ready 1$/m);
    expect(text).toMatch(/^merclip_requests_in_flight 0$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \S+$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });
});

describe('merclip serve: malformed requests', () => {
  const t = (shape: number[], data: unknown, extra: Record<string, unknown> = {}) => ({ inputs: [{ name: 'text', datatype: 'FP32', shape, data, ...extra }] });
  const row = Array(DIMS.text).fill(0.5);
  const cases: Array<[string, unknown, RegExp]> = [
    ['wrong datatype', { inputs: [{ name: 'text', datatype: 'FP64', shape: [1, DIMS.text], data: row }] }, /input text: datatype must be FP32, received "FP64"/],
    ['shape × data mismatch', t([2, DIMS.text], row), /input text: shape \[2,12\] holds 24 elements but data has 12/],
    ['unknown input', { inputs: [{ name: 'image', datatype: 'FP32', shape: [1], data: [1] }] }, /inputs\[0\]: unknown input "image"; this model takes text, text_lengths, audio/],
    ['wrong feature dim', t([1, 13], Array(13).fill(0)), /input text: the last dimension is 13, the model's text features have 12/],
    ['rank', t([12], row), /input text: shape \[12\] has rank 1; expected rank 2 or rank 3/],
    ['non-number data', t([1, DIMS.text], [...row.slice(1), 'x']), /input text: element 11 is "x", expected a finite number/],
    ['no inputs', { inputs: [] }, /inputs must be a non-empty array/],
    ['no modality', { inputs: [{ name: 'text_lengths', datatype: 'INT32', shape: [1], data: [1] }] }, /no modality input: give at least one of text, audio, vision/],
    ['lengths without modality', { inputs: [...t([1, DIMS.text], row).inputs, { name: 'audio_lengths', datatype: 'INT32', shape: [1], data: [1] }] }, /input audio_lengths: given without the audio input/],
    ['length beyond L', { inputs: [...t([1, DIMS.text], row).inputs, { name: 'text_lengths', datatype: 'INT32', shape: [1], data: [2] }] }, /sample 0 has length 2 but text has only 1 steps/],
    ['lengths datatype', { inputs: [...t([1, DIMS.text], row).inputs, { name: 'text_lengths', datatype: 'FP32', shape: [1], data: [1] }] }, /input text_lengths: datatype must be INT32 or INT64/],
    ['batch mismatch', { inputs: [...t([2, 1, DIMS.text], [...row, ...row]).inputs, { name: 'audio', datatype: 'FP32', shape: [3, 1, DIMS.audio], data: Array(15).fill(0) }] }, /input audio: batch size 3 differs from input text's 2/],
    ['longer than maxLength', t([MAX.text + 1, DIMS.text], Array((MAX.text + 1) * DIMS.text).fill(0)), /21 steps exceed the model's maxLength 20/],
    ['all modalities absent', { inputs: [...t([1, DIMS.text], row).inputs, { name: 'text_lengths', datatype: 'INT32', shape: [1], data: [0] }] }, /sample 0 has none of the model's modalities/],
    ['unknown output', { ...t([1, DIMS.text], row), outputs: [{ name: 'logits' }] }, /outputs\[0\]: unknown output "logits"/],
    ['values without labels', { ...t([1, DIMS.text], row), parameters: { values: [1, 2] } }, /parameters.values was given without parameters.labels/],
    ['values count', { ...t([1, DIMS.text], row), parameters: { labels: ['a', 'b'], values: [1] } }, /parameters.values has 1 numbers for 2 labels/],
    ['binary_data_output not boolean', { ...t([1, DIMS.text], row), parameters: { binary_data_output: 1 } }, /parameters.binary_data_output must be true or false, received 1/],
    ['binary_data not boolean', { ...t([1, DIMS.text], row), outputs: [{ name: 'probs', parameters: { binary_data: 'yes' } }] }, /outputs\[0\] \(probs\): parameters.binary_data must be true or false, received "yes"/],
    ['output named twice', { ...t([1, DIMS.text], row), outputs: [{ name: 'probs' }, { name: 'probs' }] }, /outputs names an output twice/],
    ['not an object', [1, 2], /must be a JSON object with an "inputs" array/],
    ['invalid JSON', '{"inputs": [', /not valid JSON/],
  ];
  it.each(cases)('%s → 400 with a message', async (_name, body, message) => {
    const r = await postJson(infer, body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(message);
  });

  it('an unsupported content type is 415; a body over the limit is 413, and the server keeps serving', async () => {
    const form = await fetch(infer, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    expect(form.status).toBe(415);
    expect(((await form.json()) as { error: string }).error).toMatch(/send application\/json/);
    const big = { inputs: [{ name: 'text', datatype: 'FP32', shape: [1, 2000, DIMS.text], data: Array(2000 * DIMS.text).fill(0.123456789) }] };
    const r = await postJson(infer, big);
    expect(r.status).toBe(413);
    expect(r.json.error).toBe(`the request body is larger than the server's limit of ${BODY_LIMIT} bytes (merclip serve --body-limit)`);
    expect((await postJson(infer, batchOf(new Rng(6), 1).body)).status).toBe(200);
    const m = await (await fetch(`${base}/metrics`)).text();
    expect(metric(m, 'merclip_requests_rejected_total', 'reason="too_large"')).toBe(1);
  });
});

describe('merclip serve: batching', () => {
  it('concurrent requests are coalesced (batch-size metric) and each gets its own single-call results', async () => {
    const rng = new Rng(7);
    const reqs = Array.from({ length: 24 }, (_, i) => batchOf(rng, 1 + (i % 2), { text: 3 + (i % 5), audio: 11, vision: 4 + (i % 7) }));
    const want = await Promise.all(reqs.map((r) => singles(r.samples)));
    const before = await (await fetch(`${base}/metrics`)).text();
    const replies = await Promise.all(reqs.map((r) => postJson(infer, r.body)));
    const after = await (await fetch(`${base}/metrics`)).text();
    replies.forEach((r, i) => {
      expect(r.status).toBe(200);
      predictionsOf(r.json).forEach((p, j) => expectSamePrediction(p, want[i]![j]!));
    });
    const batches = metric(after, 'merclip_batch_size_count') - metric(before, 'merclip_batch_size_count');
    const samples = metric(after, 'merclip_batch_size_sum') - metric(before, 'merclip_batch_size_sum');
    expect(samples).toBe(36);
    expect(batches).toBeLessThan(24); // some batch held more than one request
    expect(metric(after, 'merclip_batch_requests_sum') - metric(before, 'merclip_batch_requests_sum')).toBe(24);
  });
});

describe('merclip serve: overload and disconnects', () => {
  let slow: InferenceServer;
  let slowInfer: string;
  let slowBase: string;
  beforeAll(async () => {
    // a long batching delay keeps requests waiting in the queue, so the queue can be filled
    slow = new InferenceServer(await MerClip.load(dir), { name: 'slow', maxBatchSize: 16, maxDelayMs: 1500, maxQueue: 4 });
    await slow.warmUp();
    slowBase = await slow.listen({ port: 0 });
    slowInfer = `${slowBase}/v2/models/slow/infer`;
  });
  afterAll(() => slow?.stop());
  const depth = async (): Promise<number> => metric(await (await fetch(`${slowBase}/metrics`)).text(), 'merclip_queue_depth');

  it('a full queue answers 503 with Retry-After at once; the queued requests still complete', async () => {
    const rng = new Rng(8);
    const queued = Array.from({ length: 4 }, () => batchOf(rng, 1));
    let answered = 0;
    const pending = queued.map((q) => postJson(slowInfer, q.body).then((r) => { answered++; return r; }));
    await waitFor(async () => (await depth()) === 4);
    const over = await postJson(slowInfer, batchOf(rng, 1).body);
    expect(answered).toBe(0); // refused at once, not held until the queued batch ran
    expect(over.status).toBe(503);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(over.json.error).toMatch(/queue full: 4 items are waiting and this call adds 1; the limit is 4/);
    const done = await Promise.all(pending);
    const want = await singles(queued.map((q) => q.samples[0]!));
    done.forEach((r, i) => {
      expect(r.status).toBe(200);
      expectSamePrediction(predictionsOf(r.json)[0]!, want[i]!);
    });
    const m = await (await fetch(`${slowBase}/metrics`)).text();
    expect(metric(m, 'merclip_requests_rejected_total', 'reason="queue_full"')).toBe(1);
    expect(metric(m, 'merclip_batch_size_bucket', 'le="4"')).toBe(1); // the four ran as one batch (+ warm-up is not counted)
  });

  it('a client that disconnects while queued is withdrawn before its batch', async () => {
    const rng = new Rng(9);
    const before = await (await fetch(`${slowBase}/metrics`)).text();
    const ctl = new AbortController();
    const gone = postJson(slowInfer, batchOf(rng, 1).body, { signal: ctl.signal });
    await waitFor(async () => (await depth()) === 1);
    ctl.abort();
    await expect(gone).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(async () => (await depth()) === 0);
    const stays = batchOf(rng, 1);
    expect((await postJson(slowInfer, stays.body)).status).toBe(200);
    const after = await (await fetch(`${slowBase}/metrics`)).text();
    expect(metric(after, 'merclip_requests_rejected_total', 'reason="aborted"')).toBe(1);
    expect(metric(after, 'merclip_batch_size_sum') - metric(before, 'merclip_batch_size_sum')).toBe(1); // only the one that stayed ran
  });
});
