"""Training and sampling speed of the torch models, against plain nn.LSTM / nn.GRU in the same run.

    python benchmarks/bench_torch.py            # 2x512, B=64, T=100, as in the targets
    python benchmarks/bench_torch.py --quick    # fewer steps

Prints chars/s. Targets (2 threads, idle machine): training at least as fast as the plain
reference; sampling at batch 1 >= 1,200 chars/s for LSTM 2x512 and GRU 2x512, and >= 10,000
chars/s for the numpy RNN 1x512.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rnnlm import generate  # noqa: E402
from rnnlm.config import ModelConfig, TrainConfig  # noqa: E402
from rnnlm.models import build_model, runner  # noqa: E402

VOCAB = "".join(chr(c) for c in range(32, 97))  # 65 characters, like Tiny Shakespeare


def reference_train(cell: str, H: int, L: int, B: int, T: int, steps: int) -> float:
    """Plain nn.LSTM / nn.GRU training loop (pytorch/examples style): chars/s."""
    V = len(VOCAB)
    emb, rnn, head = nn.Embedding(V, 64), getattr(nn, cell.upper())(64, H, L, batch_first=True), nn.Linear(H, V)
    params = [*emb.parameters(), *rnn.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3)
    x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    state = None
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        out, state = rnn(emb(x), state)
        loss = F.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
    return steps * B * T / (time.perf_counter() - t0)


def rnnlm_train(model_type: str, H: int, L: int, B: int, T: int, steps: int) -> float:
    """rnnlm's trainer on the same shapes: chars/s."""
    model = build_model(ModelConfig(model_type=model_type, vocab=VOCAB, hidden_size=H, num_layers=L))
    trainer = model.trainer(TrainConfig(batch_size=B, seq_len=T))
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, len(VOCAB), (B, T)), rng.integers(0, len(VOCAB), (B, T))
    state = model.init_state(B)
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        _, state = trainer.train_step(x, y, state, 1e-3)
    return steps * B * T / (time.perf_counter() - t0)


def sample_speed(model_type: str, H: int, L: int, n: int) -> float:
    """Batch-1 sampling through the public generate(): chars/s."""
    model = build_model(ModelConfig(model_type=model_type, vocab=VOCAB, hidden_size=H, num_layers=L))
    generate(model, "A", length=20, seed=0)  # warm-up
    t0 = time.perf_counter()
    generate(model, "A", length=n, temperature=0.8, seed=0)
    return n / (time.perf_counter() - t0)


def torch_cell_stepper(model):
    """A batch-1 step with torch.lstm_cell / gru_cell on the model's own weights: the torch reference."""
    cell = torch.lstm_cell if model.config.model_type == "lstm" else torch.gru_cell
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    layers = [tuple(getattr(model.rnn, f"{n}_l{l}") for n in names) for l in range(model.config.num_layers)]

    @torch.inference_mode()
    def step(ids, state):
        x = model.embed.weight[torch.as_tensor(ids)]  # (1, E)
        new = [[] for _ in state]
        for l, w in enumerate(layers):
            out = cell(x, tuple(s[l] for s in state) if len(state) > 1 else state[0][l], *w)
            out = out if isinstance(out, tuple) else (out,)
            for slot, value in zip(new, out):
                slot.append(value)
            x = out[0]
        return model.head(x), tuple(torch.stack(slot) for slot in new)

    return step


def cell_step_speed(model_type: str, H: int, L: int, n: int) -> tuple[float, float]:
    """Batch-1 steps alone (no sampling): torch.lstm_cell / gru_cell stepping, and rnnlm's single-stream
    runner (numpy), on the same weights, alternated in one run: chars/s each."""
    model = build_model(ModelConfig(model_type=model_type, vocab=VOCAB, hidden_size=H, num_layers=L))
    run = runner(model)
    ids, speeds = np.array([3]), {"cell": [], "step": []}
    for _ in range(3):
        for name, step, init in (("cell", torch_cell_stepper(model), model.init_state),
                                 ("step", run.step, run.init_state)):
            state = init(1)
            step(ids, state)
            t0 = time.perf_counter()
            for _ in range(n):
                _, state = step(ids, state)
            speeds[name].append(n / (time.perf_counter() - t0))
    return max(speeds["cell"]), max(speeds["step"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer steps per measurement")
    args = p.parse_args()
    steps, n = (2, 500) if args.quick else (6, 3000)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'measurement':44s} {'chars/s':>10s} {'ratio':>7s}")
    for cell in ("lstm", "gru"):
        ref = reference_train(cell, 512, 2, 64, 100, steps)
        ours = rnnlm_train(cell, 512, 2, 64, 100, steps)
        print(f"{'train nn.' + cell.upper() + ' reference 2x512 B=64 T=100':44s} {ref:10,.0f}")
        print(f"{'train rnnlm ' + cell + ' 2x512 B=64 T=100':44s} {ours:10,.0f} {ours / ref:6.2f}x")
    for cell in ("lstm", "gru"):
        ref, ours = cell_step_speed(cell, 512, 2, n // 3)
        print(f"{'step torch.' + cell + '_cell 2x512 batch 1':44s} {ref:10,.0f}")
        print(f"{'step rnnlm ' + cell + ' 2x512 batch 1 (numpy)':44s} {ours:10,.0f} {ours / ref:6.2f}x")
    for model_type, H, L, target in (("lstm", 512, 2, 1200), ("gru", 512, 2, 1200), ("rnn", 512, 1, 10000)):
        speed = sample_speed(model_type, H, L, n if model_type != "rnn" else 10 * n)
        print(f"{'sample ' + model_type + f' {L}x{H} batch 1 (target {target:,})':44s} {speed:10,.0f}")


if __name__ == "__main__":
    main()
