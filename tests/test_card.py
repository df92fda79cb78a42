"""The model card written beside every checkpoint: Hub metadata, the run's settings and figures, a command
that reproduces it, and samples."""
from __future__ import annotations

import math
import shlex

import pytest
from huggingface_hub import ModelCard

from rnnlm import checkpoint, cli, store
from rnnlm.config import TrainConfig
from tests.support import tiny, trained_folder


@pytest.mark.parametrize("model_type", ["rnn", "lstm"])
def test_card_carries_hub_metadata_and_the_run(model_type, tmp_path):
    folder = trained_folder(tmp_path / "run", model_type)
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "rnnlm" and card.data.license == "mit"
    assert {"character-level", "language-model", model_type} <= set(card.data.tags)
    assert card.data.datasets == ["tinyshakespeare"]
    figures = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert figures == pytest.approx({"nats_per_char": 1.5, "bits_per_char": 1.5 / math.log(2)}, abs=1e-4)
    text = card.text
    assert "a test CPU" in text and "BRUTUS: sample at 0.8" in text and "log.jsonl" in text
    assert "python -m rnnlm train --model " + model_type in text and "first 90%" in text
    assert ("pytorch" in text.lower()) == (model_type != "rnn")  # the mixin's default text names PyTorch
    command = next(line for line in text.splitlines() if line.startswith("python -m rnnlm train"))
    args = cli.build_parser().parse_args(shlex.split(command)[3:])  # the command the card gives is a valid one
    recorded = checkpoint.read_config(folder).training
    assert {k: getattr(args, k) for k in recorded if k in TrainConfig.__dataclass_fields__ and k not in
            ("data", "val_fraction")} == {k: v for k, v in recorded.items() if k not in ("data", "val_fraction")}


def test_card_of_an_untrained_model_renders(tmp_path):
    store.save(tiny("gru"), tmp_path / "m")
    card = ModelCard.load(tmp_path / "m" / "README.md")
    assert card.data.library_name == "rnnlm" and card.data.eval_results is None
    assert "Not evaluated yet" in card.text


# --- push and pull --------------------------------------------------------------------------


def test_a_word_models_card_speaks_of_tokens_and_reproduces_its_vocabulary(tmp_path):
    from tests.support import word_folder

    folder = word_folder(tmp_path / "run", "gru", iters=4)
    config = checkpoint.read_config(folder)
    card = ModelCard.load(folder / "README.md")
    assert "word-level" in card.data.tags and "character-level" not in card.data.tags
    figures = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert figures["nats_per_token"] == pytest.approx(config.metrics["val_nats_per_token"], abs=1e-4)
    assert figures["bits_per_char"] == pytest.approx(config.metrics["val_bits_per_char"], abs=1e-4)
    text = card.text
    assert "word-level language model" in text and f"{config.vocab_size:,} tokens" in text
    assert f"{config.metrics['val_nats_per_token']:.4f} nats/token" in text and "<unk>" in text
    command = next(line for line in text.splitlines() if line.startswith("python -m rnnlm train"))
    args = cli.build_parser().parse_args(shlex.split(command)[3:])
    assert args.tokens == "word" and args.vocab_size == config.tokens["max_size"]
