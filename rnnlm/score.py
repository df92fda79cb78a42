"""Scoring text: per-character log-probabilities, nats and bits per char, perplexity."""
from __future__ import annotations

import codecs
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .models import runner
from .sample import softmax
from .threads import one_blas_thread

CHUNK = 8192  # characters per forward call; the state is carried between chunks
FILE_BLOCK = 1 << 20  # bytes score_file reads at a time


@dataclass
class Score:
    """How well a model predicts a text."""

    nats_per_char: float
    bits_per_char: float
    perplexity: float
    chars_scored: int
    chars_skipped: int
    text: str  # the characters that were scored, in order
    logprobs: np.ndarray  # (N,) natural-log probability of each scored character
    next_probs: np.ndarray  # (V,) distribution of the character after the text
    skipped: list[str] = field(default_factory=list)  # distinct unknown characters

    @property
    def surprisal_bits(self) -> np.ndarray:
        """Per-character surprisal, -log2 p."""
        return -self.logprobs / math.log(2)

    @property
    def next_entropy_bits(self) -> float:
        p = self.next_probs[self.next_probs > 0]
        return float(-(p * np.log2(p)).sum())

    def summary(self) -> dict:
        """The figures as a JSON-ready dict."""
        return dict(
            nats_per_char=self.nats_per_char,
            bits_per_char=self.bits_per_char,
            perplexity=self.perplexity,
            chars_scored=self.chars_scored,
            chars_skipped=self.chars_skipped,
            skipped_chars=self.skipped,
        )


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis."""
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def stream_logprobs(model, x: np.ndarray, y: np.ndarray, state, chunk: int = CHUNK):
    """Log-probabilities (S, n) of targets y given inputs x, both (S, n): S streams read in chunks of `chunk`
    tokens, the state carried between chunks. Returns them, the final state and the last logits (S, V)."""
    logps = np.empty(x.shape, dtype=np.float64)
    logits = None
    for p in range(0, x.shape[1], chunk):
        logits, state = model.forward(x[:, p : p + chunk], state)  # (S, t, V)
        lp = log_softmax(logits.astype(np.float64))  # (S, t, V)
        logps[:, p : p + chunk] = np.take_along_axis(lp, y[:, p : p + chunk, None], axis=-1)[..., 0]
    return logps, state, (logits[:, -1] if logits is not None else None)


def score(model, text: str, context: str = "\n") -> Score:
    """Score every known character of text, each given all before it (and context before the text).

    The text runs through the model's single-stream runner in a few long forward calls, not one call per
    character, with one BLAS thread (rnnlm.threads); an LSTM or GRU runs its layers on threads of their own.
    """
    model = runner(model)
    vocab = model.vocab
    ids, skipped = vocab.encode_known(text)
    if len(ids) == 0:
        raise ValueError("nothing to score: the text is empty or has no character the model knows")
    ctx, _ = vocab.encode_known(context)
    seq = np.concatenate([ctx, ids])  # (C + N,)
    if len(seq) < 2:
        raise ValueError("nothing to score: give at least two characters, or a context")
    # logps[j] = log p(seq[j + 1] | seq[: j + 1]); the last token is read too, for the next-token distribution
    with one_blas_thread():
        logps, state, _ = stream_logprobs(model, seq[None, :-1], seq[None, 1:], model.init_state(1))
        logits, _ = model.step(seq[-1:], state)  # (1, V) after the whole text
    logps = logps[0]
    logps = logps[len(logps) - len(ids) :] if len(ctx) else logps  # without context the first char is unpredicted
    nats = float(-logps.mean())
    return Score(
        nats_per_char=nats,
        bits_per_char=nats / math.log(2),
        perplexity=math.exp(nats),
        chars_scored=len(logps),
        chars_skipped=len(text) - len(ids),
        text=vocab.decode(ids[len(ids) - len(logps) :]),
        logprobs=logps,
        next_probs=softmax(logits[0]),
        skipped=skipped,
    )


@dataclass
class Totals:
    """How well a model predicts a file, without the per-character figures a long file would not fit."""

    nats_per_char: float
    bits_per_char: float
    perplexity: float
    chars_scored: int
    chars_skipped: int
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return dict(nats_per_char=self.nats_per_char, bits_per_char=self.bits_per_char, perplexity=self.perplexity,
                    chars_scored=self.chars_scored, chars_skipped=self.chars_skipped, skipped_chars=self.skipped)


def score_file(model, path, context: str = "\n", block: int = FILE_BLOCK, progress: bool | None = None) -> Totals:
    """score()'s figures for a UTF-8 file of any size, read `block` bytes at a time with the state carried on.

    Memory stays at a few blocks whatever the file's size. progress: a progress bar on stderr (None: only
    when stderr is a terminal).
    """
    from tqdm.auto import tqdm

    model = runner(model)
    vocab = model.vocab
    path = Path(path)
    ctx, _ = vocab.encode_known(context)
    nats, scored, skipped_count, skipped = 0.0, 0, 0, {}
    decoder = codecs.getincrementaldecoder("utf-8")()
    with one_blas_thread(), open(path, "rb") as f, \
            tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"scoring {path.name}",
                 disable=None if progress is None else not progress) as bar:
        state = model.init_state(1)
        if len(ctx) > 1:  # the context is read, not scored
            _, state = model.forward(ctx[None, :-1], state)
        last = ctx[-1:]  # the token whose prediction comes next, once known
        offset = 0
        while True:
            raw = f.read(block)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}: not UTF-8 text at byte {offset + e.start}") from None
            ids, unknown = vocab.encode_known(text)
            skipped_count += len(text) - len(ids)
            skipped.update(dict.fromkeys(unknown))
            seq = np.concatenate([last, ids])
            if len(seq) > 1:
                logps, state, _ = stream_logprobs(model, seq[None, :-1], seq[None, 1:], state)
                nats -= float(logps.sum())
                scored += len(seq) - 1
            if len(seq):
                last = seq[-1:]
            offset += len(raw)
            bar.update(len(raw))
            if not raw:
                break
    if scored == 0:
        raise ValueError(f"nothing to score in {path}: it is empty or has no character the model knows")
    mean = nats / scored
    return Totals(nats_per_char=mean, bits_per_char=mean / math.log(2), perplexity=math.exp(mean),
                  chars_scored=scored, chars_skipped=skipped_count, skipped=list(skipped))
