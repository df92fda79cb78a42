"""The numpy RNN: hand-written BPTT against finite differences and torch, the CharLM contract, training."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlm.config import ModelConfig, TrainConfig
from rnnlm.models import numpy_rnn
from rnnlm.models.numpy_optim import Adam, clip_grad_norm
from rnnlm.models.numpy_rnn import NumpyRNN

REPO = Path(__file__).resolve().parents[1]


def small_case(layers: int = 2, dtype=np.float64):
    """A tiny model (V=7, H=5), a (3, 4) window and a nonzero initial state."""
    config = ModelConfig(model_type="rnn", vocab="abcdefg", hidden_size=5, num_layers=layers)
    model = NumpyRNN(config, seed=1, dtype=dtype)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 7, size=(3, 4))
    y = rng.integers(0, 7, size=(3, 4))
    h0 = (0.5 * rng.standard_normal((layers, 3, 5))).astype(dtype)
    return model, x, y, h0


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the largest magnitude."""
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-12))


def stream_windows(ids: np.ndarray, batch: int, seq: int):
    """Consecutive (x, y) windows over batch parallel streams cut from ids, forever."""
    n = (len(ids) - 1) // batch
    streams = np.stack([ids[i * n : i * n + n + 1] for i in range(batch)])  # (B, n+1)
    while True:
        for i in range(0, n - seq + 1, seq):
            yield streams[:, i : i + seq], streams[:, i + 1 : i + seq + 1]


def tiny_text_model(optimizer: str, seed: int = 0, weight_decay: float = 0.0):
    """A model and trainer for a 40-character text repeated, and a window stream over it."""
    text = "the quick brown fox jumps over a lazy do" * 30
    vocab = "".join(sorted(set(text)))
    model = NumpyRNN(ModelConfig(model_type="rnn", vocab=vocab, hidden_size=48, num_layers=1), seed=seed)
    trainer = model.trainer(TrainConfig(optimizer=optimizer, grad_clip=5.0, weight_decay=weight_decay))
    return model, trainer, stream_windows(model.vocab.encode(text), batch=4, seq=40)


def train(trainer, windows, state, steps: int, lr: float) -> list[float]:
    """Run steps train_steps, carrying the state; returns the losses and leaves the last state in state[0]."""
    losses = []
    for _ in range(steps):
        x, y = next(windows)
        loss, state[0] = trainer.train_step(x, y, state[0], lr)
        losses.append(loss)
    return losses


# --- gradients --------------------------------------------------------------------------------


def test_gradients_match_finite_differences():
    model, x, y, h0 = small_case()
    _, grads, _ = model.loss_and_grads(x, y, h0)
    eps = 1e-5
    for name, p in model.params.items():
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = model.loss_and_grads(x, y, h0)[0]
            p[i] = old - eps
            down = model.loss_and_grads(x, y, h0)[0]
            p[i] = old
            numeric[i] = (up - down) / (2 * eps)
        assert rel_err(grads[name], numeric) < 1e-6, name


def test_gradients_loss_and_state_match_torch():
    torch = pytest.importorskip("torch")
    model, x, y, h0 = small_case()
    loss, grads, new_state = model.loss_and_grads(x, y, h0)

    w = {name: torch.tensor(p, requires_grad=True) for name, p in model.params.items()}
    inputs = torch.nn.functional.one_hot(torch.tensor(x), 7).double()  # (B, T, V)
    last = []
    for l in range(2):
        h, outputs = torch.tensor(h0[l]), []
        for t in range(x.shape[1]):
            h = torch.tanh(inputs[:, t] @ w[f"Wxh.{l}"] + h @ w[f"Whh.{l}"] + w[f"bh.{l}"])
            outputs.append(h)
        inputs = torch.stack(outputs, dim=1)  # (B, T, H) the next layer's input
        last.append(h)
    logits = inputs @ w["Why"] + w["by"]  # (B, T, V)
    torch_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 7), torch.tensor(y).reshape(-1))
    torch_loss.backward()

    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    np.testing.assert_allclose(new_state, torch.stack(last).detach().numpy(), rtol=1e-12)
    assert grads.keys() == w.keys()
    for name in grads:
        assert rel_err(grads[name], w[name].grad.numpy()) < 1e-6, name


def test_float32_stays_float32():
    model, x, y, h0 = small_case(dtype=np.float32)
    loss, grads, state = model.loss_and_grads(x, y, h0)
    assert isinstance(loss, float)
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    assert state.dtype == np.float32
    model.trainer(TrainConfig(weight_decay=0.1)).train_step(x, y, h0, np.float64(1e-3))
    assert {p.dtype for p in model.params.values()} == {np.dtype(np.float32)}
    assert all(p.flags.c_contiguous for p in model.params.values())


def test_module_does_not_import_torch():
    code = "import sys, rnnlm.models.numpy_rnn; assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env)


# --- the CharLM contract ----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1024, 3])
def test_forward_equals_steps_and_loss(chunk, monkeypatch):
    monkeypatch.setattr(numpy_rnn, "FORWARD_CHUNK", chunk)  # 3: a window of 4 runs as two chunks
    model, x, y, h0 = small_case(dtype=np.float32)
    h0 = h0[:, :2]
    x, y = x[:2], y[:2]
    logits, state = model.forward(x, h0)
    assert logits.shape == (2, 4, 7) and logits.dtype == np.float32

    step_state = h0
    for t in range(x.shape[1]):
        step_logits, step_state = model.step(x[:, t], step_state)
        np.testing.assert_allclose(step_logits, logits[:, t], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(step_state, state, rtol=1e-5, atol=1e-6)

    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    expected = -np.take_along_axis(log_probs, y[..., None], axis=-1).mean()
    assert model.loss_and_grads(x, y, h0)[0] == pytest.approx(expected, rel=1e-5)


def test_forward_does_not_change_its_inputs():
    model, x, _, h0 = small_case()
    before = h0.copy()
    model.forward(x, h0)
    model.step(x[:, 0], h0)
    assert np.array_equal(h0, before)


def test_out_of_range_ids_raise():
    model, x, y, h0 = small_case()
    with pytest.raises(ValueError, match="character ids"):
        model.forward(x + 7, h0)
    with pytest.raises(ValueError, match="character ids"):
        model.loss_and_grads(x - 7, y, h0)


def test_tensors_round_trip_into_a_fresh_model():
    model, x, _, h0 = small_case(dtype=np.float32)
    other = NumpyRNN(model.config, seed=2)
    other.load_tensors(model.tensors())
    assert np.array_equal(other.forward(x, h0)[0], model.forward(x, h0)[0])
    assert {t.dtype for t in model.tensors().values()} == {np.dtype(np.float32)}
    assert model.num_params() == sum(t.size for t in model.tensors().values()) == 7 * 5 + 3 * 25 + 2 * 5 + 5 * 7 + 7


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.update({"Whh.1": np.zeros((5, 4))}), r"Whh\.1 has shape \(5, 4\), expected \(5, 5\)"),
        (lambda t: t.pop("by"), "missing tensors: by"),
        (lambda t: t.update({"Whh.2": np.zeros((5, 5))}), r"unexpected tensors: Whh\.2"),
    ],
)
def test_load_tensors_names_bad_tensors(change, message):
    model, *_ = small_case()
    tensors = model.tensors()
    change(tensors)
    with pytest.raises(ValueError, match=message):
        model.load_tensors(tensors)


def test_state_tensors_round_trip_and_check():
    model, *_ = small_case()
    state = model.init_state(3) + 0.25
    assert np.array_equal(model.state_from_tensors(model.state_tensors(state)), state)
    with pytest.raises(ValueError, match="h has shape"):
        model.state_from_tensors({"h": np.zeros((1, 3, 5))})


# --- training ---------------------------------------------------------------------------------


def test_adam_overfits_a_tiny_text():
    model, trainer, windows = tiny_text_model("adam")
    losses = train(trainer, windows, [model.init_state(4)], steps=200, lr=1e-2)
    assert losses[0] > 2.0
    assert np.mean(losses[-5:]) < 0.1


def test_adagrad_reduces_the_loss():
    model, trainer, windows = tiny_text_model("adagrad")
    losses = train(trainer, windows, [model.init_state(4)], steps=100, lr=0.1)
    assert np.mean(losses[-5:]) < 0.5 * losses[0]


@pytest.mark.parametrize("optimizer, weight_decay", [("adam", 0.0), ("adam", 0.1), ("adagrad", 0.0)])
def test_resume_continues_bit_exactly(optimizer, weight_decay):
    model, trainer, windows = tiny_text_model(optimizer, weight_decay=weight_decay)
    state = [model.init_state(4)]
    train(trainer, windows, state, steps=5, lr=1e-2)
    saved = model.tensors(), trainer.optimizer_tensors(), model.state_tensors(state[0])
    train(trainer, windows, state, steps=5, lr=1e-2)

    resumed, resumed_trainer, resumed_windows = tiny_text_model(optimizer, seed=7, weight_decay=weight_decay)
    resumed.load_tensors(saved[0])
    resumed_trainer.load_optimizer_tensors(saved[1])
    resumed_state = [resumed.state_from_tensors(saved[2])]
    for _ in range(5):
        next(resumed_windows)  # the data position is the caller's to restore
    train(resumed_trainer, resumed_windows, resumed_state, steps=5, lr=1e-2)

    for name, p in model.params.items():
        assert np.array_equal(resumed.params[name], p), name
    assert np.array_equal(resumed_state[0], state[0])
    assert int(resumed_trainer.optimizer_tensors()["step"][0]) == 10


def test_adam_matches_torch_adamw():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    theirs = {name: torch.tensor(p, requires_grad=True) for name, p in params.items()}
    ours = Adam(params, weight_decay=0.1)
    groups = [{"params": [theirs["W"]], "weight_decay": 0.1}, {"params": [theirs["b"]], "weight_decay": 0.0}]
    torch_adam = torch.optim.AdamW(groups, lr=0.0)  # matrices decay, biases do not
    for step in range(5):
        lr = 0.01 * (step + 1)
        grads = {name: rng.standard_normal(p.shape) for name, p in params.items()}
        ours.update(grads, lr)
        for name, t in theirs.items():
            t.grad = torch.tensor(grads[name])
        for group in torch_adam.param_groups:
            group["lr"] = lr
        torch_adam.step()
    for name, p in params.items():
        np.testing.assert_allclose(p, theirs[name].detach().numpy(), rtol=1e-12, atol=1e-15)


def test_optimizer_tensors_are_checked():
    _, trainer, _ = tiny_text_model("adam")
    tensors = trainer.optimizer_tensors()
    del tensors["v.Why"]
    with pytest.raises(ValueError, match=r"missing tensors: v\.Why"):
        trainer.load_optimizer_tensors(tensors)


def test_unknown_optimizer_raises():
    model, *_ = small_case()
    with pytest.raises(ValueError, match="sgd"):
        model.trainer(TrainConfig(optimizer="sgd"))


def test_clip_grad_norm():
    grads = {"a": np.full(4, 3.0), "b": np.full(1, 4.0)}  # norm sqrt(36 + 16)
    assert clip_grad_norm(grads, 0.0) == pytest.approx(np.sqrt(52))
    assert grads["b"][0] == 4.0  # 0 disables clipping
    clip_grad_norm(grads, 1.0)
    assert np.sqrt(sum((g**2).sum() for g in grads.values())) == pytest.approx(1.0, rel=1e-5)


def test_the_input_gradient_sums_rows_per_token_id_as_a_one_hot_product_would():
    from rnnlm.models.numpy_rnn import sum_rows_by_id

    rng = np.random.default_rng(0)
    for V in (12, 300):  # characters (a one-hot product) and words (sorted rows summed per id)
        ids = rng.integers(0, V * 3 // 4, 500)  # repeats, and some of the V ids never occur
        rows = rng.standard_normal((500, 5))
        onehot = (ids[None, :] == np.arange(V)[:, None]).astype(np.float64)  # (V, N)
        np.testing.assert_allclose(sum_rows_by_id(ids, rows, V), onehot @ rows, rtol=1e-12, atol=1e-12)
        assert sum_rows_by_id(ids[:0], rows[:0], V).shape == (V, 5)
