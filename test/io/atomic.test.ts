// io/atomic.ts and io/json.ts: a write replaces the file whole or not at all; a writer killed in
// the middle (a real child process stopped at the write failpoint and SIGKILLed) leaves the old
// file intact and only a temp file, which removeStaleTemps deletes (a live writer's is kept);
// exact JSON keeps NaN, ±Infinity and −0.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';
import { parseExact, removeStaleTemps, stringifyExact, writeFileAtomic, writeFileAtomicSync } from '../../lib/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'merclip-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('writes strings, buffers and chunks, replacing the old file; no temp file stays', async () => {
    const f = join(dir, 'a.txt');
    writeFileAtomicSync(f, 'first');
    expect(readFileSync(f, 'utf8')).toBe('first');
    await writeFileAtomic(f, [Buffer.from('se'), Buffer.from('cond')]);
    expect(readFileSync(f, 'utf8')).toBe('second');
    await writeFileAtomic(f, new Uint8Array([0x33]));
    expect(readFileSync(f, 'utf8')).toBe('3');
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('leaves the target untouched and no temp file when a write fails', async () => {
    const f = join(dir, 'b.txt');
    writeFileSync(f, 'old');
    function* failing(): Iterable<Uint8Array> {
      yield Buffer.from('new');
      throw new Error('producer failed');
    }
    expect(() => writeFileAtomicSync(f, failing())).toThrow(/producer failed/);
    await expect(writeFileAtomic(f, failing())).rejects.toThrow(/producer failed/);
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(readdirSync(dir).filter((n) => n.startsWith('.b.txt'))).toEqual([]);
    await expect(writeFileAtomic(join(dir, 'no', 'such', 'dir.txt'), 'x')).rejects.toThrow(/ENOENT/);
  });

  it('a writer killed mid-write leaves the old file whole; removeStaleTemps cleans its temp file', async () => {
    const f = join(dir, 'c.txt');
    writeFileSync(f, 'old content');
    const atomicUrl = pathToFileURL(join(packageRoot(), 'dist', 'io', 'atomic.js')).href;
    const code = `import(${JSON.stringify(atomicUrl)}).then((m) => m.writeFileAtomicSync(${JSON.stringify(f)}, 'x'.repeat(100000)))`;
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MERCLIP_FAILPOINTS: 'write:c.txt@1' } });
    let err = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      err += s;
      if (err.includes('merclip-failpoint write:c.txt@1')) child.kill('SIGKILL');
    });
    const signal = await new Promise((r) => child.on('close', (_c, s) => r(s)));
    expect(signal, err).toBe('SIGKILL');
    expect(readFileSync(f, 'utf8')).toBe('old content');
    const temps = readdirSync(dir).filter((n) => n.startsWith('.c.txt.'));
    expect(temps).toHaveLength(1);
    expect(readFileSync(join(dir, temps[0]!)).length).toBe(50000); // the first half was written
    // a live process's temp file is kept (its write is in progress)
    const live = `.d.txt.${process.ppid}.abcdef.tmp`;
    writeFileSync(join(dir, live), '');
    expect(removeStaleTemps(dir)).toEqual(temps);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([live]);
    expect(removeStaleTemps(join(dir, 'missing'))).toEqual([]);
  });
});

describe('exact JSON', () => {
  it('keeps NaN, ±Infinity and −0 anywhere; plain values are plain JSON', () => {
    const v = { a: NaN, b: [Infinity, -Infinity, -0, 0, 1.5], c: { d: null, e: 'x', f: true }, g: [] };
    const text = stringifyExact(v);
    const back = parseExact(text) as typeof v;
    expect(Number.isNaN(back.a)).toBe(true);
    expect(back.b.map((x) => Object.is(x, -0) ? '-0' : String(x))).toEqual(['Infinity', '-Infinity', '-0', '0', '1.5']);
    expect(back.c).toEqual(v.c);
    expect(back.g).toEqual([]);
    expect(stringifyExact({ x: 1, y: 'a' })).toBe(JSON.stringify({ x: 1, y: 'a' }));
    expect(parseExact('{"x":{"$number":"bogus"}}')).toEqual({ x: { $number: 'bogus' } });
  });
});
