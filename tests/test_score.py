"""Scoring: per-character log-probabilities in one pass, matching step-by-step prediction."""
from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

from rnnlm import score
from rnnlm.sample import softmax


def step_by_step_logprobs(model, text, context="\n"):
    """Reference: one step call per character."""
    ids = model.vocab.encode(context + text)
    state, out = model.init_state(1), []
    for i in range(len(ids) - 1):
        logits, state = model.step(ids[i : i + 1], state)
        out.append(math.log(softmax(logits[0])[ids[i + 1]]))
    return np.array(out)


def test_matches_step_by_step_and_figures_agree(tiny_model):
    text = "BRUTUS:\nThe night is long."
    s = score(tiny_model, text)
    np.testing.assert_allclose(s.logprobs, step_by_step_logprobs(tiny_model, text), rtol=1e-4, atol=1e-5)
    assert s.chars_scored == len(text) and s.chars_skipped == 0
    assert s.nats_per_char == pytest.approx(-s.logprobs.mean())
    assert s.bits_per_char == pytest.approx(s.nats_per_char / math.log(2))
    assert s.perplexity == pytest.approx(math.exp(s.nats_per_char))
    assert s.next_probs.shape == (tiny_model.config.vocab_size,) and s.next_probs.sum() == pytest.approx(1)
    assert 0 <= s.next_entropy_bits <= math.log2(tiny_model.config.vocab_size)


def test_long_text_spans_several_chunks(tiny_model, monkeypatch):
    monkeypatch.setattr(importlib.import_module("rnnlm.score"), "CHUNK", 7)  # the package re-exports score()
    text = "PORTIA:\nI pray you, gentle sir, what news?"
    np.testing.assert_allclose(score(tiny_model, text).logprobs, step_by_step_logprobs(tiny_model, text), rtol=1e-4, atol=1e-5)


def test_unknown_characters_are_skipped_and_counted(tiny_model):
    s = score(tiny_model, "BRU😀TUS 你")
    assert s.chars_skipped == 2 and s.skipped == ["😀", "你"]
    assert s.chars_scored == len("BRUTUS ")
    assert s.nats_per_char == pytest.approx(score(tiny_model, "BRUTUS ").nats_per_char)


def test_nothing_to_score_is_a_clear_error(tiny_model):
    with pytest.raises(ValueError, match="nothing to score"):
        score(tiny_model, "")
    with pytest.raises(ValueError, match="nothing to score"):
        score(tiny_model, "😀😀")


def test_summary_has_the_json_fields(tiny_model):
    summary = score(tiny_model, "BRUTUS").summary()
    assert set(summary) >= {"nats_per_char", "bits_per_char", "perplexity", "chars_scored", "chars_skipped"}


# --- sentences ------------------------------------------------------------------------------------


def test_sentences_in_one_batch_score_as_each_alone(tiny_model, monkeypatch):
    from rnnlm.score import score_sentences

    sentences = ["BRUTUS:", "The night is long that never finds the day.", "No news", "I pray you, gentle sir."]
    for block in (1 << 22, 200):  # one batch of all; then a batch per sentence or two
        monkeypatch.setattr(importlib.import_module("rnnlm.score"), "SENTENCE_BLOCK", block)
        ranked = score_sentences(tiny_model, sentences)
        assert sorted(r.text for r in ranked) == sorted(sentences)
        assert [r.logprob for r in ranked] == sorted((r.logprob for r in ranked), reverse=True)
        for r in ranked:
            alone = score(tiny_model, r.text)  # after a newline, as every sentence is read
            np.testing.assert_allclose(r.logprobs, alone.logprobs, rtol=1e-4, atol=1e-5)
            assert r.logprob == pytest.approx(alone.logprobs.sum(), rel=1e-5)
            assert r.perplexity == pytest.approx(math.exp(-alone.logprobs.mean()), rel=1e-5)


def test_an_empty_list_or_an_unreadable_sentence_is_a_clear_error(tiny_model):
    from rnnlm.score import score_sentences

    with pytest.raises(ValueError, match="no sentences"):
        score_sentences(tiny_model, [])
    with pytest.raises(ValueError, match="sentence 2"):
        score_sentences(tiny_model, ["BRUTUS", "😀"])
@pytest.mark.parametrize("context", ["\n", "", "ACT I\n"])
def test_a_file_read_in_small_blocks_scores_as_the_whole_text(tiny_model, tmp_path, context):
    """score_file carries the state across blocks (3 bytes here, splitting the 2-byte 'é' too) and gives
    score()'s figures for the same text."""
    from rnnlm.score import score_file

    text = "BRUTUS:\nThe night is long, café 😀 and cold.\n" * 3
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    whole = score(tiny_model, text, context=context)
    blocks = score_file(tiny_model, path, context=context, block=3, progress=False)
    assert blocks.nats_per_char == pytest.approx(whole.nats_per_char, abs=1e-6)
    assert (blocks.chars_scored, blocks.chars_skipped) == (whole.chars_scored, whole.chars_skipped)
    assert set(blocks.skipped) == set(whole.skipped)


def test_a_file_that_is_not_utf8_names_the_byte(tiny_model, tmp_path):
    from rnnlm.score import score_file

    path = tmp_path / "t.txt"
    path.write_bytes(b"BRUTUS:\n" * 100 + b"\xff\xfe")
    with pytest.raises(ValueError, match=r"t.txt: not UTF-8 text at byte 800"):
        score_file(tiny_model, path, block=64, progress=False)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="nothing to score"):
        score_file(tiny_model, path, progress=False)


def test_scoring_uses_one_blas_thread_and_restores_the_setting(tiny_model, monkeypatch):
    from rnnlm import threads
    from rnnlm.models import runner

    before = threads.blas_threads()
    seen = []
    run = runner(tiny_model)
    real_forward = type(run).forward
    monkeypatch.setattr(type(run), "forward", lambda self, *a: seen.append(threads.blas_threads()) or real_forward(self, *a))
    score(tiny_model, "BRUTUS:\nThe night is long.")
    assert seen and set(seen) == {1}
    assert threads.blas_threads() == before
