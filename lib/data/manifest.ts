// lib/data/manifest.ts — the raw-input manifest `merclip extract` reads: JSON Lines, one utterance
// per line (blank lines and lines starting with # are skipped):
//
//   {"id": "vid1_3", "split": "train", "label": 1.4,
//    "text": "I loved it",                     // the transcript (optional)
//    "frames": ["f/0001.jpg", "f/0002.jpg"],   // image files, or one folder of them (optional)
//    "fps": 5,                                 // the frames' rate (optional, recorded only)
//    "audio": "wav/vid1_3.wav"}                // a WAV file (optional)
//
// Paths are relative to the manifest's folder (absolute paths are kept). A folder of frames means
// its image files (.jpg .jpeg .png .webp, any case) in natural order (frame2 before frame10).
// Every line must have at least one of text / frames / audio. Ids are unique over the file;
// split is train, valid or test; label a finite number. Every problem is a ManifestError naming
// the file and line; the whole file is checked before anything is returned, and files it names
// are checked to exist (their contents are read later, by the towers' decoders).

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';

import { SPLITS, type SplitName } from './synth.js';

export interface ManifestEntry {
  id: string;
  split: SplitName;
  label: number;
  text?: string;
  /** Absolute paths of the frames, in order. */
  frames?: string[];
  fps?: number;
  /** Absolute path of the WAV file. */
  audio?: string;
  /** 1-based line in the manifest. */
  line: number;
}

export class ManifestError extends Error {
  constructor(readonly file: string, readonly line: number | null, detail: string) {
    super(`${file}${line === null ? '' : `:${line}`}: ${detail}`);
    this.name = 'ManifestError';
  }
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp']);
const KEYS = new Set(['id', 'split', 'label', 'text', 'frames', 'fps', 'audio']);

/** The image files of a folder in natural order (numeric runs compared as numbers). */
export function framesInFolder(dir: string): string[] {
  const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  return readdirSync(dir)
    .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()) && statSync(join(dir, f)).isFile())
    .sort(collator.compare)
    .map((f) => join(dir, f));
}

/** Reads and checks a manifest (see the header). */
export function readManifest(file: string): ManifestEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManifestError(file, null, `cannot read the manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const base = dirname(resolve(file));
  const at = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  const entries: ManifestEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const line = i + 1;
    const bad = (detail: string): never => {
      throw new ManifestError(file, line, detail);
    };
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (err) {
      bad(`not valid JSON (${(err as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) bad('expected a JSON object per line');
    const r = obj as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!KEYS.has(k)) bad(`unknown key ${JSON.stringify(k)} (expected ${[...KEYS].join(', ')})`);
    if (typeof r.id !== 'string' || r.id === '') bad('"id" must be a non-empty string');
    const id = r.id as string;
    const dup = seen.get(id);
    if (dup !== undefined) bad(`id ${JSON.stringify(id)} already used on line ${dup}`);
    seen.set(id, line);
    if (typeof r.split !== 'string' || !SPLITS.includes(r.split as SplitName)) bad(`"split" must be one of ${SPLITS.join(', ')}, received ${JSON.stringify(r.split)}`);
    if (typeof r.label !== 'number' || !Number.isFinite(r.label)) bad(`"label" must be a finite number, received ${JSON.stringify(r.label)}`);
    const entry: ManifestEntry = { id, split: r.split as SplitName, label: r.label as number, line };
    if (r.text !== undefined && r.text !== null) {
      if (typeof r.text !== 'string') bad('"text" must be a string');
      entry.text = r.text as string;
    }
    if (r.frames !== undefined && r.frames !== null) {
      let frames: string[];
      if (typeof r.frames === 'string') {
        const dir = at(r.frames);
        if (!existsSync(dir) || !statSync(dir).isDirectory()) bad(`"frames": ${dir} is not a folder (give a folder of images or an array of image files)`);
        frames = framesInFolder(dir);
        if (frames.length === 0) bad(`"frames": the folder ${dir} holds no .jpg / .jpeg / .png / .webp file`);
      } else if (Array.isArray(r.frames)) {
        if (r.frames.length === 0) bad('"frames" is an empty array (leave it out when there are none)');
        frames = r.frames.map((f, k) => {
          if (typeof f !== 'string' || f === '') bad(`"frames"[${k}] must be a file path`);
          const p = at(f as string);
          if (!existsSync(p)) bad(`"frames"[${k}]: ${p} does not exist`);
          return p;
        });
      } else {
        frames = bad('"frames" must be a folder or an array of image files');
      }
      entry.frames = frames;
    }
    if (r.fps !== undefined && r.fps !== null) {
      if (typeof r.fps !== 'number' || !(r.fps > 0) || !Number.isFinite(r.fps)) bad(`"fps" must be a positive number, received ${JSON.stringify(r.fps)}`);
      entry.fps = r.fps as number;
    }
    if (r.audio !== undefined && r.audio !== null) {
      if (typeof r.audio !== 'string' || r.audio === '') bad('"audio" must be the path of a WAV file');
      const p = at(r.audio as string);
      if (!existsSync(p)) bad(`"audio": ${p} does not exist`);
      entry.audio = p;
    }
    if (entry.text === undefined && entry.frames === undefined && entry.audio === undefined) bad('the utterance has none of text, frames, audio');
    entries.push(entry);
  }
  if (entries.length === 0) throw new ManifestError(file, null, 'holds no utterance');
  return entries;
}
