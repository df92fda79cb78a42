"""Races: equal CPU time, the queue, Stop, the session's models in the other tabs, the zip, the Hub push, the
`race` command, and a clear message for every bad input. Budgets are seconds, models tiny."""
from __future__ import annotations

import json
import time
import zipfile

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from rnnlm import cli
from rnnlm.playground import racejobs
from rnnlm.playground.race import plan_race, run_race
from rnnlm.playground.racejobs import InputError, Limits, RaceServer
from tests.hubserver import _Handler
from tests.support import TEXT, make_tiny_checkpoints, serve_app, served

FAST = Limits(min_seconds=1, max_seconds=60, min_chars=500)


def test_a_race_gives_every_model_the_same_cpu_time_and_leaves_checkpoints(tmp_path):
    plan = plan_race(TEXT, 4, size="tiny")
    result = run_race(TEXT, plan, tmp_path)
    cpu = [r["cpu_seconds"] for r in result["summary"]]
    assert max(cpu) - min(cpu) <= 0.45  # turns of 0.2 CPU s: at most about two turns apart
    for r in result["summary"]:
        assert (tmp_path / r["model"] / "model.safetensors").is_file() and r["steps"] > 0
        card = (tmp_path / r["model"] / "README.md").read_text()
        assert "trained in an rnnlm race" in card and "preset tiny" in card
        assert len(result["points"][r["model"]]) >= 2 and result["points"][r["model"]][-1]["sample"]


def test_the_size_preset_follows_budget_and_corpus():
    assert plan_race(TEXT, 60).size == "tiny"
    assert plan_race("ab " * 100_000, 300).size == "small"
    assert plan_race("ab " * 200_000, 600).size == "medium"
    assert "tiny below 40 s" in plan_race(TEXT, 60).why


@pytest.mark.parametrize("text, seconds, message", [
    ("", 60, "empty"),
    ("   \n", 60, "empty"),
    ("short text " * 10, 60, "give at least 500"),
    (TEXT, 0, "from 1 s to 1 min; got 0 s"),
    (TEXT, 36_000, "got 10 hours"),
    (TEXT, "soon", "must be a number"),
    ("".join(chr(0x4E00 + i) for i in range(20_000)) * 3, 30, "would need about"),  # 20k distinct characters
])
def test_bad_text_or_budget_is_refused_before_training(tmp_path, text, seconds, message):
    server = RaceServer(FAST, tmp_path)
    with pytest.raises(InputError, match=message):
        server.submit("s", text, seconds)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_uploads_that_are_binary_not_utf8_or_too_large_are_refused(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 100)
    (tmp_path / "b.txt").write_bytes("caf\xe9 au lait ".encode("latin-1") * 100)
    with open(tmp_path / "c.txt", "wb") as f:
        f.truncate(50_000_000)  # 50 MB, sparse
    with pytest.raises(InputError, match="looks binary"):
        racejobs.read_upload(tmp_path / "a.bin")
    with pytest.raises(InputError, match="not UTF-8"):
        racejobs.read_upload(tmp_path / "b.txt")
    with pytest.raises(InputError, match="50.0 MB; the limit is 5 MB"):
        racejobs.read_upload(tmp_path / "c.txt")


def test_sessions_are_freed_after_their_time_to_live(tmp_path):
    sessions = racejobs.Sessions(ttl=0.2)
    job = racejobs.Job("s", tmp_path / "job", plan_race(TEXT, 3), "text")
    job.folder.mkdir()
    sessions.put("s", job, [])
    assert sessions.get("s") is not None
    time.sleep(0.3)
    assert sessions.get("s") is None and not job.folder.exists()


def test_race_command_writes_three_folders_a_figure_and_a_table(tmp_path, corpus, capsys):
    out = tmp_path / "race"
    assert cli.main(["race", "--data", str(corpus), "--minutes", "0.06", "--out", str(out), "--quiet"]) == 0
    for m in ("rnn", "lstm", "gru"):
        assert (out / m / "config.json").is_file()
    assert (out / "race.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "race.md").read_text()
    assert "| LSTM |" in table and "| GRU |" in table and "| vanilla RNN |" in table
    assert set(json.loads((out / "race.json").read_text())["points"]) == {"rnn", "lstm", "gru"}
    assert "best val nats/char" in capsys.readouterr().out


# --- through the app's API -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    server = RaceServer(FAST, tmp_path_factory.mktemp("races"))
    old = racejobs.set_server(server)
    try:
        with serve_app(served(make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny-checkpoints"))) as (_, url):
            yield url
    finally:
        server.close()
        racejobs.set_server(old)


def train(client, seconds=3, text=TEXT, **kw):
    return client.submit(None, text, seconds, ["rnn", "lstm", "gru"], "tiny", api_name="/train", **kw)


def test_a_race_through_the_api_then_its_models_generate_compare_and_score(app_url):
    client = Client(app_url, verbose=False)
    job = train(client)
    status, figure, table, *rest = job.result()
    assert "Done" in status and len(table["data"]) == 3 and all(rest[:3])  # three rows, three samples
    zipped = rest[3]
    names = zipfile.ZipFile(zipped).namelist()
    assert {"rnn/config.json", "lstm/model.safetensors", "gru/README.md", "race.png"} <= set(names)
    assert not any(n.split("/")[1:2] == ["resume"] for n in names)
    text = client.predict("lstm", "BRUTUS:", 40, 0.8, 0, 1.0, "3", False, "yours", api_name="/generate")[0]
    bundled = client.predict("lstm", "BRUTUS:", 40, 0.8, 0, 1.0, "3", api_name="/generate")[0]  # old inputs still work
    assert text.startswith("BRUTUS:") and len(text) == 47 and text != bundled
    columns = client.predict("\n", 30, 0.8, 0, 1.0, "3", False, False, "yours", api_name="/compare")
    assert all(len(t) == 30 for t in columns[:3]) and "parameters" in columns[3]  # rnn, lstm, gru, then stats
    table = client.predict("BRUTUS: the night is long", "yours", api_name="/score")[0]
    assert len(table["data"]) == 3


def test_models_of_another_session_are_not_visible(app_url):
    with pytest.raises(AppError, match="No models trained on your text"):
        Client(app_url, verbose=False).predict("lstm", "a", 10, 0.8, 0, 1.0, "3", False, "yours", api_name="/generate")


def test_the_queue_shows_position_and_stop_ends_a_race_within_a_second(app_url):
    first, second = Client(app_url, verbose=False), Client(app_url, verbose=False)
    running = train(first, seconds=30)
    while not (running.outputs() and "Training" in running.outputs()[-1][0] and running.outputs()[-1][2]["data"]):
        time.sleep(0.2)  # running, with a first point
    waiting = train(second, seconds=20)
    while not waiting.outputs():
        time.sleep(0.1)
    assert "position **1** in the queue" in waiting.outputs()[-1][0] and "s** before your race starts" in waiting.outputs()[-1][0]
    with pytest.raises(AppError, match="Your race is training now: wait for it, or press Stop"):  # Train twice
        first.predict(None, TEXT, 5, ["rnn"], "tiny", api_name="/train")
    start = time.perf_counter()
    first.predict(api_name="/stop")
    assert running.result()[0].startswith("Stopped") and time.perf_counter() - start < 3.0
    while not (waiting.outputs() and "Training" in waiting.outputs()[-1][0]):
        time.sleep(0.1)  # the next race starts
    assert "Stopped" in second.predict(api_name="/stop")
    waiting.result()


def test_bad_inputs_through_the_api_get_a_message(app_url, tmp_path):
    client = Client(app_url, verbose=False)
    (tmp_path / "x.txt").write_bytes(b"\x00\x01\x02" * 500)  # binary, named .txt (gradio refuses other names)
    with pytest.raises(AppError, match="looks binary"):
        client.predict(handle_file(str(tmp_path / "x.txt")), "", 3, ["rnn"], "tiny", api_name="/train")
    with pytest.raises(AppError, match="empty"):
        client.predict(None, "", 3, ["rnn"], "tiny", api_name="/train")
    with pytest.raises(AppError, match="Nothing to push"):
        client.predict("", "hf_x", True, api_name="/push")


# --- the Hub -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_job(tmp_path_factory):
    server = RaceServer(FAST, tmp_path_factory.mktemp("pushrace"))
    job = server.submit("s", TEXT, 2, ["rnn", "gru"], "tiny", name="My Play.txt")
    server.wait(job, 60)
    assert job.state == "done"
    yield job
    server.close()


def test_push_sends_each_model_to_its_own_private_repo_and_returns_commit_urls(fake_hub, finished_job):
    urls = racejobs.push_models(finished_job, fake_hub.token)
    assert set(urls) == {"rnn", "gru"} and all("/commit/" in u for u in urls.values())
    assert "fake-user/rnnlm-my-play-rnn" in urls["rnn"]
    assert "config.json" in fake_hub.files("fake-user/rnnlm-my-play-gru")


def test_a_wrong_or_read_only_token_or_a_foreign_owner_is_refused_and_never_echoed(fake_hub, finished_job, monkeypatch):
    with pytest.raises(racejobs.HubError) as e:
        racejobs.push_models(finished_job, "hf_wrongwrongwrongwrong")
    assert "refused the token" in str(e.value) and "wrongwrong" not in str(e.value)
    with pytest.raises(racejobs.HubError, match="cannot create repos under 'someone-else'"):
        racejobs.push_models(finished_job, fake_hub.token, owner="someone-else")
    real = _Handler.whoami

    def read_only(self):
        status, headers, body = real(self)
        info = json.loads(body)
        info["auth"]["accessToken"]["role"] = "read"
        return status, headers, json.dumps(info).encode()

    monkeypatch.setattr(_Handler, "whoami", read_only)
    with pytest.raises(racejobs.HubError, match="can only read"):
        racejobs.push_models(finished_job, fake_hub.token)
    assert not any("commit" in path for _, path in fake_hub.requests)  # nothing was written
