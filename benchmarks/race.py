"""Equal-budget race: what each model reaches on Tiny Shakespeare in a fixed wall-clock time.

    python benchmarks/race.py --data ../shared/data/tinyshakespeare.txt

Anchors measured on this kind of machine (2 threads): nanoGPT's CPU configuration reaches 1.8857
val nats/char in 101.8 s; min-char-rnn reaches 2.06 after 5 minutes. Here the LSTM and the GRU
train for 102 s on 2 threads and the numpy RNN for 300 s on one thread, each through the normal
`python -m rnnlm train` command; the figure is the whole validation split's nats/char (the last
10%, nanoGPT's split), measured by the run's own final evaluation. Run on an idle machine.

The LSTM and GRU train in bf16 where the CPU has bf16 instructions (benchmarks/bench_bf16.py: faster, the
same loss per step), in float32 elsewhere (emulated bf16 is several times slower). Their
learning rates and the LSTM's forget-gate bias come from short runs of 600 steps at this size (bf16,
one thread, Tiny Shakespeare, val nats/char): the LSTM with forget-gate bias 1 reached 1.801 at lr
4e-3, 1.692 at 8e-3, 1.672 at 1.2e-2, 1.652 at 2e-2; with bias 0, 1.602 at 8e-3, 1.592 at 1.2e-2, 1.597
at 2e-2; the GRU 1.582 at 4e-3, 1.553 at 8e-3, 1.577 at 1.2e-2. With float32, lr 4e-3 and bias 1 the
102 s race gave LSTM 1.680 and GRU 1.532 on an idle machine.
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

REPO = Path(__file__).resolve().parent.parent

ENTRIES = [
    # name, seconds, threads, flags (sized for the budget: a smaller net sees more text in 102 s)
    ("lstm", 102, 2, "--model lstm --hidden-size 256 --num-layers 2 --dropout 0 --seq-len 64 --batch-size 32 --lr 1.2e-2 --forget-bias 0 --dtype {dtype} --warmup-iters 50 --eval-every 100000"),
    ("gru", 102, 2, "--model gru --hidden-size 256 --num-layers 2 --dropout 0 --seq-len 64 --batch-size 32 --lr 8e-3 --dtype {dtype} --warmup-iters 50 --eval-every 100000"),
    ("rnn", 300, 1, "--model rnn --hidden-size 512 --num-layers 1 --seq-len 64 --batch-size 32 --lr 2e-3 --warmup-iters 50 --eval-every 100000"),
]
GOALS = {"lstm": 1.55, "gru": 1.48, "rnn": 1.58}


def fastest_dtype() -> str:
    """bf16 where this CPU runs it natively, float32 elsewhere."""
    sys.path.insert(0, str(REPO))
    from rnnlm.models.torch_rnn import bf16_missing

    return "float32" if bf16_missing("cpu") else "bf16"


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
    dtype = fastest_dtype()
    entries = [(name, seconds, threads, flags.format(dtype=dtype)) for name, seconds, threads, flags in ENTRIES]
    with tempfile.TemporaryDirectory() as tmp:
        for name, seconds, threads, flags in entries:
            if args.only and name not in args.only:
                continue
            results.append(run(name, seconds, threads, flags, args.data, Path(tmp) / name))
            r = results[-1]
            print(f"{name:5s} {r['budget']:4d} s on {r['threads']} thread(s): val {r['val']:.4f} nats/char "
                  f"(goal < {GOALS[name]}) after {r['chars']:,} chars; process wall {r['wall']:.0f} s", flush=True)
    print("\nreference: nanoGPT CPU config 1.8857 in 101.8 s; min-char-rnn 2.06 after 300 s")
    for name, seconds, threads, flags in entries:
        if not args.only or name in args.only:
            print(f"  {name}: python -m rnnlm train {flags} --data DATA --out DIR --minutes {seconds / 60:g}")


if __name__ == "__main__":
    main()
