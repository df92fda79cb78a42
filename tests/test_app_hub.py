"""The app's models from the Hub, against a local fake Hub: a pinned revision is served and named with its
commit, and a Hub that cannot be reached costs a moment and a warning, not the app."""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlm import checkpoint
from rnnlm import playground as pg
from rnnlm.hub import push
from rnnlm.models import build_model
from tests.conftest import tiny_config
from tests.hubserver import set_hf_offline

REPO = "fake-user/lstm"
IDS = np.array([[3, 1, 4, 1, 5, 9, 2, 6]])


def tiny(model_type: str, seed: int = 3):
    return build_model(tiny_config(model_type, hidden_size=8, num_layers=1, embed_size=4), seed=seed)


def logits(model) -> np.ndarray:
    return model.forward(IDS, model.init_state(1))[0]


@pytest.fixture
def bundled(tmp_path, monkeypatch) -> Path:
    """Tiny checkpoints/rnn, lstm and gru, and no RNNLM_* variable from outside the test."""
    for name in pg.APP_MODELS:
        checkpoint.save(tiny(name), tmp_path / "checkpoints" / name)
    for var in pg.ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "checkpoints"


@pytest.fixture
def hub_lstm(fake_hub, tmp_path) -> str:
    """REPO with one LSTM on main and another on branch exp; returns exp's commit."""
    push(checkpoint.save(tiny("lstm", seed=1), tmp_path / "main"), REPO, token=fake_hub.token)
    push(checkpoint.save(tiny("lstm", seed=2), tmp_path / "exp"), REPO, revision="exp", token=fake_hub.token)
    return fake_hub.head(REPO, "exp")


def test_a_hub_revision_is_served_and_named_with_its_commit(hub_lstm, bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLM_LSTM", f"{REPO}@exp")
    models = pg.load_models(root=bundled)
    lstm = models["lstm"]
    assert lstm.available and lstm.repo_id == REPO and lstm.commit == hub_lstm and lstm.note == ""
    assert np.array_equal(logits(lstm.model), logits(checkpoint.load(tmp_path / "exp")))
    assert f"Hub repo {REPO}@exp, commit {hub_lstm[:7]}" in lstm.source and "set by RNNLM_LSTM" in lstm.source
    card = pg.Gallery.read(models).card_markdown(lstm)
    assert f"**Hub repo:** `{REPO}`" in card and f"**commit:** `{hub_lstm}`" in card
    assert models["rnn"].repo_id is None and models["rnn"].folder == bundled / "rnn"


@pytest.mark.parametrize("cut_off", ["hub stopped", "HF_HUB_OFFLINE=1"])
def test_an_unreachable_hub_falls_back_to_the_bundled_checkpoint_quickly(cut_off, fake_hub, bundled, monkeypatch):
    fake_hub.add_repo(REPO, {})  # exists on the Hub, never downloaded: the cache is empty
    if cut_off == "hub stopped":
        fake_hub.stop()
    else:
        set_hf_offline(monkeypatch)
    monkeypatch.setenv("RNNLM_LSTM", f"{REPO}@main")
    start = time.perf_counter()
    lstm = pg.load_models(root=bundled)["lstm"]
    assert time.perf_counter() - start < 2.0
    assert lstm.available and lstm.folder == bundled / "lstm" and lstm.repo_id is None and lstm.commit is None
    assert f"RNNLM_LSTM={REPO}@main could not be used" in lstm.note and "bundled checkpoint instead" in lstm.note
    assert ("cannot reach the Hub" if cut_off == "hub stopped" else "HF_HUB_OFFLINE=1") in lstm.note
    assert f"instead of {REPO}@main" in lstm.source


def rendered_markdown(demo) -> dict[str, list[str]]:
    """The text of the page's Markdown components, by their first CSS class ("" for none), in page order."""
    texts: dict[str, list[str]] = {}
    for c in demo.config["components"]:
        if c.get("type") == "markdown":
            texts.setdefault((c["props"].get("elem_classes") or [""])[0], []).append(c["props"].get("value") or "")
    return texts


def test_the_page_warns_of_a_fallback_at_the_top_and_on_the_models_tab(fake_hub, bundled, monkeypatch):
    fake_hub.stop()
    monkeypatch.setenv("RNNLM_LSTM", f"{REPO}@main")
    monkeypatch.setattr(pg.loading, "BUNDLED", bundled)  # the default root of the app's models
    saved = sys.modules.pop("app", None)
    try:
        app = importlib.import_module("app")  # the models are loaded as app.py is imported
        note = app.MODELS["lstm"].note
        assert "could not be used" in note and app.MODELS["lstm"].available
        texts = rendered_markdown(app.demo)
        assert f"⚠️ {note}" in texts["status"][0]
        card = next(t for t in texts[""] if t.startswith("### LSTM (torch)"))  # the Models tab
        assert f"⚠️ {note}" in card and "**loaded from:** bundled folder" in card
        opened = [d["api_name"] for d in app.demo.config["dependencies"] if d["targets"][0][1] == "load"]
        assert opened == ["warn_fallbacks"]  # a toast too, as the page opens
    finally:
        sys.modules.pop("app", None)
        if saved is not None:
            sys.modules["app"] = saved  # later tests import it with their own folders
