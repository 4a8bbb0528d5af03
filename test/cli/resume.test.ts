// A training run killed with SIGKILL at twelve moments spread over the whole run — before the
// first checkpoint, in the middle of a checkpoint write, between a step checkpoint and the
// epoch's end, during evaluation, while best/, metrics.jsonl, report.html or test_metrics.json is
// being written, after an epoch is committed, after the last epoch — and resumed after each kill,
// ends with exactly the outputs of an uninterrupted run: best/model.safetensors byte-identical,
// the checkpoint's weights, optimiser state and run state identical, metrics.jsonl and
// test_metrics.json equal (timings aside). After every kill each output file on disk is whole
// and readable; at the end no temp file is left. Resuming the finished run redoes nothing.
//
// The child stops at a named failpoint (lib/io/failpoints.ts: it announces itself on stderr and
// blocks) and this test kills it there with SIGKILL, so every moment is hit exactly, not by timing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';
import { writeDatasetSync } from '../../lib/data/file.js';
import { generateSynthetic } from '../../lib/data/synth.js';
import { parseExact, readSafetensors } from '../../lib/io/index.js';

const bin = join(packageRoot(), 'bin', 'merclip.js');
const dir = mkdtempSync(join(tmpdir(), 'merclip-resume-'));
const data = join(dir, 'data.safetensors');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  // 96 / 32 / 32 samples, batch 16: 6 steps an epoch, 3 epochs = 18 steps; step checkpoints at 4, 8, 16
  const ds = generateSynthetic({ seed: 11, sizes: { train: 96, valid: 32, test: 32 }, text: { length: 6, dim: 8 }, audio: { length: 8, dim: 5 }, vision: { length: 10, dim: 4 } });
  writeDatasetSync(data, ds.splits, { source: 'test' });
});

const trainArgs = (out: string, resume: boolean): string[] =>
  ['train', '--data', data, '--epochs', '3', '--batch-size', '16', '--checkpoint-every', '4', '--seed', '7', '--out', out, '--quiet', ...(resume ? ['--resume'] : [])];

/** Runs the CLI until the failpoint stops it, then SIGKILLs it there. */
async function runKilledAt(point: string, out: string): Promise<void> {
  const child = spawn(process.execPath, [bin, ...trainArgs(out, true)], {
    cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MERCLIP_FAILPOINTS: point },
  });
  let stderr = '';
  let stopped = false;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr += s;
    if (!stopped && stderr.includes(`merclip-failpoint ${point} `)) {
      stopped = true;
      child.kill('SIGKILL');
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  if (!stopped) throw new Error(`the training child never reached failpoint ${point} (exit ${code}): ${stderr}`);
  expect(signal).toBe('SIGKILL');
}

const TEMP = /^\..+\.\d+\.[0-9a-f]+\.tmp$/;

/** Every output file present is whole: safetensors parse, JSON parses, the report is complete. */
async function expectOutputsReadable(out: string, when: string): Promise<void> {
  for (const sub of [out, join(out, 'best')]) {
    if (!existsSync(sub)) continue;
    for (const name of readdirSync(sub)) {
      const file = join(sub, name);
      if (TEMP.test(name) || statSync(file).isDirectory()) continue;
      const what = `${when}: ${file}`;
      if (name.endsWith('.safetensors')) await expect(readSafetensors(file), what).resolves.toBeTruthy();
      else if (name.endsWith('.json')) expect(() => JSON.parse(readFileSync(file, 'utf8')), what).not.toThrow();
      else if (name.endsWith('.jsonl')) {
        const text = readFileSync(file, 'utf8');
        expect(text.endsWith('\n'), what).toBe(true);
        for (const line of text.trimEnd().split('\n')) expect(() => JSON.parse(line), what).not.toThrow();
      } else if (name.endsWith('.html')) expect(readFileSync(file, 'utf8').trimEnd().endsWith('</html>'), what).toBe(true);
      else throw new Error(`${what}: unexpected file`);
    }
  }
}

const TIMINGS = new Set(['seconds', 'samplesPerSec']);
const withoutTimings = (r: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMINGS.has(k)));

async function checkpointParts(out: string): Promise<{ tensors: Map<string, Buffer>; metadata: Record<string, string>; state: Record<string, unknown> }> {
  const { tensors, metadata } = await readSafetensors(join(out, 'checkpoint.safetensors'));
  const state = parseExact(metadata.state!) as Record<string, unknown> & { history: Record<string, unknown>[] };
  return {
    tensors: new Map([...tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)])),
    metadata: Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== 'state')),
    state: { ...state, history: state.history.map(withoutTimings) },
  };
}

const metricsLines = (out: string): unknown[] => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => withoutTimings(JSON.parse(l) as Record<string, unknown>));

// [failpoint, the moment it stands for]; each process counts hits from its own start
const KILLS: Array<[string, string]> = [
  ['train.step@2', 'before the first checkpoint'],
  ['write:checkpoint.safetensors@1', 'in the middle of writing the first (step 4) checkpoint'],
  ['train.step@6', 'between the step-4 checkpoint and the end of epoch 1'],
  ['train.eval@1', 'during the validation of epoch 1'],
  ['write:model.safetensors@1', 'while best/ of epoch 1 is being written'],
  ['write:metrics.jsonl@1', 'while metrics.jsonl is being written (best/ already ahead of the checkpoint)'],
  ['write:report.html@1', 'while report.html is being written'],
  ['write:checkpoint.safetensors@1', 'in the middle of the end-of-epoch-1 checkpoint'],
  ['write:test_metrics.json@1', 'while test_metrics.json of epoch 2 is being written'],
  ['train.epoch-end@1', 'right after epoch 2 was committed'],
  ['train.eval@3', 'during the test-split evaluation of epoch 3'],
  ['train.done@1', 'after the last epoch, before the process reports'],
];

describe('merclip train --resume after SIGKILL at any moment', () => {
  it(`ends with the outputs of an uninterrupted run after ${KILLS.length} kills`, async () => {
    const full = spawnSync(process.execPath, [bin, ...trainArgs('full', false)], { cwd: dir, encoding: 'utf8' });
    expect(full.stderr).toBe('');
    expect(full.status).toBe(0);

    const out = join(dir, 'killed');
    for (const [point, moment] of KILLS) {
      await runKilledAt(point, 'killed');
      await expectOutputsReadable(out, `after the kill ${moment} (${point})`);
    }
    const last = spawnSync(process.execPath, [bin, ...trainArgs('killed', true)], { cwd: dir, encoding: 'utf8' });
    expect(last.stderr).toBe('');
    expect(last.status).toBe(0);
    // the kill at train.done came after the final checkpoint: this resume finds a finished run
    expect(last.stdout.trim()).toMatch(/^the run in .*killed already finished \(3 epochs, best epoch \d\); nothing was redone and its outputs are kept$/);

    const ref = join(dir, 'full');
    expect(readFileSync(join(out, 'best', 'model.safetensors')).equals(readFileSync(join(ref, 'best', 'model.safetensors')))).toBe(true);
    expect(readFileSync(join(out, 'best', 'config.json'), 'utf8')).toBe(readFileSync(join(ref, 'best', 'config.json'), 'utf8'));
    const a = await checkpointParts(ref);
    const b = await checkpointParts(out);
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    expect([...a.tensors.keys()].some((k) => k.startsWith('optim.m.'))).toBe(true);
    for (const [k, v] of a.tensors) expect(b.tensors.get(k)!.equals(v), k).toBe(true);
    expect(b.metadata).toEqual(a.metadata);
    expect(b.state).toEqual(a.state);
    expect((b.state as { epoch: number }).epoch).toBe(3);
    expect(metricsLines(out)).toEqual(metricsLines(ref));
    expect(metricsLines(out)).toHaveLength(3);
    expect(JSON.parse(readFileSync(join(out, 'test_metrics.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(ref, 'test_metrics.json'), 'utf8')));
    await expectOutputsReadable(out, 'at the end');
    for (const sub of [out, join(out, 'best')]) expect(readdirSync(sub).filter((n) => TEMP.test(n)), `temp files in ${sub}`).toEqual([]);

    // resuming again: nothing is rewritten
    const before = new Map(['checkpoint.safetensors', 'metrics.jsonl', 'test_metrics.json', 'report.html', 'best/model.safetensors']
      .map((f) => [f, { mtime: statSync(join(out, f)).mtimeMs, bytes: readFileSync(join(out, f)) }]));
    const again = spawnSync(process.execPath, [bin, ...trainArgs('killed', true)], { cwd: dir, encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stdout.trim().split('\n')).toHaveLength(1);
    expect(again.stdout).toMatch(/already finished/);
    for (const [f, { mtime, bytes }] of before) {
      expect(statSync(join(out, f)).mtimeMs, f).toBe(mtime);
      expect(readFileSync(join(out, f)).equals(bytes), f).toBe(true);
    }
  }, 240_000);
});
