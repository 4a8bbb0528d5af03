// lib/io/atomic.ts — the one atomic file write of the package: every file merclip writes
// (safetensors, datasets, checkpoints, config.json, metrics, reports) goes through here.
//
// Contract: the bytes go to a temp file in the target's directory, `.<basename>.<pid>.<hex>.tmp`,
// which is fsynced, closed and renamed over the target; the directory is then fsynced (best
// effort). A reader sees the old file or the new one, never a part. On an error the temp file is
// removed and the original error is rethrown (callers wrap it in their own error kind). A process
// killed mid-write leaves only its temp file behind; `removeStaleTemps` deletes those (a resumed
// training run calls it on its directories).
//
// The failpoint `write:<basename>` (io/failpoints.ts) fires with the first part of the bytes in
// the temp file, so crash tests can kill a process in the middle of any write.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { failpoint, failpointsArmed } from './failpoints.js';

/** The bytes of a file: one buffer, a string (UTF-8) or chunks produced in order. */
export type FileContent = string | Uint8Array | Iterable<Uint8Array>;

const MAX_WRITE = 1 << 30; // write in ≤ 1 GiB pieces (some platforms cap one write at INT_MAX)
const TEMP_RE = /^\.(.+)\.(\d+)\.[0-9a-f]+\.tmp$/;

export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The content as chunks; with failpoints armed a single buffer is split in two, so the write failpoint lands mid-file. */
function chunksOf(content: FileContent): Iterable<Uint8Array> {
  const one = typeof content === 'string' ? Buffer.from(content, 'utf8') : content instanceof Uint8Array ? content : null;
  if (!one) return content as Iterable<Uint8Array>;
  if (!failpointsArmed()) return [one];
  const half = one.length >> 1;
  return [one.subarray(0, half), one.subarray(half)];
}

function fsyncDirSync(dir: string): void {
  // best effort: makes the rename durable on POSIX; directories cannot be opened this way on Windows
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch { /* ignore */ } finally {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* ignore */ }
  }
}

/** Writes `file` atomically (see the header). */
export function writeFileAtomicSync(file: string, content: FileContent): void {
  const tmp = tempPathFor(file);
  const point = `write:${path.basename(file)}`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    let first = true;
    for (const b of chunksOf(content)) {
      let done = 0;
      while (done < b.length) done += fs.writeSync(fd, b, done, Math.min(b.length - done, MAX_WRITE));
      if (first) failpoint(point);
      first = false;
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* ignore */ }
    try { fs.unlinkSync(tmp); } catch { /* never created, or already renamed */ }
    throw err;
  }
  fsyncDirSync(path.dirname(file));
}

/** Writes `file` atomically without blocking the event loop on the disk (see the header). */
export async function writeFileAtomic(file: string, content: FileContent): Promise<void> {
  const tmp = tempPathFor(file);
  const point = `write:${path.basename(file)}`;
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(tmp, 'wx', 0o644);
    let first = true;
    for (const b of chunksOf(content)) {
      let done = 0;
      while (done < b.length) done += (await fh.write(b, done, Math.min(b.length - done, MAX_WRITE))).bytesWritten;
      if (first) failpoint(point);
      first = false;
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.promises.rename(tmp, file);
  } catch (err) {
    if (fh !== undefined) await fh.close().catch(() => undefined);
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw err;
  }
  fsyncDirSync(path.dirname(file));
}

/**
 * Deletes the temp files that killed writers left in `dir` (names `.<basename>.<pid>.<hex>.tmp`
 * whose pid is not a live process other than this one's). Returns the names removed.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && processAlive(pid)) continue;
    try {
      fs.unlinkSync(path.join(dir, name));
      removed.push(name);
    } catch { /* gone already */ }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
