"""Scoring speed at batch 1: rnnlm's score() beside plain nn.LSTM / nn.GRU over the same sequence.

    python benchmarks/bench_score.py               # 5,000 held-out characters, idle and then busy
    python benchmarks/bench_score.py --no-busy     # idle only
    python benchmarks/bench_score.py --rss 50      # also: peak memory of `score --text-file` on a 50 MB file

It also prints how fast the three bundled models sample (`generate`, --sample characters from a short
prompt, one token at a time as the app's Compare runs them), compiled and with the numpy step.

Targets on an idle machine: the LSTM and GRU 2x512 at least 2.5x plain nn.LSTM / nn.GRU (embedding, the
recurrent module and the head with log-softmax over the whole sequence, torch's default threads); the
numpy RNN 1x512 at least 30,000 chars/s. Busy: the same runs with one competing CPU-bound process (a
float32 matrix-product loop on one thread), at most 3x slower than idle.

The LSTM, GRU and 2-layer RNN are the bundled checkpoints; the 1x512 RNN has random weights (speed does
not depend on the values). The LSTM and GRU run their steps compiled (rnnlm/models/layers.c) where a C
compiler is at hand; the "numpy step" rows run the same weights with RNNLM_COMPILED=0. Each figure is the
best of --repeats runs.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere

from rnnlm import build_model, generate, load_model, runner, score  # noqa: E402
from rnnlm.config import ModelConfig  # noqa: E402
from rnnlm.data import corpus_split  # noqa: E402

BUSY = "import numpy as np\na = np.ones((256, 256), np.float32)\nwhile True:\n    a @ a\n"


def held_out(model, n: int) -> str:
    """The last n characters of the model's validation split."""
    _, val = corpus_split(model.config.training)
    return val[-n:]


def best_rate(fn, n: int, repeats: int) -> float:
    """Characters per second of fn(), the best of repeats."""
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def plain_torch(model, text: str):
    """nn.LSTM / nn.GRU with the (torch) model's weights over text at batch 1: the whole sequence in one call."""
    import torch
    import torch.nn.functional as F

    ids = torch.from_numpy(model.vocab.encode("\n" + text)).long()[None]
    rnn, embed, head = model.rnn, model.embed, model.head

    def run():
        with torch.inference_mode():
            out, _ = rnn(embed(ids[:, :-1]))
            logp = F.log_softmax(head(out), dim=-1)
            return -logp.gather(-1, ids[:, 1:, None]).mean().item()

    return run


def numpy_step(model):
    """The model's runner on the same weights, its layers fixed to numpy's steps (RNNLM_COMPILED=0)."""
    from rnnlm.models import compiled

    model = runner(model)
    model._stream = None  # its layers made again below
    os.environ["RNNLM_COMPILED"] = "0"
    compiled.library.cache_clear()
    try:
        model._weights()  # made once, with no compiled step in them
    finally:
        del os.environ["RNNLM_COMPILED"]
        compiled.library.cache_clear()
    return model


def step_kind(model) -> str:
    """How the model's single stream runs its recurrence, in words."""
    from rnnlm.models import compiled

    weights = model._weights()  # False: the numpy RNN without a compiled step
    steps = [layer[4] for layer in weights[1]] if weights else [None]
    if any(w is None for w in steps):
        return f"numpy ({compiled.reason() or 'no compiled step'})"
    return f"compiled (layers.c), {' and '.join(sorted({str(w.w_hh.dtype) for w in steps}))} weights"


def figures(models: dict, text: str, repeats: int) -> dict[str, float]:
    out = {}
    for name, (inference, trained) in models.items():
        out[name] = best_rate(lambda: score(inference, text), len(text), repeats)
        if trained is not None:
            out[f"plain {name}"] = best_rate(plain_torch(trained, text), len(text), repeats)
    return out


def sampling(models: dict, length: int, repeats: int) -> dict[str, float]:
    """Characters per second of generate(): length characters after a short prompt, best of repeats."""
    return {name: best_rate(lambda: generate(model, "ROMEO:", length=length, seed=0), length, repeats)
            for name, model in models.items()}


def peak_rss_mb(megabytes: int) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of `python -m rnnlm score --text-file` on a file of that size, scored by a
    small numpy RNN (the memory does not depend on the model's speed)."""
    from rnnlm import save

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.txt"
        line = "The quick brown fox jumps over the lazy dog, said Juliet.\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(line * (megabytes * 1_000_000 // len(line)))
        vocab = "".join(sorted(set(line)))
        folder = save(build_model(ModelConfig(model_type="rnn", vocab=vocab, hidden_size=16, num_layers=1)), Path(tmp) / "m")
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "rnnlm", "score", str(folder),
                               "--text-file", str(path)], cwd=REPO, capture_output=True, text=True, check=True)
        return int(proc.stderr.strip().splitlines()[-1]) / 1024, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample", type=int, default=500, metavar="N", help="characters sampled per model (0: skip)")
    ap.add_argument("--no-busy", action="store_true", help="skip the run with a competing process")
    ap.add_argument("--rss", type=int, metavar="MB", help="peak RSS of scoring a file this large")
    args = ap.parse_args()

    from rnnlm import threads

    threads.single_stream()  # what `python -m rnnlm score` does
    ckpt = REPO / "checkpoints"
    models = {name: (load_model(ckpt / name, inference=True), load_model(ckpt / name)) for name in ("lstm", "gru")}
    models["rnn 2x512 (bundled)"] = (load_model(ckpt / "rnn", inference=True), None)
    for name in ("lstm", "gru", "rnn"):
        models[f"{name}, numpy step"] = (numpy_step(load_model(ckpt / name, inference=True)), None)
    text = held_out(models["lstm"][0], args.chars)
    rnn1 = build_model(ModelConfig(model_type="rnn", vocab=models["lstm"][0].config.vocab, hidden_size=512, num_layers=1))
    models["rnn 1x512"] = (runner(rnn1), None)
    models["rnn 1x512, numpy step"] = (numpy_step(rnn1), None)
    print(f"cpus: {os.cpu_count()}, {len(text)} held-out characters, best of {args.repeats}")
    for name in ("lstm", "gru", "rnn 2x512 (bundled)"):
        print(f"{name} step: {step_kind(models[name][0])}")

    idle = figures(models, text, args.repeats)
    busy = None
    if not args.no_busy:
        competitor = subprocess.Popen([sys.executable, "-c", BUSY], env=os.environ | {"OPENBLAS_NUM_THREADS": "1"})
        try:
            time.sleep(1.0)
            busy = figures(models, text, args.repeats)
        finally:
            competitor.kill()

    print(f"{'chars/s':24} {'idle':>9} {'busy':>9} {'busy/idle':>9}")
    for name, rate in idle.items():
        b = f"{busy[name]:9,.0f} {idle[name] / busy[name]:8.2f}x" if busy else ""
        print(f"{name:24} {rate:9,.0f} {b}")
    for name in ("lstm", "gru"):
        print(f"{name} / plain nn.{name.upper()}: idle {idle[name] / idle['plain ' + name]:.2f}x (target 2.5x)"
              + (f", busy {busy[name] / busy['plain ' + name]:.2f}x" if busy else ""))
    print(f"numpy rnn 1x512: {idle['rnn 1x512']:,.0f} chars/s, {idle['rnn 1x512, numpy step']:,.0f} with the numpy step "
          "(target 30,000)")
    if args.sample:
        bundled = {name: model for name, (model, _) in models.items() if not name.startswith("rnn 1x512")}
        rates = sampling(bundled, args.sample, args.repeats)
        print(f"sampling {args.sample} characters (generate, idle), chars/s:")
        for name, rate in rates.items():
            print(f"  {name:22} {rate:9,.0f}")
    if args.rss:
        rss, seconds = peak_rss_mb(args.rss)
        print(f"score --text-file on {args.rss} MB: peak RSS {rss:.0f} MB, {seconds:.0f} s")


if __name__ == "__main__":
    main()
