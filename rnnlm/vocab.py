"""Character vocabulary: the sorted set of a corpus' characters."""
from __future__ import annotations

import numpy as np


class Vocab:
    """Maps characters to ids and back. Sorted, so the same text always gives the same ids."""

    def __init__(self, chars: str):
        if not chars:
            raise ValueError("empty vocabulary")
        if len(set(chars)) != len(chars) or list(chars) != sorted(chars):
            raise ValueError("vocabulary must be sorted unique characters")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self._lookup = np.array(list(chars))

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self.index

    def encode(self, text: str) -> np.ndarray:
        """Ids of text; raises KeyError-free ValueError listing characters not in the vocabulary."""
        ids, unknown = self.encode_known(text)
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {describe_chars(unknown)}")
        return ids

    def encode_known(self, text: str) -> tuple[np.ndarray, list[str]]:
        """Ids of the known characters, and the distinct unknown ones (in order of appearance)."""
        index = self.index
        ids = [index.get(c, -1) for c in text]
        arr = np.array(ids, dtype=np.int64)
        unknown = list(dict.fromkeys(c for c, i in zip(text, ids) if i < 0)) if (arr < 0).any() else []
        return arr[arr >= 0], unknown

    def decode(self, ids) -> str:
        return "".join(self._lookup[np.asarray(ids, dtype=np.int64)])


def make_vocab(config) -> Vocab:
    """The vocabulary a model config stores (config.vocab)."""
    return Vocab(config.vocab)


def describe_chars(chars) -> str:
    """Human-readable list of characters: '😀' (U+1F600), ..."""
    shown = [f"{c!r} (U+{ord(c):04X})" for c in list(chars)[:20]]
    more = len(chars) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
