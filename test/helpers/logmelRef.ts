// test/helpers/logmelRef.ts — float64 log-mel reference, written from the definition in
// native/core/include/merclip/logmel.h without sharing code with it: naive DFT (exact angles
// 2π·(jk mod 512)/512), the Slaney mel scale and librosa's filterbank steps from their formulas,
// the filterbank rounded to float32 (librosa returns float32 weights; so does the core).

const SR = 16000, NFFT = 512, FRAME = 400, HOP = 160, BINS = 80, FREQS = NFFT / 2 + 1;

export function refFrames(n: number): number {
  return n === 0 ? 0 : 1 + Math.ceil(Math.max(0, n - FRAME) / HOP);
}

function hzToMel(f: number): number {
  const fsp = 200 / 3, logstep = Math.log(6.4) / 27;
  return f >= 1000 ? 1000 / fsp + Math.log(f / 1000) / logstep : f / fsp;
}
function melToHz(m: number): number {
  const fsp = 200 / 3, logstep = Math.log(6.4) / 27;
  return m >= 1000 / fsp ? 1000 * Math.exp(logstep * (m - 1000 / fsp)) : fsp * m;
}

let cachedFb: Float64Array | undefined;
/** [80, 257] librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0, fmax=8000, norm='slaney'). */
export function refMelFilterbank(): Float64Array {
  if (cachedFb) return cachedFb;
  const top = hzToMel(SR / 2);
  const f = Array.from({ length: BINS + 2 }, (_, i) => melToHz((top * i) / (BINS + 1)));
  const fb = new Float64Array(BINS * FREQS);
  for (let m = 0; m < BINS; m++) {
    for (let k = 0; k < FREQS; k++) {
      const hz = (k * SR) / NFFT;
      const w = Math.max(0, Math.min((hz - f[m]!) / (f[m + 1]! - f[m]!), (f[m + 2]! - hz) / (f[m + 2]! - f[m + 1]!)));
      fb[m * FREQS + k] = Math.fround(w * (2 / (f[m + 2]! - f[m]!)));
    }
  }
  cachedFb = fb;
  return fb;
}

export interface RefLogMel {
  /** [T, 80] log-mel in float64. */
  logmel: Float64Array;
  /** [T] windowed frame energy Σ (w·x)² (the mean of |X[k]|² over the 512 bins, by Parseval). */
  energy: Float64Array;
  frames: number;
}

export function refLogMel(x: Float32Array): RefLogMel {
  const T = refFrames(x.length);
  const fb = refMelFilterbank();
  const cos = new Float64Array(NFFT), sin = new Float64Array(NFFT);
  for (let i = 0; i < NFFT; i++) {
    cos[i] = Math.cos((2 * Math.PI * i) / NFFT);
    sin[i] = Math.sin((2 * Math.PI * i) / NFFT);
  }
  const logmel = new Float64Array(T * BINS), energy = new Float64Array(T);
  const v = new Float64Array(FRAME), power = new Float64Array(FREQS);
  for (let t = 0; t < T; t++) {
    let e = 0;
    for (let j = 0; j < FRAME; j++) {
      const i = t * HOP + j;
      v[j] = i < x.length ? (0.5 - 0.5 * Math.cos((2 * Math.PI * j) / FRAME)) * x[i]! : 0;
      e += v[j]! * v[j]!;
    }
    energy[t] = e;
    for (let k = 0; k < FREQS; k++) {
      let re = 0, im = 0;
      for (let j = 0; j < FRAME; j++) {
        const a = (j * k) % NFFT;
        re += v[j]! * cos[a]!;
        im -= v[j]! * sin[a]!;
      }
      power[k] = re * re + im * im;
    }
    for (let m = 0; m < BINS; m++) {
      let s = 0;
      for (let k = 0; k < FREQS; k++) s += fb[m * FREQS + k]! * power[k]!;
      logmel[t * BINS + m] = Math.log(Math.max(s, 1e-10));
    }
  }
  return { logmel, energy, frames: T };
}

/** Worst ratio |got − ref| / tol over all elements, tol = 1e-4 + 3e-8·E_t / exp(ref) (the rule
 *  of native/core/tests/test_logmel.cc: 1e-4 on log values where a band holds a fair share of
 *  the frame's energy, and an absolute float32-FFT error bound, relative to the frame's energy,
 *  for bands far below it). */
export function logmelExcess(got: Float32Array, ref: RefLogMel): { worstRatio: number; worstIndex: number; maxAbs: number } {
  let worstRatio = 0, worstIndex = -1, maxAbs = 0;
  for (let i = 0; i < ref.logmel.length; i++) {
    const r = ref.logmel[i]!;
    const e = ref.energy[Math.floor(i / BINS)]!;
    const tol = 1e-4 + (3e-8 * e) / Math.max(Math.exp(r), 1e-10);
    const d = Math.abs(got[i]! - r);
    if (!(d / tol <= worstRatio)) { worstRatio = d / tol; worstIndex = i; }
    if (!(d <= maxAbs)) maxAbs = d;
  }
  return { worstRatio, worstIndex, maxAbs };
}
