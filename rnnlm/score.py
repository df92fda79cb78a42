"""Scoring text: per-token log-probabilities, nats per token, perplexity, and bits per character that compare
across tokenizers.

Bits per character count what the whole text costs, divided by its characters. A character model pays for
every character it reads. A word model pays for every token, and an <unk> token also pays for its spelling
under the vocabulary's character unigram model (rnnlm.vocab.Spelling): P(<unk> | before) times P(spelling).
The spaces between words cost a word model nothing (its detokenizer puts them back), and they count among the
characters, as they do for a character model; so both figures are bits per character of the same text.
"""
from __future__ import annotations

import codecs
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .models import runner
from .sample import softmax
from .threads import one_blas_thread

CHUNK = 8192  # tokens per forward call; the state is carried between chunks
FILE_BLOCK = 1 << 20  # bytes score_file reads at a time
SENTENCE_BLOCK = 1 << 22  # logits per batch of sentences (B * T * V): 16 MB of float32
MAX_SENTENCES = 10_000  # sentences per call


@dataclass(kw_only=True)
class Figures:
    """What a Score and a file's Totals share: the per-token figures, and per character of the text."""

    kind: str  # the vocabulary's: "char" or "word"
    nats_per_token: float
    perplexity: float  # per token
    bits_per_char: float  # total bits (an <unk> word's spelling included) over the characters of the text
    tokens_scored: int
    characters: int  # characters of the scored text (for characters: the ones scored)
    unk_tokens: int  # <unk> tokens among the scored ones (words only)
    skipped: list[str] = field(default_factory=list)  # distinct unknown characters (skipped) or words (read as <unk>)
    chars_skipped: int = 0  # unknown characters left out (characters only; unknown words are read as <unk>)

    @property
    def nats_per_char(self) -> float:
        return self.bits_per_char * math.log(2)

    @property
    def bits_per_token(self) -> float:
        return self.nats_per_token / math.log(2)

    @property
    def chars_scored(self) -> int:
        return self.characters

    @property
    def unk_rate(self) -> float:
        return self.unk_tokens / self.tokens_scored if self.tokens_scored else 0.0

    def summary(self) -> dict:
        """The figures as a JSON-ready dict."""
        out = dict(tokens=self.kind, nats_per_token=self.nats_per_token, perplexity=self.perplexity,
                   tokens_scored=self.tokens_scored, nats_per_char=self.nats_per_char,
                   bits_per_char=self.bits_per_char, chars_scored=self.characters)
        if self.kind == "char":
            return out | dict(chars_skipped=self.chars_skipped, skipped_chars=self.skipped)
        return out | dict(unk_tokens=self.unk_tokens, unk_rate=self.unk_rate, unknown_words=self.skipped)


@dataclass(kw_only=True)
class Score(Figures):
    """How well a model predicts a text, token by token."""

    tokens: list[str]  # the scored tokens as the model reads them
    pieces: list[str]  # each scored token as it stands in the text, with the spaces before it
    logprobs: np.ndarray  # (N,) natural-log probability of each scored token
    spelling_bits: np.ndarray  # (N,) bits an <unk> token's spelling adds; 0 for every other token
    next_probs: np.ndarray  # (V,) distribution of the token after the text

    @property
    def text(self) -> str:
        """The scored text (for characters: its known characters)."""
        return "".join(self.pieces)

    @property
    def surprisal_bits(self) -> np.ndarray:
        """Per-token surprisal, -log2 p (an <unk>'s spelling not included)."""
        return -self.logprobs / math.log(2)

    @property
    def next_entropy_bits(self) -> float:
        p = self.next_probs[self.next_probs > 0]
        return float(-(p * np.log2(p)).sum())


def honest_bits_per_char(logprobs: np.ndarray, spelling_bits: np.ndarray, characters: int) -> float:
    """Bits per character of a text: (-sum log2 p(token) + the spelling bits of its <unk> tokens) / characters."""
    total = float(-np.sum(logprobs)) / math.log(2) + float(np.sum(spelling_bits))
    return total / characters if characters else float("nan")


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
        logps[:, p : p + chunk] = target_logprobs(logits, y[:, p : p + chunk])
    return logps, state, (logits[:, -1] if logits is not None else None)


def target_logprobs(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log softmax(logits)[target] (..., ) in float64 for logits (..., V) and targets (...).

    Only the normaliser needs every logit: exp runs in the logits' own float32 after the max is taken off (so
    nothing overflows, and the largest term is 1), and the sum accumulates in float64. On logits (20, 26, 8096) this
    took 13 ms against 87 ms for a float64 log-softmax of the whole array, and agreed with it to 1e-6."""
    top = logits.max(axis=-1, keepdims=True)  # (..., 1)
    total = np.exp(logits - top).sum(axis=-1, dtype=np.float64)  # (...,)
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return (picked - top[..., 0]).astype(np.float64) - np.log(total)


def score(model, text: str, context: str = "\n") -> Score:
    """Score every token of text, each given all before it (and context before the text).

    Unknown characters are skipped; unknown words are read as <unk>. The text runs through the model's
    single-stream runner in a few long forward calls, not one call per token, with one BLAS thread
    (rnnlm.threads); an LSTM or GRU runs its layers on threads of their own.
    """
    model = runner(model)
    vocab = model.vocab
    enc = vocab.encode_text(text)
    ids = enc.ids
    if len(ids) == 0:
        what = "character" if vocab.kind == "char" else "token"
        raise ValueError(f"nothing to score: the text is empty or has no {what} the model knows")
    ctx, _ = vocab.encode_known(context)
    seq = np.concatenate([ctx, ids])  # (C + N,)
    if len(seq) < 2:
        raise ValueError("nothing to score: give at least two tokens, or a context")
    # logps[j] = log p(seq[j + 1] | seq[: j + 1]); the last token is read too, for the next-token distribution
    with one_blas_thread():
        logps, state, _ = stream_logprobs(model, seq[None, :-1], seq[None, 1:], model.init_state(1))
        logits, _ = model.step(seq[-1:], state)  # (1, V) after the whole text
    logps = logps[0]
    first = len(ids) - len(logps) if not len(ctx) else 0  # without context the first token is unpredicted
    logps = logps[len(logps) - (len(ids) - first) :]
    spelling = vocab.spelling_bits(enc)[first:]
    start = int(enc.ends[first - 1]) if first else 0
    pieces = [text[a:b] for a, b in zip([start, *enc.ends[first:-1].tolist()], enc.ends[first:].tolist())]
    if vocab.kind == "char":
        pieces, characters = enc.tokens[first:], len(logps)  # known characters only, as the model reads them
    else:
        characters = len(text) - start  # the spaces between words count, as for a character model
    nats = float(-logps.mean())
    return Score(
        kind=vocab.kind,
        nats_per_token=nats,
        perplexity=math.exp(nats),
        bits_per_char=honest_bits_per_char(logps, spelling, characters),
        tokens_scored=len(logps),
        characters=characters,
        unk_tokens=int((spelling > 0).sum()),
        tokens=enc.tokens[first:],
        pieces=pieces,
        logprobs=logps,
        spelling_bits=spelling,
        next_probs=softmax(logits[0]),
        skipped=enc.unknown,
        chars_skipped=len(text) - len(ids) if vocab.kind == "char" else 0,
    )


@dataclass(kw_only=True)
class Totals(Figures):
    """How well a model predicts a file, without the per-token figures a long file would not fit."""


def score_file(model, path, context: str = "\n", block: int = FILE_BLOCK, progress: bool | None = None) -> Totals:
    """score()'s figures for a UTF-8 file of any size, read `block` bytes at a time with the state carried on.

    Memory stays at a few blocks whatever the file's size. A word model reads each block up to its last space
    or line break, and the rest with the next block, so no word is cut in two. progress: a progress bar on
    stderr (None: only when stderr is a terminal).
    """
    from tqdm.auto import tqdm

    model = runner(model)
    vocab = model.vocab
    words = vocab.kind == "word"
    path = Path(path)
    ctx, _ = vocab.encode_known(context)
    nats, spelling, scored, characters, unk, skipped_count, skipped = 0.0, 0.0, 0, 0, 0, 0, {}
    decoder = codecs.getincrementaldecoder("utf-8")()
    with one_blas_thread(), open(path, "rb") as f, \
            tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"scoring {path.name}",
                 disable=None if progress is None else not progress) as bar:
        state = model.init_state(1)
        if len(ctx) > 1:  # the context is read, not scored
            _, state = model.forward(ctx[None, :-1], state)
        last = ctx[-1:]  # the token whose prediction comes next, once known
        offset, carry = 0, ""
        while True:
            raw = f.read(block)
            try:
                text = carry + decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}: not UTF-8 text at byte {offset + e.start}") from None
            if words and raw:  # keep a word the block may have cut for the next block
                cut = max(text.rfind(" "), text.rfind("\n")) + 1
                text, carry = text[:cut], text[cut:]
            enc = vocab.encode_text(text)
            skipped_count += len(text) - len(enc.ids) if not words else 0
            skipped.update(dict.fromkeys(enc.unknown))
            seq = np.concatenate([last, enc.ids])
            if len(seq) > 1:
                logps, state, _ = stream_logprobs(model, seq[None, :-1], seq[None, 1:], state)
                nats -= float(logps.sum())
                cut_first = len(seq) - 1 < len(enc.ids)  # without context the first token is not predicted
                bits = vocab.spelling_bits(enc)[1:] if cut_first else vocab.spelling_bits(enc)
                spelling += float(bits.sum())
                unk += int((bits > 0).sum())
                scored += len(seq) - 1
                characters += len(seq) - 1 if not words else len(text) - (int(enc.ends[0]) if cut_first else 0)
            if len(seq):
                last = seq[-1:]
            offset += len(raw)
            bar.update(len(raw))
            if not raw:
                break
    if scored == 0:
        what = "token" if words else "character"
        raise ValueError(f"nothing to score in {path}: it is empty or has no {what} the model knows")
    mean = nats / scored
    bpc = (nats / math.log(2) + spelling) / characters
    return Totals(kind=vocab.kind, nats_per_token=mean, perplexity=math.exp(mean), bits_per_char=bpc,
                  tokens_scored=scored, characters=characters, unk_tokens=unk, skipped=list(skipped),
                  chars_skipped=skipped_count)


# --- many short texts at once ----------------------------------------------------------------------


@dataclass
class SentenceScore:
    """One sentence's figures: its tokens each given the ones before it, after a line break."""

    text: str
    logprob: float  # natural log of the sentence's probability (an <unk>'s spelling included)
    tokens: list[str]
    logprobs: np.ndarray  # (N,) per token, the model's own
    spelling_bits: np.ndarray  # (N,) bits each <unk> token's spelling adds
    skipped: list[str]  # unknown characters skipped, or unknown words read as <unk>

    @property
    def perplexity(self) -> float:
        """exp of the mean nats per token, spelling included."""
        return math.exp(-self.logprob / len(self.tokens))

    @property
    def bits(self) -> float:
        return -self.logprob / math.log(2)

    def summary(self) -> dict:
        return dict(text=self.text, logprob=self.logprob, bits=self.bits, perplexity=self.perplexity,
                    tokens=len(self.tokens), unk_tokens=int((self.spelling_bits > 0).sum()), unknown=self.skipped)


def score_sentences(model, sentences: list[str]) -> list[SentenceScore]:
    """Score each sentence on its own, from the start of a text (after a line break), most probable first.

    Sentences of similar length run together as one batch, padded at the end: a padded position comes after
    every real one of its row, so it changes nothing before it, and its log-probabilities are left out.
    """
    model = runner(model)
    vocab = model.vocab
    if not sentences:
        raise ValueError("no sentences to score")
    if len(sentences) > MAX_SENTENCES:
        raise ValueError(f"{len(sentences):,} sentences is more than {MAX_SENTENCES:,} at once")
    start = vocab.encode_known("\n")[0] if "\n" in vocab else np.zeros(1, np.int64)
    encoded = []
    for i, s in enumerate(sentences):
        enc = vocab.encode_text(s)
        if len(enc.ids) == 0:
            raise ValueError(f"sentence {i + 1} ({s[:40]!r}) has nothing to score: no "
                             f"{'character' if vocab.kind == 'char' else 'token'} the model knows")
        encoded.append(enc)
    V = model.config.vocab_size
    order = sorted(range(len(sentences)), key=lambda i: len(encoded[i].ids))
    logps: dict[int, np.ndarray] = {}
    at = 0
    while at < len(order):
        T = len(encoded[order[at]].ids)
        batch = [order[at]]
        while at + len(batch) < len(order):  # the longest sentence sets T; add sentences while the block allows
            nxt = order[at + len(batch)]
            T_next = len(encoded[nxt].ids)
            if (len(batch) + 1) * T_next * V > SENTENCE_BLOCK:
                break
            batch.append(nxt)
            T = T_next
        at += len(batch)
        seq = np.full((len(batch), T + 1), start[0], dtype=np.int64)  # (B, T + 1): start, tokens, padding
        for row, i in enumerate(batch):
            seq[row, 1 : len(encoded[i].ids) + 1] = encoded[i].ids
        with one_blas_thread():
            lp, _, _ = stream_logprobs(model, seq[:, :-1], seq[:, 1:], model.init_state(len(batch)))  # (B, T)
        for row, i in enumerate(batch):
            logps[i] = lp[row, : len(encoded[i].ids)]
    out = []
    for i, s in enumerate(sentences):
        spelling = vocab.spelling_bits(encoded[i])
        total = float(logps[i].sum()) - float(spelling.sum()) * math.log(2)
        out.append(SentenceScore(s, total, encoded[i].tokens, logps[i], spelling, encoded[i].unknown))
    return sorted(out, key=lambda r: -r.logprob)
