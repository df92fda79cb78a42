"""Checkpoint folders as plain files: config.json + model.safetensors (+ the README.md card), written atomically.

Nothing here knows a model class: saving takes a ModelConfig and named arrays, loading gives them back
(rnnlm.store builds the model). Nothing unpickles: loading reads JSON and raw tensors, never code.

A process killed at any instant of a save leaves the previous complete checkpoint or the new complete
one. Every file is written under a temporary name in the same folder, flushed, and moved into place with
os.replace. Two files cannot be replaced at once, so the weights name the config they belong to: their
safetensors metadata holds the sha256 of the config.json text saved with them, and that text waits as
config.json.<sha>.tmp until it replaces config.json. The weights go in first; a reader that finds them
newer than config.json (the sha differs and the waiting file is there) takes the waiting config. A
config.json edited by hand (no waiting file) is read as it is, and checked against the weights' shapes.

Folders that must change as a unit (training's resume/) are written whole under a new name and swapped
in (commit_folder); read_folder_unit finds the complete one after a crash at any point of the swap.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file
from safetensors.numpy import save as safetensors_bytes

from .config import ModelConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
TMP_SUFFIX = ".tmp"
MAX_CONFIG_BYTES = 50_000_000  # a vocabulary of a million words fits; a bigger config.json is not a checkpoint


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or does not fit its config."""


# --- file operations: every write of a save goes through these (tests inject crashes between them) ---


def _write_new(path: Path, data: bytes) -> None:
    """Create path (which must not be in use by readers) with data, flushed to disk, mode 0644 under umask 022."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _replace(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write a whole file so that readers see the old content or the new, never a part."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f"{path.name}.{os.getpid()}{TMP_SUFFIX}")
    _write_new(tmp, raw)
    _replace(tmp, path)


def write_json(path: str | os.PathLike, doc) -> None:
    """A JSON file, written atomically."""
    write_atomic(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike):
    """A JSON file's content; a CheckpointError naming the file when it is missing or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None


# --- tensors ---------------------------------------------------------------------------------------


def save_tensors(path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict | None = None) -> None:
    """Named arrays to a safetensors file, atomically."""
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    write_atomic(path, safetensors_bytes(arrays, metadata=metadata))


def load_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Named arrays from a safetensors file; a CheckpointError naming the file when it is unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None


def _weights_metadata(path: Path) -> dict:
    """The safetensors header's metadata (reads the header only)."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None


def check_weights(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Refuse non-float weights (an int8 file is not what a model was trained as)."""
    bad = sorted(name for name, t in tensors.items() if t.dtype.kind != "f")
    if bad:
        kinds = ", ".join(f"{n} ({tensors[n].dtype})" for n in bad[:5])
        raise CheckpointError(f"{path}: weights must be floating point, got {kinds}")


def non_finite(tensors: dict[str, np.ndarray]) -> list[str]:
    """Names of the tensors holding NaN or infinity (a model that diverged, or a damaged file)."""
    return sorted(name for name, t in tensors.items() if t.dtype.kind == "f" and not np.isfinite(t).all())


# --- a model's folder ------------------------------------------------------------------------------


def config_text(config: ModelConfig) -> str:
    """config.json: the ModelConfig as a flat dict, keys in field order, characters unescaped."""
    return json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save(folder: str | os.PathLike, config: ModelConfig, tensors: dict[str, np.ndarray], card: str | None = None,
         dtype: str | None = None) -> Path:
    """Write config.json, model.safetensors and (when given) README.md into folder, crash-safe (see above).

    dtype ("float16") stores float weights smaller; loading turns them back into float32.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    repair(folder)
    text = config_text(config)
    sha = _sha(text)
    waiting = folder / f"{CONFIG_NAME}.{sha}{TMP_SUFFIX}"
    _write_new(waiting, text.encode("utf-8"))  # complete before the weights that name it go in
    arrays = {k: np.ascontiguousarray(v, dtype=dtype if dtype and v.dtype.kind == "f" else None)
              for k, v in tensors.items()}  # as the model gives them (float32 or counts), unless dtype says
    write_atomic(folder / WEIGHTS_NAME, safetensors_bytes(arrays, metadata={"format": "np", "config_sha256": sha}))
    _replace(waiting, folder / CONFIG_NAME)
    if card is not None:
        write_atomic(folder / CARD_NAME, card)
    return folder


def repair(folder: str | os.PathLike) -> None:
    """Finish a save that was killed between the weights and config.json, and remove stale temporary files."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    waiting = _waiting_config(folder)
    if waiting is not None:
        _replace(waiting, folder / CONFIG_NAME)
    for tmp in folder.glob(f"*{TMP_SUFFIX}"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)


def _waiting_config(folder: Path) -> Path | None:
    """config.json.<sha>.tmp when the weights were saved with it and config.json is older, else None."""
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        return None
    try:
        sha = _weights_metadata(weights).get("config_sha256")
    except CheckpointError:
        return None
    waiting = folder / f"{CONFIG_NAME}.{sha}{TMP_SUFFIX}"
    if not sha or not waiting.is_file():
        return None
    current = folder / CONFIG_NAME
    try:
        if current.is_file() and _sha(current.read_text(encoding="utf-8")) == sha:
            return None
    except (OSError, UnicodeDecodeError):
        pass
    return waiting


def read_config(folder: str | os.PathLike) -> ModelConfig:
    """The ModelConfig of a checkpoint folder, with errors naming the file (see the module doc on crashes)."""
    folder = Path(folder)
    if folder.is_file():
        raise CheckpointError(f"{folder} is a file; expected a checkpoint folder (config.json + model.safetensors)")
    path = _waiting_config(folder) or folder / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{folder / CONFIG_NAME}: file not found (is {folder} a checkpoint folder?)")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path}: {path.stat().st_size:,} bytes is too large for a config file")
    doc = read_json(path)
    try:
        return ModelConfig.from_dict(doc)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {e}") from None


def read_weights(folder: str | os.PathLike, integers: bool = False) -> dict[str, np.ndarray]:
    """The named arrays of folder/model.safetensors: floating point, or integer counts where integers=True."""
    path = Path(folder) / WEIGHTS_NAME
    tensors = load_tensors(path)
    if not integers:
        check_weights(path, tensors)
    return tensors


def shape_problems(expected: dict[str, tuple], got: dict[str, np.ndarray]) -> list[str]:
    """What differs between the tensors got and the names and shapes expected, one phrase each ([] when nothing)."""
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected tensors: {', '.join(extra)}")
    for name in sorted(set(expected) & set(got)):
        if tuple(got[name].shape) != tuple(expected[name]):
            problems.append(f"{name} has shape {tuple(got[name].shape)}, expected {tuple(expected[name])}")
    return problems


def check_shapes(path: Path, expected: dict[str, tuple], got: dict[str, np.ndarray]) -> None:
    """A CheckpointError naming the weights file when names or shapes differ from what the config implies."""
    problems = shape_problems(expected, got)
    if problems:
        raise CheckpointError(f"{path} does not match {path.with_name(CONFIG_NAME)}: {'; '.join(problems)}")


# --- folders that change as a unit -----------------------------------------------------------------


def commit_folder(staged: Path, final: Path) -> None:
    """Swap a completely written folder `staged` in as `final`: final -> final.old, staged -> final, drop .old.

    A crash at any point leaves a complete folder that read_folder_unit finds.
    """
    old = final.with_name(final.name + ".old")
    _remove_tree(old)
    if final.exists():
        _replace(final, old)
    _replace(staged, final)
    _remove_tree(old)


def staging_folder(final: Path) -> Path:
    """A fresh, empty folder beside final to write the next version of it into."""
    staged = final.with_name(final.name + ".new")
    _remove_tree(staged)
    staged.mkdir(parents=True)
    return staged


def read_folder_unit(final: Path, complete_marker: str) -> Path | None:
    """The complete version of a folder written with commit_folder, after a crash at any point, or None.

    A version is complete when it has complete_marker, the file written last into it.
    """
    for candidate in (final, final.with_name(final.name + ".new"), final.with_name(final.name + ".old")):
        if (candidate / complete_marker).is_file():
            return candidate
    return None


def repair_folder_unit(final: Path, complete_marker: str) -> None:
    """Make final the complete version again and remove the leftovers of an interrupted swap."""
    found = read_folder_unit(final, complete_marker)
    if found is not None and found != final:
        _remove_tree(final)
        _replace(found, final)
    for leftover in (final.with_name(final.name + ".new"), final.with_name(final.name + ".old")):
        _remove_tree(leftover)
