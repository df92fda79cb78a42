"""The shared model interface and the registry, checked the same way for every built-in model type."""
from __future__ import annotations

import numpy as np
import pytest

from rnnlm import store
from rnnlm.config import TrainConfig
from rnnlm.models import MODELS, build_model, runner, spec_for
from tests.support import tiny_config


@pytest.mark.parametrize("batch", [1, 3])
def test_forward_over_t_equals_t_single_steps(tiny_model, batch):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, tiny_model.config.vocab_size, size=(batch, 11))
    logits, state = tiny_model.forward(ids, tiny_model.init_state(batch))  # (B, 11, V)
    step_state, steps = tiny_model.init_state(batch), []
    for t in range(ids.shape[1]):
        out, step_state = tiny_model.step(ids[:, t], step_state)  # (B, V)
        steps.append(out)
    np.testing.assert_allclose(np.stack(steps, axis=1), logits, rtol=1e-4, atol=1e-5)
    for a, b in zip(tiny_model.state_tensors(state).values(), tiny_model.state_tensors(step_state).values()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def batch_of_two(model, ids: np.ndarray) -> np.ndarray:
    """Logits for a single stream ids (1, T), run by the training class as both rows of a batch of two."""
    logits, _ = model.forward(np.repeat(ids, 2, axis=0), model.init_state(2))
    np.testing.assert_array_equal(logits[0], logits[1])
    return logits[:1]


def test_the_single_stream_runner_equals_the_training_class_in_a_batch(tiny_model):
    ids = np.random.default_rng(5).integers(0, tiny_model.config.vocab_size, size=(1, 13))
    run = runner(tiny_model)
    single, state = run.forward(ids, run.init_state(1))
    np.testing.assert_allclose(single, batch_of_two(tiny_model, ids), rtol=1e-4, atol=1e-5)
    _, pair_state = tiny_model.forward(np.repeat(ids, 2, axis=0), tiny_model.init_state(2))
    for a, b in zip(run.state_tensors(state).values(), tiny_model.state_tensors(pair_state).values()):
        np.testing.assert_allclose(a[:, 0], b[:, 1], rtol=1e-4, atol=1e-5)


def test_the_runner_sees_weights_changed_by_loading_or_training(tiny_model):
    """runner() after load_tensors or a training step runs the new weights, not a stale copy."""
    ids = np.array([[1, 2, 3, 4]])
    before, _ = runner(tiny_model).forward(ids, runner(tiny_model).init_state(1))
    tiny_model.load_tensors({k: v * 0.5 + 0.01 for k, v in tiny_model.tensors().items()})
    loaded, _ = runner(tiny_model).forward(ids, runner(tiny_model).init_state(1))
    np.testing.assert_allclose(loaded, batch_of_two(tiny_model, ids), rtol=1e-4, atol=1e-5)
    assert not np.allclose(loaded, before, atol=1e-4)
    trainer = tiny_model.trainer(TrainConfig(lr=1e-2, seed=0))
    trainer.train_step(ids[:, :-1], ids[:, 1:], tiny_model.init_state(1), lr=1e-2)
    after, _ = runner(tiny_model).forward(ids, runner(tiny_model).init_state(1))
    np.testing.assert_allclose(after, batch_of_two(tiny_model, ids), rtol=1e-4, atol=1e-5)
    assert not np.allclose(after, loaded, atol=1e-4), "the training step did not change the logits"


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
    store.save(tiny_model, tmp_path / "ckpt")
    loaded = store.load(tmp_path / "ckpt")
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


@pytest.mark.parametrize("options, bias", [({}, 1.0), ({"forget_bias": 1.0}, 1.0), ({"forget_bias": 0.0}, 0.0)])
def test_lstm_forget_gate_bias_starts_at_its_option_one_by_default(options, bias):
    model = build_model(tiny_config("lstm", options=options), seed=0)
    H = model.config.hidden_size
    for l in range(model.config.num_layers):
        total = model.tensors()[f"rnn.bias_ih_l{l}"] + model.tensors()[f"rnn.bias_hh_l{l}"]
        np.testing.assert_array_equal(total[H : 2 * H], bias)
    assert f"forget-gate bias {bias} at the start" in MODELS["lstm"].describe(model.config)


def test_registry_rejects_unknown_type_and_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model type 'transformer'.*rnn, lstm, gru"):
        spec_for("transformer")
    assert {spec_for(t).trainer_type().__name__ for t in ("rnn", "lstm", "gru")} == {"NumpyRNN", "TorchRNN"}
    assert {spec_for(t).runner_type().__name__ for t in ("rnn", "lstm", "gru")} == {"RNNRunner", "CellLM"}


def test_every_spec_describes_its_model_from_the_config(model_type):
    spec = MODELS[model_type]
    config = tiny_config(model_type)
    sentence = spec.describe(config)
    assert str(config.hidden_size) in sentence and str(config.vocab_size) in sentence
    assert spec.label and spec.framework in ("numpy", "pytorch") and spec.defaults["hidden_size"] > 0
