"""A local, in-memory stand-in for the Hugging Face Hub, for tests that use the real ``huggingface_hub`` client.

``FakeHub`` is a threaded ``http.server`` on 127.0.0.1 that answers only what this project's calls send
(``model_info``, ``snapshot_download``, ``hf_hub_download``, ``create_repo``, ``create_branch``, ``create_commit``,
``upload_folder``, ``whoami``, ``add_space_variable``, ``get_space_variables``). ``{type}`` is ``models`` or
``spaces``, ``{prefix}`` empty or ``spaces/``, ``{repo}`` ``namespace/name``; anything else is a 404::

    HEAD/GET  /{prefix}{repo}/resolve/{rev}/{path}     a file's metadata (ETag, X-Repo-Commit) / bytes
    GET       /api/{type}/{repo}[/revision/{rev}]      repo info: sha, siblings, private
    GET       /api/{type}/{repo}/tree/{rev}            the files of a revision (flat, one page)
    POST      /api/{type}/{repo}/preupload/{rev}       upload modes: always "regular" (no LFS here)
    POST      /api/{type}/{repo}/commit/{rev}          NDJSON commit: a header and "file" lines only
    POST      /api/{type}/{repo}/branch/{branch}       create a branch at startingPoint (default main)
    POST      /api/repos/create                        create a repo (409 with its url if it exists)
    POST      /api/validate-yaml                       README metadata check: always valid
    GET       /api/whoami-v2                           the user owning the bearer token
    GET/POST  /api/spaces/{repo}/variables             a Space's variables: list / add or update one

Errors have the Hub's shape (``X-Error-Code`` and ``X-Error-Message`` headers, a JSON ``{"error": ...}`` body),
so the client raises ``RepositoryNotFoundError``, ``RevisionNotFoundError``, ``EntryNotFoundError``. A token
other than ``hub.token`` gets 401; writes and Space variables need it; a private repo is ``401 RepoNotFound``
without it. Each commit is an immutable snapshot with a 40-hex sha: branches move, pinned shas keep their files.
``delays={"/resolve/": 30}`` holds each request whose path contains a key that many seconds (a slow or
stalled Hub); ``stop()`` refuses new connections and drops held requests unanswered. ``failures={"/api/": 500}``
answers each request whose path contains a key with that status, and an error body and ``X-Error-Message``
that echo the request's headers, ``Authorization`` included (a misbehaving proxy or server does that).

Tests ask for the ``fake_hub`` fixture (this module is a plugin, see conftest.py), seed it with ``add_repo`` and
read ``files``, ``head``, ``variables``, ``requests`` and ``tokens_sent()``; ``set_hf_offline`` turns the client
offline; ``fake_hub_env(monkeypatch, tmp_path, delays=...)`` is the fixture as a context manager, with options.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

DEFAULT_BRANCH = "main"
TYPES = {"models": "model", "spaces": "space"}  # /api/{plural}/... -> repo_type
PREFIXES = {"model": "", "space": "spaces/"}  # repo_type -> web/resolve URL prefix
GITATTRIBUTES = b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"

_REPO = r"/api/(?P<plural>models|spaces)/(?P<repo>[^/]+/[^/]+)"
ROUTES = [  # (methods, raw path pattern, handler method); matched before unquoting, so %2F stays in a group
    ("HEAD GET", r"/(?P<prefix>spaces/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ("GET", _REPO + r"(?:/revision/(?P<rev>[^/]+))?", "repo_info"),
    ("GET", _REPO + r"/tree/(?P<rev>[^/]+)/?", "tree"),
    ("POST", _REPO + r"/preupload/(?P<rev>[^/]+)", "preupload"),
    ("POST", _REPO + r"/commit/(?P<rev>[^/]+)", "commit"),
    ("POST", _REPO + r"/branch/(?P<branch>[^/]+)", "branch"),
    ("POST", r"/api/repos/create", "create_repo"),
    ("POST", r"/api/validate-yaml", "validate_yaml"),
    ("GET", r"/api/whoami-v2", "whoami"),
    ("GET POST", r"/api/(?P<plural>spaces)/(?P<repo>[^/]+/[^/]+)/variables", "variables"),
]


def git_blob_sha(data: bytes) -> str:
    """The git blob id of ``data``: what the Hub serves as a regular file's ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class Commit:
    sha: str
    files: Mapping[str, bytes]


@dataclass
class Repo:
    private: bool = False
    sdk: str | None = None
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)  # a Space's: key -> {value, description}

    def resolve(self, revision: str) -> Commit | None:
        """The commit a branch or a full commit sha names, if any."""
        revision = revision.removeprefix("refs/heads/")
        return self.commits.get(self.branches.get(revision, revision))


class HubError(Exception):
    """An error answered the way the Hub does: status, ``X-Error-Code``, message, extra JSON fields."""

    def __init__(self, status: int, message: str, code: str | None = None, **body: Any):
        super().__init__(message)
        self.status, self.message, self.code, self.body = status, message, code, body


class FakeHub:
    """The in-memory Hub and its server (``start()``/``stop()``)."""

    def __init__(self, *, token: str = "hf_fake_test_token_0000000000000000", username: str = "fake-user",
                 delays: Mapping[str, float] | None = None, failures: Mapping[str, int] | None = None) -> None:
        self.token, self.username = token, username
        self.delays = dict(delays or {})  # path substring -> seconds to hold such a request before answering
        self.failures = dict(failures or {})  # path substring -> status answered, echoing the request's headers
        self.records: list[tuple[str, str, str | None]] = []  # (method, path, bearer token or None)
        self._repos: dict[tuple[str, str], Repo] = {}
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self._stopped = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeHub:
        self._stopped.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"hub": self}))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: new connections are refused, held requests dropped."""
        self._stopped.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # --- what tests read and seed

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request so far, without the query string."""
        with self._lock:
            return [(method, path) for method, path, _ in self.records]

    def clear_requests(self) -> None:
        with self._lock:
            self.records.clear()

    def tokens_sent(self) -> list[str | None]:
        """The bearer token (or None) of every request so far."""
        with self._lock:
            return [token for _, _, token in self.records]

    def add_repo(self, repo_id: str, files: Mapping[str, bytes], revision: str = DEFAULT_BRANCH, *,
                 repo_type: str = "model", private: bool = False) -> str:
        """Commit ``files`` as the whole content of branch ``revision`` (made as needed); return the new sha."""
        with self._lock:
            repo = self._repos.setdefault((repo_type, repo_id), Repo(private=private))
            if revision != DEFAULT_BRANCH and DEFAULT_BRANCH not in repo.branches:
                self._commit(repo, DEFAULT_BRANCH, {})
            return self._commit(repo, revision, dict(files))

    def files(self, repo_id: str, revision: str = DEFAULT_BRANCH, *, repo_type: str = "model") -> dict[str, bytes]:
        """The files of ``repo_id`` at ``revision`` (KeyError if either is unknown)."""
        return dict(self._resolve(repo_type, repo_id, revision).files)

    def head(self, repo_id: str, revision: str = DEFAULT_BRANCH, *, repo_type: str = "model") -> str:
        """The commit sha ``revision`` points at."""
        return self._resolve(repo_type, repo_id, revision).sha

    def variables(self, repo_id: str) -> dict[str, str]:
        """The variables set on Space ``repo_id``, key -> value."""
        with self._lock:
            return {key: v["value"] for key, v in self._repos[("space", repo_id)].variables.items()}

    def _resolve(self, repo_type: str, repo_id: str, revision: str) -> Commit:
        with self._lock:
            commit = self._repos[(repo_type, repo_id)].resolve(revision)
        if commit is None:
            raise KeyError(f"{repo_id}@{revision}")
        return commit

    def _commit(self, repo: Repo, branch: str, files: dict[str, bytes]) -> str:
        """Record a snapshot of ``files`` as the new head of ``branch``; return its sha."""
        sha = hashlib.sha1(f"{id(self)} {next(self._counter)} {sorted(files)}".encode()).hexdigest()
        repo.commits[sha] = Commit(sha, MappingProxyType(files))
        repo.branches[branch] = sha
        return sha


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.0"  # one request per connection: nothing to drain or keep alive

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet, and never echoes a request."""

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_GET

    def _handle(self) -> None:
        method = self.command
        path, query = urlsplit(self.path)[2:4]
        auth = self.headers.get("Authorization") or ""
        with self.hub._lock:
            self.hub.records.append((method, path, auth[7:].strip() if auth.lower().startswith("bearer ") else None))
        self.query = dict(parse_qsl(query))
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        delay = max((s for part, s in self.hub.delays.items() if part in path), default=0)
        if delay and self.hub._stopped.wait(delay):
            return  # stopped while held: hang up without an answer
        try:
            failure = next((status for part, status in self.hub.failures.items() if part in path), None)
            if failure is not None:
                echoed = "; ".join(f"{key}: {value}" for key, value in self.headers.items())
                raise HubError(failure, f"Internal error while handling a request with headers {echoed}")
            for methods, pattern, name in ROUTES:
                if method in methods.split() and (match := re.fullmatch(pattern, path)):
                    args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    with self.hub._lock:
                        status, headers, body = getattr(self, name)(**args)
                    break
            else:
                raise HubError(404, f"FakeHub does not implement {method} {path}")
        except HubError as error:
            status, body = error.status, json.dumps({"error": error.message, **error.body}).encode()
            headers = {"Content-Type": "application/json", "X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
        except Exception as error:  # a bug in the fake, or a request it cannot read: fail loudly
            status, headers, body = 500, {}, f"FakeHub internal error: {error!r}".encode()
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    # --- helpers

    @staticmethod
    def _json(data: Any, **headers: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json", **headers}, json.dumps(data).encode()

    def _url(self, repo_type: str, repo_id: str) -> str:
        return f"http://{self.headers.get('Host')}/{PREFIXES[repo_type]}{repo_id}"

    def _user(self, required: bool = False) -> str | None:
        """The token's user; None without a token (401 if ``required``); 401 for any other token."""
        auth = self.headers.get("Authorization")
        if auth is None and not required:
            return None
        if auth != f"Bearer {self.hub.token}":
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.hub.username

    def _repo(self, plural: str, repo: str, write: bool = False) -> Repo:
        user = self._user(required=write)
        found = self.hub._repos.get((TYPES[plural], repo))
        if found is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        if found.private and user is None:
            raise HubError(401, "Invalid username or password.", "RepoNotFound")
        return found

    @staticmethod
    def _commit_at(repo: Repo, rev: str) -> Commit:
        commit = repo.resolve(rev)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return commit

    # --- endpoints

    def resolve(self, repo: str, rev: str, path: str, prefix: str = "") -> tuple:
        commit = self._commit_at(self._repo(prefix.rstrip("/") or "models", repo), rev)
        if path not in commit.files:
            raise HubError(404, "Entry not found", "EntryNotFound")
        data = commit.files[path]
        return 200, {"Content-Type": "application/octet-stream", "ETag": f'"{git_blob_sha(data)}"',
                     "X-Repo-Commit": commit.sha}, data

    def repo_info(self, plural: str, repo: str, rev: str = DEFAULT_BRANCH) -> tuple:
        found = self._repo(plural, repo)
        commit = self._commit_at(found, rev)
        info = {"_id": hashlib.sha1(repo.encode()).hexdigest()[:24], "id": repo, "author": repo.split("/")[0],
                "sha": commit.sha, "private": found.private, "gated": False, "disabled": False,
                "siblings": [{"rfilename": path} for path in sorted(commit.files)]}
        if found.sdk:
            info["sdk"] = found.sdk
        return self._json(info)

    def tree(self, plural: str, repo: str, rev: str) -> tuple:
        """The files only, whatever ``recursive`` says: ``snapshot_download`` keeps nothing else."""
        commit = self._commit_at(self._repo(plural, repo), rev)
        return self._json([{"type": "file", "path": path, "oid": git_blob_sha(data), "size": len(data)}
                           for path, data in sorted(commit.files.items())])

    def preupload(self, plural: str, repo: str, rev: str) -> tuple:
        commit = self._commit_at(self._repo(plural, repo, write=True), rev)
        files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                  "oid": git_blob_sha(commit.files[f["path"]]) if f["path"] in commit.files else None}
                 for f in json.loads(self.body)["files"]]
        return self._json({"files": files, "commitOid": commit.sha})

    def commit(self, plural: str, repo: str, rev: str) -> tuple:
        found = self._repo(plural, repo, write=True)
        branch = rev.removeprefix("refs/heads/")
        if branch not in found.branches:
            raise HubError(404, f"Invalid rev id: {rev} is not a branch", "RevisionNotFound")
        if self.query.get("create_pr") in ("1", "true", "True"):
            raise HubError(400, "FakeHub has no pull requests")
        files = dict(found.commits[found.branches[branch]].files)
        for line in (json.loads(line) for line in self.body.decode().splitlines() if line.strip()):
            value = line["value"]
            if line["key"] == "file":
                content = value["content"]
                base64_encoded = value.get("encoding") == "base64"
                files[value["path"]] = base64.b64decode(content) if base64_encoded else content.encode()
            elif line["key"] != "header":
                raise HubError(400, f"FakeHub does not take {line['key']!r} commit lines (regular uploads only)")
        sha = self.hub._commit(found, branch, files)
        return self._json({"success": True, "commitOid": sha, "pullRequestUrl": None,
                           "commitUrl": f"{self._url(TYPES[plural], repo)}/commit/{sha}"})

    def branch(self, plural: str, repo: str, branch: str) -> tuple:
        found = self._repo(plural, repo, write=True)
        if branch in found.branches:
            raise HubError(409, "Reference already exists")
        start = json.loads(self.body or b"{}").get("startingPoint") or DEFAULT_BRANCH
        found.branches[branch] = self._commit_at(found, start).sha
        return self._json({})

    def create_repo(self) -> tuple:
        """Make the repo with the Hub's first commit (.gitattributes); a Space keeps its sdk and variables."""
        body = json.loads(self.body)
        repo_type = body.get("type") or "model"
        user = self._user(required=True)
        repo_id = f"{body.get('organization') or user}/{body['name']}"
        url = self._url(repo_type, repo_id)
        if (repo_type, repo_id) in self.hub._repos:
            raise HubError(409, f"You already created this {repo_type} repo", url=url)
        repo = Repo(private=body.get("visibility") == "private" or bool(body.get("private")), sdk=body.get("sdk"))
        repo.variables = {v["key"]: {"value": v["value"], "description": v.get("description")}
                          for v in body.get("variables") or []}
        self.hub._repos[(repo_type, repo_id)] = repo
        self.hub._commit(repo, DEFAULT_BRANCH, {".gitattributes": GITATTRIBUTES})
        return self._json({"url": url, "name": repo_id, "id": repo_id})

    def validate_yaml(self) -> tuple:
        return self._json({"errors": [], "warnings": []})

    def whoami(self) -> tuple:
        user = self._user(required=True)
        return self._json({"type": "user", "name": user, "fullname": user, "orgs": [],
                           "auth": {"type": "access_token", "accessToken": {"displayName": "fake", "role": "write"}}})

    def variables(self, plural: str, repo: str) -> tuple:
        found = self._repo(plural, repo, write=True)
        if self.command == "POST":
            body = json.loads(self.body)
            found.variables[body["key"]] = {"value": body["value"], "description": body.get("description")}
        return self._json(found.variables)


# --- pytest helpers


def point_huggingface_hub_at(hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point ``huggingface_hub`` at ``hub`` with caches under ``tmp_path``: the env vars, no token or offline
    mode from outside, and the values it computed at import time (constants, module-level ``HfApi``s).
    An ``HfApi`` built before this keeps its old endpoint: build it at call time."""
    from huggingface_hub import constants, hf_api
    from huggingface_hub.utils import _http

    hf_home = tmp_path / "hf_home"
    cache = hf_home / "hub"
    cache.mkdir(parents=True, exist_ok=True)
    no_proxy = ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get("NO_PROXY")]))
    for name, value in {"HF_ENDPOINT": hub.url, "HF_HOME": str(hf_home), "HF_HUB_CACHE": str(cache),
                        "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
                        "NO_PROXY": no_proxy, "no_proxy": no_proxy}.items():
        monkeypatch.setenv(name, value)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE",
                 "HUGGINGFACE_CO_STAGING", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN_PATH", "HF_XET_CACHE", "HF_ASSETS_CACHE"):
        monkeypatch.delenv(name, raising=False)

    for name, value in {
        "ENDPOINT": hub.url, "HUGGINGFACE_CO_URL_TEMPLATE": hub.url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": frozenset(constants.HF_URL_HOSTS | {"127.0.0.1"}), "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(cache), "HUGGINGFACE_HUB_CACHE": str(cache), "HF_ASSETS_CACHE": str(hf_home / "assets"),
        "HF_XET_CACHE": str(hf_home / "xet"), "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(hf_home / ".check_for_update_done"),
        "CHECK_FOR_SKILL_UPDATE_DONE_PATH": str(hf_home / ".check_for_skill_update_done"),
        "AGENT_HARNESSES_PATH": str(hf_home / ".agent_harnesses.json"),
        "HF_HUB_OFFLINE": False, "HF_HUB_DISABLE_TELEMETRY": True, "HF_HUB_DISABLE_UPDATE_CHECK": True,
    }.items():
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)
    if hasattr(_http, "_HUB_ORIGINS"):  # the origins the client sends the token to
        monkeypatch.setattr(_http, "_HUB_ORIGINS", frozenset(_http._HUB_ORIGINS | {_http._url_origin(hub.url)}))
    monkeypatch.setattr(hf_api.api, "endpoint", hub.url)  # the HfApi behind huggingface_hub.create_repo & co.
    _http.close_session()  # no pooled connections from before


def set_hf_offline(monkeypatch: pytest.MonkeyPatch, offline: bool = True) -> None:
    """Switch ``huggingface_hub``'s offline mode on or off: the env var and the import-time constant."""
    from huggingface_hub import constants

    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)


@contextlib.contextmanager
def fake_hub_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **options: Any) -> Iterator[FakeHub]:
    """Start a ``FakeHub(**options)``, point ``huggingface_hub`` at it, yield it, stop it."""
    from huggingface_hub.utils import _http

    hub = FakeHub(**options).start()
    try:
        point_huggingface_hub_at(hub, monkeypatch, tmp_path)
        yield hub
    finally:
        hub.stop()
        _http.close_session()


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A running ``FakeHub`` that ``huggingface_hub`` talks to, with its caches under ``tmp_path``."""
    with fake_hub_env(monkeypatch, tmp_path) as hub:
        yield hub
