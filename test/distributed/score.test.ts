// merclip score / worker on a private redis-server, with real worker processes: the merged
// results equal a one-machine `merclip predict` of the same data (scores, probabilities, labels,
// ids, dataset order), in both results formats; enqueuing twice adds no work; a worker SIGKILLed
// in the middle of writing a shard's results has that shard taken over (stalled-job detection)
// and the results are still complete and equal; a Redis killed and restarted mid-run (its data
// lost) is reconnected to and the run finishes; a dataset file corrupted on disk fails its shards
// alone (reported by --wait, exit 1) and the same command after the fix redoes only those; no
// Redis → one clear line, exit 1. The API (scoreDistributed, runWorker) does the same in-process.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readDataset } from '../../lib/data/file.js';
import { readResults, runWorker, scoreDistributed, ShardsFailedError } from '../../lib/distributed/index.js';
import { samplesOf } from '../../lib/distributed/worker.js';
import { MerClip } from '../../lib/model/merclip.js';
import { readSafetensorsHeader } from '../../lib/io/index.js';
import { freePort, runCli, runCliAsync, startWorker, stopWorker, TestRedis, writeData, writeModel, type WorkerProc } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'merclip-score-'));
const model = join(dir, 'model');
const dataA = join(dir, 'a.safetensors');
const dataB = join(dir, 'b.safetensors');
let redis: TestRedis;
let wa: WorkerProc;
let wb: WorkerProc;

beforeAll(async () => {
  redis = await TestRedis.create(dir);
  writeData(dataA, 21, { train: 4, valid: 4, test: 150 });
  writeData(dataB, 22, { train: 4, valid: 4, test: 70 });
  await writeModel(model);
});
afterAll(async () => {
  for (const w of [wa, wb] as Array<WorkerProc | undefined>) if (w) await stopWorker(w);
  await refModel?.close();
  await redis?.kill();
  rmSync(dir, { recursive: true, force: true });
});

let refModel: MerClip | null = null;
/** The same reference in this process (what `merclip predict` runs: one predict() over each file's split). */
async function predicted(files: string[], batchSize = 32): Promise<unknown[]> {
  refModel ??= await MerClip.load(model);
  const rows: unknown[] = [];
  for (const f of files) {
    const split = (await readDataset(f)).splits.test!;
    const preds = await refModel.predict(samplesOf(split, 0, split.count), { batchSize });
    rows.push(...preds.map((p, i) => ({ id: split.ids[i]!, ...p })));
  }
  return rows;
}

const scoredLines = (w: WorkerProc): string[] => w.stdout().split('\n').filter((l) => / scored in /.test(l));
/** runCli blocks this process's event loop: let the workers' piped output in before reading it. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));
const tempFiles = (d: string): string[] => readdirSync(d).filter((n) => n.endsWith('.tmp'));

describe('merclip score on BullMQ workers', () => {
  // two workers serve the whole file after the first test (which needs a victim of its own)
  const scored = (): number => scoredLines(wa).length + (wb ? scoredLines(wb).length : 0);

  it('a worker SIGKILLed while writing a shard: the shard is taken over and the results are complete and equal', async () => {
    const out = join(dir, 'killed.jsonl');
    const victim = startWorker(redis.url, { env: { MERCLIP_FAILPOINTS: 'write:shard-0-32-64.safetensors@1' } });
    await victim.waitFor('ready');
    const enq = runCli(['score', '--model', model, '--data', dataA, '--out', out, '--queue', redis.url, '--shard-size', '32']);
    expect(enq.status).toBe(0);
    await victim.waitFor('merclip-failpoint write:shard-0-32-64.safetensors@1');
    victim.proc.kill('SIGKILL');
    expect((await victim.exited)[1]).toBe('SIGKILL');
    // the half-written shard is in its temp file, not under the shard's name
    expect(tempFiles(`${out}.parts`)).toHaveLength(1);
    expect(readdirSync(`${out}.parts`).filter((n) => n.startsWith('shard-'))).toEqual(['shard-0-0-32.safetensors']);
    wa = startWorker(redis.url);
    const r = runCli(['score', '--model', model, '--data', dataA, '--out', out, '--queue', redis.url, '--shard-size', '32', '--wait']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/0 enqueued/);
    expect((await readResults(out)).rows).toEqual(await predicted([dataA]));
    await settle();
    // the rescuer took over the killed shard (after its lock expired) and did the rest
    expect(scoredLines(wa).map((l) => l.replace(/.*samples (\S+): .*/, '$1')).sort()).toEqual(['128–149', '32–63', '64–95', '96–127']);
    expect(tempFiles(`${out}.parts`)).toEqual([]); // the merge removed the dead writer's temp file
  });

  it('merges the shards of two workers into the results of a one-machine merclip predict, in both formats; enqueuing again adds nothing', async () => {
    wb = startWorker(redis.url);
    await Promise.all([wa.waitFor('ready'), wb.waitFor('ready')]);
    // the one-machine reference: merclip predict --out on file A; the same predict() here for A and B
    const refSt = join(dir, 'ref-a.safetensors');
    expect(runCli(['predict', '--model', model, '--data', dataA, '--out', refSt]).status).toBe(0);
    const refA = await readResults(refSt);
    const ref = await predicted([dataA, dataB]);
    expect(ref).toHaveLength(220);
    expect(refA.rows).toEqual(ref.slice(0, 150));
    const before = scored();
    const out = join(dir, 'res.jsonl');
    const args = ['score', '--model', model, '--data', dataA, '--data', dataB, '--out', out, '--queue', redis.url, '--shard-size', '32'];
    const r = runCli([...args, '--wait']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^8 shards of 220 samples on redis:\/\/127\.0\.0\.1:\d+: 8 enqueued, 0 retried/);
    expect(r.stdout).toContain(`wrote ${out} (220 samples from 8 shards, in dataset order)`);
    expect((await readResults(out)).rows).toEqual(ref);
    expect(readFileSync(out, 'utf8').split('\n')[0]).toMatch(/^\{"id":"[^"]+","score":-?[\d.e-]+,"probs":\[[^\]]+\],"label":"[a-z ]+"\}$/);
    await settle();
    expect(scored() - before).toBe(8); // each shard scored once, by whichever worker took it

    // the same run again: nothing enqueued, nothing recomputed, the same file
    const again = runCli(args);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/0 enqueued, 0 retried/);
    await settle();
    expect(scored() - before).toBe(8);
    expect((await readResults(out)).rows).toEqual(ref);

    // .safetensors results: the numbers of predict's .safetensors file
    const st = join(dir, 'res.safetensors');
    expect(runCli(['score', '--model', model, '--data', dataA, '--data', dataB, '--out', st, '--queue', redis.url, '--shard-size', '96', '--wait']).status).toBe(0);
    const got = await readResults(st);
    expect(got.rows).toEqual(ref);
    expect(got.labelSet).toEqual(refA.labelSet);
    expect((await readSafetensorsHeader(st)).tensors.map((t) => `${t.name} ${t.dtype} [${t.shape.join(', ')}]`)).toEqual(['labels I32 [220]', 'probs F32 [220, 7]', 'scores F32 [220]']);
  });

  it('Redis killed and restarted mid-run (its data lost): the workers reconnect, the lost shards are enqueued again, the run finishes', async () => {
    const out = join(dir, 'restart.safetensors');
    const before = scored();
    const run = runCliAsync(['score', '--model', model, '--data', dataB, '--out', out, '--queue', redis.url, '--shard-size', '2', '--batch-size', '2', '--wait']);
    let settled = false;
    void run.then(() => { settled = true; });
    while (scored() - before < 5) await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 700));
    await redis.start();
    const r = await run;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('70 samples from 35 shards');
    expect((await readResults(out)).rows).toEqual(await predicted([dataB], 2));
    // the workers saw the outage and carried on
    expect(wa.stdout() + wb.stdout()).toMatch(/redis: .*(ECONNREFUSED|Connection is closed|ECONNRESET)/);
    expect(scored() - before).toBeGreaterThanOrEqual(35 - 5);
  });

  it('a corrupt dataset file fails its shards alone (no retries), --wait reports it; after the fix only those shards are redone', async () => {
    const dataC = join(dir, 'c.safetensors');
    writeData(dataC, 23, { train: 4, valid: 4, test: 40 });
    // bit rot: a NaN in a valid text feature of test sample 0 (the header stays intact)
    const h = await readSafetensorsHeader(dataC);
    const t = h.tensors.find((x) => x.name === 'test.text.features')!;
    const bytes = readFileSync(dataC);
    bytes.writeFloatLE(Number.NaN, h.dataStart + t.dataOffsets[0] + 4);
    writeFileSync(dataC, bytes);
    const failedLines = (): string[] => (wa.stdout() + wb.stdout()).split('\n').filter((l) => l.startsWith('failed merclip-score'));
    const before = scored();
    const out = join(dir, 'corrupt.jsonl');
    const args = ['score', '--model', model, '--data', dataA, '--data', dataC, '--out', out, '--queue', redis.url, '--shard-size', '50', '--batch-size', '25', '--wait'];
    const r = runCli(args);
    expect(r.status).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^merclip: 1 of 4 shards failed \(the others completed; their results are in .*corrupt\.jsonl\.parts\/;/);
    expect(lines[1]).toMatch(new RegExp(`^  ${dataC.replace(/[.]/g, '\\.')} samples 0–39: .*c\\.safetensors: split "test": "test\\.text\\.features": .*NaN`));
    expect(lines).toHaveLength(2);
    await settle();
    expect(failedLines()).toHaveLength(1);
    expect(wa.stdout() + wb.stdout()).not.toMatch(/will retry/);
    expect(scored() - before).toBe(3);
    // fix the file (rewrite it whole) and run the same command: only its shard is scored
    writeData(dataC, 23, { train: 4, valid: 4, test: 40 });
    const fixed = runCli(args);
    expect(fixed.stderr).toBe('');
    expect(fixed.status).toBe(0);
    expect(fixed.stdout).toMatch(/4 shards of 190 samples .*: 1 enqueued, 0 retried/);
    await settle();
    expect(scored() - before).toBe(4);
    expect((await readResults(out)).rows).toEqual(await predicted([dataA, dataC], 25));
    await Promise.all([stopWorker(wa), stopWorker(wb)]);
  });

  it('no Redis at the URL: one clear line and exit 1 (score, sweep, worker)', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const cmds = [
      ['score', '--model', model, '--data', dataA, '--out', join(dir, 'none.jsonl'), '--queue', url],
      ['sweep', '--data', dataA, '--seeds', '1', '--out', join(dir, 'none-sweep'), '--queue', url],
      ['worker', '--queue', url],
    ];
    const results = await Promise.all(cmds.map((args) => runCliAsync(args)));
    for (const [i, r] of results.entries()) {
      expect(r.status, cmds[i]![0]).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^merclip: cannot reach Redis at ${url.replace(/[.]/g, '\\.')} \\(ECONNREFUSED\\): start redis-server there or give --queue redis://HOST:PORT\\n$`));
    }
  });

  it('the API: scoreDistributed + runWorker in-process give the predict() results; close() releases everything', async () => {
    const events: string[] = [];
    const worker = await runWorker({ queue: redis.url, concurrency: 2, queues: ['score'], onEvent: (e) => events.push(e.type) });
    const out = join(dir, 'api.jsonl');
    const run = await scoreDistributed({ queue: redis.url, model, data: [dataB], out, shardSize: 16, batchSize: 16 });
    expect(run.shards).toHaveLength(5);
    expect(run.added).toBe(5);
    const seen: number[] = [];
    const summary = await run.wait({ onProgress: (p) => seen.push(p.completed), pollMs: 50 });
    expect(summary).toMatchObject({ out, samples: 70, shards: 5 });
    expect(seen.at(-1)).toBe(5);
    expect(events.filter((e) => e === 'completed')).toHaveLength(5);
    expect((await readResults(out)).rows).toEqual(await predicted([dataB], 16));
    await run.close();
    // a failing run through the API: ShardsFailedError with the shard and its error
    const missing = join(dir, 'gone.safetensors');
    writeData(missing, 24, { train: 4, valid: 4, test: 10 });
    const bad = await scoreDistributed({ queue: redis.url, model, data: missing, out: join(dir, 'api-bad.jsonl'), shardSize: 16, batchSize: 16 });
    writeFileSync(missing, 'not a dataset any more');
    const err = await bad.wait({ pollMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShardsFailedError);
    expect((err as ShardsFailedError).failed).toEqual([expect.objectContaining({ data: missing, start: 0, end: 10, error: expect.stringContaining('gone.safetensors') })]);
    await bad.close();
    await worker.close();
  });
});
