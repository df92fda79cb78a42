"""Sampling: seeded, greedy at temperature 0, top-k/top-p respected, bad prompts handled."""
from __future__ import annotations

import numpy as np
import pytest

from rnnlm.sample import SampleSettings, generate, next_probs, pick, stream


def test_same_seed_same_text_and_other_seed_other_text(tiny_model):
    a = generate(tiny_model, "BRUTUS:", length=80, temperature=1.0, seed=11)
    b = generate(tiny_model, "BRUTUS:", length=80, temperature=1.0, seed=11)
    c = generate(tiny_model, "BRUTUS:", length=80, temperature=1.0, seed=12)
    assert a == b and len(a) == 80
    assert a != c


def test_temperature_zero_is_argmax_of_each_step(tiny_model):
    text = generate(tiny_model, "PORTIA:", length=30, temperature=0, seed=1)
    # replay with the model's own step function and argmax by hand
    ids = tiny_model.vocab.encode("\nPORTIA:")  # prompts are read after a newline
    logits, state = tiny_model.forward(ids[None, :], tiny_model.init_state(1))
    logits, expected = logits[0, -1], []
    for _ in range(30):
        nxt = int(np.argmax(logits))
        expected.append(tiny_model.vocab.chars[nxt])
        out, state = tiny_model.step(np.array([nxt]), state)
        logits = out[0]
    assert text == "".join(expected)


def test_top_k_never_leaves_the_top_k():
    logits = np.random.default_rng(0).normal(size=40)
    top3 = set(np.argsort(-logits)[:3])
    s = SampleSettings(temperature=2.0, top_k=3)
    rng = np.random.default_rng(1)
    drawn = {pick(logits, s, rng.random()) for _ in range(2000)}
    assert drawn == top3


def test_top_k_in_a_model_sample(tiny_model):
    # with top_k=1 sampling is greedy whatever the temperature
    greedy = generate(tiny_model, "BRUTUS:", length=40, temperature=0)
    assert generate(tiny_model, "BRUTUS:", length=40, temperature=1.5, top_k=1, seed=3) == greedy


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    p = next_probs(logits, SampleSettings(temperature=1.0, top_p=0.75))
    np.testing.assert_allclose(p, [0.5 / 0.8, 0.3 / 0.8, 0, 0])


def test_same_uniform_draws_for_every_model(tiny_model):
    # one uniform per character: the generator is advanced by exactly `length` draws
    rng = np.random.default_rng(5)
    generate(tiny_model, "x", length=25, temperature=1.0, rng=rng)
    ref = np.random.default_rng(5)
    ref.random(25)
    assert rng.random() == ref.random()


def test_unknown_prompt_characters_are_skipped_and_reported(tiny_model):
    s = stream(tiny_model, "BRU😀TUS: 你好", length=10, seed=0)
    assert s.skipped == ["😀", "你", "好"]
    assert len("".join(s)) == 10
    assert "".join(stream(tiny_model, "BRU😀TUS: 你好", length=10, seed=0)) == generate(tiny_model, "BRUTUS: ", length=10, seed=0)


def test_prompt_is_read_after_a_newline(tiny_model):
    assert generate(tiny_model, "BRUTUS:", length=20, seed=4) == generate(tiny_model, "\nBRUTUS:", length=20, seed=4)
    assert stream(tiny_model, "BRUTUS:", length=1).prompt.ids[0] == tiny_model.vocab.index["\n"]


def test_empty_or_all_unknown_prompt_starts_from_a_newline(tiny_model):
    newline = generate(tiny_model, "\n", length=20, seed=4)
    assert generate(tiny_model, "", length=20, seed=4) == newline
    s = stream(tiny_model, "😀😀", length=20, seed=4)
    assert "".join(s) == newline and s.skipped == ["😀"]


def test_streaming_yields_one_character_at_a_time(tiny_model):
    it = iter(stream(tiny_model, "B", length=5, seed=0))
    assert all(len(next(it)) == 1 for _ in range(5))
    with pytest.raises(StopIteration):
        next(it)


def test_long_prompt_is_cut_to_the_context_window(tiny_model):
    s = stream(tiny_model, "BRUTUS: " * 100_000, length=5, seed=0)
    assert s.prompt.truncated > 0 and len("".join(s)) == 5


@pytest.mark.parametrize(
    "bad",
    [dict(length=-1), dict(length=10**9), dict(temperature=-0.5), dict(temperature=float("nan")),
     dict(temperature=float("inf")), dict(top_k=-2), dict(top_p=0.0), dict(top_p=2.0)],
)
def test_bad_settings_are_refused_with_a_message(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        SampleSettings(**bad)


def test_length_zero_gives_nothing(tiny_model):
    assert generate(tiny_model, "B", length=0) == ""
