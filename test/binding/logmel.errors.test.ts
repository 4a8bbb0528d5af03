// test/binding/logmel.errors.test.ts — bad arguments to logmelForward never crash the process:
// each row is one bad argument (a valid base object with one field changed), the error class it
// must raise and the argument its message names ("logmelForward: expected <arg> …"), run against
// the TypeScript wrapper (kernels.logmelForward: out optional) and the raw binding
// (backend.native().logmelForward: out required), sync and async (a rejected promise, never a
// synchronous throw). Also measureRfftFlops' arguments.
import { describe, expect, it } from 'vitest';

import { backend } from '../../lib/index.js';
import { MISSING, bad, runErrorTable, type Options, type Target } from '../helpers/errorTable.js';

const FNS = ['logmelForward'] as const;
type Fn = (typeof FNS)[number];

// n = 1000 samples → 1 + ceil(600 / 160) = 5 frames → out 400
const N = 1000, OUT = 400;

function baseFor(_fn: Fn, target: Target): Options {
  const waveform = Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.1));
  return target === 'native' ? { waveform, out: new Float32Array(OUT) } : { waveform };
}

runErrorTable<Fn>({
  fns: FNS,
  baseFor,
  baseAsync: true,
  rows: [
    bad('logmelForward', 'waveform missing', { waveform: MISSING }, TypeError, 'waveform'),
    bad('logmelForward', 'waveform a Float64Array', { waveform: new Float64Array(N) }, TypeError, 'waveform'),
    bad('logmelForward', 'waveform an Array', { waveform: [1, 2, 3] }, TypeError, 'waveform'),
    bad('logmelForward', 'waveform empty', { waveform: new Float32Array(0) }, RangeError, 'waveform'),
    bad('logmelForward', 'out too short', { out: new Float32Array(OUT - 80) }, RangeError, 'out'),
    bad('logmelForward', 'out too long', { out: new Float32Array(OUT + 1) }, RangeError, 'out'),
    bad('logmelForward', 'out an Int32Array', { out: new Int32Array(OUT) }, TypeError, 'out'),
    bad('logmelForward', 'out missing', { out: MISSING }, TypeError, 'out', 'native'),
    bad('logmelForward', 'out overlapping waveform', () => {
      const buf = new Float32Array(N + OUT);
      return { waveform: buf.subarray(0, N), out: buf.subarray(N - 1, N - 1 + OUT) };
    }, RangeError, 'out'),
  ],
});

describe('the messages say what length out needs', () => {
  it('names frames·80', () => {
    expect(() => backend.native().logmelForward({ waveform: new Float32Array(401), out: new Float32Array(80) }))
      .toThrow(/logmelForward: expected out to be a Float32Array of length 160 \(frames·80, frames = 1 \+ ceil/);
  });
});

describe('measureRfftFlops', () => {
  it('validates threads and seconds, and measures a positive rate', () => {
    const n = backend.native();
    expect(() => n.measureRfftFlops({ threads: 0, seconds: 0.01 })).toThrow(/measureRfftFlops: expected threads/);
    expect(() => n.measureRfftFlops({ threads: 1, seconds: 0 })).toThrow(/measureRfftFlops: expected seconds/);
    expect(() => n.measureRfftFlops({ threads: 1 } as unknown as { threads: number; seconds: number })).toThrow(TypeError);
    expect(n.measureRfftFlops({ threads: 1, seconds: 0.01 })).toBeGreaterThan(0);
  });
});
