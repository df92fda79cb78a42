"""Optimizers for numpy weights (Adam, min-char-rnn's Adagrad), global-norm clipping, and the trainer.

Optimizers update the weight arrays in place, so every holder of a weight sees the new values.
Their state is a flat dict of named arrays plus a step count, saved and restored bit-exactly.
"""
from __future__ import annotations

import math

import numpy as np

from ..config import TrainConfig
from .base import check_tensors


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale grads in place so their global L2 norm is at most max_norm (0 disables); returns the norm before."""
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads.values():
            g *= scale
    return norm


class _Optimizer:
    """Per-weight state arrays named "{slot}.{weight}", a step count, and decoupled weight decay."""

    slots: tuple[str, ...] = ()

    def __init__(self, params: dict[str, np.ndarray], weight_decay: float = 0.0):
        self.params = params
        self.weight_decay = weight_decay
        self.steps = 0
        self.state = {f"{slot}.{name}": np.zeros_like(p) for slot in self.slots for name, p in params.items()}

    def decay(self, lr: float) -> None:
        """Shrink the matrices towards zero (AdamW's decoupled decay); biases are left alone."""
        if self.weight_decay:
            for p in self.params.values():
                if p.ndim == 2:
                    p *= 1.0 - lr * self.weight_decay

    def tensors(self) -> dict[str, np.ndarray]:
        """State as named arrays (copies), the step count as a 1-element int64 array."""
        out = {name: s.copy() for name, s in self.state.items()}
        out["step"] = np.array([self.steps], dtype=np.int64)
        return out

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Restore what tensors() returned; ValueError names missing, unexpected or misshaped arrays."""
        expected = {name: s.shape for name, s in self.state.items()} | {"step": (1,)}
        tensors = {name: np.asarray(t) for name, t in tensors.items()}
        check_tensors(expected, tensors)
        for name, s in self.state.items():
            np.copyto(s, tensors[name], casting="same_kind")
        self.steps = int(tensors["step"][0])


class Adam(_Optimizer):
    """Adam with bias correction (the same arithmetic as torch.optim.AdamW)."""

    slots = ("m", "v")

    def __init__(self, params, weight_decay: float = 0.0, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, weight_decay)
        self.betas = betas
        self.eps = eps

    def update(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """One step: p -= lr * m_hat / (sqrt(v_hat) + eps)."""
        self.steps += 1
        b1, b2 = self.betas
        step_size = lr / (1.0 - b1**self.steps)  # folds m's bias correction into the step
        v_scale = 1.0 / math.sqrt(1.0 - b2**self.steps)  # sqrt(v_hat) = sqrt(v) * v_scale
        self.decay(lr)
        for name, p in self.params.items():
            g, m, v = grads[name], self.state[f"m.{name}"], self.state[f"v.{name}"]
            m *= b1
            m += (1.0 - b1) * g  # m = b1 m + (1 - b1) g
            v *= b2
            v += (1.0 - b2) * np.square(g)  # v = b2 v + (1 - b2) g^2
            denom = np.sqrt(v)
            denom *= v_scale
            denom += self.eps
            p -= step_size * m / denom


class Adagrad(_Optimizer):
    """min-char-rnn's Adagrad: per-weight learning rates from the running sum of squared gradients."""

    slots = ("mem",)

    def update(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """One step: mem += g^2; p -= lr * g / sqrt(mem + 1e-8)."""
        self.steps += 1
        self.decay(lr)
        for name, p in self.params.items():
            g, mem = grads[name], self.state[f"mem.{name}"]
            mem += np.square(g)
            p -= lr * g / np.sqrt(mem + 1e-8)


OPTIMIZERS = {"adam": Adam, "adagrad": Adagrad}


class NumpyTrainer:
    """One optimizer step per (B, T) window: loss_and_grads, clipping, update. Implements base.Trainer."""

    def __init__(self, model, cfg: TrainConfig):
        if cfg.dtype != "float32":
            raise ValueError(f"--dtype {cfg.dtype}: the numpy RNN trains in float32 only")
        if cfg.optimizer not in OPTIMIZERS:
            expected = ", ".join(OPTIMIZERS)
            raise ValueError(f"unknown optimizer {cfg.optimizer!r} for the numpy RNN; expected one of {expected}")
        self.model = model
        self.grad_clip = cfg.grad_clip
        self.optimizer = OPTIMIZERS[cfg.optimizer](model.params, weight_decay=cfg.weight_decay)

    def train_step(self, x: np.ndarray, y: np.ndarray, state: np.ndarray, lr: float) -> tuple[float, np.ndarray]:
        """Step on inputs x and targets y, both (B, T); returns the loss in nats/char and the new state."""
        loss, grads, state = self.model.loss_and_grads(x, y, state)
        clip_grad_norm(grads, self.grad_clip)
        self.optimizer.update(grads, float(lr))  # a numpy float64 lr would upcast float32 updates
        return loss, state

    def optimizer_tensors(self) -> dict[str, np.ndarray]:
        """Optimizer state as named arrays."""
        return self.optimizer.tensors()

    def load_optimizer_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Restore what optimizer_tensors returned."""
        self.optimizer.load_tensors(tensors)
