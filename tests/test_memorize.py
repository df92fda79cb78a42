"""The memorization meter against brute-force searches with Python's `in`."""
from __future__ import annotations

import random

import numpy as np
import pytest

from rnnlm import memorize
from rnnlm.memorize import Index, codes_of, suffix_array


def brute_matching_statistics(train: str, gen: str) -> list[int]:
    """For each i, the longest L with gen[i : i + L] in train."""
    out = []
    for i in range(len(gen)):
        L = 0
        while i + L < len(gen) and gen[i : i + L + 1] in train:
            L += 1
        out.append(L)
    return out


def brute_spans(train: str, gen: str, min_len: int) -> list[tuple[int, int]]:
    """Runs of characters of gen covered by some substring of at least min_len characters found in train."""
    covered = [False] * len(gen)
    for i in range(len(gen)):
        for j in range(i + min_len, len(gen) + 1):
            if gen[i:j] in train:
                covered[i:j] = [True] * (j - i)
    spans, start = [], None
    for i, c in enumerate(covered + [False]):
        if c and start is None:
            start = i
        elif not c and start is not None:
            spans.append((start, i))
            start = None
    return spans


def random_cases(count: int, seed: int):
    """(train, gen) pairs over two- and three-letter alphabets, where long shared pieces are common; a
    third of the generated texts are spliced from pieces of the training text."""
    rng = random.Random(seed)
    for _ in range(count):
        alphabet = rng.choice(["ab", "abc", "aab"])
        train = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        if train and rng.random() < 0.33:
            gen = ""
            while len(gen) < 40:
                s = rng.randrange(len(train))
                gen += train[s : s + rng.randint(1, 30)]
        else:
            gen = "".join(rng.choice(alphabet + "c") for _ in range(rng.randint(0, 50)))
        yield train, gen


def test_suffix_array_sorts_the_suffixes():
    rng = random.Random(0)
    texts = ["", "a", "banana", "a" * 70, "ab" * 33 + "a", "abcabcabd" * 9, "mississippi"]
    texts += ["".join(rng.choice("ab") for _ in range(rng.randint(1, 300))) for _ in range(30)]
    for text in texts:
        assert suffix_array(codes_of(text)).tolist() == sorted(range(len(text)), key=lambda i: text[i:])


def test_matching_statistics_equal_brute_force():
    for train, gen in random_cases(150, seed=1):
        lengths, positions = Index(train).matching_statistics(gen)
        assert lengths.tolist() == brute_matching_statistics(train, gen), (train, gen)
        for i, (L, p) in enumerate(zip(lengths, positions)):
            assert (p == -1) if L == 0 else train[p : p + L] == gen[i : i + L]


def test_longest_copied_equals_brute_force():
    for train, gen in random_cases(150, seed=2):
        length, start, position = Index(train).longest_copied(gen)
        ms = brute_matching_statistics(train, gen)
        want = max(ms, default=0)
        assert length == want
        if want:
            assert start == ms.index(want) and train[position : position + length] == gen[start : start + length]
        else:
            assert (start, position) == (0, -1)


@pytest.mark.parametrize("window", [1, 3, 6])
def test_copied_fraction_equals_brute_force(window):
    for train, gen in random_cases(100, seed=3 + window):
        windows = [gen[i : i + window] for i in range(len(gen) - window + 1)]
        want = sum(w in train for w in windows) / len(windows) if windows else 0.0
        assert Index(train).copied_fraction(gen, window) == pytest.approx(want)


@pytest.mark.parametrize("min_len", [1, 4, 8])
def test_copied_spans_equal_brute_force(min_len):
    for train, gen in random_cases(80, seed=10 + min_len):
        assert Index(train).copied_spans(gen, min_len) == brute_spans(train, gen, min_len), (train, gen)


def test_contains_and_longest_piece_equal_brute_force():
    for train, gen in random_cases(150, seed=20):
        index = Index(train)
        assert index.contains(gen) == (gen in train)
        piece = index.longest_piece(gen)
        assert piece in train and len(piece) == max(brute_matching_statistics(train, gen), default=0)
        if train:
            s = len(train) // 3
            assert index.contains(train[s : s + 17])


def test_empty_texts_and_short_texts():
    empty = Index("")
    assert empty.longest_copied("abc") == (0, 0, -1)
    assert empty.copied_fraction("abc", window=1) == 0.0
    assert empty.copied_spans("abc", min_len=1) == []
    assert empty.contains("") and not empty.contains("a")
    index = Index("to be or not to be")
    assert index.longest_copied("") == (0, 0, -1)
    assert index.copied_fraction("", window=20) == 0.0
    assert index.copied_fraction("to be", window=20) == 0.0  # shorter than one window: no windows
    assert index.copied_fraction("to be", window=5) == 1.0
    assert index.copied_spans("xx to be or xx", min_len=5) == [(2, 12)]
    assert index.matching_statistics("")[0].shape == (0,)
    with pytest.raises(ValueError, match="window"):
        index.copied_fraction("to be", window=0)


def test_unicode_positions_are_string_indices():
    train = "naïve café — 日本語のテキスト 😀 emoji 𝔘𝔫𝔦 and \x00 nul, e\u0301 combining, \ud800 lone"
    index = Index(train)
    gen = "zz日本語のテキスト 😀 emoziz"
    length, start, position = index.longest_copied(gen)
    assert gen[start : start + length] == "日本語のテキスト 😀 emo"
    assert train[position : position + length] == gen[start : start + length]
    assert index.contains("𝔘𝔫𝔦 and \x00 nul") and index.contains("\ud800 lone") and not index.contains("😀😀")
    assert index.copied_spans("café — 日本", min_len=4) == [(0, 9)]
    assert index.matching_statistics(gen)[0].tolist() == brute_matching_statistics(train, gen)


def test_the_suffix_array_is_built_once_per_text_and_cached_on_disk(tmp_path, monkeypatch):
    text = "the quality of mercy is not strained " * 5
    first = Index(text, cache_dir=tmp_path)
    assert Index(text).sa is first.sa  # the in-process cache: same arrays, no second build
    files = list(tmp_path.glob("*.npy"))
    assert len(files) == 1 and np.load(files[0], allow_pickle=False).tolist() == first.sa.tolist()

    memorize._cache.clear()
    monkeypatch.setattr(memorize, "suffix_array", lambda codes: pytest.fail("rebuilt despite the disk cache"))
    assert Index(text, cache_dir=tmp_path).sa.tolist() == first.sa.tolist()

    memorize._cache.clear()
    files[0].write_bytes(b"not an npy file")
    monkeypatch.undo()
    rebuilt = Index(text, cache_dir=tmp_path)  # a damaged cache file is rebuilt, not trusted
    assert rebuilt.sa.tolist() == first.sa.tolist()
    assert np.load(files[0], allow_pickle=False).tolist() == first.sa.tolist()


def test_the_in_process_cache_keeps_the_latest_texts():
    memorize._cache.clear()
    for i in range(memorize.CACHE_SIZE + 2):
        Index(f"text number {i}")
    assert len(memorize._cache) == memorize.CACHE_SIZE
