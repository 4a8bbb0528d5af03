// test/serve/helpers.ts — a tiny saved model, samples, infer bodies, Prometheus text parsing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'vitest';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import { makeConfig, type MerClipConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import type { Prediction, Sample } from '../../lib/model/predict.js';
import { Rng } from '../../lib/tensor/index.js';

export const DIMS = { text: 12, audio: 5, vision: 6 } as const;
export const MAX = { text: 20, audio: 30, vision: 40 } as const;

export function tinyConfig(): MerClipConfig {
  return makeConfig('tiny', {
    width: 16,
    heads: 2,
    modalities: { text: { dim: DIMS.text, maxLength: MAX.text }, audio: { dim: DIMS.audio, maxLength: MAX.audio }, vision: { dim: DIMS.vision, maxLength: MAX.vision } },
    clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
  });
}

/** Saves a tiny random model to a fresh directory named `name`; returns its path. */
export async function saveTinyModel(name = 'tiny-mer'): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'merclip-serve-')), name);
  await new MerClip(tinyConfig(), undefined, { seed: 8 }).save(dir);
  return dir;
}

/** B samples with one padded length per modality (L) and random true lengths; audio absent for sample 1 when B > 1. */
export function batchOf(rng: Rng, B: number, L = { text: 7, audio: 11, vision: 9 }): { samples: Sample[]; body: Record<string, unknown> } {
  const inputs: Array<Record<string, unknown>> = [];
  const samples: Sample[] = Array.from({ length: B }, () => ({}));
  for (const m of ['text', 'audio', 'vision'] as const) {
    const D = DIMS[m];
    const data = rng.fillNormal(new Float32Array(B * L[m] * D));
    const lengths = Array.from({ length: B }, (_, b) => (m === 'audio' && b === 1 ? 0 : rng.int(1, L[m])));
    inputs.push({ name: m, datatype: 'FP32', shape: [B, L[m], D], data: Array.from(data) });
    inputs.push({ name: `${m}_lengths`, datatype: 'INT32', shape: [B], data: lengths });
    for (let b = 0; b < B; b++) samples[b]![m] = lengths[b] === 0 ? null : { features: data.slice(b * L[m] * D, (b + 1) * L[m] * D), length: lengths[b]! };
  }
  return { samples, body: { inputs } };
}

export interface OutputTensor { name: string; datatype: string; shape: number[]; data: Array<number | string>; parameters?: Record<string, unknown> }
export interface InferReply { model_name: string; id?: string; outputs: OutputTensor[]; error?: string }

/** The response's outputs as Predictions. */
export function predictionsOf(r: InferReply): Prediction[] {
  const get = (n: string): OutputTensor | undefined => r.outputs.find((o) => o.name === n);
  const probs = get('probs')!;
  const [B, C] = probs.shape as [number, number];
  const score = get('score');
  return Array.from({ length: B }, (_, b) => ({
    probs: (probs.data as number[]).slice(b * C, (b + 1) * C),
    score: score ? (score.data[b] as number) : null,
    label: get('label')!.data[b] as string,
  }));
}

/** Probabilities to 1e-6, the score (Σ p·v, |v| ≤ 3) to 3e-6: a few float32 ulps between batch compositions. */
export function expectSamePrediction(got: Prediction, want: Prediction): void {
  expect(got.label).toBe(want.label);
  if (want.score === null) expect(got.score).toBeNull();
  else expect(Math.abs(got.score! - want.score)).toBeLessThanOrEqual(3e-6);
  expect(got.probs).toHaveLength(want.probs.length);
  got.probs.forEach((p, c) => expect(Math.abs(p - want.probs[c]!)).toBeLessThanOrEqual(1e-6));
}

/** One sample value from Prometheus text exposition: `name{labels} value` (labels matched as a substring). */
export function metric(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '').includes(labels)) return Number(m[3]);
  }
  return 0;
}

export async function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; json: InferReply; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
  return { status: res.status, json: (await res.json()) as InferReply, headers: res.headers };
}

/** Polls until pred() holds (or throws after timeoutMs). */
export async function waitFor(pred: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export { Rng };
