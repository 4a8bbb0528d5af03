"""GEMM timings with PyTorch on this CPU, for bench/gemm.bench.ts.

Reads {"threads": T, "shapes": [{name, m, n, k, transA, transB}]} on stdin and prints one JSON
object: {"torch": version, "blas": ..., "threads": T, "results": [{name, threads, medianSeconds}]}.
The caller sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS to T as well: OpenBLAS keeps its own
thread pool, which torch.set_num_threads does not limit. Each product is
torch.matmul into a preallocated `out` (no allocation in the timed loop), operands given as
transposed views where the shape says so (BLAS then runs the transposed form itself).
Run by bench/torch.ts with PyTorch's strongest settings (see SPEC §7): all cores via
torch.set_num_threads, OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, glibc hugetlb malloc.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import median, pin_openblas_coretype  # noqa: E402

pin_openblas_coretype()  # --openblas-coretype NAME (timing.py)

import torch  # noqa: E402



def time_matmul(a, b, out, min_time=1.0, min_reps=5):
    for _ in range(2):
        torch.matmul(a, b, out=out)
    samples = []
    start = time.perf_counter()
    while len(samples) < min_reps or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        torch.matmul(a, b, out=out)
        samples.append(time.perf_counter() - t0)
        if len(samples) >= 200:
            break
    return median(samples)


def main():
    request = json.load(sys.stdin)
    threads = int(request["threads"])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    results = []
    for s in request["shapes"]:
        m, n, k = s["m"], s["n"], s["k"]
        a = torch.rand(k, m).t() if s["transA"] else torch.rand(m, k)
        b = torch.rand(n, k).t() if s["transB"] else torch.rand(k, n)
        out = torch.empty(m, n)
        sec = time_matmul(a, b, out, min_time=3.0 if 2 * m * n * k > 1e10 else 1.0)
        results.append({"name": s["name"], "threads": threads, "medianSeconds": sec})
    blas = "openblas" if "openblas" in open("/proc/self/maps").read() else "other"
    coretype = os.environ.get("OPENBLAS_CORETYPE", "auto")
    print(json.dumps({"torch": torch.__version__, "blas": blas, "coretype": coretype, "threads": threads, "results": results}))


if __name__ == "__main__":
    main()
