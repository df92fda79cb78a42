"""Equal-budget race: what each model reaches on Tiny Shakespeare in a fixed wall-clock time.

    python benchmarks/race.py --data ../shared/data/tinyshakespeare.txt

Anchors measured on this kind of machine (2 threads): nanoGPT's CPU configuration reaches 1.8857
val nats/char in 101.8 s; min-char-rnn reaches 2.06 after 5 minutes. Here the LSTM and the GRU
train for 102 s on 2 threads and the numpy RNN for 300 s on one thread, each through the normal
`python -m rnnlm train` command; the figure is the whole validation split's nats/char (the last
10%, nanoGPT's split), measured by the run's own final evaluation. Run on an idle machine.

The LSTM and GRU train in the faster of bf16 and float32 on this machine (the same loss per step,
benchmarks/bench_bf16.py): before the race, a few training steps of each at the entry's sizes decide. bf16
was 1.8x (LSTM) and 2.9x (GRU) faster on a Zen 5 CPU with AVX512-BF16, but 0.68x and 0.76x of float32
on a Xeon VM with AVX512-BF16 and no AMX; without bf16 instructions float32 is taken unmeasured. Their
learning rates and the LSTM's forget-gate bias come from short runs of 600 steps at this size (bf16,
one thread, Tiny Shakespeare, val nats/char): the LSTM with forget-gate bias 1 reached 1.801 at lr
4e-3, 1.692 at 8e-3, 1.672 at 1.2e-2, 1.652 at 2e-2; with bias 0, 1.602 at 8e-3, 1.592 at 1.2e-2, 1.597
at 2e-2; the GRU 1.582 at 4e-3, 1.553 at 8e-3, 1.577 at 1.2e-2. With float32, lr 4e-3 and bias 1 the
102 s race gave LSTM 1.680 and GRU 1.532 on an idle machine. The GRU takes batches of 64: in the 102 s
race on the Xeon VM, batch 32 at lr 8e-3 reached 1.5351 (bf16) and 1.5197 (float32), batch 64 at lr 1e-2
1.5219 (bf16) and 1.4992, 1.5121 and 1.4971 (float32, three runs); batch 128 at 1.2e-2 to 1.5e-2, lr 1.5e-2
at batch 64 and 2x384 units did worse. In float32 against that 1.4971 in the same session: a cosine ending at
1% of lr 1.4981, 2x320 1.5126, 2x192 at lr 1.2e-2 1.5254, 3x256 1.5409, sequences of 128 at batch 32 1.5222,
of 32 at batch 128 (lr 1.2e-2) 1.5167, clipping at 1 1.5056, 32-wide embeddings 1.5071. Runs of one setting
differed by up to 0.013. The numpy RNN, there, in 300 s:
one layer of 512 at lr 2e-3 1.6308, 3e-3 1.6139, 4e-3 1.6120 (batch 32), batch 64 at 3e-3 1.6433. Two
layers learn more per second. Run two at a time, one per core: 2x384 at lr 3e-3 1.5408 (7.9 M chars), at
4e-3 1.5911; 2x448 at 3e-3 1.5384 (5.8 M chars); one layer of 768 at 2e-3 1.7228 (5.3 M chars).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

ENTRIES = [
    # name, seconds, threads, flags (sized for the budget: a smaller net sees more text in 102 s)
    ("lstm", 102, 2, "--model lstm --hidden-size 256 --num-layers 2 --dropout 0 --seq-len 64 --batch-size 32 --lr 1.2e-2 --forget-bias 0 --dtype {dtype} --warmup-iters 50 --eval-every 100000"),
    ("gru", 102, 2, "--model gru --hidden-size 256 --num-layers 2 --dropout 0 --seq-len 64 --batch-size 64 --lr 1e-2 --dtype {dtype} --warmup-iters 50 --eval-every 100000"),
    ("rnn", 300, 1, "--model rnn --hidden-size 384 --num-layers 2 --seq-len 64 --batch-size 32 --lr 3e-3 --warmup-iters 50 --eval-every 100000"),
]
GOALS = {"lstm": 1.55, "gru": 1.48, "rnn": 1.58}


def chars_per_second(flags: str, dtype: str, threads: int, steps: int = 12) -> float:
    """Training chars/s of an entry's model (its type and sizes from flags) in dtype, on random tokens."""
    import torch

    from rnnlm.config import ModelConfig, TrainConfig
    from rnnlm.models import build_model

    p = argparse.ArgumentParser(add_help=False)
    for name in ("--model", "--hidden-size", "--num-layers", "--seq-len", "--batch-size"):
        p.add_argument(name, type=str if name == "--model" else int)
    a, _ = p.parse_known_args(shlex.split(flags))
    torch.set_num_threads(threads)
    vocab = "".join(chr(c) for c in range(32, 32 + 65))  # Tiny Shakespeare has 65 characters
    model = build_model(ModelConfig(model_type=a.model, vocab=vocab, hidden_size=a.hidden_size,
                                    num_layers=a.num_layers), seed=0)
    trainer = model.trainer(TrainConfig(dtype=dtype))
    ids = np.random.default_rng(0).integers(0, len(vocab), size=(a.batch_size, a.seq_len + 1))
    state = model.init_state(a.batch_size)
    for i in range(3 + steps):  # the first steps build kernels: not timed
        if i == 3:
            start = time.perf_counter()
        _, state = trainer.train_step(ids[:, :-1], ids[:, 1:], state, lr=1e-3)
    return steps * a.batch_size * a.seq_len / (time.perf_counter() - start)


def fastest_dtype(flags: str, threads: int) -> tuple[str, str]:
    """(the faster of bf16 and float32 for this entry on this machine, what decided it)."""
    sys.path.insert(0, str(REPO))
    from rnnlm.models.torch_rnn import bf16_missing

    missing = bf16_missing("cpu")
    if missing:
        return "float32", missing
    rates = {dtype: chars_per_second(flags, dtype, threads) for dtype in ("float32", "bf16")}
    best = max(rates, key=rates.get)
    return best, f"float32 {rates['float32']:,.0f} chars/s, bf16 {rates['bf16']:,.0f} chars/s in a short probe"


def run(name: str, seconds: float, threads: int, flags: str, data: str, out: Path) -> dict:
    """Train one entry for `seconds` and return its figures."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "rnnlm", "train", *shlex.split(flags), "--data", data, "--out", str(out),
           "--minutes", str(seconds / 60), "--no-progress"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    rows = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    last_val = [r for r in rows if "val_loss" in r][-1]
    return dict(name=name, budget=seconds, threads=threads, val=last_val["val_loss"], chars=last_val["chars"],
                train_seconds=last_val["seconds"], wall=wall)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tinyshakespeare.txt"))
    p.add_argument("--only", action="append", choices=[e[0] for e in ENTRIES], help="run only this entry")
    args = p.parse_args()
    results = []
    entries = []
    for name, seconds, threads, flags in ENTRIES:
        if args.only and name not in args.only:
            continue
        if "{dtype}" in flags:
            dtype, why = fastest_dtype(flags, threads)
            print(f"{name}: --dtype {dtype} ({why})", flush=True)
            flags = flags.format(dtype=dtype)
        entries.append((name, seconds, threads, flags))
    with tempfile.TemporaryDirectory() as tmp:
        for name, seconds, threads, flags in entries:
            results.append(run(name, seconds, threads, flags, args.data, Path(tmp) / name))
            r = results[-1]
            print(f"{name:5s} {r['budget']:4d} s on {r['threads']} thread(s): val {r['val']:.4f} nats/char "
                  f"(goal < {GOALS[name]}) after {r['chars']:,} chars; process wall {r['wall']:.0f} s", flush=True)
    print("\nreference: nanoGPT CPU config 1.8857 in 101.8 s; min-char-rnn 2.06 after 300 s")
    for name, seconds, threads, flags in entries:
        print(f"  {name}: python -m rnnlm train {flags} --data DATA --out DIR --minutes {seconds / 60:g}")


if __name__ == "__main__":
    main()
