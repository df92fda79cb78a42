"""Where a text surprised the models, character by character: heat maps as HTML, each with a list under it that
names its characters in words (the most surprising, the biggest differences), so the probabilities can be read
without hovering a mouse: by keyboard, on a touch screen or with a screen reader too."""
from __future__ import annotations

import html
import math

import numpy as np

from ..score import Score
from .live import show_char
from .loading import Served

HEATMAP_CHARS = 1500  # characters shown coloured (the figures and the lists cover the whole text); with the
# tooltips each coloured character is ~60 bytes, so a 5,000-character score stays a few hundred KB
HEATMAP_MAX_BITS = 8.0  # surprisal shown at full colour; a uniform guess over 65 characters is 6 bits
DIFF_MAX_BITS = 4.0  # a difference in surprisal shown at full colour
LISTED = 8  # characters named under each map
BEFORE, AFTER = 16, 6  # characters of context shown around a named one


def visible(text: str) -> str:
    """text as HTML on one line, its newlines shown as ↵."""
    return html.escape(text.replace("\n", "↵"))


def in_context(text: str, i: int) -> str:
    """The i-th character of text, marked among its neighbours: '…the nig<b>h</b>t is…' as HTML."""
    lo, hi = max(0, i - BEFORE), min(len(text), i + 1 + AFTER)
    here = {" ": "␣"}.get(text[i], text[i])
    return (f'<code>{"…" if lo else ""}{visible(text[lo:i])}<b class="here">{visible(here)}</b>'
            f'{visible(text[i + 1:hi])}{"…" if hi < len(text) else ""}</code>')


def named(text: str, i: int) -> str:
    """'“h” (character 1,234) in …the nig h t…' for the i-th character of text, as HTML."""
    return f"“{html.escape(show_char(text[i]))}” (character {i + 1:,}) in {in_context(text, i)}"


def surprises_html(label: str, s: Score, k: int = LISTED) -> str:
    """The k characters of the whole text that surprised a model most, each with its probability, as a list."""
    bits = s.surprisal_bits  # (N,)
    top = np.argsort(-bits, kind="stable")[:k]
    items = "".join(f"<li>{named(s.text, i)}: p = {2.0 ** -bits[i]:.3g} ({bits[i]:.2f} bits)</li>" for i in top)
    return (f'<div class="surprises"><p>The {len(top)} characters that surprised {html.escape(label)} most, of all '
            f'{len(bits):,}:</p><ol class="top">{items}</ol></div>')


def heatmap_html(results: list[tuple[Served, Score]], limit: int = HEATMAP_CHARS) -> str:
    """Per-character surprisal of each model as coloured text, the redder the more surprised, and under each
    the characters that surprised it most. Hovering a character shows its probability and surprisal in bits."""
    rows = []
    for m, s in results:
        bits = s.surprisal_bits[:limit]  # (N,)
        spans = []
        for ch, b in zip(s.text[:limit], bits):
            level = min(int(b / HEATMAP_MAX_BITS * 10), 10)  # 11 colour steps keep the page small
            shown = "↵" if ch == "\n" else html.escape(ch)
            tip = f"{show_char(ch)}: p = {2.0 ** -b:.3g}, {b:.2f} bits"
            spans.append(f'<span class="s{level}" title="{html.escape(tip)}">{shown}</span>' + ("<br>" if ch == "\n" else ""))
        more = f" (first {limit:,} of {len(s.text):,} characters shown)" if len(s.text) > limit else ""
        rows.append(f'<div class="heat-row"><div class="heat-title">{html.escape(m.label)} · '
                    f"{s.bits_per_char:.3f} bits/char{more}</div><div class=\"heat-text\">{''.join(spans)}</div>"
                    f"{surprises_html(m.label, s)}</div>")
    v = results[0][0].model.config.vocab_size if results else 65
    legend = ('<div class="heat-legend">surprisal: '
              + "".join(f'<span class="s{i}">{i * HEATMAP_MAX_BITS / 10:g}</span>' for i in range(0, 11, 2))
              + f" bits and more (−log₂ p; {math.log2(v):.1f} bits is a blind guess among {v} characters)</div>")
    return f'<div class="heatmap">{legend}{"".join(rows)}</div>'


def differences_html(good: str, gs: Score, bad: str, bs: Score, k: int = LISTED) -> str:
    """The characters of the whole text where the better model gained the most bits over the worse one, and where
    it lost the most, each with both probabilities, as lists (a list is left out when it would be empty)."""
    saved = bs.surprisal_bits - gs.surprisal_bits  # (N,) bits the better model saves per character
    g, b = html.escape(good), html.escape(bad)

    def item(i: int) -> str:
        return (f"<li>{named(gs.text, i)}: {g} p = {2.0 ** -gs.surprisal_bits[i]:.3g}, {b} p = "
                f"{2.0 ** -bs.surprisal_bits[i]:.3g}; {abs(saved[i]):.2f} bits {'saved' if saved[i] > 0 else 'lost'}</li>")

    gains = [i for i in np.argsort(-saved, kind="stable")[:k] if saved[i] > 0]
    losses = [i for i in np.argsort(saved, kind="stable")[:k] if saved[i] < 0]
    parts = []
    if gains:
        parts.append(f"<p>Where {g} gains most over {b}, of all {len(saved):,} characters:</p>"
                     f'<ol class="gains">{"".join(item(i) for i in gains)}</ol>')
    if losses:
        parts.append(f"<p>Where {g} does worst against {b}:</p>"
                     f'<ol class="losses">{"".join(item(i) for i in losses)}</ol>')
    return f'<div class="surprises">{"".join(parts)}</div>'


def difference_html(results: list[tuple[Served, Score]], limit: int = HEATMAP_CHARS) -> str:
    """Where two models differ, character by character: the model with the lowest bits/char on this text
    against the one with the highest. Green where the better one expected the character more, red where less;
    hovering shows both probabilities, and lists under the map name the biggest differences. Empty for fewer than
    two models with the same scored text."""
    ranked = sorted(results, key=lambda r: r[1].bits_per_char)
    if len(ranked) < 2 or ranked[0][1].text != ranked[-1][1].text:
        return ""
    (good, gs), (bad, bs) = ranked[0], ranked[-1]
    saved = bs.surprisal_bits[:limit] - gs.surprisal_bits[:limit]  # (N,) bits the better model saves per char
    spans = []
    for ch, d, gb, bb in zip(gs.text[:limit], saved, gs.surprisal_bits, bs.surprisal_bits):
        level = min(int(abs(d) / DIFF_MAX_BITS * 5), 5)
        cls = f"{'g' if d > 0 else 'r'}{level}" if level else "z"
        shown = "↵" if ch == "\n" else html.escape(ch)
        tip = f"{show_char(ch)}: {good.label} p = {2.0 ** -gb:.3g}, {bad.label} p = {2.0 ** -bb:.3g}"
        spans.append(f'<span class="{cls}" title="{html.escape(tip)}">{shown}</span>' + ("<br>" if ch == "\n" else ""))
    wins = float((saved > 0).mean()) if len(saved) else 0.0
    title = (f"Where {good.label} beats {bad.label}: green where {good.label} expected the character more, red where "
             f"less. It saves {bs.bits_per_char - gs.bits_per_char:.3f} bits/char over the whole text and does better "
             f"on {wins:.0%} of the characters shown.")
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
