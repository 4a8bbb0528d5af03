"""Attention timings with PyTorch on this CPU, for bench/attention.bench.ts.

Reads {"threads": T, "shapes": [{name, b, h, lq, lk, dh, causal, keyLengths|null}]} on stdin;
prints {"torch": version, "threads": T, "results": [{name, lq, lk, forwardSeconds,
forwardBackwardSeconds}]}. PyTorch 1.13 (Debian) has no fused scaled_dot_product_attention, so
this is its standard composition: scores = q·kᵀ·scale with the key-padding / causal mask added as
-inf, softmax, ·v — forward under no_grad, forward + backward through autograd.
"""
import json
import math
import sys
import time

import torch


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def timed(fn, min_time=1.0, min_reps=5, max_reps=100):
    fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_reps or (time.perf_counter() - start < min_time and len(samples) < max_reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return median(samples)


def main():
    request = json.load(sys.stdin)
    torch.set_num_threads(int(request["threads"]))
    torch.manual_seed(0)
    results = []
    for s in request["shapes"]:
        b, h, lq, lk, dh = s["b"], s["h"], s["lq"], s["lk"], s["dh"]
        q = torch.rand(b, h, lq, dh) - 0.5
        k = torch.rand(b, h, lk, dh) - 0.5
        v = torch.rand(b, h, lk, dh) - 0.5
        mask = torch.zeros(b, 1, lq, lk)
        if s.get("keyLengths"):
            lens = torch.tensor(s["keyLengths"])
            mask = mask.masked_fill((torch.arange(lk)[None, :] >= lens[:, None])[:, None, None, :], float("-inf"))
        if s.get("causal"):
            mask = mask.masked_fill(torch.ones(lq, lk, dtype=torch.bool).triu(1), float("-inf"))
        scale = 1.0 / math.sqrt(dh)

        def forward(q, k, v):
            p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale + mask, dim=-1)
            return torch.matmul(p, v)

        def fwd():
            with torch.no_grad():
                forward(q, k, v)

        qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))
        grad = torch.rand(b, h, lq, dh)

        def fwd_bwd():
            qg.grad = kg.grad = vg.grad = None
            forward(qg, kg, vg).backward(grad)

        results.append({
            "name": s["name"], "lq": lq, "lk": lk,
            "forwardSeconds": timed(fwd),
            "forwardBackwardSeconds": timed(fwd_bwd),
        })
    print(json.dumps({"torch": torch.__version__, "threads": int(request["threads"]), "results": results}))


if __name__ == "__main__":
    main()
