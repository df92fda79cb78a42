"""Server-side checks of every app input: API callers bypass the sliders, so nothing is trusted.

Each check returns a usable value and, when it changed or read something, a Note saying what and
why; what cannot be made usable raises InputError with a message meant for the visitor.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

from ..sample import GREEDY_BELOW, SampleSettings
from ..vocab import UNK, describe_chars, describe_unknown

MAX_GENERATE = 2000  # characters per app request (the library allows sample.MAX_LENGTH): a page, seconds at worst
MAX_PROMPT = 2000  # prompt characters kept (the last ones): the state has forgotten anything earlier
MAX_SCORE = 5000  # characters scored per request: three models read it in about a second
MAX_TEMPERATURE = 2.0  # above this every model's text is noise
MAX_TOP_K = 200  # more than any character vocabulary here
MIN_TOP_P = 0.01  # top-p 0 would keep no character at all
MAX_SEED = 2**32 - 1
_LIBRARY = SampleSettings()
DEFAULTS = dict(length=_LIBRARY.length, temperature=_LIBRARY.temperature, top_k=_LIBRARY.top_k,
                top_p=_LIBRARY.top_p, seed="random")  # the library's defaults; the app draws a seed it can show


class InputError(ValueError):
    """An input the app cannot use; the message says which one and what to do."""


@dataclass
class Note:
    """Something the visitor should know about their input: 'info' or 'warning'."""

    level: str
    text: str


@dataclass
class Request:
    """A checked sampling request."""

    prompt: str
    settings: SampleSettings
    random_seed: bool  # the seed was drawn here; shown so the text can be reproduced
    notes: list[Note] = field(default_factory=list)

    def summary(self) -> str:
        """The settings actually used, in one line."""
        s = self.settings
        top_k = "off (0)" if s.top_k == 0 else str(s.top_k)
        top_p = "off (1)" if s.top_p == 1 else f"{s.top_p:g}"
        seed = f"{s.seed} (drawn at random)" if self.random_seed else str(s.seed)
        temp = f"{s.temperature:g}" + (" (greedy)" if s.greedy else "")
        return f"temperature {temp} · top-k {top_k} · top-p {top_p} · seed {seed}"


def _number(name: str, value, default: float, notes: list[Note]) -> float:
    """value as a finite-or-infinite float; anything unreadable becomes the default, with a note."""
    given = value
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            pass
    # bool is an int to Python, not a setting to a visitor
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        shown = "nan" if isinstance(value, float) else repr(given)[:40]
        notes.append(Note("warning", f"{name} {shown} is not a number; using the default {default:g}."))
        return float(default)
    return float(value)


def _fmt(value: float) -> str:
    """1000000 -> '1,000,000', 0.5 -> '0.5', inf -> 'inf'."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:g}"


def _clamp(name: str, value: float, lo: float, hi: float, notes: list[Note],
           lo_why: str = "", hi_why: str = "") -> float:
    """value limited to [lo, hi], with a note naming the input when it moved."""
    if value < lo:
        notes.append(Note("warning", f"{name} {_fmt(value)} is below {_fmt(lo)}; using {_fmt(lo)}{lo_why}."))
        return lo
    if value > hi:
        notes.append(Note("warning", f"{name} {_fmt(value)} is above {_fmt(hi)}; using {_fmt(hi)}{hi_why}."))
        return hi
    return value


def _whole(name: str, value: float, notes: list[Note]) -> int:
    """value rounded to an integer, with a note when it had a fraction."""
    if value != int(value):
        notes.append(Note("warning", f"{name} {_fmt(value)} is not a whole number; using {round(value)}."))
    return int(round(value))


def check_seed(seed, notes: list[Note]) -> tuple[int, bool]:
    """(seed, drawn_at_random) from a number or 'random' (blank also means random)."""
    text = "" if seed is None else str(seed).strip()
    if text.lower() in ("", "random", "none"):
        return secrets.randbelow(MAX_SEED + 1), True
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        drawn = secrets.randbelow(MAX_SEED + 1)
        notes.append(Note("warning", f"seed {text[:40]!r} is not a number or 'random'; using the random seed {drawn}."))
        return drawn, True
    whole = int(value)
    if whole != value or not 0 <= whole <= MAX_SEED:
        used = whole % (MAX_SEED + 1)
        notes.append(Note("warning", f"seed {text[:40]} is not a whole number from 0 to {MAX_SEED}; using {used}."))
        return used, False
    return whole, False


def check_prompt(prompt, notes: list[Note]) -> str:
    """The prompt as a string of at most MAX_PROMPT characters (its end, which the model continues)."""
    if prompt is None:
        prompt = ""
    if not isinstance(prompt, str):
        raise InputError(f"the prompt must be text, not {type(prompt).__name__}")
    if not prompt:
        notes.append(Note("info", "The prompt is empty: the models start from a newline, as at the start of a speech."))
    if len(prompt) > MAX_PROMPT:
        notes.append(Note("warning", f"The prompt has {len(prompt):,} characters; using its last {MAX_PROMPT:,} "
                                     "(the models' memory fades long before that)."))
        prompt = prompt[-MAX_PROMPT:]
    return prompt


def check_sampling(prompt, length, temperature, top_k, top_p, seed) -> Request:
    """Every sampling input checked and clamped; notes name each value that was changed."""
    notes: list[Note] = []
    prompt = check_prompt(prompt, notes)
    n = _number("length", length, DEFAULTS["length"], notes)
    n = _whole("length", _clamp("length", n, 1, MAX_GENERATE, notes, hi_why=" characters"), notes)
    t = _number("temperature", temperature, DEFAULTS["temperature"], notes)
    t = _clamp("temperature", t, 0.0, MAX_TEMPERATURE, notes,
               lo_why=" (greedy: always the likeliest character)", hi_why=" (beyond that every model writes noise)")
    if 0 < t < GREEDY_BELOW:
        notes.append(Note("warning", f"temperature {t:g} is below {GREEDY_BELOW:g}; sampling greedily (always the "
                                     "likeliest character), which is what so small a temperature means."))
    k = _number("top-k", top_k, DEFAULTS["top_k"], notes)
    k = _whole("top-k", _clamp("top-k", k, 0, MAX_TOP_K, notes, lo_why=" (off)"), notes)
    p = _number("top-p", top_p, DEFAULTS["top_p"], notes)
    p = _clamp("top-p", p, MIN_TOP_P, 1.0, notes,
               lo_why=" (top-p 0 would leave no character to pick)", hi_why=" (off: every character stays)")
    s, random_seed = check_seed(seed, notes)
    settings = SampleSettings(length=n, temperature=t, top_k=k, top_p=p, seed=s)
    return Request(prompt, settings, random_seed, notes)


def check_known(text: str, vocab, notes: list[Note], what: str = "prompt") -> None:
    """Note the tokens of text a model cannot read, listing them: unknown characters are skipped, unknown words
    read as <unk>. A prompt or text made only of them says so."""
    ids, unknown = vocab.encode_known(text)
    if not unknown:
        return
    if vocab.kind == "word":
        only = len(ids) > 0 and all(vocab.tokens[i] == UNK for i in ids)
        rest = f"; the {what} has no word the models know" if only else ""
        notes.append(Note("warning", f"Words the models never saw, each read as the unknown-word token: "
                                     f"{describe_unknown(vocab, unknown)}{rest}."))
        return
    rest = ""
    if len(ids) == 0:
        rest = f"; no character of the {what} is left" + (", so the models start from a newline" if what == "prompt" else "")
    notes.append(Note("warning", f"Skipped characters the models never saw: {describe_chars(unknown)}{rest}."))


def check_score_text(text, vocab) -> tuple[str, list[Note]]:
    """The text to score (at most MAX_SCORE characters), or InputError when nothing in it can be scored."""
    notes: list[Note] = []
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise InputError(f"the text to score must be text, not {type(text).__name__}")
    if not text.strip():
        raise InputError("Nothing to score: paste or type some text first.")
    if len(text) > MAX_SCORE:
        notes.append(Note("warning", f"The text has {len(text):,} characters; scoring its first {MAX_SCORE:,}."))
        text = text[:MAX_SCORE]
    ids, unknown = vocab.encode_known(text)
    if vocab.kind == "char" and unknown and len(ids) == 0:
        raise InputError(f"Nothing to score: the models know none of these characters: {describe_chars(unknown)}.")
    check_known(text, vocab, notes, what="text")
    return text, notes
