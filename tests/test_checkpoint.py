"""Checkpoint folders: clear errors for corrupt or mismatched files, no pickle anywhere."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from rnnlm import store
from rnnlm.checkpoint import CheckpointError
from rnnlm.store import CheckpointWarning
from rnnlm.models import build_model
from tests.support import Crash, crash_before, tiny_config


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


# --- crashes: a save killed between any two file operations --------------------------------------


def test_a_save_killed_at_any_file_operation_leaves_the_old_or_the_new_checkpoint(model_type, tmp_path, monkeypatch):
    old, new = (build_model(tiny_config(model_type), seed=s) for s in (1, 2))
    old.config.metrics, new.config.metrics = {"step": 1}, {"step": 2}
    counted = store.save(old, tmp_path / "count")
    with monkeypatch.context() as m:
        ops = crash_before(m, 0)
        store.save(new, counted)
    seen = set()
    for k in range(1, ops["n"] + 1):
        folder = store.save(old, tmp_path / f"k{k}")
        with monkeypatch.context() as m:
            crash_before(m, k)
            with pytest.raises(Crash):
                store.save(new, folder)
        for inference in (False, True):
            loaded = store.load(folder, inference)
            expected = old if loaded.config.metrics["step"] == 1 else new
            seen.add(loaded.config.metrics["step"])
            for name, array in expected.tensors().items():
                np.testing.assert_array_equal(loaded.tensors()[name], array, err_msg=f"crash before operation {k}")
        store.save(new, folder)  # the next save tidies up
        assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
        assert store.load(folder).config.metrics == {"step": 2}
    assert seen == {1, 2}


def test_config_edited_by_hand_is_read_as_it_is(saved):
    config = json.loads((saved / "config.json").read_text())
    config["metrics"] = {"note": "edited"}
    (saved / "config.json").write_text(json.dumps(config))
    assert store.load(saved).config.metrics == {"note": "edited"}


@pytest.mark.parametrize("field, value, message", [
    ("hidden_size", 512.5, "hidden_size must be a whole number"),
    ("hidden_size", 10_000_000, "hidden_size must be from 1 to"),
    ("num_layers", 1_000_000, "num_layers must be from 1 to"),
    ("metrics", "oops", "metrics must be a JSON object"),
    ("training", [1], "training must be a JSON object"),
    ("dropout", "half", "dropout must be a finite number"),
    ("vocab", 42, "vocab must be a string"),
])
def test_a_hostile_config_is_refused_quickly_with_the_field_named(saved, field, value, message):
    config = json.loads((saved / "config.json").read_text())
    config[field] = value
    (saved / "config.json").write_text(json.dumps(config))
    start = time.perf_counter()
    for inference in (False, True):
        with pytest.raises(CheckpointError, match=f"config.json.*{message}"):
            store.load(saved, inference)
    assert time.perf_counter() - start < 1.0


def test_sizes_the_weights_cannot_hold_are_refused_before_anything_is_built(saved):
    config = json.loads((saved / "config.json").read_text())
    config["hidden_size"] = 16_000  # allowed by the config check, far beyond what the file holds
    (saved / "config.json").write_text(json.dumps(config))
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="does not match"):
        store.load(saved, inference=True)
    assert time.perf_counter() - start < 1.0


def test_integer_weights_are_refused_and_non_finite_ones_warned_about(saved):
    tensors = load_file(str(saved / "model.safetensors"))
    name = sorted(tensors)[0]
    save_file(tensors | {name: tensors[name].astype(np.int8)}, str(saved / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"floating point.*{name}"):
        store.load(saved, inference=True)
    broken = tensors[name].copy()
    broken.flat[0] = np.nan
    save_file(tensors | {name: broken}, str(saved / "model.safetensors"))
    with pytest.warns(CheckpointWarning, match=f"{name}.*NaN"):
        store.load(saved, inference=True)


def test_new_files_are_readable_by_others_under_the_usual_umask(saved):
    import os
    import stat

    old = os.umask(0o022)
    try:
        store.save(store.load(saved), saved)
    finally:
        os.umask(old)
    for name in ("config.json", "model.safetensors", "README.md"):
        assert stat.S_IMODE((saved / name).stat().st_mode) == 0o644, name


def test_float16_storage_halves_the_file_and_loads_as_float32(tiny_model, tmp_path):
    full = store.save(tiny_model, tmp_path / "full")
    half = store.save(tiny_model, tmp_path / "half", dtype="float16")
    assert (half / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    for inference in (False, True):
        loaded = store.load(half, inference).tensors()
        for name, array in tiny_model.tensors().items():
            assert loaded[name].dtype == np.float32
            np.testing.assert_allclose(loaded[name], array, rtol=1e-3, atol=1e-3)
