"""The app's input checks (rnnlm.playground.inputs): usable values back, a note for each change, errors that
say what to do. The API tests in test_app.py check the same through a served app."""
from __future__ import annotations

import math

import pytest

from rnnlm.playground.inputs import (
    DEFAULTS, MAX_GENERATE, MAX_PROMPT, MAX_SCORE, InputError, check_sampling, check_score_text, check_seed,
)
from rnnlm.sample import GREEDY_BELOW, SampleSettings
from rnnlm.vocab import Vocab

VOCAB = Vocab.from_text("abc \n")


def test_defaults_are_the_library_defaults():
    lib = SampleSettings()
    assert (DEFAULTS["length"], DEFAULTS["temperature"], DEFAULTS["top_k"], DEFAULTS["top_p"]) == (
        lib.length, lib.temperature, lib.top_k, lib.top_p)


def test_values_in_range_pass_without_notes():
    req = check_sampling("ab", 40, 0.8, 5, 0.9, "12")
    s = req.settings
    assert (req.prompt, s.length, s.temperature, s.top_k, s.top_p, s.seed) == ("ab", 40, 0.8, 5, 0.9, 12)
    assert req.notes == [] and not req.random_seed


@pytest.mark.parametrize("field, value, used, words", [
    ("length", 10**9, MAX_GENERATE, "length 1,000,000,000 is above"),
    ("length", "abc", DEFAULTS["length"], "length 'abc' is not a number"),
    ("temperature", -3, 0.0, "below 0"),
    ("temperature", math.inf, 2.0, "temperature inf is above"),
    ("top_k", 2.5, 2, "top-k 2.5 is not a whole number"),
    ("top_p", 0, 0.01, "top-p 0 is below"),
])
def test_out_of_range_values_are_clamped_with_a_note_naming_them(field, value, used, words):
    args = dict(prompt="ab", length=40, temperature=0.8, top_k=0, top_p=1.0, seed="1") | {field: value}
    req = check_sampling(**args)
    assert getattr(req.settings, field) == used
    assert any(words in n.text for n in req.notes), [n.text for n in req.notes]


def test_a_tiny_positive_temperature_is_greedy_and_says_so():
    req = check_sampling("ab", 40, 1e-310, 0, 1.0, "1")
    assert req.settings.greedy and req.settings.temperature < GREEDY_BELOW
    assert any("sampling greedily" in n.text for n in req.notes)
    assert "(greedy)" in req.summary()


def test_a_long_prompt_keeps_its_end_and_says_so():
    req = check_sampling("x" * (MAX_PROMPT + 10) + "END", 40, 0.8, 0, 1.0, "1")
    assert req.prompt.endswith("END") and len(req.prompt) == MAX_PROMPT
    assert any("using its last" in n.text for n in req.notes)


def test_seeds_random_numbers_and_nonsense():
    notes = []
    assert check_seed("random", notes)[1] and check_seed("", notes)[1] and notes == []
    assert check_seed("7", notes) == (7, False)
    seed, drawn = check_seed("seven", notes)
    assert drawn and "not a number" in notes[-1].text
    assert check_seed(str(2**40), notes)[0] == 2**40 % 2**32 and "not a whole number from 0" in notes[-1].text


def test_score_text_is_cut_to_its_start_and_nothing_scorable_is_an_error():
    text, notes = check_score_text("ab" * MAX_SCORE, VOCAB)
    assert len(text) == MAX_SCORE and "scoring its first" in notes[0].text
    for bad in ("", "   ", None):
        with pytest.raises(InputError, match="Nothing to score"):
            check_score_text(bad, VOCAB)
    with pytest.raises(InputError, match="know none of these characters"):
        check_score_text("xyz", VOCAB)
    with pytest.raises(InputError, match="must be text"):
        check_score_text(42, VOCAB)
