"""Checkpoint folders: config.json + model.safetensors + README.md, the files huggingface_hub's mixins use.

Every model class is a Hub mixin (ModelHubMixin for numpy, PyTorchModelHubMixin for torch) whose
save_pretrained and from_pretrained use the helpers here, so a local folder and a Hub repo hold the same
files, and save / load below are those two methods with errors that name the bad file.

Nothing here unpickles: loading reads JSON and raw tensors, never code.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from huggingface_hub import ModelCard, hf_hub_download
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from .card import render_card
from .config import ModelConfig
from .models import model_class

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or does not fit its config."""


def _replace_atomically(path: Path, write) -> None:
    """Call write(tmp) and move tmp over path: a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_tensors(path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict | None = None) -> None:
    """Write named arrays to a safetensors file atomically."""
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    _replace_atomically(Path(path), lambda tmp: save_file(arrays, str(tmp), metadata=metadata))


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
    """folder/config.json: the ModelConfig as a flat dict, keys in field order, characters unescaped."""
    text = json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n"
    _replace_atomically(Path(folder) / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# --- what the models' Hub mixins use ----------------------------------------------------------


class CheckpointMixin:
    """rnnlm's side of huggingface_hub's mixins, shared by every model: one writer and the project's card.

    Listed before the Hub mixin in a model's bases so that these methods win.
    """

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write model.safetensors, config.json and README.md (called by save_pretrained and push_to_hub)."""
        folder = Path(save_directory)
        save_tensors(folder / WEIGHTS_NAME, self.tensors(), metadata={"format": "np"})
        # Written here rather than by the mixin, which would sort the keys and escape non-ASCII vocabularies.
        write_config(folder, self.config)
        # The mixin keeps an existing README.md, but training re-saves into the same folder whenever the
        # validation loss improves, so the card is rewritten with the new figures each time.
        text = render_card(self, folder)
        _replace_atomically(folder / CARD_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        """The project's card (the mixin's default text names PyTorch whatever the model)."""
        return ModelCard(render_card(self))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, cache_dir, force_download, local_files_only, token,
                         config: ModelConfig | dict | None = None, **model_kwargs):
        """Build from config.json, then load model.safetensors from a local folder or a Hub repo (the numpy
        models; TorchRNN has its own)."""
        path = weights_file(model_id, revision=revision, cache_dir=cache_dir, force_download=force_download,
                            local_files_only=local_files_only, token=token)
        model = cls(config_from(config, model_id), **model_kwargs)
        with reading_weights(path):
            model.load_tensors(load_file(str(path)))
        return model


def config_from(config: ModelConfig | dict | None, source: str) -> ModelConfig:
    """The ModelConfig that from_pretrained passes to _from_pretrained.

    The mixin hands over config.json as a plain dict: it decodes dataclasses by the constructor's type
    annotation, which `from __future__ import annotations` turns into a string.
    """
    if isinstance(config, ModelConfig):
        return config
    where = Path(source) / CONFIG_NAME if os.path.isdir(source) else f"{source}: {CONFIG_NAME}"
    if config is None:
        raise CheckpointError(f"{where}: file not found")
    try:
        return ModelConfig.from_dict(config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: {e}") from None


def weights_file(model_id: str, **download) -> Path:
    """model.safetensors in a local folder, or fetched from Hub repo model_id (download: hf_hub_download's options)."""
    if os.path.isdir(model_id):
        path = Path(model_id) / WEIGHTS_NAME
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found")
        return path
    return Path(hf_hub_download(model_id, WEIGHTS_NAME, **download))


@contextmanager
def reading_weights(path: Path):
    """Re-raise a weights file that cannot be read, or does not fit config.json, as a CheckpointError naming it."""
    try:
        yield
    except CheckpointError:
        raise
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None
    except (ValueError, RuntimeError) as e:  # names or shapes: from check_tensors, or torch's strict load
        detail = " ".join(str(e).split())  # torch's message spans lines
        raise CheckpointError(f"{path} does not match {path.with_name(CONFIG_NAME)}: {detail}") from None


# --- the public pair -------------------------------------------------------------------------


def save(model, folder: str | os.PathLike) -> Path:
    """Write model's config.json, model.safetensors and README.md card into folder (its save_pretrained)."""
    model.save_pretrained(folder)
    return Path(folder)


def load(folder: str | os.PathLike, inference: bool = False):
    """The model saved in folder (its class's from_pretrained); any mismatch is a CheckpointError.

    inference=True loads the lightest class that can run it, not train it: the LSTM and GRU in numpy,
    without importing torch (see rnnlm.models.numpy_cells).
    """
    folder = Path(folder)
    config = read_config(folder)  # first, for errors that name the file and to pick the class
    return model_class(config.model_type, inference).from_pretrained(folder, config=config)
