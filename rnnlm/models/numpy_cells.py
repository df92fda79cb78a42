"""The LSTM and GRU cells as records, and one stream of a trained LSTM or GRU run in numpy.

    LSTM  i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)      gates in nn.LSTM's order
          c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
          h' = sigmoid(o) * tanh(c')
    GRU   r, z = sigmoid(split(W_ih x + b_ih + W_hh h + b_hh)[:2])
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn))          the reset gate scales only the recurrent part
          h' = (1 - z) * n + z * h

Each cell is one Cell record (gate count, state names, the torch module that trains it, its numpy layer
step); TorchRNN trains either with torch, and CellLM runs one stream of either in numpy. One stream is the
only path for sampling, scoring, the app and the training time-lapse: a step reads every weight once for
a single token, so memory traffic and per-call overhead set its speed, and here plain numpy beats torch's
cells (nn.LSTM / nn.GRU at batch 1 also pay about 0.1 s of set-up per new sequence length). CellLM loads a
checkpoint without importing torch (about 2 s sooner). The tests check it against torch on the same weights.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..config import ModelConfig, TrainConfig
from ..vocab import make_vocab
from .base import check_tensors


@dataclass(frozen=True)
class Cell:
    """Everything that differs between the LSTM and the GRU."""

    name: str
    gates: int  # gate blocks per layer, each hidden_size wide
    state_names: tuple[str, ...]  # the state is a tuple of arrays (L, B, H) in this order
    torch_module: str  # the torch.nn class that trains it
    run_layer: Callable  # (gi (T, [B,] G), w_hh, b_hh, state tuple of ([B,] H)) -> (out (T, [B,] H), new state tuple)
    init_torch: Callable | None = None  # adjusts a fresh torch module's weights (rnn, hidden_size, num_layers)


@functools.lru_cache(maxsize=8)
def _lstm_tanh_scale(H: int) -> np.ndarray:
    """(1/2, 1/2, 1, 1/2) per gate block i, f, g, o: since sigmoid(a) = (tanh(a / 2) + 1) / 2, one tanh of the
    scaled gates gives tanh(g) and, halved and shifted, the three sigmoids."""
    scale = np.full(4 * H, 0.5, dtype=np.float32)
    scale[2 * H : 3 * H] = 1.0
    return scale


def _recurrent(w_hh: np.ndarray, h: np.ndarray) -> np.ndarray:
    """h @ w_hh.T for one stream's h (H,) or a batch's (B, H); one stream as a matrix-vector product, 40% faster
    at H = 150 than the vector-matrix one."""
    return w_hh @ h if h.ndim == 1 else h @ w_hh.T


def _lstm_layer(gi_all: np.ndarray, w_hh: np.ndarray, b_hh: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
    """One LSTM layer over T steps whose input gates gi_all (T, [B,] 4H) are known: outputs (T, [B,] H), (h, c).
    One stream has states (H,); B streams at once have (B, H)."""
    h, c = state
    H = h.shape[-1]
    scale = _lstm_tanh_scale(H)
    out = np.empty(gi_all.shape[:-1] + (H,), dtype=np.float32)
    for t in range(len(gi_all)):
        g = _recurrent(w_hh, h)  # ([B,] 4H)
        g += gi_all[t]
        g += b_hh
        tg = np.tanh(g * scale)
        s = tg * 0.5 + 0.5  # sigmoid(i), sigmoid(f), sigmoid(o) (its g block is unused)
        c = s[..., H : 2 * H] * c + s[..., :H] * tg[..., 2 * H : 3 * H]
        h = out[t] = s[..., 3 * H :] * np.tanh(c)
    return out, (h, c)


def _gru_layer(gi_all: np.ndarray, w_hh: np.ndarray, b_hh: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
    """One GRU layer over T steps whose input gates gi_all (T, [B,] 3H) are known: outputs (T, [B,] H), (h,)."""
    (h,) = state
    H = h.shape[-1]
    out = np.empty(gi_all.shape[:-1] + (H,), dtype=np.float32)
    for t in range(len(gi_all)):
        gi = gi_all[t]
        gh = _recurrent(w_hh, h)  # ([B,] 3H)
        gh += b_hh
        rz = np.tanh((gi[..., : 2 * H] + gh[..., : 2 * H]) * 0.5) * 0.5 + 0.5  # sigmoid(r), sigmoid(z)
        n = np.tanh(gi[..., 2 * H :] + rz[..., :H] * gh[..., 2 * H :])
        h = out[t] = n + rz[..., H:] * (h - n)  # (1 - z) * n + z * h
    return out, (h,)


def _forget_bias_one(rnn, hidden_size: int, num_layers: int) -> None:
    """Forget-gate bias 1 (gates are ordered i, f, g, o): remember by default early in training."""
    H = hidden_size
    for l in range(num_layers):
        getattr(rnn, f"bias_ih_l{l}").data[H : 2 * H] = 1.0
        getattr(rnn, f"bias_hh_l{l}").data[H : 2 * H] = 0.0


CELLS = {
    "lstm": Cell("lstm", 4, ("h", "c"), "LSTM", _lstm_layer, _forget_bias_one),
    "gru": Cell("gru", 3, ("h",), "GRU", _gru_layer),
}


def cell_for(config: ModelConfig) -> Cell:
    try:
        return CELLS[config.model_type]
    except KeyError:
        raise ValueError(f"no recurrent cell named {config.model_type!r}; cells: {', '.join(CELLS)}") from None


def weight_shapes(config: ModelConfig) -> dict[str, tuple]:
    """Name -> shape of every weight, as in TorchRNN's state_dict."""
    V, E, H, L = config.vocab_size, config.embed_size, config.hidden_size, config.num_layers
    G = cell_for(config).gates * H
    shapes = {"embed.weight": (V, E)}
    for l in range(L):
        shapes |= {f"rnn.weight_ih_l{l}": (G, E if l == 0 else H), f"rnn.weight_hh_l{l}": (G, H),
                   f"rnn.bias_ih_l{l}": (G,), f"rnn.bias_hh_l{l}": (G,)}
    return shapes | {"head.weight": (V, H), "head.bias": (V,)}


def stream_weights(params: dict[str, np.ndarray], num_layers: int) -> tuple:
    """run_stream's weights from arrays named as in TorchRNN's state_dict: (first, layers, head_w, head_b).

    first is the (V, G) table of every token's first-layer input gates, embedding @ W_ih.T + b_ih: a row
    lookup then replaces a small matrix-vector product per token. The rest are the arrays themselves.
    """
    first = params["embed.weight"] @ params["rnn.weight_ih_l0"].T + params["rnn.bias_ih_l0"]  # (V, G)
    layers = [tuple(params[f"rnn.{n}_l{l}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
              for l in range(num_layers)]
    return first, layers, params["head.weight"], params["head.bias"]


def run_stream(cell: Cell, ids: np.ndarray, state: tuple, first: np.ndarray, layers: list[tuple],
               head_w: np.ndarray, head_b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """One stream of T tokens, layer by layer: logits (T, V) and the new state (a tuple of (L, H) arrays).
    Also B streams side by side: ids (T, B), states (L, B, H), logits (T, B, V).

    A layer's input part of the gates comes for all T tokens at once (table rows in the first layer, one
    matrix product above it); only the recurrent part runs per token, in a few whole-vector operations
    (whole-matrix ones for B streams: one weight read serves them all).
    """
    T = len(ids)
    new = tuple(np.array(s, dtype=np.float32) for s in state)  # (L, [B,] H) each
    if T == 0:
        return np.empty(ids.shape + (len(head_b),), dtype=np.float32), new
    one = ids.ndim == 1 and T == 1  # one token of one stream: matrix-vector products beat one-row matmuls
    out = None
    for l, (w_ih, w_hh, b_ih, b_hh) in enumerate(layers):
        if l == 0:
            gi_all = first[ids]  # (T, [B,] G)
        elif one:
            gi_all = (w_ih @ out[0] + b_ih)[None]
        else:
            gi_all = _rows(out, w_ih) + b_ih  # (T, [B,] G)
        out, layer_state = cell.run_layer(gi_all, w_hh, b_hh, tuple(s[l] for s in new))
        for s, value in zip(new, layer_state):
            s[l] = value
    logits = (head_w @ out[0])[None] if one else _rows(out, head_w)  # (T, [B,] V)
    logits += head_b
    return logits, new


def _rows(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w.T for x (..., H) as one matrix product over all its rows: numpy runs a (T, B, H) @ (H, V) product as
    T separate ones, 9 times slower for 26 x 20 rows into 8,096 words."""
    return (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))


class CellLM:
    """An LSTM or GRU checkpoint run one stream at a time in numpy: the same files, names and outputs as TorchRNN.

    State is a tuple of (L, B, H) arrays, (h, c) for the LSTM and (h,) for the GRU. Inference only:
    training loads the checkpoint as a TorchRNN.
    """

    def __init__(self, config: ModelConfig, seed: int = 0):
        self.config = config
        self.cell = cell_for(config)
        self.vocab = make_vocab(config)
        # Weights start at zero: this class only runs weights trained elsewhere (load_tensors).
        self.params = {name: np.zeros(shape, dtype=np.float32) for name, shape in self.shapes_for(config).items()}
        self._stream = None  # stream_weights(params), remade when the weights change

    @classmethod
    def shapes_for(cls, config: ModelConfig) -> dict[str, tuple]:
        return weight_shapes(config)

    def num_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def tensors(self) -> dict[str, np.ndarray]:
        return {name: p.copy() for name, p in self.params.items()}

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        tensors = {name: np.asarray(t) for name, t in tensors.items()}
        check_tensors(self.shapes_for(self.config), tensors)
        for name, p in self.params.items():
            np.copyto(p, tensors[name], casting="same_kind")
        self._stream = None

    def _weights(self) -> tuple:
        if self._stream is None:
            self._stream = stream_weights(self.params, self.config.num_layers)
        return self._stream

    def init_state(self, batch_size: int) -> tuple:
        h = np.zeros((self.config.num_layers, batch_size, self.config.hidden_size), dtype=np.float32)
        return tuple(h.copy() for _ in self.cell.state_names)

    def forward(self, ids: np.ndarray, state: tuple):
        """Logits (B, T, V) float32 and the new state; each of the B streams runs on its own."""
        ids = np.asarray(ids, dtype=np.int64)
        V = self.config.vocab_size
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"token ids must be in [0, {V}), got ids from {ids.min()} to {ids.max()}")
        weights = self._weights()
        if ids.shape[0] > 1:  # the streams side by side: (T, B, V) from one pass
            logits, new = run_stream(self.cell, ids.T, state, *weights)
            return np.ascontiguousarray(logits.transpose(1, 0, 2)), new
        logits, new = run_stream(self.cell, ids[0], tuple(s[:, 0] for s in state), *weights)
        return logits[None], tuple(s[:, None] for s in new)

    def step(self, ids: np.ndarray, state: tuple):
        """One token per stream: ids (B,) -> logits (B, V) and the new state."""
        logits, state = self.forward(np.asarray(ids, dtype=np.int64)[:, None], state)
        return logits[:, 0], state

    def state_tensors(self, state: tuple) -> dict[str, np.ndarray]:
        return {name: np.array(s) for name, s in zip(self.cell.state_names, state)}

    def state_from_tensors(self, tensors: dict[str, np.ndarray]) -> tuple:
        return tuple(np.array(tensors[name], dtype=np.float32) for name in self.cell.state_names)

    def trainer(self, cfg: TrainConfig):
        raise TypeError(f"this {self.config.model_type} was loaded for inference only (numpy, one stream); "
                        "load it with rnnlm.load(folder) to train it with torch")
