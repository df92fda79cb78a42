"""A trained LSTM or GRU run in numpy: the gate equations of nn.LSTM and nn.GRU on their own weights.

    LSTM  i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)      gates in nn.LSTM's order
          c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
          h' = sigmoid(o) * tanh(c')
    GRU   r, z = sigmoid(split(W_ih x + b_ih + W_hh h + b_hh)[:2])
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn))          the reset gate scales only the recurrent part
          h' = (1 - z) * n + z * h

TorchRNN trains these models; running one stream (batch 1) is another matter. A step reads every weight
once for a single character, so its speed is set by memory traffic and per-call overhead, not arithmetic,
and here plain numpy does it faster than torch (nn.LSTM / nn.GRU at batch 1 also pay about 0.1 s of set-up
for every new sequence length). TorchRNN runs single streams through run_stream below, and CellLM wraps it
as an inference-only model that loads a checkpoint without importing torch at all (about 2 s sooner), for
the app and for `python -m rnnlm sample | score`. The tests check both against torch on the same weights.
"""
from __future__ import annotations

import functools

import numpy as np
from huggingface_hub import ModelHubMixin

from ..checkpoint import CheckpointMixin
from ..config import ModelConfig, TrainConfig
from ..vocab import Vocab
from .base import check_tensors

GATES = {"lstm": 4, "gru": 3}  # gate blocks per layer, each hidden_size wide


@functools.lru_cache(maxsize=8)
def _lstm_tanh_scale(H: int) -> np.ndarray:
    """(1/2, 1/2, 1, 1/2) per gate block i, f, g, o: since sigmoid(a) = (tanh(a / 2) + 1) / 2, one tanh of the
    scaled gates gives tanh(g) and, halved and shifted, the three sigmoids."""
    scale = np.full(4 * H, 0.5, dtype=np.float32)
    scale[2 * H : 3 * H] = 1.0
    return scale


def stream_weights(params: dict[str, np.ndarray], num_layers: int) -> tuple:
    """run_stream's weights from arrays named as in TorchRNN's state_dict: (first, layers, head_w, head_b).

    first is the (V, G) table of every character's first-layer input gates, embedding @ W_ih.T + b_ih: a row
    lookup then replaces a small matrix-vector product per character. The rest are the arrays themselves.
    """
    first = params["embed.weight"] @ params["rnn.weight_ih_l0"].T + params["rnn.bias_ih_l0"]  # (V, G)
    layers = [tuple(params[f"rnn.{n}_l{l}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
              for l in range(num_layers)]
    return first, layers, params["head.weight"], params["head.bias"]


def run_stream(cell: str, ids: np.ndarray, h0: np.ndarray, c0: np.ndarray | None, first: np.ndarray,
               layers: list[tuple], head_w: np.ndarray, head_b: np.ndarray):
    """One stream of T characters, layer by layer: logits (T, V), and the new h (L, H) and c (L, H) (None for a GRU).

    The weights are stream_weights': first is the (V, G) input-gate table; layers holds (W_ih, W_hh, b_ih, b_hh) per layer, as nn.LSTM / nn.GRU store
    them. A layer's input part of the gates comes for all T characters at once (table rows in the first layer,
    one matrix product above it); only the recurrent part runs per character, in a few whole-vector
    operations, because at this size each call costs about as much in overhead as in arithmetic.
    """
    lstm, T = cell == "lstm", len(ids)
    L, H = h0.shape
    new_h = np.empty((L, H), dtype=np.float32)
    new_c = np.empty((L, H), dtype=np.float32) if lstm else None
    if T == 0:
        new_h[:] = h0
        if lstm:
            new_c[:] = c0
        return np.empty((0, len(head_b)), dtype=np.float32), new_h, new_c
    scale = _lstm_tanh_scale(H) if lstm else None
    out = None
    for l, (w_ih, w_hh, b_ih, b_hh) in enumerate(layers):
        if l == 0:
            gi_all = first[ids]  # (T, G)
        elif T == 1:
            gi_all = (w_ih @ out[0] + b_ih)[None]  # a matrix-vector product beats a one-row matmul
        else:
            gi_all = out @ w_ih.T + b_ih
        h, c = h0[l], (c0[l] if lstm else None)
        out = np.empty((T, H), dtype=np.float32)
        for t in range(T):
            if lstm:
                g = w_hh @ h
                g += gi_all[t]
                g += b_hh
                tg = np.tanh(g * scale)
                s = tg * 0.5 + 0.5  # sigmoid(i), sigmoid(f), sigmoid(o) (its g block is unused)
                c = s[H : 2 * H] * c + s[:H] * tg[2 * H : 3 * H]
                h = out[t] = s[3 * H :] * np.tanh(c)
            else:
                gi = gi_all[t]
                gh = w_hh @ h
                gh += b_hh
                rz = np.tanh((gi[: 2 * H] + gh[: 2 * H]) * 0.5) * 0.5 + 0.5  # sigmoid(r), sigmoid(z)
                n = np.tanh(gi[2 * H :] + rz[:H] * gh[2 * H :])
                h = out[t] = n + rz[H:] * (h - n)  # (1 - z) * n + z * h
        new_h[l] = h
        if lstm:
            new_c[l] = c
    logits = (head_w @ out[0])[None] if T == 1 else out @ head_w.T  # (T, V)
    logits += head_b
    return logits, new_h, new_c


class CellLM(CheckpointMixin, ModelHubMixin):
    """An LSTM or GRU checkpoint for inference only, in numpy: the same files, names and outputs as TorchRNN.

    State is an (L, B, H) array for the GRU and an (h, c) pair of them for the LSTM. To train or resume,
    load the checkpoint as a TorchRNN (rnnlm.load without inference=True).
    """

    def __init__(self, config: ModelConfig, seed: int = 0):
        if config.model_type not in GATES:
            raise ValueError(f"CellLM runs lstm or gru, not {config.model_type!r}")
        self.config = config
        self.vocab = Vocab(config.vocab)
        # Weights start at zero: this class only runs weights trained elsewhere (from_pretrained, load_tensors).
        self.params = {name: np.zeros(shape, dtype=np.float32) for name, shape in self.shapes().items()}
        self._stream = None  # stream_weights(params), remade when the weights change

    def shapes(self) -> dict[str, tuple]:
        """Name -> shape of every weight, as in TorchRNN's state_dict."""
        V, E, H, L = self.config.vocab_size, self.config.embed_size, self.config.hidden_size, self.config.num_layers
        G = GATES[self.config.model_type] * H
        shapes = {"embed.weight": (V, E)}
        for l in range(L):
            shapes |= {f"rnn.weight_ih_l{l}": (G, E if l == 0 else H), f"rnn.weight_hh_l{l}": (G, H),
                       f"rnn.bias_ih_l{l}": (G,), f"rnn.bias_hh_l{l}": (G,)}
        return shapes | {"head.weight": (V, H), "head.bias": (V,)}

    def num_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def tensors(self) -> dict[str, np.ndarray]:
        return {name: p.copy() for name, p in self.params.items()}

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        tensors = {name: np.asarray(t) for name, t in tensors.items()}
        check_tensors(self.shapes(), tensors)
        for name, p in self.params.items():
            np.copyto(p, tensors[name], casting="same_kind")
        self._stream = None

    def _weights(self) -> tuple:
        if self._stream is None:
            self._stream = stream_weights(self.params, self.config.num_layers)
        return self._stream

    # --- the CharLM interface ---------------------------------------------------------------

    def init_state(self, batch_size: int):
        h = np.zeros((self.config.num_layers, batch_size, self.config.hidden_size), dtype=np.float32)
        return (h, h.copy()) if self.config.model_type == "lstm" else h

    def forward(self, ids: np.ndarray, state):
        """Logits (B, T, V) float32 and the new state; each of the B streams runs on its own."""
        ids = np.asarray(ids, dtype=np.int64)
        lstm = self.config.model_type == "lstm"
        hs, cs = state if lstm else (state, None)
        weights = self._weights()
        logits, new_h, new_c = [], np.empty_like(hs), (np.empty_like(cs) if lstm else None)
        for b in range(ids.shape[0]):
            out, new_h[:, b], c = run_stream(self.config.model_type, ids[b], hs[:, b], cs[:, b] if lstm else None, *weights)
            if lstm:
                new_c[:, b] = c
            logits.append(out)
        logits = np.stack(logits) if logits else np.empty((0, ids.shape[1], self.config.vocab_size), np.float32)
        return logits, ((new_h, new_c) if lstm else new_h)

    def step(self, ids: np.ndarray, state):
        """One character per stream: ids (B,) -> logits (B, V) and the new state."""
        logits, state = self.forward(np.asarray(ids, dtype=np.int64)[:, None], state)
        return logits[:, 0], state

    def state_tensors(self, state) -> dict[str, np.ndarray]:
        if self.config.model_type == "lstm":
            return {"h": np.array(state[0]), "c": np.array(state[1])}
        return {"h": np.array(state)}

    def state_from_tensors(self, tensors: dict[str, np.ndarray]):
        h = np.array(tensors["h"], dtype=np.float32)
        return (h, np.array(tensors["c"], dtype=np.float32)) if self.config.model_type == "lstm" else h

    def trainer(self, cfg: TrainConfig):
        raise TypeError(f"this {self.config.model_type} was loaded for inference only (numpy); "
                        "load it with rnnlm.load(folder) to train it with torch")
