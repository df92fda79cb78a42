"""Where a text surprised the models, token by token: heat maps as HTML, each with a list under it that names
its tokens in words (the most surprising, the biggest differences), so the probabilities can be read without
hovering a mouse: by keyboard, on a touch screen or with a screen reader too."""
from __future__ import annotations

import html
import math

import numpy as np

from ..score import Score
from .live import show_piece
from .loading import Served

HEATMAP_CHARS = 1500  # characters shown coloured (the figures and the lists cover the whole text); with the
# tooltips each coloured character is ~60 bytes, so a 5,000-character score stays a few hundred KB
HEATMAP_MAX_BITS = 8.0  # surprisal shown at full colour; a uniform guess over 65 characters is 6 bits
DIFF_MAX_BITS = 4.0  # a difference in surprisal shown at full colour
LISTED = 8  # tokens named under each map
BEFORE, AFTER = 20, 8  # characters of context shown around a named token


def _shown(piece: str) -> str:
    """A piece of scored text as HTML: a line break as ↵ and a break."""
    return html.escape(piece).replace("\n", "↵<br>")


def visible(text: str) -> str:
    """text as HTML on one line, its line breaks shown as ↵."""
    return html.escape(text.replace("\n", "↵"))


def unit_of(s: Score, plural: bool = False) -> str:
    """What the scored tokens are: characters, or words and marks."""
    if s.kind == "word":
        return "words and marks" if plural else "token"
    return "characters" if plural else "character"


def in_context(pieces: list[str], i: int) -> str:
    """The i-th piece of a scored text, marked among its neighbours: '…the nig<b>h</b>t is…' as HTML."""
    before_all = "".join(pieces[max(0, i - BEFORE):i])
    after_all = "".join(pieces[i + 1:i + 1 + AFTER])
    before, after = before_all[-BEFORE:], after_all[:AFTER]
    piece = pieces[i]
    core = piece.lstrip() or piece  # a word's piece holds the spaces before it; they stay outside the mark
    lead = piece[: len(piece) - len(core)]
    here = {" ": "␣"}.get(core, core)
    return (f'<code>{"…" if i > BEFORE or len(before_all) > BEFORE else ""}{visible(before + lead)}'
            f'<b class="here">{visible(here)}</b>{visible(after)}'
            f'{"…" if i + 1 + AFTER < len(pieces) or len(after_all) > AFTER else ""}</code>')


def named(s: Score, i: int) -> str:
    """'“h” (character 1,234) in …the nig h t…' for the i-th scored token, as HTML."""
    return f"“{html.escape(show_piece(s.tokens[i]))}” ({unit_of(s)} {i + 1:,}) in {in_context(s.pieces, i)}"


def surprises_html(label: str, s: Score, k: int = LISTED) -> str:
    """The k tokens of the whole text that surprised a model most, each with its probability, as a list."""
    bits = s.surprisal_bits  # (N,)
    top = np.argsort(-bits, kind="stable")[:k]
    items = "".join(f"<li>{named(s, i)}: p = {2.0 ** -bits[i]:.3g} ({bits[i]:.2f} bits)</li>" for i in top)
    return (f'<div class="surprises"><p>The {len(top)} {unit_of(s, plural=True)} that surprised {html.escape(label)} '
            f'most, of all {len(bits):,}:</p><ol class="top">{items}</ol></div>')


def heatmap_html(results: list[tuple[Served, Score]], limit: int = HEATMAP_CHARS) -> str:
    """Per-token surprisal of each model as coloured text (a character, or a word with the spaces before it), the
    redder the more surprised, and under each the tokens that surprised it most. Hovering a token shows its
    probability and surprisal in bits."""
    rows = []
    for m, s in results:
        bits = s.surprisal_bits[:limit]  # (N,)
        spans = []
        for piece, token, b in zip(s.pieces[:limit], s.tokens[:limit], bits):
            level = min(int(b / HEATMAP_MAX_BITS * 10), 10)  # 11 colour steps keep the page small
            tip = f"{show_piece(token)}: p = {2.0 ** -b:.3g}, {b:.2f} bits"
            spans.append(f'<span class="s{level}" title="{html.escape(tip)}">{_shown(piece)}</span>')
        unit = unit_of(s, plural=True)
        more = f" (first {limit:,} of {len(s.pieces):,} {unit} shown)" if len(s.pieces) > limit else ""
        per = f" · perplexity {s.perplexity:.1f} per token" if s.kind == "word" else ""
        rows.append(f'<div class="heat-row"><div class="heat-title">{html.escape(m.label)} · '
                    f"{s.bits_per_char:.3f} bits/char{per}{more}</div><div class=\"heat-text\">{''.join(spans)}</div>"
                    f"{surprises_html(m.label, s)}</div>")
    v = results[0][0].model.config.vocab_size if results else 65
    kind = "words" if results and results[0][1].kind == "word" else "characters"
    legend = ('<div class="heat-legend">surprisal: '
              + "".join(f'<span class="s{i}">{i * HEATMAP_MAX_BITS / 10:g}</span>' for i in range(0, 11, 2))
              + f" bits and more (−log₂ p; {math.log2(v):.1f} bits is a blind guess among {v:,} {kind})</div>")
    return f'<div class="heatmap">{legend}{"".join(rows)}</div>'


def differences_html(good: str, gs: Score, bad: str, bs: Score, k: int = LISTED) -> str:
    """The tokens of the whole text where the better model gained the most bits over the worse one, and where it
    lost the most, each with both probabilities, as lists (a list is left out when it would be empty)."""
    saved = bs.surprisal_bits - gs.surprisal_bits  # (N,) bits the better model saves per token
    g, b = html.escape(good), html.escape(bad)

    def item(i: int) -> str:
        return (f"<li>{named(gs, i)}: {g} p = {2.0 ** -gs.surprisal_bits[i]:.3g}, {b} p = "
                f"{2.0 ** -bs.surprisal_bits[i]:.3g}; {abs(saved[i]):.2f} bits {'saved' if saved[i] > 0 else 'lost'}</li>")

    gains = [i for i in np.argsort(-saved, kind="stable")[:k] if saved[i] > 0]
    losses = [i for i in np.argsort(saved, kind="stable")[:k] if saved[i] < 0]
    parts = []
    if gains:
        parts.append(f"<p>Where {g} gains most over {b}, of all {len(saved):,} {unit_of(gs, plural=True)}:</p>"
                     f'<ol class="gains">{"".join(item(i) for i in gains)}</ol>')
    if losses:
        parts.append(f"<p>Where {g} does worst against {b}:</p>"
                     f'<ol class="losses">{"".join(item(i) for i in losses)}</ol>')
    return f'<div class="surprises">{"".join(parts)}</div>'


def difference_html(results: list[tuple[Served, Score]], limit: int = HEATMAP_CHARS) -> str:
    """Where two models differ, token by token: the model with the lowest bits/char on this text against the one
    with the highest. Green where the better one expected the token more, red where less; hovering shows both
    probabilities, and lists under the map name the biggest differences. Empty for fewer than two models with the
    same scored tokens."""
    ranked = sorted(results, key=lambda r: r[1].bits_per_char)
    if len(ranked) < 2 or ranked[0][1].pieces != ranked[-1][1].pieces:
        return ""
    (good, gs), (bad, bs) = ranked[0], ranked[-1]
    saved = bs.surprisal_bits[:limit] - gs.surprisal_bits[:limit]  # (N,) bits the better model saves per token
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
            f'<div class="heat-text">{"".join(spans)}</div>{differences_html(good.label, gs, bad.label, bs)}</div>')


def heatmap_css() -> str:
    """Styles for heatmap_html and difference_html: one background step per level. The strongest step is 70%
    opaque: the text on it keeps 4.5:1 contrast (WCAG AA) in the light and the dark theme; full red is 3.5:1."""
    steps = "".join(f".heatmap .s{i}{{background:rgba(230,57,70,{0.07 * i:.2f})}}" for i in range(11))
    steps += "".join(f".diffmap .g{i}{{background:rgba(46,160,67,{0.14 * i:.2f})}}.diffmap .r{i}{{background:"
                     f"rgba(230,57,70,{0.14 * i:.2f})}}" for i in range(1, 6))
    return (steps + ".heatmap .heat-text{font-family:ui-monospace,monospace;font-size:1.05em;white-space:pre-wrap;"
            "line-height:1.7;word-break:break-all}.heatmap .heat-title{font-weight:600;margin:.6em 0 .2em}"
            ".heatmap .heat-legend span{padding:0 .4em;font-family:ui-monospace,monospace}"
            ".surprises{font-size:.9em;margin:.4em 0 .8em}.surprises p{margin:.3em 0 .1em}"
            ".surprises ol{margin:0;padding-left:1.8em}.surprises code{white-space:pre}"
            ".surprises .here{text-decoration:underline;text-underline-offset:3px}")
