"""LSTM and GRU in torch: one nn.Module whose recurrent cell is a setting."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from ..checkpoint import CheckpointMixin, config_from, reading_weights, weights_file
from ..config import ModelConfig, TrainConfig
from ..vocab import Vocab
from .base import check_tensors
from .numpy_cells import run_stream, stream_weights

_CELLS = {"lstm": (nn.LSTM, torch.lstm_cell), "gru": (nn.GRU, torch.gru_cell)}


class TorchRNN(CheckpointMixin, nn.Module, PyTorchModelHubMixin):
    """Embedding -> N-layer LSTM or GRU (dropout between layers) -> dropout -> linear head.

    save_pretrained / from_pretrained / push_to_hub come from huggingface_hub's PyTorchModelHubMixin (see
    rnnlm.checkpoint).
    """

    def __init__(self, config: ModelConfig, seed: int = 0):
        super().__init__()
        if config.model_type not in _CELLS:
            raise ValueError(f"TorchRNN builds lstm or gru, not {config.model_type!r}")
        self.config = config
        self.vocab = Vocab(config.vocab)
        V, E, H, L = config.vocab_size, config.embed_size, config.hidden_size, config.num_layers
        rnn_class, self._cell = _CELLS[config.model_type]
        with torch.random.fork_rng(devices=[]):  # seeded init that leaves the caller's RNG alone
            torch.manual_seed(seed)
            self.embed = nn.Embedding(V, E)
            self.rnn = rnn_class(E, H, L, dropout=config.dropout if L > 1 else 0.0, batch_first=True)
            self.drop = nn.Dropout(config.dropout)
            self.head = nn.Linear(H, V)
        if config.model_type == "lstm":
            # Forget-gate bias 1 (gates are ordered i, f, g, o): remember by default early in training.
            for l in range(L):
                with torch.no_grad():
                    getattr(self.rnn, f"bias_ih_l{l}")[H : 2 * H].fill_(1.0)
                    getattr(self.rnn, f"bias_hh_l{l}")[H : 2 * H].fill_(0.0)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, cache_dir, force_download, local_files_only, token,
                         config: ModelConfig | dict | None = None, map_location: str = "cpu",
                         **model_kwargs) -> "TorchRNN":
        """Build from config.json, then load model.safetensors with the mixin's loader, strictly.

        The mixin's own version loads with strict=False (missing weights would keep their random initial
        values), prints to stdout, and falls back to unpickling pytorch_model.bin.
        """
        path = weights_file(model_id, revision=revision, cache_dir=cache_dir, force_download=force_download,
                            local_files_only=local_files_only, token=token)
        model = cls(config_from(config, model_id), **model_kwargs)
        with reading_weights(path):
            return cls._load_as_safetensor(model, str(path), map_location, strict=True)

    # --- the CharLM interface ---------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def init_state(self, batch_size: int):
        """Zeros (L, B, H); an (h, c) pair for the LSTM."""
        h = torch.zeros(self.config.num_layers, batch_size, self.config.hidden_size, device=self.device)
        return (h, h.clone()) if self.config.model_type == "lstm" else h

    def forward_logits(self, ids: torch.Tensor, state):
        """Differentiable forward: ids (B, T) -> logits (B, T, V), new state."""
        x = self.embed(ids)  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.head(self.drop(out)), state  # (B, T, V)

    def forward(self, ids: np.ndarray, state):
        """Logits (B, T, V) as float32 numpy, in eval mode, and the new state.

        One stream (B = 1) on the CPU runs in numpy (see _run_numpy): nn.LSTM / nn.GRU at batch 1 pay
        about 0.1 s of set-up per new sequence length here, which a visitor's prompt would wait on.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if self._numpy_ok(ids.shape[0]):
            logits, state = self._run_numpy(ids[0], state)
            return logits[None], state
        return self._forward_torch(ids, state)

    @torch.inference_mode()
    def _forward_torch(self, ids: np.ndarray, state):
        was_training = self.training
        self.eval()
        logits, state = self.forward_logits(torch.as_tensor(ids, device=self.device), state)
        self.train(was_training)
        return logits.float().cpu().numpy(), state

    def step(self, ids: np.ndarray, state):
        """One character per stream: logits (B, V) as float32 numpy, and the new state.

        A step reads every weight once for one character, so it is bound by memory and per-call overhead,
        not arithmetic. nn.LSTM stepped at batch 1 takes a slow path, so this steps with the cell weights
        directly: at batch 1 on the CPU in numpy (one matrix-vector product per weight matrix and a few
        whole-vector operations: 1.3-1.8x torch.lstm_cell / gru_cell here), otherwise with those cells.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if self._numpy_ok(len(ids)):
            return self._run_numpy(ids, state)
        return self._step_torch(ids, state)

    def _numpy_ok(self, batch_size: int) -> bool:
        """Whether inference can run in numpy: one stream, float32 weights on the CPU."""
        weight = self.head.weight
        return batch_size == 1 and weight.device.type == "cpu" and weight.dtype == torch.float32

    @torch.inference_mode()
    def _step_torch(self, ids: np.ndarray, state):
        x = self.embed.weight[torch.as_tensor(ids, device=self.device)]  # (B, E)
        lstm = self.config.model_type == "lstm"
        hs, cs = (state if lstm else (state, None))
        new_h, new_c = [], []
        for l, w in enumerate(self._layer_weights()):
            if lstm:
                h, c = self._cell(x, (hs[l], cs[l]), *w)  # (B, H) each
                new_c.append(c)
            else:
                h = self._cell(x, hs[l], *w)  # (B, H)
            new_h.append(h)
            x = h
        logits = F.linear(x, self.head.weight, self.head.bias)  # (B, V)
        h = torch.stack(new_h)  # (L, B, H)
        return logits.float().cpu().numpy(), ((h, torch.stack(new_c)) if lstm else h)

    def _run_numpy(self, ids: np.ndarray, state):
        """One stream in numpy (numpy_cells.run_stream) on views of the parameters: logits (T, V), new state."""
        lstm = self.config.model_type == "lstm"
        h0 = (state[0] if lstm else state).detach().numpy()[:, 0]  # (L, H), no copy
        c0 = state[1].detach().numpy()[:, 0] if lstm else None
        logits, h, c = run_stream(self.config.model_type, ids, h0, c0, *self._numpy_weights())
        h = torch.from_numpy(h[:, None])  # (L, 1, H)
        return logits, ((h, torch.from_numpy(c[:, None])) if lstm else h)

    def _numpy_weights(self) -> tuple:
        """numpy_cells.stream_weights on numpy views of the parameters (no copies). Remade when a parameter
        is replaced or changed in place: optimizer steps and load_state_dict bump a tensor's version.
        """
        named = self.__dict__.get("_numpy_params")
        if named is None:
            named = self._numpy_params = dict(self.named_parameters())
        key = [(p.data_ptr(), p._version) for p in named.values()]
        if self.__dict__.get("_numpy_key") != key:
            arrays = {name: p.detach().numpy() for name, p in named.items()}
            self._numpy_cache, self._numpy_key = stream_weights(arrays, self.config.num_layers), key
        return self._numpy_cache

    def _layer_weights(self) -> list[tuple]:
        """Per layer (weight_ih, weight_hh, bias_ih, bias_hh); the same Parameter objects, updated in place."""
        if not hasattr(self, "_weights_cache"):
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            self._weights_cache = [tuple(getattr(self.rnn, f"{n}_l{l}") for n in names) for l in range(self.config.num_layers)]
        return self._weights_cache

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def tensors(self) -> dict[str, np.ndarray]:
        return {k: v.detach().float().cpu().numpy() for k, v in self.state_dict().items()}

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        check_tensors({k: tuple(v.shape) for k, v in self.state_dict().items()}, tensors)
        self.load_state_dict({k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in tensors.items()}, strict=True)

    def state_tensors(self, state) -> dict[str, np.ndarray]:
        if self.config.model_type == "lstm":
            return {"h": state[0].detach().cpu().numpy(), "c": state[1].detach().cpu().numpy()}
        return {"h": state.detach().cpu().numpy()}

    def state_from_tensors(self, tensors: dict[str, np.ndarray]):
        h = torch.as_tensor(tensors["h"], device=self.device)
        return (h, torch.as_tensor(tensors["c"], device=self.device)) if self.config.model_type == "lstm" else h

    def trainer(self, cfg: TrainConfig) -> "TorchTrainer":
        return TorchTrainer(self, cfg)


def detach(state):
    """Cut the graph behind a carried state (truncated BPTT)."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class TorchTrainer:
    """AdamW, global-norm clipping, cross-entropy; one train_step per (B, T) window."""

    def __init__(self, model: TorchRNN, cfg: TrainConfig):
        if cfg.optimizer != "adam":
            raise ValueError(f"torch models train with adam, not {cfg.optimizer!r}")
        self.model, self.cfg = model, cfg
        torch.manual_seed(cfg.seed)  # dropout masks come from the global generator
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def train_step(self, x: np.ndarray, y: np.ndarray, state, lr: float):
        model, dev = self.model, self.model.device
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
        return loss.item(), detach(state)

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
