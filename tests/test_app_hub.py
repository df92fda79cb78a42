"""The app's models from the Hub, against a local fake Hub: a pinned revision is served and named with its
commit, and a Hub that cannot be reached, or answers but stalls, costs a moment and a warning, not the app."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlm import store
from rnnlm import playground as pg
from huggingface_hub import constants

from rnnlm.hub import push
from tests.hubserver import fake_hub_env, set_hf_offline
from tests.support import MODEL_TYPES, tiny

REPO = "fake-user/lstm"
IDS = np.array([[3, 1, 4, 1, 5, 9, 2, 6]])


def logits(model) -> np.ndarray:
    return model.forward(IDS, model.init_state(1))[0]


@pytest.fixture
def bundled(tmp_path, monkeypatch) -> Path:
    """Tiny checkpoints/rnn, lstm and gru, and no RNNLM_* variable from outside the test."""
    for name in MODEL_TYPES:
        store.save(tiny(name), tmp_path / "checkpoints" / name)
        monkeypatch.delenv(pg.env_var(name), raising=False)
    return tmp_path / "checkpoints"


@pytest.fixture
def hub_lstm(fake_hub, tmp_path) -> str:
    """REPO with one LSTM on main and another on branch exp; returns exp's commit."""
    push(store.save(tiny("lstm", seed=1), tmp_path / "main"), REPO, token=fake_hub.token)
    push(store.save(tiny("lstm", seed=2), tmp_path / "exp"), REPO, revision="exp", token=fake_hub.token)
    return fake_hub.head(REPO, "exp")


def app_models(bundled: Path, environ: dict | None = None) -> dict[str, pg.Served]:
    return {m.name: m for m in pg.load_app_models(bundled, environ if environ is not None else {}, MODEL_TYPES)}


def test_a_hub_revision_is_served_and_named_with_its_commit(hub_lstm, bundled, tmp_path):
    served = pg.load_app_models(bundled, {"RNNLM_LSTM": f"{REPO}@exp"}, MODEL_TYPES)
    models = {m.name: m for m in served}
    lstm = models["lstm"]
    assert lstm.available and lstm.repo_id == REPO and lstm.commit == hub_lstm and lstm.note == ""
    assert np.array_equal(logits(lstm.model), logits(store.load(tmp_path / "exp", inference=True)))
    assert f"Hub repo {REPO}@exp, commit {hub_lstm[:7]}" in lstm.source and "set by RNNLM_LSTM" in lstm.source
    card = pg.Gallery.read(served).card_markdown(lstm)
    endpoint = constants.ENDPOINT.rstrip("/")  # the fake Hub's pages, where a visitor follows the links
    assert f"**Hub repo:** [`{REPO}`]({endpoint}/{REPO})" in card
    assert f"**commit:** [`{hub_lstm}`]({endpoint}/{REPO}/tree/{hub_lstm})" in card
    assert models["rnn"].repo_id is None and models["rnn"].folder == bundled / "rnn"


@pytest.mark.parametrize("cut_off", ["hub stopped", "HF_HUB_OFFLINE=1"])
def test_an_unreachable_hub_falls_back_to_the_bundled_checkpoint_quickly(cut_off, fake_hub, bundled, monkeypatch):
    fake_hub.add_repo(REPO, {})  # exists on the Hub, never downloaded: the cache is empty
    if cut_off == "hub stopped":
        fake_hub.stop()
    else:
        set_hf_offline(monkeypatch)
    start = time.perf_counter()
    lstm = app_models(bundled, {"RNNLM_LSTM": f"{REPO}@main"})["lstm"]
    assert time.perf_counter() - start < 2.0
    assert lstm.available and lstm.folder == bundled / "lstm" and lstm.repo_id is None and lstm.commit is None
    assert f"RNNLM_LSTM={REPO}@main could not be used" in lstm.note and "bundled checkpoint instead" in lstm.note
    assert ("cannot reach the Hub" if cut_off == "hub stopped" else "HF_HUB_OFFLINE=1") in lstm.note
    assert f"instead of {REPO}@main" in lstm.source


def test_app_sources_fall_back_to_the_bundled_checkpoints_and_use_the_cache_once_offline(fake_hub, tmp_path, bundled):
    push(store.save(tiny("rnn", seed=5), tmp_path / "rnn-run"), "fake-user/rnn", token=fake_hub.token)
    environ = {"RNNLM_RNN": "fake-user/rnn", "RNNLM_LSTM": "fake-user/not-there", "RNNLM_GRU": str(bundled / "gru")}
    first = app_models(bundled, environ)
    sha = fake_hub.head("fake-user/rnn")
    assert first["rnn"].commit == sha and first["rnn"].repo_id == "fake-user/rnn" and sha[:7] in first["rnn"].source
    assert first["lstm"].folder == bundled / "lstm" and "no Hub repo" in first["lstm"].note
    assert first["gru"].folder == bundled / "gru" and first["gru"].note == "" and "set by RNNLM_GRU" in first["gru"].source

    fake_hub.stop()
    start = time.perf_counter()
    again = app_models(bundled, environ)
    assert time.perf_counter() - start < 2.0
    assert again["rnn"].commit == sha and "local cache" in again["rnn"].source  # cached: still the Hub model
    assert again["lstm"].folder == bundled / "lstm" and again["lstm"].repo_id is None
    assert "cannot reach the Hub" in again["lstm"].note and "bundled" in again["lstm"].note
    assert all(m.available for m in again.values())


def test_a_hub_that_never_answers_costs_one_short_deadline_and_each_note_names_its_own_repo(bundled, monkeypatch):
    monkeypatch.setattr(pg.loading, "HUB_DEADLINE", 1.0)
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        start = time.perf_counter()
        models = app_models(bundled, {pg.env_var(n): f"fake-user/{n}" for n in MODEL_TYPES})
        elapsed = time.perf_counter() - start
    assert elapsed < 2.5
    for name, m in models.items():
        assert m.available and m.folder == bundled / name
        assert f"RNNLM_{name.upper()}=fake-user/{name} could not be used" in m.note
        others = [f"fake-user/{n}" for n in MODEL_TYPES if n != name]
        assert not any(o in m.note for o in others), m.note  # no note names another model's repo


def test_a_hub_whose_downloads_stall_costs_one_deadline_not_minutes(monkeypatch, tmp_path, bundled):
    monkeypatch.setattr(pg.loading, "HUB_DEADLINE", 1.5)
    with fake_hub_env(monkeypatch, tmp_path / "hub", delays={"/resolve/": 60}) as hub:
        push(store.save(tiny("lstm", seed=1), tmp_path / "main"), REPO, token=hub.token)  # the API answers at once
        start = time.perf_counter()
        lstm = app_models(bundled, {"RNNLM_LSTM": REPO})["lstm"]
        elapsed = time.perf_counter() - start
    assert elapsed < 3.0
    assert lstm.available and lstm.folder == bundled / "lstm"
    assert "did not deliver" in lstm.note and "bundled checkpoint instead" in lstm.note


def test_offline_app_sources_use_the_bundled_checkpoints_without_requests(fake_hub, bundled, monkeypatch):
    set_hf_offline(monkeypatch)
    lstm = app_models(bundled, {"RNNLM_LSTM": f"{REPO}@main"})["lstm"]
    assert lstm.folder == bundled / "lstm" and "HF_HUB_OFFLINE=1" in lstm.note
    assert fake_hub.requests == []


def rendered_markdown(demo) -> dict[str, list[str]]:
    """The text of the page's Markdown components, by their first CSS class ("" for none), in page order."""
    texts: dict[str, list[str]] = {}
    for c in demo.config["components"]:
        if c.get("type") == "markdown":
            texts.setdefault((c["props"].get("elem_classes") or [""])[0], []).append(c["props"].get("value") or "")
    return texts


def test_the_page_warns_of_a_fallback_at_the_top_and_on_the_models_tab(fake_hub, bundled):
    import app

    fake_hub.stop()
    models = pg.load_app_models(bundled, {"RNNLM_LSTM": f"{REPO}@main"}, MODEL_TYPES)
    demo = app.build_demo(models)
    lstm = next(m for m in models if m.name == "lstm")
    assert "could not be used" in lstm.note and lstm.available
    texts = rendered_markdown(demo)
    assert f"⚠️ {lstm.note}" in texts["status"][0]
    card = next(t for t in texts[""] if t.startswith("### LSTM"))  # the Models tab
    assert f"⚠️ {lstm.note}" in card and "**loaded from:** bundled folder" in card
    opened = [d["api_name"] for d in demo.config["dependencies"] if d["targets"][0][1] == "load"]
    assert opened == ["warn_fallbacks"]  # a toast too, as the page opens
