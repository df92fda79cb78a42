"""The LSTM and GRU cells as records, and one stream of a trained LSTM or GRU run in numpy.

    LSTM  i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)      gates in nn.LSTM's order
          c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
          h' = sigmoid(o) * tanh(c')
    GRU   r, z = sigmoid(split(W_ih x + b_ih + W_hh h + b_hh)[:2])
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn))          the reset gate scales only the recurrent part
          h' = (1 - z) * n + z * h

Each cell is one Cell record (gate count, state names, the torch module that trains it, its numpy layer
step, its compiled layer step); TorchRNN trains either with torch, and CellLM runs one stream of either
without torch. One stream is the only path for sampling, scoring, the app and the training time-lapse: a
step reads every weight once for a single token, so memory traffic and per-call overhead set its speed.
A single stream's layers therefore run through layers.c (rnnlm.models.compiled) where a C compiler is at
hand: no Python between steps, and float16 weights read as float16; elsewhere the numpy steps here run
the same equations. CellLM loads a checkpoint without importing torch (about 2 s sooner). The tests check
both against torch on the same weights.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..config import ModelConfig, TrainConfig
from ..vocab import make_vocab
from . import compiled
from .base import check_tensors


@dataclass(frozen=True)
class Cell:
    """Everything that differs between the LSTM and the GRU."""

    name: str
    gates: int  # gate blocks per layer, each hidden_size wide
    state_names: tuple[str, ...]  # the state is a tuple of arrays (L, B, H) in this order
    torch_module: str  # the torch.nn class that trains it
    prepare: Callable  # (w_ih, w_hh, b_ih, b_hh) -> (w_in, b_in, w_rec, b_rec): a layer's weights for run_layer
    run_layer: Callable  # (gi (T, G[, B]), w_rec, b_rec, state tuple of (H[, B])) -> (out (T, H[, B]), new state)
    compiled: str = ""  # the same layer for one stream in layers.c (rnnlm.models.compiled); "": numpy only
    init_torch: Callable | None = None  # adjusts a fresh torch module's weights: (rnn, config)


def _sigmoid_rows(G: int, H: int, sigmoid_blocks: int) -> np.ndarray:
    """(G, 1) factors: 1/2 on the first sigmoid_blocks * H rows, 1 elsewhere."""
    scale = np.ones((G, 1), dtype=np.float32)
    scale[: sigmoid_blocks * H] = 0.5
    return scale


def _prepare_lstm(w_ih, w_hh, b_ih, b_hh) -> tuple:
    """Both biases in the input part, and the i, f, o rows halved: since sigmoid(a) = (tanh(a / 2) + 1) / 2,
    one tanh of the gates then gives tanh(g) and, halved and shifted, the three sigmoids. Halving is exact
    in floating point, so the products are the same numbers, halved."""
    H = w_hh.shape[1]
    scale = _sigmoid_rows(4 * H, H, 2)  # i, f
    scale[3 * H :] = 0.5  # o
    return w_ih * scale, (b_ih + b_hh) * scale[:, 0], w_hh * scale, None


def _lstm_layer(gi_all: np.ndarray, w_rec: np.ndarray, _, state: tuple) -> tuple[np.ndarray, tuple]:
    """One LSTM layer over T steps whose (prepared) input gates gi_all (T, 4H) are known: outputs (T, H), (h, c).
    B streams side by side are columns: gi_all (T, 4H, B), states (H, B), outputs (T, H, B)."""
    h, c = state
    H, cols = len(h), h.shape[1:]
    c = np.array(c, dtype=np.float32)
    out = np.empty((len(gi_all), H, *cols), dtype=np.float32)
    g = np.empty((4 * H, *cols), dtype=np.float32)
    s = np.empty((4 * H, *cols), dtype=np.float32)
    tc = np.empty((H, *cols), dtype=np.float32)
    s_i, s_f, g_g, s_o = s[:H], s[H : 2 * H], g[2 * H : 3 * H], s[3 * H :]
    mm, add, mul, tanh = np.matmul, np.add, np.multiply, np.tanh
    for t in range(len(gi_all)):
        mm(w_rec, h, out=g)
        add(g, gi_all[t], out=g)
        tanh(g, out=g)  # tanh of the halved i, f, o and of g
        mul(g, 0.5, out=s)
        add(s, 0.5, out=s)  # sigmoid(i), sigmoid(f), sigmoid(o) (its g block is unused)
        mul(c, s_f, out=c)
        c += s_i * g_g
        tanh(c, out=tc)
        h = out[t]
        mul(s_o, tc, out=h)
    return out, (h, c)


def _prepare_gru(w_ih, w_hh, b_ih, b_hh) -> tuple:
    """The r and z rows halved (sigmoid through tanh, as for the LSTM) with their recurrent bias moved into
    the input part; the n gate keeps b_hn apart, since the reset gate scales W_hn h + b_hn."""
    H = w_hh.shape[1]
    scale = _sigmoid_rows(3 * H, H, 2)
    b_in = b_ih.copy()
    b_in[: 2 * H] += b_hh[: 2 * H]
    return w_ih * scale, b_in * scale[:, 0], w_hh * scale, b_hh[2 * H :].copy()


def _gru_layer(gi_all: np.ndarray, w_rec: np.ndarray, b_hn: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
    """One GRU layer over T steps whose (prepared) input gates gi_all (T, 3H) are known: outputs (T, H), (h,).
    B streams side by side are columns: gi_all (T, 3H, B), states (H, B), outputs (T, H, B)."""
    (h,) = state
    H, cols = len(h), h.shape[1:]
    b_hn = b_hn.reshape(H, *(1 for _ in cols))  # a column, to add to every stream's
    out = np.empty((len(gi_all), H, *cols), dtype=np.float32)
    gh = np.empty((3 * H, *cols), dtype=np.float32)
    rz = np.empty((2 * H, *cols), dtype=np.float32)
    n = np.empty((H, *cols), dtype=np.float32)
    gh_rz, gh_n, r, z = gh[: 2 * H], gh[2 * H :], rz[:H], rz[H:]
    mm, add, mul, tanh = np.matmul, np.add, np.multiply, np.tanh
    for t in range(len(gi_all)):
        gi = gi_all[t]
        mm(w_rec, h, out=gh)
        gh_n += b_hn
        add(gi[: 2 * H], gh_rz, out=rz)
        tanh(rz, out=rz)
        mul(rz, 0.5, out=rz)
        add(rz, 0.5, out=rz)  # sigmoid(r), sigmoid(z)
        mul(r, gh_n, out=n)
        n += gi[2 * H :]
        tanh(n, out=n)
        h_new = out[t]
        np.subtract(h, n, out=h_new)
        h_new *= z
        h_new += n  # (1 - z) * n + z * h
        h = h_new
    return out, (h,)


def forget_bias(config: ModelConfig) -> float:
    """The LSTM forget gate's starting bias: options["forget_bias"], 1 when not recorded."""
    return float(config.options.get("forget_bias", 1.0))


def _set_forget_bias(rnn, config: ModelConfig) -> None:
    """The forget gate's bias starts at forget_bias(config) (gates are ordered i, f, g, o). 1 (char-rnn's choice)
    remembers by default early in training; 0 learned faster in short runs on Tiny Shakespeare (600 steps
    of 2x256: 1.592 against 1.672 val nats/char; 150 steps of 2x512: 2.055 against 2.218)."""
    H = config.hidden_size
    for l in range(config.num_layers):
        getattr(rnn, f"bias_ih_l{l}").data[H : 2 * H] = forget_bias(config)
        getattr(rnn, f"bias_hh_l{l}").data[H : 2 * H] = 0.0


CELLS = {
    "lstm": Cell("lstm", 4, ("h", "c"), "LSTM", _prepare_lstm, _lstm_layer, "rnnlm_lstm_layer", _set_forget_bias),
    "gru": Cell("gru", 3, ("h",), "GRU", _prepare_gru, _gru_layer, "rnnlm_gru_layer"),
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


def stream_weights(cell: Cell, params: dict[str, np.ndarray], num_layers: int) -> tuple:
    """run_stream's weights from arrays named as in TorchRNN's state_dict: (first, layers, head_w, head_b).

    layers holds each layer's weights as the cell prepares them, (w_in, b_in, w_rec, b_rec, step), where step
    is the layer as the compiled step runs it (a compiled.Layer; None when there is no compiled step: numpy
    runs the stream). first is the (V, G) table of every token's first-layer input gates,
    embedding @ w_in.T + b_in: a row lookup then
    replaces a small matrix-vector product per token.
    """
    step = cell.compiled and compiled.library() is not None
    layers = []
    for l in range(num_layers):
        w_ih, w_hh, b_ih, b_hh = (params[f"rnn.{n}_l{l}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        w_in, b_in, w_rec, b_rec = cell.prepare(w_ih, w_hh, b_ih, b_hh)
        if step:  # the factors of the prepared input rows: the cell's prepare applied to ones
            scale = cell.prepare(np.ones((len(w_ih), 1), np.float32), np.ones_like(w_hh), b_ih, b_hh)[0][:, 0]
            step_layer = compiled.Layer(cell.compiled, w_ih, w_hh, scale, b_in, b_rec)
        layers.append((w_in, b_in, w_rec, b_rec, step_layer if step else None))
    first = params["embed.weight"] @ layers[0][0].T + layers[0][1]  # (V, G)
    return first, layers, params["head.weight"], params["head.bias"]


PIPELINE_CHUNK = 256  # tokens a layer hands to the next at a time when layers run on their own threads


def run_stream(cell: Cell, ids: np.ndarray, state: tuple, first: np.ndarray, layers: list[tuple],
               head_w: np.ndarray, head_b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """One stream of T tokens, layer by layer: logits (T, V) and the new state (a tuple of (L, H) arrays).

    A layer's input part of the gates comes for a whole chunk of tokens at once (table rows in the first
    layer, one matrix product above it); only the recurrent part runs per token. With two or more layers
    and more than one chunk of tokens, each layer runs on its own thread: layer 2 reads chunk k while layer
    1 reads chunk k + 1. The compiled step holds no GIL for a whole chunk (numpy's products release it per
    call), so two layers use two cores; the results are the same numbers, computed in the same order.
    """
    T = len(ids)
    new = tuple(np.array(s, dtype=np.float32) for s in state)  # (L, H) each
    if T == 0:
        return np.empty((0, len(head_b)), dtype=np.float32), new
    chunks = [ids[p : p + PIPELINE_CHUNK] for p in range(0, T, PIPELINE_CHUNK)]
    if len(layers) > 1 and len(chunks) > 1:
        out = _run_layers_pipelined(cell, chunks, new, first, layers)
    else:
        out = ids
        for l in range(len(layers)):
            out = _run_layer(cell, l, out, new, first, layers[l])
    logits = (head_w @ out[0])[None] if T == 1 else out @ head_w.T  # (T, V)
    logits += head_b
    return logits, new


def _run_layer(cell: Cell, l: int, below: np.ndarray, state: tuple, first: np.ndarray, weights: tuple) -> np.ndarray:
    """Layer l over the tokens (l = 0) or the outputs (T, H) of the layer below; updates state[...][l]."""
    return _recur(cell, l, _gates_in(l, below, first, weights), state, weights)


def _gates_in(l: int, below: np.ndarray, first: np.ndarray, weights: tuple) -> np.ndarray:
    """The input part of layer l's gates (T, G) for the tokens (l = 0) or the outputs (T, H) of the layer below."""
    w_in, b_in, step = weights[0], weights[1], weights[4]
    if l == 0:
        return first[below]  # (T, G)
    if len(below) == 1:  # sampling: one token
        if step is not None:
            return step.gates_in(below[0])  # weight_ih in its stored precision (float16: half the bytes)
        return (w_in @ below[0] + b_in)[None]  # a matrix-vector product beats a one-row matmul
    return below @ w_in.T + b_in  # (T, G): a matrix product, where float32 BLAS beats a compiled loop


def _recur(cell: Cell, l: int, gi_all: np.ndarray, state: tuple, weights: tuple) -> np.ndarray:
    """Layer l's recurrence over its input gates (T, G): outputs (T, H); updates state[...][l]."""
    _, _, w_rec, b_rec, step = weights
    layer_state = tuple(s[l] for s in state)
    if step is not None:
        out, layer_state = step.run(gi_all, layer_state)
    else:
        out, layer_state = cell.run_layer(gi_all, w_rec, b_rec, layer_state)
    for s, value in zip(state, layer_state):
        s[l] = value
    return out


def _run_layers_pipelined(cell: Cell, chunks: list[np.ndarray], state: tuple, first: np.ndarray,
                          layers: list[tuple]) -> np.ndarray:
    """The top layer's outputs (T, H), each layer on its own thread, chunks passed up through queues.

    A layer's input gates for a chunk are one matrix product over the outputs of the layer below (about
    two fifths of a 2x512 LSTM layer's time), and the two threads around it share it: the layer below
    computes the first half of the chunk's rows when it finishes the chunk, the layer above the second half
    before its steps. So the first layer, whose input gates are table rows, carries the same load as the
    second. Rows of a matrix product are computed independently: the same numbers as one product."""
    L = len(layers)
    handoff = [queue.SimpleQueue() for _ in range(L)]  # handoff[l]: (outputs of layer l - 1, input gates of layer
    top = []                                           # l with their first `done` rows filled, done), a chunk at a time
    failures = []

    def run(l: int) -> None:
        try:
            for _ in chunks:
                item = handoff[l].get()
                if item is None:  # a layer below failed
                    break
                below, gi_all, done = item
                if done < len(gi_all):
                    _gates_into(gi_all[done:], below[done:], layers[l])
                out = _recur(cell, l, gi_all, state, layers[l])
                if l + 1 < L:
                    gi_next = np.empty((len(out), len(layers[l + 1][1])), dtype=np.float32)
                    half = len(out) // 2
                    _gates_into(gi_next[:half], out[:half], layers[l + 1])
                    handoff[l + 1].put((out, gi_next, half))
                else:
                    top.append(out)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread below
            failures.append(e)
        finally:
            if failures and l + 1 < L:
                handoff[l + 1].put(None)

    for chunk in chunks:
        gi_all = _gates_in(0, chunk, first, layers[0])
        handoff[0].put((chunk, gi_all, len(gi_all)))
    workers = [threading.Thread(target=run, args=(l,), daemon=True) for l in range(1, L)]
    for w in workers:
        w.start()
    run(0)
    for w in workers:
        w.join()
    if failures:
        raise failures[0]
    return np.concatenate(top)


def _gates_into(gi: np.ndarray, below: np.ndarray, weights: tuple) -> None:
    """gi (T, G) = the input part of a layer's gates for the outputs (T, H) of the layer below: _gates_in's matrix
    product, written in place."""
    if len(below):
        np.matmul(below, weights[0].T, out=gi)
        gi += weights[1]


def run_streams(cell: Cell, ids: np.ndarray, state: tuple, first: np.ndarray, layers: list[tuple],
                head_w: np.ndarray, head_b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """B streams of T tokens side by side: ids (B, T), state a tuple of (L, B, H) arrays -> logits (B, T, V) and the
    new state. Inside, the streams are the columns of each layer's arrays, so one matrix product per step serves
    them all, and every other product is one over all B * T tokens."""
    B, T = ids.shape
    new = tuple(np.ascontiguousarray(np.transpose(s, (0, 2, 1)), dtype=np.float32) for s in state)  # (L, H, B)
    out = None
    for l, (w_in, b_in, w_rec, b_rec, _) in enumerate(layers):
        if l == 0:
            gi_all = np.ascontiguousarray(first[ids.T].transpose(0, 2, 1))  # (T, G, B)
        else:
            H = out.shape[1]
            rows = out.transpose(0, 2, 1).reshape(T * B, H) @ w_in.T + b_in  # (T*B, G)
            gi_all = np.ascontiguousarray(rows.reshape(T, B, -1).transpose(0, 2, 1))  # (T, G, B)
        out, layer_state = cell.run_layer(gi_all, w_rec, b_rec, tuple(s[l] for s in new))
        for s, value in zip(new, layer_state):
            s[l] = value
    H = out.shape[1]
    logits = (out.transpose(2, 0, 1).reshape(B * T, H) @ head_w.T).reshape(B, T, -1)  # (B, T, V)
    logits += head_b
    return logits, tuple(np.ascontiguousarray(np.transpose(s, (0, 2, 1))) for s in new)


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
            self._stream = stream_weights(self.cell, self.params, self.config.num_layers)
        return self._stream

    def init_state(self, batch_size: int) -> tuple:
        h = np.zeros((self.config.num_layers, batch_size, self.config.hidden_size), dtype=np.float32)
        return tuple(h.copy() for _ in self.cell.state_names)

    def forward(self, ids: np.ndarray, state: tuple):
        """Logits (B, T, V) float32 and the new state; B streams run side by side (run_streams), one on its own."""
        ids = np.asarray(ids, dtype=np.int64)
        V = self.config.vocab_size
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"token ids must be in [0, {V}), got ids from {ids.min()} to {ids.max()}")
        weights = self._weights()
        if ids.shape[0] > 1 and ids.shape[1] > 0:
            return run_streams(self.cell, ids, state, *weights)
        new = tuple(np.empty_like(s) for s in state)
        logits = np.empty((ids.shape[0], ids.shape[1], V), dtype=np.float32)
        for b in range(ids.shape[0]):
            logits[b], stream_state = run_stream(self.cell, ids[b], tuple(s[:, b] for s in state), *weights)
            for s, value in zip(new, stream_state):
                s[:, b] = value
        return logits, new

    def stepper(self, state: tuple) -> compiled.Stepper | None:
        """One stream from state (a tuple of (L, 1, H) arrays), a token at a time, in place (compiled.Stepper): what
        sampling runs per token. None where the compiled step is not there (numpy runs step() instead)."""
        first, layers, head_w, head_b = self._weights()
        if any(layer[4] is None for layer in layers) or state[0].shape[1] != 1:
            return None
        return compiled.Stepper([layer[4] for layer in layers], first, head_w, head_b, tuple(s[:, 0] for s in state))

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
