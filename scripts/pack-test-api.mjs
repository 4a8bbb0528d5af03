// scripts/pack-test-api.mjs — the "small API script" of the packaging test (scripts/pack-test.sh):
// run from a project that installed the packed tarball, it imports merclip by name and checks
//   1. the addon is the expected one (argv[3]: prebuilt or local; argv[4]: <platform>-<arch> dir)
//   2. kernels.gemm against a float64 triple loop
//   3. MerClip.load(argv[2]) + predict() on synthetic features: a label distribution over the
//      model's labels (sums to 1), the score Σ p·v, the argmax label; the same input twice gives
//      the same answer, another input another one
//   4. raw inputs: the native log-mel of a tone (80 bins, the framing rule, a peak in the tone's
//      band) and, on x64, a PNG decoded by sharp (installed from npm with the package, no scripts)
// Prints one JSON line; exits 1 with the reason on any failure.
import { audio, backend, decodeFrame, kernels, MerClip } from 'merclip';

const [modelDir, wantSource, wantDir] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`pack-test-api: ${msg}`);
  process.exit(1);
};

const info = backend.info();
if (wantSource && info.addonSource !== wantSource) fail(`addon source ${info.addonSource}, expected ${wantSource} (${info.addonReason})`);
if (wantDir && !info.addonPath.endsWith(`/prebuilds/${wantDir}/merclip.node`)) fail(`addon ${info.addonPath}, expected prebuilds/${wantDir}`);

// GEMM against float64
const m = 13, n = 17, k = 29;
const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(0.37 * i));
const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(0.11 * i));
const c = kernels.gemm({ a, b, m, n, k });
let gemmErr = 0;
for (let i = 0; i < m; i++) {
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
    gemmErr = Math.max(gemmErr, Math.abs(s - c[i * n + j]));
  }
}
if (!(gemmErr < 1e-4)) fail(`gemm differs from the float64 reference by ${gemmErr}`);

// predict with a saved model
let rng = 12345;
const rand = () => ((rng = (rng * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
const feats = (rows, dim) => Float32Array.from({ length: rows * dim }, rand);
const sample = () => ({ text: { features: feats(50, 768), length: 31 }, audio: feats(375, 5), vision: { features: feats(500, 20), length: 400 } });
const model = await MerClip.load(modelDir);
const s1 = sample();
const s2 = sample();
const [p1, p2] = await model.predict([s1, s2]);
const again = await model.predict(s1);
await model.close();
for (const p of [p1, p2]) {
  const sum = p.probs.reduce((x, y) => x + y, 0);
  if (p.probs.length !== 7 || Math.abs(sum - 1) > 1e-4) fail(`probs ${JSON.stringify(p.probs)} (want 7 summing to 1)`);
  if (typeof p.label !== 'string' || p.probs.indexOf(Math.max(...p.probs)) < 0 || !Number.isFinite(p.score)) fail(`bad prediction ${JSON.stringify(p)}`);
}
// alone vs in a batch of 2: equal up to fp32 summation order (a GEMM over <= 8 rows may take the
// dot-product form, over more rows the packed one)
const drift = Math.max(...again.probs.map((v, i) => Math.abs(v - p1.probs[i])));
if (again.probs.length !== p1.probs.length || !(drift <= 1e-6)) fail(`the same sample predicted twice gave different answers (max |diff| ${drift})`);
if (JSON.stringify(p1.probs) === JSON.stringify(p2.probs)) fail('two different samples gave the same answer');
// raw inputs: log-mel of a 1 kHz tone (16 kHz, 0.5 s) and a 2×2 PNG through sharp
const tone = Float32Array.from({ length: 8000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000));
const lm = await audio.audioFeatures({ waveform: tone, sampleRate: 16000 });
const frames = 1 + Math.ceil((8000 - 400) / 160);
if (lm.length !== frames * 80) fail(`log-mel of 8000 samples has ${lm.length} values, expected ${frames} frames × 80`);
const row = Array.from(lm.subarray(10 * 80, 11 * 80));
const peak = row.indexOf(Math.max(...row));
if (peak < 20 || peak > 35) fail(`log-mel of a 1 kHz tone peaks in bin ${peak} (expected the 1 kHz band, bins 20–35)`);
let png = null;
if (process.arch === 'x64') {
  const bytes = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAFElEQVR4nGP4z8DAAMIM/////w8AH+4F+7C4l8kAAAAASUVORK5CYII=', 'base64');
  const f = await decodeFrame(new Uint8Array(bytes), 'pack-test png');
  png = Array.from(f.data);
  if (f.width !== 2 || f.height !== 2 || png.join(',') !== '255,0,0,0,255,0,0,0,255,255,255,255') fail(`sharp decoded the PNG as ${f.width}×${f.height} ${png}`);
}
console.log(JSON.stringify({ addon: info.addonPath, source: info.addonSource, simd: info.simdLevel, gemmErr, logmelPeakBin: peak, png, p1 }));
