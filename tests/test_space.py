"""python -m rnnlm deploy-space against the fake Hub: the Space's exact files, its requirements, its variables,
updates, dry runs and the errors a person deploying meets."""
from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from rnnlm import space
from rnnlm.cli import main
from rnnlm.hub import FOLDER_FILES
from rnnlm.modelsets import MODEL_SETS
from tests.support import MODEL_TYPES, REPO, trained_folder

SPACE = "fake-user/playground"
RECORDS = sorted(FOLDER_FILES)  # what every checkpoint folder brings: config, weights, card, log, time-lapse, samples


def quoted_front_matter(readme: str) -> str:
    """readme with front-matter values holding ': ' quoted, so a copy of the repository is valid Space metadata."""
    head, sep, body = readme.partition("\n---\n")
    head = re.sub(r"^(\w+): ([^\"'\n]*: [^\n]*)$", lambda m: f"{m[1]}: {json.dumps(m[2])}", head, flags=re.MULTILINE)
    return head + sep + body


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A copy of the repository as the deploy's source: app.py, the package, README, LICENSE, requirements; the
    real checkpoints/ linked in."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("app.py", "LICENSE", "requirements.txt"):
        shutil.copyfile(REPO / name, root / name)
    (root / "README.md").write_text(quoted_front_matter((REPO / "README.md").read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(REPO / "rnnlm", root / "rnnlm", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "rnnlm" / "__pycache__").mkdir(exist_ok=True)
    (root / "rnnlm" / "__pycache__" / "space.cpython-311.pyc").write_bytes(b"stale")  # never uploaded
    (root / "checkpoints").symlink_to(REPO / "checkpoints")
    monkeypatch.setattr(space, "REPO", root)
    return root


@pytest.fixture
def tiny_checkpoints(tmp_path):
    """checkpoints/<type>/ for every built-in type, tiny, each with a resume/ folder that must stay home."""
    root = tmp_path / "tiny"
    for model_type in MODEL_TYPES:
        trained_folder(root / model_type, model_type)
    return root


def deploy(capsys, *args):
    """Run `python -m rnnlm deploy-space ARGS` in this process (the fake Hub lives here); (exit code, stdout, stderr)."""
    code = main(["deploy-space", "--repo", SPACE, *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def package_files() -> list[str]:
    """The package's Python sources and the C source of its compiled step (the Space builds it on first use)."""
    sources = [*(REPO / "rnnlm").rglob("*.py"), *(REPO / "rnnlm").rglob("*.c")]
    return sorted(p.relative_to(REPO).as_posix() for p in sources if "__pycache__" not in p.parts)


def requirement_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_deploy_uploads_the_app_the_package_the_checkpoints_and_requirements_without_torch(fake_hub, source, capsys):
    code, out, err = deploy(capsys, "--token", fake_hub.token)
    assert code == 0, err
    head = fake_hub.head(SPACE, repo_type="space")
    assert out.strip().endswith(f"/spaces/{SPACE}/commit/{head}")
    files = fake_hub.files(SPACE, repo_type="space")
    built = [f for s in MODEL_SETS.values() for f in s.folders().values() if (f / "config.json").is_file()]
    assert {f.name for f in built} >= {"gru", "lstm", "ngram", "rnn"}  # the Shakespeare set at least
    checkpoints = [f"{f.relative_to(REPO).as_posix()}/{name}" for f in built for name in RECORDS]
    assert sorted(files) == sorted([".gitattributes", "LICENSE", "README.md", "app.py", "requirements.txt",
                                    *checkpoints, *package_files()])
    assert "rnnlm/space.py" in files and "checkpoints/lstm/model.safetensors" in files
    assert files["checkpoints/lstm/model.safetensors"] == (REPO / "checkpoints/lstm/model.safetensors").read_bytes()
    repo_lines = requirement_lines((REPO / "requirements.txt").read_text())
    assert requirement_lines(files["requirements.txt"].decode()) == [line for line in repo_lines
                                                                     if not line.startswith("torch")]
    assert any(line.startswith("torch==") for line in repo_lines)  # what was left out was there to leave out
    meta = yaml.safe_load(files["README.md"].decode().split("---\n")[1])
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"


def test_with_torch_the_space_gets_the_pinned_torch_from_the_cpu_index(fake_hub, source, tiny_checkpoints, capsys):
    before = (source / "requirements.txt").read_text()
    code, _, err = deploy(capsys, "--token", fake_hub.token, "--checkpoints", tiny_checkpoints, "--with-torch")
    assert code == 0, err
    lines = requirement_lines(fake_hub.files(SPACE, repo_type="space")["requirements.txt"].decode())
    pinned = [line for line in requirement_lines(before) if line.startswith("torch==")]
    rest = [line.replace("gradio==", "gradio[oauth]==") for line in requirement_lines(before) if not line.startswith("torch")]
    assert lines == ["--extra-index-url https://download.pytorch.org/whl/cpu", *pinned, *rest]
    assert any(line.startswith("gradio[oauth]==") for line in lines)  # the Train tab's sign-in
    assert (source / "requirements.txt").read_text() == before  # the index line goes only into the Space's file


def test_a_second_deploy_updates_the_same_space_in_a_new_commit(fake_hub, source, tiny_checkpoints, capsys):
    assert deploy(capsys, "--token", fake_hub.token, "--checkpoints", tiny_checkpoints)[0] == 0
    first = fake_hub.head(SPACE, repo_type="space")
    (source / "app.py").write_text("# changed\n")
    code, out, err = deploy(capsys, "--token", fake_hub.token, "--checkpoints", tiny_checkpoints)
    assert code == 0, err
    second = fake_hub.head(SPACE, repo_type="space")
    assert second != first and out.strip().endswith(second)
    assert fake_hub.files(SPACE, repo_type="space")["app.py"] == b"# changed\n"


def test_a_hub_model_becomes_the_space_variable_the_app_reads(fake_hub, source, tiny_checkpoints, capsys):
    code, _, err = deploy(capsys, "--token", fake_hub.token, "--checkpoints", tiny_checkpoints,
                          "--model", "lstm=owner/x@v1", "--model", "gru=owner/y")
    assert code == 0, err
    assert fake_hub.variables(SPACE) == {"RNNLM_LSTM": "owner/x@v1", "RNNLM_GRU": "owner/y"}
    assert "checkpoints/lstm/model.safetensors" in fake_hub.files(SPACE, repo_type="space")  # the app's fallback


def test_a_local_model_folder_is_uploaded_instead_of_the_bundled_one_without_resume(fake_hub, source, tmp_path, capsys):
    run = trained_folder(tmp_path / "runs" / "rnn", "rnn", seed=9)
    code, _, err = deploy(capsys, "--token", fake_hub.token, "--model", f"rnn={run}")
    assert code == 0, err
    files = fake_hub.files(SPACE, repo_type="space")
    assert files["checkpoints/rnn/model.safetensors"] == (run / "model.safetensors").read_bytes()
    assert not [path for path in files if "resume" in path] and fake_hub.variables(SPACE) == {}


def test_an_unknown_model_type_is_refused_before_anything_is_sent(fake_hub, source, capsys):
    code, _, err = deploy(capsys, "--token", fake_hub.token, "--model", "transformer=owner/x")
    assert code == 1 and "unknown model type 'transformer'" in err and "rnn, lstm, gru" in err
    assert fake_hub.requests == []


def test_dry_run_lists_files_with_sizes_and_variables_and_sends_nothing(fake_hub, source, capsys):
    code, out, err = deploy(capsys, "--dry-run", "--model", "lstm=owner/x@v1")
    assert code == 0, err
    size = (REPO / "checkpoints/lstm/model.safetensors").stat().st_size
    assert f"  checkpoints/lstm/model.safetensors  ({size:,} bytes)" in out.splitlines()
    assert "  requirements.txt  (" in out and "  RNNLM_LSTM=owner/x@v1" in out.splitlines()
    assert "__pycache__" not in out and "resume" not in out
    assert fake_hub.requests == []


def test_a_wrong_token_gets_a_clear_error_that_does_not_show_it(fake_hub, source, tiny_checkpoints, capsys):
    token = "hf_WrongWrongWrong1234567890"
    code, out, err = deploy(capsys, "--token", token, "--checkpoints", tiny_checkpoints)
    assert code == 1 and out == ""
    assert "refused the token" in err and SPACE in err
    assert token not in err and "WrongWrong" not in err


def test_an_unreachable_hub_and_a_bad_space_id_get_clear_errors(fake_hub, source, tiny_checkpoints, capsys):
    code, _, err = main(["deploy-space", "--repo", "not a repo", "--dry-run"]), *capsys.readouterr()
    assert code == 1 and "is not a Space id" in err
    fake_hub.stop()
    code, _, err = deploy(capsys, "--token", fake_hub.token, "--checkpoints", tiny_checkpoints)
    assert code == 1 and "cannot reach the Hub" in err and fake_hub.token not in err


def test_a_readme_whose_front_matter_the_hub_would_refuse_stops_the_deploy(fake_hub, source, capsys):
    (source / "README.md").write_text("---\nsdk: gradio\napp_file: app.py\nshort_description: a: b\n---\n# x\n")
    code, _, err = deploy(capsys, "--dry-run")
    assert code == 1 and "not valid YAML at line 4" in err and "quote" in err


def test_the_repository_readme_configures_a_gradio_space():
    meta = space.front_matter(REPO / "README.md")
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and len(meta.get("short_description", "")) <= 60


def test_every_built_model_set_goes_up_and_a_set_model_can_come_from_the_hub(source, tiny_checkpoints, tmp_path):
    from tests.support import word_folder

    for name in ("rnn", "gru"):
        word_folder(tiny_checkpoints / "sherlock-words" / name, name, iters=4)
    plan = space.plan_space(SPACE, ["sherlock-words/lstm=owner/sherlock-lstm@v1"], checkpoints=tiny_checkpoints)
    paths = {f.path for f in plan.files}
    assert {f"checkpoints/sherlock-words/{m}/{file}" for m in ("rnn", "gru") for file in ("config.json",
            "model.safetensors")} <= paths
    assert not [p for p in paths if "resume" in p or "sherlock-words-words.txt" in p]
    assert plan.variables == {"RNNLM_SHERLOCK_WORDS_LSTM": "owner/sherlock-lstm@v1"}
    left_out = [n for n in plan.notes if "will leave it out" in n]
    assert any("Alice · characters" in n for n in left_out) and not any("Sherlock Holmes · words" in n for n in left_out)
    with pytest.raises(ValueError, match="has no model 'transformer'"):
        space.plan_space(SPACE, ["alice-chars/transformer=owner/x"], checkpoints=tiny_checkpoints)
