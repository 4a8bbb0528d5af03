"""Timing helpers shared by the PyTorch benchmark scripts: medians of repeated calls."""
import time


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
