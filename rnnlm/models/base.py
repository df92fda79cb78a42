"""The one interface all three models share.

State is opaque to callers: a numpy array for the vanilla RNN, a tuple of arrays or tensors for the
LSTM ((h, c)) and the GRU ((h,)). Callers only create it, pass it back in, and (for resuming) turn it
into named arrays and back.

A model type registers two classes (rnnlm.models.ModelSpec): one that trains (with a Trainer) and one
that runs a single stream; both have this interface, and they may be the same class.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..checkpoint import shape_problems
from ..config import ModelConfig, TrainConfig
from ..vocab import Vocab

State = Any


class Trainer(Protocol):
    """Owns a model's optimizer; one call is one optimizer step on one (B, T) window."""

    def train_step(self, x: np.ndarray, y: np.ndarray, state: State, lr: float) -> tuple[float, State]:
        """Step on inputs x and targets y, both (B, T) int64; returns mean loss in nats/char and the
        carried state, detached (truncated BPTT)."""

    def optimizer_tensors(self) -> dict[str, np.ndarray]:
        """Optimizer state as named arrays (saved to optimizer.safetensors for --resume)."""

    def load_optimizer_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Restore what optimizer_tensors returned."""


class LanguageModel(Protocol):
    """A language model over the tokens of its vocabulary."""

    config: ModelConfig
    vocab: Vocab

    def init_state(self, batch_size: int) -> State:
        """The zero state for a batch of batch_size streams."""

    def forward(self, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """Logits (B, T, V) float32 for ids (B, T), in eval mode without gradients, and the new state."""

    def step(self, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One character per stream: ids (B,) -> logits (B, V) float32 and the new state. Fast path for sampling."""

    def num_params(self) -> int:
        """Number of trainable parameters."""

    @classmethod
    def shapes_for(cls, config: ModelConfig) -> dict[str, tuple]:
        """Name -> shape of every weight that config implies (optional: lets loading check a file before
        allocating anything)."""

    def tensors(self) -> dict[str, np.ndarray]:
        """Weights as named float32 arrays (what model.safetensors holds)."""

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Load weights; raises ValueError naming any missing, unexpected or wrongly shaped tensor."""

    def state_tensors(self, state: State) -> dict[str, np.ndarray]:
        """A state as named arrays (the carried training state is saved for an exact --resume)."""

    def state_from_tensors(self, tensors: dict[str, np.ndarray]) -> State:
        """Inverse of state_tensors."""

    def trainer(self, cfg: TrainConfig) -> Trainer:
        """A trainer (optimizer and its state) for this model."""


def check_tensors(expected: dict[str, tuple], got: dict[str, np.ndarray]) -> None:
    """Raise ValueError if names or shapes differ from what the model expects."""
    problems = shape_problems(expected, got)
    if problems:
        raise ValueError("; ".join(problems))
