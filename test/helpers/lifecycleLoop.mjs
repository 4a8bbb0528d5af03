// test/helpers/lifecycleLoop.mjs — run by test/model/lifecycle.test.ts in its own process
// (node --expose-gc): MerClip.load(dir) → predict() (every `every`-th iteration, so a worker
// really starts) → close(), `iterations` times, printing one JSON line per checkpoint with the
// process's memory after a full GC. It imports the compiled package (dist/, built by `npm test`
// before vitest), so the predict worker is the shipped JS one, as applications run it.
//
// With END = 'drop' the models are not closed but dropped: their workers must be stopped once
// the models are collected (MerClip's finalizer), or each would keep a thread and its heap.
//
// usage: node --expose-gc lifecycleLoop.mjs ROOT MODEL_DIR ITERATIONS EVERY close|drop SAMPLE_JSON
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, dir, iterations, every, end, sampleJson] = process.argv.slice(2);
const { MerClip } = await import(pathToFileURL(join(root, 'dist', 'model', 'merclip.js')).href);
const N = Number(iterations);
const E = Number(every);
const raw = JSON.parse(sampleJson);
const sample = Object.fromEntries(Object.entries(raw).map(([m, v]) => [m, Float32Array.from(v)]));

function memory() {
  if (typeof globalThis.gc !== 'function') throw new Error('lifecycleLoop: run with --expose-gc');
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

const t0 = performance.now();
const scores = [];
for (let i = 1; i <= N; i++) {
  let model = await MerClip.load(dir);
  if ((i - 1) % E === 0) scores.push((await model.predict(sample)).score);
  if (end === 'close') await model.close();
  model = null;
  if (i === 1 || i % 10 === 0) {
    // let the finalizers run and the stopped workers exit before measuring
    globalThis.gc();
    await new Promise((r) => setTimeout(r, end === 'close' ? 0 : 100));
    console.log(JSON.stringify({ iteration: i, seconds: (performance.now() - t0) / 1000, ...memory() }));
  }
}
console.log(JSON.stringify({ done: true, predictions: scores.length, distinctScores: [...new Set(scores)] }));
