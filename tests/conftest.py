"""Shared fixtures: a small corpus the tests write themselves, and tiny models of each type."""
from __future__ import annotations

from pathlib import Path

import pytest

from rnnlm.config import MODEL_TYPES, ModelConfig
from rnnlm.models import build_model

pytest_plugins = ["tests.hubserver"]  # the fake_hub fixture, for every test module

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# A made-up play in the corpus' style, long enough for a 90/10 split and a few batches.
LINES = [
    "FIRST WATCHMAN:\nWho goes there? Stand, and unfold yourself.\n\n",
    "BRUTUS:\nThe night is long that never finds the day.\n\n",
    "PORTIA:\nI pray you, gentle sir, what news from Rome?\n\n",
    "SECOND WATCHMAN:\nNo news, my lord, but that the moon is down.\n\n",
]
TEXT = "".join(LINES) * 30


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "play.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def tiny_config(model_type: str, **kw) -> ModelConfig:
    fields = dict(model_type=model_type, vocab="".join(sorted(set(TEXT))), hidden_size=24, num_layers=2, embed_size=8)
    fields.update(kw)
    return ModelConfig(**fields)


@pytest.fixture(params=MODEL_TYPES)
def model_type(request) -> str:
    return request.param


@pytest.fixture
def tiny_model(model_type):
    return build_model(tiny_config(model_type), seed=3)
