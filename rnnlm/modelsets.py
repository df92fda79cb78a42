"""The bundled model sets: which models were trained together on one corpus, and where their folders are.

    checkpoints/{rnn,lstm,gru,ngram}                      Shakespeare · characters (the first set)
    checkpoints/sherlock-words/{rnn,lstm,gru,ngram}       Sherlock Holmes · words
    checkpoints/sherlock-chars/{rnn,lstm,gru,ngram}       Sherlock Holmes · characters (the same text and CPU time)
    checkpoints/alice-chars/{rnn,lstm,lstm-nodropout,gru} Alice · characters (the LSTM with and without dropout)

checkpoints/build.py trains them; the app offers a picker over them. A model's name is its folder's name,
which is its model type unless the set holds two models of one type (lstm-nodropout).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BUNDLED = Path(__file__).resolve().parents[1] / "checkpoints"


@dataclass(frozen=True)
class SetModel:
    """One model of a set."""

    name: str  # its folder in the set: "lstm-nodropout"
    model_type: str  # a name in rnnlm.models.MODELS: "lstm"
    label: str = ""  # what a person reads when the type's label is not enough: "LSTM without dropout"


@dataclass(frozen=True)
class ModelSet:
    """Models trained on one corpus with one kind of token, side by side."""

    name: str  # "sherlock-words"
    label: str  # "Sherlock Holmes · words"
    folder: str  # under checkpoints/: "" for the Shakespeare set, whose models sit at the top
    tokens: str  # "char" or "word"
    corpus: str  # the training text's file name: "sherlock.txt" (rnnlm.data.find_corpus finds it)
    models: tuple[SetModel, ...]
    prompt: str  # an example prompt for this corpus
    sentences: tuple[str, ...] = ()  # example sentences for ranking by probability (word sets)

    def model(self, name: str) -> SetModel:
        """The set's model called name; a ValueError listing them otherwise."""
        for m in self.models:
            if m.name == name:
                return m
        raise ValueError(f"the {self.label} set has no model {name!r}; it has {', '.join(m.name for m in self.models)}")

    def folders(self, root: str | Path = BUNDLED) -> dict[str, Path]:
        """Model name -> its checkpoint folder under root (the bundled checkpoints/ by default)."""
        base = Path(root) / self.folder if self.folder else Path(root)
        return {m.name: base / m.name for m in self.models}


def _networks(*extra: SetModel) -> tuple[SetModel, ...]:
    return (SetModel("rnn", "rnn"), SetModel("lstm", "lstm"), *extra, SetModel("gru", "gru"))


_NGRAM = _networks() + (SetModel("ngram", "ngram"),)  # the three networks and the n-gram baseline
SHERLOCK_PROMPT = "I will close the door if"
MODEL_SETS: dict[str, ModelSet] = {s.name: s for s in (
    ModelSet("shakespeare-chars", "Shakespeare · characters", "", "char", "tinyshakespeare.txt", _NGRAM, "ROMEO:"),
    ModelSet("sherlock-words", "Sherlock Holmes · words", "sherlock-words", "word", "sherlock.txt", _NGRAM,
             SHERLOCK_PROMPT, sentences=(
                 "The cat sat on the mat.", "Mat the on sat cat the.",  # word order shuffled
                 "I have no doubt that he is right.", "I has no doubt that he are right.",  # grammatical or not
                 "Holmes lit his pipe and looked at me.", "Pipe his lit Holmes and me at looked.")),
    ModelSet("sherlock-chars", "Sherlock Holmes · characters", "sherlock-chars", "char", "sherlock.txt", _NGRAM,
             SHERLOCK_PROMPT),
    ModelSet("alice-chars", "Alice · characters", "alice-chars", "char", "alice.txt",
             _networks(SetModel("lstm-nodropout", "lstm", "LSTM without dropout")), "Alice was"),
)}


def model_set(name: str) -> ModelSet:
    """The set called name; a ValueError listing the sets otherwise."""
    try:
        return MODEL_SETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model set {name!r}; the sets are {', '.join(MODEL_SETS)}") from None
