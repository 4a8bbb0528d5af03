// CLIP tokenizer: known vectors on the real 49,408-token vocabulary (../shared/data/clip), hand-
// worked BPE on small vocabularies, batching, decoding, file errors and the `tokenize` CLI.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';

import { registerTokenize } from '../../lib/cli/tokenize.js';
import { ClipTokenizer, TokenizerError, cleanText } from '../../lib/clip/tokenizer.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const clipDir = resolve(repoRoot, '../shared/data/clip');

let real: ClipTokenizer | undefined;
function realTokenizer(): ClipTokenizer {
  if (real) return real;
  if (!existsSync(join(clipDir, 'vocab.json')) || !existsSync(join(clipDir, 'merges.txt'))) {
    throw new Error(
      `the real CLIP vocabulary is missing: expected vocab.json and merges.txt in ${clipDir} ` +
        '(the shared data directory next to the repository); these tests need it and are not skipped',
    );
  }
  real = ClipTokenizer.fromDir(clipDir);
  return real;
}

/** A tokenizer over exactly `tokens` (ids in order), with the special tokens appended. */
function small(tokens: string[], merges: Array<[string, string]>): ClipTokenizer {
  const vocab = new Map<string, number>();
  for (const t of tokens) vocab.set(t, vocab.size);
  vocab.set('<|startoftext|>', vocab.size);
  vocab.set('<|endoftext|>', vocab.size);
  return new ClipTokenizer(vocab, merges);
}

/** The BPE pieces of `text` (without start/end) as strings. */
function pieces(tok: ClipTokenizer, tokens: string[], text: string): string[] {
  const ids = tok.encode(text);
  expect(ids[0]).toBe(tok.startId);
  expect(ids[ids.length - 1]).toBe(tok.endId);
  return ids.slice(1, -1).map((id) => tokens[id] ?? `#${id}`);
}

function errorOf(fn: () => unknown): TokenizerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenizerError);
    return err as TokenizerError;
  }
  throw new Error('expected a TokenizerError, nothing was thrown');
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'merclip-tok-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

describe('CLIP tokenizer on the real vocabulary', () => {
  it('loads 49,408 tokens, with start 49406 and end 49407', () => {
    realTokenizer(); // fail clearly here if the data is missing
    const tok = ClipTokenizer.fromDir(clipDir);
    expect(tok.vocabSize).toBe(49408);
    expect(tok.startId).toBe(49406);
    expect(tok.endId).toBe(49407);
  });

  it.each([
    ['a photo of a cat', [49406, 320, 1125, 539, 320, 2368, 49407]],
    ['highly negative', [49406, 5302, 8869, 49407]],
    ['weakly positive', [49406, 12128, 597, 4844, 49407]],
    ['Hello, World!!', [49406, 3306, 267, 1002, 748, 49407]],
    ["it's   don't", [49406, 585, 568, 847, 713, 49407]],
    ['', [49406, 49407]],
    ['   \t\n ', [49406, 49407]],
  ])('encodes %j', (text, ids) => {
    expect(realTokenizer().encode(text)).toEqual(ids);
  });

  it('matches the Python reference (openai/CLIP simple_tokenizer algorithm) on 132 texts', () => {
    // test/fixtures/clip/python_reference.json, made by make_python_reference.py next to it
    const fixture = JSON.parse(
      readFileSync(join(repoRoot, 'test/fixtures/clip/python_reference.json'), 'utf8'),
    ) as { cases: Array<{ text: string; ids: number[] }> };
    expect(fixture.cases.length).toBeGreaterThan(100);
    const tok = realTokenizer();
    for (const c of fixture.cases) expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
  });

  it('lower-cases, collapses whitespace and HTML-unescapes twice', () => {
    const tok = realTokenizer();
    expect(tok.encode('  A   PHOTO\tof\n\na  CAT  ')).toEqual(tok.encode('a photo of a cat'));
    expect(tok.encode('a &amp;amp; b')).toEqual(tok.encode('a & b'));
    expect(tok.encode('&lt;3 &quot;x&quot; &#39;s &#x41;')).toEqual(tok.encode('<3 "x" \'s a'));
    expect(tok.encode('&#65;&#x42;')).toEqual(tok.encode('ab'));
    expect(cleanText('  Fish &amp;amp; Chips\u00a0\u3000NOW  ')).toBe('fish & chips now');
    // ftfy is not available; the curly-quote and NFC parts of it are applied
    expect(tok.encode('it\u2019s')).toEqual(tok.encode("it's"));
    expect(tok.encode('cafe\u0301')).toEqual(tok.encode('caf\u00e9'));
  });

  it('maps the special tokens written in the text to their ids (any case)', () => {
    const tok = realTokenizer();
    expect(tok.encode('a<|endoftext|>cat')).toEqual([49406, 320, 49407, 2368, 49407]);
    expect(tok.encode('<|StartOfText|> cat')).toEqual([49406, 49406, 2368, 49407]);
  });

  it('never crashes on odd input: emoji, CJK, controls, lone surrogates, huge text', () => {
    const tok = realTokenizer();
    const odd = [
      '🙂👍🏽🏳️‍🌈',
      '你好，世界。こんにちは 안녕하세요',
      '\u0000\u0001\u0007\u001b[31m\u007f\u0085\u200b\ufeff',
      '\ud800 x \udfff',
      '&#0; &#xD800; &#99999999999999999999; &#128512; &bogus; &',
      '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ١٢٣ ⅫⅯ ½',
    ];
    for (const text of odd) {
      const ids = tok.encode(text);
      expect(ids[0]).toBe(49406);
      expect(ids[ids.length - 1]).toBe(49407);
      for (const id of ids) expect(Number.isInteger(id) && id >= 0 && id < 49408).toBe(true);
    }
    // one 200,000-character word (BPE is O(n log n), not quadratic) and a long text
    const word = tok.encode('ab'.repeat(100_000));
    expect(word.length).toBeGreaterThan(2);
    const long = tok.encode('the quick brown fox jumps over the lazy dog. '.repeat(5000));
    expect(long.length).toBe(2 + 5000 * 10);
  });

  it('encodes a repeated text identically (the per-word cache changes nothing)', () => {
    const tok = realTokenizer();
    const text = Array.from({ length: 20_000 }, (_, i) => `word${i % 300} photograph`).join(' ');
    const first = tok.encode(text);
    expect(tok.encode(text)).toEqual(first);
    expect(first.length).toBeGreaterThan(40_000);
  });

  it('decode round-trips unicode text (lower-cased, whitespace-normalised)', () => {
    const tok = realTokenizer();
    const text = '  Héllo   WÖRLD\t你好 🙂 naïve Ελληνικά  ';
    expect(tok.decode(tok.encode(text))).toBe('héllo wörld 你好 🙂 naïve ελληνικά');
    expect(tok.decode(tok.encode('Hello, World!!'))).toBe('hello , world !!');
    // special tokens are dropped by default, kept on request
    expect(tok.decode([49406, 2368, 49407])).toBe('cat');
    expect(tok.decode([49406, 2368, 49407], { keepSpecial: true })).toBe('<|startoftext|>cat <|endoftext|>');
    expect(errorOf(() => tok.decode([320, 60000])).code).toBe('UNKNOWN_ID');
  });

  it('encodeBatch pads with 0 after the end id, errors on too-long text, truncates on request', () => {
    const tok = realTokenizer();
    const batch = tok.encodeBatch(['a photo of a cat', '']);
    expect(batch).toBeInstanceOf(Int32Array);
    expect(batch.length).toBe(2 * 77);
    expect(Array.from(batch.subarray(0, 7))).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(Array.from(batch.subarray(7, 77)).every((x) => x === 0)).toBe(true);
    expect(Array.from(batch.subarray(77, 79))).toEqual([49406, 49407]);
    expect(Array.from(batch.subarray(79)).every((x) => x === 0)).toBe(true);
    // padded rows decode back to their text
    expect(tok.decode(batch.subarray(0, 77))).toBe('a photo of a cat');

    const long = 'a '.repeat(100); // 100 tokens + start + end
    const err = errorOf(() => tok.encodeBatch(['cat', long]));
    expect(err.code).toBe('TOO_LONG');
    expect(err.message).toMatch(/text 1/);
    expect(err.message).toMatch(/102 tokens/);
    expect(err.message).toMatch(/77/);
    expect(err.message).toContain('"a a a');

    const cut = tok.encodeBatch([long], { truncate: true });
    expect(cut.length).toBe(77);
    expect(cut[0]).toBe(49406);
    expect(Array.from(cut.subarray(1, 76)).every((x) => x === 320)).toBe(true);
    expect(cut[76]).toBe(49407);

    // exactly contextLength fits
    const exact = 'a '.repeat(75);
    expect(tok.encodeBatch([exact])[76]).toBe(49407);

    // other context lengths and HF-style padding with the end id
    const short = tok.encodeBatch(['a photo of a cat'], { contextLength: 4, truncate: true });
    expect(Array.from(short)).toEqual([49406, 320, 1125, 49407]);
    const hf = tok.encodeBatch(['cat'], { contextLength: 5, padId: 49407 });
    expect(Array.from(hf)).toEqual([49406, 2368, 49407, 49407, 49407]);
    expect(tok.encodeBatch([]).length).toBe(0);
    expect(errorOf(() => tok.encodeBatch(['x'], { contextLength: 1 })).code).toBe('BAD_ARGUMENT');
    expect(errorOf(() => tok.encodeBatch(['x'], { contextLength: 2.5 })).code).toBe('BAD_ARGUMENT');
  });
});

describe('CLIP tokenizer BPE on a small vocabulary (worked by hand)', () => {
  const tokens = ['a', 'b', 'c', 'x', 'y', 'a</w>', 'b</w>', 'c</w>', 'y</w>', 'z</w>', 'ab', 'bc</w>', 'abc</w>', 'aa', 'xy', 'xyx'];

  it('applies merges lowest rank first until none applies', () => {
    const tok = small(tokens, [['a', 'b'], ['b', 'c</w>'], ['ab', 'c</w>']]);
    // a b c</w> → (a b) r0 → ab c</w> → (ab c</w>) r2 → abc</w>
    expect(pieces(tok, tokens, 'abc')).toEqual(['abc</w>']);
    expect(pieces(tok, tokens, 'ABC bc c')).toEqual(['abc</w>', 'bc</w>', 'c</w>']);
    expect(pieces(tok, tokens, 'ab')).toEqual(['a', 'b</w>']);
  });

  it('merge priority is the line order', () => {
    // with (b c</w>) ranked first: a b c</w> → a bc</w>, and (a bc</w>) is no merge
    const tok = small(tokens, [['b', 'c</w>'], ['a', 'b'], ['ab', 'c</w>']]);
    expect(pieces(tok, tokens, 'abc')).toEqual(['a', 'bc</w>']);
  });

  it('merges every occurrence of the best pair left to right before the next pair', () => {
    const tok = small(tokens, [['a', 'a']]);
    expect(pieces(tok, tokens, 'aaa')).toEqual(['aa', 'a</w>']);
    // (xy x) ranks better than (x y), but it is only created by merging (x y); CLIP merges all
    // (x y) in one pass first, so x y x y z</w> → xy xy z</w> (not xyx y z</w>)
    const tok2 = small(tokens, [['xy', 'x'], ['x', 'y']]);
    expect(pieces(tok2, tokens, 'xyxyz')).toEqual(['xy', 'xy', 'z</w>']);
    // ... and a later pass does use it: x y x z</w> → xy x z</w> → xyx z</w>
    expect(pieces(tok2, tokens, 'xyxz')).toEqual(['xyx', 'z</w>']);
  });

  it('keeps its results stable with the per-word cache', () => {
    const tok = small(tokens, [['a', 'b'], ['b', 'c</w>'], ['ab', 'c</w>']]);
    const first = tok.encode('abc abc ab');
    expect(tok.encode('abc abc ab')).toEqual(first);
    expect(first.length).toBe(2 + 4);
  });

  it('special tokens in the text, and a symbol missing from a small vocabulary', () => {
    const tok = small(tokens, [['a', 'b'], ['ab', 'c</w>']]);
    expect(pieces(tok, tokens, 'a<|endoftext|>abc')).toEqual(['a</w>', '#17', 'abc</w>']);
    expect(tok.encode('<|startoftext|>')).toEqual([16, 16, 17]);
    const err = errorOf(() => tok.encode('q'));
    expect(err.code).toBe('UNKNOWN_SYMBOL');
    expect(err.message).toContain('"q</w>"');
  });

  it('encodeBatch on a small vocabulary', () => {
    const tok = small(tokens, [['a', 'b'], ['b', 'c</w>'], ['ab', 'c</w>']]);
    const s = tok.startId;
    const e = tok.endId;
    expect(Array.from(tok.encodeBatch(['abc', 'c c'], { contextLength: 5 }))).toEqual([s, 12, e, 0, 0, s, 7, 7, e, 0]);
    expect(errorOf(() => tok.encodeBatch(['abc', 'c c c c'], { contextLength: 5 })).message).toMatch(/text 1 .* 6 tokens .* 5/);
    expect(Array.from(tok.encodeBatch(['c c c c'], { contextLength: 5, truncate: true }))).toEqual([s, 7, 7, 7, e]);
    expect(tok.decode([s, 12, e, 0, 0])).toBe('abc');
    expect(tok.decode([s, 0, 1, 7, 7, e])).toBe('abc c');
  });
});

describe('CLIP tokenizer file errors', () => {
  const vocab = JSON.stringify({ a: 0, b: 1, ab: 2, 'ab</w>': 3, '<|startoftext|>': 4, '<|endoftext|>': 5 });
  const merges = '#version: 0.2\na b</w>\n';

  function dirWith(v: string | null, m: string | null): string {
    const d = tmpDir();
    if (v !== null) writeFileSync(join(d, 'vocab.json'), v);
    if (m !== null) writeFileSync(join(d, 'merges.txt'), m);
    return d;
  }

  it('reads a good pair of files (CRLF and a trailing blank line are fine)', () => {
    const tok = ClipTokenizer.fromDir(dirWith(vocab, '#version: 0.2\r\na b</w>\r\n\r\n'));
    expect(tok.vocabSize).toBe(6);
    expect(tok.startId).toBe(4);
    expect(tok.endId).toBe(5);
    expect(ClipTokenizer.fromFiles(vocab, merges).encode('ab')).toEqual([4, 3, 5]);
  });

  it('missing or unreadable files name the path', () => {
    const d = dirWith(null, merges);
    const err = errorOf(() => ClipTokenizer.fromDir(d));
    expect(err.code).toBe('FILE_UNREADABLE');
    expect(err.message).toContain(join(d, 'vocab.json'));
    const d2 = dirWith(vocab, null);
    expect(errorOf(() => ClipTokenizer.fromDir(d2)).message).toContain(join(d2, 'merges.txt'));
    const d3 = tmpDir();
    mkdirSync(join(d3, 'vocab.json')); // a directory, not a file
    writeFileSync(join(d3, 'merges.txt'), merges);
    expect(errorOf(() => ClipTokenizer.fromDir(d3)).code).toBe('FILE_UNREADABLE');
    expect(errorOf(() => ClipTokenizer.fromDir(join(d3, 'nope'))).code).toBe('FILE_UNREADABLE');
  });

  it('bad JSON and bad vocab entries name the file and the entry', () => {
    const d = dirWith('{"a": 0,', merges);
    const e1 = errorOf(() => ClipTokenizer.fromDir(d));
    expect(e1.code).toBe('BAD_JSON');
    expect(e1.message).toContain(join(d, 'vocab.json'));
    expect(errorOf(() => ClipTokenizer.fromFiles('[1,2]', merges)).code).toBe('BAD_VOCAB');
    expect(errorOf(() => ClipTokenizer.fromFiles('null', merges)).code).toBe('BAD_VOCAB');
    expect(errorOf(() => ClipTokenizer.fromFiles('"x"', merges)).message).toMatch(/vocab\.json.*object/);
    for (const bad of ['-1', '1.5', '"3"', 'null', '[]', '1e12']) {
      const e = errorOf(() => ClipTokenizer.fromFiles(`{"a": 0, "zz": ${bad}}`, ''));
      expect(e.code).toBe('BAD_VOCAB');
      expect(e.message).toContain('vocab.json');
      expect(e.message).toContain('"zz"');
    }
    const dup = errorOf(() => ClipTokenizer.fromFiles('{"a": 0, "b": 0}', ''));
    expect(dup.code).toBe('DUPLICATE_ID');
    expect(dup.message).toMatch(/"b".*"a"/);
  });

  it('bad merges lines name the file and line', () => {
    const e = errorOf(() => ClipTokenizer.fromFiles(vocab, '#version: 0.2\na b\na b c\n', { mergesName: 'm.txt' }));
    expect(e.code).toBe('BAD_MERGE');
    expect(e.message).toContain('m.txt:3');
    expect(errorOf(() => ClipTokenizer.fromFiles(vocab, '#version: 0.2\nab\n')).message).toContain('merges.txt:2');
    const e2 = errorOf(() => ClipTokenizer.fromFiles(vocab, '#version: 0.2\na b\n\nb a\n'));
    expect(e2.code).toBe('MERGE_NOT_IN_VOCAB');
    expect(e2.message).toContain('merges.txt:4');
    expect(e2.message).toContain('"ba"');
  });

  it('missing special tokens are named', () => {
    const e = errorOf(() => ClipTokenizer.fromFiles('{"a": 0, "<|endoftext|>": 1}', ''));
    expect(e.code).toBe('MISSING_SPECIAL_TOKEN');
    expect(e.message).toContain('<|startoftext|>');
    expect(e.message).toContain('vocab.json');
    expect(errorOf(() => ClipTokenizer.fromFiles('{"a": 0, "<|startoftext|>": 1}', '')).message).toContain('<|endoftext|>');
  });

  it('the constructor validates too', () => {
    const v = new Map<string, number>([['a', 0], ['<|startoftext|>', 1], ['<|endoftext|>', 2]]);
    expect(errorOf(() => new ClipTokenizer(v, [['a', 'a']])).code).toBe('MERGE_NOT_IN_VOCAB');
    expect(errorOf(() => new ClipTokenizer(v, [['a', '']])).code).toBe('BAD_MERGE');
    expect(new ClipTokenizer(v, []).encode('')).toEqual([1, 2]);
  });
});

describe('merclip tokenize (CLI)', () => {
  async function run(args: string[]): Promise<string> {
    let text = '';
    const program = new Command();
    program.exitOverride().configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    registerTokenize(program, (s) => (text += s));
    await program.parseAsync(args, { from: 'user' });
    return text;
  }

  it('prints one line of ids per text', async () => {
    realTokenizer();
    const out = await run(['tokenize', '--vocab', clipDir, 'a photo of a cat', 'highly negative']);
    expect(out).toBe('49406 320 1125 539 320 2368 49407\n49406 5302 8869 49407\n');
  });

  it('--json prints an array of {text, ids}', async () => {
    realTokenizer();
    const out = await run(['tokenize', '--vocab', clipDir, '--json', 'Hello, World!!']);
    expect(JSON.parse(out)).toEqual([{ text: 'Hello, World!!', ids: [49406, 3306, 267, 1002, 748, 49407] }]);
  });

  it('--context-length and --truncate', async () => {
    realTokenizer();
    await expect(run(['tokenize', '--vocab', clipDir, '--context-length', '4', 'a photo of a cat'])).rejects.toThrow(
      /7 tokens.*context length 4/,
    );
    const out = await run(['tokenize', '--vocab', clipDir, '--context-length', '4', '--truncate', 'a photo of a cat']);
    expect(out).toBe('49406 320 1125 49407\n');
    await expect(run(['tokenize', '--vocab', clipDir, '--context-length', '1', 'x'])).rejects.toBeInstanceOf(CommanderError);
  });

  it('a bad vocabulary directory is a clear error', async () => {
    await expect(run(['tokenize', '--vocab', join(tmpDir(), 'missing'), 'x'])).rejects.toThrow(/vocab\.json/);
    await expect(run(['tokenize', 'x'])).rejects.toBeInstanceOf(CommanderError); // --vocab is required
  });
});
