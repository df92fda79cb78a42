"""How much of a text is copied verbatim from the training text: matching statistics over a suffix array.

For every position i of a generated text, the matching statistic ms[i] is the length of the longest prefix
of generated[i:] that occurs somewhere in the training text. Everything here reads off ms:

    longest_copied   the largest ms[i]: how long the longest verbatim copy is, and where
    copied_fraction  the share of windows generated[i : i + 20] with ms[i] >= 20
    copied_spans     the union of [i, i + ms[i]) over ms[i] >= min_len, as disjoint spans to highlight
    contains         ms[0] == len(passage)

ms[i] comes from the suffix array of the training text (its suffixes' start positions in sorted order):
a binary search finds where generated[i:] would sit among the sorted suffixes, and the longest match is
with one of the two suffixes beside that spot. All positions search at once, as arrays; each comparison
looks at a block of characters, doubling the block for the few pairs that still agree.

Texts are compared as Unicode code points, so positions are Python string indices. The suffix array is
built once per training text (prefix doubling that re-sorts only the still-tied suffixes: about 0.7 s for
Tiny Shakespeare's 1.1M characters) and kept in a small in-process cache keyed by the text's SHA-256,
and, given a cache_dir, in a .npy file there (plain arrays, never pickle).
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

CACHE_SIZE = 4  # training texts whose suffix arrays stay in memory
_cache: OrderedDict[str, tuple] = OrderedDict()
_cache_lock = threading.Lock()
TRAIN_END, QUERY_END = -1, -2  # what each text reads as past its end: below every character, and different
PAIR = 1 << 21  # above every code point: two characters as one key, first * PAIR + second


def codes_of(text: str) -> np.ndarray:
    """(len(text),) int32 code points."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int32)


def suffix_array(codes: np.ndarray) -> np.ndarray:
    """Start positions of the suffixes of codes in sorted order, by prefix doubling.

    After round k the suffixes are sorted by their first 2k characters; rank[i] is the position in sa where
    suffix i's group of equal 2k-prefixes begins, so sorting a group's members by (rank[i], rank[i + k])
    sorts them by 4k characters, and only groups still holding ties need sorting again.
    """
    n = len(codes)
    sa = np.argsort(codes, kind="stable")  # sorted by the first character
    head = np.empty(n, dtype=bool)  # head[p]: sa[p] starts a group
    head[:1] = True
    head[1:] = codes[sa[1:]] != codes[sa[:-1]]
    rank = np.empty(n, dtype=np.int64)
    rank[sa] = np.maximum.accumulate(np.where(head, np.arange(n), 0))
    k = 1
    while True:
        tied = np.flatnonzero(~(head & np.append(head[1:], True)))  # positions in groups of two or more
        if tied.size == 0:
            return sa
        s = sa[tied]
        after = np.where(s + k < n, rank[np.minimum(s + k, n - 1)], -1)  # -1: the suffix ends first
        key = rank[s] * (n + 1) + after + 1
        order = np.argsort(key)
        s, key = s[order], key[order]
        sa[tied] = s  # groups stay where they are: rank[s] is their start
        head[tied] = np.append(True, key[1:] != key[:-1])
        rank[s] = np.maximum.accumulate(np.where(head[tied], tied, 0))
        k *= 2


def _arrays_for(text: str, cache_dir: str | os.PathLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index's arrays for text, from the in-process cache, or made from the suffix array (read from
    cache_dir, or built and written there)."""
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    path = Path(cache_dir) / f"suffix-array-{key}.npy" if cache_dir is not None else None
    sa = None
    if path is not None and path.is_file():
        try:
            sa = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            sa = None  # unreadable: build it again
        if sa is not None and (sa.shape != (len(text),) or sa.dtype.kind not in "iu"):
            sa = None
    if sa is None:
        sa = suffix_array(codes_of(text)).astype(np.int32 if len(text) < 2**31 else np.int64)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npy")
            np.save(tmp, sa, allow_pickle=False)
            os.replace(tmp, path)  # atomically: a reader never sees half a file
    codes = np.append(codes_of(text), TRAIN_END)  # (n + 1,)
    # Each suffix's first two characters as one sorted key: one searchsorted narrows a search to the
    # suffixes that share a query's first two characters (about 6 of the 21 halvings on 1M characters).
    first2 = codes[sa].astype(np.int64) * PAIR + codes[sa + 1]  # (n,)
    with _cache_lock:
        _cache[key] = codes, sa, first2
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return codes, sa, first2


class Index:
    """A training text, indexed to find what other texts copy from it."""

    def __init__(self, text: str, cache_dir: str | os.PathLike | None = None):
        self.text = text
        # (n + 1,) code points and TRAIN_END, (n,) suffix array, (n,) first two characters of each suffix
        self._codes, self.sa, self._first2 = _arrays_for(text, cache_dir)

    def __len__(self) -> int:
        return len(self.text)

    def _compare(self, tpos: np.ndarray, qpos: np.ndarray, query: np.ndarray,
                 skip: np.ndarray | int = 0) -> tuple[np.ndarray, np.ndarray]:
        """For training suffixes tpos and query suffixes qpos (both (P,)) known to agree on their first skip
        characters: their common prefix length (P,) and whether the training suffix sorts first (P,).
        query ends with QUERY_END."""
        n, m, P = len(self._codes) - 1, len(query) - 1, len(tpos)
        lcp, less = np.zeros(P, dtype=np.int64), np.zeros(P, dtype=bool)
        todo, offset, width = np.arange(P), np.broadcast_to(np.asarray(skip, dtype=np.int64), (P,)), 8
        while todo.size:
            cols = offset[:, None] + np.arange(width)  # (P', width)
            a = self._codes.take(np.minimum(tpos[todo, None] + cols, n))
            b = query.take(np.minimum(qpos[todo, None] + cols, m))
            differ = a != b
            first = differ.argmax(axis=1)  # the first difference, or 0 where there is none in this block
            rows = np.flatnonzero(differ[np.arange(len(todo)), first])
            first = first[rows]
            lcp[todo[rows]] = offset[rows] + first
            less[todo[rows]] = a[rows, first] < b[rows, first]
            more = np.ones(len(todo), dtype=bool)  # the two texts' distinct ends guarantee a difference eventually
            more[rows] = False
            todo, offset, width = todo[more], offset[more] + width, width * 2
        return lcp, less

    def _matching_statistics(self, query: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, m = len(self.sa), len(query) - 1
        # Search only among the suffixes that begin with query[start : start + 2] (QUERY_END sorts before
        # the training text's end, so a one-character query gets the start of its first character's run).
        pair = query[starts].astype(np.int64) * PAIR + query[np.minimum(starts + 1, m)]
        lo, hi = np.searchsorted(self._first2, pair, "left"), np.searchsorted(self._first2, pair, "right")
        # Every suffix between two that share l and r characters with the query shares min(l, r) with it:
        # comparisons start there (Manber & Myers).
        llcp = np.where(hi > lo, 2, 0)
        rlcp = llcp.copy()
        active = np.flatnonzero(lo < hi)
        while active.size:  # lo ends at the first suffix that sorts at or after query[start:]
            mid = (lo[active] + hi[active]) // 2
            lcp, less = self._compare(self.sa[mid], starts[active], query, np.minimum(llcp[active], rlcp[active]))
            lo[active] = np.where(less, mid + 1, lo[active])
            hi[active] = np.where(less, hi[active], mid)
            llcp[active] = np.where(less, lcp, llcp[active])
            rlcp[active] = np.where(less, rlcp[active], lcp)
            active = active[lo[active] < hi[active]]
        lengths, positions = np.zeros(len(starts), dtype=np.int64), np.full(len(starts), -1, dtype=np.int64)
        for side in (lo - 1, lo):  # the longest match is with a neighbour of that spot
            ok = np.flatnonzero((side >= 0) & (side < n))
            lcp, _ = self._compare(self.sa[side[ok]].astype(np.int64), starts[ok], query)
            better = lcp > lengths[ok]
            lengths[ok[better]] = lcp[better]
            positions[ok[better]] = self.sa[side[ok[better]]]
        return lengths, positions

    def matching_statistics(self, generated: str) -> tuple[np.ndarray, np.ndarray]:
        """For each position i of generated: the length (len,) of the longest prefix of generated[i:] that
        occurs in the training text, and one training position (len,) where it does (-1 when length is 0)."""
        query = np.append(codes_of(generated), QUERY_END)
        return self._matching_statistics(query, np.arange(len(generated), dtype=np.int64))

    def longest_copied(self, generated: str) -> tuple[int, int, int]:
        """(length, start in generated, position in training) of the longest verbatim copy; the first
        one if several tie, and (0, 0, -1) when nothing (or an empty text) is copied."""
        lengths, positions = self.matching_statistics(generated)
        if not lengths.size or lengths.max() == 0:
            return 0, 0, -1
        start = int(lengths.argmax())
        return int(lengths[start]), start, int(positions[start])

    def copied_fraction(self, generated: str, window: int = 20) -> float:
        """The fraction of generated's windows of `window` characters that occur verbatim in the training
        text; 0.0 when generated is shorter than one window."""
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        if len(generated) < window:
            return 0.0
        lengths, _ = self.matching_statistics(generated)
        return float(np.mean(lengths[: len(generated) - window + 1] >= window))

    def copied_spans(self, generated: str, min_len: int = 20) -> list[tuple[int, int]]:
        """Disjoint (start, end) spans, sorted, covering every character of generated that lies in a piece
        of at least min_len characters occurring verbatim in the training text (touching pieces merge)."""
        if min_len < 1:
            raise ValueError(f"min_len must be at least 1, got {min_len}")
        lengths, _ = self.matching_statistics(generated)
        starts = np.flatnonzero(lengths >= min_len)
        if not starts.size:
            return []
        reach = np.maximum.accumulate(starts + lengths[starts])  # furthest end so far
        new = np.append(True, starts[1:] > reach[:-1])  # a piece that starts past every earlier end
        ends = np.append(reach[np.flatnonzero(new)[1:] - 1], reach[-1])
        return [(int(s), int(e)) for s, e in zip(starts[new], ends)]

    def longest_piece(self, passage: str) -> str:
        """The longest substring of passage that occurs in the training text (the first, if several)."""
        length, start, _ = self.longest_copied(passage)
        return passage[start : start + length]

    def contains(self, passage: str) -> bool:
        """Whether passage occurs verbatim in the training text."""
        if not passage:
            return True
        query = np.append(codes_of(passage), QUERY_END)
        lengths, _ = self._matching_statistics(query, np.zeros(1, dtype=np.int64))
        return int(lengths[0]) == len(passage)
