"""Attention timings with PyTorch on this CPU, for bench/attention.bench.ts.

Reads {"threads": T, "shapes": [{name, b, h, lq, lk, dh, causal, keyLengths|null}]} on stdin;
prints {"torch": version, "threads": T, "results": [{name, lq, lk, forwardSeconds,
forwardBackwardSeconds}]}. PyTorch 1.13 (Debian) has no fused scaled_dot_product_attention, so
this is its standard composition: scores = q·kᵀ·scale with the key-padding / causal mask added as
-inf, softmax, ·v — forward under no_grad, forward + backward through autograd.
"""
import json
import os
import math
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import timed  # noqa: E402




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
