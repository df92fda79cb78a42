"""Word tokens: splitting and writing back prose, the vocabulary and <unk>, the spelling model, and word models
stored, loaded, sampled and scored like character ones."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rnnlm import checkpoint, generate, score, store
from rnnlm.config import ModelConfig
from rnnlm.models import build_model
from rnnlm.sample import softmax, top_next
from rnnlm.vocab import NEWLINE, UNK, Spelling, Vocab, WordVocab, make_vocab, split_words
from tests.support import WORD_TEXT, trained_folder, word_config

PROSE = (
    "To Sherlock Holmes she is always _the_ woman. I have seldom heard him\n"
    "mention her under any other name. “I didn’t know,” said he; “it’s Holmes’s case—not mine!”\n"
    "\n"
    "The Red-Headed League paid £ 4 a week (for 1,000 hours at 5:15, or 3.5 years?). 'Tis so: we'll see.\n"
    'He said, "Come at once." And I went.\n'
)


def words(text: str) -> list[str]:
    return [t for t, _ in split_words(text)]


# --- splitting and writing back -------------------------------------------------------------------


def test_prose_splits_into_words_and_punctuation_and_comes_back_exactly():
    v = WordVocab.build(PROSE, 1000)
    assert v.decode(v.encode(PROSE)) == PROSE
    assert words("didn’t Holmes’s we'll") == ["did", "n’t", "Holmes", "’s", "we", "'ll"]
    assert words("“Yes,” he said.\n\n") == ["“", "Yes", ",", "”", "he", "said", ".", "\n", "\n"]
    assert words("1,000 at 5:15 and 3.5") == ["1,000", "at", "5:15", "and", "3.5"]


@pytest.mark.parametrize("tokens, text", [
    (["Well", ",", "I", "did", "n't", "."], "Well, I didn't."),
    (["(", "so", ")", "he", "said", ":", "“", "no", "!", "”"], "(so) he said: “no!”"),
    (["a", "—", "b", "-", "c"], "a—b-c"),
    (['"', "Hi", '"', "she", "said", '"', "again", '"'], '"Hi" she said "again"'),
    (["_", "the", "_", "woman"], "_the_ woman"),
    (["one", "\n", "two", "\n", "\n", "three"], "one\ntwo\n\nthree"),
    (["Holmes", "’s", "pipe", "’"], "Holmes’s pipe’"),
    (["\n", "'", "Tis", "true"], "\n'Tis true"),
])
def test_spacing_rules(tokens, text):
    v = WordVocab([UNK, NEWLINE, *dict.fromkeys(t for t in tokens if t != NEWLINE)])
    assert v.decode([v.index[t] for t in tokens]) == text


def test_a_continuation_is_spaced_after_its_prompt():
    v = WordVocab.build(WORD_TEXT, 40)
    assert v.detokenizer("the cat").piece("sat") == " sat"
    assert v.detokenizer("the cat ").piece("sat") == "sat"  # the prompt's own space
    assert v.detokenizer("the cat").piece(",") == ","
    assert v.detokenizer("").piece("The") == "The"
    assert v.detokenizer('he said "yes').piece('"') == '"'  # closes the quote the prompt opened


# --- the vocabulary -------------------------------------------------------------------------------


def test_vocab_size_keeps_the_most_frequent_training_tokens_and_the_rest_read_as_unk():
    text = "b b b a a c\n" * 3 + "d"
    v = WordVocab.build(text, 4)
    assert v.tokens == [UNK, NEWLINE, "b", "a"]  # <unk> and the line break, then by count
    enc = v.encode_text("a c zebra b")
    assert enc.ids.tolist() == [3, 0, 0, 2] and enc.unknown == ["c", "zebra"]
    assert v.encode_known("c c")[1] == ["c"]
    with pytest.raises(ValueError, match="--vocab-size"):
        WordVocab.build(text, 0)
    assert len(WordVocab.build(text, 100)) == 2 + 4  # no more tokens than the text has


def test_lowercase_folds_case_before_counting():
    v = WordVocab.build("The the THE cat\n", 10, lowercase=True)
    assert v.tokens == [UNK, NEWLINE, "the", "cat"]
    assert v.decode(v.encode("The CAT")) == "the cat"
    assert WordVocab.build("The the\n", 10).tokens == [UNK, NEWLINE, "The", "the"]


def test_the_spelling_model_matches_a_hand_computation():
    s = Spelling("ab", [3, 1], 2)
    z = 3 + 1 + 2 + 1 + 2 + 1  # counts, one added to each of a, b, "other" and end-of-word
    assert s.bits("ab") == pytest.approx(-math.log2(4 / z * 2 / z * 3 / z))
    assert s.bits("") == pytest.approx(-math.log2(3 / z))
    assert s.bits("z") == pytest.approx(-math.log2(1 / z / (0x110000 - 2) * 3 / z))  # any unseen character alike
    assert Spelling.count(["ab", "a", "a"]) == Spelling("ab", [3, 1], 3)


def test_the_spelling_model_sums_to_one_over_strings():
    s = Spelling("ab", [3, 1], 2)
    p_char = {c: 2.0 ** -(s.bits(c) - s.bits("")) for c in "ab"}  # p(c) = p(c, end) / p(end)
    p_other = 2.0 ** -(s.bits("z") - s.bits("")) * (0x110000 - 2)
    p_end = 2.0 ** -s.bits("")
    assert sum(p_char.values()) + p_other + p_end == pytest.approx(1.0)


# --- in a checkpoint ------------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["rnn", "lstm", "gru"])
def test_a_word_model_saves_and_loads_with_its_vocabulary(model_type, tmp_path):
    model = build_model(word_config(model_type), seed=1)
    store.save(model, tmp_path / "m")
    config = checkpoint.read_config(tmp_path / "m")
    assert config.tokens["kind"] == "word" and config.vocab == model.vocab.tokens
    loaded = store.load(tmp_path / "m", inference=True)
    assert isinstance(loaded.vocab, WordVocab) and loaded.vocab.spelling == model.vocab.spelling
    ids = loaded.vocab.encode("the cat sat")[None]
    np.testing.assert_allclose(loaded.forward(ids, loaded.init_state(1))[0], model.forward(ids, model.init_state(1))[0],
                               rtol=1e-4, atol=1e-5)


def test_an_old_character_checkpoint_without_a_tokens_field_loads_as_characters(tmp_path):
    folder = trained_folder(tmp_path / "old", "rnn")
    doc = json.loads((folder / "config.json").read_text())
    del doc["tokens"]
    (folder / "config.json").write_text(json.dumps(doc))
    model = store.load(folder)
    assert isinstance(model.vocab, Vocab) and model.vocab.kind == "char"


@pytest.mark.parametrize("change, message", [
    (dict(tokens={"kind": "syllable"}), "tokens.kind must be char or word"),
    (dict(tokens={"kind": "word", "max_size": 0}), "--vocab-size"),
    (dict(vocab=["a", "b"]), "must hold '<unk>' and '\\\\n'"),
    (dict(vocab=[UNK, NEWLINE, "a", "a"]), "must not repeat"),
    (dict(tokens={"kind": "char"}), "vocab must be a string"),
    (dict(tokens={"kind": "word", "shape": 1}), "unknown keys"),
])
def test_a_bad_tokens_field_is_refused_by_name(change, message):
    fields = word_config("rnn").to_dict() | change
    with pytest.raises(ValueError, match=message):
        ModelConfig.from_dict(fields)


# --- sampling and scoring -------------------------------------------------------------------------


def test_greedy_generation_writes_the_argmax_words_as_text():
    model = build_model(word_config("gru"), seed=2)
    v = model.vocab
    state, ids = model.init_state(1), [v.index[NEWLINE], *v.encode("the cat").tolist()]
    logits, state = model.forward(np.array([ids]), state)
    logits, chosen = logits[0, -1], []
    for _ in range(8):
        chosen.append(int(np.argmax(logits)))
        step, state = model.step(np.array(chosen[-1:]), state)
        logits = step[0]
    writer = v.detokenizer("the cat")
    expected = "".join(writer.piece(v.tokens[i]) for i in chosen)
    assert generate(model, "the cat", length=8, temperature=0) == expected


def test_top_next_is_sorted_and_matches_the_distribution():
    model = build_model(word_config("lstm"), seed=4)
    nxt = top_next(model, "the cat", k=5)
    assert list(nxt.probs) == sorted(nxt.probs, reverse=True) and nxt.probs.sum() <= 1 + 1e-9
    ids = model.vocab.encode("\nthe cat")[None]
    p = softmax(model.forward(ids, model.init_state(1))[0][0, -1])
    assert nxt.probs[0] == pytest.approx(p.max()) and model.vocab.index[nxt.tokens[0]] == int(np.argmax(p))
    everything = top_next(model, "the cat", k=len(model.vocab))
    assert everything.probs.sum() == pytest.approx(1.0)
    assert top_next(model, "zebra quagga", 3).unknown_only and not nxt.unknown_only


def test_unknown_words_score_as_unk_plus_their_spelling():
    model = build_model(word_config("rnn"), seed=5)
    v = model.vocab
    text = "the zebra sat."
    s = score(model, text)
    ids = v.encode("\n" + text)
    lp = np.log(np.stack([softmax(l) for l in model.forward(ids[None, :-1], model.init_state(1))[0][0]]))
    by_hand = -lp[np.arange(len(ids) - 1), ids[1:]]  # nats per token, read after the newline
    assert s.tokens == ["the", "zebra", "sat", "."] and s.unk_tokens == 1 and s.skipped == ["zebra"]
    assert s.nats_per_token == pytest.approx(by_hand.mean(), rel=1e-5)
    bits = by_hand.sum() / math.log(2) + v.spelling.bits("zebra")
    assert s.characters == len(text) and s.bits_per_char == pytest.approx(bits / len(text), rel=1e-5)
    assert s.text == text and s.pieces == ["the", " zebra", " sat", "."]


def test_a_character_models_bits_per_char_are_its_bits_per_token(tiny_model):
    s = score(tiny_model, "BRUTUS:\nThe night is long.")
    assert s.bits_per_char == pytest.approx(s.bits_per_token) and s.unk_tokens == 0
    assert s.tokens_scored == s.characters == len("BRUTUS:\nThe night is long.")


def test_make_vocab_reads_the_kind_from_the_config():
    assert make_vocab(word_config("rnn")).kind == "word"
    assert make_vocab(ModelConfig(vocab="ab")).kind == "char"


def test_a_word_model_can_be_looked_inside_by_gates_and_gradients_but_not_by_character_features():
    from rnnlm import inspect as ins

    model = build_model(word_config("lstm"), seed=6)
    sample = ins.run_sample(model, WORD_TEXT, streams=2)
    assert sample.ranked == {} and set(sample.saturation) and sample.chars > 0
    notes: list[str] = []
    ids = ins.passage_ids(model.vocab, "the zebra sat on the mat. " * 20, notes)
    assert any("<unk>" in n and "zebra" in n for n in notes)
    flow = ins.gradient_flow(model, ids, depth=10, targets=2)
    assert len(flow.norms) == 10 and flow.norms[0] > 0


def test_a_file_read_in_small_blocks_scores_as_the_whole_text(tmp_path):
    from rnnlm.score import score_file

    model = build_model(word_config("lstm"), seed=7)
    text = WORD_TEXT[: len(WORD_TEXT) // 10] + "The zebra slept.\n"  # WORD_TEXT is 40 copies of the sentences
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    whole = score(model, text)
    for block in (7, 64, 1 << 20):  # blocks that cut words; one block
        totals = score_file(model, path, block=block, progress=False)
        assert totals.tokens_scored == whole.tokens_scored and totals.unk_tokens == whole.unk_tokens == 1
        assert totals.characters == whole.characters == len(text)
        assert totals.nats_per_token == pytest.approx(whole.nats_per_token, rel=1e-5)
        assert totals.bits_per_char == pytest.approx(whole.bits_per_char, rel=1e-5)
    assert totals.summary().keys() == whole.summary().keys()
