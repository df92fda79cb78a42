"""The Hub round trip, against a local fake Hub: push, pull, pinned revisions, clear errors, offline use,
the app's fallback to its bundled checkpoints, and tokens that are sent but never shown."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from rnnlm import cli, store
from rnnlm.checkpoint import CheckpointError
from rnnlm.hub import FOLDER_FILES, HubError, HubUnreachableError, load_model, pull, push
from rnnlm.models import build_model
from tests.support import TEXT, tiny_config, trained_folder
from tests.hubserver import set_hf_offline

REPO = "fake-user/tiny"
IDS = np.array([[3, 1, 4, 1, 5, 9, 2, 6]])


def logits(model) -> np.ndarray:
    return model.forward(IDS, model.init_state(1))[0]


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# --- the format -----------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["rnn", "lstm", "gru"])
def test_push_then_pull_gives_identical_files_and_logits(model_type, fake_hub, tmp_path, monkeypatch):
    folder = trained_folder(tmp_path / "run", model_type)
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)  # the usual place for a token
    url = push(folder, REPO)
    sha = fake_hub.head(REPO)
    assert url.endswith(f"/commit/{sha}")
    assert sorted(fake_hub.files(REPO)) == sorted([*FOLDER_FILES, ".gitattributes"])  # no resume/

    pulled = pull(REPO, tmp_path / "pulled")
    assert pulled.commit == sha and files_in(tmp_path / "pulled") == files_in(folder)
    assert np.array_equal(logits(load_model(REPO)), logits(store.load(folder)))


def test_a_pinned_revision_is_honoured(fake_hub, tmp_path):
    first = trained_folder(tmp_path / "a", seed=1)
    second = trained_folder(tmp_path / "b", seed=2)
    push(first, REPO, token=fake_hub.token)
    old = fake_hub.head(REPO)
    push(second, REPO, token=fake_hub.token)
    push(first, REPO, revision="exp", token=fake_hub.token)
    assert np.array_equal(logits(load_model(f"{REPO}@{old}")), logits(store.load(first)))
    assert np.array_equal(logits(load_model(REPO)), logits(store.load(second)))
    assert np.array_equal(logits(load_model(f"{REPO}@exp")), logits(store.load(first)))
    assert pull(f"{REPO}@{old}", tmp_path / "old").commit == old


def test_missing_repo_revision_or_file_is_a_clear_error(fake_hub, tmp_path):
    push(trained_folder(tmp_path / "run"), REPO, token=fake_hub.token)
    with pytest.raises(HubError, match="no Hub repo fake-user/absent"):
        load_model("fake-user/absent")
    with pytest.raises(HubError, match="has no revision 'nope'"):
        load_model(f"{REPO}@nope")
    fake_hub.add_repo("fake-user/half", {"config.json": (tmp_path / "run" / "config.json").read_bytes()})
    with pytest.raises(HubError, match="has no model.safetensors"):
        load_model("fake-user/half")
    with pytest.raises(CheckpointError, match="config.json: file not found"):
        load_model(tmp_path / "not-a-folder")


def test_tampered_weights_are_refused(fake_hub, tmp_path):
    folder = trained_folder(tmp_path / "run", "lstm")
    push(folder, REPO, token=fake_hub.token)
    other = store.save(build_model(tiny_config("lstm", hidden_size=6, num_layers=1, embed_size=4)), tmp_path / "o")
    files = fake_hub.files(REPO) | {"model.safetensors": (other / "model.safetensors").read_bytes()}
    fake_hub.add_repo(REPO, files)
    with pytest.raises(CheckpointError, match=f"{REPO}: .*model.safetensors does not match .*shape"):
        load_model(REPO)
    with pytest.raises(CheckpointError, match="does not match"):
        pull(REPO, tmp_path / "pulled")
    assert not (tmp_path / "pulled").exists()


# --- offline, and the app's sources ---------------------------------------------------------


def test_offline_mode_loads_from_the_cache_without_requests(fake_hub, tmp_path, monkeypatch):
    push(trained_folder(tmp_path / "run"), REPO, token=fake_hub.token)
    online = logits(load_model(REPO))
    fake_hub.clear_requests()
    set_hf_offline(monkeypatch)
    assert np.array_equal(logits(load_model(REPO)), online)
    with pytest.raises(HubUnreachableError, match="HF_HUB_OFFLINE=1"):
        load_model("fake-user/never-downloaded")
    assert fake_hub.requests == []


# --- the command line -----------------------------------------------------------------------


def test_cli_push_sends_the_token_and_never_shows_it(fake_hub, tmp_path, capsys, caplog):
    folder = trained_folder(tmp_path / "run", "gru")
    caplog.set_level(logging.DEBUG)
    assert cli.main(["push", str(folder), "--repo", REPO, "--revision", "dev", "--token", fake_hub.token]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith(f"/commit/{fake_hub.head(REPO, 'dev')}")
    assert fake_hub.token in fake_hub.tokens_sent()
    assert fake_hub.token not in out + err + caplog.text


def test_cli_push_dry_run_lists_files_and_sends_nothing(fake_hub, tmp_path, capsys):
    folder = trained_folder(tmp_path / "run")
    (folder / "README.md").unlink()
    assert cli.main(["push", str(folder), "--repo", REPO, "--dry-run"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert sorted(listed) == sorted(FOLDER_FILES) and fake_hub.requests == []


def test_cli_pull_then_sample_and_score_by_hub_id(fake_hub, tmp_path, capsys):
    push(trained_folder(tmp_path / "run", "lstm"), REPO, token=fake_hub.token)
    sha = fake_hub.head(REPO)
    assert cli.main(["pull", f"{REPO}@{sha}", "--out", str(tmp_path / "got")]) == 0
    assert sha in capsys.readouterr().out
    assert sorted(files_in(tmp_path / "got")) == sorted(FOLDER_FILES)
    assert cli.main(["sample", REPO, "--prompt", "BRUTUS:", "--length", "20", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("BRUTUS:")
    assert cli.main(["score", f"{REPO}@{sha}", "--text", TEXT[:40], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chars_scored"] == 40
    assert cli.main(["pull", "fake-user/absent", "--out", str(tmp_path / "x")]) == 1
    assert "no Hub repo fake-user/absent" in capsys.readouterr().err


def test_a_word_checkpoint_round_trips_through_the_hub(fake_hub, tmp_path, capsys):
    from tests.support import word_folder

    folder = word_folder(tmp_path / "run", "lstm", iters=4)
    (folder / "samples.json").write_text(json.dumps({"prompt": "The cat", "seed": 7, "length": 5,
                                                     "samples": {"0.8": " sat on the mat"}}))
    push(folder, REPO, token=fake_hub.token)
    pulled = pull(REPO, tmp_path / "pulled")
    assert files_in(tmp_path / "pulled") == {n: b for n, b in files_in(folder).items()}
    model, local = load_model(REPO), store.load(folder)
    assert model.vocab.kind == "word" and model.vocab.tokens == local.vocab.tokens
    ids = local.vocab.encode("The cat sat on the mat.")[None]
    assert np.array_equal(model.forward(ids, model.init_state(1))[0], local.forward(ids, local.init_state(1))[0])
    assert cli.main(["sample", f"{REPO}@{pulled.commit}", "--prompt", "The cat", "--top", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert cli.main(["score", REPO, "--text", "The cat sat on the mat.", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens_scored"] == 7
