"""Vocabularies of characters or words, stored inside the model config, with one interface for both.

    char   the sorted set of the corpus' characters; a character outside it is skipped (and listed)
    word   words, numbers and punctuation marks, with each line break a token of its own; the N most
           frequent tokens of the training split, and <unk> standing for every other one

Whatever reads text (sampling, scoring, the app) calls the same methods on either kind: encode_text or
encode_known to read, tokens[i] for what an id stands for, decode or a detokenizer to write text again.

Word text loses its spacing when split; writing it back follows the rules of English punctuation: no space
before , . ; : ! ? ) ] ” ’ or a contraction ('s, n't, 'll, ...), none after ( [ “ ‘ $, none around - — /, and
a line break token starts a new line. A straight double quote or an underscore (italics) opens, then closes.
Prose written that way (single spaces, no indented lines) comes back character for character.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

KINDS = ("char", "word")
UNK = "<unk>"  # the word vocabulary's stand-in for every token outside it; id 0
NEWLINE = "\n"  # a token in both kinds; sampling and scoring read text after one (the start of a text)
MIN_WORDS = 2  # a word vocabulary holds at least <unk> and the line break
DEFAULT_WORDS = 10_000


# --- characters ------------------------------------------------------------------------------------


@dataclass
class Encoded:
    """A text read by a vocabulary: one entry per token the model reads."""

    ids: np.ndarray  # (N,) int64 token ids
    tokens: list[str]  # each token as read from the text (a word outside the vocabulary spelled out)
    ends: np.ndarray  # (N,) where each token ends in the text: text[ends[i - 1]:ends[i]] is it with its spaces
    unknown: list[str]  # distinct tokens outside the vocabulary, in order of appearance


class Vocab:
    """Characters to ids and back. Sorted, so the same text always gives the same ids."""

    kind = "char"

    def __init__(self, chars: str):
        if not chars:
            raise ValueError("empty vocabulary")
        if len(set(chars)) != len(chars) or list(chars) != sorted(chars):
            raise ValueError("vocabulary must be sorted unique characters")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self._lookup = np.array(list(chars))

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls("".join(sorted(set(text))))

    @property
    def tokens(self) -> str:
        """What each id stands for: tokens[i]."""
        return self.chars

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self.index

    def encode(self, text: str) -> np.ndarray:
        """Ids of text; raises KeyError-free ValueError listing characters not in the vocabulary."""
        ids, unknown = self.encode_known(text)
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {describe_chars(unknown)}")
        return ids

    def encode_known(self, text: str) -> tuple[np.ndarray, list[str]]:
        """Ids of the known characters, and the distinct unknown ones (in order of appearance)."""
        index = self.index
        ids = [index.get(c, -1) for c in text]
        arr = np.array(ids, dtype=np.int64)
        unknown = list(dict.fromkeys(c for c, i in zip(text, ids) if i < 0)) if (arr < 0).any() else []
        return arr[arr >= 0], unknown

    def encode_text(self, text: str) -> Encoded:
        """The known characters of text (unknown ones are skipped and listed), with where each ends."""
        ids, unknown = self.encode_known(text)
        if unknown:
            ends = np.flatnonzero([c in self.index for c in text]) + 1
        else:
            ends = np.arange(1, len(text) + 1)
        return Encoded(ids, list(self.decode(ids)), ends.astype(np.int64), unknown)

    def decode(self, ids) -> str:
        return "".join(self._lookup[np.asarray(ids, dtype=np.int64)])

    def detokenizer(self, before: str = "") -> "Verbatim":
        """Writes tokens as text one at a time: a character is its own text."""
        return Verbatim()

    def spelling_bits(self, encoded: Encoded) -> np.ndarray:
        """(N,) bits beyond the model's own to spell each token: none, every character is a token."""
        return np.zeros(len(encoded.ids))

    def settings(self) -> dict:
        """What config.tokens records."""
        return {"kind": "char"}


class Verbatim:
    """The character vocabulary's detokenizer: each token is written as it is."""

    def piece(self, token: str) -> str:
        return token


# --- words -----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
      \n                              # a line break
    | \d+(?:[.,:]\d+)+                # a number with separators: 1,000  3.14  5:15
    | (?<!\S)['’][^\W_]+(?:['’][^\W_]+)*   # a word cut short in front, after a space: 'tis, 'em, ’twas
    | [^\W_]+(?:['’][^\W_]+)*         # a word, apostrophes inside it included: don't, men’s, o'er
    | \S                              # any other visible character: a punctuation mark of its own
""", re.VERBOSE)
_CONTRACTION = re.compile(r"(.+?)(n['’]t|['’](?:s|m|d|ll|re|ve))", re.IGNORECASE)  # do|n't, Holmes|’s
_SUFFIX = re.compile(r"n['’]t|['’](?:s|m|d|ll|re|ve)", re.IGNORECASE)
CLOSERS = set(",.;:!?)]}”»%…")  # no space before
OPENERS = set("([{“«‘$¿¡#")  # no space after
JOINERS = set("-–—/")  # no space on either side
PAIRED = set('"_')  # the same mark opens and closes: a straight double quote, an underscore around italics
APOSTROPHES = set("'’")  # alone: a closing quote or a plural possessive, unless it starts a line or follows an opener


def split_words(text: str, lowercase: bool = False) -> list[tuple[str, int]]:
    """(token, end) for every token of text: words, numbers, each punctuation mark, each line break.

    Contractions split before their suffix (do n't, Holmes 's); spaces and tabs separate tokens and are dropped.
    """
    out = []
    for m in _TOKEN.finditer(text):
        tok, end = m.group(), m.end()
        c = _CONTRACTION.fullmatch(tok) if len(tok) > 2 else None
        if c:
            out.append((c.group(1), m.start() + len(c.group(1))))
            tok = c.group(2)
        out.append((tok, end))
    return [(t.lower(), e) for t, e in out] if lowercase else out


class WordDetokenizer:
    """Writes word tokens back as text, one at a time, deciding the space before each from the ones before it."""

    def __init__(self):
        self.glue = True  # the next token attaches without a space: at the start, after a line break or an opener
        self.open: set[str] = set()  # paired marks (" _) opened and not yet closed
        self.breaks = 0  # line breaks in a row; a blank line closes every open mark

    def piece(self, token: str) -> str:
        """token's text with the space before it, if any."""
        if token == NEWLINE:
            self.breaks += 1
            if self.breaks >= 2:
                self.open.clear()
            self.glue = True
            return token
        self.breaks = 0
        if token in PAIRED:
            closing = token in self.open
            (self.open.discard if closing else self.open.add)(token)
            space, glue = not closing and not self.glue, not closing
        elif token in APOSTROPHES:
            space, glue = False, self.glue  # an opener at the start of a line or after another one, else a closer
        elif token in CLOSERS or _SUFFIX.fullmatch(token):
            space, glue = False, False
        elif token in OPENERS:
            space, glue = not self.glue, True
        elif token in JOINERS:
            space, glue = False, True
        else:
            space, glue = not self.glue, False
        self.glue = glue
        return " " + token if space else token


@dataclass
class Spelling:
    """A character unigram model of the training split's tokens, with an end-of-word symbol: what spelling out a
    word the vocabulary does not hold costs. Add-one smoothing over the characters seen, end-of-word and one
    "other" symbol, which stands for each of the remaining Unicode code points equally; so it is a proper
    distribution over all strings and no word costs infinitely much."""

    chars: str  # the characters seen, sorted
    counts: list[int]  # how often each occurs in the training split's tokens (line breaks not counted)
    ends: int  # how many tokens were counted: each ends once

    CODE_POINTS = 0x110000

    def __post_init__(self):
        if not isinstance(self.chars, str) or list(self.chars) != sorted(set(self.chars)):
            raise ValueError("tokens.spelling.chars must be sorted unique characters")
        if (not isinstance(self.counts, list) or len(self.counts) != len(self.chars)
                or any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in self.counts)):
            raise ValueError("tokens.spelling.counts must be one count >= 0 per character of tokens.spelling.chars")
        if isinstance(self.ends, bool) or not isinstance(self.ends, int) or self.ends < 0:
            raise ValueError(f"tokens.spelling.ends must be a count >= 0, got {self.ends!r}")
        total = sum(self.counts) + len(self.counts) + 1 + self.ends + 1  # add one to each symbol
        self._bits = {c: -math.log2((n + 1) / total) for c, n in zip(self.chars, self.counts)}
        self._end_bits = -math.log2((self.ends + 1) / total)
        self._other_bits = math.log2(total) + math.log2(self.CODE_POINTS - len(self.chars))

    @classmethod
    def count(cls, tokens) -> "Spelling":
        """The model of these tokens' spellings."""
        chars, ends = Counter(), 0
        for t in tokens:
            chars.update(t)
            ends += 1
        keys = sorted(chars)
        return cls("".join(keys), [chars[c] for c in keys], ends)

    def bits(self, word: str) -> float:
        """-log2 of the probability of spelling word and ending it."""
        return sum(self._bits.get(c, self._other_bits) for c in word) + self._end_bits

    def to_dict(self) -> dict:
        return {"chars": self.chars, "counts": list(self.counts), "ends": self.ends}


class WordVocab:
    """Words, numbers, punctuation and line breaks to ids and back; <unk> (id 0) for every token outside it."""

    kind = "word"

    def __init__(self, tokens: list[str], lowercase: bool = False, spelling: Spelling | None = None,
                 max_size: int | None = None):
        check_word_list(tokens)
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.unk_id = self.index[UNK]
        self.lowercase = bool(lowercase)
        self.spelling = spelling or Spelling.count([])
        self.max_size = max_size or len(self.tokens)

    @classmethod
    def build(cls, train_text: str, max_size: int = DEFAULT_WORDS, lowercase: bool = False) -> "WordVocab":
        """<unk>, the line break and the max_size - 2 most frequent other tokens of train_text (ties: in code point
        order), most frequent first; and the spelling model of train_text's tokens."""
        check_max_size(max_size)
        words = [t for t, _ in split_words(train_text, lowercase) if t != NEWLINE]
        counts = Counter(words)
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        return cls([UNK, NEWLINE, *ranked[: max_size - 2]], lowercase, Spelling.count(words), max_size)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def split(self, text: str) -> list[str]:
        """text's tokens, lowercased when the vocabulary is."""
        return [t for t, _ in split_words(text, self.lowercase)]

    def encode_text(self, text: str) -> Encoded:
        """Every token of text, one outside the vocabulary read as <unk> (and listed)."""
        pairs = split_words(text, self.lowercase)
        index, unk = self.index, self.unk_id
        ids = np.array([index.get(t, unk) for t, _ in pairs], dtype=np.int64)
        tokens = [t for t, _ in pairs]
        unknown = list(dict.fromkeys(t for t, i in zip(tokens, ids) if i == unk))
        return Encoded(ids, tokens, np.array([e for _, e in pairs], dtype=np.int64), unknown)

    def encode_known(self, text: str) -> tuple[np.ndarray, list[str]]:
        """Ids of every token (<unk> for the unknown ones), and the distinct unknown ones in order of appearance."""
        e = self.encode_text(text)
        return e.ids, e.unknown

    def encode(self, text: str) -> np.ndarray:
        """Ids of text's tokens; a token outside the vocabulary is <unk>."""
        return self.encode_text(text).ids

    def decode(self, ids) -> str:
        d = WordDetokenizer()
        return "".join(d.piece(self.tokens[i]) for i in np.asarray(ids, dtype=np.int64).tolist())

    def detokenizer(self, before: str = "") -> WordDetokenizer:
        """A detokenizer that continues after the text before (its open quotes, whether a space ends it)."""
        d = WordDetokenizer()
        for t, _ in split_words(before, self.lowercase):
            d.piece(t)
        if not before or before[-1].isspace():
            d.glue = True
        return d

    def spelling_bits(self, encoded: Encoded) -> np.ndarray:
        """(N,) bits to spell each <unk> token out under the spelling model; 0 for the others."""
        return np.array([self.spelling.bits(t) if i == self.unk_id else 0.0
                         for t, i in zip(encoded.tokens, encoded.ids.tolist())])

    def settings(self) -> dict:
        """What config.tokens records."""
        return {"kind": "word", "max_size": self.max_size, "lowercase": self.lowercase,
                "spelling": self.spelling.to_dict()}


# --- in a model config -----------------------------------------------------------------------------


def check_max_size(max_size) -> None:
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < MIN_WORDS:
        raise ValueError(f"--vocab-size must be a whole number >= {MIN_WORDS} (<unk> and the line break), "
                         f"got {max_size!r}")


def check_word_list(tokens) -> None:
    """A word vocabulary: a list of distinct non-empty strings holding <unk> and the line break."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise ValueError("a word vocabulary must be a list of non-empty strings")
    if len(set(tokens)) != len(tokens):
        raise ValueError("a word vocabulary must not repeat a token")
    missing = [repr(t) for t in (UNK, NEWLINE) if t not in tokens]
    if missing:
        raise ValueError(f"a word vocabulary must hold {' and '.join(missing)}")


def check_tokens(vocab, tokens) -> None:
    """Check config.vocab against config.tokens; a ValueError naming the field otherwise."""
    if not isinstance(tokens, dict):
        raise ValueError(f"model config.tokens must be a JSON object, got {type(tokens).__name__}")
    kind = tokens.get("kind", "char")
    if kind not in KINDS:
        raise ValueError(f"model config.tokens.kind must be char or word, got {kind!r}")
    allowed = {"kind"} if kind == "char" else {"kind", "max_size", "lowercase", "spelling"}
    unknown = sorted(set(tokens) - allowed)
    if unknown:
        raise ValueError(f"unknown keys in model config.tokens for {kind} tokens: {', '.join(map(str, unknown))}")
    if kind == "char":
        if not isinstance(vocab, str):
            raise ValueError(f"model config.vocab must be a string of characters, got {type(vocab).__name__}")
        return
    if "max_size" in tokens:
        check_max_size(tokens["max_size"])
    if not isinstance(tokens.get("lowercase", False), bool):
        raise ValueError(f"model config.tokens.lowercase must be true or false, got {tokens['lowercase']!r}")
    spelling = tokens.get("spelling", {"chars": "", "counts": [], "ends": 0})
    if not isinstance(spelling, dict) or set(spelling) != {"chars", "counts", "ends"}:
        raise ValueError("model config.tokens.spelling must be an object with chars, counts and ends")
    Spelling(**spelling)
    if vocab not in ("", []):  # empty: to be made from the corpus when training starts
        try:
            check_word_list(vocab)
        except ValueError as e:
            raise ValueError(f"model config.vocab: {e}") from None


def make_vocab(config) -> Vocab | WordVocab:
    """The vocabulary a model config stores (config.vocab, of the kind config.tokens names)."""
    tokens = config.tokens
    if tokens.get("kind", "char") == "char":
        return Vocab(config.vocab)
    spelling = tokens.get("spelling")
    return WordVocab(config.vocab, tokens.get("lowercase", False), Spelling(**spelling) if spelling else None,
                     tokens.get("max_size"))


def build_vocab(settings: dict, text: str, train_text: str) -> Vocab | WordVocab:
    """A new model's vocabulary of the kind settings (config.tokens) asks for: the characters of the whole text,
    or the most frequent words of its training split."""
    check_tokens("", settings)
    if settings.get("kind", "char") == "char":
        return Vocab.from_text(text)
    return WordVocab.build(train_text, settings.get("max_size", DEFAULT_WORDS), settings.get("lowercase", False))


def show_token(token: str) -> str:
    """A token as a person reads it in a list: a line break as ↵, a space as ␣."""
    return {NEWLINE: "↵", " ": "␣"}.get(token, token)


def describe_chars(chars) -> str:
    """Human-readable list of characters: '😀' (U+1F600), ..."""
    shown = [f"{c!r} (U+{ord(c):04X})" for c in list(chars)[:20]]
    more = len(chars) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def describe_unknown(vocab, unknown: list[str]) -> str:
    """The tokens a text held outside vocab, in words: characters by code point, words quoted."""
    if vocab.kind == "char":
        return describe_chars(unknown)
    shown = ", ".join(repr(w) for w in unknown[:20])
    return shown + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
