// lib/clip/tokenizer.ts — CLIP's byte-level BPE tokenizer (openai/CLIP `simple_tokenizer.py`,
// Hugging Face `CLIPTokenizer`), read from the Hugging Face files `vocab.json` + `merges.txt`.
//
// Pipeline for one text (as CLIP's `SimpleTokenizer.encode`):
//   1. cleanup — CLIP runs `ftfy.fix_text`, which is not available here. We apply only the two
//      of its default fixes that are cheap and exact: Unicode NFC normalisation and "uncurling"
//      quotes (U+02BC, U+2018–U+201B → `'`; U+201C–U+201F → `"`). Mojibake repair, ligature /
//      full-width fixes and control-character removal are NOT done, so text that ftfy would
//      change in those ways can tokenize differently from Python CLIP.
//      Then HTML-unescape twice (as `basic_clean` does) for the entities &amp; &lt; &gt; &quot;
//      &apos; &nbsp; (also their legacy forms without `;` where HTML allows it, e.g. `&amp`),
//      &#NNN; and &#xHH; (with Python's `html.unescape` rules for numeric references: invalid
//      code points → U+FFFD, the Windows-1252 remapping of 0x80–0x9F, forbidden controls
//      dropped). Other named entities are left as they are.
//      Strip, collapse runs of whitespace to one space, strip (`whitespace_clean`; "whitespace"
//      is what Python's `str.isspace` calls whitespace), then lower-case.
//   2. pre-tokenisation with CLIP's pattern
//      `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
//      (case-insensitive); text matching none of it (spaces) is dropped. `\p{L}`/`\p{N}` use
//      Node's Unicode tables, so code points assigned only in a newer Unicode version than
//      Node's can split differently from Python's `regex` module (seen only for rare letters).
//   3. each pre-token's UTF-8 bytes are mapped through GPT-2's `bytes_to_unicode` table, the last
//      symbol gets `</w>`, and merges are applied lowest rank first (every non-overlapping
//      occurrence of the best pair, left to right, before looking for the next pair — exactly
//      CLIP's `bpe()`), implemented with a heap so even a 1 MB "word" is O(n log n).
//      Results are cached per word. The special tokens written in the text map to their ids.
//   4. `<|startoftext|>` … `<|endoftext|>` around the ids.
//
// Decoding (`decode`): `</w>` → space, bytes back to UTF-8, outer whitespace trimmed; the start
// and end tokens are dropped and decoding stops at the first end token (so padded rows decode to
// their text) unless `keepSpecial` is set.
//
// Padding: `encodeBatch` pads with 0 after the end token, as openai/CLIP's `clip.tokenize`
// does (Hugging Face's CLIP tokenizer pads with `<|endoftext|>` instead; pass `padId` for that).
// Either way the end token is the largest id, so the EOS position is the row's argmax / the first
// end token.
//
// Size: one algorithm (CLIP's byte-level BPE: pre-tokenizer, byte map, merges, decode) whose
// parts share private state; split, each part would have to export internals.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type TokenizerErrorCode =
  | 'FILE_UNREADABLE'
  | 'BAD_JSON'
  | 'BAD_VOCAB'
  | 'DUPLICATE_ID'
  | 'BAD_MERGE'
  | 'MERGE_NOT_IN_VOCAB'
  | 'MISSING_SPECIAL_TOKEN'
  | 'UNKNOWN_SYMBOL'
  | 'UNKNOWN_ID'
  | 'TOO_LONG'
  | 'BAD_ARGUMENT';

export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;
  constructor(code: TokenizerErrorCode, message: string) {
    super(message);
    this.name = 'TokenizerError';
    this.code = code;
  }
}

export const START_TOKEN = '<|startoftext|>';
export const END_TOKEN = '<|endoftext|>';
export const DEFAULT_CONTEXT_LENGTH = 77;
const END_OF_WORD = '</w>';

export interface EncodeBatchOptions {
  /** Row length (default 77). */
  contextLength?: number;
  /** Cut texts that are too long to `contextLength` ids, keeping the end id last (default false: error). */
  truncate?: boolean;
  /** Id written after the end token (default 0, as openai/CLIP's `clip.tokenize`). */
  padId?: number;
}

export interface DecodeOptions {
  /**
   * Keep `<|startoftext|>` / `<|endoftext|>` in the output and decode every id (default false:
   * they are dropped and decoding stops at the first end token, so padded `encodeBatch` rows
   * decode to their text).
   */
  keepSpecial?: boolean;
}

export interface FromFilesOptions {
  /** Names used in error messages (default `vocab.json` / `merges.txt`). */
  vocabName?: string;
  mergesName?: string;
}

export interface TokenizerSource {
  /** Names used in error messages (default `vocab` / `merges`). */
  vocabName?: string;
  mergesName?: string;
  /** Line number of each merge in the merges file, for error messages. */
  mergeLines?: readonly number[];
}

// ---------------------------------------------------------------------------------------------
// GPT-2's bytes_to_unicode

function buildByteEncoder(): { enc: string[]; dec: Map<string, number> } {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const enc: string[] = new Array<string>(256);
  for (const b of bs) enc[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (enc[b] === undefined) enc[b] = String.fromCharCode(256 + n++);
  }
  const dec = new Map<string, number>();
  enc.forEach((c, b) => dec.set(c, b));
  return { enc, dec };
}

const BYTES = buildByteEncoder();
const BYTE_ENCODER: readonly string[] = BYTES.enc;
const BYTE_DECODER: ReadonlyMap<string, number> = BYTES.dec;

// ---------------------------------------------------------------------------------------------
// Text cleanup

/** Python's `str.isspace()` characters (what `re`'s `\s` and `str.strip()` use). */
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RUN = new RegExp(`[${PY_WS}]+`, 'g');
const WS_EDGES = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, 'g');

const PRETOKEN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${PY_WS}\\p{L}\\p{N}]+`,
  'giu',
);

// Python's html.unescape: numeric references with or without `;`; named ones from the HTML5
// table (we carry only the common ones; those marked legacy also match without `;`).
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;
const NAMED: ReadonlyMap<string, string> = new Map([
  ['amp;', '&'], ['AMP;', '&'], ['amp', '&'], ['AMP', '&'],
  ['lt;', '<'], ['LT;', '<'], ['lt', '<'], ['LT', '<'],
  ['gt;', '>'], ['GT;', '>'], ['gt', '>'], ['GT', '>'],
  ['quot;', '"'], ['QUOT;', '"'], ['quot', '"'], ['QUOT', '"'],
  ['apos;', "'"],
  ['nbsp;', '\u00a0'], ['nbsp', '\u00a0'],
]);
// html._invalid_charrefs (0x00, 0x0d and the Windows-1252 block)
const INVALID_CHARREFS: ReadonlyMap<number, string> = new Map([
  [0x00, '\ufffd'], [0x0d, '\r'], [0x80, '\u20ac'], [0x81, '\x81'], [0x82, '\u201a'],
  [0x83, '\u0192'], [0x84, '\u201e'], [0x85, '\u2026'], [0x86, '\u2020'], [0x87, '\u2021'],
  [0x88, '\u02c6'], [0x89, '\u2030'], [0x8a, '\u0160'], [0x8b, '\u2039'], [0x8c, '\u0152'],
  [0x8d, '\x8d'], [0x8e, '\u017d'], [0x8f, '\x8f'], [0x90, '\x90'], [0x91, '\u2018'],
  [0x92, '\u2019'], [0x93, '\u201c'], [0x94, '\u201d'], [0x95, '\u2022'], [0x96, '\u2013'],
  [0x97, '\u2014'], [0x98, '\u02dc'], [0x99, '\u2122'], [0x9a, '\u0161'], [0x9b, '\u203a'],
  [0x9c, '\u0153'], [0x9d, '\x9d'], [0x9e, '\u017e'], [0x9f, '\u0178'],
]);

function isInvalidCodepoint(n: number): boolean {
  // html._invalid_codepoints
  if ((n >= 0x1 && n <= 0x8) || (n >= 0xe && n <= 0x1f) || (n >= 0x7f && n <= 0x9f)) return true;
  if (n >= 0xfdd0 && n <= 0xfdef) return true;
  if (n === 0xb) return true;
  return (n & 0xfffe) === 0xfffe; // 0xFFFE/0xFFFF of every plane (n ≤ 0x10FFFF here)
}

function replaceCharref(whole: string, s: string): string {
  if (s[0] === '#') {
    const hex = s[1] === 'x' || s[1] === 'X';
    const digits = (hex ? s.slice(2) : s.slice(1)).replace(/;$/, '');
    // very long digit strings are certainly > 0x10FFFF; avoid precision questions
    const stripped = digits.replace(/^0+/, '');
    const num = stripped.length > 8 ? Infinity : stripped.length === 0 ? 0 : parseInt(stripped, hex ? 16 : 10);
    const inv = INVALID_CHARREFS.get(num);
    if (inv !== undefined) return inv;
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
    if (isInvalidCodepoint(num)) return '';
    return String.fromCodePoint(num);
  }
  const full = NAMED.get(s);
  if (full !== undefined) return full;
  for (let x = s.length - 1; x > 1; x--) {
    const v = NAMED.get(s.slice(0, x));
    if (v !== undefined) return v + s.slice(x);
  }
  return whole;
}

function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, replaceCharref);
}

/** CLIP's `whitespace_clean(basic_clean(text)).lower()` (see the module comment for ftfy). */
export function cleanText(text: string): string {
  let t = text.normalize('NFC');
  t = t.replace(/[\u02bc\u2018-\u201b]/g, "'").replace(/[\u201c-\u201f]/g, '"');
  t = htmlUnescape(htmlUnescape(t));
  t = t.replace(WS_EDGES, '');
  t = t.replace(WS_RUN, ' ').replace(WS_EDGES, '');
  return t.toLowerCase();
}

/** The pre-tokens of already cleaned text. */
export function preTokenize(cleaned: string): string[] {
  return cleaned.match(PRETOKEN) ?? [];
}

// ---------------------------------------------------------------------------------------------
// BPE

interface Merge {
  rank: number;
  merged: string;
}

/** Min-heap of (rank, position) packed as two parallel arrays. */
class PairHeap {
  private ranks: number[] = [];
  private pos: number[] = [];
  get size(): number {
    return this.ranks.length;
  }
  private less(i: number, j: number): boolean {
    const ri = this.ranks[i]!;
    const rj = this.ranks[j]!;
    return ri < rj || (ri === rj && this.pos[i]! < this.pos[j]!);
  }
  private swap(i: number, j: number): void {
    const r = this.ranks[i]!;
    this.ranks[i] = this.ranks[j]!;
    this.ranks[j] = r;
    const p = this.pos[i]!;
    this.pos[i] = this.pos[j]!;
    this.pos[j] = p;
  }
  push(rank: number, pos: number): void {
    this.ranks.push(rank);
    this.pos.push(pos);
    let i = this.ranks.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  topRank(): number {
    return this.ranks[0]!;
  }
  /** Pops the minimum; returns its position. */
  pop(): number {
    const top = this.pos[0]!;
    const lastR = this.ranks.pop()!;
    const lastP = this.pos.pop()!;
    const n = this.ranks.length;
    if (n > 0) {
      this.ranks[0] = lastR;
      this.pos[0] = lastP;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.less(l, m)) m = l;
        if (r < n && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const CACHE_MAX_ENTRIES = 200_000;
const CACHE_MAX_WORD = 512;

// ---------------------------------------------------------------------------------------------

export class ClipTokenizer {
  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly merges: Map<string, Merge>;
  private readonly cache = new Map<string, readonly number[]>(); // byte-encoded word → ids
  private readonly _startId: number;
  private readonly _endId: number;
  private readonly _vocabSize: number;

  /**
   * @param vocab token → id (ids distinct non-negative int32 values; must contain
   *   `<|startoftext|>` and `<|endoftext|>`).
   * @param merges merge pairs in rank order (index = rank; a repeated pair keeps its last rank,
   *   as a Python dict would). Each merge's concatenation must be in the vocabulary.
   * @param source names for error messages (`fromFiles` / `fromDir` pass the file names and the
   *   merges' line numbers).
   */
  constructor(
    vocab: ReadonlyMap<string, unknown>,
    merges: ReadonlyArray<readonly [string, string]>,
    source: TokenizerSource = {},
  ) {
    const vocabName = source.vocabName ?? 'vocab';
    const mergesName = source.mergesName ?? 'merges';
    const encoder = new Map<string, number>();
    const decoder = new Map<number, string>();
    let maxId = -1;
    for (const [k, id] of vocab) {
      if (typeof k !== 'string' || k === '') {
        throw new TokenizerError('BAD_VOCAB', `${vocabName}: entry ${JSON.stringify(k)}: tokens must be non-empty strings`);
      }
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
        throw new TokenizerError('BAD_VOCAB', `${vocabName}: entry ${JSON.stringify(k)}: the id must be a non-negative integer (< 2^31), got ${JSON.stringify(id) ?? String(id)}`);
      }
      const prev = decoder.get(id);
      if (prev !== undefined) {
        throw new TokenizerError('DUPLICATE_ID', `${vocabName}: entry ${JSON.stringify(k)}: id ${id} is already used by ${JSON.stringify(prev)}`);
      }
      encoder.set(k, id);
      decoder.set(id, k);
      if (id > maxId) maxId = id;
    }
    const s = encoder.get(START_TOKEN);
    const e = encoder.get(END_TOKEN);
    if (s === undefined || e === undefined) {
      throw new TokenizerError('MISSING_SPECIAL_TOKEN', `${vocabName}: no ${s === undefined ? START_TOKEN : END_TOKEN} entry (CLIP's start and end tokens are required)`);
    }
    this.encoder = encoder;
    this.decoder = decoder;
    this._vocabSize = maxId + 1;
    this._startId = s;
    this._endId = e;
    this.merges = new Map();
    if (!Array.isArray(merges)) throw new TokenizerError('BAD_MERGE', `${mergesName}: expected an array of pairs`);
    merges.forEach((m, i) => {
      const line = source.mergeLines?.[i];
      const where = line !== undefined ? `${mergesName}:${line}` : `${mergesName}: entry ${i}`;
      const [a, b] = Array.isArray(m) ? m : [];
      if (typeof a !== 'string' || typeof b !== 'string' || a === '' || b === '' || m.length !== 2) {
        throw new TokenizerError('BAD_MERGE', `${where}: a merge must be a pair of two non-empty symbols`);
      }
      const merged = a + b;
      if (!encoder.has(merged)) {
        throw new TokenizerError('MERGE_NOT_IN_VOCAB', `${where} (${JSON.stringify(`${a} ${b}`)}): the merge result ${JSON.stringify(merged)} is not in the vocabulary`);
      }
      this.merges.set(a + ' ' + b, { rank: i, merged });
    });
  }

  /** Reads `vocab.json` and `merges.txt` from `dir` (synchronously). */
  static fromDir(dir: string): ClipTokenizer {
    const vocabPath = join(dir, 'vocab.json');
    const mergesPath = join(dir, 'merges.txt');
    const read = (p: string): string => {
      try {
        return readFileSync(p, 'utf8');
      } catch (err) {
        throw new TokenizerError('FILE_UNREADABLE', `${p}: cannot read the CLIP tokenizer file (${(err as Error).message})`);
      }
    };
    return ClipTokenizer.fromFiles(read(vocabPath), read(mergesPath), { vocabName: vocabPath, mergesName: mergesPath });
  }

  /**
   * Builds a tokenizer from the text of `vocab.json` (an object of token → id) and `merges.txt`
   * (an optional first line `#version: …`, then one merge "a b" a line, rank = order; blank
   * lines are ignored; CRLF and a BOM are accepted).
   */
  static fromFiles(vocabJsonText: string, mergesText: string, opts: FromFilesOptions = {}): ClipTokenizer {
    const vocabName = opts.vocabName ?? 'vocab.json';
    const mergesName = opts.mergesName ?? 'merges.txt';
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(vocabJsonText).replace(/^\ufeff/, ''));
    } catch (err) {
      throw new TokenizerError('BAD_JSON', `${vocabName}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      const got = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed;
      throw new TokenizerError('BAD_VOCAB', `${vocabName}: expected a JSON object of token → id, got ${got}`);
    }
    const vocab = new Map<string, unknown>(Object.entries(parsed as Record<string, unknown>));

    const merges: Array<[string, string]> = [];
    const mergeLines: number[] = [];
    String(mergesText)
      .replace(/^\ufeff/, '')
      .split('\n')
      .forEach((raw, i) => {
        const line = raw.replace(/\r$/, '');
        if (i === 0 && line.startsWith('#version')) return;
        if (line.trim() === '') return;
        const parts = line.trim().split(/\s+/);
        if (parts.length !== 2) {
          const shown = JSON.stringify(line.length > 80 ? line.slice(0, 80) + '…' : line);
          throw new TokenizerError('BAD_MERGE', `${mergesName}:${i + 1}: expected two symbols separated by a space, got ${shown}`);
        }
        merges.push([parts[0]!, parts[1]!]);
        mergeLines.push(i + 1);
      });
    return new ClipTokenizer(vocab, merges, { vocabName, mergesName, mergeLines });
  }

  /**
   * Size of an embedding table that holds every id (largest id + 1; for CLIP's vocabulary, whose
   * ids are 0 … 49407, this is also the number of entries: 49,408).
   */
  get vocabSize(): number {
    return this._vocabSize;
  }
  get startId(): number {
    return this._startId;
  }
  get endId(): number {
    return this._endId;
  }

  /** Ids of one byte-encoded pre-token (cached). */
  private bpe(word: string, text: string): readonly number[] {
    const hit = this.cache.get(word);
    if (hit !== undefined) return hit;
    const pieces = this.bpeSymbols(word);
    const ids: number[] = new Array<number>(pieces.length);
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      const id = this.encoder.get(p);
      if (id === undefined) {
        const preview = text.length > 60 ? text.slice(0, 60) + '…' : text;
        throw new TokenizerError('UNKNOWN_SYMBOL', `the symbol ${JSON.stringify(p)} (from the word ${JSON.stringify(word.length > 40 ? word.slice(0, 40) + '…' : word)} of ${JSON.stringify(preview)}) is not in the vocabulary`);
      }
      ids[i] = id;
    }
    if (word.length <= CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) {
        this.cache.clear();
      }
      this.cache.set(word, ids);
    }
    return ids;
  }

  /** CLIP's `bpe()`: the merged symbols of one byte-encoded word (last symbol with `</w>`). */
  private bpeSymbols(word: string): string[] {
    const n = word.length;
    // symbols are single UTF-16 units (bytes_to_unicode only yields code points < 0x200)
    const sym: string[] = new Array<string>(n);
    for (let i = 0; i < n; i++) sym[i] = word[i]!;
    sym[n - 1] = sym[n - 1]! + END_OF_WORD;
    if (n === 1) return sym;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    const heap = new PairHeap();
    const rankAt = (i: number): number => {
      const j = next[i]!;
      if (j < 0) return -1;
      const m = this.merges.get(sym[i]! + ' ' + sym[j]!);
      return m === undefined ? -1 : m.rank;
    };
    for (let i = 0; i + 1 < n; i++) {
      const r = rankAt(i);
      if (r >= 0) heap.push(r, i);
    }
    const batch: number[] = [];
    while (heap.size > 0) {
      // take every queued occurrence of the best-ranked pair, in left-to-right order; pairs
      // created while merging them never have this rank, so CLIP's one-pass-per-pair semantics
      // hold even when a new pair ranks better.
      const rank = heap.topRank();
      batch.length = 0;
      while (heap.size > 0 && heap.topRank() === rank) batch.push(heap.pop());
      const created: number[] = [];
      for (const i of batch) {
        if (!alive[i] || rankAt(i) !== rank) continue; // stale (a neighbour was merged)
        const j = next[i]!;
        sym[i] = sym[i]! + sym[j]!;
        alive[j] = 0;
        const k = next[j]!;
        next[i] = k;
        if (k >= 0) prev[k] = i;
        created.push(i);
      }
      for (const i of created) {
        if (!alive[i]) continue;
        const p = prev[i]!;
        if (p >= 0) {
          const r = rankAt(p);
          if (r >= 0) heap.push(r, p);
        }
        const r = rankAt(i);
        if (r >= 0) heap.push(r, i);
      }
    }
    const out: string[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
    return out;
  }

  /** The ids of `text` without start/end ids. */
  encodeBody(text: string): number[] {
    if (typeof text !== 'string') {
      throw new TokenizerError('BAD_ARGUMENT', `encode: expected a string, got ${text === null ? 'null' : typeof text}`);
    }
    const out: number[] = [];
    const tokens = preTokenize(cleanText(text));
    for (const t of tokens) {
      if (t === START_TOKEN) {
        out.push(this._startId);
        continue;
      }
      if (t === END_TOKEN) {
        out.push(this._endId);
        continue;
      }
      let w: string;
      if (PRINTABLE_ASCII.test(t)) {
        w = t; // bytes_to_unicode maps printable ASCII to itself
      } else {
        w = '';
        for (const b of Buffer.from(t, 'utf8')) w += BYTE_ENCODER[b]!; // lone surrogates → U+FFFD
      }
      const ids = this.bpe(w, text);
      for (const id of ids) out.push(id);
    }
    return out;
  }

  /** Ids of `text`: `[startId, …, endId]`, any length (an empty text gives `[startId, endId]`). */
  encode(text: string): number[] {
    const body = this.encodeBody(text);
    const out = new Array<number>(body.length + 2);
    out[0] = this._startId;
    for (let i = 0; i < body.length; i++) out[i + 1] = body[i]!;
    out[body.length + 1] = this._endId;
    return out;
  }

  /**
   * Ids of `text` fitted to `contextLength` but not padded: too long → a TOO_LONG error, or with
   * `truncate` the first `contextLength` ids with the last replaced by the end id.
   * `label` names the text in the error (default: the text itself, shortened).
   */
  encodeFitted(text: string, opts: { contextLength?: number; truncate?: boolean } = {}, label?: string): number[] {
    const ctx = checkContextLength(opts.contextLength);
    const ids = this.encode(text);
    if (ids.length <= ctx) return ids;
    if (opts.truncate) {
      const cut = ids.slice(0, ctx);
      cut[ctx - 1] = this._endId;
      return cut;
    }
    const preview = JSON.stringify(text.length > 60 ? text.slice(0, 60) + '…' : text);
    throw new TokenizerError(
      'TOO_LONG',
      `${label ?? 'text'} ${preview} has ${ids.length} tokens (with start and end), more than the context length ${ctx}; shorten it or pass truncate`,
    );
  }

  /**
   * Tokenizes `texts` into an Int32Array of shape [texts.length, contextLength] (row-major):
   * start id, the text's ids, end id, then `padId` (default 0, as openai/CLIP pads).
   */
  encodeBatch(texts: readonly string[], opts: EncodeBatchOptions = {}): Int32Array {
    const ctx = checkContextLength(opts.contextLength);
    const padId = opts.padId ?? 0;
    if (!Number.isInteger(padId) || padId < 0 || padId > 0x7fffffff) {
      throw new TokenizerError('BAD_ARGUMENT', `encodeBatch: padId must be a non-negative integer, got ${String(padId)}`);
    }
    if (!Array.isArray(texts)) throw new TokenizerError('BAD_ARGUMENT', 'encodeBatch: expected an array of strings');
    const out = new Int32Array(texts.length * ctx);
    if (padId !== 0) out.fill(padId);
    texts.forEach((t, i) => {
      const ids = this.encodeFitted(t, { contextLength: ctx, truncate: opts.truncate ?? false }, `text ${i}`);
      out.set(ids, i * ctx);
    });
    return out;
  }

  /**
   * Text of `ids`: tokens joined, `</w>` → space, bytes decoded as UTF-8 (invalid sequences →
   * U+FFFD), outer whitespace trimmed (as Hugging Face's CLIPTokenizer). Special tokens: see
   * DecodeOptions. An id not in the vocabulary is an UNKNOWN_ID error.
   */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const keep = opts.keepSpecial ?? false;
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!keep) {
        if (id === this._startId) continue;
        if (id === this._endId) break;
      }
      const tok = this.decoder.get(id);
      if (tok === undefined) {
        throw new TokenizerError('UNKNOWN_ID', `decode: id ${String(id)} at position ${i} is not in the vocabulary`);
      }
      const body = tok.endsWith(END_OF_WORD) ? tok.slice(0, -END_OF_WORD.length) : tok;
      for (const ch of body) {
        const b = BYTE_DECODER.get(ch);
        if (b !== undefined) bytes.push(b);
        else for (const x of Buffer.from(ch, 'utf8')) bytes.push(x);
      }
      if (body !== tok) bytes.push(0x20);
    }
    return Buffer.from(bytes).toString('utf8').trim();
  }
}

function checkContextLength(n: number | undefined): number {
  const ctx = n ?? DEFAULT_CONTEXT_LENGTH;
  if (!Number.isInteger(ctx) || ctx < 2) {
    throw new TokenizerError('BAD_ARGUMENT', `contextLength must be an integer ≥ 2 (room for the start and end ids), got ${String(n)}`);
  }
  return ctx;
}
