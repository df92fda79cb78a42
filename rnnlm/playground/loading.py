"""Which models the app serves, from where, and loading them without ever failing the app's start.

The policy, in one place: every registered model type is served; RNNLM_<TYPE> (RNNLM_RNN, RNNLM_LSTM,
RNNLM_GRU, ...) names a local folder or a Hub repo id `owner/name[@revision]` for it, else the bundled
folder checkpoints/<type> is used. A Hub model comes from the local cache when it is there; otherwise it
is downloaded within HUB_DEADLINE seconds, or the bundled folder is served instead with a note saying why
(the download goes on in the background, so the next start finds it cached). Any failure to load one
model, whatever its cause, becomes that model's error message; the others are served.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .. import store
from ..checkpoint import CONFIG_NAME
from ..hub import FOLDER_FILES, HubError, HubRef, HubUnreachableError, fetch, fetch_within, hub_ref, redact
from ..models import MODELS, spec_for

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "checkpoints"  # checkpoints/rnn, checkpoints/lstm, checkpoints/gru
HUB_DEADLINE = 5.0  # seconds for the whole download of one Hub model before the bundled one is served


def env_var(name: str) -> str:
    """The variable that points the app's `name` model elsewhere: RNNLM_LSTM for lstm."""
    return f"RNNLM_{name.upper()}"


@dataclass
class Served:
    """One model of the app: what was asked for, what is served, and why."""

    name: str  # the model type: "lstm"
    source: str  # where the served weights came from, in words, for the Models tab
    folder: Path | None  # config.json, model.safetensors and the run's records (card, logs, samples)
    model: object | None = None
    error: str = ""  # why model is None
    note: str = ""  # why the requested source is not the one served (e.g. the Hub did not answer); "" when it is
    load_seconds: float = 0.0
    repo_id: str | None = None  # Hub sources only
    revision: str | None = None
    commit: str | None = None  # the full sha the revision resolved to

    @property
    def label(self) -> str:
        return MODELS[self.name].label if self.name in MODELS else self.name

    @property
    def available(self) -> bool:
        return self.model is not None

    @property
    def metrics(self) -> dict:
        """Best validation figures recorded at training time (empty when unknown)."""
        return self.model.config.metrics if self.model is not None else {}


def short_path(folder: Path) -> str:
    """A folder inside the repository relative to it (checkpoints/lstm), any other one absolute."""
    folder = Path(folder).resolve()
    return folder.relative_to(REPO).as_posix() if folder.is_relative_to(REPO) else str(folder)


def load_folder(name: str, folder: Path, source: str) -> Served:
    """Serve folder as the app's `name` model; any failure becomes the Served's error, never an exception."""
    label = MODELS[name].label if name in MODELS else name
    if not (Path(folder) / CONFIG_NAME).is_file():
        return Served(name, source, None, error=(
            f"{label} is unavailable: no checkpoint at {short_path(folder)} ({source}). Train one with "
            f"`python -m rnnlm train --model {name} --data FILE --out {short_path(folder)}`."))
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = store.load(folder, inference=True)  # the LSTM and GRU in numpy: no torch to import
        if model.config.model_type != name:
            raise ValueError(f"{short_path(folder)} holds a {model.config.model_type} model, not a {name}")
    except Exception as e:  # noqa: BLE001 - one bad model must not take the app down
        return Served(name, source, folder, error=f"{label} is unavailable: {redact(e)}")
    note = " ".join(redact(w.message) for w in caught)
    return Served(name, source, folder, model, note=note, load_seconds=time.perf_counter() - start)


def _from_hub(name: str, ref: HubRef, bundled: Path, var: str, unreachable: list[str]) -> Served:
    """A Hub model from the cache, else downloaded within HUB_DEADLINE, else the bundled one with a note."""
    try:
        folder, how = fetch(ref, FOLDER_FILES, local_files_only=True), "from the local cache"
    except HubError:
        folder = None  # not cached, or only partly: ask the Hub (unless it did not answer for an earlier model)
    reason = unreachable[0] if unreachable and folder is None else ""
    if folder is None and not reason:
        try:
            folder, how = fetch_within(ref, HUB_DEADLINE), "downloaded"
        except HubUnreachableError as e:
            reason = str(e)
            unreachable.append("the Hub did not answer in time for the model before it, so it was not asked again")
        except HubError as e:
            reason = str(e)
    if folder is None:
        served = load_folder(name, bundled, f"bundled folder {short_path(bundled)}, instead of {ref}")
        served.note = redact(f"{var}={ref} could not be used: {reason}. Showing the bundled checkpoint instead.")
        return served
    served = load_folder(name, folder, f"Hub repo {ref}, commit {folder.name[:7]}, {how} (set by {var})")
    served.repo_id, served.revision, served.commit = ref.repo_id, ref.revision, folder.name
    return served


def load_app_models(root: str | os.PathLike | None = None, environ=os.environ, names=None) -> list[Served]:
    """The app's models, one Served per model type (every registered type unless names are given)."""
    root = Path(root) if root is not None else BUNDLED
    unreachable: list[str] = []  # once the Hub has not answered, the other models do not wait for it again
    served = []
    for name in names or list(MODELS):
        spec_for(name)
        var, bundled = env_var(name), root / name
        wanted = environ.get(var, "").strip()
        ref = hub_ref(wanted) if wanted else None
        if not wanted:
            served.append(load_folder(name, bundled, f"bundled folder {short_path(bundled)}; set {var} to use another"))
        elif ref is None:
            served.append(load_folder(name, Path(wanted).expanduser(), f"local folder {wanted} (set by {var})"))
        else:
            served.append(_from_hub(name, ref, bundled, var, unreachable))
    return served
