"""A local, in-memory stand-in for the Hugging Face Hub HTTP API, for tests.

``FakeHub`` is a threaded ``http.server`` bound to ``127.0.0.1`` on a free port. It speaks the subset of
the Hub protocol that ``huggingface_hub``'s real client uses to create repos, push commits (regular,
non-LFS uploads), create branches/tags and download files or whole snapshots. Repos live in memory;
every commit is an immutable snapshot with its own 40-hex sha, so branches move while pinned shas keep
serving their old files.

Endpoints (``{type}`` is ``models``, ``datasets`` or ``spaces``; ``{repo}`` is ``namespace/name`` or a bare
legacy ``name``; ``{prefix}`` is empty, ``datasets/`` or ``spaces/``)::

    HEAD/GET  /{prefix}{repo}/resolve/{rev}/{path}       file metadata / bytes (Range supported)
    GET       /api/{type}/{repo}                         repo info at the default branch
    GET       /api/{type}/{repo}/revision/{rev}          repo info (sha, siblings, private, ...)
    GET       /api/{type}/{repo}/tree/{rev}[/{path}]     tree listing (recursive, expand, Link paging)
    POST      /api/{type}/{repo}/paths-info/{rev}        info on given paths
    GET       /api/{type}/{repo}/refs                    branches, tags, pull-request refs
    GET       /api/{type}/{repo}/commits/{rev}           commit history (Link paging)
    POST      /api/{type}/{repo}/preupload/{rev}         upload modes (always "regular")
    POST      /api/{type}/{repo}/commit/{rev}            NDJSON commit (file, deletedFile, deletedFolder)
    POST/DEL  /api/{type}/{repo}/branch/{branch}         create / delete a branch
    POST      /api/{type}/{repo}/tag/{rev}               create a tag (DELETE /tag/{tag} removes it)
    PUT       /api/{type}/{repo}/settings                visibility (private) / gated
    POST      /api/repos/create                          create a repo (409 + url if it exists)
    DELETE    /api/repos/delete                          delete a repo
    POST      /api/validate-yaml                         README metadata check (always valid)
    GET       /api/whoami-v2                             the user owning the bearer token
    GET       /api/agent-harnesses                       empty agent registry

Errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) and
``X-Error-Message`` headers plus a JSON ``{"error": ...}`` body, so the client raises its own
``RepositoryNotFoundError``, ``RevisionNotFoundError`` and ``EntryNotFoundError``.

Authentication: ``hub.token`` (and any token added with ``hub.add_token``) is valid. Writes need a valid
token; private repos answer ``401 RepoNotFound`` unless a valid token is sent; a token that is not valid
gets ``401 Invalid credentials in Authorization header``. Every valid token may read and write every repo.

Known simplifications: no LFS/Xet storage (every file is a regular git blob, so ``lfsFile`` commit lines
are rejected), ``.gitignore`` rules are not applied, pull requests exist only as ``refs/pr/N`` refs.

Usage with the real client (pytest)::

    # tests/conftest.py registers this module as a plugin: pytest_plugins = ["tests.hubserver"]

    def test_roundtrip(fake_hub, monkeypatch):
        sha = fake_hub.add_repo("user/model", {"config.json": b"{}"})                   # seed directly
        path = huggingface_hub.hf_hub_download("user/model", "config.json", revision=sha)
        monkeypatch.setenv("HF_TOKEN", fake_hub.token)                                  # or pass token=fake_hub.token
        huggingface_hub.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id="user/model")
        assert fake_hub.files("user/model")["x"] == b"x"
        fake_hub.clear_requests()
        set_hf_offline(monkeypatch)                                                     # HF_HUB_OFFLINE=1, constant too
        huggingface_hub.hf_hub_download("user/model", "config.json", revision=sha)
        assert fake_hub.requests == []                                                  # [(method, path), ...]

* ``fake_hub`` (fixture) starts a server, points ``huggingface_hub`` at it and stops it afterwards.
* ``fake_hub_env(monkeypatch, tmp_path, **options)`` does the same as a context manager
  (``with fake_hub_env(monkeypatch, tmp_path, tree_page_size=2) as hub: ...``).
* ``point_huggingface_hub_at`` sets ``HF_ENDPOINT``/``HF_HOME``/``HF_HUB_CACHE``/``HF_HUB_DISABLE_TELEMETRY``,
  unsets ``HF_HUB_OFFLINE`` and ``HF_TOKEN``, and patches the values ``huggingface_hub`` computed at import
  time (``constants.ENDPOINT``, ``HUGGINGFACE_CO_URL_TEMPLATE``, cache and token paths, ``HF_HUB_OFFLINE``,
  the module-level ``HfApi`` behind ``huggingface_hub.create_repo`` & co.). An ``HfApi`` built before the
  fixture runs (e.g. at import time of the code under test) keeps its old endpoint: build it at call time.
* ``FakeHub`` also works on its own: ``with FakeHub() as hub: ...`` (``hub.url``, ``hub.stop()``).
* Inspection: ``hub.requests``, ``hub.records`` (with ``.token``/``.status``; the Authorization value is
  kept out of ``repr``), ``hub.tokens_sent()``, ``hub.unhandled`` (endpoints this fake does not implement),
  ``hub.files(repo_id, revision)``, ``hub.head(repo_id, revision)``, ``hub.repo(repo_id)``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import itertools
import json
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

DEFAULT_BRANCH = "main"
API_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
REPO_ACTIONS = {"revision", "tree", "paths-info", "refs", "commits", "preupload", "commit", "branch", "tag", "settings"}
DEFAULT_GITATTRIBUTES = (
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
)
_SHA_RE = re.compile(r"[0-9a-f]{40}")
_PR_REF_RE = re.compile(r"refs/pr/(\d+)")
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_BRANCH_HEAD = object()  # default parent of a new commit: the current head of its branch


def git_blob_sha(data: bytes) -> str:
    """Return the git blob id of ``data`` (what the Hub serves as a regular file's ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _iso(date: datetime) -> str:
    """Format a datetime the way the Hub does (``2024-01-31T12:00:00.000Z``)."""
    return date.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _is_true(value: str | None) -> bool:
    """Interpret a query-string flag (``1``/``true``/``True``) as a boolean."""
    return value is not None and value.lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Commit:
    """An immutable snapshot of a repo: the full file tree plus commit metadata."""

    sha: str
    parent: str | None
    files: Mapping[str, bytes]
    title: str
    message: str
    author: str
    date: datetime


@dataclass
class Repo:
    """A repo held by the fake Hub: its commits and its refs."""

    repo_type: str
    repo_id: str
    private: bool = False
    gated: Any = False
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    pull_requests: dict[int, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """Return the commit a branch, tag, ``refs/pr/N`` or full commit sha points at, if any."""
        for refs in (self.branches, self.tags):
            if revision in refs:
                return self.commits[refs[revision]]
        if revision.startswith("refs/heads/") and revision[11:] in self.branches:
            return self.commits[self.branches[revision[11:]]]
        if revision.startswith("refs/tags/") and revision[10:] in self.tags:
            return self.commits[self.tags[revision[10:]]]
        if (match := _PR_REF_RE.fullmatch(revision)) and int(match.group(1)) in self.pull_requests:
            return self.commits[self.pull_requests[int(match.group(1))]]
        return self.commits.get(revision.lower()) if _SHA_RE.fullmatch(revision.lower()) else None

    def history(self, start: Commit) -> Iterator[Commit]:
        """Yield ``start`` and its ancestors, newest first."""
        commit: Commit | None = start
        while commit is not None:
            yield commit
            commit = self.commits.get(commit.parent) if commit.parent else None


@dataclass
class RequestRecord:
    """One request served by the fake Hub; the Authorization value is kept out of ``repr``."""

    method: str
    path: str
    query: str
    authorization: str | None = field(default=None, repr=False)
    status: int | None = None

    @property
    def token(self) -> str | None:
        """Return the bearer token sent with the request, if any."""
        if self.authorization and self.authorization.lower().startswith("bearer "):
            return self.authorization[7:].strip()
        return None


class HubError(Exception):
    """An HTTP error answered the way the Hub does (status, ``X-Error-Code``, ``X-Error-Message``)."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None, **body: Any):
        """Store the status, message, optional error code, extra headers and extra JSON body fields."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.body = body


class FakeHub:
    """In-memory Hugging Face Hub served over HTTP on 127.0.0.1; use as a context manager or start()/stop()."""

    initial_files: Mapping[str, bytes] = MappingProxyType({".gitattributes": DEFAULT_GITATTRIBUTES})

    def __init__(
        self,
        *,
        token: str = "hf_fake_test_token_0000000000000000",
        username: str = "fake-user",
        tree_page_size: int = 1000,
        commits_page_size: int = 50,
    ) -> None:
        """Configure the valid token, its user name and the page sizes of paginated listings."""
        self.token = token
        self.username = username
        self.tree_page_size = tree_page_size
        self.commits_page_size = commits_page_size
        self.records: list[RequestRecord] = []
        self.unhandled: list[tuple[str, str]] = []
        self._tokens: dict[str, str] = {token: username}
        self._repos: dict[tuple[str, str], Repo] = {}
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port: int | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """Return the base URL (``http://127.0.0.1:PORT``) to use as ``HF_ENDPOINT``."""
        if self.port is None:
            raise RuntimeError("FakeHub is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeHub:
        """Bind a free port and serve in a background thread; return self."""
        if self._server is not None:
            return self
        handler = type("BoundFakeHubHandler", (_FakeHubHandler,), {"hub": self})
        self._server = ThreadingHTTPServer((self.host, 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeHub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket, so new connections are refused."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        """Return whether the server is currently accepting connections."""
        return self._server is not None

    def __enter__(self) -> FakeHub:
        """Start the server."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server."""
        self.stop()

    # ------------------------------------------------------------ request log

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Return ``(method, path)`` of every request served so far (path without query string)."""
        with self._lock:
            return [(record.method, record.path) for record in self.records]

    def clear_requests(self) -> None:
        """Forget the requests served so far."""
        with self._lock:
            self.records.clear()
            self.unhandled.clear()

    def tokens_sent(self) -> list[str | None]:
        """Return the bearer token (or None) of every request served so far, in order."""
        with self._lock:
            return [record.token for record in self.records]

    def add_token(self, token: str, username: str | None = None) -> None:
        """Accept another bearer token, owned by ``username`` (default: ``self.username``)."""
        with self._lock:
            self._tokens[token] = username or self.username

    # ----------------------------------------------------------- direct seeding

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        revision: str = DEFAULT_BRANCH,
        *,
        repo_type: str = "model",
        private: bool = False,
        message: str = "Seed files",
    ) -> str:
        """Commit ``files`` as the complete content of branch ``revision`` (creating repo/branch) and return the sha."""
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
            if repo is None:
                repo = self._new_repo(repo_type, repo_id, private=private, initial_files=None)
            if not repo.branches:
                if revision == DEFAULT_BRANCH:
                    return self._commit(repo, DEFAULT_BRANCH, dict(files), message, self.username, parent=None)
                self._commit(repo, DEFAULT_BRANCH, {}, "initial commit", self.username, parent=None)
            if revision not in repo.branches:
                repo.branches[revision] = repo.branches[DEFAULT_BRANCH]
            return self._commit(repo, revision, dict(files), message, self.username)

    def files(self, repo_id: str, revision: str = DEFAULT_BRANCH, *, repo_type: str = "model") -> dict[str, bytes]:
        """Return a copy of the files of ``repo_id`` at ``revision``."""
        return dict(self._resolve_or_raise(repo_type, repo_id, revision).files)

    def head(self, repo_id: str, revision: str = DEFAULT_BRANCH, *, repo_type: str = "model") -> str:
        """Return the commit sha ``revision`` resolves to."""
        return self._resolve_or_raise(repo_type, repo_id, revision).sha

    def repo(self, repo_id: str, *, repo_type: str = "model") -> Repo:
        """Return the stored repo (KeyError if it does not exist)."""
        with self._lock:
            return self._repos[(repo_type, repo_id)]

    # ---------------------------------------------------------------- internals

    def _resolve_or_raise(self, repo_type: str, repo_id: str, revision: str) -> Commit:
        """Resolve a revision of a stored repo, raising KeyError when repo or revision is unknown."""
        with self._lock:
            commit = self._repos[(repo_type, repo_id)].resolve(revision)
        if commit is None:
            raise KeyError(f"{repo_id}@{revision}")
        return commit

    def _new_repo(
        self, repo_type: str, repo_id: str, *, private: bool, initial_files: Mapping[str, bytes] | None
    ) -> Repo:
        """Register an empty repo, with an initial commit on main when ``initial_files`` is given."""
        repo = Repo(repo_type=repo_type, repo_id=repo_id, private=private)
        self._repos[(repo_type, repo_id)] = repo
        if initial_files is not None:
            self._commit(repo, DEFAULT_BRANCH, dict(initial_files), "initial commit", self.username, parent=None)
        return repo

    def _commit(
        self,
        repo: Repo,
        branch: str,
        files: dict[str, bytes],
        title: str,
        author: str,
        message: str = "",
        parent: str | None | object = _BRANCH_HEAD,
    ) -> str:
        """Record a new commit with the given full file tree on ``branch`` (or a ``refs/pr/N`` ref); return its sha."""
        if parent is _BRANCH_HEAD:
            parent = self._ref_target(repo, branch)
        tree = sorted((path, git_blob_sha(data)) for path, data in files.items())
        seed = json.dumps([parent, tree, title, message, next(self._counter)])
        sha = hashlib.sha1(f"commit {os.getpid()} {id(self)} {seed}".encode()).hexdigest()
        repo.commits[sha] = Commit(
            sha=sha,
            parent=parent,
            files=MappingProxyType(dict(files)),
            title=title,
            message=message,
            author=author,
            date=datetime.now(timezone.utc),
        )
        if (match := _PR_REF_RE.fullmatch(branch)) is not None:
            repo.pull_requests[int(match.group(1))] = sha
        else:
            repo.branches[branch] = sha
        return sha

    @staticmethod
    def _ref_target(repo: Repo, ref: str) -> str | None:
        """Return the sha a branch or ``refs/pr/N`` ref points at, or None."""
        if (match := _PR_REF_RE.fullmatch(ref)) is not None:
            return repo.pull_requests.get(int(match.group(1)))
        return repo.branches.get(ref)


# ---------------------------------------------------------------------- tree helpers


def _tree_entries(files: Mapping[str, bytes], base: str, recursive: bool) -> list[dict[str, Any]]:
    """List files and folders under ``base`` ('' for root), like the Hub's tree endpoint; raise when missing."""
    prefix = f"{base}/" if base else ""
    if base and base in files:
        raise HubError(404, f"{base} is a file, not a folder", "EntryNotFound")
    under = {path: data for path, data in files.items() if path.startswith(prefix)}
    if base and not under:
        raise HubError(404, f"Entry not found: {base}", "EntryNotFound")
    folders: set[str] = set()
    entries: list[dict[str, Any]] = []
    for path, data in under.items():
        rel_parts = path[len(prefix) :].split("/")
        for depth in range(1, len(rel_parts)):
            if recursive or depth == 1:
                folders.add(prefix + "/".join(rel_parts[:depth]))
        if recursive or len(rel_parts) == 1:
            entries.append({"type": "file", "oid": git_blob_sha(data), "size": len(data), "path": path})
    for folder in folders:
        entries.append({"type": "directory", "oid": _folder_oid(files, folder), "size": 0, "path": folder})
    return sorted(entries, key=lambda entry: entry["path"])


def _folder_oid(files: Mapping[str, bytes], folder: str) -> str:
    """Return a stable content id for a folder (changes when anything below it changes)."""
    listing = "\n".join(
        f"{path} {git_blob_sha(data)}" for path, data in sorted(files.items()) if path.startswith(folder + "/")
    )
    return hashlib.sha1(f"tree {folder}\n{listing}".encode()).hexdigest()


def _last_commit(repo: Repo, start: Commit, path: str, is_folder: bool) -> dict[str, str]:
    """Return ``{id, title, date}`` of the newest commit in ``start``'s history that changed ``path``."""

    def state(commit: Commit) -> Any:
        if is_folder:
            return _folder_oid(commit.files, path)
        return git_blob_sha(commit.files[path]) if path in commit.files else None

    newest = start
    current = state(start)
    for commit in repo.history(start):
        if state(commit) != current:
            break
        newest = commit
    return {"id": newest.sha, "title": newest.title, "date": _iso(newest.date)}


# ------------------------------------------------------------------------ handler


class _FakeHubHandler(BaseHTTPRequestHandler):
    """Request handler dispatching Hub routes to the bound ``FakeHub``."""

    hub: FakeHub
    protocol_version = "HTTP/1.0"
    server_version = "FakeHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet (and never echo request data)."""

    def do_GET(self) -> None:
        """Serve a GET request."""
        self._handle("GET")

    def do_HEAD(self) -> None:
        """Serve a HEAD request."""
        self._handle("HEAD")

    def do_POST(self) -> None:
        """Serve a POST request."""
        self._handle("POST")

    def do_PUT(self) -> None:
        """Serve a PUT request."""
        self._handle("PUT")

    def do_DELETE(self) -> None:
        """Serve a DELETE request."""
        self._handle("DELETE")

    # -------------------------------------------------------------- plumbing

    def _handle(self, method: str) -> None:
        """Record the request, route it and write the response or the Hub-style error."""
        split = urlsplit(self.path)
        self.method = method
        self.query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        record = RequestRecord(method, split.path, split.query, self.headers.get("Authorization"))
        with self.hub._lock:
            self.hub.records.append(record)
        try:
            self._body = self._read_body()
            status, headers, body = self._route(method, split.path)
        except HubError as error:
            status = error.status
            headers = {"X-Error-Message": error.message, **error.headers}
            if error.code:
                headers["X-Error-Code"] = error.code
            body = json.dumps({"error": error.message, **error.body}).encode()
            headers.setdefault("Content-Type", "application/json")
        except Exception as error:  # a bug in the fake: answer 500 so the test fails loudly
            status, headers = 500, {"Content-Type": "application/json"}
            body = json.dumps({"error": f"FakeHub internal error: {error!r}"}).encode()
        record.status = status
        self._send(status, headers, body)

    def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Write status, headers and (except for HEAD) the body."""
        self.send_response(status)
        headers = dict(headers)
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.method != "HEAD" and body:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        """Decode a JSON request body (an empty body reads as ``{}``)."""
        if not self._body:
            return {}
        try:
            return json.loads(self._body)
        except ValueError as error:
            raise HubError(400, f"Invalid JSON body: {error}") from error

    def _json(self, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> tuple:
        """Build a JSON response tuple."""
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()

    def _base_url(self) -> str:
        """Return the URL the client used to reach the server."""
        return f"http://{self.headers.get('Host') or f'{self.hub.host}:{self.hub.port}'}"

    def _repo_url(self, repo: Repo) -> str:
        """Return the web URL of a repo."""
        return f"{self._base_url()}/{URL_PREFIXES[repo.repo_type]}{repo.repo_id}"

    # ---------------------------------------------------------------- auth

    def _user(self) -> str | None:
        """Return the user owning the request's bearer token; 401 for a token that is not valid."""
        authorization = self.headers.get("Authorization")
        if not authorization:
            return None
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        with self.hub._lock:
            user = self.hub._tokens.get(token)
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def _require_user(self) -> str:
        """Return the authenticated user or answer 401."""
        user = self._user()
        if user is None:
            raise HubError(401, "You must be authenticated to access this endpoint.")
        return user

    def _get_repo(self, repo_type: str, repo_id: str, *, write: bool = False) -> Repo:
        """Return a repo visible to the caller, or raise the Hub's RepoNotFound error."""
        user = self._require_user() if write else self._user()
        repo = self.hub._repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        if repo.private and user is None:
            raise HubError(401, "Invalid username or password.", "RepoNotFound")
        return repo

    @staticmethod
    def _resolve(repo: Repo, revision: str) -> Commit:
        """Resolve a revision or raise the Hub's RevisionNotFound error."""
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    # --------------------------------------------------------------- routing

    def _route(self, method: str, raw_path: str) -> tuple:
        """Split the raw path on "/" (so an encoded %2F stays inside its segment), decode, dispatch."""
        segments = [unquote(segment) for segment in raw_path.strip("/").split("/")] if raw_path.strip("/") else []
        with self.hub._lock:
            if segments[:1] == ["api"]:
                return self._route_api(method, segments[1:])
            return self._route_resolve(method, segments)

    def _not_found(self) -> HubError:
        """Record an endpoint this fake does not implement and build its 404."""
        self.hub.unhandled.append((self.method, urlsplit(self.path).path))
        return HubError(404, f"FakeHub does not implement {self.method} {urlsplit(self.path).path}")

    def _route_api(self, method: str, rest: list[str]) -> tuple:
        """Route ``/api/...`` requests."""
        if rest == ["whoami-v2"] and method == "GET":
            return self._whoami()
        if rest == ["validate-yaml"] and method == "POST":
            return self._json({"errors": [], "warnings": []})
        if rest == ["agent-harnesses"] and method == "GET":
            return self._json({"standardEnvVars": [], "harnesses": {}})
        if rest == ["repos", "create"] and method == "POST":
            return self._create_repo()
        if rest == ["repos", "delete"] and method == "DELETE":
            return self._delete_repo()
        if len(rest) >= 2 and rest[0] in API_REPO_TYPES:
            repo_type = API_REPO_TYPES[rest[0]]
            tail = rest[1:]
            id_len = 2 if len(tail) >= 2 and tail[1] not in REPO_ACTIONS else 1
            repo_id, action, args = "/".join(tail[:id_len]), tail[id_len:id_len + 1], tail[id_len + 1 :]
            return self._route_repo(method, repo_type, repo_id, action[0] if action else None, args)
        raise self._not_found()

    def _route_repo(self, method: str, repo_type: str, repo_id: str, action: str | None, args: list[str]) -> tuple:
        """Route ``/api/{type}s/{repo_id}/{action}/...`` requests."""
        arg = "/".join(args)
        if action is None and method == "GET":
            return self._repo_info(repo_type, repo_id, DEFAULT_BRANCH)
        if action == "revision" and args and method == "GET":
            return self._repo_info(repo_type, repo_id, arg)
        if action == "tree" and args and method == "GET":
            return self._tree(repo_type, repo_id, args[0], "/".join(args[1:]))
        if action == "paths-info" and args and method == "POST":
            return self._paths_info(repo_type, repo_id, arg)
        if action == "refs" and not args and method == "GET":
            return self._refs(repo_type, repo_id)
        if action == "commits" and args and method == "GET":
            return self._commits(repo_type, repo_id, arg)
        if action == "preupload" and args and method == "POST":
            return self._preupload(repo_type, repo_id, arg)
        if action == "commit" and args and method == "POST":
            return self._commit(repo_type, repo_id, arg)
        if action == "branch" and args and method in ("POST", "DELETE"):
            return self._branch(method, repo_type, repo_id, arg)
        if action == "tag" and args and method in ("POST", "DELETE"):
            return self._tag(method, repo_type, repo_id, arg)
        if action == "settings" and not args and method == "PUT":
            return self._settings(repo_type, repo_id)
        raise self._not_found()

    # ------------------------------------------------------------- downloads

    def _route_resolve(self, method: str, segments: list[str]) -> tuple:
        """Serve ``HEAD``/``GET /{prefix}{repo_id}/resolve/{rev}/{path}``."""
        if method not in ("GET", "HEAD"):
            raise self._not_found()
        repo_type = "model"
        if segments[:1] in (["datasets"], ["spaces"]):
            repo_type = API_REPO_TYPES[segments[0]]
            segments = segments[1:]
        for id_len in (2, 1):
            if len(segments) > id_len + 2 and segments[id_len] == "resolve":
                break
        else:
            raise self._not_found()
        repo_id = "/".join(segments[:id_len])
        revision, filename = segments[id_len + 1], "/".join(segments[id_len + 2 :])
        repo = self._get_repo(repo_type, repo_id)
        commit = self._resolve(repo, revision)
        if filename not in commit.files:
            raise HubError(404, "Entry not found", "EntryNotFound", headers={"X-Repo-Commit": commit.sha})
        data = commit.files[filename]
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "ETag": f'"{git_blob_sha(data)}"',
            "X-Repo-Commit": commit.sha,
        }
        range_header = self.headers.get("Range")
        if range_header and method == "GET":
            return self._ranged(data, range_header, headers)
        return 200, headers, data

    @staticmethod
    def _ranged(data: bytes, range_header: str, headers: dict[str, str]) -> tuple:
        """Answer a single ``bytes=`` range with 206 (or 416 when unsatisfiable)."""
        match = _RANGE_RE.fullmatch(range_header.strip())
        if match is None or match.groups() == ("", ""):
            return 200, headers, data
        first, last = match.groups()
        if first == "":
            start, end = max(len(data) - int(last), 0), len(data) - 1
        else:
            start, end = int(first), min(int(last), len(data) - 1) if last else len(data) - 1
        if start >= len(data) or start > end:
            return 416, {**headers, "Content-Range": f"bytes */{len(data)}"}, b""
        return 206, {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}, data[start : end + 1]

    # --------------------------------------------------------------- read API

    def _repo_info(self, repo_type: str, repo_id: str, revision: str) -> tuple:
        """Answer repo info (``model_info``/``dataset_info``/``space_info``/``repo_info``)."""
        repo = self._get_repo(repo_type, repo_id)
        commit = self._resolve(repo, revision)
        with_blobs = _is_true(self.query.get("blobs"))
        siblings = []
        for path, data in sorted(commit.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if with_blobs:
                sibling.update(size=len(data), blobId=git_blob_sha(data))
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0] if "/" in repo_id else None,
            "sha": commit.sha,
            "lastModified": _iso(commit.date),
            "createdAt": _iso(repo.created_at),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "usedStorage": sum(len(data) for data in commit.files.values()),
        }
        if repo_type == "model":
            info["modelId"] = repo_id
        if repo_type == "space":
            info.update(sdk="static", runtime={"stage": "RUNNING", "hardware": {"current": None, "requested": None}})
        return self._json(info)

    def _paginate(self, items: list[Any], page_size: int) -> tuple[list[Any], dict[str, str]]:
        """Slice ``items`` at the ``cursor`` query parameter and build the ``Link: rel="next"`` header."""
        cursor = self.query.get("cursor") or ""
        try:
            offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        except ValueError as error:
            raise HubError(400, "Invalid cursor") from error
        page_size = max(1, min(page_size, int(self.query.get("limit") or page_size)))
        page = items[offset : offset + page_size]
        headers: dict[str, str] = {}
        if offset + page_size < len(items):
            query = {key: value for key, value in self.query.items() if key != "cursor"}
            query["cursor"] = base64.urlsafe_b64encode(str(offset + page_size).encode()).decode()
            path = urlsplit(self.path).path
            headers["Link"] = f'<{self._base_url()}{path}?{urlencode(query)}>; rel="next"'
        return page, headers

    def _tree(self, repo_type: str, repo_id: str, revision: str, path: str) -> tuple:
        """Answer a (paginated) tree listing."""
        repo = self._get_repo(repo_type, repo_id)
        commit = self._resolve(repo, revision)
        expand = _is_true(self.query.get("expand"))
        entries = _tree_entries(commit.files, path.strip("/"), _is_true(self.query.get("recursive")))
        page_size = min(self.hub.tree_page_size, 50) if expand else self.hub.tree_page_size
        page, headers = self._paginate(entries, page_size)
        if expand:
            for entry in page:
                entry["lastCommit"] = _last_commit(repo, commit, entry["path"], entry["type"] == "directory")
        return self._json(page, headers=headers)

    def _paths_info(self, repo_type: str, repo_id: str, revision: str) -> tuple:
        """Answer info on the requested paths (missing paths are skipped)."""
        repo = self._get_repo(repo_type, repo_id)
        commit = self._resolve(repo, revision)
        if "json" in self.headers.get("Content-Type", ""):
            body = self._json_body()
            paths, expand = body.get("paths", []), bool(body.get("expand"))
        else:
            form = parse_qs(self._body.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), _is_true((form.get("expand") or ["false"])[-1])
        result = []
        for path in (p.strip("/") for p in paths):
            if path in commit.files:
                data = commit.files[path]
                entry: dict[str, Any] = {"type": "file", "oid": git_blob_sha(data), "size": len(data), "path": path}
            elif any(name.startswith(path + "/") for name in commit.files):
                entry = {"type": "directory", "oid": _folder_oid(commit.files, path), "size": 0, "path": path}
            else:
                continue
            if expand:
                entry["lastCommit"] = _last_commit(repo, commit, path, entry["type"] == "directory")
            result.append(entry)
        return self._json(result)

    def _refs(self, repo_type: str, repo_id: str) -> tuple:
        """Answer branches, tags and pull-request refs."""
        repo = self._get_repo(repo_type, repo_id)

        def ref(name: str, full: str, sha: str) -> dict[str, str]:
            return {"name": name, "ref": full, "targetCommit": sha}

        return self._json(
            {
                "branches": [ref(name, f"refs/heads/{name}", sha) for name, sha in sorted(repo.branches.items())],
                "tags": [ref(name, f"refs/tags/{name}", sha) for name, sha in sorted(repo.tags.items())],
                "converts": [],
                "pullRequests": [
                    ref(f"refs/pr/{num}", f"refs/pr/{num}", sha) for num, sha in sorted(repo.pull_requests.items())
                ],
            }
        )

    def _commits(self, repo_type: str, repo_id: str, revision: str) -> tuple:
        """Answer the (paginated) commit history of a revision, newest first."""
        repo = self._get_repo(repo_type, repo_id)
        history = [
            {
                "id": commit.sha,
                "title": commit.title,
                "message": commit.message,
                "authors": [{"user": commit.author}],
                "date": _iso(commit.date),
            }
            for commit in repo.history(self._resolve(repo, revision))
        ]
        page, headers = self._paginate(history, self.hub.commits_page_size)
        return self._json(page, headers=headers)

    def _whoami(self) -> tuple:
        """Answer the identity of the token's owner (401 without a valid token)."""
        user = self._user()
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self._json(
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user,
                "email": None,
                "emailVerified": False,
                "canPay": False,
                "isPro": False,
                "periodEnd": None,
                "avatarUrl": "",
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "fake-hub-token", "role": "write"}},
            }
        )

    # -------------------------------------------------------------- write API

    def _create_repo(self) -> tuple:
        """Create a repo (with the Hub's initial ``.gitattributes`` commit); 409 with its url when it exists."""
        user = self._require_user()
        body = self._json_body()
        name = body.get("name")
        if not name:
            raise HubError(400, "Repo name is required")
        repo_type = body.get("type") or "model"
        if repo_type not in URL_PREFIXES:
            raise HubError(400, f"Invalid repo type: {repo_type}")
        repo_id = f"{body.get('organization') or user}/{name}"
        private = body.get("visibility") == "private" if "visibility" in body else bool(body.get("private"))
        existing = self.hub._repos.get((repo_type, repo_id))
        if existing is not None:
            raise HubError(409, f"You already created this {repo_type} repo", url=self._repo_url(existing))
        repo = self.hub._new_repo(repo_type, repo_id, private=private, initial_files=self.hub.initial_files)
        return self._json({"url": self._repo_url(repo), "name": repo_id, "id": repo_id})

    def _delete_repo(self) -> tuple:
        """Delete a repo (404 RepoNotFound when missing)."""
        user = self._require_user()
        body = self._json_body()
        repo_id = f"{body.get('organization') or user}/{body.get('name')}"
        if self.hub._repos.pop((body.get("type") or "model", repo_id), None) is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return self._json({})

    def _settings(self, repo_type: str, repo_id: str) -> tuple:
        """Update visibility (``private``/``visibility``) and ``gated``."""
        repo = self._get_repo(repo_type, repo_id, write=True)
        body = self._json_body()
        if "visibility" in body:
            repo.private = body["visibility"] == "private"
        if "private" in body:
            repo.private = bool(body["private"])
        if "gated" in body:
            repo.gated = body["gated"]
        return self._json({})

    def _writable_ref(self, repo: Repo, revision: str) -> str:
        """Return the branch or ``refs/pr/N`` a commit may target; raise RevisionNotFound/400 otherwise."""
        if revision.startswith("refs/heads/"):
            revision = revision[len("refs/heads/") :]
        if self.hub._ref_target(repo, revision) is not None:
            return revision
        if repo.resolve(revision) is not None:
            raise HubError(400, f"Invalid rev id: {revision} is not a branch")
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _preupload(self, repo_type: str, repo_id: str, revision: str) -> tuple:
        """Answer "regular" upload mode for every file, with the remote blob id when the path exists."""
        repo = self._get_repo(repo_type, repo_id, write=True)
        commit = self._resolve(repo, revision)
        files = []
        for item in self._json_body().get("files", []):
            path = item["path"]
            remote = commit.files.get(path)
            files.append(
                {
                    "path": path,
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_sha(remote) if remote is not None else None,
                }
            )
        return self._json({"files": files, "commitOid": commit.sha})

    def _commit(self, repo_type: str, repo_id: str, revision: str) -> tuple:
        """Apply an NDJSON commit (header, file, deletedFile, deletedFolder lines) as a new commit."""
        user = self._require_user()
        repo = self._get_repo(repo_type, repo_id, write=True)
        create_pr = _is_true(self.query.get("create_pr"))
        if create_pr:
            base = self._resolve(repo, revision)
            number = max(repo.pull_requests, default=0) + 1
            ref = f"refs/pr/{number}"
        else:
            ref = self._writable_ref(repo, revision)
            base = repo.commits[self.hub._ref_target(repo, ref)]
        try:
            lines = [json.loads(line) for line in self._body.decode().splitlines() if line.strip()]
        except ValueError as error:
            raise HubError(400, f"Invalid NDJSON commit payload: {error}") from error
        header = next((line["value"] for line in lines if line.get("key") == "header"), None)
        if header is None or not header.get("summary"):
            raise HubError(400, "Commit header with a summary is required")
        parent_commit = header.get("parentCommit")
        if parent_commit and not create_pr and not base.sha.startswith(parent_commit.lower()):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(base.files)
        for line in lines:
            key, value = line.get("key"), line.get("value") or {}
            if key == "header":
                continue
            path = str(value.get("path", "")).strip("/")
            if key == "file":
                content = value.get("content", "")
                files[path] = base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
            elif key == "deletedFile":
                if files.pop(path, None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            elif key == "deletedFolder":
                doomed = [name for name in files if name.startswith(path + "/") or not path]
                if not doomed:
                    raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for name in doomed:
                    del files[name]
            elif key == "lfsFile":
                raise HubError(400, "FakeHub stores no LFS objects: upload files in 'regular' mode")
            else:
                raise HubError(400, f"Unknown commit operation: {key}")
        parent = base.sha
        sha = self.hub._commit(
            repo, ref, files, header["summary"], user, header.get("description") or "", parent=parent
        )
        pr_url = f"{self._repo_url(repo)}/discussions/{ref.rsplit('/', 1)[1]}" if create_pr else None
        return self._json(
            {
                "success": True,
                "commitOid": sha,
                "commitUrl": f"{self._repo_url(repo)}/commit/{sha}",
                "hookOutput": "",
                "pullRequestUrl": pr_url,
                "pullRequestRevision": ref if create_pr else None,
            }
        )

    def _branch(self, method: str, repo_type: str, repo_id: str, branch: str) -> tuple:
        """Create a branch from ``startingPoint`` (default: main) or delete one."""
        repo = self._get_repo(repo_type, repo_id, write=True)
        if method == "DELETE":
            if branch not in repo.branches:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            if branch == DEFAULT_BRANCH:
                raise HubError(403, "Cannot delete the default branch")
            del repo.branches[branch]
            return self._json({})
        body = self._json_body()
        if branch in repo.branches and not body.get("overwrite"):
            raise HubError(409, "Reference already exists")
        if _SHA_RE.fullmatch(branch) or branch.startswith("refs/"):
            raise HubError(400, f"Invalid branch name: {branch}")
        if body.get("emptyBranch"):
            self.hub._commit(repo, branch, {}, "initial commit", self._require_user(), parent=None)
        else:
            repo.branches[branch] = self._resolve(repo, body.get("startingPoint") or DEFAULT_BRANCH).sha
        return self._json({})

    def _tag(self, method: str, repo_type: str, repo_id: str, target: str) -> tuple:
        """Create tag ``body.tag`` on revision ``target`` (POST) or delete tag ``target`` (DELETE)."""
        repo = self._get_repo(repo_type, repo_id, write=True)
        if method == "DELETE":
            if repo.tags.pop(target, None) is None:
                raise HubError(404, f"Invalid rev id: {target}", "RevisionNotFound")
            return self._json({})
        tag = self._json_body().get("tag")
        if not tag:
            raise HubError(400, "Tag name is required")
        if tag in repo.tags:
            raise HubError(409, "Tag already exists")
        repo.tags[tag] = self._resolve(repo, target).sha
        return self._json({})


# ---------------------------------------------------------------- pytest helpers


def point_huggingface_hub_at(hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point ``huggingface_hub`` at ``hub`` (env vars, import-time constants, module copies); caches in ``tmp_path``."""
    import huggingface_hub
    from huggingface_hub import constants, hf_api
    from huggingface_hub.utils import _http

    old_endpoint = constants.ENDPOINT
    hf_home = tmp_path / "hf_home"
    hub_cache = hf_home / "hub"
    hub_cache.mkdir(parents=True, exist_ok=True)

    env = {
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hub_cache),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "NO_PROXY": ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get("NO_PROXY")])),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("no_proxy", env["NO_PROXY"])
    for name in (
        "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE",
        "HUGGINGFACE_CO_STAGING", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN_PATH", "HF_XET_CACHE", "HF_ASSETS_CACHE",
    ):
        monkeypatch.delenv(name, raising=False)

    constant_values = {
        "ENDPOINT": hub.url,
        "HUGGINGFACE_CO_URL_TEMPLATE": hub.url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": frozenset(constants.HF_URL_HOSTS | {hub.host}),
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hub_cache),
        "HUGGINGFACE_HUB_CACHE": str(hub_cache),
        "HF_ASSETS_CACHE": str(hf_home / "assets"),
        "HF_XET_CACHE": str(hf_home / "xet"),
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(hf_home / ".check_for_update_done"),
        "CHECK_FOR_SKILL_UPDATE_DONE_PATH": str(hf_home / ".check_for_skill_update_done"),
        "AGENT_HARNESSES_PATH": str(hf_home / ".agent_harnesses.json"),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_UPDATE_CHECK": True,
    }
    for name, value in constant_values.items():
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)

    # Module-level copies taken at import time; hf_api.api backs huggingface_hub.create_repo, upload_folder, ...
    monkeypatch.setattr(hf_api.api, "endpoint", hub.url)
    if hasattr(_http, "_HUB_ORIGINS"):
        monkeypatch.setattr(_http, "_HUB_ORIGINS", frozenset(_http._HUB_ORIGINS | {_http._url_origin(hub.url)}))
    for module_name, attribute, value in (
        ("huggingface_hub.utils._cache_manager", "HF_HUB_CACHE", str(hub_cache)),
        ("huggingface_hub.utils._cache_assets", "HF_ASSETS_CACHE", str(hf_home / "assets")),
        ("huggingface_hub.utils._git_credential", "ENDPOINT", hub.url),
    ):
        module = importlib.import_module(module_name)
        if hasattr(module, attribute):
            monkeypatch.setattr(module, attribute, value)
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("huggingface_hub") and module is not None:
            for attribute, value in list(vars(module).items()):
                if isinstance(value, hf_api.HfApi) and value.endpoint == old_endpoint:
                    monkeypatch.setattr(value, "endpoint", hub.url)
    assert huggingface_hub.constants.ENDPOINT == hub.url

    # A fresh HTTP client: no pooled connections or proxy settings from before.
    _http.close_session()


def set_hf_offline(monkeypatch: pytest.MonkeyPatch, offline: bool = True) -> None:
    """Switch ``huggingface_hub`` offline mode on or off (env var and the import-time constant)."""
    from huggingface_hub import constants

    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)


@contextlib.contextmanager
def fake_hub_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **hub_options: Any) -> Iterator[FakeHub]:
    """Start a ``FakeHub`` (options go to its constructor), point ``huggingface_hub`` at it, yield it, then stop it."""
    from huggingface_hub.utils import _http

    hub = FakeHub(**hub_options).start()
    try:
        point_huggingface_hub_at(hub, monkeypatch, tmp_path)
        yield hub
    finally:
        hub.stop()
        _http.close_session()


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """Pytest fixture: a running ``FakeHub`` that ``huggingface_hub`` talks to, with caches under ``tmp_path``."""
    with fake_hub_env(monkeypatch, tmp_path) as hub:
        yield hub
