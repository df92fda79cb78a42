"""The fake Hub speaks enough of the Hub protocol for the real ``huggingface_hub`` client."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    create_repo,
    hf_hub_download,
    snapshot_download,
    upload_folder,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.hubserver import FakeHub, git_blob_sha, set_hf_offline

REPO = "fake-user/tiny-model"


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (relative posix paths) under ``root``."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _read_tree(root: Path) -> dict[str, bytes]:
    """Read every file under ``root`` keyed by relative posix path."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_upload_folder_then_snapshot_download_is_byte_identical(fake_hub: FakeHub, tmp_path: Path) -> None:
    """create_repo + upload_folder, then snapshot_download returns the same bytes."""
    files = {
        "README.md": b"---\nlicense: mit\n---\n# tiny\n",
        "config.json": b'{"hidden": 8}',
        "weights/model.bin": bytes(range(256)) * 40,
        "weights/nested/empty.txt": b"",
    }
    _write_tree(tmp_path / "src", files)

    repo_url = create_repo(REPO, token=fake_hub.token)
    assert repo_url.repo_id == REPO
    commit = upload_folder(repo_id=REPO, folder_path=tmp_path / "src", token=fake_hub.token)

    local = Path(snapshot_download(REPO))
    downloaded = _read_tree(local)
    assert downloaded.pop(".gitattributes")  # the Hub's initial commit adds it
    assert downloaded == files
    assert local.name == commit.oid == fake_hub.head(REPO)
    assert ("POST", "/api/validate-yaml") in fake_hub.requests
    commit_requests = [r for r in fake_hub.records if r.path == f"/api/models/{REPO}/commit/main"]
    assert [r.token for r in commit_requests] == [fake_hub.token]


def test_create_repo_exist_ok_and_whoami(fake_hub: FakeHub) -> None:
    """An existing repo answers 409 (accepted with exist_ok); whoami names the token's user."""
    api = HfApi(token=fake_hub.token)
    assert api.whoami()["name"] == fake_hub.username
    first = api.create_repo("tiny-model")  # no namespace: created under the token's user
    again = api.create_repo(REPO, exist_ok=True)
    assert first.repo_id == again.repo_id == REPO
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo(REPO)
    assert error.value.response.status_code == 409


def test_pinned_commit_keeps_serving_old_content(fake_hub: FakeHub) -> None:
    """A commit sha still serves the old bytes after main moved on."""
    api = HfApi(token=fake_hub.token)
    api.create_repo(REPO)
    old = api.upload_file(path_or_fileobj=b"version 1", path_in_repo="model.txt", repo_id=REPO).oid
    new = api.upload_file(path_or_fileobj=b"version 2", path_in_repo="model.txt", repo_id=REPO).oid
    assert old != new

    assert Path(hf_hub_download(REPO, "model.txt", revision=old)).read_bytes() == b"version 1"
    assert Path(hf_hub_download(REPO, "model.txt")).read_bytes() == b"version 2"
    assert Path(hf_hub_download(REPO, "model.txt", revision=new)).read_bytes() == b"version 2"
    assert (Path(snapshot_download(REPO, revision=old)) / "model.txt").read_bytes() == b"version 1"
    assert api.model_info(REPO, revision=old).sha == old
    assert [c.commit_id for c in api.list_repo_commits(REPO)][:2] == [new, old]


def test_seeded_repo_and_raw_protocol(fake_hub: FakeHub) -> None:
    """add_repo seeds snapshots; HEAD/GET resolve carry the Hub's headers and honour Range."""
    old = fake_hub.add_repo(REPO, {"a.txt": b"abcdef"})
    new = fake_hub.add_repo(REPO, {"a.txt": b"ABCDEF", "b.txt": b"b"})
    assert fake_hub.files(REPO, old) == {"a.txt": b"abcdef"}
    assert Path(hf_hub_download(REPO, "a.txt", revision=old)).read_bytes() == b"abcdef"
    assert sorted(HfApi().list_repo_files(REPO)) == ["a.txt", "b.txt"]

    head = httpx2.head(f"{fake_hub.url}/{REPO}/resolve/main/a.txt")
    assert head.status_code == 200
    assert head.headers["X-Repo-Commit"] == new
    assert head.headers["ETag"] == f'"{git_blob_sha(b"ABCDEF")}"'
    assert head.headers["Content-Length"] == "6"
    ranged = httpx2.get(f"{fake_hub.url}/{REPO}/resolve/{old}/a.txt", headers={"Range": "bytes=2-"})
    assert (ranged.status_code, ranged.content) == (206, b"cdef")
    missing = httpx2.head(f"{fake_hub.url}/{REPO}/resolve/main/nope.txt")
    assert (missing.status_code, missing.headers["X-Error-Code"]) == (404, "EntryNotFound")


def test_missing_repo_revision_and_file_raise_client_errors(fake_hub: FakeHub) -> None:
    """404s carry X-Error-Code, so the client raises its specific exceptions."""
    fake_hub.add_repo(REPO, {"a.txt": b"a"})
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("fake-user/missing", "a.txt")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "a.txt", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "a.txt", revision="0" * 40)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "missing.txt")
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("fake-user/missing")
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(REPO, revision="no-such-branch")


def test_offline_mode_loads_cache_with_zero_requests(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """With HF_HUB_OFFLINE=1 previously cached files load and the server sees nothing."""
    fake_hub.add_repo(REPO, {"a.txt": b"cached", "dir/b.txt": b"b"})
    online_file = hf_hub_download(REPO, "a.txt")
    online_snapshot = snapshot_download(REPO)

    fake_hub.clear_requests()
    set_hf_offline(monkeypatch)
    assert hf_hub_download(REPO, "a.txt") == online_file
    assert snapshot_download(REPO) == online_snapshot
    assert Path(online_file).read_bytes() == b"cached"
    assert fake_hub.requests == []


def test_stopped_server_refuses_connections_fast(fake_hub: FakeHub) -> None:
    """After stop() connections are refused at once; the client falls back to its cache."""
    fake_hub.add_repo(REPO, {"a.txt": b"a"})
    cached = hf_hub_download(REPO, "a.txt")
    port = fake_hub.port
    fake_hub.stop()

    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    with pytest.raises(httpx2.ConnectError):
        HfApi().model_info(REPO)
    assert hf_hub_download(REPO, "a.txt") == cached
    assert time.monotonic() - start < 3


def test_push_to_branch(fake_hub: FakeHub, tmp_path: Path) -> None:
    """A push with revision= needs the branch (create_branch) and leaves main untouched."""
    api = HfApi(token=fake_hub.token)
    api.create_repo(REPO)
    api.upload_file(path_or_fileobj=b"main", path_in_repo="model.txt", repo_id=REPO)
    with pytest.raises(RevisionNotFoundError):
        api.upload_file(path_or_fileobj=b"dev", path_in_repo="model.txt", repo_id=REPO, revision="dev")

    api.create_branch(REPO, branch="dev")
    api.create_branch(REPO, branch="dev", exist_ok=True)
    _write_tree(tmp_path / "src", {"model.txt": b"dev", "extra/notes.txt": b"notes"})
    commit = api.upload_folder(repo_id=REPO, folder_path=tmp_path / "src", revision="dev")

    assert commit.oid == fake_hub.head(REPO, "dev")
    assert Path(hf_hub_download(REPO, "model.txt", revision="dev")).read_bytes() == b"dev"
    assert Path(hf_hub_download(REPO, "extra/notes.txt", revision="dev")).read_bytes() == b"notes"
    assert Path(hf_hub_download(REPO, "model.txt")).read_bytes() == b"main"
    assert {ref.name for ref in api.list_repo_refs(REPO).branches} == {"main", "dev"}


def test_private_repo_needs_token_and_token_is_recorded(fake_hub: FakeHub) -> None:
    """Private repos look missing without a token; the token sent is recorded but never shown."""
    api = HfApi(token=fake_hub.token)
    api.create_repo(REPO, private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="a.txt", repo_id=REPO)
    assert api.model_info(REPO).private is True

    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(REPO, "a.txt")
    fake_hub.clear_requests()
    assert Path(hf_hub_download(REPO, "a.txt", token=fake_hub.token)).read_bytes() == b"secret"
    assert fake_hub.requests and set(fake_hub.tokens_sent()) == {fake_hub.token}
    assert fake_hub.token not in repr(fake_hub.records)
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(token="hf_not_a_valid_token").model_info(REPO)
    assert error.value.response.status_code == 401


def test_tree_listing_is_paginated(fake_hub: FakeHub) -> None:
    """Tree listings page through Link headers and the client follows them."""
    fake_hub.tree_page_size = 2
    files = {f"d{i}/f{j}.txt": f"{i}{j}".encode() for i in range(2) for j in range(3)}
    fake_hub.add_repo(REPO, files)
    assert sorted(HfApi().list_repo_files(REPO)) == sorted(files)
    assert sum("/tree/" in path for _, path in fake_hub.requests) >= 4
    assert _read_tree(Path(snapshot_download(REPO))) == files


def test_create_commit_deletes_and_rejects_stale_parent(fake_hub: FakeHub) -> None:
    """Deletions apply to the new commit only; a stale parent_commit is refused with 412."""
    api = HfApi(token=fake_hub.token)
    base = fake_hub.add_repo(REPO, {"a.txt": b"a", "dir/b.txt": b"b", "dir/c.txt": b"c"})
    operations = [
        CommitOperationDelete("a.txt"),
        CommitOperationDelete("dir/", is_folder=True),
        CommitOperationAdd("new.txt", b"new"),
    ]
    commit = api.create_commit(REPO, operations=operations, commit_message="prune", parent_commit=base)
    assert fake_hub.files(REPO) == {"new.txt": b"new"}
    assert len(fake_hub.files(REPO, base)) == 3
    with pytest.raises(HfHubHTTPError) as error:
        api.create_commit(
            REPO, operations=[CommitOperationAdd("x.txt", b"x")], commit_message="late", parent_commit=base
        )
    assert error.value.response.status_code == 412
    assert fake_hub.head(REPO) == commit.oid
