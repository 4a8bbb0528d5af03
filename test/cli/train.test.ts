// merclip train / eval / predict through the real bin script, on a small synthetic dataset file;
// a training child killed with SIGKILL mid-run and resumed ends with bit-identical weights to an
// uninterrupted run; errors are one line and a non-zero exit code.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';
import { writeDatasetSync } from '../../lib/data/file.js';
import { generateSynthetic } from '../../lib/data/synth.js';
import { readSafetensors } from '../../lib/io/index.js';

const bin = join(packageRoot(), 'bin', 'merclip.js');
const dir = mkdtempSync(join(tmpdir(), 'merclip-cli-'));
const data = join(dir, 'data.safetensors');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  const ds = generateSynthetic({ seed: 5, sizes: { train: 160, valid: 24, test: 24 }, text: { length: 6, dim: 8 }, audio: { length: 8, dim: 5 }, vision: { length: 10, dim: 4 } });
  writeDatasetSync(data, ds.splits, { source: 'test' });
});

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function weights(runDir: string): Promise<Map<string, Buffer>> {
  const { tensors } = await readSafetensors(join(runDir, 'checkpoint.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]));
}

const trainArgs = (out: string): string[] => ['train', '--data', data, '--epochs', '2', '--batch-size', '8', '--seed', '3', '--out', out, '--quiet'];

describe('merclip train / eval / predict', () => {
  it('trains, then evaluates and predicts with the best model', () => {
    const t = run([...trainArgs('run'), '--json']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    const result = JSON.parse(t.stdout) as { runs: Array<{ bestEpoch: number; test: { acc2Has0: number }; modelDir: string }> };
    const best = result.runs[0]!;
    expect(existsSync(join(best.modelDir, 'model.safetensors'))).toBe(true);
    const e = run(['eval', '--model', best.modelDir, '--data', data, '--json']);
    expect(e.status).toBe(0);
    expect((JSON.parse(e.stdout) as { metrics: { acc2Has0: number } }).metrics.acc2Has0).toBe(best.test.acc2Has0);
    const table = run(['eval', '--model', best.modelDir, '--data', data]);
    expect(table.stdout).toMatch(/Acc-2 \(has0\/non0\)\s+F1 \(has0\/non0\)\s+Acc-7\s+Acc-5\s+MAE\s+Corr/);
    const p = run(['predict', '--model', best.modelDir, '--data', data, '--limit', '3', '--labels', 'negative,positive', '--values', '-1,1', '--json']);
    expect(p.status).toBe(0);
    const preds = JSON.parse(p.stdout) as Array<{ id: string; score: number; probs: number[]; label: string }>;
    expect(preds.map((x) => x.id)).toEqual(['test_0000', 'test_0001', 'test_0002']);
    for (const x of preds) expect(x.probs).toHaveLength(2);
    // samples from a JSON file
    const samples = join(dir, 'samples.json');
    writeFileSync(samples, JSON.stringify([{ id: 'u1', text: [[1, 2, 3, 4, 5, 6, 7, 8]], vision: { features: [[0, 1, 0, 1], [1, 0, 1, 0]], length: 1 } }]));
    const q = run(['predict', '--model', best.modelDir, '--json', samples]);
    expect(q.status).toBe(0);
    expect((JSON.parse(q.stdout) as Array<{ id: string; probs: number[] }>)[0]).toMatchObject({ id: 'u1' });
  });

  it('a run killed with SIGKILL and resumed ends bit-identical to an uninterrupted run', async () => {
    expect(run(trainArgs('full')).status).toBe(0);
    // the killed run: checkpoint every step, killed once a few checkpoints exist
    const ckpt = join(dir, 'killed', 'checkpoint.safetensors');
    const child = spawn(process.execPath, [bin, ...trainArgs('killed'), '--checkpoint-every', '1'], { cwd: dir, stdio: 'ignore' });
    let seen = 0;
    let last = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (existsSync(ckpt)) {
          const m = statSync(ckpt).mtimeMs;
          if (m !== last) {
            last = m;
            seen++;
          }
          if (seen >= 3) {
            child.kill('SIGKILL');
            clearInterval(timer);
            resolve();
          }
        }
      }, 5);
      child.on('exit', (code) => {
        clearInterval(timer);
        if (seen < 3) reject(new Error(`the training child finished (code ${code}) before it could be killed`));
      });
    });
    await new Promise((r) => child.on('close', r));
    expect(child.signalCode).toBe('SIGKILL');
    const resumed = run([...trainArgs('killed'), '--resume']);
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    const a = await weights(join(dir, 'full'));
    const b = await weights(join(dir, 'killed'));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(b.get(k)!.equals(v), k).toBe(true);
  });

  it('converts an MMSA pickle and trains on it', () => {
    const pkl = join(packageRoot(), 'test', 'fixtures', 'mmsa', 'unaligned_p5_f32.pkl');
    const c = run(['convert', pkl, '--out', 'mmsa.safetensors']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    const t = run(['train', '--data', 'mmsa.safetensors', '--epochs', '2', '--batch-size', '2', '--out', 'mmsa-run', '--quiet', '--json']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    const r = JSON.parse(t.stdout) as { runs: Array<{ history: unknown[]; test: { count: number } }> };
    expect(r.runs[0]!.history).toHaveLength(2);
    expect(r.runs[0]!.test.count).toBeGreaterThan(0);
  });

  it('--seeds trains one run per seed and reports mean ± std of the test metrics and the spread of the best epochs', () => {
    // a high learning rate over 5 epochs, so the seeds' best epochs differ
    const seeds = [1, 2, 3];
    const t = run(['train', '--data', data, '--epochs', '5', '--batch-size', '16', '--lr', '5e-2', '--patience', '0', '--seeds', seeds.join(','), '--out', 'seeds', '--quiet']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/Acc-2 \(has0\/non0\)/);
    // each seed's own test_metrics.json, summarised here in float64
    const per = seeds.map((s) => JSON.parse(readFileSync(join(dir, 'seeds', `seed-${s}`, 'test_metrics.json'), 'utf8')) as { bestEpoch: number; test: { corr: number; mae: number } });
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = (xs: number[]): number => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));
    const corr = per.map((p) => p.test.corr);
    const mae = per.map((p) => p.test.mae);
    const rows = t.stdout.split('\n');
    const header = rows.findIndex((l) => l.startsWith('Acc-2 (has0/non0)'));
    const cells = rows[header + 1]!.trim().split(/\s+/);
    expect(cells.at(-1)).toBe(`${mean(corr).toFixed(3)}±${sd(corr).toFixed(3)}`);
    expect(cells.at(-2)).toBe(`${mean(mae).toFixed(3)}±${sd(mae).toFixed(3)}`);
    const be = per.map((p) => p.bestEpoch);
    expect(new Set(be).size).toBeGreaterThan(1); // the spread is not trivially zero
    expect(t.stdout).toContain(`best epochs: ${be.join(', ')} (mean ${mean(be).toFixed(1)} ± ${sd(be).toFixed(1)}, range ${Math.min(...be)}–${Math.max(...be)})\n`);
    for (const s of seeds) expect(existsSync(join(dir, 'seeds', `seed-${s}`, 'best', 'model.safetensors'))).toBe(true);
  });

  it('refuses to resume a checkpoint written for another model config', () => {
    const t = run(['train', '--data', data, '--epochs', '1', '--batch-size', '16', '--out', 'cfg', '--quiet']);
    expect(t.status).toBe(0);
    const cfgFile = join(dir, 'other-config.json');
    writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(join(dir, 'cfg', 'best', 'config.json'), 'utf8')), width: 32 }));
    const r = run(['train', '--data', data, '--epochs', '2', '--batch-size', '16', '--out', 'cfg', '--config', cfgFile, '--resume', '--quiet']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/checkpoint\.safetensors: the checkpoint was written for another model config/);
  });

  it('errors are one clear line and exit code 1', () => {
    const missing = run(['train', '--data', join(dir, 'nope.safetensors'), '--out', 'x']);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/^merclip: .*nope\.safetensors/);
    const noModel = run(['eval', '--model', join(dir, 'none'), '--data', data]);
    expect(noModel.status).toBe(1);
    expect(noModel.stderr).toMatch(/config\.json: not found/);
    const both = run(['predict', '--model', join(dir, 'run', 'best')]);
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/exactly one of --data FILE, --json FILE or --manifest FILE/);
  });
});
