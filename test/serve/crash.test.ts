// test/serve/crash.test.ts — the predict worker dies while a request's batch is in it: that
// request is answered 500 with the worker's error (not left hanging, not a 200 with made-up
// numbers), the failure is counted, and the next request runs on a fresh worker and is right.
// The crash is real: the worker thread is terminated as the server's batch is posted to it (its
// postMessage is wrapped to do so once), through real HTTP on 127.0.0.1.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MerClip } from '../../lib/model/merclip.js';
import { InferenceServer } from '../../lib/serve/server.js';
import { batchOf, expectSamePrediction, metric, postJson, predictionsOf, Rng, saveTinyModel } from './helpers.js';

let dir: string;
let reference: MerClip;
let server: InferenceServer;
let infer: string;

beforeAll(async () => {
  dir = await saveTinyModel('crash-mer');
  reference = await MerClip.load(dir);
  server = new InferenceServer(await MerClip.load(dir), { name: 'crash-mer', maxBatchSize: 8, maxDelayMs: 2, maxQueue: 64 });
  await server.warmUp(); // the worker exists from here on
  infer = `${await server.listen({ host: '127.0.0.1', port: 0 })}/v2/models/crash-mer/infer`;
});

afterAll(async () => {
  await server?.stop();
  await reference?.close();
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

describe('merclip serve: the predict worker crashes', () => {
  it('the request in flight gets 500 naming the crash; the next one runs on a fresh worker', async () => {
    const thread = server.model._predictThread()!;
    const worker = thread._currentWorker()!;
    expect(worker).not.toBeNull();
    const post = worker.postMessage.bind(worker);
    let posted = 0;
    worker.postMessage = ((...args: Parameters<typeof post>) => {
      // Termination asked for first, then the batch posted: the worker dies with the batch sent
      // to it and never answers it. (Terminating after the post raced the worker: a tiny batch on a
      // fast core was answered before the termination took effect.)
      if (posted++ === 0) void worker.terminate();
      post(...args);
    }) as typeof worker.postMessage;

    const rng = new Rng(21);
    const crashed = await postJson(infer, batchOf(rng, 2).body);
    expect(posted).toBe(1);
    expect(crashed.status).toBe(500);
    expect(crashed.json.error).toMatch(/^inference failed: predict worker exited unexpectedly \(code 1\) while 1 call was pending; the next call starts a new worker$/);

    const next = batchOf(rng, 3);
    const ok = await postJson(infer, next.body);
    expect(ok.status).toBe(200);
    expect(thread._currentWorker()).not.toBe(worker);
    const got = predictionsOf(ok.json);
    for (let i = 0; i < 3; i++) expectSamePrediction(got[i]!, await reference.predict(next.samples[i]!));
    const metrics = await (await fetch(infer.replace(/\/v2\/.*/, '/metrics'))).text();
    expect(metric(metrics, 'merclip_requests_rejected_total', 'reason="error"')).toBe(1);
    expect(metric(metrics, 'merclip_request_duration_seconds_count', 'method="POST",route="/v2/models/:name/infer",status_code="500"')).toBe(1);
  });
});
