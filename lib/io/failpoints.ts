// lib/io/failpoints.ts — named points where a test can stop this process to kill it there
// (etcd's gofail / FreeBSD's fail(9) idea, reduced to the one action crash tests need).
//
// Off unless the environment names them: MERCLIP_FAILPOINTS="name@k[,name@k…]". At the k-th
// time (1-based, counted in this process) that `failpoint(name)` runs, the process writes the
// line `merclip-failpoint <name>@<k> pid <pid>` to stderr (synchronously, so the test sees it
// before anything else happens) and then blocks its thread; the test kills it with SIGKILL at
// exactly that moment. Nothing here exits or kills the process: if no one kills it within
// MERCLIP_FAILPOINT_WAIT_MS (default 60 s) it throws, so a forgotten failpoint fails loudly
// instead of hanging.
//
// The points used in the library (each names what is in progress when it stops):
//   write:<file basename>   an atomic write (io/atomic.ts) with part of the bytes in its temp file
//   train.step              after an optimiser step (lib/train)
//   train.eval              after an evaluation batch
//   train.epoch-end         after an epoch's outputs and checkpoint are written
//   train.done              after the last epoch, before train() returns

import { writeSync } from 'node:fs';

interface Armed {
  at: Map<string, number>;
  hits: Map<string, number>;
}

let armed: Armed | null | undefined;

function parse(spec: string): Map<string, number> {
  const at = new Map<string, number>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(.+)@(\d+)$/.exec(part);
    if (!m || Number(m[2]) < 1) throw new RangeError(`MERCLIP_FAILPOINTS: expected name@k (k ≥ 1), received "${part}"`);
    at.set(m[1]!, Number(m[2]));
  }
  return at;
}

/** True when any failpoint is armed (lets callers skip work that only a failpoint needs). */
export function failpointsArmed(): boolean {
  if (armed === undefined) {
    const spec = process.env.MERCLIP_FAILPOINTS;
    armed = spec ? { at: parse(spec), hits: new Map() } : null;
  }
  return armed !== null;
}

/** Stops the process here when the environment arms `name` for this hit (see the header). */
export function failpoint(name: string): void {
  if (!failpointsArmed()) return;
  const a = armed!;
  const want = a.at.get(name);
  if (want === undefined) return;
  const hit = (a.hits.get(name) ?? 0) + 1;
  a.hits.set(name, hit);
  if (hit !== want) return;
  writeSync(2, `merclip-failpoint ${name}@${hit} pid ${process.pid}\n`);
  const waitMs = Number(process.env.MERCLIP_FAILPOINT_WAIT_MS ?? 60_000);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs);
  throw new Error(`failpoint ${name}@${hit}: the process was not killed within ${waitMs} ms`);
}
