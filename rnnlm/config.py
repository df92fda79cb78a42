"""Settings as dataclasses: one for a model's shape, one for a training run. No globals, no per-type tables.

Both are checked field by field when made (also when read from a config.json, which may come from
anyone's Hub repo): a wrong type or an absurd value is a ValueError naming the field, before any
weight is allocated. Per-type defaults live in the model registry (rnnlm.models), not here.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .vocab import check_tokens

MAX_HIDDEN = 16_384  # units per layer: a 16k x 64k recurrent matrix is already 4 GB of float32
MAX_LAYERS = 64
MAX_EMBED = 16_384
MAX_VOCAB = 1_000_000  # tokens (characters or words)
DTYPES = ("float32", "bf16")  # TrainConfig.dtype


def _check_int(owner: str, name: str, value, lo: int, hi: int | None = None, flag: bool = False) -> None:
    """value must be an int (not a bool, not a float) in [lo, hi]."""
    label = f"--{name.replace('_', '-')}" if flag else f"{owner}.{name}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{label} must be a whole number, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"from {lo:,} to {hi:,}" if hi is not None else f">= {lo:,}"
        raise ValueError(f"{label} must be {bound}, got {value:,}")


def _check_float(owner: str, name: str, value, lo: float, hi: float | None = None, lo_open: bool = False,
                 hi_open: bool = False, flag: bool = False) -> None:
    """value must be a finite number in the given range (open ends where said)."""
    label = f"--{name.replace('_', '-')}" if flag else f"{owner}.{name}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{label} must be a finite number, got {value!r}")
    low_bad = value <= lo if lo_open else value < lo
    high_bad = hi is not None and (value >= hi if hi_open else value > hi)
    if low_bad or high_bad:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{label} must be in {left}{lo:g}, {hi if hi is not None else 'inf'}{right}, got {value!r}")


def _from_dict(cls, d, what: str):
    """cls(**d), refusing a non-object and unknown keys, so a foreign or damaged file is not misread."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(d).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"unknown keys in {what}: {', '.join(map(str, unknown))}")
    return cls(**d)


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; saved as the checkpoint's config.json."""

    model_type: str = "lstm"  # a name in rnnlm.models.MODELS: "rnn", "lstm", "gru", ...
    vocab: str | list = ""  # the characters, sorted; or the word tokens, by id: a checkpoint alone can encode and decode
    tokens: dict = field(default_factory=lambda: {"kind": "char"})  # what a token is, and for words how the
    # vocabulary was chosen (rnnlm.vocab); a checkpoint without this field reads characters
    hidden_size: int = 512
    num_layers: int = 2
    embed_size: int = 64  # models with an embedding: 65 characters need no wider input vector
    dropout: float = 0.0  # models with dropout: between layers and before the output layer
    options: dict = field(default_factory=dict)  # settings only one model type has (e.g. an n-gram's order)
    training: dict = field(default_factory=dict)  # the TrainConfig these weights came from
    metrics: dict = field(default_factory=dict)  # best val nats/char and bits/char, step, chars seen

    def __post_init__(self):
        if not isinstance(self.model_type, str) or not self.model_type:
            raise ValueError(f"model_type must be a model type's name, got {self.model_type!r}")
        check_tokens(self.vocab, self.tokens)
        if len(self.vocab) > MAX_VOCAB:
            raise ValueError(f"vocab has {len(self.vocab):,} entries, more than {MAX_VOCAB:,}")
        _check_int("model config", "hidden_size", self.hidden_size, 1, MAX_HIDDEN)
        _check_int("model config", "num_layers", self.num_layers, 1, MAX_LAYERS)
        _check_int("model config", "embed_size", self.embed_size, 1, MAX_EMBED)
        _check_float("model config", "dropout", self.dropout, 0.0, 1.0, hi_open=True)
        for name in ("options", "training", "metrics"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"model config.{name} must be a JSON object, got {type(getattr(self, name)).__name__}")
        best = self.metrics.get("val_nats_per_char")
        if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))):
            raise ValueError(f"model config.metrics.val_nats_per_char must be a number, got {best!r}")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """Build from a config.json dict; unknown keys are an error, so a foreign file is not misread."""
        return _from_dict(cls, d, "model config")


@dataclass
class TrainConfig:
    """One training run. Defaults that differ per model type live in the registry (ModelSpec.defaults)."""

    data: str = ""
    seq_len: int = 128  # characters per window: the truncated-BPTT horizon
    batch_size: int = 64  # parallel streams over the training text
    lr: float = 2e-3
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * this
    warmup_iters: int = 100
    max_iters: int | None = 5000  # None: no step limit (a --minutes budget alone ends the run)
    minutes: float = 0.0  # wall-clock budget; 0 = none. Stops at max_iters or minutes, whichever first
    eval_every: int = 250
    log_every: int = 10
    grad_clip: float = 5.0  # global-norm clipping; 0 = off
    weight_decay: float = 0.0
    optimizer: str = "adam"  # "adam" everywhere; the numpy RNN also takes "adagrad"
    dtype: str = "float32"  # what the training products run in: "float32", or "bf16" (the LSTM and GRU);
    # weights, their updates and checkpoints stay float32 either way
    seed: int = 1337
    val_fraction: float = 0.1  # the last 10% of characters validate (nanoGPT's split)
    eval_streams: int = 16  # validation text is cut into this many streams, run as one batch

    def __post_init__(self):
        """Every field checked, the message naming the command-line flag that sets it."""
        check = dict(owner="train config", flag=True)
        if not isinstance(self.data, str):
            raise ValueError(f"--data must be a path, got {self.data!r}")
        _check_int(name="seq_len", value=self.seq_len, lo=1, hi=100_000, **check)
        _check_int(name="batch_size", value=self.batch_size, lo=1, hi=100_000, **check)
        _check_float(name="lr", value=self.lr, lo=0.0, hi=10.0, lo_open=True, **check)
        _check_float(name="min_lr_ratio", value=self.min_lr_ratio, lo=0.0, hi=1.0, **check)
        _check_int(name="warmup_iters", value=self.warmup_iters, lo=0, **check)
        if self.max_iters is not None:
            _check_int(name="max_iters", value=self.max_iters, lo=1, **check)
        _check_float(name="minutes", value=self.minutes, lo=0.0, hi=60 * 24 * 365, **check)
        if self.max_iters is None and not self.minutes:
            raise ValueError("a run needs an end: give --max-iters or --minutes")
        _check_int(name="eval_every", value=self.eval_every, lo=1, **check)
        _check_int(name="log_every", value=self.log_every, lo=1, **check)
        _check_float(name="grad_clip", value=self.grad_clip, lo=0.0, **check)
        _check_float(name="weight_decay", value=self.weight_decay, lo=0.0, hi=1.0, **check)
        if self.optimizer not in ("adam", "adagrad"):
            raise ValueError(f"--optimizer must be adam or adagrad, got {self.optimizer!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        _check_int(name="seed", value=self.seed, lo=0, hi=2**32 - 1, **check)
        _check_float(name="val_fraction", value=self.val_fraction, lo=0.0, hi=0.5, lo_open=True, **check)
        _check_int(name="eval_streams", value=self.eval_streams, lo=1, hi=4096, **check)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build from a saved dict; unknown keys are an error, as for ModelConfig."""
        return _from_dict(cls, d, "training settings")
