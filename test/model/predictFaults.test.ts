// test/model/predictFaults.test.ts — predict() and the model lifecycle under faults: a sample with
// none of the model's modalities is refused (naming it), the worker dying mid-call (terminated,
// out of memory, failing to start) rejects every pending call with what happened and the next
// call starts a fresh worker, an exception inside the worker is one rejected call (the worker
// lives on), close() rejects pending calls and the model stays usable.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip, type ModelBatch } from '../../lib/model/merclip.js';
import { PredictWorkerError as ExportedPredictWorkerError } from '../../lib/index.js';
import { packSamples, type Sample } from '../../lib/model/batch.js';
import { PredictorThread, PredictWorkerError } from '../../lib/model/predictorThread.js';
import { noGrad, Rng, tidy } from '../../lib/tensor/index.js';
import { packSequences } from '../../lib/tensor/packed.js';

const base = {
  width: 16,
  heads: 1,
  modalities: { text: { dim: 12, maxLength: 20 }, audio: { dim: 5, maxLength: 30 }, vision: { dim: 6, maxLength: 40 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
};
const config = makeConfig('tiny', base);

function sample(rng: Rng): Sample {
  const mod = (L: number, D: number): { features: Float32Array; length: number } => ({ features: rng.fillNormal(new Float32Array(L * D)), length: rng.int(1, L) });
  return { text: mod(20, 12), audio: mod(30, 5), vision: mod(40, 6) };
}

/** A request as MerClip.predict() builds it, for driving a PredictorThread directly. */
function request(model: MerClip, batches: ModelBatch[]): Parameters<PredictorThread['run']>[0] {
  const labels = [...model.config.labels];
  const { ids, length } = model.labels.tokenize(labels);
  return { batches, labels, values: [...model.config.labelValues], tokens: { ids, count: labels.length, length, key: model.labels.cacheKey(labels) } };
}

describe('predict: a sample with none of the model\'s modalities', () => {
  const model = new MerClip(config, undefined, { seed: 2 });
  const ok = sample(new Rng(1));

  it('is a RangeError naming the sample (its index in the call), for every way of being absent', async () => {
    const none: Sample[] = [
      {},
      { text: null, audio: undefined, vision: null },
      { text: { features: new Float32Array(24), length: 0 }, audio: new Float32Array(0) },
      { vision: { features: [], length: 0 } },
    ];
    try {
      for (const bad of none) {
        // index 3, in the second batch of a call with batchSize 2
        const call = model.predict([ok, ok, ok, bad, ok], { batchSize: 2 });
        await expect(call).rejects.toThrow(RangeError);
        await expect(call).rejects.toThrow(/^predict: sample 3 has none of the model's modalities \(text, audio, vision\); give at least one/);
        await expect(model.predict(bad)).rejects.toThrow(/^predict: sample 0 has none of the model's modalities/);
      }
      // nothing was sent to a worker for the refused calls
      expect(model._predictThread()?._currentWorker() ?? null).toBeNull();
    } finally {
      await model.close();
    }
  });

  it('counts only the modalities the model uses (modalityOrder)', async () => {
    const tv = new MerClip(makeConfig('tiny', { ...base, modalityOrder: ['text', 'vision'] }), undefined, { seed: 2 });
    try {
      await expect(tv.predict([ok, { audio: new Float32Array(2 * 5) }])).rejects.toThrow(/^predict: sample 1 has none of the model's modalities \(text, vision\)/);
      const [p] = await tv.predict([{ audio: new Float32Array(2 * 5), vision: new Float32Array(3 * 6).fill(0.5) }]);
      expect(p!.probs).toHaveLength(7);
    } finally {
      await tv.close();
    }
  });

  it('a sample missing some modalities still works, and equals the forward pass', async () => {
    const rng = new Rng(3);
    const partial: Sample[] = [
      { text: sample(rng).text },
      { audio: sample(rng).audio, vision: null },
      { vision: sample(rng).vision, text: { features: new Float32Array(12), length: 0 } },
    ];
    try {
      const preds = await model.predict(partial);
      const [batch] = packSamples(partial, config, partial.length);
      const ref = noGrad(() => tidy(() => model.forward(batch!).score.toArray()));
      expect(preds.map((p) => p.score)).toEqual(ref);
    } finally {
      await model.close();
    }
  });

  it('the model\'s own forward pass (training, evaluation) still accepts a batch row with no modality', () => {
    // A dataset row with every length 0 is the trainer's business (the label queries alone), not a
    // predict() input: forward() keeps accepting it, and that row does not disturb the others.
    const rng = new Rng(4);
    const samples = [sample(rng), sample(rng)];
    const [batch] = packSamples(samples, config, 2);
    const emptied: ModelBatch = { ...batch!, count: 2 };
    for (const m of ['text', 'audio', 'vision'] as const) {
      const x = batch![m]!;
      // sample 1 keeps no rows (length 0), sample 0 its own
      emptied[m] = packSequences(x.dim, [x.rows.subarray(0, x.offsets[1]! * x.dim), null]);
    }
    const [alone] = packSamples([samples[0]!], config, 1);
    noGrad(() => tidy(() => {
      const out = model.forward(emptied).score.toArray();
      expect(out.every(Number.isFinite)).toBe(true);
      expect(out[0]).toBeCloseTo(model.forward(alone!).score.toArray()[0]!, 6);
    }));
  });
});

describe('predict: the worker dying', () => {
  const rng = new Rng(7);
  const samples = Array.from({ length: 256 }, () => sample(rng));

  it('dying with calls pending (process.exit(1) in the worker): every pending call rejects with what happened; the next call starts a new worker and is right', async () => {
    const model = new MerClip(config, undefined, { seed: 5 });
    const fresh = new MerClip(config, undefined, { seed: 5 });
    try {
      await model.predict(samples[0]!); // the worker is up
      const thread = model._predictThread()!;
      const first = thread._currentWorker();
      expect(first).not.toBeNull();
      // the worker ends itself (process.exit(1)) after the call before it: three calls are pending
      const before = model.predict(samples.slice(0, 64));
      thread._injectFault('exit');
      const calls = [model.predict(samples), model.predict(samples.slice(0, 3)), model.predict(samples[1]!)];
      const settled = Promise.allSettled(calls);
      expect((await before).length).toBe(64);
      for (const r of await settled) {
        expect(r.status).toBe('rejected');
        const err = (r as PromiseRejectedResult).reason as PredictWorkerError;
        expect(err).toBeInstanceOf(PredictWorkerError);
        expect(err.code).toBe('ERR_PREDICT_WORKER_EXIT');
        expect(err.message).toBe('predict worker exited unexpectedly (code 1) while 3 calls were pending; the next call starts a new worker');
        expect(err.stack).toContain('predictFaults.test.ts'); // the caller's stack
      }
      expect(thread._currentWorker()).toBeNull();
      const again = await model.predict(samples.slice(0, 40));
      expect(thread._currentWorker()).not.toBe(first);
      expect(again).toEqual(await fresh.predict(samples.slice(0, 40)));
    } finally {
      await model.close();
      await fresh.close();
    }
  });

  it('an uncaught exception in the worker: pending calls reject with its message; the next call works', async () => {
    const model = new MerClip(config, undefined, { seed: 5 });
    const fresh = new MerClip(config, undefined, { seed: 5 });
    try {
      await model.predict(samples[0]!);
      const thread = model._predictThread()!;
      thread._injectFault('throw');
      const settled = await Promise.allSettled([model.predict(samples.slice(0, 5)), model.predict(samples[2]!)]);
      for (const r of settled) {
        const err = (r as PromiseRejectedResult).reason as PredictWorkerError;
        expect(err.message).toBe('predict worker failed: predict worker: injected fault (an uncaught exception) while 2 calls were pending; the next call starts a new worker');
        expect(err.code).toBe('ERR_PREDICT_WORKER_FAILED');
        expect((err.cause as Error).message).toBe('predict worker: injected fault (an uncaught exception)');
      }
      expect(await model.predict(samples.slice(3, 9))).toEqual(await fresh.predict(samples.slice(3, 9)));
    } finally {
      await model.close();
      await fresh.close();
    }
  });

  it('terminated from outside in the middle of its kernels, 40 times: each time the pending calls reject with the exit, the process survives, the next call is right', () => {
    // in a child process: before the addon was built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS a
    // termination inside a native call aborted the whole process (std::terminate)
    const script = join(packageRoot(), 'test', 'helpers', 'terminateLoop.mjs');
    const r = spawnSync(process.execPath, [script, packageRoot(), '40'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rejected: number; messages: string[] };
    expect(out.rejected).toBeGreaterThanOrEqual(40); // the big call at least, every time
    for (const m of out.messages) expect(m).toMatch(/^ERR_PREDICT_WORKER_EXIT: predict worker exited unexpectedly \(code 1\) while [12] calls? (was|were) pending; the next call starts a new worker$/);
  }, 150_000);

  it('terminated while idle: the next call starts a new worker', async () => {
    const model = new MerClip(config, undefined, { seed: 5 });
    const fresh = new MerClip(config, undefined, { seed: 5 });
    try {
      await model.predict(samples[0]!);
      const worker = model._predictThread()!._currentWorker()!;
      await worker.terminate();
      expect(model._predictThread()!._currentWorker()).toBeNull();
      expect(await model.predict(samples.slice(0, 7))).toEqual(await fresh.predict(samples.slice(0, 7)));
      expect(model._predictThread()!._currentWorker()).not.toBe(worker);
    } finally {
      await model.close();
      await fresh.close();
    }
  });

  it('out of memory (a real heap limit): pending calls reject saying so; each later call tries a new worker', async () => {
    const model = new MerClip(config, undefined, { seed: 5 });
    // 1 MB of old generation cannot even hold the worker's start-up: a genuine V8 heap OOM.
    const thread = new PredictorThread(model, { resourceLimits: { maxOldGenerationSizeMb: 1, maxYoungGenerationSizeMb: 1 } });
    try {
      const batches = () => packSamples(samples.slice(0, 2), config);
      const calls = [thread.run(request(model, batches())), thread.run(request(model, batches()))];
      for (const call of calls) {
        await expect(call).rejects.toThrow(/^predict worker ran out of memory \(ERR_WORKER_OUT_OF_MEMORY: .*out of memory\) while 2 calls were pending; the next call starts a new worker$/);
        await expect(call).rejects.toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY', name: 'PredictWorkerError' });
      }
      expect(thread._currentWorker()).toBeNull();
      const next = thread.run(request(model, batches()));
      expect(thread._currentWorker()).not.toBeNull(); // a new worker was started for it
      await expect(next).rejects.toThrow(/out of memory\) while 1 call was pending/);
    } finally {
      await thread.terminate();
    }
  });

  it('a worker that fails to start rejects the pending calls with its error', async () => {
    // weights that do not fit the config: the worker's bindParameters throws while it starts
    const model = new MerClip(config, undefined, { seed: 5 });
    const broken = { config, sharedWeights: () => new Map<string, Float32Array>() } as unknown as MerClip;
    const thread = new PredictorThread(broken);
    try {
      const call = thread.run(request(model, packSamples([samples[0]!], config)));
      await expect(call).rejects.toThrow(/^predict worker failed: bindParameters: no array of \d+ floats for "[^"]+" while 1 call was pending; the next call starts a new worker$/);
      await expect(call).rejects.toMatchObject({ code: 'ERR_PREDICT_WORKER_FAILED' });
    } finally {
      await thread.terminate();
    }
  });

  it('an exception while handling a message is that call\'s rejection; the worker lives on', async () => {
    const model = new MerClip(config, undefined, { seed: 5 });
    const thread = new PredictorThread(model);
    try {
      const good = packSamples(samples.slice(0, 2), config);
      const wrongDim: ModelBatch[] = [{ count: 1, text: { rows: new Float32Array(5), dim: 5, lengths: Int32Array.of(1), offsets: Int32Array.of(0, 1), maxLength: 1 } }];
      const [a, b, c] = await Promise.allSettled([thread.run(request(model, good)), thread.run(request(model, wrongDim)), thread.run(request(model, packSamples(samples.slice(0, 2), config)))]);
      expect(a!.status).toBe('fulfilled');
      expect(c!.status).toBe('fulfilled');
      expect((c as PromiseFulfilledResult<{ probs: Float32Array }>).value.probs).toEqual((a as PromiseFulfilledResult<{ probs: Float32Array }>).value.probs);
      expect(b!.status).toBe('rejected');
      const err = (b as PromiseRejectedResult).reason as Error;
      expect(err).toBeInstanceOf(RangeError);
      expect(err.message).toBe('MerClip: text features have dim 5, the model expects 12');
      const worker = thread._currentWorker();
      // a request the worker cannot read (no labels): a TypeError inside the worker
      await expect(thread.run({ ...request(model, packSamples(samples.slice(0, 2), config)), labels: null as unknown as string[] })).rejects.toThrow(TypeError);
      expect(thread._currentWorker()).toBe(worker);
      expect((await thread.run(request(model, packSamples(samples.slice(0, 2), config)))).probs).toEqual((a as PromiseFulfilledResult<{ probs: Float32Array }>).value.probs);
    } finally {
      await thread.terminate();
    }
  });
});

describe('close()', () => {
  const rng = new Rng(8);
  const samples = Array.from({ length: 128 }, () => sample(rng));

  it('rejects pending calls with a "closed" error (no hang); predict() afterwards starts a fresh worker', async () => {
    const model = new MerClip(config, undefined, { seed: 6 });
    const fresh = new MerClip(config, undefined, { seed: 6 });
    try {
      const calls = Promise.allSettled([model.predict(samples), model.predict(samples[0]!)]);
      const worker = model._predictThread()?._currentWorker() ?? null;
      await model.close();
      for (const r of await calls) {
        expect(r.status).toBe('rejected');
        const err = (r as PromiseRejectedResult).reason as PredictWorkerError;
        expect(err.message).toBe('predict: the model was closed while 2 calls were pending');
        expect(err.code).toBe('ERR_PREDICT_CLOSED');
        expect(err).toBeInstanceOf(ExportedPredictWorkerError); // the package exports the class
      }
      expect(model._predictThread()?._currentWorker() ?? null).toBeNull();
      await model.close(); // closing twice is fine
      const again = await model.predict(samples.slice(0, 9));
      expect(model._predictThread()?._currentWorker() ?? null).not.toBe(worker);
      expect(again).toEqual(await fresh.predict(samples.slice(0, 9)));
    } finally {
      await model.close();
      await fresh.close();
    }
  });
});
