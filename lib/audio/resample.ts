// lib/audio/resample.ts — band-limited resampling, any integer rate → any integer rate
// (windowed-sinc interpolation, polyphase when the ratio is a small rational).
//
// Output sample m sits at input time t_m = m · fsIn / fsOut (the first samples coincide) and is
//   y[m] = Σ_n x[n] · h(t_m − n),   h(τ) = 2fc · sinc(2fc·τ) · kaiser(τ / K),   |τ| < K,
// with x[n] = 0 outside the signal. fc (cycles per input sample) = rolloff · min(fsIn, fsOut) /
// (2 · fsIn): the −6 dB point sits at rolloff (0.95) × the lower Nyquist, and the stopband starts
// at that Nyquist, so the transition band is (1 − rolloff) · min(fsIn, fsOut) wide. The Kaiser
// window is sized for `stopbandDb` (80) by Kaiser's formulas: β = 0.1102 (A − 8.7), 2K =
// (A − 7.95) / (14.36 · Δ) taps for a transition Δ in cycles per input sample. Passband ripple is
// the same δ = 10^(−A/20) (1e-4 at 80 dB); each phase's taps are normalised to sum to 1 (exact
// DC gain).
//
// Polyphase: with g = gcd(fsIn, fsOut), L = fsOut / g, M = fsIn / g, t_m = m·M / L has only L
// distinct fractional parts r / L, so the taps are tabulated once per phase (L × 2K doubles)
// when that table is at most 4M entries. Otherwise (a ratio like 44100 → 16001) h is tabulated
// once on a grid of 1/1024 input sample over [0, K] and each output sample's taps are linearly
// interpolated from it (error ≤ (1/1024)²/8 · max|h''| ≈ 5e-6 relative, far below the 1e-4
// ripple), then normalised like the phases. Sums in float64, output rounded to float32 once.
//
// Length rule: the output has round(N · fsOut / fsIn) samples, halves rounded up, computed in
// exact integer arithmetic (resampledLength). Equal rates return a copy of the input.

export interface ResampleOptions {
  /** −6 dB point as a fraction of the lower Nyquist (0.5 … 0.999, default 0.95). */
  rolloff?: number;
  /** Stopband attenuation the Kaiser window is sized for, dB (40 … 160, default 80). */
  stopbandDb?: number;
}

const MAX_RATE = 2 ** 31 - 1;

function checkRate(fn: string, name: string, r: number): void {
  if (!Number.isInteger(r) || r < 1 || r > MAX_RATE) {
    throw new RangeError(`${fn}: expected ${name} to be an integer sample rate in [1, ${MAX_RATE}] Hz, received ${String(r)}`);
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** round(n · fsOut / fsIn), halves up, exactly. */
export function resampledLength(n: number, fsIn: number, fsOut: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`resampledLength: expected n to be an integer >= 0, received ${String(n)}`);
  checkRate('resampledLength', 'fsIn', fsIn);
  checkRate('resampledLength', 'fsOut', fsOut);
  const num = BigInt(n) * BigInt(fsOut) * 2n + BigInt(fsIn);
  return Number(num / (2n * BigInt(fsIn)));
}

/** Modified Bessel function of the first kind, order 0 (power series; converges for all x). */
function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1, sum = 1;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

interface Kernel { fc: number; halfWidth: number; beta: number; i0Beta: number }

function design(fsIn: number, fsOut: number, rolloff: number, stopbandDb: number): Kernel {
  const lower = Math.min(fsIn, fsOut);
  const fc = (rolloff * lower) / (2 * fsIn);
  const transition = ((1 - rolloff) * lower) / fsIn;
  const taps = (stopbandDb - 7.95) / (14.36 * transition);
  const halfWidth = Math.max(2, Math.ceil(taps / 2));
  const beta = stopbandDb > 50 ? 0.1102 * (stopbandDb - 8.7) : 0.5842 * (stopbandDb - 21) ** 0.4 + 0.07886 * (stopbandDb - 21);
  return { fc, halfWidth, beta, i0Beta: besselI0(beta) };
}

function h(k: Kernel, tau: number): number {
  const r = tau / k.halfWidth;
  if (r <= -1 || r >= 1) return 0;
  const u = 2 * k.fc * tau;
  const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
  return 2 * k.fc * sinc * (besselI0(k.beta * Math.sqrt(1 - r * r)) / k.i0Beta);
}

/** taps[j] = h(frac + K − 1 − j), j = 0 … 2K − 1 (input sample n0 − K + 1 + j), normalised. */
function fillTaps(k: Kernel, frac: number, taps: Float64Array, off: number): void {
  const K = k.halfWidth;
  let s = 0;
  for (let j = 0; j < 2 * K; j++) s += taps[off + j] = h(k, frac + K - 1 - j);
  const inv = 1 / s;
  for (let j = 0; j < 2 * K; j++) taps[off + j]! *= inv;
}

const GRID = 1024; // kernel samples per input sample in the interpolated (non-polyphase) path

/** h(i / GRID) for i = 0 … K·GRID + 1 (h is even). */
function kernelGrid(k: Kernel): Float64Array {
  const g = new Float64Array(k.halfWidth * GRID + 2);
  for (let i = 0; i < g.length; i++) g[i] = h(k, i / GRID);
  return g;
}

/** fillTaps from the grid: h(|τ|) linearly interpolated, then normalised. */
function fillTapsInterpolated(k: Kernel, grid: Float64Array, frac: number, taps: Float64Array): void {
  const K = k.halfWidth;
  let s = 0;
  for (let j = 0; j < 2 * K; j++) {
    const u = Math.abs(frac + K - 1 - j) * GRID;
    const i = Math.floor(u);
    const v = i + 1 < grid.length ? grid[i]! + (u - i) * (grid[i + 1]! - grid[i]!) : 0;
    s += taps[j] = v;
  }
  const inv = 1 / s;
  for (let j = 0; j < 2 * K; j++) taps[j]! *= inv;
}

/** x at fsIn → round(x.length · fsOut / fsIn) samples at fsOut (see the file header). */
export function resample(x: Float32Array, fsIn: number, fsOut: number, opts: ResampleOptions = {}): Float32Array {
  const fn = 'resample';
  if (!(x instanceof Float32Array)) throw new TypeError(`${fn}: expected x to be a Float32Array, received ${typeof x}`);
  checkRate(fn, 'fsIn', fsIn);
  checkRate(fn, 'fsOut', fsOut);
  const rolloff = opts.rolloff ?? 0.95;
  const stopbandDb = opts.stopbandDb ?? 80;
  if (!(rolloff >= 0.5 && rolloff <= 0.999)) throw new RangeError(`${fn}: expected rolloff in [0.5, 0.999], received ${String(rolloff)}`);
  if (!(stopbandDb >= 40 && stopbandDb <= 160)) throw new RangeError(`${fn}: expected stopbandDb in [40, 160], received ${String(stopbandDb)}`);
  if (fsIn === fsOut) return Float32Array.from(x);
  const g = gcd(fsIn, fsOut);
  const L = fsOut / g, M = fsIn / g;
  const k = design(fsIn, fsOut, rolloff, stopbandDb);
  const K = k.halfWidth, W = 2 * K;
  const n = x.length;
  const outLen = resampledLength(n, fsIn, fsOut);
  const out = new Float32Array(outLen);
  const tabulate = L * W <= 4 * 1024 * 1024;
  const table = new Float64Array(tabulate ? L * W : W);
  if (tabulate) for (let r = 0; r < L; r++) fillTaps(k, r / L, table, r * W);
  const grid = tabulate ? undefined : kernelGrid(k);
  let n0 = 0, r = 0; // t_m = n0 + r / L
  for (let m = 0; m < outLen; m++) {
    let off = 0;
    if (tabulate) off = r * W;
    else fillTapsInterpolated(k, grid!, r / L, table);
    const first = n0 - K + 1; // input index of tap 0
    const jLo = Math.max(0, -first), jHi = Math.min(W, n - first);
    let acc = 0;
    for (let j = jLo; j < jHi; j++) acc += x[first + j]! * table[off + j]!;
    out[m] = acc;
    r += M;
    if (r >= L) {
      n0 += Math.floor(r / L);
      r %= L;
    }
  }
  return out;
}
