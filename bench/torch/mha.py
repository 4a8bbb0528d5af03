"""torch.nn.MultiheadAttention forward + backward on this CPU, for bench/nn.bench.ts.

Reads {"threads": T, "b", "l", "d", "h", "keyLengths": [...]} on stdin; prints {"torch": version,
"threads": T, "forwardSeconds", "forwardBackwardSeconds"} (medians). batch_first, self-attention
with a key padding mask, the same work merclip's MultiHeadAttention does (q/k/v/out projections
with bias, softmax attention).
"""
import json
import sys
import time

import torch


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def timed(fn, min_time=2.0, min_reps=5, max_reps=50):
    fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_reps or (time.perf_counter() - start < min_time and len(samples) < max_reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return median(samples)


def main():
    r = json.load(sys.stdin)
    torch.set_num_threads(int(r["threads"]))
    torch.manual_seed(0)
    b, l, d, h = r["b"], r["l"], r["d"], r["h"]
    mha = torch.nn.MultiheadAttention(d, h, batch_first=True)
    x = torch.randn(b, l, d, requires_grad=True)
    lens = torch.tensor(r["keyLengths"])
    pad = torch.arange(l)[None, :] >= lens[:, None]
    dout = torch.randn(b, l, d)

    def fwd():
        with torch.no_grad():
            mha(x, x, x, key_padding_mask=pad, need_weights=False)

    def fwd_bwd():
        mha.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = mha(x, x, x, key_padding_mask=pad, need_weights=False)
        y.backward(dout)

    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "forwardSeconds": timed(fwd), "forwardBackwardSeconds": timed(fwd_bwd)}))


main()
