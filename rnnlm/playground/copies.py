"""Memorization: how much of a text the models' training text already holds, for the app's views.

The index is built once per training text (a suffix array over ~1 MB in under a second) and kept; a
model's training text is found by rnnlm.data.find_corpus from the name its config records. Without the
text on this machine (a corpus is never bundled), the views say so instead.
"""
from __future__ import annotations

import html
import threading
from dataclasses import dataclass

from ..data import corpus_split
from ..memorize import Index

WINDOW = 20  # characters: a copied window this long is not chance
RECALL_CHARS = 50  # a scored passage sharing this many characters with the training text is flagged

_indexes: dict[str, Index | None] = {}
_lock = threading.Lock()


def training_index(config) -> Index | None:
    """The index of the training split of the text config.training["data"] names, or None when not here."""
    recorded = str(config.training.get("data", ""))
    with _lock:
        if recorded not in _indexes:
            texts = corpus_split(config.training)
            _indexes[recorded] = None if texts is None else Index(texts[0])
        return _indexes[recorded]


@dataclass
class CopyReport:
    """What of a generated text occurs verbatim in the training text."""

    longest: int  # characters of the longest verbatim copy
    fraction: float  # share of the text's WINDOW-character windows found in the training text
    spans: list[tuple[int, int]]  # (start, end) of the copied stretches of at least WINDOW characters

    def summary(self) -> str:
        return (f"longest copy from the training text: {self.longest} characters · "
                f"{self.fraction:.0%} of its {WINDOW}-character windows occur there")


def copy_report(index: Index, text: str) -> CopyReport:
    return CopyReport(index.longest_copied(text)[0], index.copied_fraction(text, WINDOW),
                      index.copied_spans(text, WINDOW))


def copies_html(label: str, text: str, report: CopyReport) -> str:
    """text with its copied stretches marked (<mark>), under a line of figures."""
    pieces, last = [], 0
    for start, end in report.spans:
        pieces += [html.escape(text[last:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        last = end
    pieces.append(html.escape(text[last:]))
    return (f'<div class="copies"><div class="copies-title"><b>{html.escape(label)}</b>: '
            f'{html.escape(report.summary())}</div><pre>{"".join(pieces)}</pre></div>')


def recall_note(index: Index | None, passage: str) -> str:
    """A warning when a scored passage occurs in the training text (its low loss is recall, not prediction)."""
    if index is None or not passage:
        return ""
    piece = index.longest_piece(passage)
    if len(piece) == len(passage):
        return "This whole passage occurs in the models' training text: a low loss here is recall, not prediction."
    if len(piece) >= RECALL_CHARS:
        return (f"{len(piece)} characters of this passage occur verbatim in the models' training text "
                f"(“{piece[:40]}…”): there a low loss is recall, not prediction.")
    return ""
