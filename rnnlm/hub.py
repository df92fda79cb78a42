"""Models on the Hugging Face Hub: load one by repo id, pull a folder, push a folder, and the app's sources.

A source is a local checkpoint folder or a Hub repo id with an optional revision: `user/name` or
`user/name@revision` (a branch, a tag or a commit). A Hub model is fetched into huggingface_hub's cache
and loaded from there like any folder, by rnnlm.store.load. Everything goes through huggingface_hub's
public functions (snapshot_download, HfApi). Tokens come from the usual places (HF_TOKEN, `hf auth
login`) unless one is passed; nothing here prints or logs one, and every message is passed through
redact() in case a server echoed one back.
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

from . import store
from .card import render_card
from .checkpoint import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, CheckpointError

MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME)  # what loading a model needs
# What push uploads and pull fetches: the model, its card and the run's records (never resume/).
FOLDER_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, "log.jsonl", "timelapse.jsonl", "samples.json")
_REPO_ID = re.compile(r"[\w-][\w.-]*/[\w-][\w.-]*")  # owner/name; a leading dot means a relative path


_SECRET = re.compile(r"(?i)(bearer\s+)\S+|\bhf_[A-Za-z0-9]{6,}|(token[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9_\-.]{8,}")


def redact(text) -> str:
    """text with anything token-like (hf_..., Bearer ..., token=...) replaced by [redacted]."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or "") + "[redacted]", str(text))


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
        reason = e.response.reason_phrase if e.response is not None else ""
        code = e.response.headers.get("X-Error-Code", "") if e.response is not None else ""
        raise HubError(redact(f"the Hub answered HTTP {status} {reason} for {ref}" + (f" ({code})" if code else ""))) from None
    except httpx2.TransportError as e:
        raise HubUnreachableError(redact(f"cannot reach the Hub at {constants.ENDPOINT}: {e}")) from None
    except HFValidationError as e:  # a repo id or revision the client refuses before asking the Hub
        raise HubError(f"{ref}: {_first_line(e)}") from None


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message (the client's run on with advice), redacted and cut short."""
    line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return redact(line[:200])


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


def fetch_within(ref: HubRef, seconds: float, files=FOLDER_FILES) -> Path:
    """fetch(ref) with one deadline for the whole download; HubUnreachableError when it runs past it.

    The client's own timeouts bound each request, not the whole: a Hub that answers but stalls its
    downloads would hold a caller for minutes. The download goes on in a background thread after the
    deadline and fills the cache, so a later call finds the model there.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["folder"] = fetch(ref, files)
        except Exception as e:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = e

    thread = threading.Thread(target=run, name=f"fetch {ref}", daemon=True)
    thread.start()
    thread.join(seconds)
    if "error" in outcome:
        raise outcome["error"]
    if "folder" not in outcome:
        raise HubUnreachableError(f"the Hub at {constants.ENDPOINT} did not deliver {ref} within {seconds:g} s "
                                  "(the download goes on in the background; a later start uses it)")
    return outcome["folder"]


def _load_snapshot(folder: Path, ref: HubRef, inference: bool = False):
    """store.load on a fetched snapshot, its errors prefixed with the repo they came from."""
    try:
        return store.load(folder, inference)
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
        return store.load(source, inference)
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
    model = store.load(folder, inference=True)  # weights that do not load are not published
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


def page_url(repo_id: str, commit: str | None = None) -> str:
    """The model's page on the Hub this process talks to (HF_ENDPOINT), at a commit when one is given."""
    base = f"{constants.ENDPOINT.rstrip('/')}/{repo_id}"
    return f"{base}/tree/{commit}" if commit else base
