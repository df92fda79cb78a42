"""Models on the Hugging Face Hub: load one by repo id, pull a folder, push a folder, and the app's sources.

A source is a local checkpoint folder or a Hub repo id with an optional revision: `user/name` or
`user/name@revision` (a branch, a tag or a commit). A Hub model is fetched into huggingface_hub's cache
and loaded from there like any folder, by rnnlm.checkpoint.load. Tokens come from the usual places
(HF_TOKEN, `hf auth login`) unless one is passed; nothing here prints or logs one.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2  # huggingface_hub's HTTP client: its transport errors mean the Hub did not answer
from huggingface_hub import CommitOperationAdd, HfApi, constants, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError, HfHubHTTPError, HFValidationError, LocalEntryNotFoundError, OfflineModeIsEnabled, RepositoryNotFoundError,
    RevisionNotFoundError,
)

from . import checkpoint
from .card import render_card
from .checkpoint import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, CheckpointError

MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME)  # what loading a model needs
# What push uploads and pull fetches: the model, its card and the run's records (never resume/).
FOLDER_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, "log.jsonl", "timelapse.jsonl", "samples.json")
APP_MODELS = ("rnn", "lstm", "gru")
APP_ENV_VARS = {name: f"RNNLM_{name.upper()}" for name in APP_MODELS}  # RNNLM_RNN, RNNLM_LSTM, RNNLM_GRU
PROBE_TIMEOUT = 1.0  # seconds the app waits for the Hub before using a bundled checkpoint (the client retries for ~24 s)
_REPO_ID = re.compile(r"[\w-][\w.-]*/[\w-][\w.-]*")  # owner/name; a leading dot means a relative path


class HubError(OSError):
    """The Hub could not provide or take a model; the message says what was missing."""


class HubUnreachableError(HubError):
    """The Hub did not answer, or HF_HUB_OFFLINE=1 forbids asking it, and the local cache cannot help."""


@dataclass(frozen=True)
class HubRef:
    """A model on the Hub: a repo id and a revision (None: the default branch)."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id


def parse_hub_id(text: str) -> HubRef | None:
    """The HubRef for 'owner/name' or 'owner/name@revision'; None when text is not shaped like one."""
    repo_id, _, revision = str(text).partition("@")
    return HubRef(repo_id, revision or None) if _REPO_ID.fullmatch(repo_id) else None


def hub_ref(source: str | os.PathLike) -> HubRef | None:
    """The HubRef source names, or None for a local folder: a Path, an existing folder, or anything not like a repo id."""
    if isinstance(source, os.PathLike) or Path(source).expanduser().is_dir():
        return None
    return parse_hub_id(source)


@contextmanager
def hub_errors(ref: HubRef):
    """Re-raise huggingface_hub's exceptions as a HubError saying what was missing or unreachable."""
    try:
        yield
    except LocalEntryNotFoundError as e:  # neither the Hub nor the cache had it (also an incomplete cached snapshot)
        cache = constants.HF_HUB_CACHE
        if constants.HF_HUB_OFFLINE or isinstance(e.__cause__, OfflineModeIsEnabled):
            raise HubUnreachableError(f"{ref} is not in the local Hub cache ({cache}), and HF_HUB_OFFLINE=1 "
                                      "forbids downloading it") from None
        raise HubUnreachableError(f"cannot reach the Hub at {constants.ENDPOINT}, and {ref} is not in the local "
                                  f"cache ({cache}): {_first_line(e.__cause__ or e)}") from None
    except OfflineModeIsEnabled:
        raise HubUnreachableError(f"HF_HUB_OFFLINE=1 forbids contacting the Hub for {ref}") from None
    except RevisionNotFoundError:
        raise HubError(f"{ref.repo_id} has no revision {ref.revision or constants.DEFAULT_REVISION!r} "
                       "(a branch, tag or commit)") from None
    except RepositoryNotFoundError:  # also gated repos, and private ones asked for without a valid token
        raise HubError(f"no Hub repo {ref.repo_id} at {constants.ENDPOINT}; if it is private, set HF_TOKEN "
                       "or run `hf auth login`") from None
    except EntryNotFoundError as e:
        raise HubError(f"{ref}: file not found on the Hub ({_first_line(e)})") from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "?"
        if status in (401, 403):
            raise HubError(f"the Hub refused the token for {ref} (HTTP {status}): it may be invalid or lack "
                           "write access") from None
        raise HubError(f"the Hub answered HTTP {status} for {ref}: {e.server_message or _first_line(e)}") from None
    except httpx2.TransportError as e:
        raise HubUnreachableError(f"cannot reach the Hub at {constants.ENDPOINT}: {e}") from None
    except HFValidationError as e:  # a repo id or revision the client refuses before asking the Hub
        raise HubError(f"{ref}: {_first_line(e)}") from None


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message (the client's run on with advice), or its type's name."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# --- loading and pulling --------------------------------------------------------------------


def fetch(ref: HubRef, files=MODEL_FILES, *, local_files_only: bool = False, token: str | None = None) -> Path:
    """The snapshot folder in huggingface_hub's cache that holds ref's copies of files (those the repo has)."""
    with hub_errors(ref):
        folder = Path(snapshot_download(ref.repo_id, revision=ref.revision, allow_patterns=list(files),
                                        local_files_only=local_files_only, token=token))
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise HubError(f"{ref} (commit {folder.name[:7]}) has no {' or '.join(missing)}: not an rnnlm model")
    return folder


def _load_snapshot(folder: Path, ref: HubRef, inference: bool = False):
    """checkpoint.load on a fetched snapshot, its errors prefixed with the repo they came from."""
    try:
        return checkpoint.load(folder, inference)
    except CheckpointError as e:
        raise CheckpointError(f"{ref}: {e}") from None


def load_model(source: str | os.PathLike, token: str | None = None, inference: bool = False):
    """A model from a local checkpoint folder, or from the Hub: 'owner/name' or 'owner/name@revision'.

    The class comes from config.json's model_type; inference=True picks one that runs the model without
    training it (the LSTM and GRU in numpy, no torch import). Online, a Hub model is checked for updates and
    fetched into huggingface_hub's cache; offline (HF_HUB_OFFLINE=1) it comes from that cache.
    """
    ref = hub_ref(source)
    if ref is None:
        return checkpoint.load(source, inference)
    return _load_snapshot(fetch(ref, token=token), ref, inference)


@dataclass
class Pulled:
    """What pull wrote: the folder, the commit it came from, and the files."""

    folder: Path
    commit: str
    files: list[str]


def pull(source: str, out_dir: str | os.PathLike, token: str | None = None) -> Pulled:
    """Download a Hub model folder ('owner/name[@revision]') into out_dir: config, weights, card and records."""
    ref = parse_hub_id(source)
    if ref is None:
        raise ValueError(f"{source!r} is not a Hub repo id: expected owner/name or owner/name@revision")
    snapshot = fetch(ref, FOLDER_FILES, token=token)
    _load_snapshot(snapshot, ref, inference=True)  # a folder that does not load is refused before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name in FOLDER_FILES:
        if (snapshot / name).is_file():
            shutil.copyfile(snapshot / name, out / name)  # the cache holds symlinks; copy their targets
            files.append(name)
        else:
            (out / name).unlink(missing_ok=True)  # out_dir holds exactly this revision's files, no stale ones
    return Pulled(out, snapshot.name, files)


# --- pushing --------------------------------------------------------------------------------


def push(folder: str | os.PathLike, repo_id: str, private: bool = False, revision: str | None = None,
         token: str | None = None, dry_run: bool = False) -> str | list[str]:
    """Upload a checkpoint folder to Hub repo repo_id in one commit; returns the commit URL.

    Creates the repo if needed (private only applies then) and the branch `revision` if it is new.
    Uploads those of FOLDER_FILES that folder has; a folder without README.md gets its card rendered.
    With dry_run, nothing is sent and the names of the files that would be uploaded are returned.
    """
    folder = Path(folder)
    if not _REPO_ID.fullmatch(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repo id: expected owner/name")
    model = checkpoint.load(folder, inference=True)  # weights that do not load are not published
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name))
                  for name in FOLDER_FILES if (folder / name).is_file()]
    if not (folder / CARD_NAME).is_file():
        operations.append(CommitOperationAdd(path_in_repo=CARD_NAME,
                                             path_or_fileobj=render_card(model, folder).encode("utf-8")))
    if dry_run:
        return [op.path_in_repo for op in operations]
    ref = HubRef(repo_id, revision)
    api = HfApi(token=token)  # built per call: HfApi reads the endpoint when it is created
    with hub_errors(ref):
        repo = api.create_repo(repo_id, private=private, exist_ok=True)
        if revision and revision != constants.DEFAULT_REVISION:
            api.create_branch(repo.repo_id, branch=revision, exist_ok=True)
        commit = api.create_commit(repo.repo_id, operations, revision=revision,
                                   commit_message=f"Upload rnnlm {model.config.model_type} checkpoint")
    return commit.commit_url


# --- the app's sources ----------------------------------------------------------------------


@dataclass
class AppSource:
    """Where one of the app's models comes from: a local folder to load, and how it got there, in words."""

    name: str  # "rnn", "lstm" or "gru"
    folder: Path  # config.json, model.safetensors, and what else the source has (card, logs, samples)
    description: str  # in words, e.g. "Hub repo me/lstm@main, commit 1a2b3c4, from the local cache"
    repo_id: str | None = None  # Hub sources only
    revision: str | None = None
    commit: str | None = None  # the full sha the revision resolved to
    note: str = ""  # why the requested source is not the one used; empty when it is


def resolve_app_sources(root: str | os.PathLike = "checkpoints", environ=os.environ) -> dict[str, AppSource]:
    """name -> AppSource for the app's three models: RNNLM_<NAME> (a folder or a Hub id) when set, else root/<name>.

    A Hub source comes from the local cache when it is there, else from the Hub. When the Hub does not
    answer within PROBE_TIMEOUT, or HF_HUB_OFFLINE=1, or it has no such model, root/<name> is used
    instead and `note` says why. Loading the folders is left to the caller.
    """
    sources: dict[str, AppSource] = {}
    unreachable = ""  # after one failed probe the other models do not wait for the Hub again
    for name in APP_MODELS:
        var, bundled = APP_ENV_VARS[name], Path(root) / name
        spec = environ.get(var, "").strip()
        ref = hub_ref(spec) if spec else None
        if not spec:
            sources[name] = AppSource(name, bundled, f"bundled folder {bundled}")
        elif ref is None:
            sources[name] = AppSource(name, Path(spec).expanduser(), f"local folder {spec}")
        else:
            sources[name], unreachable = _hub_app_source(name, ref, var, bundled, unreachable)
    return sources


def _hub_app_source(name: str, ref: HubRef, var: str, bundled: Path, unreachable: str) -> tuple[AppSource, str]:
    """The AppSource for a Hub id, or the bundled folder with a note; and why the Hub is unreachable, if it is."""
    try:
        folder = fetch(ref, FOLDER_FILES, local_files_only=True)
        return _hub_source(name, ref, folder, "from the local cache"), unreachable
    except HubError:
        pass  # not cached, or only partly: ask the Hub
    reason = unreachable
    if not reason:
        try:
            _probe(ref)
            folder = fetch(ref, FOLDER_FILES)
            return _hub_source(name, ref, folder, "downloaded"), unreachable
        except HubUnreachableError as e:
            reason = unreachable = str(e)
        except HubError as e:
            reason = str(e)
    note = f"{var}={ref} could not be used: {reason}. Showing the bundled checkpoint instead."
    return AppSource(name, bundled, f"bundled folder {bundled} (instead of {ref})", note=note), unreachable


def _probe(ref: HubRef) -> None:
    """Ask the Hub about ref once, first: the download itself would retry for ~24 s when the Hub is down.

    Raises HubUnreachableError when no answer comes within PROBE_TIMEOUT. The request runs in a thread
    joined with that deadline, as the client's timeout bounds each phase (connect, read) separately.
    """
    outcome: dict[str, object] = {}

    def ask() -> None:
        try:
            with hub_errors(ref):
                HfApi().model_info(ref.repo_id, revision=ref.revision, timeout=PROBE_TIMEOUT)
            outcome["answer"] = True
        except HubError as e:
            outcome["error"] = e

    thread = threading.Thread(target=ask, name=f"probe {ref}", daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT)
    if "error" in outcome:
        raise outcome["error"]
    if "answer" not in outcome:
        raise HubUnreachableError(f"cannot reach the Hub at {constants.ENDPOINT}: no answer within {PROBE_TIMEOUT:g} s")


def _hub_source(name: str, ref: HubRef, folder: Path, how: str) -> AppSource:
    """An AppSource for a fetched snapshot; the snapshot folder's name is the commit sha."""
    commit = folder.name
    return AppSource(name, folder, f"Hub repo {ref}, commit {commit[:7]}, {how}", ref.repo_id, ref.revision, commit)
