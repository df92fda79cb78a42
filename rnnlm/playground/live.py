"""What runs a model per request: streamed generation (one model or three interleaved) and scoring."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..models import MODELS
from ..sample import SampleSettings, Stream
from ..score import Score, score
from .loading import Served

ROUND_CHARS = 50  # characters each model adds per round of compare: the columns grow together, and each
# model runs long enough to keep its weights in cache (5 a round ran compare 1.7x slower)
FIRST_ROUND_CHARS = 8  # ... except the first round, short so the first characters show at once
EVERY_CHARS = 100  # yield an update after this many new characters per column ...
EVERY_SECONDS = 0.1  # ... or after this long, whichever comes first. Each update is sent whole and redrawn in
# the browser: Compare 3x500 in chromium completed in 0.874 s (median of 7) with updates every 20 characters or
# 0.05 s, in 0.678 s and 0.658 s (two runs) with these (benchmarks/bench_app_load.py)


@dataclass
class Column:
    """One model's text so far in a stream, and how fast it came."""

    loaded: Served
    stream: Stream
    pieces: list[str] = field(default_factory=list)
    seconds: float = 0.0  # time spent in this model (prompt warm-up included), not in the others
    done: bool = False

    def __post_init__(self):
        self._chars = iter(self.stream)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def chars_per_second(self) -> float:
        return len(self.pieces) / self.seconds if self.seconds > 0 else 0.0

    def advance(self, n: int) -> None:
        """Draw up to n more characters."""
        start = time.perf_counter()
        for _ in range(n):
            ch = next(self._chars, None)
            if ch is None:
                self.done = True
                break
            self.pieces.append(ch)
        else:
            self.done = len(self.pieces) >= self.stream.settings.length
        self.seconds += time.perf_counter() - start


def open_columns(models: list[Served], prompt: str, settings: SampleSettings) -> list[Column]:
    """A column per model, each with its own generator seeded alike: the same uniform draw for the
    i-th character of every model, so their texts differ only where the models do."""
    return [Column(m, Stream(m.model, prompt, settings, rng=np.random.default_rng(settings.seed))) for m in models]


def interleave(columns: list[Column], round_chars: int = ROUND_CHARS) -> Iterator[list[Column]]:
    """Advance every column a few characters at a time, round-robin, yielding them as they grow.

    One loop, not a thread per model: on a small server the models would only take turns on the
    same cores anyway, and round-robin keeps the columns side by side as they stream.
    """
    last, fresh, first = time.perf_counter(), 0, True
    while not all(c.done for c in columns):
        n = min(round_chars, FIRST_ROUND_CHARS) if first else round_chars
        for c in columns:
            if not c.done:
                c.advance(n)
        fresh += n
        now = time.perf_counter()
        if first or fresh >= EVERY_CHARS or now - last >= EVERY_SECONDS:
            first, fresh, last = False, 0, now
            yield columns
    if fresh or first:
        yield columns


def generate_stream(loaded: Served, prompt: str, settings: SampleSettings) -> Iterator[Column]:
    """One model's continuation of prompt, yielded as it grows (the last yield is complete)."""
    (column,) = open_columns([loaded], prompt, settings)
    for (c,) in interleave([column], round_chars=1):
        yield c


def compare_stream(models: list[Served], prompt: str, settings: SampleSettings) -> Iterator[list[Column]]:
    """Every model's continuation of prompt from the same random stream, growing side by side."""
    yield from interleave(open_columns(models, prompt, settings))


def token_unit(m: Served) -> str:
    """What one step of the model writes: "chars" or "words"."""
    return "words" if m.kind == "word" else "chars"


def column_stats(c: Column) -> str:
    """'300 chars in 0.24 s (1,234 chars/s on this server right now)' for one finished or growing column (words
    for a word model): the speed is the machine's at this moment (it swings with load), not a property of the model."""
    unit = token_unit(c.loaded)
    return (f"{len(c.pieces)} {unit} in {c.seconds:.2f} s ({c.chars_per_second:,.0f} {unit}/s on this server "
            "right now)")


def model_facts(m: Served) -> str:
    """'3.3M parameters · 2.07 bits/char on held-out text · 31 min of training' (what a column says of its model)."""
    if not m.available:
        return "unavailable"
    n = m.model.num_params()
    size = f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"
    counted = m.model_type in MODELS and MODELS[m.model_type].fit is not None  # the n-gram: counted, not trained
    unit = "stored counts" if counted else "parameters"
    bits = m.metrics.get("val_bits_per_char")
    per_word = m.metrics.get("val_perplexity") if m.kind == "word" else None
    val = f"{bits:.3f} bits/char on held-out text" if bits is not None else "no held-out figure recorded"
    if per_word is not None:
        val = f"perplexity {per_word:.0f} per word · {val}"
    seconds = m.metrics.get("train_seconds")
    doing = "to count" if counted else "of training"
    took = ("" if seconds is None else f" · {seconds / 60:.0f} min {doing}" if seconds >= 60
            else f" · {seconds:.0f} s {doing}")
    return f"{size} {unit} · {val}{took}"


# --- scoring --------------------------------------------------------------------------------


def score_all(models: list[Served], text: str, context: str = "\n") -> list[tuple[Served, Score]]:
    """Each available model's score of text (each character given all before it, after context)."""
    return [(m, score(m.model, text, context=context)) for m in models]


def score_rows(results: list[tuple[Served, Score]]) -> list[list]:
    """One table row per model: label, bits/char, perplexity, chars scored, next-token entropy (one unit on the page:
    bits; nats/char is bits/char x ln 2, and the Models tab gives both)."""
    return [
        [m.label, round(s.bits_per_char, 4), round(s.perplexity, 3), s.chars_scored, round(s.next_entropy_bits, 3)]
        for m, s in results
    ]


SCORE_HEADERS = ["model", "bits/char", "perplexity", "chars scored", "entropy of what comes next (bits)"]


def show_char(ch: str) -> str:
    """A character as a label can show it: spaces and newlines made visible."""
    return {" ": "␣ (space)", "\n": "↵ (newline)", "\t": "⇥ (tab)"}.get(ch, ch)


def show_piece(token: str) -> str:
    """A token as a label can show it: a character made visible (show_char), a word as it is."""
    return show_char(token) if len(token) == 1 else token


NEXT_FLOOR = 0.01  # "What comes next?" leaves out tokens under 1%: they would show as bars reading 0%


def next_char_top(m: Served, s: Score, k: int = 10) -> dict[str, float]:
    """The likeliest next tokens (characters or words) after the text, display form -> probability: at most k,
    and only those of at least NEXT_FLOOR (the likeliest always), so a 99% favourite is not followed by rows
    reading 0%."""
    top = [i for i in np.argsort(-s.next_probs, kind="stable")[:k]]
    top = top[:1] + [i for i in top[1:] if s.next_probs[i] >= NEXT_FLOOR]
    return {show_piece(m.model.vocab.tokens[i]): float(s.next_probs[i]) for i in top}
