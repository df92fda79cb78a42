"""The character vocabulary: sorted, stored in the checkpoint, unknown characters listed."""
from __future__ import annotations

import numpy as np
import pytest

from rnnlm import checkpoint, store
from rnnlm.vocab import Vocab, describe_chars
from tests.support import TEXT


def test_vocab_is_sorted_and_inside_the_checkpoint(tiny_model, tmp_path):
    store.save(tiny_model, tmp_path / "m")
    assert checkpoint.read_config(tmp_path / "m").vocab == "".join(sorted(set(TEXT)))


def test_encode_decode_round_trip_and_ids_follow_sorted_order():
    v = Vocab.from_text("hello world")
    assert v.chars == " dehlorw" and v.decode(v.encode("hello world")) == "hello world"
    assert v.encode("d").tolist() == [1]


def test_unknown_characters_are_listed_in_order_of_appearance():
    v = Vocab.from_text("abc")
    ids, unknown = v.encode_known("a😀bxa😀")
    assert ids.tolist() == [0, 1, 0] and unknown == ["😀", "x"]
    with pytest.raises(ValueError, match="U\\+1F600"):
        v.encode("😀")
    assert "U+1F600" in describe_chars(["😀"])


def test_an_unsorted_or_empty_vocabulary_is_refused():
    for bad in ("", "ba", "aab"):
        with pytest.raises(ValueError):
            Vocab(bad)
    assert np.array_equal(Vocab("ab").encode(""), np.array([], dtype=np.int64))
