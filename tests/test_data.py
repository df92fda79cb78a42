"""Reading a corpus, the 90/10 split and the parallel streams of training windows."""
from __future__ import annotations

import numpy as np
import pytest

from rnnlm.data import Batches, batchify, read_text, split, strip_gutenberg


def test_split_is_contiguous_90_10():
    train_text, val_text = split("abcdefghij" * 10)
    assert len(train_text) == 90 and train_text + val_text == "abcdefghij" * 10


def test_batches_are_parallel_streams_continuing_window_to_window():
    ids = np.arange(100)
    assert batchify(ids, 4).tolist()[1][:3] == [25, 26, 27]
    b = Batches(ids, batch_size=4, seq_len=5)
    x1, y1, new1 = b.next()
    x2, _, new2 = b.next()
    assert new1 and not new2
    np.testing.assert_array_equal(y1, x1 + 1)  # targets are the next characters
    np.testing.assert_array_equal(x2[:, 0], x1[:, -1] + 1)  # each row continues its stream


def test_read_text_names_what_is_wrong_with_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus not found"):
        read_text(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="is a folder"):
        read_text(tmp_path)
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="binary.bin is not UTF-8"):
        read_text(tmp_path / "binary.bin")
    (tmp_path / "one.txt").write_text("a")
    with pytest.raises(ValueError, match="too short"):
        read_text(tmp_path / "one.txt")


def test_too_few_characters_for_the_streams_is_a_clear_error():
    with pytest.raises(ValueError, match="too few for 8 streams"):
        batchify(np.arange(10), 8)


def test_gutenberg_header_and_footer_are_cut():
    book = "Title\n*** START OF THE BOOK ***\nOnce upon a time.\n*** END OF THE BOOK ***\nLicense"
    assert strip_gutenberg(book) == "Once upon a time.\n"
