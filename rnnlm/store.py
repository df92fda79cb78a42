"""A model to and from a checkpoint folder: rnnlm.checkpoint's files, with the class from the registry.

    save(model, folder)                   config.json + model.safetensors + README.md card, crash-safe
    load(folder)                          the class that trains it (torch for the LSTM and GRU)
    load(folder, inference=True)          the class that runs one stream (numpy: no torch import)
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from . import checkpoint
from .card import render_card
from .checkpoint import WEIGHTS_NAME, CheckpointError
from .models import spec_for


class CheckpointWarning(UserWarning):
    """A checkpoint loaded, but something in it deserves a look (weights that are not finite)."""


def save(model, folder: str | os.PathLike, card: bool = True, dtype: str | None = None) -> Path:
    """Write model's config.json, model.safetensors and (card=True) its README.md card into folder; dtype
    "float16" halves the weights file (loading gives float32 again)."""
    text = render_card(model, folder) if card else None
    return checkpoint.save(folder, model.config, model.tensors(), card=text, dtype=dtype)


def load(folder: str | os.PathLike, inference: bool = False):
    """The model saved in folder; anything wrong with the files is a CheckpointError naming the file.

    The config is checked before the weights are read, and the weights' names and shapes before a model
    is built, so a hostile config.json cannot make loading allocate more than the weights file holds.
    """
    folder = Path(folder)
    config = checkpoint.read_config(folder)
    try:
        spec = spec_for(config.model_type)
    except ValueError as e:
        raise CheckpointError(f"{folder / checkpoint.CONFIG_NAME}: {e}") from None
    try:
        cls = spec.runner_type() if inference else spec.trainer_type()
    except ImportError as e:
        raise CheckpointError(f"{folder}: a {spec.label} needs {e.name or 'a missing package'} to "
                              f"{'run' if inference else 'train'} ({e})") from None
    path = folder / WEIGHTS_NAME
    tensors = checkpoint.read_weights(folder, integers=spec.integer_weights)
    if hasattr(cls, "shapes_for"):
        checkpoint.check_shapes(path, cls.shapes_for(config), tensors)
    bad = checkpoint.non_finite(tensors)
    if bad:
        warnings.warn(f"{path}: {', '.join(bad[:5])} hold NaN or infinite values; the model's outputs will be too",
                      CheckpointWarning, stacklevel=2)
    model = cls(config)
    try:
        model.load_tensors(tensors)
    except (ValueError, RuntimeError) as e:  # names or shapes, for a class without shapes_for
        raise CheckpointError(f"{path} does not match {folder / checkpoint.CONFIG_NAME}: {' '.join(str(e).split())}") from None
    return model
