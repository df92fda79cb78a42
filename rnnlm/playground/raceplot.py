"""The race's figure: validation nats/char against training CPU seconds, one colour per model, the training
loss faint beside it. Drawn with Pillow (installed with Gradio), so the app and `python -m rnnlm race`
need no plotting library."""
from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFont

COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]  # one per model, in race order
SIZE = (960, 540)
MARGIN = dict(left=78, right=24, top=56, bottom=64)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font, one size
        return ImageFont.load_default()


def _faint(colour: str, amount: float = 0.62) -> tuple[int, int, int]:
    """colour mixed with white: the training-loss line."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(round(c + (255 - c) * amount) for c in (r, g, b))


def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]."""
    span = max(hi - lo, 1e-9)
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 2.5, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def race_png(points: dict[str, list[dict]], labels: dict[str, str], title: str = "", vocab_size: int = 0,
             x_label: str = "training seconds (CPU time of each model)") -> bytes:
    """The figure as PNG bytes. points: model -> eval rows (seconds, val, train), "seconds" being whatever x_label
    names; labels: model -> name shown."""
    img = Image.new("RGB", SIZE, "white")
    d = ImageDraw.Draw(img)
    font, small, big = _font(15), _font(13), _font(18)
    W, H = SIZE
    x0, x1, y0, y1 = MARGIN["left"], W - MARGIN["right"], H - MARGIN["bottom"], MARGIN["top"]
    rows = [p for ps in points.values() for p in ps]
    xs = [p["seconds"] for p in rows] or [0.0, 1.0]
    ys = [v for p in rows for v in (p["val"], p.get("train")) if v is not None and math.isfinite(v)] or [0.0, 1.0]
    xmax = max(max(xs), 1e-3)
    ylo, yhi = min(ys), max(ys)
    if vocab_size:
        yhi = min(yhi, math.log(vocab_size) + 0.3)  # the first points sit near a blind guess; nothing is above it
    pad = max((yhi - ylo) * 0.06, 0.02)
    ylo, yhi = max(0.0, ylo - pad), yhi + pad

    def at(x: float, y: float) -> tuple[float, float]:
        y = min(max(y, ylo), yhi)
        return x0 + (x1 - x0) * x / xmax, y0 - (y0 - y1) * (y - ylo) / (yhi - ylo)

    for t in _ticks(ylo, yhi):
        _, py = at(0, t)
        d.line([(x0, py), (x1, py)], fill="#e6e6e6")
        d.text((x0 - 8, py), f"{t:.2f}", fill="#333", font=small, anchor="rm")
    for t in _ticks(0, xmax):
        px, _ = at(t, ylo)
        d.line([(px, y0), (px, y1)], fill="#f0f0f0")
        d.text((px, y0 + 8), f"{t:g}", fill="#333", font=small, anchor="mt")
    d.rectangle([x0, y1, x1, y0], outline="#888")
    d.text(((x0 + x1) / 2, H - 22), x_label, fill="#222", font=font, anchor="mm")
    d.text((x0 - 8, y1 - 14), "nats/char", fill="#222", font=font, anchor="rm")  # above the y axis' ticks
    d.text((x0, 20), title or "validation loss (solid) and training loss (faint)", fill="#111", font=big, anchor="lm")
    for i, (model, ps) in enumerate(points.items()):
        colour = COLOURS[i % len(COLOURS)]
        train = [at(p["seconds"], p["train"]) for p in ps if p.get("train") is not None]
        val = [at(p["seconds"], p["val"]) for p in ps]
        if len(train) > 1:
            d.line(train, fill=_faint(colour), width=2, joint="curve")
        if len(val) > 1:
            d.line(val, fill=colour, width=3, joint="curve")
        for px, py in val:
            d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        last = ps[-1]["val"] if ps else None
        text = f"{labels.get(model, model)}" + (f"  {last:.3f}" if last is not None else "")
        lx, ly = x1 - 230, y1 + 16 + 24 * i
        d.line([(lx, ly), (lx + 28, ly)], fill=colour, width=4)
        d.text((lx + 36, ly), text, fill="#111", font=font, anchor="lm")
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()
