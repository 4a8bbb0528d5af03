// test/serve/cli.test.ts — `merclip serve` as a real child process (bin/merclip.js, dist/): the
// model's name from its directory, then SIGTERM while requests wait in the queue — they finish
// with their predictions, the process exits 0 and says how many it answered, and no new
// connection is accepted. Bad flags are one error line.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';
import { MerClip } from '../../lib/model/merclip.js';
import { batchOf, expectSamePrediction, metric, postJson, predictionsOf, Rng, saveTinyModel, waitFor } from './helpers.js';

const bin = join(packageRoot(), 'bin', 'merclip.js');
let dir: string;
beforeAll(async () => {
  dir = await saveTinyModel('sentiment-v2');
});
afterAll(() => {
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

interface Running { child: ChildProcess; base: string; stdout: () => string; exited: Promise<number | null> }

async function start(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [bin, 'serve', '--model', dir, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`merclip serve exited: ${err}`);
    return /listening on http:\/\/127\.0\.0\.1:\d+/.test(out);
  }, 30_000);
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
  return { child, base, stdout: () => out, exited };
}

describe('merclip serve (child process)', () => {
  it('SIGTERM: in-flight requests finish with their predictions, then the process exits 0', async () => {
    const s = await start(['--max-delay-ms', '1500', '--max-batch', '8']);
    try {
      expect(s.stdout()).toMatch(/model "sentiment-v2" \(.*sentiment-v2\) listening on/);
      const infer = `${s.base}/v2/models/sentiment-v2/infer`;
      const rng = new Rng(12);
      const reqs = Array.from({ length: 3 }, () => batchOf(rng, 1));
      const pending = reqs.map((r) => postJson(infer, r.body));
      // all three are queued (waiting out the 1.5 s delay) when the signal arrives
      await waitFor(async () => metric(await (await fetch(`${s.base}/metrics`)).text(), 'merclip_queue_depth') === 3);
      s.child.kill('SIGTERM');
      const replies = await Promise.all(pending);
      const reference = await MerClip.load(dir);
      try {
        for (let i = 0; i < 3; i++) {
          expect(replies[i]!.status).toBe(200);
          expectSamePrediction(predictionsOf(replies[i]!.json)[0]!, await reference.predict(reqs[i]!.samples[0]!));
        }
      } finally {
        await reference.close();
      }
      expect(await s.exited).toBe(0);
      expect(s.stdout()).toMatch(/SIGTERM: stopping \(in-flight requests finish\)/);
      expect(s.stdout()).toMatch(/stopped; 3 in-flight request\(s\) answered/);
      await expect(fetch(`${s.base}/v2/health/live`)).rejects.toThrow();
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  });

  it('--name sets the URL name; a bad flag is one error line and exit 1', async () => {
    const s = await start(['--name', 'mosi']);
    try {
      expect((await fetch(`${s.base}/v2/models/mosi`)).status).toBe(200);
      expect((await fetch(`${s.base}/v2/models/sentiment-v2`)).status).toBe(404);
      s.child.kill('SIGINT');
      expect(await s.exited).toBe(0);
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
    const bad = spawnSync(process.execPath, [bin, 'serve', '--model', dir, '--max-delay-ms', '-1'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--max-delay-ms must be a number ≥ 0/);
    const missing = spawnSync(process.execPath, [bin, 'serve', '--model', join(dir, 'nope'), '--port', '0'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/config\.json: not found/);
  });
});
