"""Which three models the app serves, and loading them without ever failing the app's start."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import checkpoint
from ..checkpoint import CheckpointError
from ..hub import APP_ENV_VARS, AppSource, resolve_app_sources
from ..models import DESCRIPTIONS

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "checkpoints"  # checkpoints/rnn, checkpoints/lstm, checkpoints/gru


@dataclass
class Loaded:
    """One of the app's models: the model itself, or why it is unavailable."""

    name: str  # "rnn", "lstm" or "gru"
    source: str  # where it came from, in words, for the Models tab
    folder: Path | None  # local folder with config.json, README.md, log.jsonl, timelapse.jsonl, samples.json
    model: object | None = None
    error: str = ""  # why model is None
    load_seconds: float = 0.0
    repo_id: str | None = None  # Hub sources only
    commit: str | None = None  # the full sha the requested revision resolved to
    note: str = ""  # why the requested source was not used (e.g. the Hub did not answer); empty when it was

    @property
    def label(self) -> str:
        return DESCRIPTIONS[self.name]

    @property
    def available(self) -> bool:
        return self.model is not None

    @property
    def metrics(self) -> dict:
        """Best validation figures recorded at training time (empty when unknown)."""
        return self.model.config.metrics if self.model is not None else {}


def short_path(folder: Path) -> str:
    """A folder inside the repository relative to it (checkpoints/lstm), any other one absolute."""
    folder = folder.resolve()
    return folder.relative_to(REPO).as_posix() if folder.is_relative_to(REPO) else str(folder)


def describe_folder(folder: Path) -> str:
    """'bundled folder checkpoints/lstm' for the repository's own checkpoints, else 'local folder /abs/path'."""
    inside = folder.resolve().is_relative_to(REPO)
    return f"{'bundled' if inside else 'local'} folder {short_path(folder)}"


def model_sources(root: str | os.PathLike | None = None, environ=os.environ) -> dict[str, tuple[AppSource, str]]:
    """name -> (AppSource, why that source): RNNLM_<NAME> (a folder or a Hub id) when set, else <root>/<name>."""
    sources = resolve_app_sources(Path(root) if root is not None else BUNDLED, environ)
    whys = {name: f"set by {var}" if environ.get(var, "").strip() else f"default; set {var} to use another"
            for name, var in APP_ENV_VARS.items()}
    return {name: (src, whys[name]) for name, src in sources.items()}


def load_one(name: str, src: AppSource, why: str) -> Loaded:
    """Load src as the app's `name` model; any failure becomes a message, not an exception."""
    # a Hub snapshot's cache path says little, and a fallback must say what it replaced: use the source's words
    where = src.description if src.repo_id or src.note else None
    loaded = _load_folder(name, src.folder, why, where)
    loaded.repo_id, loaded.commit, loaded.note = src.repo_id, src.commit, src.note
    return loaded


def _load_folder(name: str, folder: Path, why: str, where: str | None = None) -> Loaded:
    """Load a local checkpoint folder as the app's `name` model; where says, in words, where it is."""
    where = where or describe_folder(folder)
    if not (folder / "config.json").is_file():
        error = (f"{DESCRIPTIONS[name]} is unavailable: no checkpoint at {short_path(folder)} ({why}). "
                 f"Train one with `python -m rnnlm train --model {name} --data FILE --out {short_path(folder)}`.")
        return Loaded(name, where, None, error=error)
    start = time.perf_counter()
    try:
        model = checkpoint.load(folder, inference=True)  # the LSTM and GRU in numpy: no torch to import
    except (CheckpointError, OSError, ValueError, ImportError) as e:
        return Loaded(name, where, folder, error=f"{DESCRIPTIONS[name]} is unavailable: {e}")
    if model.config.model_type != name:
        error = f"{DESCRIPTIONS[name]} is unavailable: {where} holds a {model.config.model_type} model"
        return Loaded(name, where, folder, error=error)
    return Loaded(name, f"{where} ({why})", folder, model, load_seconds=time.perf_counter() - start)


def load_models(root: str | os.PathLike | None = None) -> dict[str, Loaded]:
    """The app's three models, name -> Loaded, each from RNNLM_<NAME> or <root>/<name>; missing ones say why."""
    return {name: load_one(name, src, why) for name, (src, why) in model_sources(root).items()}
