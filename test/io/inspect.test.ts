// `merclip inspect FILE [--json]` through registerInspect on a fresh commander program.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registerInspect } from '../../lib/cli/inspect.js';
import { SafetensorsError, writeSafetensorsSync } from '../../lib/io/index.js';

async function run(args: string[]): Promise<string> {
  let out = '';
  const program = new Command().name('merclip').exitOverride().configureOutput({ writeOut: (s) => { out += s; }, writeErr: () => undefined });
  registerInspect(program, (s) => { out += s; });
  await program.parseAsync(['inspect', ...args], { from: 'user' });
  return out;
}

let dir: string;
let good: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merclip-inspect-'));
  good = path.join(dir, 'model.safetensors');
  writeSafetensorsSync(good, {
    'text_model.embeddings.token_embedding.weight': { dtype: 'F32', shape: [10, 4], data: new Float32Array(40) },
    logit_scale: { dtype: 'F32', shape: [], data: new Float32Array([2.6592]) },
    'vision.mask': { dtype: 'BOOL', shape: [2, 0], data: new Uint8Array(0) },
    ids: { dtype: 'I64', shape: [3], data: new BigInt64Array(3) },
    half: { dtype: 'F16', shape: [5], data: new Float32Array(5) },
  }, { format: 'pt', step: '42' });
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('merclip inspect', () => {
  it('the text form lists every tensor with dtype, shape, elements and bytes, then the metadata', async () => {
    const out = await run([good]);
    const size = fs.statSync(good).size;
    expect(out).toContain(`file     ${good} (${size} bytes, header `);
    expect(out).toContain('tensors  5 (49 elements, 198 bytes)');
    expect(out).toMatch(/^name\s+dtype\s+shape\s+elements\s+bytes$/m);
    expect(out).toMatch(/^text_model\.embeddings\.token_embedding\.weight\s+F32\s+\[10, 4\]\s+40\s+160$/m);
    expect(out).toMatch(/^logit_scale\s+F32\s+\[\]\s+1\s+4$/m);
    expect(out).toMatch(/^vision\.mask\s+BOOL\s+\[2, 0\]\s+0\s+0$/m);
    expect(out).toMatch(/^ids\s+I64\s+\[3\]\s+3\s+24$/m);
    expect(out).toMatch(/^half\s+F16\s+\[5\]\s+5\s+10$/m);
    expect(out).toMatch(/^metadata\n {2}format\s+pt\n {2}step\s+42$/m);
    // tensors listed by name
    const order = ['half', 'ids', 'logit_scale', 'text_model', 'vision.mask'].map((n) => out.indexOf(`\n${n}`));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('--json gives the same facts as data', async () => {
    const r = JSON.parse(await run([good, '--json'])) as {
      file: string; fileSize: number; tensorCount: number; totalElements: number; totalBytes: number;
      tensors: Array<{ name: string; dtype: string; shape: number[]; elements: number; bytes: number; dataOffsets: number[] }>;
      metadata: Record<string, string>;
    };
    expect(r.file).toBe(good);
    expect(r.fileSize).toBe(fs.statSync(good).size);
    expect(r).toMatchObject({ tensorCount: 5, totalElements: 49, totalBytes: 198, metadata: { format: 'pt', step: '42' } });
    expect(r.tensors.find((t) => t.name === 'ids')).toMatchObject({ dtype: 'I64', shape: [3], elements: 3, bytes: 24 });
    expect(r.tensors.map((t) => t.name)).toEqual(['half', 'ids', 'logit_scale', 'text_model.embeddings.token_embedding.weight', 'vision.mask']);
  });

  it('a file without metadata says so', async () => {
    const f = path.join(dir, 'plain.safetensors');
    writeSafetensorsSync(f, { a: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } });
    expect(await run([f])).toMatch(/^metadata \(none\)$/m);
  });

  it('a bad file throws its SafetensorsError (file and tensor named) out of parseAsync', async () => {
    const f = path.join(dir, 'bad.safetensors');
    const json = '{"a.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,10]}}';
    const b = Buffer.alloc(8 + json.length + 10);
    b.writeBigUInt64LE(BigInt(json.length), 0);
    b.write(json, 8);
    fs.writeFileSync(f, b);
    const err = await run([f]).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message).toBe(`${f}: tensor "a.weight": data_offsets [0, 10] span 10 bytes, but F32 shape [2, 3] needs 24`);
    await expect(run([path.join(dir, 'missing.safetensors')])).rejects.toMatchObject({ code: 'io_error' });
  });

  it('reads only the header: a 600 MB (sparse) CLIP-sized file is inspected without reading its data', async () => {
    const f = path.join(dir, 'big.safetensors');
    const n = 150_000_000; // 600 MB of F32
    const json = `{"w":{"dtype":"F32","shape":[${n}],"data_offsets":[0,${4 * n}]}}`;
    const head = Buffer.alloc(8 + json.length);
    head.writeBigUInt64LE(BigInt(json.length), 0);
    head.write(json, 8);
    fs.writeFileSync(f, head);
    fs.truncateSync(f, head.length + 4 * n); // sparse on most file systems: nothing to read
    const out = await run([f, '--json']);
    expect(JSON.parse(out)).toMatchObject({ totalBytes: 4 * n, tensors: [{ name: 'w', shape: [n], elements: n }] });
    fs.rmSync(f);
  });
});
