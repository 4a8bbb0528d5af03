// Helpers of the distributed tests: a private redis-server (Debian's, v7) on a free port in a
// temp directory (no persistence), restartable on the same port; `merclip worker` processes; a
// small dataset and a small random-weight model.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { packageRoot } from '../../lib/backend/index.js';
import type { DataSplit } from '../../lib/data/batch.js';
import { writeDatasetSync } from '../../lib/data/file.js';
import { generateSynthetic } from '../../lib/data/synth.js';
import { MODALITIES, makeConfig } from '../../lib/model/config.js';
import { MerClip, saveModel } from '../../lib/model/merclip.js';

export const bin = join(packageRoot(), 'bin', 'merclip.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own; start() (again after stop/kill) on the same port. */
export class TestRedis {
  proc: ChildProcess | null = null;
  private constructor(readonly port: number, readonly dir: string) {}

  static async create(dir: string): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), join(dir, 'redis'));
    mkdirSync(r.dir, { recursive: true });
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const p = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`redis-server did not start: ${log}`)), 10_000);
      p.stdout!.on('data', (b: Buffer) => {
        log += b.toString();
        if (log.includes('Ready to accept connections')) {
          clearTimeout(t);
          resolve();
        }
      });
      p.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`redis-server exited (${code}): ${log}`));
      });
    });
    p.removeAllListeners('exit');
  }

  /** SIGKILL: the data is gone (no persistence), as after a crash. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await done;
    this.proc = null;
  }
}

export interface WorkerProc {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stderr (or stdout) contains `s`. */
  waitFor: (s: string | RegExp, timeoutMs?: number) => Promise<void>;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** A `merclip worker` with short locks (a dead worker's job is taken over within ~5.5 s; longer than a model load, which blocks the event loop for a second or two). */
export function startWorker(url: string, opts: { env?: Record<string, string>; args?: string[]; cwd?: string } = {}): WorkerProc {
  const proc = spawn(process.execPath, [bin, 'worker', '--queue', url, '--lock-duration', '5000', '--stalled-interval', '500', ...(opts.args ?? [])], {
    cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env ?? {}) },
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; waiters.forEach((w) => w()); });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; waiters.forEach((w) => w()); });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.on('close', (c, s) => { waiters.forEach((w) => w()); resolve([c, s]); }));
  const waitFor = (s: string | RegExp, timeoutMs = 30_000): Promise<void> => new Promise((resolve, reject) => {
    const has = (): boolean => (typeof s === 'string' ? (out + err).includes(s) : s.test(out + err));
    const t = setTimeout(() => reject(new Error(`worker: no ${String(s)} within ${timeoutMs} ms; stdout: ${out}\nstderr: ${err}`)), timeoutMs);
    const check = (): void => {
      if (has()) {
        clearTimeout(t);
        resolve();
      } else if (proc.exitCode !== null || proc.signalCode !== null) {
        clearTimeout(t);
        reject(new Error(`worker exited (${proc.exitCode ?? proc.signalCode}) before ${String(s)}; stdout: ${out}\nstderr: ${err}`));
      }
    };
    waiters.push(check);
    check();
  });
  return { proc, stdout: () => out, stderr: () => err, waitFor, exited };
}

export async function stopWorker(w: WorkerProc): Promise<void> {
  if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM');
  await w.exited;
}

/** Runs the CLI to completion. */
export function runCli(args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI asynchronously (the test keeps running: it can kill workers or Redis meanwhile). */
export function runCliAsync(args: string[], cwd?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    p.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export const SHAPES = { text: { length: 6, dim: 8 }, audio: { length: 8, dim: 5 }, vision: { length: 10, dim: 4 } };

/** A small synthetic dataset file. */
export function writeData(file: string, seed: number, sizes: { train: number; valid: number; test: number }): DataSplit {
  const ds = generateSynthetic({ seed, sizes, ...SHAPES });
  writeDatasetSync(file, ds.splits, { source: 'test' });
  return ds.splits.test;
}

/** A tiny-preset model with random weights for the SHAPES data, saved to `dir`. */
export async function writeModel(dir: string, seed = 3): Promise<void> {
  const config = makeConfig('tiny');
  for (const m of MODALITIES) config.modalities[m] = { dim: SHAPES[m].dim, maxLength: SHAPES[m].length };
  await saveModel(new MerClip(config, undefined, { seed }), dir);
}
