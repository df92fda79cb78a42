"""Scoring text: per-character log-probabilities, nats and bits per char, perplexity."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .sample import softmax

CHUNK = 2048  # characters per forward call; the state is carried between chunks


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


def score(model, text: str, context: str = "\n") -> Score:
    """Score every known character of text, each given all before it (and context before the text).

    The whole text runs through the model in a few long forward calls, not one call per character.
    """
    vocab = model.vocab
    ids, skipped = vocab.encode_known(text)
    if len(ids) == 0:
        raise ValueError("nothing to score: the text is empty or has no character the model knows")
    ctx, _ = vocab.encode_known(context)
    seq = np.concatenate([ctx, ids])  # (C + N,)
    logps = np.empty(len(seq) - 1, dtype=np.float64)  # logps[j] = log p(seq[j + 1] | seq[: j + 1])
    state = model.init_state(1)
    for pos in range(0, len(seq), CHUNK):
        chunk = seq[pos : pos + CHUNK]  # (t,)
        logits, state = model.forward(chunk[None, :], state)  # (1, t, V)
        targets = seq[pos + 1 : pos + 1 + len(chunk)]  # the last chunk has one target fewer
        lp = log_softmax(logits[0, : len(targets)].astype(np.float64))  # (t', V)
        logps[pos : pos + len(targets)] = lp[np.arange(len(targets)), targets]
    logps = logps[len(logps) - len(ids) :] if len(ctx) else logps  # without context the first char is unpredicted
    if len(logps) == 0:
        raise ValueError("nothing to score: give at least two characters, or a context")
    nats = float(-logps.mean())
    return Score(
        nats_per_char=nats,
        bits_per_char=nats / math.log(2),
        perplexity=math.exp(nats),
        chars_scored=len(logps),
        chars_skipped=len(text) - len(ids),
        text=vocab.decode(ids[len(ids) - len(logps) :]),
        logprobs=logps,
        next_probs=softmax(logits[0, -1]),
        skipped=skipped,
    )
