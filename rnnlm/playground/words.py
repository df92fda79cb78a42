"""The word sets' two views: each model's likeliest next words after a phrase with a greedy continuation, and
which of a few sentences each model finds more likely."""
from __future__ import annotations

from ..sample import generate, top_next
from ..score import score_sentences
from ..vocab import describe_unknown, show_token
from .inputs import InputError, Note, check_prompt
from .loading import Served

NEXT_WORDS = 10  # bars per model
MAX_CONTINUE = 50  # words of greedy continuation per request
DEFAULT_CONTINUE = 10
MAX_SENTENCES = 20  # sentences per ranking request
MAX_SENTENCE = 400  # characters per sentence
SENTENCE_HEADERS = ["model", "rank", "sentence", "log-prob (bits)", "perplexity per token", "tokens", "unknown words"]


def check_words(models: list[Served]) -> list[Served]:
    """The available word models, or InputError saying the view needs a word set."""
    words = [m for m in models if m.available and m.kind == "word"]
    if not words:
        raise InputError("This view is for a set of word models (Sherlock Holmes · words): pick one at the top of "
                         "the page. Character models predict one character at a time, not words.")
    return words


def check_length(length, notes: list[Note]) -> int:
    """The number of words to continue, a whole number from 0 to MAX_CONTINUE (with a note when changed)."""
    try:
        n = float(length)
    except (TypeError, ValueError):
        notes.append(Note("warning", f"words to continue {str(length)[:40]!r} is not a number; using "
                                     f"{DEFAULT_CONTINUE}."))
        return DEFAULT_CONTINUE
    if n != n or not 0 <= n <= MAX_CONTINUE or n != int(n):
        used = DEFAULT_CONTINUE if n != n else int(min(max(round(n), 0), MAX_CONTINUE))
        notes.append(Note("warning", f"words to continue {str(length)[:40]} is not a whole number from 0 to "
                                     f"{MAX_CONTINUE}; using {used}."))
        return used
    return int(n)


def next_words(models: list[Served], prompt, length=DEFAULT_CONTINUE
               ) -> tuple[list[dict[str, float]], list[str], list[Note]]:
    """For each model: its NEXT_WORDS likeliest next tokens after prompt (shown form -> probability) and its
    greedy continuation of `length` words; and notes. InputError when the phrase has no word a model knows."""
    notes: list[Note] = []
    prompt = check_prompt(prompt, notes)
    n = check_length(length, notes)
    tops, texts = [], []
    for m in models:
        nxt = top_next(m.model, prompt, NEXT_WORDS)
        if nxt.unknown_only:
            raise InputError(f"The phrase has no word the models know ({describe_unknown(m.model.vocab, nxt.skipped)}"
                             "): each would be read as the unknown-word token. Try ordinary English words.")
        if nxt.skipped:
            notes.append(Note("warning", f"Words the models never saw, each read as the unknown-word token: "
                                         f"{describe_unknown(m.model.vocab, nxt.skipped)}."))
        tops.append({show_token(t): float(p) for t, p in zip(nxt.tokens, nxt.probs)})
        texts.append(generate(m.model, prompt, length=n, temperature=0.0) if n else "")
    return tops, texts, notes


def split_sentences(text) -> list[str]:
    """The sentences of text, one a line (blank lines left out); InputError for fewer than two or too many."""
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise InputError(f"the sentences must be text, not {type(text).__name__}")
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if len(sentences) < 2:
        raise InputError("Give two or more sentences, one per line, to see which one each model finds more likely.")
    if len(sentences) > MAX_SENTENCES:
        raise InputError(f"{len(sentences)} sentences is more than {MAX_SENTENCES}: rank at most {MAX_SENTENCES} "
                         "at a time.")
    long = [i + 1 for i, s in enumerate(sentences) if len(s) > MAX_SENTENCE]
    if long:
        raise InputError(f"sentence {long[0]} has more than {MAX_SENTENCE} characters: one sentence a line.")
    return sentences


def rank_sentences(models: list[Served], text) -> tuple[list[list], list[Note]]:
    """Each model's ranking of the sentences, most likely first: SENTENCE_HEADERS rows; and notes."""
    sentences = split_sentences(text)
    rows, unknown, notes = [], {}, []
    for m in models:
        try:
            ranked = score_sentences(m.model, sentences)
        except ValueError as e:
            raise InputError(str(e)) from None
        for rank, s in enumerate(ranked, 1):
            rows.append([m.label, rank, s.text, round(s.bits, 2), round(s.perplexity, 1), len(s.tokens),
                         ", ".join(s.skipped)])
            unknown.update(dict.fromkeys(s.skipped))
    if unknown:
        notes.append(Note("info", "Words the models never saw, each read as the unknown-word token and spelled out "
                                  "letter by letter (that costs bits): "
                                  f"{describe_unknown(models[0].model.vocab, list(unknown))}."))
    return rows, notes


def sentence_pairs(sentences: tuple[str, ...]) -> list[str]:
    """A set's example sentences, two a line-pair ready for the sentence box: ["A\\nB", ...]."""
    return ["\n".join(sentences[i : i + 2]) for i in range(0, len(sentences) - 1, 2)]
