"""Time each view of the "Inside the models" tab on a 500-character held-out passage for the bundled models.

    python benchmarks/bench_inspect.py [--data ../shared/data/tinyshakespeare.txt] [--torch]

Prints seconds per view and model. The neuron and gate views read a 16,000-character held-out sample once per
process (cold) and reuse its statistics (warm); a served app computes them in the background as it launches,
so what a visitor waits for is the warm column. --torch also times the LSTM's and GRU's gradient-flow backward
by torch autograd on the same weights (one backward per target), against rnnlm.inspect's numpy sweep.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from rnnlm import inspect as ins  # noqa: E402
from rnnlm import load_model  # noqa: E402
from rnnlm.data import read_text, split  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def torch_flow_seconds(model, ids: np.ndarray) -> float:
    """The gradient-flow curve's gradients by torch autograd: one forward, one backward per target."""
    import torch

    p = {k: torch.tensor(v) for k, v in model.tensors().items()}
    cls = torch.nn.LSTM if model.config.model_type == "lstm" else torch.nn.GRU
    rnn = cls(model.config.embed_size, model.config.hidden_size, model.config.num_layers)
    rnn.load_state_dict({k[4:]: v for k, v in p.items() if k.startswith("rnn.")})
    start = time.perf_counter()
    x = p["embed.weight"][torch.tensor(ids)].clone().requires_grad_()
    out, _ = rnn(x[:, None])
    logp = torch.log_softmax(out[:, 0] @ p["head.weight"].T + p["head.bias"], -1)
    for t in range(len(ids) - 1 - ins.TARGETS, len(ids) - 1):
        torch.autograd.grad(logp[t, int(ids[t + 1])], x, retain_graph=True)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tinyshakespeare.txt"))
    ap.add_argument("--torch", action="store_true", help="also time torch autograd for the LSTM/GRU gradient flow")
    args = ap.parse_args()
    held_out = split(read_text(args.data))[1]
    passage = held_out[:500]
    rows = []
    for name in ("rnn", "lstm", "gru"):
        model = load_model(REPO / "checkpoints" / name, inference=True)
        ids = model.vocab.encode(passage)
        row = {"model": name,
               "gradient flow": timed(lambda: ins.gradient_flow(model, ids)),
               "looked at (position 499)": timed(lambda: ins.influence(model, ids, 498))}
        sample = {}
        row["neurons+gates cold"] = timed(lambda: sample.setdefault("s", ins.run_sample(model, held_out)))
        row["neurons warm"] = timed(lambda: ins.unit_activations(model, ids, *_best(sample["s"])))
        if args.torch and name != "rnn":
            model_ids = ids
            row["torch autograd flow"] = torch_flow_seconds(model, model_ids)
        rows.append(row)
    keys = list(dict.fromkeys(k for r in rows for k in r if k != "model"))
    print("seconds per view, 500-character passage (the sample: 16,000 held-out characters)")
    print(f"{'model':<6} " + " ".join(f"{k:>24}" for k in keys))
    for r in rows:
        print(f"{r['model']:<6} " + " ".join(f"{r[k]:>24.2f}" if k in r else f"{'':>24}" for k in keys))
    print(f"{'all 3':<6} " + " ".join(f"{sum(r.get(k, 0) for r in rows):>24.2f}" for k in keys))
    return 0


def _best(sample: ins.Sample) -> tuple[str, int]:
    u = sample.ranked["line position"][0]
    return u.vector, u.index


if __name__ == "__main__":
    raise SystemExit(main())
