"""Settings: every field of a model config and of a training run is checked, with the field or flag named."""
from __future__ import annotations

import pytest

from rnnlm import cli
from rnnlm.config import ModelConfig, TrainConfig


@pytest.mark.parametrize("flag, value, message", [
    ("batch_size", 0, "--batch-size must be from 1"),
    ("eval_every", 0, "--eval-every must be >= 1"),
    ("log_every", 0, "--log-every must be >= 1"),
    ("max_iters", 0, "--max-iters must be >= 1"),
    ("max_iters", -1, "--max-iters must be >= 1"),
    ("seq_len", 0, "--seq-len must be from 1"),
    ("lr", -1.0, "--lr must be in"),
    ("minutes", -1.0, "--minutes must be in"),
    ("eval_every", -1, "--eval-every must be >= 1"),
    ("grad_clip", float("nan"), "--grad-clip must be a finite number"),
    ("weight_decay", -5.0, "--weight-decay must be in"),
    ("seed", -1, "--seed must be from 0"),
    ("optimizer", "sgd", "--optimizer must be adam or adagrad"),
    ("dtype", "fp16", "--dtype must be one of float32, bf16"),
    ("batch_size", 2.5, "--batch-size must be a whole number"),
])
def test_every_training_setting_is_checked_and_the_flag_named(flag, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{flag: value})


def test_a_run_needs_an_end():
    with pytest.raises(ValueError, match="--max-iters or --minutes"):
        TrainConfig(max_iters=None)
    assert TrainConfig(max_iters=None, minutes=1.0).max_iters is None


def test_saved_settings_with_unknown_keys_are_refused_like_model_configs():
    with pytest.raises(ValueError, match="unknown keys in training settings: colour"):
        TrainConfig.from_dict({"colour": "blue"})
    with pytest.raises(ValueError, match="unknown keys in model config: colour"):
        ModelConfig.from_dict({"colour": "blue"})
    with pytest.raises(ValueError, match="must be a JSON object"):
        ModelConfig.from_dict(["not", "a", "dict"])
    assert TrainConfig.from_dict(TrainConfig(lr=0.01).to_dict()) == TrainConfig(lr=0.01)


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "0"], "--batch-size must be from 1"),
    (["--eval-every", "-1"], "--eval-every must be >= 1"),
    (["--lr", "-1"], "--lr must be in"),
    (["--grad-clip", "nan"], "--grad-clip must be a finite number"),
    (["--minutes", "-1"], "--minutes must be in"),
])
def test_the_command_line_reports_a_bad_flag_without_a_traceback(flags, message, corpus, tmp_path, capsys):
    code = cli.main(["train", "--model", "rnn", "--data", str(corpus), "--out", str(tmp_path / "o"), *flags])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_model_config_fields_are_checked():
    for field, value in (("hidden_size", 0), ("num_layers", 10**6), ("embed_size", True), ("dropout", 1.0),
                         ("options", "x"), ("model_type", "")):
        with pytest.raises(ValueError, match=field):
            ModelConfig(**{field: value})
