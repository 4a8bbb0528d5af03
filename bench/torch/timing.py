"""Timing helpers shared by the PyTorch benchmark scripts: medians of repeated calls, and the
OpenBLAS kernel pin (call it before `import torch`)."""
import os
import sys
import time


def pin_openblas_coretype(argv=None):
    """--openblas-coretype NAME: pin OpenBLAS's kernels (it reads OPENBLAS_CORETYPE when torch
    loads it), for the comparison at a SIMD level below the CPU's best: on an AVX-512 CPU,
    merclip's AVX2 level runs against OpenBLAS's AVX2 kernels (Haswell), as it would on an
    AVX2-only CPU. Must run before `import torch`."""
    argv = sys.argv if argv is None else argv
    if "--openblas-coretype" in argv:
        os.environ["OPENBLAS_CORETYPE"] = argv[argv.index("--openblas-coretype") + 1]


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def timed_samples(fn, min_time=1.0, min_reps=5, max_reps=100, warmup=1):
    """Calls fn `warmup` times, then until min_reps calls and min_time seconds (at most max_reps);
    returns (median seconds, number of samples)."""
    for _ in range(warmup):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_reps or (time.perf_counter() - start < min_time and len(samples) < max_reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return median(samples), len(samples)


def timed(fn, min_time=1.0, min_reps=5, max_reps=100):
    return timed_samples(fn, min_time, min_reps, max_reps)[0]
