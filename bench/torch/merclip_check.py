"""Interop check: a merclip checkpoint loaded into bench/torch/merclip_torch.py gives merclip's logits.

    cd /work/main && npx tsc -p tsconfig.json
    node bench/torch/export_check_inputs.mjs /tmp/mc-check
    /usr/bin/python3 bench/torch/merclip_check.py /tmp/mc-check          # [--json] [--double]

DIR is either one case (config.json, model.safetensors, batch.json) or a folder of cases. For each
case: MerClipTorch(config) with load_state_dict(the safetensors tensors, strict), the label
embeddings from merclip's token ids, the batch forward; compared with merclip's output:

    relative error = max_i |torch_i − merclip_i| / max_i |merclip_i|     (over all logits of the case)

Target < 1e-4 (logits). Also reported: the elementwise max |Δ_i| / |merclip_i|, the label embeddings'
error, probs and score max abs error. Exits 1 when a case is above the target, 2 on a load error.
--double runs torch in float64 (weights and inputs are the same fp32 values): how far merclip's
fp32 result is from the exact one.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from merclip_torch import MerClipTorch, read_safetensors  # noqa: E402

TARGET = 1e-4


def rel(a, b):
    a = a.to(torch.float64).flatten()
    b = b.to(torch.float64).flatten()
    scale = float(b.abs().max())
    diff = (a - b).abs()
    return float(diff.max()) / (scale if scale > 0 else 1.0), float((diff / b.abs().clamp_min(1e-30)).max())


def check_case(d, dtype):
    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(d, "batch.json")) as f:
        data = json.load(f)
    model = MerClipTorch(config)
    missing = model.load_state_dict(read_safetensors(os.path.join(d, "model.safetensors")), strict=True)
    model = model.to(dtype).eval()
    ids = torch.tensor(data["labelIds"]["ids"], dtype=torch.int64).reshape(data["labelIds"]["shape"])
    batch = {}
    for m, inp in data["inputs"].items():
        x = torch.tensor(inp["features"], dtype=torch.float32).reshape(inp["shape"]).to(dtype)
        batch[m] = (x, torch.tensor(inp["lengths"], dtype=torch.int64))
    with torch.no_grad():
        e = model.encode_labels(ids)
        out = model(batch, e, data["labelValues"])
    ref = data["merclip"]
    b, c = data["count"], len(data["labels"])
    t = lambda k, shape: torch.tensor(ref[k], dtype=torch.float64).reshape(shape)  # noqa: E731
    logits_rel, logits_elem = rel(out["logits"], t("logits", [b, c]))
    emb_rel, _ = rel(e, t("labelEmbeddings", list(e.shape)))
    return {
        "case": os.path.basename(os.path.normpath(d)),
        "logitsRelError": logits_rel,
        "logitsElementwiseRelError": logits_elem,
        "labelEmbeddingsRelError": emb_rel,
        "probsMaxAbsError": float((out["probs"].to(torch.float64) - t("probs", [b, c])).abs().max()),
        "scoreMaxAbsError": float((out["score"].to(torch.float64) - t("score", [b])).abs().max()),
        "loaded": len(model.state_dict()),
        "ok": logits_rel < TARGET,
        "_missing": missing,
    }


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    as_json = "--json" in sys.argv
    dtype = torch.float64 if "--double" in sys.argv else torch.float32
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = args[0]
    if os.path.exists(os.path.join(root, "batch.json")):
        cases = [root]
    else:
        cases = sorted(os.path.join(root, n) for n in os.listdir(root) if os.path.exists(os.path.join(root, n, "batch.json")))
    if not cases:
        print(f"{root}: no case (a folder with config.json, model.safetensors, batch.json)", file=sys.stderr)
        return 2
    results = []
    for d in cases:
        try:
            r = check_case(d, dtype)
        except Exception as err:  # a load or shape error names the case
            print(f"{d}: {type(err).__name__}: {err}", file=sys.stderr)
            return 2
        r.pop("_missing")
        results.append(r)
    worst = max(r["logitsRelError"] for r in results)
    ok = all(r["ok"] for r in results)
    if as_json:
        print(json.dumps({"torch": torch.__version__, "dtype": str(dtype), "target": TARGET, "maxLogitsRelError": worst, "ok": ok, "cases": results}))
    else:
        for r in results:
            print(f"{r['case']:>16}: logits rel {r['logitsRelError']:.2e} (elementwise {r['logitsElementwiseRelError']:.2e}), "
                  f"label emb rel {r['labelEmbeddingsRelError']:.2e}, probs {r['probsMaxAbsError']:.1e}, score {r['scoreMaxAbsError']:.1e}, "
                  f"{r['loaded']} tensors  {'ok' if r['ok'] else 'FAIL'}")
        print(f"torch {torch.__version__} ({dtype}): max logits relative error {worst:.2e} (target < {TARGET:g}) — {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
