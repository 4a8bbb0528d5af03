// `merclip synth` through a fresh commander program (small sizes; the default MOSI-size set is
// ~440 MB and is not generated here): the file it writes reads back as the generator's data, the
// text and JSON reports, and bad options rejected with clear errors.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';

import { parseSeed, parseSizes, registerSynth, type SynthReport } from '../../lib/cli/synth.js';
import { MODALITIES, MOSI_SHAPES, SPLITS, generateSynthetic, readDataset, readDatasetInfo } from '../../lib/data/index.js';

const dir = mkdtempSync(join(tmpdir(), 'merclip-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string> {
  let text = '';
  const program = new Command();
  program.exitOverride().configureOutput({ writeOut: (s) => (text += s), writeErr: () => undefined });
  registerSynth(program, (s) => (text += s));
  await program.parseAsync(['node', 'merclip', 'synth', ...args]);
  return text;
}

describe('merclip synth', () => {
  it('writes a dataset file equal to the generator output, with source and synthetic metadata', async () => {
    const out = join(dir, 'a.safetensors');
    const text = await run(['--out', out, '--seed', '5', '--sizes', '8,4,4']);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^train\s+8 samples\s+text \[8, 50, 768\]\s+audio \[8, 375, 5\]\s+vision \[8, 500, 20\]\s+labels mean -?\d+\.\d{3} std \d+\.\d{3}$/);
    expect(lines[1]).toMatch(/^valid\s+4 samples/);
    expect(lines[2]).toMatch(/^test\s+4 samples/);
    expect(lines[3]).toContain(`wrote ${out} (${statSync(out).size} bytes`);

    const back = await readDataset(out);
    const want = generateSynthetic({ seed: 5, sizes: { train: 8, valid: 4, test: 4 } });
    for (const s of SPLITS) {
      const got = back.splits[s]!;
      expect(got.count).toBe(want.splits[s].count);
      expect(got.ids).toEqual(want.splits[s].ids);
      expect(Array.from(got.labels)).toEqual(Array.from(want.splits[s].labels));
      for (const m of MODALITIES) {
        expect(got[m].length).toBe(MOSI_SHAPES[m].length);
        expect(got[m].dim).toBe(MOSI_SHAPES[m].dim);
        expect(Array.from(got[m].lengths)).toEqual(Array.from(want.splits[s][m].lengths));
        expect(Buffer.from(got[m].features.buffer, got[m].features.byteOffset, got[m].features.byteLength)
          .equals(Buffer.from(want.splits[s][m].features.buffer))).toBe(true);
      }
    }
    expect(back.metadata.source).toBe('synthetic seed=5');
    const opts = JSON.parse(back.metadata.synthetic!) as Record<string, unknown>;
    expect(opts).toMatchObject({ seed: 5, sizes: { train: 8, valid: 4, test: 4 }, shapes: MOSI_SHAPES, junk: 50, signal: 3 });
    expect(opts).not.toHaveProperty('directions');
  });

  it('--json reports counts, shapes, label stats and the file size', async () => {
    const out = join(dir, 'b.safetensors');
    const r = JSON.parse(await run(['--out', out, '--sizes', '3,0,2', '--json'])) as SynthReport;
    expect(r.file).toBe(out);
    expect(r.seed).toBe(1); // default
    expect(r.sizes).toEqual({ train: 3, valid: 0, test: 2 });
    expect(r.bytes).toBe(statSync(out).size);
    expect(r.splits.train.shapes.text).toEqual([3, 50, 768]);
    expect(r.splits.valid.count).toBe(0);
    expect(r.splits.valid.labelMean).toBeNull(); // no labels: NaN → null in JSON
    expect(Number.isFinite(r.splits.test.labelStd)).toBe(true);
    const info = await readDatasetInfo(out);
    expect(info.splitNames).toEqual(['train', 'valid', 'test']);
    expect(info.splits.test).toMatchObject({ count: 2, vision: { length: 500, dim: 20 } });
  });

  it('rejects bad options with a clear error (and writes nothing)', async () => {
    const out = join(dir, 'never.safetensors');
    const cases: Array<[string[], RegExp]> = [
      [['--seed', '1.5'], /--seed must be a safe integer, got "1\.5"/],
      [['--seed', 'abc'], /--seed must be a safe integer/],
      [['--seed', '9007199254740993'], /--seed must be a safe integer/],
      [['--sizes', '8,4'], /--sizes must be three comma-separated integers/],
      [['--sizes', '8,-1,4'], /the valid size must be a non-negative integer, got "-1"/],
      [['--sizes', '8,4,x'], /the test size must be a non-negative integer/],
      [['--sizes', '0,4,4'], /train size must be at least 1/],
    ];
    for (const [args, re] of cases) await expect(run(['--out', out, ...args])).rejects.toThrow(re);
    expect(() => statSync(out)).toThrow();
    // --out is required (commander's own error, exitOverride turns it into a throw)
    await expect(run(['--seed', '1'])).rejects.toThrow(/--out/);
  });

  it('parseSeed / parseSizes accept the good forms', () => {
    expect(parseSeed('42')).toBe(42);
    expect(parseSeed('-7')).toBe(-7);
    expect(parseSizes('1284, 229, 686')).toEqual({ train: 1284, valid: 229, test: 686 });
  });

  it('an unwritable --out is an error naming the file', async () => {
    const out = join(dir, 'no-such-dir', 'x.safetensors');
    await expect(run(['--out', out, '--sizes', '1,0,0'])).rejects.toThrow(out);
  });
});
