"""Sampling: temperature, top-k, top-p, greedy; one seeded generator; tokens (characters or words) streamed one at a time.

Every token costs exactly one uniform draw from the generator (inverse-CDF sampling), so models
given the same seed see the same random numbers: differences between their texts come from the
models, not from sampling luck.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .models import runner
from .threads import one_blas_thread

MAX_LENGTH = 100_000  # tokens per call: enough for any page, bounded for a server
MAX_CONTEXT = 4096  # prompt characters used to warm up the state; older ones barely move it
GREEDY_BELOW = 1e-3  # a temperature this small is greedy: 1 / T would overflow, and the draw is argmax anyway


@dataclass
class SampleSettings:
    """How to pick each next token (a character, or a word or punctuation mark)."""

    length: int = 300  # tokens
    temperature: float = 0.8  # 0 (or below GREEDY_BELOW) = greedy (argmax); <1 sharper; >1 flatter
    top_k: int = 0  # keep the k most likely tokens; 0 = all
    top_p: float = 1.0  # keep the smallest set whose probability reaches top_p; 1 = all
    seed: int | None = None  # None = fresh randomness

    def __post_init__(self):
        if not isinstance(self.length, (int, np.integer)) or not 0 <= self.length <= MAX_LENGTH:
            raise ValueError(f"length must be an integer from 0 to {MAX_LENGTH}, got {self.length!r}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)) or self.temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature!r}")
        if not isinstance(self.top_k, (int, np.integer)) or self.top_k < 0:
            raise ValueError(f"top_k must be an integer >= 0 (0 = off), got {self.top_k!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Stable softmax over the last axis, in float64, at a temperature of at least GREEDY_BELOW."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)  # shifted before dividing: the largest is 0, so exp never overflows
    z /= max(temperature, GREEDY_BELOW)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def next_probs(logits: np.ndarray, s: SampleSettings) -> np.ndarray:
    """The distribution (V,) a token is drawn from, after temperature, top-k and top-p."""
    p = softmax(logits, s.temperature)  # (V,)
    if s.top_k and s.top_k < len(p):
        kth = np.partition(p, -s.top_k)[-s.top_k]
        keep = np.flatnonzero(p >= kth)
        if len(keep) > s.top_k:  # ties at the k-th value: keep exactly k, the lower ids first
            keep = keep[np.argsort(-p[keep], kind="stable")[: s.top_k]]
        mask = np.zeros_like(p)
        mask[keep] = 1.0
        p *= mask
    if s.top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order]) / p.sum()
        cut = int(np.searchsorted(cum, s.top_p)) + 1  # smallest prefix reaching top_p
        p[order[cut:]] = 0.0
    return p / p.sum()


def pick(logits: np.ndarray, s: SampleSettings, u: float) -> int:
    """The next id: argmax when greedy, else the inverse CDF of next_probs at the uniform u."""
    if s.greedy:
        return int(np.argmax(logits))
    if s.top_k or s.top_p < 1.0:
        p = next_probs(logits, s)
    else:  # the common case, in a few in-place ufunc calls: it runs once per generated token
        p = logits.astype(np.float64)
        p -= np.maximum.reduce(p)
        p *= 1.0 / s.temperature
        np.exp(p, out=p)  # unnormalised; the CDF is scaled instead
    cdf = np.add.accumulate(p)
    return min(int(cdf.searchsorted(u * cdf[-1], side="right")), len(cdf) - 1)


@dataclass
class Prompt:
    """A prompt as the model sees it: the ids it warms up on, and what was skipped."""

    ids: np.ndarray
    skipped: list[str] = field(default_factory=list)  # distinct characters skipped, or words read as <unk>
    truncated: int = 0  # leading characters dropped beyond MAX_CONTEXT
    unknown_only: bool = False  # the prompt had tokens, and the vocabulary knew none of them


def prepare_prompt(vocab, prompt: str) -> Prompt:
    """Encode a prompt (unknown characters skipped, unknown words read as <unk>), read as the start of a line:
    after a newline.

    The leading newline matters: in training a stream starts from the zero state only once per pass,
    so from the zero state a model may never have read, say, a capital R. Measured on the bundled
    LSTM: "ROMEO:" alone continues as "XZZ&&Z$ZZX..." at temperature 0.2, "\nROMEO:" as verse.
    An empty prompt is just the newline. score() reads its text after a newline for the same reason.
    """
    truncated = max(0, len(prompt) - MAX_CONTEXT)
    ids, skipped = vocab.encode_known(prompt[truncated:])
    unk = getattr(vocab, "unk_id", None)
    unknown_only = bool(skipped) and (len(ids) == 0 or (unk is not None and bool(np.all(ids == unk))))
    if "\n" in vocab and (len(ids) == 0 or vocab.tokens[ids[0]] != "\n"):
        ids = np.concatenate([vocab.encode("\n"), ids])
    elif len(ids) == 0:
        ids = np.zeros(1, dtype=np.int64)  # a vocabulary without newlines: its first token
    return Prompt(ids=ids, skipped=skipped, truncated=truncated, unknown_only=unknown_only)


class Stream:
    """Iterate to get the generated text one token at a time (a character, or a word with the space before it);
    `.skipped` lists the unknown prompt characters or words, `.tokens` the tokens generated so far."""

    def __init__(self, model, prompt: str = "", settings: SampleSettings | None = None, rng=None):
        self.model = runner(model)  # one stream: the model type's runner (numpy for the LSTM and GRU)
        self.settings = settings or SampleSettings()
        self.prompt = prepare_prompt(self.model.vocab, prompt)
        self.skipped = self.prompt.skipped
        self.text_before = prompt
        self.tokens: list[str] = []
        self.rng = rng if rng is not None else np.random.default_rng(self.settings.seed)

    def __iter__(self) -> Iterator[str]:
        model, s, vocab = self.model, self.settings, self.model.vocab
        tokens = vocab.tokens
        if s.length == 0:
            return
        writer = vocab.detokenizer(self.text_before)  # spaces the first word after the prompt's last
        ids = self.prompt.ids
        logits, state = model.forward(ids[None, :], model.init_state(1))  # warm up on the prompt
        logits = logits[0, -1]  # (V,) prediction after the last prompt token
        stepper = model.stepper(state) if hasattr(model, "stepper") else None  # the compiled one-token step
        for i in range(s.length):
            nxt = pick(logits, s, self.rng.random())
            self.tokens.append(tokens[nxt])
            yield writer.piece(tokens[nxt])
            if i + 1 < s.length:
                if stepper is not None:
                    logits = stepper.step(nxt)
                else:
                    step_logits, state = model.step(np.array([nxt]), state)
                    logits = step_logits[0]


def stream(model, prompt: str = "", rng=None, **settings) -> Stream:
    """A stream of the text model writes after prompt, token by token; settings as in SampleSettings."""
    return Stream(model, prompt, SampleSettings(**settings), rng=rng)


def generate(model, prompt: str = "", rng=None, **settings) -> str:
    """The whole continuation of prompt as one string, computed with one BLAS thread (rnnlm.threads)."""
    with one_blas_thread():
        return "".join(stream(model, prompt, rng=rng, **settings))


@dataclass
class NextTokens:
    """The likeliest tokens after a prompt, most probable first."""

    tokens: list[str]
    probs: np.ndarray  # (k,) each one's probability (at temperature 1)
    skipped: list[str]  # unknown prompt characters skipped, or words read as <unk>
    unknown_only: bool  # the vocabulary knew none of the prompt's tokens


def top_next(model, prompt: str = "", k: int = 10) -> NextTokens:
    """The k likeliest next tokens after prompt (read after a newline, as sampling reads it), with probabilities."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"the number of next tokens must be a whole number >= 1, got {k!r}")
    run = runner(model)
    p = prepare_prompt(run.vocab, prompt)
    with one_blas_thread():
        logits, _ = run.forward(p.ids[None, :], run.init_state(1))
    probs = softmax(logits[0, -1])  # (V,)
    top = np.argsort(-probs, kind="stable")[: min(int(k), len(probs))]
    return NextTokens([run.vocab.tokens[i] for i in top], probs[top], p.skipped, p.unknown_only)
