"""Pre-computed material from the checkpoint folders: loss curves, the training time-lapse, a
temperature x model grid of samples, and model cards. Everything is read once, at start.

Files read from each model's folder (all optional; a missing one leaves its part empty):

    log.jsonl        written by rnnlm.train: rows with step, chars, seconds and val_loss (nats/char)
    timelapse.jsonl  written by rnnlm.train: rows with fraction, step, chars, seconds, prompt, text
    samples.json     final samples at several temperatures, from one prompt and seed:
                         {"prompt": "\\n", "seed": 7, "length": 300,
                          "samples": {"0.2": "...", "0.5": "...", "0.8": "...", "1.0": "...", "1.2": "..."}}
                     temperatures are the keys, as strings; "length" is optional
    README.md        the model card (Hub front matter between --- lines is dropped)
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..card import read_samples

LN2 = math.log(2)
BITS = "held-out bits/char"  # one unit on every plot: bits per character on the validation split
from ..models import MODELS
from .loading import Served


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects in a .jsonl file; a missing file or a torn last line gives what is readable."""
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a run killed mid-write leaves half a line
            if isinstance(row, dict):
                rows.append(row)
    return rows


def strip_front_matter(card: str) -> str:
    """A model card without its leading '---' YAML block (the Hub's metadata, not for reading)."""
    if card.startswith("---"):
        end = card.find("\n---", 3)  # the closing fence
        if end != -1:
            after = card.find("\n", end + 4)
            return card[after + 1 :] if after != -1 else ""
    return card


@dataclass
class Gallery:
    """Everything the Gallery and Models tabs show, read from the models' folders."""

    models: list[Served]
    logs: dict[str, list[dict]] = field(default_factory=dict)
    lapses: dict[str, list[dict]] = field(default_factory=dict)
    samples: dict[str, dict] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, models: list[Served]) -> "Gallery":
        """Read every available model's folder (an unavailable one's folder may not be a checkpoint at all)."""
        g = cls(list(models))
        for m in g.models:
            folder = m.folder
            if not m.available:
                continue
            g.logs[m.name] = read_jsonl(folder / "log.jsonl")
            g.lapses[m.name] = read_jsonl(folder / "timelapse.jsonl")
            g.samples[m.name] = read_samples(folder / "samples.json")
            card = folder / "README.md"
            if card.is_file():
                g.cards[m.name] = strip_front_matter(card.read_text(encoding="utf-8", errors="replace"))
        return g

    # --- loss curves ----------------------------------------------------------------------

    def curve_rows(self) -> list[dict]:
        """Validation points of every model: model, million chars seen, minutes of training, held-out bits/char."""
        return [
            {"model": m.label, "chars (millions)": r["chars"] / 1e6, "minutes": r["seconds"] / 60,
             BITS: r["val_loss"] / LN2}
            for m in self.models for r in self.logs.get(m.name, [])
            if {"val_loss", "chars", "seconds"} <= r.keys()
        ]

    def curves(self):
        """curve_rows as a pandas DataFrame (what gr.LinePlot takes)."""
        import pandas as pd

        return pd.DataFrame(self.curve_rows(), columns=["model", "chars (millions)", "minutes", BITS])

    # --- how much does memory help? -------------------------------------------------------

    def memory_curve(self) -> dict[int, float]:
        """Validation nats/char of the n-gram baseline at each order it was measured at ({} without one)."""
        for m in self.models:
            by_order = m.metrics.get("val_nats_per_char_by_order") if m.available else None
            if isinstance(by_order, dict):
                return {int(k): float(v) for k, v in by_order.items()}
        return {}

    def memory_rows(self) -> list[dict]:
        """The n-gram's curve over orders, and each network's validation loss as a flat line across them."""
        curve = self.memory_curve()
        if not curve:
            return []
        rows = [{"model": "n-gram (by order)", "order": k, BITS: v / LN2} for k, v in sorted(curve.items())]
        for m in self.models:
            val = m.metrics.get("val_nats_per_char") if m.available else None
            if val is not None and "val_nats_per_char_by_order" not in m.metrics:
                rows += [{"model": m.label, "order": k, BITS: float(val) / LN2} for k in (min(curve), max(curve))]
        return rows

    def memory_caption(self) -> str:
        """Which order comes closest to each network, and by how much the network still wins, from the numbers."""
        curve = self.memory_curve()
        if not curve:
            return "No n-gram baseline with figures by order is loaded."
        best = min(curve, key=curve.get)
        lines = [f"The n-gram is best at order {best} ({curve[best] / LN2:.3f} bits/char); longer contexts get rarer in the "
                 "training text, so past that the counts thin out and the curve flattens or turns up."]
        for m in self.models:
            val = m.metrics.get("val_nats_per_char") if m.available else None
            if val is None or "val_nats_per_char_by_order" in m.metrics:
                continue
            closest = min(curve, key=lambda k: abs(curve[k] - val))
            if val < curve[best]:
                verdict = (f"beats the best n-gram by {(curve[best] - val) / LN2:.3f} bits/char; the n-gram comes closest to "
                           f"it at order {closest}")
            else:
                verdict = (f"loses to the best n-gram by {(val - curve[best]) / LN2:.3f} bits/char; an order-{closest} "
                           f"n-gram ({curve[closest] / LN2:.3f}) is about as good")
            lines.append(f"{m.label} ({float(val) / LN2:.3f}) {verdict}.")
        return " ".join(lines)

    def memory_plot(self):
        """memory_rows as a pandas DataFrame (what gr.LinePlot takes)."""
        import pandas as pd

        return pd.DataFrame(self.memory_rows(), columns=["model", "order", BITS])

    # --- time-lapse -----------------------------------------------------------------------

    def lapse_fractions(self) -> list[float]:
        """Points of training (fractions of the run) at which any model left a sample."""
        return sorted({float(r["fraction"]) for rows in self.lapses.values() for r in rows if "fraction" in r})

    def lapse_frame(self, index) -> list[tuple[str, str]]:
        """(caption, text) per model at the index-th time-lapse point: each model's latest sample up to it."""
        fractions = self.lapse_fractions()
        try:
            index = min(max(int(index), 0), len(fractions) - 1)
        except (TypeError, ValueError):
            index = len(fractions) - 1
        frame = []
        for m in self.models:
            rows = [r for r in self.lapses.get(m.name, [])
                    if fractions and float(r.get("fraction", 2)) <= fractions[index]]
            if not rows:
                frame.append((f"{m.label}: no time-lapse recorded", ""))
                continue
            r = rows[-1]
            caption = (f"{m.label} at {float(r['fraction']):.0%} of training: step {r.get('step', 0):,}, "
                       f"{r.get('chars', 0) / 1e6:.2f}M characters seen, {r.get('seconds', 0) / 60:.1f} min")
            frame.append((caption, r.get("text", "")))
        return frame

    # --- temperature x model grid ---------------------------------------------------------

    def sample_grid_html(self) -> str:
        """An HTML table: one row per temperature, one column per model."""
        temps = sorted({t for d in self.samples.values() for t in d.get("samples", {})}, key=float)
        if not temps:
            return "<p>No samples.json in the checkpoint folders yet.</p>"
        head = "".join(f"<th>{html.escape(m.label)}</th>" for m in self.models)
        body = []
        for t in temps:
            cells = "".join(
                f'<td data-model="{html.escape(m.label)}">'
                f"<pre>{html.escape(str(self.samples.get(m.name, {}).get('samples', {}).get(t, '')))}</pre></td>"
                for m in self.models
            )
            body.append(f"<tr><th>T = {html.escape(t)}</th>{cells}</tr>")
        first = next(d for d in self.samples.values() if d.get("samples"))
        caption = (f"Prompt {first.get('prompt', '')!r}, seed {first.get('seed', '?')}: the same random draws in every cell,"
                   " so down a column only the temperature changes and across a row only the model.")
        return (f'<table class="sample-grid"><caption>{html.escape(caption)}</caption>'
                f"<tr class=\"heads\"><th></th>{head}</tr>{''.join(body)}</table>")

    # --- model cards ----------------------------------------------------------------------

    def card_markdown(self, m: Served) -> str:
        """The facts of one model as Markdown: a fallback's warning, architecture, sizes, data, figures, source."""
        head = f"### {m.label}\n\n" + (f"⚠️ {m.note}\n\n" if m.note else "")
        if not m.available:
            return f"{head}**Unavailable.** {m.error}"
        c = m.model.config
        training, metrics = c.training, c.metrics
        rows = [
            ("architecture", architecture(c)),
            ("parameters", f"{m.model.num_params():,}"),
            ("vocabulary", f"{c.vocab_size} characters"),
            ("loaded from", f"{m.source} in {m.load_seconds:.2f} s"),
        ]
        if m.repo_id:
            from ..hub import page_url

            rows.append(("Hub repo", f"[`{m.repo_id}`]({page_url(m.repo_id)})"))
            if m.commit:
                rows.append(("commit", f"[`{m.commit}`]({page_url(m.repo_id, m.commit)})"))
        if training:
            budget = (f"{training['minutes']:g} minutes" if training.get("minutes")
                      else f"{training.get('max_iters', 0):,} steps")
            rows.append(("data", f"{Path(str(training.get('data', '?'))).name}: first "
                                 f"{1 - float(training.get('val_fraction', 0.1)):.0%} trains, the rest validates"))
            rows.append(("training", f"batches of {training.get('batch_size')} x {training.get('seq_len')} characters, "
                                     f"peak lr {training.get('lr')}, a budget of {budget}"))
        if metrics:
            rows.append(("best validation", f"{metrics['val_nats_per_char']:.4f} nats/char = "
                                            f"{metrics['val_bits_per_char']:.4f} bits/char at step {metrics.get('step', 0):,}"))
            rows.append(("seen by then", f"{metrics.get('chars_seen', 0) / 1e6:.1f}M characters in "
                                         f"{metrics.get('train_seconds', 0) / 60:.1f} min of training"))
        if metrics.get("hardware"):
            rows.append(("trained on", str(metrics["hardware"])))
        if metrics.get("command"):
            rows.append(("to train it again", f"`{metrics['command']}`"))
        return head + "\n".join(f"- **{k}:** {v}" for k, v in rows) + "\n"


def architecture(c) -> str:
    """One sentence on a model's architecture and sizes, and where it runs."""
    spec = MODELS[c.model_type]
    return spec.describe(c) + (f" {spec.runs_in[0].upper()}{spec.runs_in[1:]}." if spec.runs_in else "")
