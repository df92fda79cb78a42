"""Inside the models (rnnlm.inspect): exact input gradients against finite differences and torch, the unit ranking,
gate saturation counts, and the app's Inside tab through its API."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rnnlm import inspect as ins
from rnnlm.models import build_model, runner
from rnnlm.score import log_softmax
from tests.support import MODEL_TYPES, TEXT, make_tiny_checkpoints, serve_app, served, tiny_config


def shaken(model_type: str, seed: int = 3):
    """A tiny two-layer runner of model_type with weights moved well off their initial values."""
    run = runner(build_model(tiny_config(model_type, hidden_size=6, num_layers=2, embed_size=4), seed=seed))
    rng = np.random.default_rng(seed)
    run.load_tensors({k: v + rng.normal(0, 0.3, v.shape).astype(v.dtype) for k, v in run.tensors().items()})
    return run


def logp_from_inputs(net, X: np.ndarray, ids: np.ndarray, t: int) -> float:
    """log p(ids[t + 1]) when the first layer reads the vectors X (T, D) instead of the characters' own."""
    if isinstance(net, ins._RNN):
        saved = net.p["Wxh.0"]
        net.p["Wxh.0"] = X[: t + 1] @ saved  # row s of the table is what input vector s gives: X[s] @ Wxh.0
    else:
        saved = net.p["embed.weight"]
        net.p["embed.weight"] = X[: t + 1]
    try:
        logits, _ = net.forward(np.arange(t + 1)[:, None])  # "character" s reads table row s
    finally:
        net.p["Wxh.0" if isinstance(net, ins._RNN) else "embed.weight"] = saved
    return float(log_softmax(logits[t, 0])[ids[t + 1]])


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_input_gradients_match_finite_differences(model_type):
    run = shaken(model_type)
    net = ins.unfold(run, np.float64)
    ids = run.vocab.encode(TEXT[:30])
    targets, depth = [6, 13, 21], 8
    grads = ins.input_gradients(net, ids, targets, depth)  # (3, 8, D)
    X = net.inputs(ids)
    eps = 1e-6
    for j, t in enumerate(targets):
        for k in range(1, depth + 1):
            for d in range(X.shape[1]):
                up, down = X.copy(), X.copy()
                up[t - k + 1, d] += eps
                down[t - k + 1, d] -= eps
                fd = (logp_from_inputs(net, up, ids, t) - logp_from_inputs(net, down, ids, t)) / (2 * eps)
                assert grads[j, k - 1, d] == pytest.approx(fd, abs=1e-7), (t, k, d)


def torch_input_gradients(run, ids: np.ndarray, t: int, depth: int) -> np.ndarray:
    """d log p(ids[t + 1]) / d input at t - k + 1, k = 1..depth, by torch autograd on the same weights."""
    import torch

    p = {k: torch.tensor(v, dtype=torch.float64) for k, v in run.tensors().items()}
    x = torch.tensor(ids[: t + 1])
    if run.config.model_type == "rnn":
        inputs = torch.nn.functional.one_hot(x, run.config.vocab_size).double().requires_grad_()
        layer = inputs
        for l in range(run.config.num_layers):
            h, outs = torch.zeros(run.config.hidden_size, dtype=torch.float64), []
            for s in range(t + 1):
                h = torch.tanh(layer[s] @ p[f"Wxh.{l}"] + h @ p[f"Whh.{l}"] + p[f"bh.{l}"])
                outs.append(h)
            layer = torch.stack(outs)
        logits = layer[-1] @ p["Why"] + p["by"]
    else:
        cls = torch.nn.LSTM if run.config.model_type == "lstm" else torch.nn.GRU
        rnn = cls(run.config.embed_size, run.config.hidden_size, run.config.num_layers).double()
        rnn.load_state_dict({k[4:]: v for k, v in p.items() if k.startswith("rnn.")})
        inputs = p["embed.weight"][x].clone().requires_grad_()
        out, _ = rnn(inputs[:, None])  # (T, 1, H)
        logits = out[-1, 0] @ p["head.weight"].T + p["head.bias"]
    torch.log_softmax(logits, -1)[int(ids[t + 1])].backward()
    return inputs.grad.numpy()[::-1][:depth]  # k = 1 first


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_input_gradients_match_torch_autograd(model_type):
    pytest.importorskip("torch")
    run = shaken(model_type, seed=5)
    net = ins.unfold(run, np.float64)
    ids = run.vocab.encode(TEXT[:60])
    targets = [30, 41, 57]
    grads = ins.input_gradients(net, ids, targets, 25)
    for j, t in enumerate(targets):
        np.testing.assert_allclose(grads[j], torch_input_gradients(run, ids, t, 25), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_gradient_flow_curve_is_the_mean_norm_of_the_exact_gradients(model_type):
    run = shaken(model_type)
    ids = run.vocab.encode(TEXT[:60])
    flow = ins.gradient_flow(run, ids, depth=20, targets=3, dtype=np.float64)
    net = ins.unfold(run, np.float64)
    where = np.arange(len(ids) - 4, len(ids) - 1)  # the last three characters are the targets
    by_hand = np.mean([np.linalg.norm(torch_or_fd(net, ids, t, 20), axis=1) for t in where], axis=0)
    assert flow.targets == 3 and len(flow.norms) == 20
    np.testing.assert_allclose(flow.norms, by_hand, rtol=1e-5, atol=1e-9)
    assert flow.decay == ins.decay_distance(flow.norms)


def torch_or_fd(net, ids, t, depth):
    """One target's gradients by central differences (no torch needed): (depth, D)."""
    X = net.inputs(ids)
    out = np.zeros((depth, X.shape[1]))
    for k in range(1, depth + 1):
        for d in range(X.shape[1]):
            up, down = X.copy(), X.copy()
            up[t - k + 1, d] += 1e-6
            down[t - k + 1, d] -= 1e-6
            out[k - 1, d] = (logp_from_inputs(net, up, ids, t) - logp_from_inputs(net, down, ids, t)) / 2e-6
    return out


def test_decay_distance_is_where_a_curve_falls_below_a_thousandth():
    assert ins.decay_distance(np.array([1.0, 0.5, 1e-2, 9e-4, 1e-5])) == 4
    assert ins.decay_distance(np.array([1.0, 0.5, 0.01])) is None


def test_influence_scores_are_gradient_times_input_and_top5_follows_temperature():
    run = shaken("lstm")
    ids = run.vocab.encode(TEXT[:40])
    inf = ins.influence(run, ids, 20, dtype=np.float64)
    net = ins.unfold(run, np.float64)
    grads = ins.input_gradients(net, ids, [20], 21)[0, ::-1]
    np.testing.assert_allclose(inf.scores, (grads * net.inputs(ids[:21])).sum(axis=1), rtol=1e-9)
    assert inf.target == ids[21] and len(inf.scores) == 21
    firsts = [inf.top[t][0][1] for t in ins.TEMPERATURES]
    assert firsts == sorted(firsts, reverse=True)  # a colder temperature sharpens the favourite
    assert [i for i, _ in inf.top[0.5]] == [i for i, _ in inf.top[1.5]]  # the ranking stays


def test_the_ranking_recovers_a_unit_planted_in_synthetic_activations():
    rng = np.random.default_rng(0)
    text = ("ROMEO:\nO, she doth teach the torches to burn bright!\n(aside) \"Quiet,\" he said.\n\n") * 20
    feats = ins.text_features(text)
    N = len(text)
    acts = {"layer 1 h": rng.normal(size=(N, 40)), "layer 2 c": rng.normal(size=(N, 40))}
    acts["layer 2 c"][:, 17] = feats["line position"] / 10 + rng.normal(0, 0.5, N)  # a line-length unit
    acts["layer 1 h"][:, 3] = -feats["inside quotes"] + rng.normal(0, 0.3, N)  # a quote unit, negative
    ranked = ins.rank_units(acts, feats, top=3)
    best = ranked["line position"][0]
    assert (best.vector, best.index) == ("layer 2 c", 17) and best.r > 0.8
    quote = ranked["inside quotes"][0]
    assert (quote.vector, quote.index) == ("layer 1 h", 3) and quote.r < -0.6
    assert abs(ranked["line position"][1].r) < 0.3  # the rest is noise


def test_text_features_mark_quotes_brackets_lines_names_and_words():
    f = ins.text_features('KING:\nSay "hi" (now)\n')
    assert list(f["speaker name line"][:6]) == [1] * 6 and f["speaker name line"][6:].sum() == 0
    assert f["line position"][6:10].tolist() == [1, 2, 3, 4]
    assert f["inside quotes"][10:14].tolist() == [1, 1, 1, 0]  # '"hi"': on at the open quote, off at the close
    assert f["inside brackets"][15:20].tolist() == [1, 1, 1, 1, 0]
    assert f["position in word"][6:10].tolist() == [1, 2, 3, 0]


def test_saturation_fractions_match_a_hand_count():
    gate = np.array([[0.05, 0.95, 0.5],
                     [0.02, 0.50, 0.91],
                     [0.50, 0.99, 0.95],
                     [0.09, 0.10, 0.90]])  # 4 steps, 3 units; 0.1 and 0.9 themselves are not saturated
    left, right = ins.saturation({"layer 1 forget": gate})["layer 1 forget"]
    assert left.tolist() == [3 / 4, 0, 0]
    assert right.tolist() == [0, 2 / 4, 2 / 4]
    assert ins.long_memory({"layer 1 forget": (left, right)}, "forget")["layer 1 forget"].tolist() == [1, 2]


@pytest.mark.parametrize("model_type", ["lstm", "gru"])
def test_sample_saturation_matches_a_count_over_the_forward_gates(model_type):
    run = shaken(model_type)
    text = TEXT[:2000]
    sample = ins.run_sample(run, text, streams=4, chunk=37)  # pieces of an odd length: the running sums add up
    net = ins.unfold(run)
    ids = run.vocab.encode(text)
    T = len(ids) // 4
    _, tape = net.forward(ids[: 4 * T].reshape(4, T).T)
    for gate, g in net.gates(tape).items():
        kept = g[ins.WARMUP:].reshape(-1, net.H)
        left, right = sample.saturation[gate]
        np.testing.assert_allclose(left, (kept < 0.1).mean(axis=0))
        np.testing.assert_allclose(right, (kept > 0.9).mean(axis=0))
    assert sample.chars == 4 * (T - ins.WARMUP)
    assert "inside quotes" in sample.constant  # the test play has no quotes


def test_the_ngram_has_no_hidden_state_to_inspect(tmp_path):
    from tests.support import tiny

    ngram = tiny("ngram", options={"order": 3})
    assert not ins.inspectable(ngram)
    with pytest.raises(ins.NoHiddenState, match="no hidden state"):
        ins.gradient_flow(ngram, np.arange(10))


# --- the app's tab through its API ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from gradio_client import Client

    with serve_app(served(make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny-checkpoints"))) as (_, url):
        yield Client(url, verbose=False)


PASSAGE = TEXT[:400]


def test_gradient_endpoint_returns_finite_curves_and_computed_captions(client):
    plot, *captions, notes = client.predict(PASSAGE, api_name="/inside_gradients")
    rows = plot["value"]["data"] if "value" in plot else plot["data"]
    assert {r[2] for r in rows} >= {"vanilla RNN", "LSTM", "GRU"}
    assert all(math.isfinite(r[1]) for r in rows) and max(r[0] for r in rows) == ins.DEPTH
    assert len(captions) == 3 and all("k = 1 value" in c for c in captions)


def test_looked_at_endpoint_returns_a_heat_map_and_finite_top5(client):
    heat, *rest = client.predict(PASSAGE, 120, api_name="/inside_looked_at")
    bars, captions = rest[:3], rest[3:6]
    assert heat.count("<span") == 3 * 120
    for b in bars:
        probs = [r[1] for r in (b["value"]["data"] if "value" in b else b["data"])]
        assert len(probs) == 15 and all(0 < p <= 1 for p in probs)
    assert all("%" in c for c in captions)


def test_neuron_and_gate_endpoints_return_finite_numbers(client):
    *htmls, notes = client.predict(PASSAGE, "speaker name line", 1, api_name="/inside_neurons")
    units, captions = htmls[:3], htmls[3:6]
    assert all("r = " in u for u in units) and all("correlates r = " in c for c in captions)
    *plots, notes = client.predict(PASSAGE, api_name="/inside_gates")
    tables, captions = plots[:3], plots[3:6]  # a scatter and a caption per model; the RNN's scatter is empty
    for t, n in zip(tables, (0, 3, 2)):  # RNN: no gates; LSTM: input, forget, output gates; GRU: reset, update
        rows = t["value"]["data"] if "value" in t else t["data"]
        assert len(rows) == n * 32 and all(0 <= r[0] <= 1 and 0 <= r[1] <= 1 for r in rows)
    assert "no gates" in captions[0]


@pytest.mark.parametrize("bad", ["", "x", "😀😀😀", "BRUTUS: " * 12_500], ids=["empty", "one char", "unknown", "100k"])
def test_bad_passages_give_a_message_or_a_capped_result_never_an_error(client, bad):
    for api, args in (("/inside_gradients", ()), ("/inside_looked_at", (10,)), ("/inside_neurons", ("line position", 1)),
                      ("/inside_gates", ())):
        out = client.predict(bad, *args, api_name=api)
        notes = out[-1]
        if api != "/inside_gates" and (bad in ("", "😀😀😀") or (bad == "x" and api == "/inside_gradients")):
            assert notes.strip(), (api, bad)  # the gates read held-out text: the passage does not matter to them
        if len(bad) > ins.MAX_PASSAGE and api != "/inside_gates":
            assert "first 1,000" in notes


@pytest.mark.parametrize("what", ["--gradients", "--neurons", "--gates"])
def test_inspect_command_prints_json_figures(tmp_path_factory, capsys, what):
    import json

    from rnnlm.cli import main

    folders = make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny-checkpoints")
    text = tmp_path_factory.getbasetemp() / "passage.txt"
    text.write_text(TEXT[:3000], encoding="utf-8")
    assert main(["inspect", str(folders["lstm"]), "--text-file", str(text), what, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    if what == "--gradients":
        assert len(doc["norms"]) == ins.DEPTH and all(math.isfinite(x) and x > 0 for x in doc["norms"])
    elif what == "--neurons":
        assert all(math.isfinite(u["r"]) for units in doc["features"].values() for u in units)
        assert doc["features"]["line position"] and "inside quotes" in doc["constant_features"]
    else:
        assert set(doc["gates"]) == {"layer 1 input", "layer 1 forget", "layer 1 output"}
