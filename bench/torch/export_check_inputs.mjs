// bench/torch/export_check_inputs.mjs — writes what bench/torch/merclip_check.py compares against:
// small random MerClip models saved with model.save(), a batch for each (random features, varied
// lengths, samples lacking a modality), the label token ids merclip's tokenizer gives, and
// merclip's logits / probs / score for that batch (forward under noGrad).
//
//   cd /work/main && npx tsc -p tsconfig.json        # dist/ must be current
//   node bench/torch/export_check_inputs.mjs OUT_DIR  # OUT_DIR/<case>/{config.json, model.safetensors, batch.json}
//   /usr/bin/python3 bench/torch/merclip_check.py OUT_DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { makeConfig } = await dist('model/config.js');
const { MerClip } = await dist('model/merclip.js');
const { noGrad, packSequences } = await dist('tensor/index.js');

const out = resolve(process.argv[2] ?? join(root, 'scratch', 'torch-check'));

// mulberry32: a small seeded generator for the batch (the weights come from merclip's own Rng)
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function normal(r) {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

const tinyText = (over = {}) => ({ ...makeConfig('tiny').clip.text_config, ...over });

const CASES = [
  {
    // the default order, 4 heads, one sample lacking audio, lengths from 1 to full
    name: 'default-order',
    seed: 1,
    config: {
      heads: 4,
      modalities: { text: { dim: 24, maxLength: 12 }, audio: { dim: 5, maxLength: 20 }, vision: { dim: 7, maxLength: 16 } },
    },
    batch: { count: 5, text: [12, [12, 7, 1, 9, 12]], audio: [20, [20, 0, 13, 3, 17]], vision: [16, [16, 5, 9, 1, 11]] },
  },
  {
    // another order (audio not in the model), deeper stacks, 2 heads, the CLIP tower pooling at
    // the first eos_token_id (49407) instead of argmax, a sample lacking vision, another text
    name: 'vision-text',
    seed: 7,
    config: {
      heads: 2,
      width: 32,
      encoderLayers: 2,
      decoderLayers: 3,
      modalityOrder: ['vision', 'text'],
      modalities: { text: { dim: 10, maxLength: 9 }, audio: { dim: 3, maxLength: 4 }, vision: { dim: 6, maxLength: 14 } },
      clip: { text_config: tinyText({ num_hidden_layers: 3, num_attention_heads: 2, eos_token_id: 49407 }), projection_dim: 48 },
      labels: ['happy', 'sad', 'angry', 'surprised and delighted'],
      labelValues: [1, -1, -2, 2],
      template: 'a photo of someone who is {label}',
    },
    batch: { count: 4, text: [9, [0, 9, 4, 2]], vision: [14, [14, 0, 6, 3]] },
  },
  {
    // the whole batch lacks audio (every length 0: the step is skipped), vision absent from the batch
    name: 'no-audio',
    seed: 3,
    config: { heads: 2, modalities: { text: { dim: 8, maxLength: 6 }, audio: { dim: 5, maxLength: 8 }, vision: { dim: 4, maxLength: 5 } } },
    batch: { count: 3, text: [6, [6, 2, 4]], audio: [8, [0, 0, 0]] },
  },
];

mkdirSync(out, { recursive: true });
for (const c of CASES) {
  const config = makeConfig('tiny', c.config);
  const model = new MerClip(config, undefined, { seed: c.seed });
  const dir = join(out, c.name);
  await model.save(dir);
  const r = rng(c.seed * 977 + 13);
  const batch = { count: c.batch.count };
  const inputs = {};
  for (const m of ['text', 'audio', 'vision']) {
    if (!c.batch[m]) continue;
    const [L, lens] = c.batch[m];
    const D = config.modalities[m].dim;
    const features = new Float32Array(c.batch.count * L * D);
    // values past a sample's length are garbage on purpose: they must not change the result
    for (let i = 0; i < features.length; i++) features[i] = normal(r);
    const lengths = Int32Array.from(lens);
    // the model reads the valid rows only (a PackedSequence); the garbage stays in the dense export
    batch[m] = packSequences(D, Array.from(lengths, (l, s) => features.subarray(s * L * D, (s * L + l) * D)));
    inputs[m] = { shape: [c.batch.count, L, D], lengths: Array.from(lengths), features: Array.from(features) };
  }
  const { ids, length } = model.labels.tokenize(config.labels);
  const res = noGrad(() => {
    const o = model.forward(batch);
    return { logits: Array.from(o.logits.data), probs: Array.from(o.probs.data), score: Array.from(o.score.data) };
  });
  const labelEmbeddings = noGrad(() => Array.from(model.labels.encode(config.labels).data));
  writeFileSync(join(dir, 'batch.json'), JSON.stringify({
    count: c.batch.count,
    inputs,
    labels: config.labels,
    labelValues: config.labelValues,
    labelIds: { shape: [config.labels.length, length], ids: Array.from(ids) },
    merclip: { ...res, labelEmbeddings },
  }));
  console.log(`${dir}: B=${c.batch.count} C=${config.labels.length} order=${config.modalityOrder.join(',')} label tokens [${config.labels.length}, ${length}]`);
}
await Promise.all([]);
process.exit(0);
