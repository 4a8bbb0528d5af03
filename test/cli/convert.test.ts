// `merclip convert FILE.pkl --out DATA.safetensors [--json]` (lib/cli/convert.ts), driven through
// commander in-process with the fixtures of test/fixtures/mmsa/.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';

import { registerConvert, type ConvertReport } from '../../lib/cli/convert.js';
import { readDataset } from '../../lib/data/file.js';
import { importMmsaPickle } from '../../lib/data/mmsa.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'mmsa');
const tmp = mkdtempSync(join(tmpdir(), 'merclip-convert-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(...args: string[]): Promise<string> {
  let out = '';
  const program = new Command().exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: () => {} });
  registerConvert(program, (s) => (out += s));
  await program.parseAsync(['node', 'merclip', ...args]);
  return out;
}

describe('merclip convert', () => {
  it('converts an unaligned pickle; the dataset file reads back as the import', async () => {
    const dst = join(tmp, 'unaligned.safetensors');
    const out = await run('convert', join(fixtures, 'unaligned_p5_f32.pkl'), '--out', dst);
    expect(out).toContain(`converted unaligned_p5_f32.pkl → ${dst} (unaligned)`);
    expect(out).toMatch(/^train\s+3\s+\[8, 6\] \(text_bert\)\s+\[10, 4\] \(audio_lengths\)\s+\[12, 5\] \(vision_lengths\)$/m);
    expect(out).toMatch(/^valid\s+2\s/m);
    expect(out).toMatch(/^test\s+2\s/m);
    expect(out).toMatch(/^ {2}train\.raw_text \(ndarray \|O \[3\]\)$/m);
    expect(out).toContain('note: train.audio: 2 -inf value(s) set to 0');
    const ds = await readDataset(dst);
    const imp = await importMmsaPickle(join(fixtures, 'unaligned_p5_f32.pkl'));
    for (const s of ['train', 'valid', 'test'] as const) {
      const a = ds.splits[s]!;
      const b = imp.splits[s]!;
      expect(a.count).toBe(b.count);
      expect(a.ids).toEqual(b.ids);
      expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
      for (const m of ['text', 'audio', 'vision'] as const) {
        expect([a[m].length, a[m].dim]).toEqual([b[m].length, b[m].dim]);
        expect(Array.from(a[m].lengths)).toEqual(Array.from(b[m].lengths));
        expect(Array.from(a[m].features)).toEqual(Array.from(b[m].features));
      }
    }
    expect(ds.metadata.source).toBe('MMSA pickle unaligned_p5_f32.pkl');
    expect(ds.metadata.mmsa_aligned).toBe('false');
  });

  it('--json reports counts, shapes, length sources, skipped keys and notes', async () => {
    const dst = join(tmp, 'aligned.safetensors');
    const r = JSON.parse(await run('convert', join(fixtures, 'aligned_p2_f64.pkl'), '--out', dst, '--json')) as ConvertReport;
    expect(r.file).toBe('aligned_p2_f64.pkl');
    expect(r.out).toBe(dst);
    expect(r.aligned).toBe(true);
    expect(r.splits.train).toMatchObject({
      count: 3,
      modalities: {
        text: { length: 8, dim: 6, lengthsFrom: 'text_bert', sourceDtype: '<f8' },
        audio: { length: 8, dim: 4, lengthsFrom: 'full' },
        vision: { length: 8, dim: 5, lengthsFrom: 'full' },
      },
    });
    expect(r.splits.valid!.count).toBe(2);
    expect(r.skipped).toContain('test.annotations (ndarray |O [2])');
    expect(r.notes.length).toBe(3);
    expect(existsSync(dst)).toBe(true);
  });

  it('a hostile or truncated pickle is an error naming the problem, and nothing is written', async () => {
    for (const [file, re] of [
      ['evil_os_system.pkl', /global 'os\.system', which is not allowed/],
      ['evil_builtins_eval.pkl', /global 'builtins\.eval', which is not allowed/],
      ['truncated.pkl', /truncated pickle/],
    ] as const) {
      const dst = join(tmp, `${file}.safetensors`);
      await expect(run('convert', join(fixtures, file), '--out', dst)).rejects.toThrow(re);
      expect(existsSync(dst)).toBe(false);
    }
  });

  it('--out is required', async () => {
    await expect(run('convert', join(fixtures, 'aligned_p2_f64.pkl'))).rejects.toThrow(CommanderError);
  });
});
