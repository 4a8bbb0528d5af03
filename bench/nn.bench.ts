// bench/nn.bench.ts — the TypeScript layer's overhead: a MultiHeadAttention forward + backward
// (B 32, L 375, d 512, 8 heads, key padding: x [B, L, d] padded, every query row computed, the
// keys / values projected from the valid rows only) against the sum of the kernel calls it
// makes, timed alone on preallocated buffers (the valid rows' gather, 4 projection GEMMs with
// bias, the fused packed attention reading the [T, d] projections in place, and in the backward
// the GEMMs for dX / dW, the bias sums, the fused attention backward and the rows' scatter); and
// against PyTorch's nn.MultiheadAttention on the same shapes (SPEC §7). Also RSS and page faults
// per training step of the layer after warm-up (the buffer pool keeps them flat).
import { backend, kernels } from '../lib/index.js';
import { MultiHeadAttention } from '../lib/nn/index.js';
import { Rng, tidy, wrap } from '../lib/tensor/index.js';
import { measure, type Row } from './harness.js';
import type { MachineLimits } from './peak.js';
import { runTorch } from './torch.js';

const B = 32, L = 375, D = 512, H = 8, DH = D / H;

export function runNnBench(limits: MachineLimits): { rows: Row[]; results: unknown[] } {
  const rng = new Rng(1);
  const layer = new MultiHeadAttention(D, H, rng);
  const x = wrap(rng.fillNormal(new Float32Array(B * L * D)), [B, L, D], { requiresGrad: true });
  const dOut = rng.fillNormal(new Float32Array(B * L * D));
  const keyLengths = Int32Array.from({ length: B }, (_, i) => Math.round(L * (0.4 + (0.6 * i) / (B - 1))));

  const layerFwd = (): void => {
    tidy(() => {
      layer.forward(x, x, { keyLengths });
    });
  };
  const layerStep = (): void => {
    tidy(() => {
      layer.forward(x, x, { keyLengths }).backward(dOut);
    });
    layer.zeroGrad();
    x.grad?.dispose();
    x.grad = null;
  };

  // the same kernels on preallocated buffers
  const n = B * L * D;
  const buf = (): Float32Array => new Float32Array(n);
  const [q, k, v, o, att, dAtt, dq, dk, dv, dx, dTmp] = Array.from({ length: 11 }, buf) as Float32Array[];
  const lse = new Float32Array(B * H * L);
  const W = [layer.q_proj, layer.k_proj, layer.v_proj, layer.out_proj].map((l) => ({ w: l.weight.data, b: l.bias!.data, dw: new Float32Array(D * D), db: new Float32Array(D) }));
  const rows = B * L;
  const cuSeqlensQ = Int32Array.from({ length: B + 1 }, (_, b) => b * L);
  const cuSeqlensK = new Int32Array(B + 1);
  keyLengths.forEach((l, b) => { cuSeqlensK[b + 1] = cuSeqlensK[b]! + l; });
  const tk = cuSeqlensK[B]!;
  const xs = new Float32Array(tk * D), dxs = new Float32Array(tk * D), dxp = buf();
  const kk = k!.subarray(0, tk * D), vv = v!.subarray(0, tk * D), dkk = dk!.subarray(0, tk * D), dvv = dv!.subarray(0, tk * D);
  const shape = { batch: B, heads: H, headDim: DH, cuSeqlensQ, cuSeqlensK };
  // the valid rows' gather and its backward scatter, as ops.gatherRows does them (one row copy
  // each; the scatter zeroes the padding rows between)
  const gatherValid = (src: Float32Array, dst: Float32Array): void => {
    let o = 0;
    keyLengths.forEach((l, b) => { dst.set(src.subarray(b * L * D, (b * L + l) * D), o); o += l * D; });
  };
  const scatterValid = (src: Float32Array, dst: Float32Array): void => {
    let o = 0;
    keyLengths.forEach((l, b) => {
      dst.set(src.subarray(o, o + l * D), b * L * D);
      dst.fill(0, (b * L + l) * D, (b + 1) * L * D);
      o += l * D;
    });
  };
  const kernelFwd = (): void => {
    kernels.gemm({ a: x.data, b: W[0]!.w, bias: W[0]!.b, c: q!, m: rows, n: D, k: D, transB: true });
    gatherValid(x.data, xs);
    kernels.gemm({ a: xs, b: W[1]!.w, bias: W[1]!.b, c: kk, m: tk, n: D, k: D, transB: true });
    kernels.gemm({ a: xs, b: W[2]!.w, bias: W[2]!.b, c: vv, m: tk, n: D, k: D, transB: true });
    kernels.attentionForward({ ...shape, q: q!, k: kk, v: vv, out: att!, lse });
    kernels.gemm({ a: att!, b: W[3]!.w, bias: W[3]!.b, c: o!, m: rows, n: D, k: D, transB: true });
  };
  const kernelStep = (): void => {
    kernelFwd();
    // out_proj backward, attention backward, q/k/v projections backward (dx accumulates)
    kernels.gemm({ a: dOut, b: W[3]!.w, c: dAtt!, m: rows, n: D, k: D });
    kernels.gemm({ a: dOut, b: att!, c: W[3]!.dw, m: D, n: D, k: rows, transA: true });
    kernels.biasGrad({ dy: dOut, m: rows, n: D, dBias: W[3]!.db });
    kernels.attentionBackward({ ...shape, q: q!, k: kk, v: vv, out: att!, lse, dOut: dAtt!, dq: dq!, dk: dkk, dv: dvv });
    kernels.gemm({ a: dq!, b: W[0]!.w, c: dx!, m: rows, n: D, k: D, beta: 0 });
    kernels.gemm({ a: dq!, b: x.data, c: W[0]!.dw, m: D, n: D, k: rows, transA: true });
    kernels.biasGrad({ dy: dq!, m: rows, n: D, dBias: W[0]!.db });
    [dkk, dvv].forEach((g, j) => {
      const i = j + 1;
      kernels.gemm({ a: g, b: W[i]!.w, c: j === 0 ? dxs : dTmp!.subarray(0, tk * D), m: tk, n: D, k: D, beta: 0 });
      kernels.gemm({ a: g, b: xs, c: W[i]!.dw, m: D, n: D, k: tk, transA: true });
      kernels.biasGrad({ dy: g, m: tk, n: D, dBias: W[i]!.db });
    });
    kernels.addScaled({ x: dxs, y: dTmp!.subarray(0, tk * D), out: dxs });
    scatterValid(dxs, dxp);
    kernels.addScaled({ x: dx!, y: dxp, out: dx! });
  };

  const mLayerFwd = measure('mha layer forward', layerFwd, { maxTime: 4 });
  const mKernFwd = measure('mha kernels forward', kernelFwd, { maxTime: 4 });
  const mLayer = measure('mha layer fwd+bwd', layerStep, { maxTime: 6 });
  const mKern = measure('mha kernels fwd+bwd', kernelStep, { maxTime: 6 });
  // RSS and faults per step after warm-up
  const ru0 = process.resourceUsage();
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < 5; i++) layerStep();
  const faults = (process.resourceUsage().minorPageFault - ru0.minorPageFault) / 5;
  const rssGrowth = (process.memoryUsage().rss - rss0) / 2 ** 20;

  const flopsFwd = 4 * 2 * rows * D * D + 4 * B * H * L * L * DH;
  const torch = runTorch<{ torch: string; threads: number; forwardSeconds: number; forwardBackwardSeconds: number }>(
    'mha.py', { threads: backend.getNumThreads(), b: B, l: L, d: D, h: H, keyLengths: Array.from(keyLengths) }, backend.getNumThreads());
  const ms = (s: number): number => s * 1e3;
  const out: Row[] = [
    { case: `MHA forward B${B} L${L} d${D} h${H}`, 'layer ms': ms(mLayerFwd.median), 'kernels ms': ms(mKernFwd.median), 'overhead %': 100 * (mLayerFwd.median / mKernFwd.median - 1), '% peak': (100 * flopsFwd / mLayerFwd.median / 1e9) / limits.peakGflopsAll, 'torch ms': torch.ok ? ms(torch.data.forwardSeconds) : '-', 'vs torch': torch.ok ? torch.data.forwardSeconds / mLayerFwd.median : '-' },
    { case: 'MHA forward + backward', 'layer ms': ms(mLayer.median), 'kernels ms': ms(mKern.median), 'overhead %': 100 * (mLayer.median / mKern.median - 1), '% peak': (100 * 3 * flopsFwd / mLayer.median / 1e9) / limits.peakGflopsAll, 'torch ms': torch.ok ? ms(torch.data.forwardBackwardSeconds) : '-', 'vs torch': torch.ok ? torch.data.forwardBackwardSeconds / mLayer.median : '-' },
  ];
  console.log(`layer training step after warm-up: ${faults.toFixed(0)} minor page faults per step, RSS growth over 5 steps ${rssGrowth.toFixed(1)} MiB`);
  if (!torch.ok) console.log(`PyTorch comparison skipped: ${torch.reason}`);
  return {
    rows: out,
    results: [{ layerForward: mLayerFwd, kernelsForward: mKernFwd, layerStep: mLayer, kernelsStep: mKern, faultsPerStep: faults, rssGrowthMiB: rssGrowth, torch: torch.ok ? torch.data : { skipped: torch.reason } }],
  };
}
