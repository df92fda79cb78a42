"""The Kneser-Ney n-gram: exact probabilities worked by hand, proper distributions, the model interface."""
from __future__ import annotations

from collections import Counter
from fractions import Fraction as F

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from rnnlm.config import ModelConfig, TrainConfig
from rnnlm.models.ngram import NO_TOKEN, NGramCounts, NGramLM, choose_order, discounts, fit, ngram_config
from rnnlm.vocab import Vocab

TOY = "aaaababacbb"  # over a, b, c: its count-of-counts give defined Chen-Goodman discounts at orders 1 and 2
ABC = Vocab("abc")


def markov_text(n: int, seed: int = 0, alphabet: str = "abcdefgh ") -> str:
    """A text whose next character mostly follows from the two before it: structure an n-gram can find."""
    rng = np.random.default_rng(seed)
    V = len(alphabet)
    table = rng.integers(0, V, size=(V, V))  # the likely successor of each pair
    ids = [0, 1]
    for _ in range(n - 2):
        ids.append(table[ids[-2], ids[-1]] if rng.random() < 0.8 else rng.integers(V))
    return "".join(alphabet[i] for i in ids)


TEXT = markov_text(3000)
VOCAB = Vocab.from_text(TEXT)


@pytest.fixture(scope="module")
def models() -> dict[int, NGramLM]:
    """Orders 1..12 on TEXT, counted once."""
    counts = NGramCounts(VOCAB.encode(TEXT), 12, len(VOCAB))
    out = {}
    for order in range(1, 13):
        out[order] = NGramLM(ngram_config(VOCAB, order))
        out[order].load_tensors(counts.tensors(order))
    return out


def p(model: NGramLM, context: str) -> dict[str, float]:
    return dict(zip(model.vocab.chars, model.probabilities(model.vocab.encode(context))))


# --- the hand computation ------------------------------------------------------------------------


def test_bigram_probabilities_equal_a_hand_computation():
    # TOY = a a a a b a b a c b b. Its bigrams: aa 3, ab 2, ba 2, ac 1, cb 1, bb 1.
    #   count-of-counts n1 = 3 (ac cb bb), n2 = 2 (ab ba), n3 = 1 (aa), n4 = 0; Y = 3 / (3 + 2*2) = 3/7
    #   D1 = 1 - 2 Y n2/n1 = 1 - 2 (3/7)(2/3) = 3/7;  D2 = 2 - 3 Y n3/n2 = 2 - 9/14 = 19/14;  D3+ = 3 - 0 = 3
    # Order 1 uses continuation counts, the distinct characters before each: a {a, b} 2, b {a, c, b} 3, c {a} 1.
    #   n1 = n2 = n3 = 1, n4 = 0; Y = 1/3;  D1 = 1 - 2/3 = 1/3;  D2 = 2 - 1 = 1;  D3+ = 3
    #   total 6; discounted a 2-1 = 1, b 3-3 = 0, c 1-1/3 = 2/3; freed 1 + 3 + 1/3 = 13/3, gamma = 13/18
    #   p1(a) = 1/6 + (13/18)(1/3) = 11/27,  p1(b) = 0 + 13/54 = 13/54,  p1(c) = (2/3)/6 + 13/54 = 19/54
    p1 = {"a": F(11, 27), "b": F(13, 54), "c": F(19, 54)}
    D = {1: F(3, 7), 2: F(19, 14), 3: F(3)}
    # Order 2 after "a": aa 3, ab 2, ac 1 (total 6); freed D3 + D2 + D1 = 3 + 19/14 + 3/7 = 67/14
    g_a = F(67, 14) / 6
    want_a = {"a": (3 - D[3]) / 6 + g_a * p1["a"], "b": (2 - D[2]) / 6 + g_a * p1["b"], "c": (1 - D[1]) / 6 + g_a * p1["c"]}
    # after "b": ba 2, bb 1 (total 3; the final b has no successor); freed 19/14 + 3/7 = 25/14
    g_b = F(25, 14) / 3
    want_b = {"a": (2 - D[2]) / 3 + g_b * p1["a"], "b": (1 - D[1]) / 3 + g_b * p1["b"], "c": g_b * p1["c"]}
    # after "c": cb 1 (total 1); freed 3/7
    want_c = {"a": D[1] * p1["a"], "b": 1 - D[1] + D[1] * p1["b"], "c": D[1] * p1["c"]}
    assert want_c["b"] == F(4, 7) + F(3, 7) * F(13, 54)  # one value in full: 4/7 + 39/378

    model = fit(ABC, ABC.encode(TOY), order=2)
    np.testing.assert_allclose(discounts(model.tensors()["count_of_counts"]),
                               [[1 / 3, 1, 3], [3 / 7, 19 / 14, 3]], rtol=1e-12)
    for context, want in (("", p1), ("a", want_a), ("b", want_b), ("c", want_c), ("ca", want_a)):
        got = p(model, context)
        for ch in "abc":
            assert got[ch] == pytest.approx(float(want[ch]), rel=1e-12), (context, ch)


def test_trigram_probabilities_equal_a_hand_computation():
    # Trigrams of TOY: aaa 2, aab 1, aba 2, bab 1, bac 1, acb 1, cbb 1: n1 = 5, n2 = 2, n3 = 0, so the
    # formulas are undefined and order 3 falls back to D = 0.5, 1, 1.5 (KenLM's defaults).
    # Order 2 now uses continuation counts, the distinct characters before each bigram:
    #   aa {a} 1, ab {a, b} 2, ba {a} 1, ac {b} 1, cb {a} 1, bb {c} 1: n1 = 5, n2 = 1, n3 = 0: fallback too.
    # Order 1 is as in the bigram model: p1 = 11/27, 13/54, 19/54.
    p1 = {"a": F(11, 27), "b": F(13, 54), "c": F(19, 54)}
    # p2(. | b): ba 1, bb 1 (total 2), each (1 - 1/2) / 2 = 1/4, gamma = (1/2 + 1/2) / 2 = 1/2
    p2_b = {"a": F(1, 4) + F(1, 2) * p1["a"], "b": F(1, 4) + F(1, 2) * p1["b"], "c": F(1, 2) * p1["c"]}
    # p3(. | ab): aba 2 (total 2), (2 - 1) / 2 = 1/2, gamma = 1 / 2
    want_ab = {ch: (F(1, 2) if ch == "a" else 0) + F(1, 2) * p2_b[ch] for ch in "abc"}
    # p3(. | cb): cbb 1 (total 1), (1 - 1/2) = 1/2, gamma = 1/2
    want_cb = {ch: (F(1, 2) if ch == "b" else 0) + F(1, 2) * p2_b[ch] for ch in "abc"}
    # p3(. | bb) : "bb" is never followed by anything, so the trigram backs off to p2(. | b) whole
    # p2(. | a) with continuation counts: aa 1, ab 2, ac 1 (total 4); (1/2 + 1 + 1/2) / 4 = 1/2 freed
    p2_a = {"a": F(1, 2) / 4 + F(1, 2) * p1["a"], "b": F(1, 4) + F(1, 2) * p1["b"], "c": F(1, 2) / 4 + F(1, 2) * p1["c"]}
    # p3(. | ca): "ca" never occurs: back off to p2(. | a)

    model = fit(ABC, ABC.encode(TOY), order=3)
    np.testing.assert_allclose(discounts(model.tensors()["count_of_counts"])[1:], [[0.5, 1, 1.5]] * 2)
    for context, want in (("ab", want_ab), ("cb", want_cb), ("bb", p2_b), ("b", p2_b), ("ca", p2_a), ("", p1)):
        got = p(model, context)
        for ch in "abc":
            assert got[ch] == pytest.approx(float(want[ch]), rel=1e-12), (context, ch)


def test_pruned_mass_moves_to_the_backoff_weight():
    # prune=2 drops the bigrams seen once (ac, cb, bb); counts and discounts are otherwise as in the bigram test.
    p1 = {"a": F(11, 27), "b": F(13, 54), "c": F(19, 54)}
    D = {1: F(3, 7), 2: F(19, 14), 3: F(3)}
    # after "a": aa 3 and ab 2 kept, 1 count pruned: total still 6, gamma = (D3 + D2 + 1) / 6
    g_a = (D[3] + D[2] + 1) / 6
    want_a = {"a": g_a * p1["a"], "b": (2 - D[2]) / 6 + g_a * p1["b"], "c": g_a * p1["c"]}
    # after "c": its only bigram is gone, so it is an unseen context: p1 itself
    model = fit(ABC, ABC.encode(TOY), order=2, prune=2)
    assert model.config.options == {"order": 2, "prune": 2}
    for context, want in (("a", want_a), ("c", p1)):
        got = p(model, context)
        for ch in "abc":
            assert got[ch] == pytest.approx(float(want[ch]), rel=1e-12), (context, ch)
    assert model.num_params() == 3 + 3  # the three unigram counts and aa, ab, ba


# --- counting --------------------------------------------------------------------------------


def decode_counts(tensors: dict, order: int, V: int) -> dict[tuple, int]:
    """{n-gram as a tuple of ids: stored count} read back from the storage format."""
    strings = {0: {0: ()}}  # length -> {context id: tokens}
    for L in range(1, order):
        keys = tensors[f"context{L}.keys"].astype(np.int64)
        strings[L] = {i: (int(k % V),) + strings[L - 1][int(k // V)] for i, k in enumerate(keys)}
    out = {}
    for n in range(1, order + 1):
        offsets = tensors[f"order{n}.offsets"]
        for c, h in strings[n - 1].items():
            for i in range(offsets[c], offsets[c + 1]):
                out[h + (int(tensors[f"order{n}.tokens"][i]),)] = int(tensors[f"order{n}.counts"][i])
    return out


def test_counts_equal_brute_force_counts():
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 3, size=400)
    seq = tuple(ids)
    order = 5
    got = decode_counts(NGramCounts(ids, order, 3).tensors(order), order, 3)
    raw = Counter(seq[i : i + order] for i in range(len(seq) - order + 1))
    want = dict(raw)
    for n in range(1, order):  # below the top, continuation counts: distinct tokens before each n-gram
        longer = {seq[i : i + n + 1] for i in range(len(seq) - n)}
        want.update(Counter(g[1:] for g in longer))
    assert got == want


# --- proper distributions and the interface ----------------------------------------------------


@pytest.mark.parametrize("order", range(1, 13))
def test_probabilities_sum_to_one_at_random_contexts(models, order):
    model, ids = models[order], VOCAB.encode(TEXT)
    rng = np.random.default_rng(order)
    contexts = [ids[s : s + L] for s, L in zip(rng.integers(0, len(ids) - 20, 20), rng.integers(0, order + 3, 20))]
    contexts += [rng.integers(0, len(VOCAB), size=L) for L in range(order + 2)]  # mostly unseen
    for context in contexts:
        probs = model.probabilities(context)
        assert abs(probs.sum() - 1.0) < 1e-9
        assert (probs > 0).all()


def test_pruned_models_are_proper_distributions_too():
    ids = VOCAB.encode(TEXT)
    for prune in (1, 2, 4):
        model = fit(VOCAB, ids, 6, prune=prune)
        for s in range(0, 2000, 97):
            assert abs(model.probabilities(ids[s : s + 9]).sum() - 1.0) < 1e-9


def test_one_forward_scores_a_sequence_as_its_steps_do(models):
    model, ids = models[6], VOCAB.encode(TEXT[:300])
    logits, state = model.forward(ids[None], model.init_state(1))  # (1, T, V), the batched path
    forward_score = logits[0, np.arange(len(ids) - 1), ids[1:]].astype(np.float64).sum()
    step_state, step_score = model.init_state(1), 0.0
    for t in range(len(ids) - 1):
        out, step_state = model.step(ids[t : t + 1], step_state)  # (1, V), the one-stream path
        step_score += float(out[0, ids[t + 1]])
    assert forward_score == pytest.approx(step_score, rel=1e-6)
    assert forward_score == pytest.approx(model.token_logprobs(ids).sum(), rel=1e-6)
    np.testing.assert_array_equal(state, ids[None, -5:])


def test_forward_logits_are_log_probabilities_and_batch_rows_run_alone(models):
    model = models[4]
    ids = np.random.default_rng(1).integers(0, len(VOCAB), size=(3, 7))
    logits, state = model.forward(ids, model.init_state(3))
    assert logits.dtype == np.float32 and logits.shape == (3, 7, len(VOCAB))
    np.testing.assert_allclose(np.exp(logits.astype(np.float64)).sum(-1), 1.0, atol=1e-5)
    for b in range(3):
        alone, alone_state = model.forward(ids[b : b + 1], model.init_state(1))
        np.testing.assert_allclose(alone[0], logits[b], rtol=1e-6)
        np.testing.assert_array_equal(alone_state[0], state[b])


def test_state_holds_the_last_tokens_with_sentinels_at_the_start(models):
    model = models[5]
    state = model.init_state(2)
    assert state.shape == (2, 4) and (state == NO_TOKEN).all()
    _, state = model.forward(np.array([[1, 2], [3, 4]]), state)
    np.testing.assert_array_equal(state, [[NO_TOKEN, NO_TOKEN, 1, 2], [NO_TOKEN, NO_TOKEN, 3, 4]])
    assert model.state_from_tensors(model.state_tensors(state)).tolist() == state.tolist()
    assert models[1].init_state(3).shape == (3, 0)


def test_only_the_last_order_minus_one_tokens_count(models):
    model, ids = models[4], VOCAB.encode(TEXT)
    tail = ids[100:103]
    for prefix in (ids[:50], ids[500:507], np.array([0, 0, 0])):
        np.testing.assert_array_equal(model.probabilities(np.concatenate([prefix, tail])), model.probabilities(tail))
    a, _ = model.forward(np.concatenate([ids[:40], tail])[None], model.init_state(1))
    b, _ = model.forward(np.concatenate([ids[200:230], tail])[None], model.init_state(1))
    np.testing.assert_allclose(a[0, -1], b[0, -1], rtol=1e-6)


def test_unseen_contexts_back_off_to_their_longest_seen_suffix():
    vocab = Vocab("abcdz")  # z never occurs in training
    train = vocab.encode("abcabdabcabdabcabd")
    model = fit(vocab, train, order=4)
    # "dab" occurs, "cab" occurs; "zab" and "bab" never do: both back off to "ab"
    np.testing.assert_array_equal(model.probabilities(vocab.encode("zab")), model.probabilities(vocab.encode("ab")))
    np.testing.assert_array_equal(model.probabilities(vocab.encode("bab")), model.probabilities(vocab.encode("ab")))
    assert not np.array_equal(model.probabilities(vocab.encode("cab")), model.probabilities(vocab.encode("ab")))
    # a context ending in an unseen token backs off to the unigram distribution, which still gives z some mass
    unigram = model.probabilities([])
    np.testing.assert_array_equal(model.probabilities(vocab.encode("abz")), unigram)
    assert 0 < unigram[vocab.index["z"]] < unigram[:4].min()
    assert model.probabilities(vocab.encode("ab")).argmax() in (vocab.index["c"], vocab.index["d"])


def test_tensors_round_trip_through_safetensors(models, tmp_path):
    model = fit(VOCAB, VOCAB.encode(TEXT), 7, prune=5)
    tensors = model.tensors()
    assert all(t.dtype.kind in "iu" for t in tensors.values())  # counts only: no floats, no objects
    save_file(tensors, str(tmp_path / "model.safetensors"))
    loaded = NGramLM(ngram_config(VOCAB, 7, prune=5))
    loaded.load_tensors(load_file(str(tmp_path / "model.safetensors")))
    ids = VOCAB.encode(TEXT[:200])[None]
    np.testing.assert_array_equal(loaded.forward(ids, loaded.init_state(1))[0], model.forward(ids, model.init_state(1))[0])
    assert loaded.num_params() == model.num_params()
    assert abs(model.size_mb() * 1e6 - (tmp_path / "model.safetensors").stat().st_size) < 1000


def test_load_tensors_names_what_is_wrong(models):
    model = models[3]
    tensors = model.tensors()
    with pytest.raises(ValueError, match="missing tensors: context2.keys"):
        model.load_tensors({k: v for k, v in tensors.items() if k != "context2.keys"})
    with pytest.raises(ValueError, match="unexpected tensors: extra"):
        model.load_tensors(tensors | {"extra": np.zeros(1, np.int64)})
    with pytest.raises(ValueError, match="order2.offsets"):
        model.load_tensors(tensors | {"order2.offsets": tensors["order2.offsets"][:-1]})
    with pytest.raises(ValueError, match="order3"):
        model.load_tensors(tensors | {"order3.counts": np.zeros_like(tensors["order3.counts"])})
    with pytest.raises(ValueError, match="1-D integer"):
        model.load_tensors(tensors | {"order1.counts": tensors["order1.counts"].astype(np.float32)})
    probs = model.probabilities([1, 2])
    model.load_tensors(tensors)  # a failed load leaves nothing half-loaded
    np.testing.assert_array_equal(model.probabilities([1, 2]), probs)


def test_a_fresh_model_is_uniform_and_the_order_lives_in_the_config():
    model = NGramLM(ngram_config(ABC, 3))
    np.testing.assert_allclose(model.probabilities([0, 1]), [1 / 3] * 3)
    assert model.config.model_type == "ngram" and model.config.options["order"] == 3
    with pytest.raises(ValueError, match="order"):
        NGramLM(ModelConfig(vocab="abc"))
    with pytest.raises(TypeError, match="counting"):
        model.trainer(TrainConfig())


def test_ids_and_states_outside_the_vocabulary_are_errors(models):
    model = models[3]
    with pytest.raises(ValueError, match="token ids"):
        model.forward(np.array([[len(VOCAB)]]), model.init_state(1))
    with pytest.raises(ValueError, match="state"):
        model.step(np.array([0]), model.init_state(2))


# --- fitting choices -------------------------------------------------------------------------


def test_choose_order_finds_the_structure_of_the_text():
    ids = VOCAB.encode(markov_text(20000, seed=1))
    best, curve = choose_order(ids[:18000], ids[18000:], max_order=6)
    assert sorted(curve) == [1, 2, 3, 4, 5, 6] and curve[best] == min(curve.values())
    assert curve[3] < curve[2] - 0.2  # two characters of context is what the source uses ...
    assert best >= 3 and curve[best] > curve[3] - 0.01  # ... and more buys (almost) nothing


def test_max_mb_prunes_until_the_model_fits():
    ids = VOCAB.encode(TEXT)
    full = fit(VOCAB, ids, 8)
    small = fit(VOCAB, ids, 8, max_mb=full.size_mb() / 2)
    assert small.size_mb() <= full.size_mb() / 2 and small.config.options["prune"] > 0
    assert fit(VOCAB, ids, 8, max_mb=1.0).config.options["prune"] == 0
    with pytest.raises(ValueError, match="does not fit"):
        fit(VOCAB, ids, 8, max_mb=1e-5)
