"""bf16 training against float32: speed, and the validation loss after the same steps.

    python benchmarks/bench_bf16.py                 # LSTM and GRU 2x512, B=64, T=128; 300 steps each for quality
    python benchmarks/bench_bf16.py --steps 0       # speed only
    python benchmarks/bench_bf16.py --quick         # a few steps, to see that it runs

Speed: rnnlm's trainer (the steps `python -m rnnlm train` takes) in float32 and with --dtype bf16, and a
plain nn.LSTM / nn.GRU loop in float32 and under torch.autocast for reference, alternated step by step in
one process so a busy machine slows all alike (--threads 1 steadies it). Quality: both dtypes
train on Tiny Shakespeare for the same steps from the same seed through rnnlm.train.train, and the whole
validation split is scored in float32. Targets (idle machine, default threads): bf16 at least 1.5x the
chars/s of float32, and a validation loss within 0.01 nats/char of float32's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rnnlm.config import ModelConfig, TrainConfig  # noqa: E402
from rnnlm.models import build_model  # noqa: E402
from rnnlm.models.torch_rnn import bf16_missing  # noqa: E402
from rnnlm.train import new_model_config, train  # noqa: E402

VOCAB = "".join(chr(c) for c in range(32, 97))  # 65 characters, like Tiny Shakespeare


def trainer_step(model_type: str, dtype: str, H: int, L: int, B: int, T: int):
    """One training step of rnnlm's trainer on random windows, as a function."""
    model = build_model(ModelConfig(model_type=model_type, vocab=VOCAB, hidden_size=H, num_layers=L))
    trainer = model.trainer(TrainConfig(batch_size=B, seq_len=T, dtype=dtype))
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, len(VOCAB), (B, T)), rng.integers(0, len(VOCAB), (B, T))
    state = [model.init_state(B)]

    def step():
        _, state[0] = trainer.train_step(x, y, state[0], 1e-3)

    return step


def plain_step(cell: str, autocast: bool, H: int, L: int, B: int, T: int):
    """A plain nn.LSTM / nn.GRU training step (embedding, AdamW, clipping), float32 or under torch.autocast(bf16)."""
    V = len(VOCAB)
    emb, rnn, head = nn.Embedding(V, 64), getattr(nn, cell.upper())(64, H, L, batch_first=True), nn.Linear(H, V)
    params = [*emb.parameters(), *rnn.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3)
    x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out, _ = rnn(emb(x))
            loss = F.cross_entropy(head(out).float().reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()

    return step


def speeds(steps: dict, rounds: int, chars: int) -> dict[str, float]:
    """chars/s of each step function, alternated round by round; the median round of each."""
    for fn in steps.values():
        fn()  # warm-up: first calls build kernels and caches
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: chars / statistics.median(t) for name, t in times.items()}


def val_after(model_type: str, dtype: str, data: str, steps: int, H: int, L: int, B: int, T: int, out: Path) -> dict:
    """Train from seed 1337 for `steps` steps; the final validation nats/char and the training seconds."""
    cfg = TrainConfig(data=data, seq_len=T, batch_size=B, max_iters=steps, eval_every=steps, log_every=max(1, steps // 10),
                      warmup_iters=min(100, steps // 10), dtype=dtype)
    config = new_model_config(model_type, "", hidden_size=H, num_layers=L)
    summary = train(out, cfg, config, progress_bar=False)
    return dict(val=summary["final_val"], seconds=summary["seconds"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="lstm,gru")
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5, help="timed steps per dtype (alternated)")
    p.add_argument("--steps", type=int, default=300, help="training steps per dtype for the validation loss (0: skip)")
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tinyshakespeare.txt"))
    p.add_argument("--threads", type=int, help="torch threads (default: torch's); 1 on a busy machine")
    p.add_argument("--quick", action="store_true", help="2 rounds and 20 steps: to see that it runs")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.rounds, args.steps = 2, min(args.steps, 20)
    H, L, B, T = args.hidden_size, args.num_layers, args.batch_size, args.seq_len
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    print(f"torch {torch.__version__}, threads: {torch.get_num_threads()}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; {L}x{H}, B={B}, T={T}")
    why = bf16_missing("cpu")
    if why:  # the trainer refuses bf16 here: show the reason in numbers instead
        a, w = torch.randn(B * T, H), torch.randn(4 * H, H)
        for dt in (torch.float32, torch.bfloat16):
            x, y = a.to(dt), w.to(dt)
            x @ y.T
            start = time.perf_counter()
            for _ in range(args.rounds):
                x @ y.T
            print(f"({B * T}, {H}) x ({H}, {4 * H}) product in {str(dt)[6:]:8s} "
                  f"{(time.perf_counter() - start) / args.rounds * 1e3:7.1f} ms")
        print(f"bf16 training is not measured: {why}")
        return
    print(f"{'training speed':52s} {'chars/s':>9s} {'vs float32':>10s}")
    for m in models:
        plain = f"plain nn.{m.upper()}"
        steps = {f"rnnlm {m} float32": trainer_step(m, "float32", H, L, B, T),
                 f"rnnlm {m} --dtype bf16": trainer_step(m, "bf16", H, L, B, T),
                 f"{plain} float32": plain_step(m, False, H, L, B, T),
                 f"{plain} under torch.autocast(bf16)": plain_step(m, True, H, L, B, T)}
        got = speeds(steps, args.rounds, B * T)
        for name, v in got.items():
            base = got[f"rnnlm {m} float32"] if name.startswith("rnnlm") else got[f"{plain} float32"]
            target = "  (target >= 1.5x)" if "bf16" in name and name.startswith("rnnlm") else ""
            print(f"{name:52s} {v:9,.0f} {v / base:9.2f}x{target}")
    if args.steps:
        print(f"\nvalidation nats/char after {args.steps} steps on {Path(args.data).name} (target: bf16 within 0.01)")
        with tempfile.TemporaryDirectory() as tmp:
            for m in models:
                got = {dt: val_after(m, dt, args.data, args.steps, H, L, B, T, Path(tmp) / f"{m}-{dt}")
                       for dt in ("float32", "bf16")}
                f32, bf = got["float32"], got["bf16"]
                print(f"{m:5s} float32 {f32['val']:.4f} ({f32['seconds']:.0f} s)   bf16 {bf['val']:.4f} "
                      f"({bf['seconds']:.0f} s)   difference {bf['val'] - f32['val']:+.4f}")


if __name__ == "__main__":
    main()
