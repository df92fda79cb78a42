"""The app's model sets through its API: a character set and a word set served side by side, switched per call;
the word views (next word, which sentence is more likely); sets missing or configured by the environment."""
from __future__ import annotations

import html
import re
import shutil

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from rnnlm import playground as pg
from tests.support import OK, PROMPT, make_tiny_sets, serve_app, word_folder

WORDS = "sherlock-words"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_tiny_sets(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def sets(root):
    return pg.load_app_sets(root, {})


@pytest.fixture(scope="module")
def client(sets):
    with serve_app(sets) as (_, url):
        yield Client(url, verbose=False)


def generate(client, model="lstm", prompt=PROMPT, *more):
    s = OK
    return client.predict(model, prompt, s["length"], s["temperature"], s["top_k"], s["top_p"], s["seed"], *more,
                          api_name="/generate")


def test_sets_without_checkpoints_are_left_out_with_the_command_that_builds_them(sets):
    offered = [s.name for s in sets if not s.missing]
    assert offered == ["shakespeare-chars", WORDS]
    alice = next(s for s in sets if s.name == "alice-chars")
    assert "python checkpoints/build.py --set alice-chars" in alice.missing
    assert "RNNLM_ALICE_CHARS_LSTM_NODROPOUT" in alice.missing
    demo = app.build_demo(sets)
    assert [name for _, name in demo.sets.choices] == offered  # the picker offers only what is here
    assert "Alice · characters: not on this server" in app.status_markdown(demo.sets, demo.view)


def test_one_session_switches_between_a_character_set_and_a_word_set(client):
    chars = generate(client)  # no set named: the first (Shakespeare) set, as before sets existed
    words = generate(client, "lstm", "The cat", "false", WORDS)
    chars_again = generate(client, "lstm", PROMPT, "false", "shakespeare-chars")
    assert chars[0] == chars_again[0] and len(chars[0]) == len(PROMPT) + OK["length"]  # 40 characters
    assert "chars in" in chars[1] and "words in" in words[1]
    assert words[0].startswith("The cat") and len(words[0].split()) >= OK["length"] // 2  # 40 tokens, most of them words
    texts = client.predict("The cat", 12, 0.8, 0, 1.0, "4", False, False, WORDS, api_name="/compare")
    assert all(t for t in texts[:3]) and texts[3] == ""  # the three networks, and the place the set leaves empty
    assert texts[:3] != client.predict(PROMPT, 12, 0.8, 0, 1.0, "4", api_name="/compare")[:3]


def test_next_word_gives_each_model_ten_words_sorted_by_probability_and_a_greedy_continuation(client, sets):
    *out, notes = client.predict("The cat sat on the", 6, WORDS, api_name="/next_word")
    bars, texts = out[:4], out[4:]
    for label in bars[:3]:
        probs = [c["confidence"] for c in label["confidences"]]
        assert len(probs) == 10 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-9
    assert not (bars[3] or {}).get("confidences") and "unavailable" in texts[3]  # no n-gram in this set
    lstm = next(m for m in sets[1].models if m.name == "lstm")
    from rnnlm import generate as continue_text

    assert texts[1] == continue_text(lstm.model, "The cat sat on the", length=6, temperature=0.0)
    assert all(texts[i] for i in range(3))


def test_next_word_refuses_a_character_set_and_a_phrase_of_unknown_words(client):
    with pytest.raises(AppError, match="set of word models"):
        client.predict("ROMEO:", 5, api_name="/next_word")  # the first set reads characters
    with pytest.raises(AppError, match="no word the models know"):
        client.predict("Zyzzyva quixotic", 5, WORDS, api_name="/next_word")


def test_sentences_are_ranked_per_model_most_likely_first(client):
    table, notes = client.predict("The cat sat on the mat.\nMat the on sat cat the.\nthe the the the",
                                  WORDS, api_name="/sentences")
    rows = table["data"]
    by_model = {}
    for model, rank, sentence, bits, perplexity, tokens, unknown in rows:
        by_model.setdefault(model, []).append((rank, sentence, bits, perplexity))
    assert set(by_model) == {"vanilla RNN", "LSTM", "GRU"}
    for ranking in by_model.values():
        assert [r[0] for r in ranking] == [1, 2, 3]
        assert [r[2] for r in ranking] == sorted(r[2] for r in ranking)  # most probable (fewest bits) first
        assert all(r[3] > 1 for r in ranking)
    # the models read this sentence forty times in training, and its shuffle never
    assert by_model["LSTM"][0][1] == "The cat sat on the mat."
    with pytest.raises(AppError, match="two or more sentences"):
        client.predict("Only one sentence.", WORDS, api_name="/sentences")


def test_the_word_heat_map_shows_each_token_with_the_text_it_stands_for(client):
    text = "The cat sat on the mat.\n“Where is the dog?” asked the cat."
    table, heat, *labels, notes = client.predict(text, WORDS, api_name="/score")
    own = heat[heat.index("<details>"):]  # each model's own map
    first_row = own.split('<div class="heat-row">')[1]
    pieces = re.findall(r'<span class="s\d+" title="[^"]*">(.*?)</span>', first_row)
    joined = html.unescape("".join(pieces)).replace("↵<br>", "\n")
    assert joined == text and len(pieces) < len(text) / 2  # a word a span, not a character
    assert "next word" not in str(labels) and labels[0]["confidences"][0]["label"]


def test_sources_are_set_per_set_and_model_by_variable(root, tmp_path):
    other = word_folder(tmp_path / "elsewhere", "lstm", iters=4)
    environ = {"RNNLM_SHERLOCK_WORDS_LSTM": str(other), "RNNLM_LSTM": str(tmp_path / "nowhere")}
    sets = {s.name: s for s in pg.load_app_sets(root, environ)}
    words = {m.name: m for m in sets[WORDS].models}
    chars = {m.name: m for m in sets["shakespeare-chars"].models}
    assert words["lstm"].folder == other and "RNNLM_SHERLOCK_WORDS_LSTM" in words["lstm"].source
    assert words["gru"].folder == root / WORDS / "gru"  # the others keep their bundled folders
    assert not chars["lstm"].available and "nowhere" in chars["lstm"].error  # RNNLM_LSTM: the Shakespeare set only
    # a set with no bundled folders is served once a variable points one of its models somewhere
    alice = pg.load_app_sets(tmp_path / "empty", {"RNNLM_ALICE_CHARS_GRU": str(root / "gru")})
    served = next(s for s in alice if s.name == "alice-chars")
    assert not served.missing and [m.available for m in served.models] == [False, False, False, True]


def test_a_set_configured_by_rnnlm_sets_is_offered_with_its_models(root, tmp_path, monkeypatch):
    mine = tmp_path / "my-words"
    shutil.copytree(root / WORDS / "gru", mine / "gru")
    shutil.copytree(root / WORDS / "rnn", mine / "rnn")
    sets = pg.load_app_sets(tmp_path / "empty", {"RNNLM_SETS": str(mine)})
    configured = sets[-1]
    assert configured.name == "my-words" and configured.label == "my-words · words" and configured.words
    assert [m.name for m in configured.models] == ["rnn", "gru"] and all(m.available for m in configured.models)
    demo = app.build_demo(sets)
    table, notes = demo.sets.sentences("The cat sat.\nSat cat the.", "my-words")
    assert list(table["model"].unique()) == ["vanilla RNN", "GRU"]


def test_unknown_and_missing_sets_get_a_message_and_inside_says_it_is_for_characters(client):
    with pytest.raises(AppError, match="not on this server.*build.py --set alice-chars"):
        generate(client, "lstm", PROMPT, "false", "alice-chars")
    with pytest.raises(AppError, match="unknown model set 'poems'"):
        generate(client, "lstm", PROMPT, "false", "poems")
    with pytest.raises(AppError, match="Inside the models is for character models"):
        client.predict("The cat sat.", WORDS, api_name="/inside_gradients")


def test_switching_relabels_the_places_and_shows_the_word_tabs(sets):
    demo = app.build_demo(sets)
    site = demo.sets
    words = site.switch(WORDS)
    chars = site.switch("shakespeare-chars")
    tabs = [c for c in words if isinstance(c, app.gr.Tab)]
    assert [c.label for c in tabs] == ["Next word", "Which sentence is more likely?"]
    assert [words[c].visible for c in tabs] == [True, True] and [chars[c].visible for c in tabs] == [False, False]
    assert set(words) == set(chars)  # the same components follow every set
    compare = [c for c in words if isinstance(c, app.gr.Textbox) and "cmp-text" in (c.elem_classes or [])]
    assert [words[c].label.split(" · ")[0] for c in compare] == ["vanilla RNN", "LSTM", "GRU", "n-gram baseline"]
