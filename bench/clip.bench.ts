// bench/clip.bench.ts — the CLIP towers behind raw inputs (issue 18), random weights of the real
// ViT-B/32 size: frames/s through the vision tower (224², patch 32, width 768, 12 layers, 12
// heads, + visual_projection 768 → 512) at batch 32, transcripts/s through the text tower (width
// 512, 12 layers, 8 heads) at batch 32 — packed, causal, no padding — and the CPU work around
// them (CLIP preprocessing of 640×360 frames, tokenizing the transcripts).
//
// "% peak" counts GEMM + attention FLOPs (2 per multiply-add) of what is computed: vision per
// frame 2·49·3072·768 (patch embedding) + per layer 24·L·D² (q, k, v, out 4D², FFN 8D²) +
// 4·L²·D (scores and P·V), L = 50, + 2·768·512 (projection); text per layer 24·T·D² over the T
// real tokens + 2·Σ l²·D (causal attention over each transcript's own tokens). LayerNorm, GELU
// and softmax are left out (memory-bound, a few %). No timing is asserted.

import { defaultTokenizer } from '../lib/clip/assets.js';
import { preprocessImagesData, type RgbFrame } from '../lib/clip/image.js';
import { CLIP_TEXT_DEFAULTS, ClipTextTransformer } from '../lib/clip/text.js';
import { CLIP_VISION_DEFAULTS } from '../lib/clip/vision.js';
import type { RawTokens } from '../lib/model/batch.js';
import { encodeTranscripts, VisionTower } from '../lib/model/towers.js';
import { noGrad, Rng, tidy, wrap } from '../lib/tensor/index.js';
import { median, type Row } from './harness.js';
import type { MachineLimits } from './peak.js';

const B = 32;

function timeIt(fn: () => void, reps: number): number {
  fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    out.push((performance.now() - t0) / 1000);
  }
  return median(out);
}

const WORDS = 'i really loved the way it ended but the middle part was slow and honestly a bit boring to watch so not sure'.split(' ');

export function runClipBench(limits: MachineLimits): { rows: Row[]; results: unknown[] } {
  const rng = new Rng(1);
  const pct = (flops: number, s: number): number => (100 * flops / s / 1e9) / limits.peakGflopsAll;

  // ---- vision: ViT-B/32, one embedding per frame
  const vc = { ...CLIP_VISION_DEFAULTS };
  const vision = new VisionTower({ vision_config: vc, projection_dim: 512, embedding: 'projected', frozen: true, batchSize: B }, rng);
  const frames: RgbFrame[] = Array.from({ length: B }, () => ({ data: Uint8Array.from({ length: 640 * 360 * 3 }, () => rng.int(0, 255)), width: 640, height: 360, channels: 3 }));
  const pre = preprocessImagesData(frames, { size: 224, crop: 224 });
  const tPre = timeIt(() => void preprocessImagesData(frames, { size: 224, crop: 224 }), 3);
  const tVision = timeIt(() => noGrad(() => tidy(() => void vision.embed(wrap(pre.data, pre.shape)))), 3);
  const D = vc.hidden_size, L = 1 + (vc.image_size / vc.patch_size) ** 2, K = 3 * vc.patch_size ** 2;
  const visionFlops = B * (2 * (L - 1) * K * D + vc.num_hidden_layers * (2 * L * (4 * D * D + 2 * D * vc.intermediate_size) + 4 * L * L * D) + 2 * D * 512);

  // ---- text: ViT-B/32's text tower, 32 transcripts of 8 … 40 words
  const tc = { ...CLIP_TEXT_DEFAULTS };
  const text = new ClipTextTransformer(tc, rng);
  const tok = defaultTokenizer();
  const transcripts = Array.from({ length: B }, (_, i) => Array.from({ length: 8 + ((i * 7) % 33) }, () => WORDS[rng.int(0, WORDS.length - 1)]).join(' '));
  const tokenize = (): RawTokens => {
    const rows = transcripts.map((t) => tok.encodeFitted(t, { contextLength: 77, truncate: true }));
    return { ids: Int32Array.from(rows.flat()), lengths: Int32Array.from(rows, (r) => r.length) };
  };
  const raw = tokenize();
  const tTok = timeIt(() => void tokenize(), 3);
  const tText = timeIt(() => noGrad(() => tidy(() => void encodeTranscripts(text, raw))), 3);
  const T = raw.ids.length, Dt = tc.hidden_size;
  const sumSq = [...raw.lengths].reduce((s, l) => s + l * l, 0);
  const textFlops = tc.num_hidden_layers * (2 * T * (4 * Dt * Dt + 2 * Dt * tc.intermediate_size) + 2 * sumSq * Dt);

  const rows: Row[] = [
    { case: `vision tower ViT-B/32 (224², patch 32, 768 × 12) + projection, B${B} frames`, ms: tVision * 1e3, 'items/s': B / tVision, GFLOP: visionFlops / 1e9, 'GFLOP/s': visionFlops / tVision / 1e9, '% peak': pct(visionFlops, tVision) },
    { case: `CLIP preprocessing, B${B} frames 640×360 → 224² (JS; predict() runs it on its worker)`, ms: tPre * 1e3, 'items/s': B / tPre, GFLOP: '-', 'GFLOP/s': '-', '% peak': '-' },
    { case: `text tower ViT-B/32 (512 × 12), B${B} transcripts, ${T} tokens (mean ${(T / B).toFixed(1)}), packed`, ms: tText * 1e3, 'items/s': B / tText, GFLOP: textFlops / 1e9, 'GFLOP/s': textFlops / tText / 1e9, '% peak': pct(textFlops, tText) },
    { case: `CLIP tokenizer, B${B} transcripts`, ms: tTok * 1e3, 'items/s': B / tTok, GFLOP: '-', 'GFLOP/s': '-', '% peak': '-' },
  ];
  return {
    rows,
    results: [{
      batch: B, peakGflopsAll: limits.peakGflopsAll, simd: limits.simd, threads: limits.threads,
      vision: { seconds: tVision, framesPerSec: B / tVision, flops: visionFlops, pctPeak: pct(visionFlops, tVision), preprocessSeconds: tPre },
      text: { seconds: tText, transcriptsPerSec: B / tText, tokens: T, flops: textFlops, pctPeak: pct(textFlops, tText), tokenizeSeconds: tTok },
    }],
  };
}
