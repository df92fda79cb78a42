"""What runs a model per request: streamed generation (one model or three interleaved) and scoring."""
from __future__ import annotations

import html
import math
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
EVERY_CHARS = 20  # yield an update after this many new characters per column ...
EVERY_SECONDS = 0.05  # ... or after this long, whichever comes first
HEATMAP_CHARS = 1500  # characters shown in the surprisal heat map (the figures cover the whole text)
HEATMAP_MAX_BITS = 8.0  # surprisal shown at full colour; a uniform guess over 65 characters is 6 bits


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
    """One table row per model: label, bits/char, perplexity, nats/char, chars scored, next-char entropy."""
    return [
        [m.label, round(s.bits_per_char, 4), round(s.perplexity, 3), round(s.nats_per_char, 4),
         s.chars_scored, round(s.next_entropy_bits, 3)]
        for m, s in results
    ]


SCORE_HEADERS = ["model", "bits/char", "perplexity", "nats/char", "chars scored", "next-char entropy (bits)"]


def show_char(ch: str) -> str:
    """A character as a label can show it: spaces and newlines made visible."""
    return {" ": "␣ (space)", "\n": "↵ (newline)", "\t": "⇥ (tab)"}.get(ch, ch)


def show_piece(token: str) -> str:
    """A token as a label can show it: a character made visible (show_char), a word as it is."""
    return show_char(token) if len(token) == 1 else token


def next_char_top(m: Served, s: Score, k: int = 10) -> dict[str, float]:
    """The k likeliest next tokens (characters or words) after the text, display form -> probability."""
    top = np.argsort(-s.next_probs, kind="stable")[:k]
    return {show_piece(m.model.vocab.tokens[i]): float(s.next_probs[i]) for i in top}


def _shown(piece: str) -> str:
    """A piece of scored text as HTML: a line break as ↵ and a break."""
    return html.escape(piece).replace("\n", "↵<br>")


def heatmap_html(results: list[tuple[Served, Score]], limit: int = HEATMAP_CHARS) -> str:
    """Per-token surprisal of each model as coloured text (a character, or a word with the spaces before it):
    the redder, the more surprised. Hovering a token shows its probability and surprisal in bits.
    """
    rows = []
    for m, s in results:
        bits = s.surprisal_bits[:limit]  # (N,)
        spans = []
        for piece, token, b in zip(s.pieces[:limit], s.tokens[:limit], bits):
            level = min(int(b / HEATMAP_MAX_BITS * 10), 10)  # 11 colour steps keep the page small
            tip = f"{show_piece(token)}: p = {2.0 ** -b:.3g}, {b:.2f} bits"
            spans.append(f'<span class="s{level}" title="{html.escape(tip)}">{_shown(piece)}</span>')
        unit = "words and marks" if s.kind == "word" else "characters"
        more = f" (first {limit:,} of {len(s.pieces):,} {unit} shown)" if len(s.pieces) > limit else ""
        per = f" · perplexity {s.perplexity:.1f} per token" if s.kind == "word" else ""
        rows.append(f'<div class="heat-row"><div class="heat-title">{html.escape(m.label)} · '
                    f"{s.bits_per_char:.3f} bits/char{per}{more}</div><div class=\"heat-text\">{''.join(spans)}</div></div>")
    v = results[0][0].model.config.vocab_size if results else 65
    kind = "words" if results and results[0][1].kind == "word" else "characters"
    legend = ('<div class="heat-legend">surprisal: '
              + "".join(f'<span class="s{i}">{i * HEATMAP_MAX_BITS / 10:g}</span>' for i in range(0, 11, 2))
              + f" bits and more (−log₂ p; {math.log2(v):.1f} bits is a blind guess among {v:,} {kind})</div>")
    return f'<div class="heatmap">{legend}{"".join(rows)}</div>'


DIFF_MAX_BITS = 4.0  # a difference in surprisal shown at full colour


def difference_html(results: list[tuple[Served, Score]], limit: int = HEATMAP_CHARS) -> str:
    """Where two models differ, token by token: the model with the lowest bits/char on this text against the one
    with the highest. Green where the better one expected the token more, red where less; hovering shows both
    probabilities. Empty for fewer than two models with the same scored tokens."""
    ranked = sorted(results, key=lambda r: r[1].bits_per_char)
    if len(ranked) < 2 or ranked[0][1].pieces != ranked[-1][1].pieces:
        return ""
    (good, gs), (bad, bs) = ranked[0], ranked[-1]
    saved = bs.surprisal_bits[:limit] - gs.surprisal_bits[:limit]  # (N,) bits the better model saves per char
    spans = []
    for piece, token, d, gb, bb in zip(gs.pieces[:limit], gs.tokens, saved, gs.surprisal_bits, bs.surprisal_bits):
        level = min(int(abs(d) / DIFF_MAX_BITS * 5), 5)
        cls = f"{'g' if d > 0 else 'r'}{level}" if level else "z"
        tip = f"{show_piece(token)}: {good.label} p = {2.0 ** -gb:.3g}, {bad.label} p = {2.0 ** -bb:.3g}"
        spans.append(f'<span class="{cls}" title="{html.escape(tip)}">{_shown(piece)}</span>')
    wins = float((saved > 0).mean()) if len(saved) else 0.0
    unit = "word" if gs.kind == "word" else "character"
    title = (f"Where {good.label} beats {bad.label}: green where {good.label} expected the {unit} more, red where "
             f"less. It saves {bs.bits_per_char - gs.bits_per_char:.3f} bits/char over the whole text and does better "
             f"on {wins:.0%} of the {unit}s shown.")
    return (f'<div class="heatmap diffmap"><div class="heat-title">{html.escape(title)}</div>'
            f'<div class="heat-text">{"".join(spans)}</div></div>')


def heatmap_css() -> str:
    """Styles for heatmap_html and difference_html: one background step per level. The strongest step is 70%
    opaque: the text on it keeps 4.5:1 contrast (WCAG AA) in the light and the dark theme; full red is 3.5:1."""
    steps = "".join(f".heatmap .s{i}{{background:rgba(230,57,70,{0.07 * i:.2f})}}" for i in range(11))
    steps += "".join(f".diffmap .g{i}{{background:rgba(46,160,67,{0.14 * i:.2f})}}.diffmap .r{i}{{background:"
                     f"rgba(230,57,70,{0.14 * i:.2f})}}" for i in range(1, 6))
    return (steps + ".heatmap .heat-text{font-family:ui-monospace,monospace;font-size:1.05em;white-space:pre-wrap;"
            "line-height:1.7;word-break:break-all}.heatmap .heat-title{font-weight:600;margin:.6em 0 .2em}"
            ".heatmap .heat-legend span{padding:0 .4em;font-family:ui-monospace,monospace}")
