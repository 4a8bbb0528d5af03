// The results file (lib/distributed/results.ts): both formats hold the same rows (float32 values
// exactly, null scores for a label set without values), the safetensors layout is the documented
// one, and what is not a results file is refused with the file named.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readResults, type ResultRow, resultsKind, writeResults } from '../../lib/distributed/results.js';
import { readSafetensorsHeader, writeSafetensors } from '../../lib/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'merclip-results-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (x: number): number => Math.fround(x);
const labels = ['negative', 'neutral', 'positive'];
const rows: ResultRow[] = [
  { id: 'a', score: f32(0.1), probs: [f32(0.2), f32(0.3), f32(0.5)], label: 'positive' },
  { id: 'b "quoted"', score: f32(-0.7), probs: [f32(0.7), f32(0.2), f32(0.1)], label: 'negative' },
];

describe('results files', () => {
  it('round-trips the same rows through .jsonl and .safetensors, with and without scores', async () => {
    for (const r of [rows, rows.map((x) => ({ ...x, score: null }))]) {
      for (const ext of ['jsonl', 'safetensors']) {
        const file = join(dir, `r-${r[0]!.score === null ? 'noscore' : 'score'}.${ext}`);
        await writeResults(file, r, labels, { extra: 'x' });
        const back = await readResults(file);
        expect(back.rows).toEqual(r);
        if (ext === 'safetensors') {
          expect(back.labelSet).toEqual(labels);
          const h = await readSafetensorsHeader(file);
          expect(h.tensors.map((t) => `${t.name} ${t.dtype} [${t.shape.join(', ')}]`)).toEqual([
            'labels I32 [2]', 'probs F32 [2, 3]', ...(r[0]!.score === null ? [] : ['scores F32 [2]'])]);
          expect(h.metadata).toMatchObject({ format: 'merclip-results', version: '1', extra: 'x', ids: JSON.stringify(r.map((x) => x.id)) });
        }
      }
    }
    await writeResults(join(dir, 'empty.jsonl'), [], labels);
    expect((await readResults(join(dir, 'empty.jsonl'))).rows).toEqual([]);
  });

  it('refuses what it cannot write or read, naming the file', async () => {
    expect(() => resultsKind('x.csv')).toThrow(/x\.csv: results go to a \.jsonl or a \.safetensors file/);
    await expect(writeResults(join(dir, 'bad.safetensors'), [{ ...rows[0]!, label: 'joy' }], labels)).rejects.toThrow(/sample a has label "joy", not one of negative, neutral, positive/);
    await expect(writeResults(join(dir, 'bad.safetensors'), [rows[0]!, { ...rows[1]!, score: null }], labels)).rejects.toThrow(/either every sample has a score or none does/);
    const notResults = join(dir, 'weights.safetensors');
    await writeSafetensors(notResults, { w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, { format: 'pt' });
    await expect(readResults(notResults)).rejects.toThrow(/weights\.safetensors: not a merclip results file \(format is "pt"\)/);
    const badLine = join(dir, 'bad.jsonl');
    writeFileSync(badLine, '{"id":"a","score":1,"probs":[1],"label":"x"}\n{"id":2}\n');
    await expect(readResults(badLine)).rejects.toThrow(/bad\.jsonl: not a merclip results file \(line 2 is not \{ id, score, probs, label \}\)/);
  });
});
