"""Which models the app serves, from where, and loading them without ever failing the app's start.

The policy, in one place: the app serves model sets (rnnlm.modelsets), the Shakespeare set first. Each model
of a set loads from a variable, else from its bundled folder: RNNLM_<TYPE> (RNNLM_RNN, RNNLM_LSTM, ...) for the
Shakespeare set, whose models are every registered type; RNNLM_<SET>_<MODEL> for the others
(RNNLM_SHERLOCK_WORDS_LSTM, RNNLM_ALICE_CHARS_LSTM_NODROPOUT). A value names a local folder or a Hub repo id
`owner/name[@revision]`. RNNLM_SETS adds sets of one's own: folders (separated by the system's path
separator, ':' on Linux) whose subfolders are the models. A set none of whose models can be found is left
out of the app, with the reason kept for the page. A Hub model comes from the local cache when it is there; otherwise it
is downloaded within HUB_DEADLINE seconds, or the bundled folder is served instead with a note saying why
(the download goes on in the background, so the next start finds it cached). Any failure to load one
model, whatever its cause, becomes that model's error message; the others are served.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .. import store
from ..checkpoint import CONFIG_NAME
from ..hub import FOLDER_FILES, HubError, HubRef, HubUnreachableError, fetch, fetch_within, hub_ref, redact
from ..models import MODELS, spec_for
from ..modelsets import MODEL_SETS, ModelSet, SetModel

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "checkpoints"  # checkpoints/rnn, checkpoints/lstm, checkpoints/gru
HUB_DEADLINE = 5.0  # seconds for the whole download of one Hub model before the bundled one is served


DEFAULT_SET = "shakespeare-chars"  # the set a page opens with, and the one an API call without a set uses
SETS_VAR = "RNNLM_SETS"


def env_var(name: str, set_name: str = DEFAULT_SET) -> str:
    """The variable that points a set's `name` model elsewhere: RNNLM_LSTM for the Shakespeare set's lstm,
    RNNLM_SHERLOCK_WORDS_LSTM for the sherlock-words set's."""
    prefix = "" if set_name == DEFAULT_SET else set_name + "_"
    return "RNNLM_" + "".join(c if c.isalnum() else "_" for c in (prefix + name).upper())


@dataclass
class Served:
    """One model of the app: what was asked for, what is served, and why."""

    name: str  # the model's name in its set: its type ("lstm"), or its folder's name ("lstm-nodropout")
    source: str  # where the served weights came from, in words, for the Models tab
    folder: Path | None  # config.json, model.safetensors and the run's records (card, logs, samples)
    model: object | None = None
    error: str = ""  # why model is None
    note: str = ""  # why the requested source is not the one served (e.g. the Hub did not answer); "" when it is
    load_seconds: float = 0.0
    repo_id: str | None = None  # Hub sources only
    revision: str | None = None
    commit: str | None = None  # the full sha the revision resolved to
    model_type: str = ""  # a name in MODELS; the name when empty
    title: str = ""  # what a person reads when the type's label is not enough: "LSTM without dropout"

    def __post_init__(self):
        self.model_type = self.model_type or self.name

    @property
    def label(self) -> str:
        if self.title:
            return self.title
        return MODELS[self.model_type].label if self.model_type in MODELS else self.name

    @property
    def baseline(self) -> bool:
        """A count-based baseline (the n-gram), shown beside the networks rather than among them."""
        return self.model_type in MODELS and MODELS[self.model_type].baseline

    @property
    def kind(self) -> str:
        """The tokens the model reads: "char" or "word" ("" while unavailable)."""
        return self.model.vocab.kind if self.model is not None else ""

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


def load_folder(name: str, folder: Path, source: str, model_type: str | None = None, title: str = "") -> Served:
    """Serve folder as the app's `name` model (of model_type, name by default); any failure becomes the Served's
    error, never an exception."""
    model_type = model_type or name
    ident = dict(model_type=model_type, title=title)
    label = Served(name, source, None, **ident).label
    if not (Path(folder) / CONFIG_NAME).is_file():
        return Served(name, source, None, error=(
            f"{label} is unavailable: no checkpoint at {short_path(folder)} ({source}). Train one with "
            f"`python -m rnnlm train --model {model_type} --data FILE --out {short_path(folder)}`."), **ident)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = store.load(folder, inference=True)  # the LSTM and GRU in numpy: no torch to import
        if model.config.model_type != model_type:
            raise ValueError(f"{short_path(folder)} holds a {model.config.model_type} model, not a {model_type}")
    except Exception as e:  # noqa: BLE001 - one bad model must not take the app down
        return Served(name, source, folder, error=f"{label} is unavailable: {redact(e)}", **ident)
    note = " ".join(redact(w.message) for w in caught)
    return Served(name, source, folder, model, note=note, load_seconds=time.perf_counter() - start, **ident)


def _from_hub(name: str, ref: HubRef, bundled: Path, var: str, unreachable: list[str], **ident) -> Served:
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
        served = load_folder(name, bundled, f"bundled folder {short_path(bundled)}, instead of {ref}", **ident)
        served.note = redact(f"{var}={ref} could not be used: {reason}. Showing the bundled checkpoint instead.")
        return served
    served = load_folder(name, folder, f"Hub repo {ref}, commit {folder.name[:7]}, {how} (set by {var})", **ident)
    served.repo_id, served.revision, served.commit = ref.repo_id, ref.revision, folder.name
    return served


def load_model_from(name: str, bundled: Path, var: str, environ, unreachable: list[str], **ident) -> Served:
    """One model: from the source environ[var] names (a folder or a Hub repo id), else its bundled folder."""
    wanted = environ.get(var, "").strip()
    ref = hub_ref(wanted) if wanted else None
    if not wanted:
        return load_folder(name, bundled, f"bundled folder {short_path(bundled)}; set {var} to use another", **ident)
    if ref is None:
        return load_folder(name, Path(wanted).expanduser(), f"local folder {wanted} (set by {var})", **ident)
    return _from_hub(name, ref, bundled, var, unreachable, **ident)


def load_app_models(root: str | os.PathLike | None = None, environ=os.environ, names=None) -> list[Served]:
    """The Shakespeare set's models, one Served per model type (every registered type unless names are given)."""
    root = Path(root) if root is not None else BUNDLED
    unreachable: list[str] = []  # once the Hub has not answered, the other models do not wait for it again
    served = []
    for name in names or list(MODELS):
        spec_for(name)
        served.append(load_model_from(name, root / name, env_var(name), environ, unreachable))
    return served


@dataclass
class ServedSet:
    """One model set of the app: its description and its models, or why it is not offered."""

    spec: ModelSet
    models: list[Served]
    missing: str = ""  # why the set is left out of the app; "" when it is offered

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def words(self) -> bool:
        """Whether the set's models read words (the Next word and sentence views are for them)."""
        kinds = {m.kind for m in self.models if m.available}
        return "word" in kinds if kinds else self.spec.tokens == "word"


def configured_sets(environ=os.environ) -> list[ModelSet]:
    """The sets RNNLM_SETS names: each folder a set, its subfolders holding a config.json its models."""
    sets = []
    for entry in filter(None, (e.strip() for e in environ.get(SETS_VAR, "").split(os.pathsep))):
        folder = Path(entry).expanduser()
        models, kinds = [], set()
        for sub in sorted(folder.iterdir()) if folder.is_dir() else []:
            try:
                config = json.loads((sub / CONFIG_NAME).read_text(encoding="utf-8"))
                model_type = str(config["model_type"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a checkpoint folder; a broken one is reported when its set loads it
            kinds.add(str((config.get("tokens") or {}).get("kind", "char")))
            models.append(SetModel(sub.name, model_type))
        order = list(MODELS)  # the registry's order: the RNN, the LSTM, the GRU, then the baselines
        models.sort(key=lambda m: (order.index(m.model_type) if m.model_type in order else len(order), m.name))
        tokens = "word" if kinds == {"word"} else "char"
        name = folder.name or str(folder)
        sets.append(ModelSet(name, f"{name} · {'words' if tokens == 'word' else 'characters'}", str(folder.resolve()),
                             tokens, "", tuple(models), ""))
    return sets


def load_set(spec: ModelSet, root: str | os.PathLike | None = None, environ=os.environ,
             unreachable: list[str] | None = None) -> ServedSet:
    """A set's models, each from its variable or its folder under root (the bundled checkpoints/ by default).

    A set other than the Shakespeare one with no checkpoint in any of its folders, and no variable pointing
    elsewhere, is missing: it has not been built here."""
    root = Path(root) if root is not None else BUNDLED
    unreachable = [] if unreachable is None else unreachable
    folders = spec.folders(root)
    variables = {m.name: env_var(m.name, spec.name) for m in spec.models}
    if spec.name != DEFAULT_SET and not any(environ.get(v, "").strip() for v in variables.values()) \
            and not any((f / CONFIG_NAME).is_file() for f in folders.values()):
        where = short_path(root / spec.folder) if spec.folder else short_path(root)
        return ServedSet(spec, [], missing=(
            f"{spec.label}: not on this server (no checkpoints in {where}/). Build it with "
            f"`python checkpoints/build.py --set {spec.name}`, or point {', '.join(variables.values())} at "
            "checkpoint folders or Hub repos."))
    models = [load_model_from(m.name, folders[m.name], variables[m.name], environ, unreachable,
                              model_type=m.model_type, title=m.label) for m in spec.models]
    return ServedSet(spec, models)


def load_app_sets(root: str | os.PathLike | None = None, environ=os.environ) -> list[ServedSet]:
    """Every bundled set, then the configured ones (RNNLM_SETS): the Shakespeare set first, always offered."""
    unreachable: list[str] = []
    sets = [load_set(s, root, environ, unreachable) for s in MODEL_SETS.values()]
    sets += [load_set(s, "/", environ, unreachable) for s in configured_sets(environ)]
    return sets
