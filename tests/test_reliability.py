"""The app under hostile or heavy use, through its API: an oversized request, a call missing inputs, one visitor
flooding the queue, a temperature too small to divide by; and a Hub that echoes the token back, or a folder
that is not a checkpoint, never puts what they hold on the page or the terminal."""
from __future__ import annotations

import json
import logging
import shutil
import threading
import time

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, ValidationError

from rnnlm import cli, store
from rnnlm import playground as pg
from rnnlm.hub import redact
from rnnlm.playground import guard
from tests.hubserver import fake_hub_env
import app
from tests.support import REPO, MODEL_TYPES, make_tiny_checkpoints, serve_app, served, tiny, trained_folder
from tests.support import OK, PROMPT, rnnlm
from tests.support import api_compare as compare
from tests.support import api_generate as generate


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny-checkpoints")


@pytest.fixture(scope="module")
def server(folders):
    with serve_app(served(folders)) as (demo, url):
        yield demo, url


def raw_generate(url: str, data: list, **kw) -> httpx.Response:
    return httpx.post(url + "gradio_api/call/generate", json={"data": data}, timeout=30, **kw)


# --- memory: requests too large to parse, sessions kept ---------------------------------------------


def test_an_oversized_request_is_refused_unread_and_the_server_keeps_serving(server):
    demo, url = server
    huge = ["lstm", "a" * 3_000_000, 40, 0.8, 0, 1, "5"]
    r = raw_generate(url, huge)
    assert r.status_code == 413
    assert "Request too large (3,000,0" in r.json()["detail"] and "at most 262,144 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"data": ["lstm", "'
        for _ in range(40):
            yield b"a" * 100_000
        yield b'", 40, 0.8, 0, 1, "5"]}'

    r = httpx.post(url + "gradio_api/call/generate", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "Request too large" in r.json()["detail"]

    client = Client(url, verbose=False)
    with pytest.raises(httpx.HTTPStatusError, match="413"):
        generate(client, prompt="a" * (guard.MAX_REQUEST_BYTES + 1))
    text, _, notes = generate(client)  # the same server still serves
    assert len(text) == OK["length"]


def test_the_largest_useful_input_fits_under_the_cap(server):
    # every character of a full score text an emoji: JSON writes each as 12 bytes
    text = "BRUTUS" + "😀" * pg.inputs.MAX_SCORE
    assert len(json.dumps({"data": [text]})) < guard.MAX_REQUEST_BYTES
    _, url = server
    table, *_ = Client(url, verbose=False).predict(text, api_name="/score")
    assert len(table["data"]) == len(MODEL_TYPES)


def test_the_server_keeps_a_bounded_number_of_sessions(server):
    demo, _ = server
    assert demo.state_holder.capacity == guard.SESSION_CAPACITY < 10_000  # gradio's default: 1.5 GB of page copies


# --- a call missing inputs ------------------------------------------------------------------------


def test_a_call_missing_inputs_is_told_which_without_a_traceback_in_the_log(server, capfd):
    _, url = server
    r = raw_generate(url, ["lstm", PROMPT])
    assert r.status_code == 422
    message = r.json()["detail"][0]["message"]
    assert message == ("/generate takes 9 inputs, in this order: model, prompt, length, temperature, top_k, top_p, "
                       "seed, show_copied, model_set; this call sent 2, so these are missing: length, temperature, "
                       "top_k, top_p, seed, show_copied, model_set.")
    r = raw_generate(url, ["lstm", PROMPT, 10, 0.8, 0, 1.0, "3"])  # an older caller, without the trailing option
    assert r.status_code == 200, r.text
    events = httpx.get(url + f"gradio_api/call/generate/{r.json()['event_id']}", timeout=30).text
    assert "event: complete" in events and "event: error" not in events
    r = httpx.post(url + "gradio_api/call/score", json={"data": []})
    assert r.status_code == 422 and "missing: text" in r.json()["detail"][0]["message"]
    time.sleep(0.2)  # anything the server would log has been written
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


# --- fairness: one visitor's flood --------------------------------------------------------------


def test_a_flooding_session_is_refused_beyond_its_cap_while_another_session_is_served(server, monkeypatch):
    _, url = server
    running, release = threading.Event(), threading.Event()
    real = pg.generate_stream

    def held(*args, **kwargs):  # the first request holds the models' slot until the test lets it go
        running.set()
        release.wait(30)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(pg, "generate_stream", held)
    flood, light = Client(url, verbose=False), Client(url, verbose=False)
    call = ("lstm", PROMPT, 40, 0.8, 0, 1.0, "5")
    try:
        first = flood.submit(*call, api_name="/generate")
        assert running.wait(10)
        more = [flood.submit(*call, api_name="/generate") for _ in range(4)]
        deadline = time.monotonic() + 10
        while sum(job.done() for job in more) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = [job for job in more if job.done()]
        assert len(refused) == 4 - guard.MAX_WAITING_PER_SESSION
        for job in refused:
            with pytest.raises(ValidationError, match="You already have 2 requests waiting"):
                job.result()
        other = light.submit(*call, api_name="/generate")  # another visitor still gets a place
        time.sleep(0.3)
        assert not other.done()  # waiting its turn, not refused
    finally:
        release.set()
    expected = other.result()[0]
    assert len(expected) == 40
    assert first.result()[0] == expected and all(job.result()[0] == expected for job in more if job not in refused)


def test_a_caller_without_a_session_is_capped_by_address(server, monkeypatch):
    _, url = server
    running, release = threading.Event(), threading.Event()
    real = pg.generate_stream

    def held(*args, **kwargs):
        running.set()
        release.wait(30)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(pg, "generate_stream", held)
    data = ["lstm", PROMPT, 10, 0.8, 0, 1, "5"]
    try:
        assert raw_generate(url, data).status_code == 200
        assert running.wait(10)
        codes = [raw_generate(url, data).status_code for _ in range(4)]
    finally:
        release.set()
    assert codes == [200, 200, 422, 422]


# --- a temperature too small to divide by ----------------------------------------------------------


def test_a_tiny_positive_temperature_is_greedy_with_a_note_through_the_api(server):
    _, url = server
    client = Client(url, verbose=False)
    text, _, notes = generate(client, temperature=1e-310, length=60)
    greedy, _, _ = generate(client, temperature=0, length=60)
    assert text == greedy and "below 0.001; sampling greedily" in notes
    tiny_t, greedy_c = compare(client, temperature=1e-310)[:3], compare(client, temperature=0)[:3]
    assert tiny_t == greedy_c


def test_a_tiny_positive_temperature_is_greedy_with_a_note_on_the_command_line(folders, tmp_path):
    args = ("sample", folders["gru"], "--prompt", PROMPT, "--length", 60, "--seed", 3, "--temperature")
    tiny_t, greedy = rnnlm(*args, "1e-310", cwd=tmp_path), rnnlm(*args, "0", cwd=tmp_path)
    assert tiny_t.returncode == 0 and tiny_t.stdout == greedy.stdout
    assert "--temperature 1e-310 is below 0.001; sampling greedily" in tiny_t.stderr
    assert "note" not in greedy.stderr


# --- what is never shown: tokens, and files of a folder that is not a checkpoint ---------------------


def test_redact_hides_hub_tokens_and_bearer_credentials():
    text = ("401 for url: headers Authorization: Bearer hf_AbCdEf0123456789xyz; token=hf_ZyXw98765432abcd; "
            "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig and a bare hf_QQQQQQQQQQQQ")
    shown = redact(text)
    assert "hf_AbCdEf" not in shown and "hf_ZyXw" not in shown and "eyJhbG" not in shown and "hf_QQQQ" not in shown
    assert shown.startswith("401 for url: headers Authorization: Bearer [redacted]")
    assert redact("no secret here: hf is a prefix") == "no secret here: hf is a prefix"


def test_a_hub_that_echoes_the_token_never_puts_it_on_the_cli_stderr(monkeypatch, tmp_path, capsys, caplog):
    folder = trained_folder(tmp_path / "run", "gru")
    caplog.set_level(logging.DEBUG, logger="rnnlm")  # rnnlm's own log (the HTTP client's debug trace shows headers)
    with fake_hub_env(monkeypatch, tmp_path / "hub", failures={"/api/": 400}) as hub:
        assert cli.main(["push", str(folder), "--repo", "fake-user/tiny", "--token", hub.token]) == 1
        monkeypatch.setenv("HF_TOKEN", hub.token)
        assert cli.main(["pull", "fake-user/tiny", "--out", str(tmp_path / "got")]) == 1
        assert hub.token in hub.tokens_sent()  # it was sent, and the Hub's answer quoted it back
    out, err = capsys.readouterr()
    assert "HTTP 400" in err
    assert hub.token not in out + err + caplog.text and "Bearer hf_" not in err


def test_a_hub_that_echoes_the_token_never_puts_it_on_the_page(monkeypatch, tmp_path):
    for name in MODEL_TYPES:
        store.save(tiny(name), tmp_path / "checkpoints" / name)
    with fake_hub_env(monkeypatch, tmp_path / "hub", failures={"/api/": 400}) as hub:
        monkeypatch.setenv("HF_TOKEN", hub.token)
        models = pg.load_app_models(tmp_path / "checkpoints", {"RNNLM_LSTM": "fake-user/lstm"}, MODEL_TYPES)
        assert hub.token in hub.tokens_sent()
    lstm = next(m for m in models if m.name == "lstm")
    assert "RNNLM_LSTM=fake-user/lstm could not be used" in lstm.note and hub.token not in lstm.note
    with serve_app(models) as (_, url):
        page = httpx.get(url + "config").text
    assert "could not be used" in page
    assert hub.token not in page and "Bearer hf_" not in page


def test_a_folder_that_is_not_a_checkpoint_does_not_get_its_readme_on_the_models_tab(folders, tmp_path):
    import app

    notes = tmp_path / "notes"  # no config.json at all
    notes.mkdir()
    (notes / "README.md").write_text("# Private notes\nThe door code is 4321.\n")
    broken = shutil.copytree(folders["gru"], tmp_path / "broken")  # a checkpoint whose config does not load
    (broken / "config.json").write_text('{"model_type": "gru", "hidden_size": 512.5}')
    (broken / "README.md").write_text("# Draft\nThe door code is 4321.\n")
    models = [pg.load_folder("rnn", folders["rnn"], "test"), pg.load_folder("lstm", notes, "test"),
              pg.load_folder("gru", broken, "test")]
    assert [m.available for m in models] == [True, False, False]
    page = json.dumps(app.build_demo(models).config)
    assert "door code" not in page
    rnn_card = (folders["rnn"] / "README.md").read_text().split("---")[-1].strip().splitlines()[0]
    assert rnn_card in page  # an available model's card is shown


# --- hostile checkpoints and small messages ---------------------------------------------------------


@pytest.mark.parametrize("field, value", [("hidden_size", 512.5), ("hidden_size", 10_000_000), ("metrics", "oops"),
                                          ("num_layers", 1_000_000)])
def test_a_hostile_config_makes_one_model_unavailable_and_the_app_serves_the_rest(tmp_path, field, value):
    for name in MODEL_TYPES:
        store.save(tiny(name), tmp_path / name)
    config = json.loads((tmp_path / "lstm" / "config.json").read_text())
    config[field] = value
    (tmp_path / "lstm" / "config.json").write_text(json.dumps(config))
    start = time.perf_counter()
    models = {m.name: m for m in pg.load_app_models(tmp_path, {}, MODEL_TYPES)}
    assert time.perf_counter() - start < 5
    assert not models["lstm"].available and field in models["lstm"].error and "config.json" in models["lstm"].error
    assert models["rnn"].available and models["gru"].available
    view = app.build_demo(list(models.values())).view  # the page lays out, naming the problem
    assert field in view.status_markdown()
    *outputs, _, _ = list(view.compare("BRUTUS:", 10, 0.8, 0, 1.0, "1"))[-1]
    assert outputs[0] and outputs[1] == "" and outputs[2]


def test_an_unknown_model_name_is_not_echoed_back_whole(server):
    _, url = server
    with pytest.raises(AppError) as e:
        Client(url, verbose=False).predict("x" * 100_000, PROMPT, 10, 0.8, 0, 1.0, "1", api_name="/generate")
    assert len(str(e.value)) < 500 and "choose one of" in str(e.value)


def test_cli_messages_name_the_file_or_flag(tmp_path, capsys):
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 4)
    assert cli.main(["score", str(REPO / "checkpoints" / "rnn"), "--text-file", str(tmp_path / "binary.bin")]) == 1
    assert "binary.bin: not UTF-8" in capsys.readouterr().err
    assert cli.main(["sample", str(REPO / "checkpoints" / "rnn"), "--seed", "-1"]) == 1
    assert "--seed must be from 0" in capsys.readouterr().err
