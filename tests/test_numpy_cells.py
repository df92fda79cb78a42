"""The LSTM and GRU run in numpy (rnnlm.models.numpy_cells) give what torch gives on the same weights."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rnnlm import generate, score, store
from rnnlm.config import TrainConfig
from rnnlm.models import build_model
from tests.support import REPO, TEXT, stepped_logits, tiny_config

CELLS = ["lstm", "gru"]


@pytest.fixture(params=CELLS)
def pair(request, tmp_path):
    """A tiny torch model with non-trivial weights, and the same checkpoint loaded for inference."""
    model = build_model(tiny_config(request.param), seed=4)
    trainer = model.trainer(TrainConfig(lr=1e-2, seed=0))
    ids = model.vocab.encode(TEXT[:400]).reshape(4, 100)
    for _ in range(5):  # move the weights off their initial values (the forget-gate bias among them)
        trainer.train_step(ids[:, :-1], ids[:, 1:], model.init_state(4), lr=1e-2)
    folder = store.save(model, tmp_path / "ckpt")
    return model, store.load(folder, inference=True)


def test_inference_loads_the_numpy_class(pair):
    torch_model, cells = pair
    assert type(cells).__name__ == "CellLM" and type(torch_model).__name__ == "TorchRNN"
    assert cells.config == torch_model.config and cells.num_params() == torch_model.num_params()
    for name, t in torch_model.tensors().items():
        np.testing.assert_array_equal(cells.tensors()[name], t)


def test_forward_matches_torch_for_a_batch(pair):
    torch_model, cells = pair
    ids = np.random.default_rng(0).integers(0, cells.config.vocab_size, size=(3, 17))
    expected, torch_state = torch_model.forward(ids, torch_model.init_state(3))  # torch's nn.LSTM / nn.GRU
    got, state = cells.forward(ids, cells.init_state(3))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for a, b in zip(cells.state_tensors(state).values(), torch_model.state_tensors(torch_state).values()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_steps_match_torch_and_forward(pair):
    torch_model, cells = pair
    ids = np.random.default_rng(1).integers(0, cells.config.vocab_size, size=(2, 9))
    expected, _ = torch_model.forward(ids, torch_model.init_state(2))
    np.testing.assert_allclose(stepped_logits(cells, ids), expected, rtol=1e-4, atol=1e-5)


def test_same_seed_same_text_and_score(pair):
    torch_model, cells = pair
    for temperature in (0.0, 0.8, 1.5):
        assert generate(cells, "BRUTUS:", length=120, temperature=temperature, seed=7) == \
            generate(torch_model, "BRUTUS:", length=120, temperature=temperature, seed=7)
    text = "PORTIA:\nI pray you, gentle sir, what news from Rome?"
    assert score(cells, text).nats_per_char == pytest.approx(score(torch_model, text).nats_per_char, abs=1e-5)


def test_state_round_trips(pair):
    _, cells = pair
    _, state = cells.forward(np.array([[1, 2, 3]]), cells.init_state(1))
    a, _ = cells.step(np.array([4]), state)
    b, _ = cells.step(np.array([4]), cells.state_from_tensors(cells.state_tensors(state)))
    np.testing.assert_array_equal(a, b)


def test_an_inference_model_refuses_to_train(pair):
    _, cells = pair
    with pytest.raises(TypeError, match="inference only"):
        cells.trainer(TrainConfig())


def test_sampling_and_scoring_need_no_torch(pair, tmp_path):
    torch_model, _ = pair
    folder = store.save(torch_model, tmp_path / "again")
    code = (
        "import sys\n"
        "from rnnlm import generate, score, store\n"
        f"m = store.load({str(folder)!r}, inference=True)\n"
        "assert len(generate(m, 'BRUTUS:', length=20, seed=1)) == 20\n"
        "assert score(m, 'The night is long').chars_scored > 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_layers_on_their_own_threads_give_torch_s_numbers(pair, monkeypatch):
    """A text longer than a chunk runs each layer on its own thread; the logits and state still match torch."""
    from rnnlm.models import numpy_cells

    torch_model, cells = pair
    ids = np.random.default_rng(2).integers(0, cells.config.vocab_size, size=(1, 61))
    expected, torch_state = torch_model.forward(ids, torch_model.init_state(1))
    monkeypatch.setattr(numpy_cells, "PIPELINE_CHUNK", 8)  # 8 chunks through the two layers
    got, state = cells.forward(ids, cells.init_state(1))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for a, b in zip(cells.state_tensors(state).values(), torch_model.state_tensors(torch_state).values()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    monkeypatch.setattr(numpy_cells, "PIPELINE_CHUNK", 1000)  # one chunk: layer after layer on this thread
    one_thread, _ = cells.forward(ids, cells.init_state(1))
    np.testing.assert_allclose(got, one_thread, rtol=1e-6, atol=1e-6)


def test_a_failing_layer_thread_raises_in_the_caller(pair, monkeypatch):
    from rnnlm.models import numpy_cells

    _, cells = pair
    real = numpy_cells._recur

    def fail_above(cell, l, *args):
        if l == 1:
            raise FloatingPointError("layer 1 broke")
        return real(cell, l, *args)

    monkeypatch.setattr(numpy_cells, "PIPELINE_CHUNK", 4)
    monkeypatch.setattr(numpy_cells, "_recur", fail_above)
    with pytest.raises(FloatingPointError, match="layer 1 broke"):
        cells.forward(np.zeros((1, 40), dtype=np.int64), cells.init_state(1))
