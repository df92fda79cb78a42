"""What the project is about to ask of the Hub through the real client, against the fake Hub: a Space and a
model repo uploaded with upload_folder, a Space's variables, whoami; and the errors the client must recognise."""
from __future__ import annotations

import time

import httpx2
import pytest
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.hubserver import fake_hub_env

SPACE, MODEL = "fake-user/playground", "fake-user/tiny"


def test_upload_a_space_and_a_model_and_set_the_space_variables(fake_hub, tmp_path):
    (tmp_path / "space" / "rnnlm").mkdir(parents=True)
    (tmp_path / "space" / "app.py").write_text("import gradio\n")
    (tmp_path / "space" / "README.md").write_text("---\nsdk: gradio\napp_file: app.py\n---\n")
    (tmp_path / "space" / "rnnlm" / "__init__.py").write_text("")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    api = HfApi(token=fake_hub.token)
    assert api.whoami()["name"] == "fake-user"

    url = api.create_repo(SPACE, repo_type="space", space_sdk="gradio", exist_ok=True)
    assert url.repo_id == SPACE and url.repo_type == "space"
    commit = api.upload_folder(repo_id=SPACE, repo_type="space", folder_path=tmp_path / "space")
    assert commit.oid == fake_hub.head(SPACE, repo_type="space")
    assert sorted(fake_hub.files(SPACE, repo_type="space")) == [".gitattributes", "README.md", "app.py",
                                                                "rnnlm/__init__.py"]
    assert open(hf_hub_download(SPACE, "app.py", repo_type="space")).read() == "import gradio\n"
    api.create_repo(MODEL, exist_ok=True)
    api.upload_folder(repo_id=MODEL, folder_path=tmp_path / "model", commit_message="weights")
    assert fake_hub.files(MODEL)["config.json"] == b"{}"

    api.add_space_variable(SPACE, "RNNLM_LSTM", f"{MODEL}@main")
    api.add_space_variable(SPACE, "RNNLM_LSTM", MODEL)  # updated, not added twice
    api.add_space_variable(SPACE, "RNNLM_GRU", "checkpoints/gru")
    assert fake_hub.variables(SPACE) == {"RNNLM_LSTM": MODEL, "RNNLM_GRU": "checkpoints/gru"}
    assert {k: v.value for k, v in api.get_space_variables(SPACE).items()} == fake_hub.variables(SPACE)
    with pytest.raises(RepositoryNotFoundError):
        api.get_space_variables("fake-user/no-such-space")


def test_errors_have_the_hubs_shape(fake_hub):
    old = fake_hub.add_repo(MODEL, {"a.txt": b"old"})
    fake_hub.add_repo(MODEL, {"a.txt": b"new"})
    assert open(hf_hub_download(MODEL, "a.txt", revision=old), "rb").read() == b"old"  # a pinned sha keeps its files
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("fake-user/absent")
    with pytest.raises(RevisionNotFoundError):
        HfApi().model_info(MODEL, revision="nope")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(MODEL, "b.txt")
    with pytest.raises(HfHubHTTPError) as bad_token:
        HfApi(token="hf_not_a_valid_token").whoami()
    assert bad_token.value.response.status_code == 401

    fake_hub.add_repo("fake-user/secret", {"a.txt": b"x"}, private=True)
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("fake-user/secret")
    assert HfApi(token=fake_hub.token).model_info("fake-user/secret").private


def test_a_slow_hub_holds_requests_until_stopped(monkeypatch, tmp_path):
    with fake_hub_env(monkeypatch, tmp_path, delays={"/resolve/": 30}) as hub:
        hub.add_repo(MODEL, {"a.txt": b"x"})
        start = time.perf_counter()
        assert HfApi().model_info(MODEL).sha == hub.head(MODEL)  # not held
        with pytest.raises(httpx2.TimeoutException):
            get_hf_file_metadata(hf_hub_url(MODEL, "a.txt"), timeout=0.3)  # held past the client's timeout
        assert time.perf_counter() - start < 5
