"""The bundled Tiny Shakespeare checkpoints: they load, their cards tell the truth, and the gated models win."""
from __future__ import annotations

import json
import re

import pytest

from rnnlm import checkpoint, score, store
from rnnlm.data import read_text, split
from rnnlm.playground.examples import HELD_OUT as PASSAGE  # the app's default Score text: kept honest here
from tests.support import REPO, SHARED_DATA

NETWORKS = ("rnn", "lstm", "gru")
NAMES = (*NETWORKS, "ngram")
FOLDERS = {name: REPO / "checkpoints" / name for name in NAMES}



@pytest.fixture(scope="module")
def models():
    return {name: store.load(folder) for name, folder in FOLDERS.items()}


@pytest.mark.parametrize("name", NAMES)
def test_folder_is_complete_and_small(name):
    folder = FOLDERS[name]
    for f in ("config.json", "model.safetensors", "README.md", "log.jsonl", "timelapse.jsonl", "samples.json"):
        assert (folder / f).is_file(), f"{folder / f} missing"
    assert (folder / "model.safetensors").stat().st_size < 12 * 2**20  # each model at most 12 MB on disk


def test_all_bundled_checkpoints_together_stay_under_80_mb():
    files = [p for p in (REPO / "checkpoints").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 80 * 2**20


@pytest.mark.parametrize("name", NAMES)
def test_config_and_card_agree(models, name):
    config = models[name].config
    card = (FOLDERS[name] / "README.md").read_text(encoding="utf-8")
    assert config.model_type == name
    assert f"{config.metrics['val_nats_per_char']:.4f}" in card
    assert f"{config.metrics['val_bits_per_char']:.4f}" in card
    assert f"{models[name].num_params():,}" in card
    assert config.metrics["command"] in card
    samples = json.loads((FOLDERS[name] / "samples.json").read_text(encoding="utf-8"))
    assert sorted(samples["samples"], key=float) == ["0.2", "0.5", "0.8", "1.0", "1.2"]
    for t in ("0.8", "1"):  # the novelty figures the README quotes
        assert 0.5 < config.metrics[f"novelty_T{t}"] <= 1 and f"novelty_T{t}" in card


def test_the_bundled_n_gram_has_the_order_its_validation_curve_chose(models):
    config = models["ngram"].config
    curve = config.metrics["val_nats_per_char_by_order"]
    assert str(config.options["order"]) == min(curve, key=curve.get) and len(curve) == 12
    assert config.metrics["val_nats_per_char"] < models["rnn"].config.metrics["val_nats_per_char"]  # as the README says
    assert config.metrics["val_nats_per_char"] > models["lstm"].config.metrics["val_nats_per_char"]


@pytest.mark.parametrize("name", NETWORKS)
def test_log_and_timelapse_are_readable(name):
    rows = [json.loads(l) for l in (FOLDERS[name] / "log.jsonl").read_text().splitlines()]
    val = [r for r in rows if "val_loss" in r]
    assert val and all(r["step"] > 0 and r["chars"] > 0 for r in val)
    assert min(r["val_loss"] for r in val) == pytest.approx(checkpoint.read_config(FOLDERS[name]).metrics["val_nats_per_char"])
    lapse = [json.loads(l) for l in (FOLDERS[name] / "timelapse.jsonl").read_text().splitlines()]
    assert [r["fraction"] for r in lapse] == sorted(r["fraction"] for r in lapse) and len(lapse) >= 3


def test_gated_models_predict_a_new_passage_better_than_the_vanilla_rnn(models):
    nats = {name: score(models[name], PASSAGE).nats_per_char for name in NETWORKS}
    assert nats["lstm"] < nats["rnn"] and nats["gru"] < nats["rnn"], nats


@pytest.mark.skipif(not (SHARED_DATA / "tinyshakespeare.txt").is_file(), reason="../shared/data/tinyshakespeare.txt not present")
@pytest.mark.parametrize("name", NETWORKS)
def test_validation_figure_matches_the_card(models, name):
    val_text = split(read_text(SHARED_DATA / "tinyshakespeare.txt"))[1]
    measured = score(models[name], val_text[:5000]).nats_per_char
    card = (FOLDERS[name] / "README.md").read_text(encoding="utf-8")
    recorded = float(re.search(r"first 5,000 validation characters: ([0-9.]+) nats/char", card).group(1))
    assert abs(measured - recorded) < 0.1
