"""Training speed of NumpyRNN against a min-char-rnn reference loop, and batch-1 sampling speed.

    python benchmarks/bench_numpy_rnn.py [--quick] [--data FILE]

Rates are from the median time of one iteration, so a moment of load from other programs on a
shared machine moves them little. OpenBLAS runs one thread per core unless OPENBLAS_NUM_THREADS
says otherwise; on a busy machine OPENBLAS_NUM_THREADS=1 is much faster for the small matmuls
inside the time loop, because a multi-threaded matmul waits for its slowest thread.
"""
from __future__ import annotations

import argparse
import os
import string
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere

from rnnlm.config import ModelConfig, TrainConfig  # noqa: E402
from rnnlm.models.numpy_rnn import NumpyRNN  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"


def median_rate(fn, units: int, seconds: float, warmup: int = 2) -> float:
    """units / median seconds of fn(), calling it for about `seconds`."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return units / float(np.median(times))


def min_char_rnn_rate(data: str, seconds: float) -> float:
    """Training chars/s of min-char-rnn: batch 1, H=100, seq 25, Adagrad, a Python loop over characters."""
    chars = sorted(set(data))
    vocab_size = len(chars)
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    hidden_size, seq_length, learning_rate = 100, 25, 1e-1
    rng = np.random.default_rng(0)
    Wxh = rng.standard_normal((hidden_size, vocab_size)) * 0.01  # input to hidden
    Whh = rng.standard_normal((hidden_size, hidden_size)) * 0.01  # hidden to hidden
    Why = rng.standard_normal((vocab_size, hidden_size)) * 0.01  # hidden to output
    bh = np.zeros((hidden_size, 1))
    by = np.zeros((vocab_size, 1))
    params = [Wxh, Whh, Why, bh, by]
    mems = [np.zeros_like(p) for p in params]

    def loss_fun(inputs, targets, hprev):
        """min-char-rnn's lossFun: forward and backward over one sequence, column vectors."""
        xs, hs, ps = {}, {}, {}
        hs[-1] = np.copy(hprev)
        loss = 0
        for t in range(len(inputs)):
            xs[t] = np.zeros((vocab_size, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
            ys = np.dot(Why, hs[t]) + by
            ps[t] = np.exp(ys) / np.sum(np.exp(ys))
            loss += -np.log(ps[t][targets[t], 0])
        grads = [np.zeros_like(p) for p in params]
        dWxh, dWhh, dWhy, dbh, dby = grads
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh.T, dhraw)
        for g in grads:
            np.clip(g, -5, 5, out=g)
        return loss, grads, hs[len(inputs) - 1]

    p, hprev = 0, np.zeros((hidden_size, 1))  # data pointer and carried hidden state

    def iteration():
        nonlocal p, hprev
        if p + seq_length + 1 >= len(data):
            p, hprev = 0, np.zeros((hidden_size, 1))
        inputs = [char_to_ix[ch] for ch in data[p : p + seq_length]]
        targets = [char_to_ix[ch] for ch in data[p + 1 : p + seq_length + 1]]
        _, grads, hprev = loss_fun(inputs, targets, hprev)
        for param, g, mem in zip(params, grads, mems):
            mem += g * g
            param += -learning_rate * g / np.sqrt(mem + 1e-8)
        p += seq_length

    return median_rate(iteration, seq_length, seconds)


def numpy_rnn_rate(data: str, hidden: int, seconds: float, batch: int = 64, seq: int = 100) -> float:
    """Training chars/s of NumpyRNN (1 layer, Adam, clipping) on consecutive (batch, seq) windows."""
    model = NumpyRNN(ModelConfig(model_type="rnn", vocab="".join(sorted(set(data))), hidden_size=hidden, num_layers=1))
    trainer = model.trainer(TrainConfig(batch_size=batch, seq_len=seq))
    ids = model.vocab.encode(data)
    n = (len(ids) - 1) // batch
    streams = np.stack([ids[i * n : (i + 1) * n + 1] for i in range(batch)])  # (B, n+1)
    i, state = 0, model.init_state(batch)

    def iteration():
        nonlocal i, state
        if i + seq >= n:
            i, state = 0, model.init_state(batch)
        _, state = trainer.train_step(streams[:, i : i + seq], streams[:, i + 1 : i + seq + 1], state, 2e-3)
        i += seq

    return median_rate(iteration, batch * seq, seconds)


def sampling_rates(data: str, hidden: int, seconds: float) -> tuple[float, float]:
    """Batch-1 steps/s of NumpyRNN.step alone, and with a softmax and an inverse-CDF draw after each."""
    model = NumpyRNN(ModelConfig(model_type="rnn", vocab="".join(sorted(set(data))), hidden_size=hidden, num_layers=1))
    rng = np.random.default_rng(0)
    ids, state = np.zeros(1, dtype=np.int64), model.init_state(1)

    def step_only():
        nonlocal state
        state = model.step(ids, state)[1]

    def step_and_sample():
        nonlocal state
        logits, state = model.step(ids, state)
        cdf = np.exp(logits[0] - logits[0].max()).cumsum()  # (V,) unnormalised
        ids[0] = np.searchsorted(cdf, rng.random() * cdf[-1])  # first cdf >= u * total: at most V - 1

    batches = 1000  # time a thousand steps at once: a single step is too short to time alone
    step_rate = median_rate(lambda: [step_only() for _ in range(batches)], batches, seconds / 2)
    sample_rate = median_rate(lambda: [step_and_sample() for _ in range(batches)], batches, seconds / 2)
    return step_rate, sample_rate


def synthetic_text(n: int = 1_000_000) -> str:
    """Seeded random words over 65 characters, tinyshakespeare's vocabulary size."""
    rng = np.random.default_rng(0)
    alphabet = np.array(list(string.ascii_letters + string.digits + ".,"))  # 64 characters, plus " "
    words = ["".join(rng.choice(alphabet, size=rng.integers(1, 9))) for _ in range(n // 5)]
    return " ".join(words)[:n]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
                        help="training text (default: tinyshakespeare from ../shared/data if present, else synthetic)")
    parser.add_argument("--quick", action="store_true", help="about 1 s per measurement instead of 3")
    args = parser.parse_args(argv)
    data = args.data.read_text(encoding="utf-8") if args.data else synthetic_text()
    seconds = 1.0 if args.quick else 3.0

    print(f"data: {args.data or 'synthetic'} ({len(data):,} chars, {len(set(data))} distinct)")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"cpus: {os.cpu_count()}, OPENBLAS_NUM_THREADS: {threads}, numpy {np.__version__}")
    reference = min_char_rnn_rate(data, seconds)
    rows = [("min-char-rnn (B=1, H=100, T=25, Adagrad)", reference)]
    for hidden in (100, 512):
        rows.append((f"NumpyRNN 1x{hidden} (B=64, T=100, Adam)", numpy_rnn_rate(data, hidden, seconds)))
    print("\n| training | chars/s | vs min-char-rnn |\n| --- | ---: | ---: |")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / reference:.1f}x |")

    step_rate, sample_rate = sampling_rates(data, 512, seconds)
    print("\n| sampling, NumpyRNN 1x512, batch 1 | steps/s |\n| --- | ---: |")
    print(f"| step | {step_rate:,.0f} |\n| step + softmax + draw | {sample_rate:,.0f} |")


if __name__ == "__main__":
    main()
