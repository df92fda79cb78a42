"""Settings as dataclasses: one for a model's shape, one for a training run. No globals."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

MODEL_TYPES = ("rnn", "lstm", "gru")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; saved as the checkpoint's config.json."""

    model_type: str = "lstm"  # "rnn" (numpy), "lstm" or "gru" (torch)
    vocab: str = ""  # the characters, sorted; a checkpoint alone can encode and decode
    hidden_size: int = 512
    num_layers: int = 2
    embed_size: int = 64  # torch models only: 65 characters need no wider input vector
    dropout: float = 0.0  # torch models only: between layers and before the output layer
    training: dict = field(default_factory=dict)  # the TrainConfig these weights came from
    metrics: dict = field(default_factory=dict)  # best val nats/char and bits/char, step, chars seen

    def __post_init__(self):
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"unknown model_type {self.model_type!r}; expected one of {', '.join(MODEL_TYPES)}")
        if self.hidden_size < 1 or self.num_layers < 1 or self.embed_size < 1:
            raise ValueError("hidden_size, num_layers and embed_size must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """Build from a config.json dict; unknown keys are an error, so a foreign file is not misread."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown keys in model config: {', '.join(unknown)}")
        return cls(**d)


@dataclass
class TrainConfig:
    """One training run. Defaults that differ per model live in DEFAULTS below."""

    data: str = ""
    seq_len: int = 128  # characters per window: the truncated-BPTT horizon
    batch_size: int = 64  # parallel streams over the training text
    lr: float = 2e-3
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * this
    warmup_iters: int = 100
    max_iters: int = 5000
    minutes: float = 0.0  # wall-clock budget; 0 = none. Stops at max_iters or minutes, whichever first
    eval_every: int = 250
    log_every: int = 10
    grad_clip: float = 5.0  # global-norm clipping
    weight_decay: float = 0.0
    optimizer: str = "adam"  # "adam" everywhere; the numpy RNN also takes "adagrad"
    seed: int = 1337
    val_fraction: float = 0.1  # the last 10% of characters validate (nanoGPT's split)
    eval_streams: int = 16  # validation text is cut into this many streams, run as one batch

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# Per-model defaults: what a plain `python -m rnnlm train --model X` uses.
DEFAULTS: dict[str, dict] = {
    "rnn": dict(hidden_size=512, num_layers=1, dropout=0.0, seq_len=100, batch_size=64, lr=2e-3),
    "lstm": dict(hidden_size=512, num_layers=2, dropout=0.25, seq_len=128, batch_size=64, lr=2e-3),
    "gru": dict(hidden_size=512, num_layers=2, dropout=0.25, seq_len=128, batch_size=64, lr=2e-3),
}
