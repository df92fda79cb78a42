"""The "Inside the models" views as plain data: plot tables, HTML and captions from rnnlm.inspect, no UI.

Every view answers for every network side by side; a model without hidden state (the n-gram) is left out by
the caller. Nothing here raises for a visitor's input: bad input becomes a note and empty results.
"""
from __future__ import annotations

import html
import threading

import numpy as np

from .. import inspect as ins
from ..data import corpus_split
from .live import show_char

PASSAGE_CHARS = 500  # the default passage: this many characters of the held-out text
# Written for this app in the corpus' manner (not taken from it): the default when the corpus is not here.
FALLBACK_PASSAGE = (
    "SECOND SENTINEL:\nWhat news upon the wall? Speak, for the night\nGrows old, and yet the torches burn as bright\n"
    "As if the morning were afraid to come.\n\nCAPTAIN:\nNo news, good fellow, but the wind is cold,\nAnd all the "
    "camp is sleeping like a child\nThat knows not what the trumpet means at dawn.\nGo, wake the watch, and bid "
    "them look to it;\nFor if the enemy be near the gate,\nWe shall have need of every man and sword.\n\n"
    "SECOND SENTINEL:\nI go, my lord; but tell me, shall we fight?\n"
)
def held_out_text(config) -> str | None:
    """The validation split (the last 10%) of the text config.training["data"] names, or None when not here."""
    texts = corpus_split(config.training)
    return None if texts is None else texts[1]


def default_passage(config) -> str:
    """PASSAGE_CHARS characters of held-out text from the start of a speech, else FALLBACK_PASSAGE."""
    text = held_out_text(config)
    if not text:
        return FALLBACK_PASSAGE
    start = text.find("\n\n", 1000)  # a speech a little way into the held-out text
    start = start + 2 if start >= 0 else 0
    return text[start : start + PASSAGE_CHARS]


def checked_ids(text, vocab, notes: list[str], least: int = 1) -> np.ndarray | None:
    """The passage's known characters (capped, with notes), or None with a note saying why nothing can be shown."""
    if not isinstance(text, str) or not text.strip():
        notes.append("Nothing to look inside: paste or type a passage first.")
        return None
    ids = ins.passage_ids(vocab, text, notes)
    if len(ids) < least:
        notes.append(f"This view needs at least {least} character{'s' if least > 1 else ''} the models know; "
                     f"the passage has {len(ids)}.")
        return None
    return ids


# --- 1. gradient flow ------------------------------------------------------------------------------------


def gradient_view(models: list, text) -> tuple[dict, list[str], list[str]]:
    """(plot table {"k", "log10 relative gradient", "model"}, one explanation per model, notes)."""
    notes: list[str] = []
    rows = {"k": [], "log10 relative gradient": [], "model": []}
    captions = []
    for m in models:
        ids = checked_ids(text, m.model.vocab, notes, least=3) if m.available else None
        if ids is None:
            captions.append(m.error or "")
            continue
        flow = ins.gradient_flow(m.model, ids)
        rel = np.log10(np.maximum(flow.norms / flow.norms[0], 1e-30))
        rows["k"] += list(range(1, len(rel) + 1))
        rows["log10 relative gradient"] += [float(x) for x in rel]
        rows["model"] += [m.label] * len(rel)
        far = {k: flow.norms[k - 1] / flow.norms[0] for k in (25, 100) if k <= len(flow.norms)}
        said = " and ".join(f"{v:.1e} at k = {k}" for k, v in far.items())
        captions.append(f"{flow.sentence()} Relative to k = 1 it is {said or 'not measured'}, averaged over the "
                        f"passage's last {flow.targets} characters as targets.")
        if len(flow.norms) < ins.DEPTH:
            notes.append(f"The passage is too short to look {ins.DEPTH} characters back: the curves stop at "
                         f"k = {len(flow.norms)}. Paste a longer passage.")
    if rows["k"]:
        K = max(rows["k"])
        rows["k"] += [1, K]
        rows["log10 relative gradient"] += [np.log10(ins.DECAY)] * 2
        rows["model"] += [f"1/{1 / ins.DECAY:,.0f} of k = 1"] * 2
    return rows, captions, _dedupe(notes)


# --- 2. what did it look at --------------------------------------------------------------------------------


def _colour(value: float) -> str:
    """A diverging background: red for positive, blue for negative, value in [-1, 1]."""
    a = min(abs(value), 1.0) * 0.85
    return f"rgba(214,40,57,{a:.2f})" if value >= 0 else f"rgba(33,102,172,{a:.2f})"


def _text_row(chars: str, values: np.ndarray, tips: list[str], mark: int | None = None) -> str:
    spans = []
    for i, (ch, v, tip) in enumerate(zip(chars, values, tips)):
        shown = "↵" if ch == "\n" else html.escape(ch)
        edge = "outline:2px solid #222;" if i == mark else ""
        spans.append(f'<span style="background:{_colour(v)};{edge}" title="{html.escape(tip)}">{shown}</span>'
                     + ("<br>" if ch == "\n" else ""))
    return ('<div style="font-family:ui-monospace,monospace;white-space:pre-wrap;line-height:1.7;'
            f'word-break:break-all">{"".join(spans)}</div>')


def looked_at_view(models: list, text, position) -> tuple[str, list[dict], list[str], list[str]]:
    """(heat-map HTML, per model a bar table {"next", "probability", "temperature"}, explanations, notes).

    position is the 1-based count of characters read before the prediction; clamped to the passage with a note.
    """
    notes: list[str] = []
    try:
        position = int(float(position))
    except (TypeError, ValueError, OverflowError):
        notes.append(f"position {str(position)[:20]!r} is not a number; using the end of the passage.")
        position = 10 ** 9
    rows, bars, captions = [], [], []
    for m in models:
        ids = checked_ids(text, m.model.vocab, notes) if m.available else None
        if ids is None:
            bars.append({"next": [], "probability": [], "temperature": []})
            captions.append(m.error or "")
            continue
        p = min(max(position, 1), len(ids))
        if p != position and not any(n.startswith("position") for n in notes):
            notes.append(f"position {position:,} is outside the passage's {len(ids):,} known characters; using {p}.")
        inf = ins.influence(m.model, ids, p - 1)
        vocab = m.model.vocab
        chars = vocab.decode(ids[:p])
        scale = np.abs(inf.scores).max() or 1.0
        tips = [f"{show_char(c)}: gradient x input {s:+.3g}" for c, s in zip(chars, inf.scores)]
        nxt = show_char(vocab.decode([inf.target]))
        p1 = dict(inf.top[1.0]).get(inf.target)
        prob = f"p = {p1:.2f}" if p1 is not None else "not in its top 5"
        rows.append(f'<div style="font-weight:600;margin:.6em 0 .2em">{html.escape(m.label)} · predicting '
                    f"{html.escape(nxt)} ({prob} at temperature 1)</div>" + _text_row(chars, inf.scores / scale, tips, p - 1))
        top = inf.top[1.0]
        order = [show_char(vocab.decode([i])) for i, _ in top]
        table = {"next": [], "probability": [], "temperature": []}
        for i, _ in top:  # bars side by side: each character at the three temperatures, likeliest first
            ch = {" ": "␣", "\n": "↵"}.get(vocab.decode([i]), vocab.decode([i]))
            for t in ins.TEMPERATURES:
                table["next"].append(f"{ch} T{t:g}")
                table["probability"].append(round(dict(inf.top[t])[i], 4))
                table["temperature"].append(f"T = {t:g}")
        bars.append(table)
        far = np.abs(inf.scores[:-50]).sum() / max(np.abs(inf.scores).sum(), 1e-30)
        best = {t: inf.top[t][0][1] for t in ins.TEMPERATURES}
        captions.append(
            f"{m.label} puts {inf.share_recent():.0%} of its total |gradient × input| on the last 10 characters it read "
            f"and {far:.0%} on characters more than 50 back. Its favourite next character, {order[0]}, gets "
            f"p = {best[0.5]:.2f} at temperature 0.5, {best[1.0]:.2f} at 1 and {best[1.5]:.2f} at 1.5: the same "
            "ranking, sharpened or flattened.")
    legend = ('<div style="margin:.3em 0">red: the character raised the log-probability of what was predicted; '
              "blue: lowered it; the outlined character is the last one read.</div>")
    return legend + "".join(rows), bars, captions, _dedupe(notes)


# --- 3. neurons --------------------------------------------------------------------------------------------


class Samples:
    """Each model's held-out statistics, computed once per process at first use (several seconds each)."""

    def __init__(self):
        self._done: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def warm(self, models: list) -> threading.Thread:
        """Compute every model's statistics in a background thread (a served app does this once it is up, so a
        visitor's first neurons or gates view does not wait for them); returns the thread."""
        def run() -> None:
            for m in models:
                if not m.available:
                    continue
                try:
                    self.get(m, "")
                except ValueError:
                    pass  # no held-out text here: the view computes on the visitor's passage instead

        thread = threading.Thread(target=run, name="inside-the-models warm-up", daemon=True)
        thread.start()
        return thread

    def get(self, m, passage: str) -> tuple[ins.Sample, str]:
        """(the sample statistics, where the text came from); the passage stands in when no held-out text is here."""
        with self._lock:
            if m.name not in self._done:
                text = held_out_text(m.model.config)
                where = f"{min(len(text), ins.MAX_SAMPLE):,} held-out characters" if text else None
                if text is None:
                    text, where = passage, "this passage (the held-out text is not on this machine)"
                else:
                    self._done[m.name] = (ins.run_sample(m.model, text), where)
                    return self._done[m.name]
                return ins.run_sample(m.model, text), where
            return self._done[m.name]


def neuron_view(models: list, samples: Samples, text, feature, rank) -> tuple[list[str], list[str], list[str]]:
    """Per model: HTML (its top units for the feature, the passage coloured by the chosen one), a caption; notes."""
    notes: list[str] = []
    feature = feature if feature in ins.FEATURES else "line position"
    try:
        rank = min(max(int(float(rank)), 1), 5)
    except (TypeError, ValueError, OverflowError):
        rank = 1
    htmls, captions = [], []
    for m in models:
        ids = checked_ids(text, m.model.vocab, notes) if m.available else None
        if ids is None:
            htmls.append("")
            captions.append(m.error or "")
            continue
        passage = m.model.vocab.decode(ids)
        try:
            sample, where = samples.get(m, passage)
        except ValueError as e:
            htmls.append("")
            captions.append(f"{m.label}: {e}.")
            continue
        units = sample.ranked.get(feature, [])
        if not units:
            htmls.append("")
            captions.append(f"{m.label}: the feature '{feature}' never changes on {where} (it has no such text), "
                            "so no unit can be ranked for it. Choose another feature or paste text that has it.")
            continue
        u = units[min(rank, len(units)) - 1]
        acts = ins.unit_activations(m.model, ids, u.vector, u.index)
        feat = ins.text_features(passage)[feature]
        here = ins.correlations_1d(acts, feat)
        scale = np.abs(acts).max() or 1.0
        table = "".join(f"<li>{'<b>' if v is u else ''}{html.escape(v.name())}: r = {v.r:+.2f}{'</b>' if v is u else ''}</li>"
                        for v in units)
        tips = [f"{show_char(c)}: {a:+.3f}" for c, a in zip(passage, acts)]
        htmls.append(f"<div><b>{html.escape(m.label)}</b>: units most correlated with {html.escape(feature)} "
                     f"({html.escape(ins.FEATURES[feature])}) over {html.escape(where)}<ol>{table}</ol></div>"
                     + _text_row(passage, acts / scale, tips))
        on_passage = f"r = {here:+.2f} on this passage" if np.isfinite(here) else "the feature is constant on this passage"
        captions.append(f"{m.label}'s unit {u.name()} (ranked {rank} of {len(units)}) correlates r = {u.r:+.2f} with "
                        f"{feature} over {where}, and {on_passage}. Red is a positive value, blue a negative one, "
                        f"as strong as {scale:.2f} at the deepest colour.")
    return htmls, captions, _dedupe(notes)


# --- 4. gates ----------------------------------------------------------------------------------------------


def gate_view(models: list, samples: Samples, text) -> tuple[list[dict], list[str], list[str]]:
    """A scatter table {"left-saturated", "right-saturated", "gate"} per model (empty for one without gates), a
    caption per model; notes."""
    notes: list[str] = []
    tables, captions = [], []
    for m in models:
        empty = {"left-saturated": [], "right-saturated": [], "gate": []}
        if not m.available:
            tables.append(empty)
            captions.append(m.error)
            continue
        try:
            ids = checked_ids(text, m.model.vocab, [])  # stands in for held-out text only when there is none
            sample, where = samples.get(m, m.model.vocab.decode(ids) if ids is not None else "")
        except ValueError as e:
            tables.append(empty)
            captions.append(f"{m.label}: {e}.")
            continue
        if not sample.saturation:
            tables.append(empty)
            captions.append(f"The {m.label} has no gates: its whole state passes through one tanh at every step. "
                            "That is why its gradient cannot travel far unchanged.")
            continue
        for gate, (lo, hi) in sample.saturation.items():
            empty["left-saturated"] += [round(float(x), 4) for x in lo]
            empty["right-saturated"] += [round(float(x), 4) for x in hi]
            empty["gate"] += [gate] * len(lo)
        tables.append(empty)
        captions.append(gate_caption(sample, where))
    return tables, captions, notes


def gate_caption(sample: ins.Sample, where: str) -> str:
    """Two sentences of counts: long-memory units, and the most often closed gate."""
    memory_gate = "forget" if any(g.endswith("forget") for g in sample.saturation) else "update"
    long = ins.long_memory(sample.saturation, memory_gate)
    H = len(next(iter(sample.saturation.values()))[0])
    counts = ", ".join(f"{len(v)} of {H} in {g.rsplit(' ', 1)[0]}" for g, v in long.items())
    closed = {g: int((lo >= 0.5).sum()) for g, (lo, _) in sample.saturation.items()}
    most = max(closed, key=closed.get)
    meaning = "keeps most of its cell" if memory_gate == "forget" else "keeps most of its old state"
    shut = (f"The gate most often shut (below 0.1 at least half the time) is the {most}, in {closed[most]} of {H} units."
            if closed[most] else "No gate of any unit is shut (below 0.1) half the time or more.")
    return (f"Over {where}, the {memory_gate} gate is above 0.9 at least half the time in {counts}: such a unit "
            f"{meaning} from step to step, a long memory. {shut}")


def _dedupe(notes: list[str]) -> list[str]:
    return list(dict.fromkeys(notes))

