// test/helpers/terminateLoop.mjs — run by test/model/predictFaults.test.ts in its own process, so
// that an abort in the addon (a C++ exception escaping while a worker is torn down inside a
// kernel call) shows up as this process dying instead of killing the test runner.
// Each iteration starts two predict() calls, waits a few milliseconds (so the worker is inside
// the forward pass's native kernels), terminates the worker from outside, then checks that both
// calls rejected with the worker's exit and that the next call starts a fresh worker and gives
// the reference result. Prints one JSON line at the end.
//
// usage: node terminateLoop.mjs ROOT ITERATIONS
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, iterations] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(join(root, 'dist', ...p.split('/'))).href);
const { MerClip } = await load('model/merclip.js');
const { makeConfig } = await load('model/config.js');
const { CLIP_TEXT_DEFAULTS } = await load('clip/text.js');
const config = makeConfig('tiny', {
  width: 32, heads: 2,
  modalities: { text: { dim: 12, maxLength: 40 }, audio: { dim: 5, maxLength: 120 }, vision: { dim: 6, maxLength: 160 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
});
const samples = Array.from({ length: 96 }, (_, i) => ({
  text: new Float32Array(40 * 12).map((_, j) => Math.sin(i + j)),
  audio: new Float32Array(120 * 5).map((_, j) => Math.cos(i * j)),
  vision: new Float32Array(160 * 6).map((_, j) => ((i + j) % 7) / 7),
}));
const model = new MerClip(config, undefined, { seed: 3 });
const reference = await model.predict(samples.slice(0, 4));
const messages = new Set();
let rejected = 0;
for (let i = 0; i < Number(iterations); i++) {
  await model.predict(samples[0]);
  const worker = model._predictThread()._currentWorker();
  const calls = Promise.allSettled([model.predict(samples), model.predict(samples.slice(0, 8))]);
  await new Promise((r) => setTimeout(r, 1 + (i % 12)));
  await worker.terminate();
  for (const r of await calls) {
    if (r.status === 'rejected') {
      rejected++;
      messages.add(`${r.reason.code}: ${r.reason.message}`);
    }
  }
  const again = await model.predict(samples.slice(0, 4));
  if (JSON.stringify(again) !== JSON.stringify(reference)) throw new Error(`iteration ${i}: the call after the termination differs from the reference`);
  if (model._predictThread()._currentWorker() === worker) throw new Error(`iteration ${i}: the terminated worker was reused`);
}
await model.close();
console.log(JSON.stringify({ iterations: Number(iterations), rejected, messages: [...messages] }));
