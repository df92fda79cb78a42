"""Checkpoint folders: config.json + model.safetensors (the layout huggingface_hub's mixins write).

Nothing here unpickles: loading reads JSON and raw tensors, never code.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from .config import ModelConfig
from .models import build_model

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or does not fit its config."""


def save_tensors(path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict | None = None) -> None:
    """Write named arrays to a safetensors file atomically (a crash never leaves half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def load_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Named arrays from a safetensors file, with a clear error naming the file if it is unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None


def read_config(folder: str | os.PathLike) -> ModelConfig:
    """The ModelConfig in folder/config.json, with errors naming the file."""
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found (is {folder} a checkpoint folder?)")
    try:
        return ModelConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: {e}") from None


def write_config(folder: str | os.PathLike, config: ModelConfig) -> None:
    path = Path(folder) / CONFIG_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save(model, folder: str | os.PathLike) -> Path:
    """Write model's config.json and model.safetensors into folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_tensors(folder / WEIGHTS_NAME, model.tensors(), metadata={"format": "np"})
    write_config(folder, model.config)
    return folder


def load(folder: str | os.PathLike):
    """The model saved in folder; any mismatch between config and weights is a CheckpointError."""
    folder = Path(folder)
    config = read_config(folder)
    model = build_model(config)
    tensors = load_tensors(folder / WEIGHTS_NAME)
    try:
        model.load_tensors(tensors)
    except ValueError as e:
        raise CheckpointError(f"{folder / WEIGHTS_NAME} does not match {folder / CONFIG_NAME}: {e}") from None
    return model
