// lib/backend/native.ts — the types of the raw addon (native/binding), nothing else.
//
// Every function takes ONE options object whose field names match the TypeScript wrappers in
// lib/kernels (so error messages read the same from both layers). Unlike the wrappers, the raw
// binding never allocates: every output buffer must be passed in, and it is overwritten.
// Every argument is validated natively before any pointer is read; bad input throws a TypeError
// (wrong type) or RangeError (bad size/length/value) whose message names the function and the
// argument: "<fn>: expected <arg> to be <what>, received <value>".

export type GeluApproximate = 'none' | 'tanh' | 'quick';
export type SimdLevelName = 'scalar' | 'avx2' | 'avx512' | 'neon';

export interface NativeGemmArgs {
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
  bias?: Float32Array | null;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
}

export interface NativeGemmBatchedArgs extends NativeGemmArgs {
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
}

/** Packed layout (native/core/include/merclip/attention.h): offsets [batch + 1], row strides. */
export interface NativeAttentionShape {
  batch: number;
  heads: number;
  headDim: number;
  maxSeqlenQ: number;
  maxSeqlenK: number;
  cuSeqlensQ: Int32Array;
  cuSeqlensK: Int32Array;
  qStride: number;
  kStride: number;
  vStride: number;
  scale: number;
  causal: boolean;
}

export interface NativeInfo {
  bindingApiVersion: number;
  buildSystem: 'node-gyp' | 'cmake-js';
  portable: boolean;
  compiler: string;
  compilerFlags: string;
  simdLevel: SimdLevelName;
  maxSimdLevel: SimdLevelName;
  builtWithAvx512: boolean;
  builtWithAvx2: boolean;
  cpuFeatures: Record<string, boolean>;
  threads: number;
  poolThreads: number;
  cuda: { compiled: boolean; deviceCount: number; devices: string[]; error?: string };
}

/** The kernels, named as the core's functions camelCased (merclip/<family>.h's layernorm_forward →
 *  layernormForward): each also exists as `<name>Async` (same arguments, runs on a libuv worker,
 *  returns a promise; invalid arguments reject it). */
export interface NativeOps {
  gemm(args: NativeGemmArgs): void;
  gemmBatched(args: NativeGemmBatchedArgs): void;
  layernormForward(args: {
    x: Float32Array; weight?: Float32Array | null; bias?: Float32Array | null;
    out: Float32Array; mean: Float32Array; rstd: Float32Array;
    rows: number; dim: number; eps: number;
  }): void;
  layernormBackward(args: {
    dOut: Float32Array; x: Float32Array; weight?: Float32Array | null;
    mean: Float32Array; rstd: Float32Array;
    dx: Float32Array; dWeight?: Float32Array | null; dBias?: Float32Array | null;
    rows: number; dim: number;
  }): void;
  geluForward(args: { x: Float32Array; out: Float32Array; approximate: GeluApproximate }): void;
  geluBackward(args: { dOut: Float32Array; x: Float32Array; dx: Float32Array; approximate: GeluApproximate }): void;
  softmaxForward(args: { x: Float32Array; out: Float32Array; rows: number; cols: number }): void;
  softmaxBackward(args: { dOut: Float32Array; out: Float32Array; dx: Float32Array; rows: number; cols: number }): void;
  /** Returns the mean loss. */
  softmaxXentForward(args: {
    logits: Float32Array; targets: Int32Array; lse: Float32Array; rows: number; cols: number;
  }): number;
  softmaxXentBackward(args: {
    logits: Float32Array; lse: Float32Array; targets: Int32Array; dLogits: Float32Array;
    rows: number; cols: number; dLoss: number;
  }): void;
  adamwStep(args: {
    param: Float32Array; grad: Float32Array; m: Float32Array; v: Float32Array;
    lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number;
  }): void;
  permute0213(args: { src: Float32Array; dst: Float32Array; a: number; b: number; c: number; d: number }): void;
  addScaled(args: { x: Float32Array; y: Float32Array; out: Float32Array; alpha: number }): void;
  sumSquares(args: { x: Float32Array }): number;
  cosineForward(args: {
    x: Float32Array; e: Float32Array; out: Float32Array; n: number; c: number; dim: number; scale: number; eps: number;
  }): void;
  cosineBackward(args: {
    dOut: Float32Array; out: Float32Array; x: Float32Array; e: Float32Array; dx: Float32Array; de: Float32Array;
    n: number; c: number; dim: number; scale: number; eps: number;
  }): void;
  cosinePairedForward(args: {
    h: Float32Array; e: Float32Array; out: Float32Array; batch: number; c: number; dim: number; scale: number; eps: number;
  }): void;
  cosinePairedBackward(args: {
    dOut: Float32Array; out: Float32Array; h: Float32Array; e: Float32Array; dh: Float32Array; de: Float32Array;
    batch: number; c: number; dim: number; scale: number; eps: number;
  }): void;
  attentionForward(args: NativeAttentionShape & {
    q: Float32Array; k: Float32Array; v: Float32Array; out: Float32Array; lse: Float32Array;
  }): void;
  attentionBackward(args: NativeAttentionShape & {
    q: Float32Array; k: Float32Array; v: Float32Array; out: Float32Array; lse: Float32Array; dOut: Float32Array;
    dq: Float32Array; dk: Float32Array; dv: Float32Array;
  }): void;
  memoryAttentionForward(args: {
    q: Float32Array; x: Float32Array; out: Float32Array; lse: Float32Array;
    batch: number; rows: number; dim: number; scale: number; lengths: Int32Array;
  }): void;
  memoryAttentionBackward(args: {
    q: Float32Array; x: Float32Array; out: Float32Array; lse: Float32Array; dOut: Float32Array;
    dq: Float32Array; dx: Float32Array; batch: number; rows: number; dim: number; scale: number;
    lengths: Int32Array; accumulate: boolean;
  }): void;
  cosineTopk(args: {
    x: Float32Array; e: Float32Array; indices: Int32Array; scores: Float32Array;
    n: number; c: number; dim: number; k: number; scale: number; eps: number;
  }): void;
  /** merclip/logmel.h: out [frames, 80] = log-mel of the 16 kHz waveform [n >= 1],
   *  frames = 1 + ceil(max(0, n − 400) / 160). */
  logmelForward(args: { waveform: Float32Array; out: Float32Array }): void;
}

export type NativeOpName = keyof NativeOps;

/** `<name>Async` for every op: the same arguments, a promise of the same result. */
export type NativeAsyncOps = {
  [K in NativeOpName as `${K}Async`]: (args: Parameters<NativeOps[K]>[0]) => Promise<ReturnType<NativeOps[K]>>;
};

export interface NativeBinding extends NativeOps, NativeAsyncOps {
  readonly bindingApiVersion: number;
  info(): NativeInfo;
  getSimdLevel(): SimdLevelName;
  /** Returns the level in effect (clamped to what the CPU and build support). */
  setSimdLevel(level: SimdLevelName): SimdLevelName;
  getNumThreads(): number;
  /** 1 … pool size; returns the number in effect. */
  setNumThreads(n: number): number;
  biasGrad(args: { dy: Float32Array; dBias: Float32Array; m: number; n: number }): void;

  /** The log-mel's size-512 real FFT on an L1-resident frame; GFLOP/s (5·N·log2 N / 2 per FFT)
   *  summed over `threads` threads. */
  measureRfftFlops(args: { threads: number; seconds: number }): number;
  /** FMA loop with register-resident accumulators; GFLOP/s summed over `threads` threads. */
  measurePeakFlops(args: { threads: number; seconds: number; simd?: SimdLevelName }): number;
  /**
   * The whole pages of `buffer` leave the resident set (madvise MADV_DONTNEED on Linux; the buffer
   * stays valid and reads as zeros where released). Returns the bytes given back (0 elsewhere).
   */
  releasePages(buffer: ArrayBuffer): number;
  /**
   * The free memory inside the C heap goes back to the OS (glibc malloc_trim(0): also the free
   * pages between live blocks). Returns whether any was released (false off glibc).
   */
  trimHeap(): boolean;
  /**
   * Fixes glibc's mmap threshold at `bytes` (an integer in [4096, 32 MiB]; mallopt
   * M_MMAP_THRESHOLD), turning off its dynamic raise: large buffers then always get their own
   * mapping and go back to the OS when freed. Process-wide: `merclip serve` sets it for its own
   * process. Returns false off glibc.
   */
  setMmapThreshold(bytes: number): boolean;
  /** Streams `buffer` `reps` times over `threads` threads; returns read GB/s. */
  measureReadBandwidth(args: { buffer: Float32Array; threads: number; reps: number }): number;
  /** STREAM triad a = b + 3·c, `reps` times; returns GB/s of traffic (2 arrays read + 1 written). */
  measureTriadBandwidth(args: { a: Float32Array; b: Float32Array; c: Float32Array; threads: number; reps: number }): number;
}
