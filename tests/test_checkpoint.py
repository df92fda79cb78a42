"""Checkpoint folders: clear errors for corrupt or mismatched files, no pickle anywhere."""
from __future__ import annotations

import json

import pytest
from safetensors.numpy import load_file

from rnnlm import store
from rnnlm.checkpoint import CheckpointError
from rnnlm.models import build_model
from tests.support import tiny_config


@pytest.fixture
def saved(tiny_model, tmp_path):
    return store.save(tiny_model, tmp_path / "ckpt")


def test_folder_holds_config_safetensors_and_card_only(saved, tiny_model):
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((saved / "config.json").read_text())
    assert config == tiny_model.config.to_dict()  # the flat ModelConfig: nothing from the mixin (no seed)
    assert load_file(str(saved / "model.safetensors"))  # plain tensors, readable without rnnlm


@pytest.mark.parametrize("inference", [False, True])
def test_corrupt_weights_name_the_file(saved, inference):
    (saved / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        store.load(saved, inference)


@pytest.mark.parametrize("inference", [False, True])
def test_truncated_weights_name_the_file(saved, inference):
    data = (saved / "model.safetensors").read_bytes()
    (saved / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        store.load(saved, inference)


def test_corrupt_config_names_the_file(saved):
    (saved / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        store.load(saved)


def test_unknown_model_type_is_refused(saved):
    config = json.loads((saved / "config.json").read_text())
    config["model_type"] = "transformer"
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="transformer"):
        store.load(saved)


@pytest.mark.parametrize("inference", [False, True])
def test_weights_that_do_not_fit_the_config_are_refused(model_type, tmp_path, inference):
    small = store.save(build_model(tiny_config(model_type, hidden_size=8)), tmp_path / "small")
    big = store.save(build_model(tiny_config(model_type, hidden_size=16)), tmp_path / "big")
    (big / "model.safetensors").write_bytes((small / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="does not match.*shape"):
        store.load(big, inference)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="config.json: file not found"):
        store.load(tmp_path / "nowhere")
