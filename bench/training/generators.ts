// bench/training/generators.ts — the robustness study's synthetic tasks (issue 21). They are
// deliberately unlike the demo's generator (lib/data/synth.ts): MMSA-style zero padding, each
// latent spread over a random 3-dimensional subspace whose mixing changes from token to token, a
// nuisance factor shared by all modalities, and five different ways the label depends on the
// modalities. Each returns train / valid / test DataSplits (800 / 150 / 400 by default, MOSI's
// feature dims) plus the noiseless label of every sample, so an oracle's ceiling is known.
//
//   per sample: z_t, z_a, z_v ~ N(0, 1) (the latents), q ~ N(0, 1) (a nuisance every modality sees)
//   per modality m: orthonormal directions u_1, u_2, u_3 (the latent's subspace) and w (the nuisance)
//   valid token t < n:  x_t = c·z_m·(a_t1 u_1 + a_t2 u_2 + a_t3 u_3) + 1.5·q·w + σ·ε_t, with a_t a
//                       fresh random unit mixing vector per token (a_t1 > 0, so the sign of z_m
//                       survives pooling along u_1) — the latent is spread over a subspace and
//                       jitters from token to token instead of sitting on one fixed axis
//   padding t ≥ n:      zeros (as MMSA pads); true lengths uniform in [⌈f·L⌉, L]
//   label:              y = round_{1/3}(clip(3·tanh(s(z)/κ) + N(0, 0.1²), −3, 3))
import type { DataSplit, ModalityData, ModalityName } from '../../lib/data/batch.js';
import { deriveSeed, Rng } from '../../lib/data/rng.js';

export interface StudyTask {
  name: string;
  what: string;
  /** s(z_t, z_a, z_v) before the tanh. */
  score: (zt: number, za: number, zv: number) => number;
  kappa: number;
  /** Signal scale c and noise σ per modality. */
  signal: Record<ModalityName, number>;
  noise: number;
  lengths: Record<ModalityName, { length: number; dim: number; minFraction: number }>;
}

const MOSI_DIMS = { text: 768, audio: 5, vision: 20 } as const;
const mosiLengths = { text: { length: 50, dim: 768, minFraction: 0.3 }, audio: { length: 375, dim: 5, minFraction: 0.3 }, vision: { length: 500, dim: 20, minFraction: 0.3 } };
const even = { text: 2, audio: 2, vision: 2 };

export const STUDY_TASKS: StudyTask[] = [
  { name: 'sum', what: 'additive: s = z_t + z_a + z_v', score: (t, a, v) => t + a + v, kappa: 2.5, signal: even, noise: 1, lengths: mosiLengths },
  { name: 'interaction', what: 'products: s = z_t·(z_a + z_v) + 0.3·(z_t + z_a + z_v)', score: (t, a, v) => t * (a + v) + 0.3 * (t + a + v), kappa: 1.7, signal: even, noise: 1, lengths: mosiLengths },
  { name: 'text-dominant', what: 's = 1.5·z_t + 0.35·(z_a + z_v)', score: (t, a, v) => 1.5 * t + 0.35 * (a + v), kappa: 1.8, signal: even, noise: 1, lengths: mosiLengths },
  { name: 'weak', what: 'additive, low SNR: signal 0.6, noise 1.5', score: (t, a, v) => t + a + v, kappa: 2.5, signal: { text: 0.6, audio: 0.6, vision: 0.6 }, noise: 1.5, lengths: mosiLengths },
  {
    name: 'short-long', what: 'additive, text 12 tokens, audio 60, vision 1000', score: (t, a, v) => t + a - v, kappa: 2.5, signal: even, noise: 1,
    lengths: { text: { length: 12, dim: 768, minFraction: 0.5 }, audio: { length: 60, dim: 5, minFraction: 0.2 }, vision: { length: 1000, dim: 20, minFraction: 0.3 } },
  },
];

export interface StudySplit extends DataSplit {
  /** 3·tanh(s/κ) without noise or quantisation (the oracle's prediction). */
  clean: Float32Array;
}

function orthonormal(rng: Rng, dim: number, count: number): Float64Array[] {
  const out: Float64Array[] = [];
  while (out.length < count) {
    const v = new Float64Array(dim);
    for (let d = 0; d < dim; d++) v[d] = rng.normal();
    for (const u of out) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += v[d]! * u[d]!;
      for (let d = 0; d < dim; d++) v[d] = v[d]! - dot * u[d]!;
    }
    let n = 0;
    for (let d = 0; d < dim; d++) n += v[d]! * v[d]!;
    if (n < 1e-8) continue;
    n = Math.sqrt(n);
    for (let d = 0; d < dim; d++) v[d] = v[d]! / n;
    out.push(v);
  }
  return out;
}

export function generateStudy(task: StudyTask, seed: number, sizes = { train: 800, valid: 150, test: 400 }): Record<'train' | 'valid' | 'test', StudySplit> {
  const mods: ModalityName[] = ['text', 'audio', 'vision'];
  const drng = new Rng(deriveSeed(seed, `study/${task.name}/directions`));
  const basis = {} as Record<ModalityName, Float64Array[]>;
  for (const m of mods) basis[m] = orthonormal(drng, task.lengths[m].dim, Math.min(4, task.lengths[m].dim));
  const out = {} as Record<'train' | 'valid' | 'test', StudySplit>;
  for (const split of ['train', 'valid', 'test'] as const) {
    const N = sizes[split];
    const rng = new Rng(deriveSeed(seed, `study/${task.name}/${split}`));
    const labels = new Float32Array(N);
    const clean = new Float32Array(N);
    const z = mods.map(() => new Float64Array(N));
    const q = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < 3; k++) z[k]![i] = rng.normal();
      q[i] = rng.normal();
      const c = 3 * Math.tanh(task.score(z[0]![i]!, z[1]![i]!, z[2]![i]!) / task.kappa);
      clean[i] = c;
      const y = Math.max(-3, Math.min(3, c + 0.1 * rng.normal()));
      labels[i] = Math.round(y * 3) / 3;
    }
    const data = {} as Record<ModalityName, ModalityData>;
    mods.forEach((m, k) => {
      const { length: L, dim: D, minFraction } = task.lengths[m];
      const U = basis[m];
      const sub = Math.min(3, U.length - (U.length > 3 ? 1 : 0));
      const w = U.length > 3 ? U[3]! : null;
      const features = new Float32Array(N * L * D);
      const lengths = new Int32Array(N);
      const c = task.signal[m];
      for (let i = 0; i < N; i++) {
        const n = rng.int(Math.max(1, Math.ceil(minFraction * L)), L);
        lengths[i] = n;
        for (let t = 0; t < n; t++) {
          // a random mixing inside the latent's subspace, first component kept positive
          const a = [Math.abs(rng.normal()) + 0.5, rng.normal(), rng.normal()].slice(0, sub);
          const an = Math.hypot(...a);
          const o = (i * L + t) * D;
          for (let d = 0; d < D; d++) {
            let v = task.noise * rng.normal();
            for (let j = 0; j < sub; j++) v += c * z[k]![i]! * (a[j]! / an) * U[j]![d]!;
            if (w) v += 1.5 * q[i]! * w[d]!;
            features[o + d] = v;
          }
        }
      }
      data[m] = { features, lengths, length: L, dim: D };
    });
    out[split] = { count: N, ids: Array.from({ length: N }, (_, i) => `${split}_${i}`), labels, clean, text: data.text, audio: data.audio, vision: data.vision };
  }
  return out;
}

export { MOSI_DIMS };
