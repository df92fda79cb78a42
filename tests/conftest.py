"""Fixtures over tests/support.py: a corpus file, tiny models of each built-in type, the fake Hub."""
from __future__ import annotations

from pathlib import Path

import pytest

from rnnlm.models import build_model
from tests.support import MODEL_TYPES, TEXT, tiny_config

pytest_plugins = ["tests.hubserver"]  # the fake_hub fixture, for every test module


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "play.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(params=MODEL_TYPES)
def model_type(request) -> str:
    return request.param


@pytest.fixture
def tiny_model(model_type):
    return build_model(tiny_config(model_type), seed=3)
