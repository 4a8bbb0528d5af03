// merclip sweep on a private redis-server with real worker processes: a 2-point grid × 2 seeds
// as one BullMQ flow; the worker that trains first is SIGKILLed right after its run committed
// epoch 1 (a failpoint stops it there). Another worker takes the stalled training over, resumes
// it from the run's checkpoint (no finished epoch redone: it starts at step 3 of 6) and the
// parent collects the four runs. Every run's test metrics equal a single `merclip train` run's
// with the same seed and learning rate, the mean ± std table is the one over those single runs,
// and enqueuing the same sweep again adds nothing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { SweepSummary } from '../../lib/distributed/index.js';
import { formatMeanStdTable, meanStd, type RegressionMetrics } from '../../lib/eval/metrics.js';
import { parseExact } from '../../lib/io/index.js';
import { runCli, runCliAsync, startWorker, stopWorker, TestRedis, writeData, type WorkerProc } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'merclip-sweep-'));
const data = join(dir, 'data.safetensors');
let redis: TestRedis;
const workers: WorkerProc[] = [];

beforeAll(async () => {
  redis = await TestRedis.create(dir);
  // 48 / 16 / 16 samples, batch 16: 3 steps an epoch, 2 epochs
  writeData(data, 31, { train: 48, valid: 16, test: 16 });
});
afterAll(async () => {
  await Promise.all(workers.map(stopWorker));
  await redis?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const common = ['--data', data, '--epochs', '2', '--batch-size', '16'];

describe('merclip sweep on BullMQ workers', () => {
  it('a training whose worker was SIGKILLed resumes on another worker; every run equals a single merclip train run', async () => {
    // the one-machine reference, meanwhile: merclip train --seeds 1,2 at each learning rate
    const refs = ['0.002', '0.001'].map((lr) => runCliAsync(['train', ...common, '--seeds', '1,2', '--lr', lr, '--out', join(dir, `ref-${lr}`), '--json']));

    const victim = startWorker(redis.url, { args: ['--queues', 'train'], env: { MERCLIP_FAILPOINTS: 'train.epoch-end@1' } });
    workers.push(victim);
    await victim.waitFor('ready');
    const out = join(dir, 'sweep');
    const args = ['sweep', ...common, '--seeds', '1,2', '--grid', 'lr=2e-3,1e-3', '--out', out, '--queue', redis.url];
    const enq = runCli(args);
    expect(enq.stderr).toBe('');
    expect(enq.status).toBe(0);
    expect(enq.stdout).toMatch(/^sweep sweep-[0-9a-f]+: 4 trainings on redis:\/\/127\.0\.0\.1:\d+\n/);
    await victim.waitFor('merclip-failpoint train.epoch-end@1', 60_000);
    victim.proc.kill('SIGKILL');
    expect((await victim.exited)[1]).toBe('SIGKILL');

    const rescuer = startWorker(redis.url);
    workers.push(rescuer);
    const r = await runCliAsync([...args, '--wait', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const summary = parseExact(r.stdout) as SweepSummary;
    expect(summary.failures).toEqual([]);
    expect(summary.configs.map((c) => c.name)).toEqual(['lr=0.002', 'lr=0.001']);

    const refOut = await Promise.all(refs);
    for (const [i, c] of summary.configs.entries()) {
      const ref = JSON.parse(refOut[i]!.stdout) as { runs: Array<{ seed: number; test: RegressionMetrics; bestEpoch: number }> };
      expect(c.runs.map((x) => x.seed)).toEqual([1, 2]);
      for (const [j, run] of c.runs.entries()) {
        expect(run.test, `${c.name} seed ${run.seed}`).toEqual(ref.runs[j]!.test);
        expect(run.bestEpoch).toBe(ref.runs[j]!.bestEpoch);
        expect(run.epochs).toBe(2);
        expect(readFileSync(join(out, c.name, `seed-${run.seed}`, 'metrics.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(2);
      }
      expect(c.testMeanStd).toEqual(meanStd(ref.runs.map((x) => x.test)));
    }
    // exactly one run was taken over after its worker died, and it resumed after epoch 1
    const all = summary.configs.flatMap((c) => c.runs);
    expect(all.map((x) => x.resumedAtStep).sort()).toEqual([0, 0, 0, 3]);
    // the parent wrote the summary
    expect(parseExact(readFileSync(join(out, 'sweep.json'), 'utf8'))).toEqual(summary);

    // the same sweep again: nothing enqueued, the tables printed from the finished parent
    const again = runCli([...args, '--wait']);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^sweep sweep-[0-9a-f]+: 4 trainings on .* \(already enqueued\)\n/);
    const ref0 = JSON.parse(refOut[0]!.stdout) as { runs: Array<{ test: RegressionMetrics }> };
    expect(again.stdout).toContain(`lr=0.002: 2 runs (seeds 1, 2), test metrics at the best epoch (mean ± std):\n${formatMeanStdTable(meanStd(ref0.runs.map((x) => x.test)))}\n`);
    await stopWorker(rescuer);
    expect(rescuer.stdout()).toMatch(/done merclip-train .*resumed at step 3/);
  }, 180_000);
});
