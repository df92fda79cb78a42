"""The shared model interface, checked the same way for all three models."""
from __future__ import annotations

import numpy as np
import pytest

from rnnlm import checkpoint
from rnnlm.config import TrainConfig
from rnnlm.models import build_model, model_class
from tests.conftest import TEXT, tiny_config


def test_forward_over_t_equals_t_single_steps(tiny_model):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, tiny_model.config.vocab_size, size=(3, 11))
    logits, state = tiny_model.forward(ids, tiny_model.init_state(3))  # (3, 11, V)
    step_state, steps = tiny_model.init_state(3), []
    for t in range(ids.shape[1]):
        out, step_state = tiny_model.step(ids[:, t], step_state)  # (3, V)
        steps.append(out)
    np.testing.assert_allclose(np.stack(steps, axis=1), logits, rtol=1e-4, atol=1e-5)
    for a, b in zip(tiny_model.state_tensors(state).values(), tiny_model.state_tensors(step_state).values()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_forward_carries_state_across_calls(tiny_model):
    ids = np.random.default_rng(1).integers(0, tiny_model.config.vocab_size, size=(2, 12))
    whole, _ = tiny_model.forward(ids, tiny_model.init_state(2))
    first, state = tiny_model.forward(ids[:, :5], tiny_model.init_state(2))
    second, _ = tiny_model.forward(ids[:, 5:], state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-4, atol=1e-5)


def test_overfits_a_tiny_text(model_type):
    text = "the cat sat on the mat. " * 4
    model = build_model(tiny_config(model_type, vocab="".join(sorted(set(text))), hidden_size=48, num_layers=1, dropout=0.0), seed=0)
    ids = model.vocab.encode(text)
    x, y = ids[None, :-1], ids[None, 1:]
    trainer = model.trainer(TrainConfig(lr=1e-2, seed=0))
    for _ in range(300):
        loss, _ = trainer.train_step(x, y, model.init_state(1), lr=1e-2)
    assert loss < 0.15, f"{model_type} did not overfit: loss {loss:.3f}"


def test_save_load_gives_identical_logits(tiny_model, tmp_path):
    checkpoint.save(tiny_model, tmp_path / "ckpt")
    loaded = checkpoint.load(tmp_path / "ckpt")
    assert type(loaded) is type(tiny_model) and loaded.config == tiny_model.config
    ids = np.random.default_rng(2).integers(0, tiny_model.config.vocab_size, size=(2, 9))
    a, _ = tiny_model.forward(ids, tiny_model.init_state(2))
    b, _ = loaded.forward(ids, loaded.init_state(2))
    np.testing.assert_array_equal(a, b)


def test_state_tensors_round_trip(tiny_model):
    _, state = tiny_model.forward(np.array([[1, 2, 3]]), tiny_model.init_state(1))
    again = tiny_model.state_from_tensors(tiny_model.state_tensors(state))
    a, _ = tiny_model.step(np.array([4]), state)
    b, _ = tiny_model.step(np.array([4]), again)
    np.testing.assert_array_equal(a, b)


def test_load_tensors_names_the_wrong_tensor(tiny_model):
    tensors = tiny_model.tensors()
    name = sorted(tensors)[0]
    tensors[name] = np.zeros((3, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        tiny_model.load_tensors(tensors)
    tensors = tiny_model.tensors()
    del tensors[name]
    with pytest.raises(ValueError, match="missing"):
        tiny_model.load_tensors(tensors)


def test_same_seed_same_weights_and_different_seed_different(model_type):
    a = build_model(tiny_config(model_type), seed=5).tensors()
    b = build_model(tiny_config(model_type), seed=5).tensors()
    c = build_model(tiny_config(model_type), seed=6).tensors()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_lstm_forget_gate_bias_starts_at_one():
    model = build_model(tiny_config("lstm"), seed=0)
    H = model.config.hidden_size
    for l in range(model.config.num_layers):
        bias = model.tensors()[f"rnn.bias_ih_l{l}"] + model.tensors()[f"rnn.bias_hh_l{l}"]
        np.testing.assert_array_equal(bias[H : 2 * H], 1.0)


def test_registry_rejects_unknown_type():
    with pytest.raises(ValueError, match="unknown model type"):
        model_class("transformer")
    assert {model_class(t).__name__ for t in ("rnn", "lstm", "gru")} == {"NumpyRNN", "TorchRNN"}


def test_vocab_is_sorted_and_inside_the_checkpoint(tiny_model, tmp_path):
    checkpoint.save(tiny_model, tmp_path / "m")
    assert checkpoint.read_config(tmp_path / "m").vocab == "".join(sorted(set(TEXT)))
