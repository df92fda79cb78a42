"""The Gradio app through its API, as gradio_client callers see it: streaming, compare on one random
stream, scoring, and a message (never a traceback) for every kind of bad input."""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from rnnlm import MODELS
from rnnlm import playground as pg
from tests.support import MODEL_TYPES, OK, PROMPT, REPO, make_tiny_checkpoints, serve_app, served
from tests.support import api_compare as compare
from tests.support import api_generate as generate

@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny-checkpoints")


@pytest.fixture(scope="module")
def client(folders):
    with serve_app(served(folders)) as (_, url):
        yield Client(url, verbose=False)


# --- what a visitor relies on ---------------------------------------------------------------------


def test_generate_streams_partial_updates_before_the_final_text(client):
    job = client.submit("gru", PROMPT, 300, 0.8, 0, 1.0, "11", api_name="/generate")
    texts = [out[0] for out in job]  # each streamed update, in order
    final = job.result()[0]
    assert len(texts) >= 4, "expected several partial updates"
    assert all(final.startswith(t) for t in texts) and len(set(map(len, texts))) == len(texts)  # growing prefixes
    assert len(final) == 300  # the continuation alone, as /compare gives it: the page shows the prompt above
    assert "chars/s" in job.result()[1]


def test_compare_gives_three_continuations_and_the_same_seed_the_same_three(client):
    first, again, other = compare(client, seed="42"), compare(client, seed="42"), compare(client, seed="43")
    texts = first[:3]
    assert all(len(t) == 40 for t in texts)  # the continuations: the prompt is shown once, not in each column
    assert first[:3] == again[:3]
    assert other[:3] != first[:3]
    assert all("parameters" in s and "bits/char" in s and "chars/s" in s for s in first[3:6])


def test_compare_columns_share_one_random_stream_with_generate(client):
    # one uniform per character, seeded alike: a column of compare is what generate gives that model
    texts = compare(client, seed="9")[:3]
    for name, text in zip(MODEL_TYPES, texts):
        assert generate(client, model=name, seed="9")[0] == text


def test_score_returns_finite_figures_heat_map_and_next_characters(client):
    table, heat, *labels, notes = client.predict("BRUTUS:\nThe night is long.", api_name="/score")
    assert [row[0] for row in table["data"]] == [MODELS[n].label for n in MODEL_TYPES]
    assert all(math.isfinite(x) and x > 0 for row in table["data"] for x in row[1:])
    assert heat.count('<span class="s') > 3 * len("BRUTUS:\nThe night is long.")
    for label in labels:
        probs = [c["confidence"] for c in label["confidences"]]
        assert 1 <= len(probs) <= 10 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-9
        assert all(p >= 0.01 for p in probs[1:])  # no row reading 0%


def test_what_comes_next_leaves_out_tokens_under_one_percent(folders):
    from rnnlm import load_model, score
    from rnnlm.playground.live import next_char_top, show_piece

    model = load_model(folders["lstm"], inference=True)
    served = pg.Served("lstm", "a test folder", folders["lstm"], model)
    s = score(model, "BRUTUS:\nThe night is long.")
    s.next_probs = np.full(len(s.next_probs), 0.0005)
    s.next_probs[[3, 7, 9]] = [0.9, 0.05, 0.009]
    s.next_probs /= s.next_probs.sum()
    assert list(next_char_top(served, s)) == [show_piece(model.vocab.tokens[i]) for i in (3, 7)]  # 0.9% and below left out
    s.next_probs = np.full(len(s.next_probs), 0.005 / (len(s.next_probs) - 1))
    s.next_probs[5] = 0.995  # one favourite: a single bar, not one at 99% and nine at 0%
    assert list(next_char_top(served, s)) == [show_piece(model.vocab.tokens[5])]


def test_the_api_page_snippets_parse_and_run_as_shown_with_every_output_named(client):
    import httpx

    info = httpx.get(f"{client.src.rstrip('/')}/gradio_api/info", timeout=30).json()["named_endpoints"]
    snippets = {name: e["code_snippets"]["python"] for name, e in info.items()}  # what "Use via API" shows
    for name, code in snippets.items():
        compile(code, f"the {name} snippet", "exec")
        assert all(not r["label"].startswith("value_") for r in info[name]["returns"]), f"{name}: an unnamed output"
    for name in ("/generate", "/compare", "/score", "/inside_gradients"):
        scope = {}
        exec(snippets[name], scope)  # as shown: the snippet names this server
        assert scope["result"], name
    prompt = info["/generate"]["parameters"][1]
    assert prompt["parameter_name"] == "prompt" and "\n" not in prompt["parameter_default"]


def listed(html_text: str, section: str) -> list[tuple[int, list[float]]]:
    """(1-based position, probabilities) of each item of the list whose class is section."""
    items = re.search(rf'<ol class="{section}">(.*?)</ol>', html_text).group(1).split("</li>")[:-1]
    return [(int(re.search(r"\(character ([\d,]+)\)", item).group(1).replace(",", "")),
             [float(p) for p in re.findall(r"p = ([\d.e+-]+)", item)]) for item in items]


def test_the_heat_maps_name_the_most_surprising_characters_and_the_biggest_differences(folders):
    models = served(folders)
    results = pg.score_all(models, "BRUTUS:\nThe night is long that never finds the day.\nRome, Rome!\n" * 3)
    for m, s in results:
        bits = s.surprisal_bits
        items = listed(pg.heatmap_html([(m, s)]), "top")
        positions = [i - 1 for i, _ in items]
        assert len(items) == 8 and bits[positions].min() >= np.delete(bits, positions).max()  # the 8 worst, worst first
        assert list(bits[positions]) == sorted(bits[positions], reverse=True)
        for i, (p,) in zip(positions, (ps for _, ps in items)):
            assert p == pytest.approx(math.exp(s.logprobs[i]), rel=5e-3)
    diff = pg.difference_html(results[:2])
    (good, gs), (bad, bs) = sorted(results[:2], key=lambda r: r[1].bits_per_char)
    saved = bs.surprisal_bits - gs.surprisal_bits
    for section, sign in (("gains", 1), ("losses", -1)):
        items = listed(diff, section)
        positions = [i - 1 for i, _ in items]
        assert items and all(sign * saved[i] > 0 for i in positions)
        assert (sign * saved[positions]).min() >= np.delete(sign * saved, positions).max()
        for i, (p_good, p_bad) in zip(positions, (ps for _, ps in items)):
            assert (p_good, p_bad) == pytest.approx((math.exp(gs.logprobs[i]), math.exp(bs.logprobs[i])), rel=5e-3)


def test_the_score_table_speaks_bits(folders):
    assert not any("nats" in h for h in pg.SCORE_HEADERS)
    (m, s), = pg.score_all(served(folders)[:1], "BRUTUS:\nThe night is long.")
    assert pg.score_rows([(m, s)])[0][1] == round(s.nats_per_char / math.log(2), 4)


# --- bad input: a clamped value and a note naming it, or a clear error ----------------------------

CLAMPS = [
    (dict(length=0), "length 0 is below 1", lambda text: len(text) == 1),
    (dict(length=-5), "length -5 is below 1", lambda text: len(text) == 1),
    (dict(length=1e6), "length 1,000,000 is above 2,000", lambda text: len(text) == 2000),
    (dict(length=12.5), "length 12.5 is not a whole number", lambda text: len(text) == 12),
    (dict(temperature=-1), "temperature -1 is below 0", None),
    (dict(temperature="NaN"), "temperature nan is not a number", None),  # JSON has no NaN: API callers send text
    (dict(temperature=100), "temperature 100 is above 2", None),
    (dict(temperature="hot"), "temperature 'hot' is not a number", None),
    (dict(top_k=-3), "top-k -3 is below 0", None),
    (dict(top_p=0), "top-p 0 is below 0.01", None),
    (dict(top_p=2), "top-p 2 is above 1", None),
    (dict(seed="abc"), "seed 'abc' is not a number", None),
    (dict(seed="-1"), "seed -1 is not a whole number from 0", None),
    (dict(seed="1.5"), "seed 1.5 is not a whole number from 0", None),
]


@pytest.mark.parametrize("change, message, check", CLAMPS, ids=[f"{k}={v}" for c, _, _ in CLAMPS for k, v in c.items()])
def test_out_of_range_inputs_are_clamped_with_a_note_naming_them(client, change, message, check):
    text, stats, notes = generate(client, **change)
    assert message in notes
    assert text  # the request still ran
    if check:
        assert check(text)


def test_nan_and_infinite_numbers_are_replaced_or_clamped():
    req = pg.check_sampling(PROMPT, math.inf, math.nan, math.nan, -math.inf, "7")
    s = req.settings
    assert (s.length, s.temperature, s.top_k, s.top_p) == (2000, 0.8, 0, 0.01)
    assert [n.text.split(" is ")[0] for n in req.notes] == ["length inf", "temperature nan", "top-k nan", "top-p -inf"]


def test_top_k_zero_means_off_and_says_so(client):
    text, stats, notes = generate(client, top_k=0)
    assert notes == "" and "top-k off (0)" in stats


def test_random_seed_is_drawn_and_shown(client):
    text, stats, _ = generate(client, seed="random")
    assert "drawn at random" in stats


def test_empty_prompt_starts_from_a_newline_and_says_so(client):
    text, _, notes = generate(client, prompt="")
    assert len(text) == OK["length"] and "prompt is empty" in notes


def test_unknown_characters_are_listed_back_as_skipped(client):
    text, _, notes = generate(client, prompt="BRUTUS 😀:\n")
    assert "U+1F600" in notes and "Skipped" in notes
    _, _, notes = generate(client, prompt="😀🙂")
    assert "U+1F600" in notes and "U+1F642" in notes and "start from a newline" in notes


def test_a_long_prompt_is_cut_to_its_end(client):
    prompt = "BRUTUS:\nThe night is long.\n" * (200_000 // 26)  # under the request cap (a bigger one is refused)
    text, _, notes = generate(client, prompt=prompt)
    assert "using its last 2,000" in notes
    assert text == generate(client, prompt=prompt[-2000:])[0] and len(text) == OK["length"]


def test_unknown_model_is_an_error_naming_the_choices(client):
    with pytest.raises(AppError, match="unknown model 'transformer'; choose one of: rnn, lstm, gru"):
        generate(client, model="transformer")


@pytest.mark.parametrize("text, message", [
    ("", "Nothing to score"),
    ("😀🙂", "the models know none of these characters: '😀' \\(U\\+1F600\\)"),
])
def test_unscorable_text_is_an_error(client, text, message):
    with pytest.raises(AppError, match=message):
        client.predict(text, api_name="/score")


def test_scoring_a_long_text_scores_its_start_and_skipped_characters_are_listed(client):
    table, _, *_, notes = client.predict("BRUTUS 😀:\n" * 8_000, api_name="/score")
    assert "scoring its first 5,000" in notes and "U+1F600" in notes
    assert all(row[3] > 4000 for row in table["data"])  # chars scored


# --- the gallery and the models' cards, read from the checkpoint folders ---------------------------


def test_gallery_reads_curves_time_lapse_samples_and_cards(folders):
    models = pg.load_app_models(folders["rnn"].parent, {}, MODEL_TYPES)
    g = pg.Gallery.read(models)
    curves = g.curves()
    assert set(curves["model"]) == {m.label for m in models} and curves["held-out bits/char"].gt(0).all()
    assert g.lapse_fractions() == [0.01, 0.05, 0.2, 0.5, 1.0]
    early, late = g.lapse_frame(0), g.lapse_frame(4)
    assert all("at 1% of training" in caption and text for caption, text in early)
    assert all("at 100% of training" in caption for caption, _ in late)
    grid = g.sample_grid_html()
    assert all(f"T = {t}" in grid for t in ("0.2", "0.5", "0.8", "1.0", "1.2"))
    for m in models:
        card = g.card_markdown(m)
        assert "parameters" in card and "bits/char" in card and str(m.folder.parent) in card


# --- a missing checkpoint -------------------------------------------------------------------------


def test_missing_folders_are_reported_not_raised(tmp_path):
    models = {m.name: m for m in pg.load_app_models(tmp_path, {}, MODEL_TYPES)}
    assert not any(m.available for m in models.values())
    assert "LSTM is unavailable: no checkpoint at" in models["lstm"].error and "RNNLM_LSTM" in models["lstm"].error


def test_missing_checkpoint_leaves_the_app_working_and_named_unavailable(folders, tmp_path):
    env = os.environ | {"RNNLM_RNN": str(folders["rnn"]), "RNNLM_LSTM": str(tmp_path / "nowhere"),
                        "RNNLM_GRU": str(folders["gru"])}
    code = ("import json, sys, app; view = app.demo.view; print(view.status_markdown()); "
            "print(json.dumps(list(view.compare('BRUTUS:', 20, 0.8, 0, 1, '3'))[-1][:3])); "
            "print('torch imported' if 'torch' in sys.modules else 'torch not imported')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "LSTM is unavailable: no checkpoint at" in out.stdout and "nowhere" in out.stdout
    *_, texts, torch_line = out.stdout.strip().splitlines()
    assert torch_line == "torch not imported"  # the GRU runs in numpy: the app starts without torch
    rnn_text, lstm_text, gru_text = json.loads(texts)
    assert len(rnn_text) == 20 and lstm_text == "" and len(gru_text) == 20
