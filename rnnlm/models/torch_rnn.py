"""LSTM and GRU in torch: one nn.Module whose recurrent cell is a setting (a Cell record of numpy_cells).

This module trains and evaluates batches, in torch only. One stream (sampling, scoring, the app) runs
in numpy on the same weights: rnnlm.models.runner(model) gives a CellLM.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig, TrainConfig
from ..vocab import make_vocab
from .base import check_tensors
from .numpy_cells import cell_for, weight_shapes


class TorchRNN(nn.Module):
    """Embedding -> N-layer LSTM or GRU (dropout between layers) -> dropout -> linear head."""

    def __init__(self, config: ModelConfig, seed: int = 0):
        super().__init__()
        self.config = config
        self.cell = cell_for(config)
        self.vocab = make_vocab(config)
        V, E, H, L = config.vocab_size, config.embed_size, config.hidden_size, config.num_layers
        with torch.random.fork_rng(devices=[]):  # seeded init that leaves the caller's RNG alone
            torch.manual_seed(seed)
            self.embed = nn.Embedding(V, E)
            self.rnn = getattr(nn, self.cell.torch_module)(E, H, L, dropout=config.dropout if L > 1 else 0.0,
                                                           batch_first=True)
            self.drop = nn.Dropout(config.dropout)
            self.head = nn.Linear(H, V)
        if self.cell.init_torch is not None:
            with torch.no_grad():
                self.cell.init_torch(self.rnn, H, L)

    @classmethod
    def shapes_for(cls, config: ModelConfig) -> dict[str, tuple]:
        return weight_shapes(config)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def init_state(self, batch_size: int) -> tuple:
        """Zeros (L, B, H) per state name: (h, c) for the LSTM, (h,) for the GRU."""
        h = torch.zeros(self.config.num_layers, batch_size, self.config.hidden_size, device=self.device)
        return tuple(h.clone() for _ in self.cell.state_names)

    def forward_logits(self, ids: torch.Tensor, state: tuple):
        """Differentiable forward: ids (B, T) -> logits (B, T, V), new state."""
        x = self.embed(ids)  # (B, T, E)
        out, new = self.rnn(x, state if len(state) > 1 else state[0])  # (B, T, H)
        return self.head(self.drop(out)), (new if isinstance(new, tuple) else (new,))  # (B, T, V)

    @torch.inference_mode()
    def forward(self, ids: np.ndarray, state: tuple):
        """Logits (B, T, V) as float32 numpy, in eval mode, and the new state."""
        was_training = self.training
        self.eval()
        logits, state = self.forward_logits(torch.as_tensor(np.asarray(ids, dtype=np.int64), device=self.device), state)
        self.train(was_training)
        return logits.float().cpu().numpy(), state

    def step(self, ids: np.ndarray, state: tuple):
        """One token per stream: logits (B, V) as float32 numpy, and the new state."""
        logits, state = self.forward(np.asarray(ids, dtype=np.int64)[:, None], state)
        return logits[:, 0], state

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def tensors(self) -> dict[str, np.ndarray]:
        return {k: v.detach().float().cpu().numpy() for k, v in self.state_dict().items()}

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        check_tensors({k: tuple(v.shape) for k, v in self.state_dict().items()}, tensors)
        self.load_state_dict({k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in tensors.items()}, strict=True)

    def state_tensors(self, state: tuple) -> dict[str, np.ndarray]:
        return {name: s.detach().cpu().numpy() for name, s in zip(self.cell.state_names, state)}

    def state_from_tensors(self, tensors: dict[str, np.ndarray]) -> tuple:
        return tuple(torch.as_tensor(tensors[name], device=self.device) for name in self.cell.state_names)

    def trainer(self, cfg: TrainConfig) -> "TorchTrainer":
        return TorchTrainer(self, cfg)


class TorchTrainer:
    """AdamW, global-norm clipping, cross-entropy; one train_step per (B, T) window.

    Works for any nn.Module with forward_logits(ids (B, T), state tuple) -> (logits (B, T, V), state tuple).
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig):
        if cfg.optimizer != "adam":
            raise ValueError(f"--optimizer: the torch models train with adam, not {cfg.optimizer!r}")
        self.model, self.cfg = model, cfg
        torch.manual_seed(cfg.seed)  # dropout masks come from the global generator
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def train_step(self, x: np.ndarray, y: np.ndarray, state: tuple, lr: float):
        model, dev = self.model, next(self.model.parameters()).device
        model.train()
        for g in self.opt.param_groups:
            g["lr"] = lr
        x_t = torch.as_tensor(x, device=dev)  # (B, T)
        y_t = torch.as_tensor(y, device=dev)  # (B, T)
        logits, state = model.forward_logits(x_t, state)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y_t.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        return loss.item(), tuple(s.detach() for s in state)  # truncated BPTT: cut the graph behind the state

    def optimizer_tensors(self) -> dict[str, np.ndarray]:
        """AdamW moments and steps per parameter, and the RNG state behind the dropout masks."""
        out = {"rng": torch.get_rng_state().numpy()}
        for i, st in self.opt.state_dict()["state"].items():
            for k, v in st.items():
                out[f"{i}.{k}"] = torch.as_tensor(v).detach().cpu().numpy()
        return out

    def load_optimizer_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        sd = self.opt.state_dict()
        torch.set_rng_state(torch.from_numpy(np.array(tensors["rng"], dtype=np.uint8)))
        state: dict[int, dict] = {}
        for name, v in tensors.items():
            if name == "rng":
                continue
            i, k = name.split(".", 1)
            state.setdefault(int(i), {})[k] = torch.as_tensor(v)
        sd["state"] = state
        self.opt.load_state_dict(sd)
