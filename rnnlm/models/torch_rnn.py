"""LSTM and GRU in torch: one nn.Module whose recurrent cell is a setting (a Cell record of numpy_cells).

This module trains and evaluates batches, in torch only. One stream (sampling, scoring, the app) runs
in numpy on the same weights: rnnlm.models.runner(model) gives a CellLM.
"""
from __future__ import annotations

import ctypes
import inspect

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig, TrainConfig
from ..vocab import make_vocab
from .base import check_tensors
from .numpy_cells import cell_for, weight_shapes
from .torch_layers import LAYERED, recurrence

DTYPES = {"float32": torch.float32, "bf16": torch.bfloat16}  # --dtype: what training's products run in


def bf16_missing(device: str = "cpu") -> str | None:
    """Why bf16 training cannot run fast on device ("cpu", "cuda", "cuda:N"), or None when it can.

    A CPU needs bf16 instructions (AVX512-BF16 or AMX). Without them torch emulates bf16 products, and
    emulation is slow: on an AVX2 EPYC a (8192, 512) x (512, 2048) product took 1.25 s in bf16 against 0.22 s
    in float32 (benchmarks/bench_bf16.py prints both there); and oneDNN has no bf16 LSTM for such a CPU at all."""
    if device.startswith("cuda"):
        return None if torch.cuda.is_bf16_supported() else "this GPU has no bf16 support"
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    if native:
        return None
    return (f"this CPU has no bf16 instructions (AVX512-BF16 or AMX; torch finds {torch.backends.cpu.get_cpu_capability()}), "
            "so bf16 products would run emulated, several times slower than float32")


def keep_freed_blocks() -> None:
    """Have glibc keep freed large blocks for reuse rather than hand them back to the system at once.

    Every training step allocates and frees the same ~100 MB of activations and gradients; by default glibc
    maps each block over 128 KB afresh and the kernel zero-fills it page by page. Measured on a 2x512 LSTM
    step (B=64, T=128, one core): 1.18 s of CPU time before, 0.86 to 1.00 s after, float32 and bf16 alike.
    Elsewhere than glibc this does nothing."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
    libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)  # blocks up to 1 GB come from the heap, so freed ones are reused
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)  # and up to 1 GB of free heap stays with the process


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
                self.cell.init_torch(self.rnn, config)

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

    def forward_logits(self, ids: torch.Tensor, state: tuple, dtype: torch.dtype = torch.float32):
        """Differentiable forward: ids (B, T) -> logits (B, T, V) float32, new state (float32).

        dtype: what the products run in. nn.LSTM runs under autocast (oneDNN's fused bf16 kernel on a CPU); a
        bf16 GRU runs layer by layer (layered_logits), faster than nn.GRU under autocast (torch_layers.py)."""
        if dtype != torch.float32 and self.cell.name in LAYERED:
            return self.layered_logits(ids, state, dtype)
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32):
            x = self.embed(ids)  # (B, T, E)
            out, new = self.rnn(x, state if len(state) > 1 else state[0])  # (B, T, H)
            logits = self.head(self.drop(out))  # (B, T, V)
        new = new if isinstance(new, tuple) else (new,)
        return logits.float(), tuple(s.float() for s in new)

    def layered_logits(self, ids: torch.Tensor, state: tuple, dtype: torch.dtype):
        """forward_logits with the products in dtype (autocast), layer by layer: each layer's input gates for all
        T steps in one product, then the recurrence (rnnlm.models.torch_layers) on nn.GRU's own weights."""
        rnn, L = self.rnn, self.config.num_layers
        x = self.embed(ids.t())  # (T, B, E): time-major inside
        layer_states = []
        with torch.autocast(self.device.type, dtype=dtype):
            for l in range(L):
                gi = F.linear(x, getattr(rnn, f"weight_ih_l{l}"), getattr(rnn, f"bias_ih_l{l}"))  # (T, B, G)
                x, st = recurrence(self.cell.name, gi, getattr(rnn, f"weight_hh_l{l}"),
                                   getattr(rnn, f"bias_hh_l{l}"), tuple(s[l] for s in state))  # (T, B, H)
                layer_states.append(st)
                if l < L - 1:
                    x = F.dropout(x, rnn.dropout, self.training)
            logits = self.head(self.drop(x))  # (T, B, V)
        new = tuple(torch.stack(s) for s in zip(*layer_states))  # (L, B, H) per state name
        return logits.float().transpose(0, 1), new  # (B, T, V)

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


class _Logits(nn.Module):
    """A model's forward_logits as a module's forward: what DistributedDataParallel wraps."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, state: tuple, dtype: torch.dtype):
        if dtype == torch.float32:
            return self.model.forward_logits(ids, state)
        return self.model.forward_logits(ids, state, dtype)


class TorchTrainer:
    """AdamW, global-norm clipping, cross-entropy; one train_step per (B, T) window.

    Works for any nn.Module with forward_logits(ids (B, T), state tuple) -> (logits (B, T, V), state tuple).
    cfg.dtype "bf16" asks forward_logits for its products in bfloat16 (a dtype argument: the model decides
    how); the weights, AdamW's moments and the loss stay float32. While a torch.distributed process group is up (torchrun), the model
    trains as DistributedDataParallel: gradients are averaged over the ranks, each drawing its own dropout masks.
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig):
        if cfg.optimizer != "adam":
            raise ValueError(f"--optimizer: the torch models train with adam, not {cfg.optimizer!r}")
        self.model, self.cfg, self.dtype = model, cfg, DTYPES[cfg.dtype]
        if self.dtype != torch.float32 and "dtype" not in inspect.signature(model.forward_logits).parameters:
            raise ValueError(f"--dtype {cfg.dtype}: {type(model).__name__} trains in float32 only")
        self.device = next(model.parameters()).device
        keep_freed_blocks()
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        torch.manual_seed(cfg.seed + self.rank)  # dropout masks come from the global generator
        self.net = _Logits(model)
        if self.world > 1:
            self.net = nn.parallel.DistributedDataParallel(
                self.net, device_ids=[self.device] if self.device.type == "cuda" else None)
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def train_step(self, x: np.ndarray, y: np.ndarray, state: tuple, lr: float):
        model, dev = self.model, self.device
        model.train()
        for g in self.opt.param_groups:
            g["lr"] = lr
        x_t = torch.as_tensor(x, device=dev)  # (B, T)
        y_t = torch.as_tensor(y, device=dev)  # (B, T)
        logits, state = self.net(x_t, state, self.dtype)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y_t.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        return loss.item(), tuple(s.detach() for s in state)  # truncated BPTT: cut the graph behind the state

    def _rng(self) -> torch.Tensor:
        """The state of the generator behind the dropout masks (the CPU's or this rank's GPU's)."""
        return torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else torch.get_rng_state()

    def optimizer_tensors(self) -> dict[str, np.ndarray]:
        """AdamW moments and steps per parameter, and the RNG state behind the dropout masks: "rng" (rank 0's)
        and, under torchrun, "rng_ranks" (every rank's, one row each; a collective call)."""
        out = {"rng": self._rng().numpy()}
        if self.world > 1:
            rngs = [torch.empty_like(self._rng()) for _ in range(self.world)]
            dist.all_gather_object(rngs, self._rng())
            out["rng"], out["rng_ranks"] = rngs[0].numpy(), torch.stack(rngs).numpy()
        for i, st in self.opt.state_dict()["state"].items():
            for k, v in st.items():
                out[f"{i}.{k}"] = torch.as_tensor(v).detach().cpu().numpy()
        return out

    def load_optimizer_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Restore optimizer_tensors; each rank takes its own row of "rng_ranks" when the run had as many ranks,
        else rank 0 takes "rng" and the others draw fresh masks from the seed."""
        sd = self.opt.state_dict()
        rngs = tensors.get("rng_ranks")
        rng = rngs[self.rank] if rngs is not None and len(rngs) == self.world else tensors["rng"] if self.rank == 0 else None
        if rng is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(torch.from_numpy(np.array(rng, dtype=np.uint8)), self.device)
        elif rng is not None:
            torch.set_rng_state(torch.from_numpy(np.array(rng, dtype=np.uint8)))
        state: dict[int, dict] = {}
        for name, v in tensors.items():
            if name.startswith("rng"):
                continue
            i, k = name.split(".", 1)
            state.setdefault(int(i), {})[k] = torch.as_tensor(v)
        sd["state"] = state
        self.opt.load_state_dict(sd)
