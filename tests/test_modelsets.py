"""The model sets: every set's models have a recipe in checkpoints/build.py that the train command accepts."""
from __future__ import annotations

import importlib.util
import shlex

import pytest

from rnnlm import cli
from rnnlm.models import MODELS
from rnnlm.modelsets import BUNDLED, MODEL_SETS, model_set
from tests.support import REPO


def build_module():
    spec = importlib.util.spec_from_file_location("build", REPO / "checkpoints" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_set_model_has_a_recipe_the_train_command_accepts():
    build = build_module()
    assert set(build.RECIPES) == set(MODEL_SETS)
    for s in MODEL_SETS.values():
        assert [m.name for m in s.models] == list(build.RECIPES[s.name])
        for m in s.models:
            flags = build.recipe(s.name, m.name)
            args = cli.build_parser().parse_args(["train", *shlex.split(flags), "--data", "x", "--out", "y"])
            assert args.model == m.model_type and m.model_type in MODELS
            assert (args.tokens or "char") == s.tokens
            timed = build.recipe(s.name, m.name, minutes=0.5)  # a trial's budget replaces the recipe's
            assert (" --minutes 0.5" in timed and "--max-iters" not in timed) or m.model_type == "ngram"


def test_the_sherlock_lstm_is_the_tutorials_and_sets_have_distinct_folders():
    build = build_module()
    args = cli.build_parser().parse_args(["train", *shlex.split(build.RECIPES["sherlock-words"]["lstm"])])
    assert (args.embed_size, args.hidden_size, args.num_layers) == (100, 150, 1)
    folders = [f for s in MODEL_SETS.values() for f in s.folders().values()]
    assert len(set(folders)) == len(folders) and all(f.is_relative_to(BUNDLED) for f in folders)
    assert model_set("shakespeare-chars").folders()["lstm"] == BUNDLED / "lstm"
    with pytest.raises(ValueError, match="sherlock-words"):
        model_set("sherlock")
    with pytest.raises(ValueError, match="lstm-nodropout"):
        model_set("alice-chars").model("transformer")


BUILT = [(s.name, m.name) for s in MODEL_SETS.values() if s.folder for m in s.models
         if (s.folders()[m.name] / "config.json").is_file()]


@pytest.mark.skipif(not BUILT, reason="no set besides Shakespeare is built yet (python checkpoints/build.py --set NAME)")
@pytest.mark.parametrize("set_name, name", BUILT)
def test_a_built_set_model_is_small_complete_and_its_card_agrees(set_name, name):
    from rnnlm import checkpoint, store

    s = model_set(set_name)
    folder = s.folders()[name]
    for f in ("config.json", "model.safetensors", "README.md", "log.jsonl", "timelapse.jsonl", "samples.json"):
        assert (folder / f).is_file(), f"{folder / f} missing"
    assert (folder / "model.safetensors").stat().st_size < 12 * 2**20
    model = store.load(folder, inference=True)
    config = checkpoint.read_config(folder)
    assert config.model_type == s.model(name).model_type and model.vocab.kind == s.tokens
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"{config.metrics['val_bits_per_char']:.4f}" in card and config.metrics["command"] in card
    assert "weights_stored_as" in config.metrics or model.config.model_type == "ngram"
