// lib/model/extract.ts — raw utterances (a manifest: transcripts, frames, WAV files) → the
// package's dataset file, with the frozen towers run once (`merclip extract`), so training does
// not re-run them every epoch.
//
// The features are computed by the model's own featurize() (raw.ts) — the very code predict()
// runs on raw inputs — with a MerClip whose text and vision modalities have `source: 'clip'`
// (the text tower is the label encoder's) and whose audio has `source: 'logmel'`. So a model
// trained on the extracted file and given raw inputs later computes the same features it was
// trained on (test/model/extract.test.ts checks the equality).
//
// Provenance (metadata `merclip.extract`, JSON): the manifest (path, SHA-256), the CLIP directory
// (path, SHA-256 of its model.safetensors, its config) and each modality's source settings
// (`modalities`, what config.modalities must say). `merclip train` reads it back
// (extractedConfig) and refuses a --clip whose weights differ from the ones the features came
// from.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename, resolve } from 'node:path';

import type { Clip } from '../clip/model.js';
import { MODALITIES, type DataSplit, type ModalityData } from '../data/batch.js';
import type { DatasetSplits } from '../data/file.js';
import { readManifest, type ManifestEntry } from '../data/manifest.js';
import { SPLITS, type SplitName } from '../data/synth.js';
import type { Sample } from './batch.js';
import { configFromClip } from './clipWeights.js';
import { makeConfig, type MerClipConfig, type Modality, withLogMelAudio } from './config.js';
import { MerClip } from './merclip.js';
import { featurize } from './raw.js';

export const EXTRACT_METADATA_KEY = 'merclip.extract';

export interface ExtractOptions {
  /** The manifest (JSON Lines; lib/data/manifest.ts). */
  manifest: string;
  /** The Hugging Face CLIP directory the towers come from, loaded (Clip.fromPretrained). */
  clip: Clip;
  clipDir: string;
  /** Per-frame embedding: 'projected' (CLIP's image embedding, default) or 'pooled'. */
  visionEmbedding?: 'projected' | 'pooled';
  /** Utterances per tower batch (default 32). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ExtractProvenance {
  version: 1;
  manifest: { file: string; sha256: string; utterances: number };
  clip: { dir: string; sha256: string };
  /** What config.modalities must hold for a model trained on these features. */
  modalities: MerClipConfig['modalities'];
}

export interface ExtractResult {
  splits: DatasetSplits;
  metadata: Record<string, string>;
  provenance: ExtractProvenance;
  /** The config the features were computed with (sources, dims; the rest is the tiny preset's). */
  config: MerClipConfig;
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * `base` with the sources extraction uses: text through the label encoder's CLIP text tower
 * (frozen), vision through the CLIP vision tower (frozen; `embedding` per frame), audio as log-mel
 * frames.
 */
export function extractConfig(clip: Clip, embedding: 'projected' | 'pooled', base: MerClipConfig): MerClipConfig {
  return withLogMelAudio(configFromClip(clip, base, { text: { tower: 'label', frozen: true }, ...(clip.config.vision_config ? { vision: { embedding, frozen: true } } : {}) }));
}

/** The raw sample of a manifest entry, as predict() takes it. */
export function sampleOf(e: ManifestEntry): Sample {
  const s: Sample = {};
  if (e.text !== undefined) s.text = e.text;
  if (e.frames) s.vision = { frames: e.frames, ...(e.fps !== undefined ? { fps: e.fps } : {}) };
  if (e.audio !== undefined) s.audio = e.audio;
  return s;
}

/** Feature samples (featurize's output) → one split, each modality padded to its longest. */
function splitOf(entries: ManifestEntry[], feats: Sample[], config: MerClipConfig): DataSplit {
  const N = entries.length;
  const modality = (m: Modality): ModalityData => {
    const D = config.modalities[m].dim;
    // featurize hands back every present modality as { features: Float32Array [L, D] }
    const rows = feats.map((s) => (s[m] as { features: Float32Array } | undefined)?.features ?? new Float32Array(0));
    const L = rows.reduce((mx, r) => Math.max(mx, r.length / D), 0);
    const features = new Float32Array(N * L * D);
    const lengths = new Int32Array(N);
    rows.forEach((r, i) => {
      features.set(r, i * L * D);
      lengths[i] = r.length / D;
    });
    return { features, lengths, length: L, dim: D };
  };
  return {
    count: N,
    ids: entries.map((e) => e.id),
    labels: Float32Array.from(entries, (e) => e.label),
    text: modality('text'),
    audio: modality('audio'),
    vision: modality('vision'),
  };
}

/** Runs the towers and the audio front end over a manifest (see the header). */
export async function extractDataset(opts: ExtractOptions): Promise<ExtractResult> {
  const entries = readManifest(opts.manifest);
  const config = extractConfig(opts.clip, opts.visionEmbedding ?? 'projected', makeConfig('tiny'));
  const model = await MerClip.fromClip(config, opts.clip);
  const total = entries.length;
  let done = 0;
  const splits: DatasetSplits = {};
  for (const split of SPLITS) {
    const part = entries.filter((e) => e.split === split);
    if (part.length === 0) continue;
    const base = done;
    const feats = await featurize(model, part.map(sampleOf), {
      batchSize: opts.batchSize ?? 32,
      onProgress: (n: number) => opts.onProgress?.(base + n, total),
    });
    done += part.length;
    splits[split as SplitName] = splitOf(part, feats, config);
  }
  const weights = resolve(opts.clipDir, 'model.safetensors');
  const provenance: ExtractProvenance = {
    version: 1,
    manifest: { file: resolve(opts.manifest), sha256: await sha256File(opts.manifest), utterances: total },
    clip: { dir: resolve(opts.clipDir), sha256: await sha256File(weights) },
    modalities: Object.fromEntries(MODALITIES.map((m) => [m, config.modalities[m]])) as MerClipConfig['modalities'],
  };
  const metadata = {
    source: `merclip extract ${basename(opts.manifest)} (CLIP ${basename(resolve(opts.clipDir))})`,
    [EXTRACT_METADATA_KEY]: JSON.stringify(provenance),
  };
  return { splits, metadata, provenance, config };
}

/** The provenance of an extracted dataset file's metadata, or null for other dataset files. */
export function extractProvenance(metadata: Record<string, string>, file: string): ExtractProvenance | null {
  const raw = metadata[EXTRACT_METADATA_KEY];
  if (raw === undefined) return null;
  let p: ExtractProvenance;
  try {
    p = JSON.parse(raw) as ExtractProvenance;
  } catch (err) {
    throw new Error(`${file}: metadata ${EXTRACT_METADATA_KEY} is not valid JSON (${(err as Error).message})`);
  }
  if (p?.version !== 1 || typeof p.clip?.sha256 !== 'string' || typeof p.modalities !== 'object' || p.modalities === null) {
    throw new Error(`${file}: metadata ${EXTRACT_METADATA_KEY} is not an extract provenance of version 1`);
  }
  return p;
}

/**
 * The model config for training on an extracted file: the CLIP directory's towers (checked to be
 * the ones the features came from), the recorded sources, the data's lengths; `base` gives the
 * rest (width, heads, …).
 */
export async function extractedConfig(p: ExtractProvenance, clip: Clip, clipDir: string, file: string, base: MerClipConfig): Promise<MerClipConfig> {
  const sha = await sha256File(resolve(clipDir, 'model.safetensors'));
  if (sha !== p.clip.sha256) {
    throw new Error(`${file} was extracted with the CLIP weights in ${p.clip.dir} (SHA-256 ${p.clip.sha256.slice(0, 12)}…), ` +
      `but ${resolve(clipDir)} holds others (${sha.slice(0, 12)}…): pass the same --clip, or extract again`);
  }
  const vision = p.modalities.vision as { clip?: { embedding?: 'projected' | 'pooled' } };
  const config = extractConfig(clip, vision.clip?.embedding ?? 'projected', base);
  for (const m of MODALITIES) config.modalities[m] = { ...config.modalities[m], ...p.modalities[m] };
  return config;
}
