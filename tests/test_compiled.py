"""The compiled LSTM and GRU layers (rnnlm/models/layers.c) give numpy's and torch's numbers, and their absence,
a failed build or a damaged cached library leave numpy running."""
from __future__ import annotations

import os
import platform
import stat

import numpy as np
import pytest

from rnnlm import generate, score
from rnnlm.config import TrainConfig
from rnnlm.models import build_model, compiled, runner
from rnnlm.models.numpy_cells import CELLS
from rnnlm.models.numpy_rnn import TANH, NumpyRNN, RNNRunner
from tests.support import TEXT, stepped_logits, tiny_config

needs_compiler = pytest.mark.skipif(compiled._compiler() is None, reason="no C compiler on this machine")


@pytest.fixture
def fresh_library(monkeypatch, tmp_path):
    """library() looked up again under the test's settings (a cache of its own), and again after it."""
    monkeypatch.setenv("RNNLM_CACHE", str(tmp_path / "cache"))
    compiled.library.cache_clear()
    yield tmp_path / "cache" / "compiled"
    compiled.library.cache_clear()


LAYER_CELLS = CELLS | {"rnn": TANH}  # every layer layers.c runs: the LSTM, the GRU and the tanh RNN


def random_layer(cell_name: str, H: int, T: int, half: bool, seed: int = 0, K: int | None = None):
    """A random layer of K inputs (H by default) and H units, as the compiled step runs it (float16-exact weights
    when half), its weights as the cell's numpy layer takes them, inputs (T, K) and a state."""
    rng = np.random.default_rng(seed)
    cell, K = LAYER_CELLS[cell_name], K or H
    G = cell.gates * H
    w_ih = (rng.standard_normal((G, K)) / np.sqrt(K)).astype(np.float32)
    w_hh = (rng.standard_normal((G, H)) * 1.5 / np.sqrt(H)).astype(np.float32)
    if half:
        w_ih, w_hh = (w.astype(np.float16).astype(np.float32) for w in (w_ih, w_hh))
    b_ih, b_hh = (rng.standard_normal((2, G)) * 0.3).astype(np.float32)
    w_in, b_in, w_rec, b_rec = cell.prepare(w_ih, w_hh, b_ih, b_hh)
    scale = cell.prepare(np.ones((G, 1), np.float32), np.ones_like(w_hh), b_ih, b_hh)[0][:, 0]
    layer = compiled.Layer(cell.compiled, w_ih, w_hh, scale, b_in, b_rec)
    x = rng.standard_normal((T, K)).astype(np.float32)
    state = tuple((rng.standard_normal(H) * 0.5).astype(np.float32) for _ in cell.state_names)
    return layer, (w_in, b_in, w_rec, b_rec), x, state


@needs_compiler
@pytest.mark.parametrize("cell_name", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16"])
@pytest.mark.parametrize("H", [40, 64])  # 40: the vector loops' tails run too
def test_a_compiled_layer_gives_the_numpy_layers_numbers(cell_name, half, H):
    assert compiled.library() is not None, compiled.reason()
    layer, (w_in, b_in, w_rec, b_rec), x, state = random_layer(cell_name, H, T=300, half=half)
    assert layer.w_hh.dtype == layer.w_ih.dtype == (np.float16 if half else np.float32)
    gi = x @ w_in.T + b_in  # (T, G)
    expected, expected_state = LAYER_CELLS[cell_name].run_layer(gi, w_rec, b_rec, tuple(s.copy() for s in state))
    got, got_state = layer.run(gi, state)
    np.testing.assert_allclose(got, expected, atol=2e-6)
    for a, b in zip(got_state, expected_state):
        np.testing.assert_allclose(a, b, atol=2e-6)
    assert np.abs(state[0]).max() > 0.1 and not np.array_equal(got_state[0], state[0])  # the input state is kept


def _cpu_has(*flags: str) -> bool:
    try:
        words = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return False
    return all(f in words for f in flags)


INSTRUCTION_SETS = {  # layers.c's other paths than the one -march=native picks on this machine
    "avx2": (("-O3", "-mavx2", "-mfma", "-mf16c"), ("avx2", "fma", "f16c")),
    "plain C": (("-O3", "-mno-avx", "-mno-f16c"), ()),
}


@needs_compiler
@pytest.mark.parametrize("instruction_set", list(INSTRUCTION_SETS))
def test_each_instruction_sets_path_gives_the_numpy_layers_numbers(instruction_set, monkeypatch, fresh_library):
    flags, cpu_flags = INSTRUCTION_SETS[instruction_set]
    if platform.machine() not in ("x86_64", "AMD64") or not _cpu_has(*cpu_flags):
        pytest.skip(f"this CPU cannot run the {instruction_set} path")
    monkeypatch.setattr(compiled, "FLAGS", (*flags, "-shared", "-fPIC", "-std=c11"))
    assert compiled.library() is not None, compiled.reason()
    for cell_name in ("lstm", "gru", "rnn"):
        for half in (False, True):
            layer, (w_in, b_in, w_rec, b_rec), x, state = random_layer(cell_name, 40, T=50, half=half)
            gi = x @ w_in.T + b_in
            expected, _ = LAYER_CELLS[cell_name].run_layer(gi, w_rec, b_rec, tuple(s.copy() for s in state))
            np.testing.assert_allclose(layer.run(gi, state)[0], expected, atol=2e-6)
            np.testing.assert_allclose(layer.gates_in(x[0]), (w_in @ x[0] + b_in)[None], rtol=1e-6, atol=1e-6)


@needs_compiler
@pytest.mark.parametrize("cell_name", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16"])
def test_one_tokens_input_gates_are_the_prepared_product(cell_name, half):
    layer, (w_in, b_in, _, _), x, _ = random_layer(cell_name, 24, T=3, half=half, K=40)
    for row in x:
        np.testing.assert_allclose(layer.gates_in(row), (w_in @ row + b_in)[None], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="40 numbers"):
        layer.gates_in(x[0, :24])


def test_float16_is_chosen_only_when_every_weight_is_a_float16():
    w = np.random.default_rng(0).standard_normal((12, 4)).astype(np.float32)
    assert compiled.step_weights(w).dtype == np.float32
    halved = w.astype(np.float16).astype(np.float32)
    assert compiled.step_weights(halved).dtype == np.float16
    halved[3, 1] += 1e-6  # one weight off the float16 grid
    assert compiled.step_weights(halved).dtype == np.float32


@needs_compiler
def test_a_layer_refuses_arrays_that_do_not_fit_together():
    layer, (w_in, b_in, _, _), x, state = random_layer("gru", 16, T=5, half=False)
    gi = x @ w_in.T + b_in
    with pytest.raises(ValueError, match="do not fit together"):
        layer.run(gi[:, :-3], state)
    with pytest.raises(ValueError, match="do not fit together"):
        layer.run(gi, (state[0][:8],))
    with pytest.raises(ValueError, match="do not fit together"):
        compiled.Layer("rnnlm_gru_layer", layer.w_ih, layer.w_hh[:-1], layer.scale, layer.b_in, layer.b_rec)


@pytest.fixture(params=["lstm", "gru"])
def trained_pair(request):
    """A tiny 2-layer torch model moved off its initial weights, and the same weights run in numpy."""
    model = build_model(tiny_config(request.param, hidden_size=48), seed=5)
    trainer = model.trainer(TrainConfig(lr=1e-2, seed=0))
    ids = model.vocab.encode(TEXT[:400]).reshape(4, 100)
    for _ in range(5):
        trainer.train_step(ids[:, :-1], ids[:, 1:], model.init_state(4), lr=1e-2)
    run = runner(model)
    return model, run


@needs_compiler
def test_a_long_stream_through_the_compiled_pipeline_matches_torch(trained_pair, fresh_library):
    """Over 700 tokens: three chunks, each layer on its own thread, the compiled step in both layers."""
    model, run = trained_pair
    run._stream = None
    assert all(layer[4] is not None for layer in run._weights()[1]), compiled.reason()
    ids = np.random.default_rng(2).integers(0, model.config.vocab_size, size=(1, 700))
    expected, torch_state = model.forward(ids, model.init_state(1))
    got, state = run.forward(ids, run.init_state(1))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    for a, b in zip(run.state_tensors(state).values(), model.state_tensors(torch_state).values()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@needs_compiler
def test_sampling_steps_through_the_compiled_layers_match_torch(trained_pair, fresh_library):
    """One token at a time (how sampling runs): the upper layer's input gates come from the compiled product."""
    model, run = trained_pair
    run._stream = None
    ids = np.random.default_rng(3).integers(0, model.config.vocab_size, size=(1, 30))
    expected, _ = model.forward(ids, model.init_state(1))
    got = stepped_logits(run, ids)
    assert all(layer[4] is not None for layer in run._weights()[1]), compiled.reason()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@needs_compiler
def test_the_in_place_stepper_gives_torchs_logits_and_state(trained_pair, fresh_library):
    """compiled.Stepper, what sampling runs per token: torch's logits token by token, and torch's state after."""
    model, run = trained_pair
    run._stream = None
    ids = np.random.default_rng(4).integers(0, model.config.vocab_size, size=(1, 40))
    expected, torch_state = model.forward(ids, model.init_state(1))
    start = run.init_state(1)
    stepper = run.stepper(start)
    assert stepper is not None, compiled.reason()
    got = np.stack([stepper.step(int(i)) for i in ids[0]])
    np.testing.assert_allclose(got, expected[0], rtol=1e-4, atol=1e-5)
    for a, b in zip(stepper.state(), torch_state):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert not any(s.any() for s in start)  # the state handed in is copied, not written
    with pytest.raises(ValueError, match="token ids must be in"):
        stepper.step(model.config.vocab_size)


@needs_compiler
def test_sampling_writes_the_same_text_with_and_without_the_compiled_step(trained_pair, fresh_library, monkeypatch):
    _, run = trained_pair
    run._stream = None
    with_step = generate(run, "The ", length=200, temperature=1.0, seed=7)
    monkeypatch.setenv("RNNLM_COMPILED", "0")
    compiled.library.cache_clear()
    run._stream = None
    assert run.stepper(run.init_state(1)) is None
    assert generate(run, "The ", length=200, temperature=1.0, seed=7) == with_step


@needs_compiler
def test_scores_agree_with_and_without_the_compiled_step(trained_pair, fresh_library, monkeypatch):
    _, run = trained_pair
    text = TEXT * 2
    run._stream = None
    with_step = score(run, text)
    monkeypatch.setenv("RNNLM_COMPILED", "0")
    compiled.library.cache_clear()
    run._stream = None
    assert all(layer[4] is None for layer in run._weights()[1]) and compiled.reason() == "RNNLM_COMPILED=0"
    without = score(run, text)
    assert abs(with_step.nats_per_char - without.nats_per_char) < 1e-5


@pytest.fixture
def trained_rnn():
    """A tiny 2-layer numpy RNN moved off its initial weights (float16-exact, as the bundled sets store them), and
    its runner on the same weights."""
    model = build_model(tiny_config("rnn", hidden_size=40), seed=5)
    trainer = model.trainer(TrainConfig(lr=1e-2, seed=0))
    ids = model.vocab.encode(TEXT[:400]).reshape(4, 100)
    for _ in range(5):
        trainer.train_step(ids[:, :-1], ids[:, 1:], model.init_state(4), lr=1e-2)
    model.load_tensors({k: v.astype(np.float16).astype(np.float32) for k, v in model.tensors().items()})
    run = runner(model)
    assert isinstance(run, RNNRunner) and run is not model
    return model, run


def torch_rnn_logits(model: NumpyRNN, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits (T, V) and the last state (L, H) of one stream through nn.RNN on the numpy RNN's weights (one-hot
    inputs; torch's weight_ih is Wxh transposed)."""
    import torch

    p, L = {k: torch.from_numpy(v.astype(np.float64)) for k, v in model.tensors().items()}, model.config.num_layers
    rnn = torch.nn.RNN(model.config.vocab_size, model.config.hidden_size, L, dtype=torch.float64)
    with torch.no_grad():
        for l in range(L):
            getattr(rnn, f"weight_ih_l{l}").copy_(p[f"Wxh.{l}"].T)
            getattr(rnn, f"weight_hh_l{l}").copy_(p[f"Whh.{l}"].T)
            getattr(rnn, f"bias_ih_l{l}").copy_(p[f"bh.{l}"])
            getattr(rnn, f"bias_hh_l{l}").zero_()
        x = torch.nn.functional.one_hot(torch.from_numpy(ids), model.config.vocab_size).double()[:, None]  # (T, 1, V)
        out, h = rnn(x)
        return (out[:, 0] @ p["Why"] + p["by"]).numpy(), h[:, 0].numpy()


@needs_compiler
def test_the_rnn_runs_through_the_compiled_layers_with_torchs_numbers(trained_rnn, fresh_library):
    """A long stream (three pipelined chunks), token-by-token steps and the in-place stepper, each against nn.RNN."""
    model, run = trained_rnn
    run._stream = None
    first, layers, _, _ = run._weights()
    assert all(layer[4] is not None and layer[4].w_hh.dtype == np.float16 for layer in layers), compiled.reason()
    ids = np.random.default_rng(2).integers(0, model.config.vocab_size, size=700)
    expected, expected_state = torch_rnn_logits(model, ids)
    got, state = run.forward(ids[None], run.init_state(1))
    np.testing.assert_allclose(got[0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(state[:, 0], expected_state, atol=1e-5)
    assert state.shape == (2, 1, 40) and state.dtype == np.float32
    np.testing.assert_allclose(stepped_logits(run, ids[None, :30])[0], expected[:30], rtol=1e-4, atol=1e-5)
    start = run.init_state(1)
    stepper = run.stepper(start)
    assert stepper is not None
    np.testing.assert_allclose(np.stack([stepper.step(int(i)) for i in ids[:40]]), expected[:40], rtol=1e-4, atol=1e-5)
    assert not start.any()  # the state handed in is copied, not written
    with pytest.raises(ValueError, match="character ids must be in"):
        run.forward(np.array([[0, model.config.vocab_size]]), run.init_state(1))


@needs_compiler
def test_the_rnn_samples_and_scores_the_same_with_and_without_the_compiled_step(trained_rnn, fresh_library,
                                                                                 monkeypatch):
    model, run = trained_rnn
    run._stream = None
    with_step = generate(run, "The ", length=200, temperature=1.0, seed=7), score(run, TEXT * 2).nats_per_char
    assert run._weights() and run.stepper(run.init_state(1)) is not None
    two_streams, _ = run.forward(np.tile(run.vocab.encode(TEXT[:50]), (2, 1)), run.init_state(2))  # numpy, side by side
    np.testing.assert_allclose(two_streams[0], run.forward(run.vocab.encode(TEXT[:50])[None], run.init_state(1))[0][0],
                               rtol=1e-4, atol=1e-5)
    monkeypatch.setenv("RNNLM_COMPILED", "0")
    compiled.library.cache_clear()
    run._stream = None
    assert run.stepper(run.init_state(1)) is None and run._weights() is False
    assert generate(run, "The ", length=200, temperature=1.0, seed=7) == with_step[0]
    assert abs(score(run, TEXT * 2).nats_per_char - with_step[1]) < 1e-5


@needs_compiler
def test_the_rnn_runner_runs_new_weights_after_a_load_and_refuses_to_train(trained_rnn, fresh_library):
    model, run = trained_rnn
    ids = run.vocab.encode(TEXT[:60])[None]
    before, _ = run.forward(ids, run.init_state(1))
    fresh = build_model(model.config, seed=11)
    run.load_tensors(fresh.tensors())
    after, _ = run.forward(ids, run.init_state(1))
    np.testing.assert_allclose(after, fresh.forward(ids, fresh.init_state(1))[0], rtol=1e-4, atol=1e-5)
    assert np.abs(after - before).max() > 0.1
    with pytest.raises(TypeError, match="loaded for inference"):
        run.trainer(TrainConfig())


def write_script(path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_failing_compiler_leaves_numpy_running_and_says_why(trained_pair, fresh_library, monkeypatch, tmp_path):
    """The compiler writes half a library and dies: nothing loads from the cache, no temporary file stays."""
    _, run = trained_pair
    cc = write_script(tmp_path / "cc", 'while [ "$1" != "-o" ]; do shift; done; printf "\\177ELF half" > "$2"; exit 1\n')
    monkeypatch.setenv("CC", cc)
    run._stream = None
    result = score(run, TEXT)
    assert compiled.library() is None and "failed" in compiled.reason() and cc in compiled.reason()
    assert all(layer[4] is None for layer in run._weights()[1])
    assert not fresh_library.exists() or not any(fresh_library.iterdir())
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    compiled.library.cache_clear()
    assert compiled.library() is None and "no-such-compiler" in compiled.reason()
    assert np.isfinite(result.nats_per_char)


@needs_compiler
def test_a_damaged_library_in_the_cache_is_built_again(fresh_library):
    target = compiled.library_path(compiled._compiler())
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\x7fELF" + os.urandom(200))  # what a disk error or a foreign file could leave
    assert compiled.library() is not None, compiled.reason()
    layer, (w_in, b_in, w_rec, b_rec), x, state = random_layer("lstm", 16, T=4, half=True)
    gi = x @ w_in.T + b_in
    expected, _ = CELLS["lstm"].run_layer(gi, w_rec, b_rec, state)
    np.testing.assert_allclose(layer.run(gi, state)[0], expected, atol=1e-6)


@needs_compiler
def test_the_library_is_built_once_per_machine(fresh_library):
    assert compiled.library() is not None, compiled.reason()
    (built,) = fresh_library.glob("layers-*")
    mtime = built.stat().st_mtime_ns
    compiled.library.cache_clear()
    assert compiled.library() is not None
    assert [p.name for p in fresh_library.iterdir()] == [built.name] and built.stat().st_mtime_ns == mtime
