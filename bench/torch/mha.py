"""torch.nn.MultiheadAttention forward + backward on this CPU, for bench/nn.bench.ts.

Reads {"threads": T, "b", "l", "d", "h", "keyLengths": [...]} on stdin; prints {"torch": version,
"threads": T, "forwardSeconds", "forwardBackwardSeconds"} (medians). batch_first, self-attention
with a key padding mask, the same work merclip's MultiHeadAttention does (q/k/v/out projections
with bias, softmax attention).
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import timed  # noqa: E402




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
                      "forwardSeconds": timed(fwd, min_time=2.0, max_reps=50), "forwardBackwardSeconds": timed(fwd_bwd, min_time=2.0, max_reps=50)}))


main()
