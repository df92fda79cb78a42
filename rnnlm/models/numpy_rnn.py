"""Vanilla tanh RNN in pure numpy: min-char-rnn's forward and backward, batched and multi-layer.

    a_t = x_t @ Wxh + h_{t-1} @ Whh + bh     one layer; x_t is one-hot for layer 0, so x_t @ Wxh is a row gather
    h_t = tanh(a_t)                          layer l > 0 takes layer l-1's h_t as its x_t
    logits_t = h_t @ Why + by                from the top layer

Arrays inside are time-major, (T, B, H), so that the slice for one time step is contiguous.
Everything that does not depend on the recurrence (input projections, the output layer, all
weight gradients) is one matmul over all T * B rows; only h_{t-1} @ Whh forward and
da_t @ Whh.T backward run inside the loop over time.
"""
from __future__ import annotations

import numpy as np

from ..config import ModelConfig, TrainConfig
from ..vocab import make_vocab
from . import compiled
from .base import check_tensors
from .numpy_cells import Cell, run_stream
from .numpy_optim import NumpyTrainer

FORWARD_CHUNK = 1024  # time steps per pass in forward(): activations for B * 1024 * H values at a time


ONE_HOT_MAX_V = 128  # sum_rows_by_id multiplies by a one-hot matrix up to this many token types


def sum_rows_by_id(ids: np.ndarray, rows: np.ndarray, V: int) -> np.ndarray:
    """(V, H): out[v] = the sum of rows[i] over every i with ids[i] == v (the gradient of a row gather).

    For characters (V up to ONE_HOT_MAX_V) one product with the one-hot (V, N) matrix; for words, where that
    matrix would take hundreds of MB, the rows sorted by id and summed per run of equal ids. Measured for
    2,048 rows of 512 on one core: 65 characters 1.4 ms one-hot against 5.1 ms sorted; 10,000 words 18 ms
    sorted against 155 ms one-hot."""
    if V <= ONE_HOT_MAX_V:
        one_hot = np.zeros((V, len(ids)), dtype=rows.dtype)
        one_hot[ids, np.arange(len(ids))] = 1
        return one_hot @ rows
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]) if len(ids) else np.empty(0, np.int64)
    out = np.zeros((V, rows.shape[1]), dtype=rows.dtype)
    if len(ids):
        out[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


class NumpyRNN:
    """A stack of tanh RNN layers over one-hot tokens, with hand-written BPTT. It trains and runs one stream."""

    def __init__(self, config: ModelConfig, seed: int = 0, dtype=np.float32):
        self.config = config
        self.vocab = make_vocab(config)
        self.dtype = np.dtype(dtype)
        self.params = self._init_params(np.random.default_rng(seed))
        self._buffers: dict = {}  # scratch arrays for loss_and_grads, kept for the last (B, T) seen

    # --- weights ----------------------------------------------------------------------------

    def shapes(self) -> dict[str, tuple]:
        """Name -> shape of every weight."""
        return self.shapes_for(self.config)

    @classmethod
    def shapes_for(cls, config: ModelConfig) -> dict[str, tuple]:
        """Name -> shape of every weight that config implies."""
        V, H, L = config.vocab_size, config.hidden_size, config.num_layers
        shapes: dict[str, tuple] = {}
        for l in range(L):
            shapes[f"Wxh.{l}"] = (V if l == 0 else H, H)
            shapes[f"Whh.{l}"] = (H, H)
            shapes[f"bh.{l}"] = (H,)
        shapes["Why"] = (H, V)
        shapes["by"] = (V,)
        return shapes

    def _init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Input and output weights ~ N(0, 1/fan_in); Whh orthogonal; biases zero.

        An orthogonal Whh has every singular value 1, so at initialisation the recurrence neither
        shrinks nor blows up a gradient sent back through time; tanh' <= 1 then keeps the product
        of step Jacobians at or below norm 1, and learning decides which directions to keep.
        Layer 0 counts its fan_in as V, which keeps the one-hot rows small (std 0.12 for 65 characters).
        """
        params = {}
        for name, shape in self.shapes().items():
            if name.startswith("b"):
                w = np.zeros(shape)
            elif name.startswith("Whh"):
                q, r = np.linalg.qr(rng.standard_normal(shape))
                w = q * np.sign(np.diag(r))  # the sign fix makes q uniformly distributed
            else:
                w = rng.standard_normal(shape) / np.sqrt(shape[0])
            params[name] = np.ascontiguousarray(w, dtype=self.dtype)
        return params

    def num_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.size for p in self.params.values())

    def tensors(self) -> dict[str, np.ndarray]:
        """Weights as named float32 arrays (copies)."""
        return {name: p.astype(np.float32) for name, p in self.params.items()}

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Copy weights in place (a trainer made earlier keeps working); ValueError names bad tensors."""
        tensors = {name: np.asarray(t) for name, t in tensors.items()}
        check_tensors(self.shapes(), tensors)
        for name, p in self.params.items():
            np.copyto(p, tensors[name], casting="same_kind")

    # --- state ------------------------------------------------------------------------------

    def init_state(self, batch_size: int) -> np.ndarray:
        """Zero hidden state, (L, B, H)."""
        return np.zeros((self.config.num_layers, batch_size, self.config.hidden_size), dtype=self.dtype)

    def state_tensors(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """The state as {"h": (L, B, H)}."""
        return {"h": np.array(state)}

    def state_from_tensors(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """Inverse of state_tensors; ValueError if the layer count or width do not fit this model."""
        h = tensors.get("h")
        batch = np.shape(h)[1] if np.ndim(h) == 3 else "B"  # any batch size fits
        check_tensors({"h": (self.config.num_layers, batch, self.config.hidden_size)}, tensors)
        return np.array(h, dtype=self.dtype)

    # --- forward ----------------------------------------------------------------------------

    def _check_ids(self, ids: np.ndarray) -> None:
        """ValueError unless every id is a token of the vocabulary."""
        V = self.config.vocab_size
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"character ids must be in [0, {V}), got ids from {ids.min()} to {ids.max()}")

    def _run_layers(self, x: np.ndarray, state: np.ndarray, hs: list[np.ndarray], pre: np.ndarray) -> None:
        """Fill hs[l] (T+1, B, H) with layer l's hidden states, hs[l][0] being the initial one."""
        p = self.params
        T = x.shape[1]
        self._check_ids(x)
        for l, h in enumerate(hs):
            a = pre.reshape(T * x.shape[0], -1)  # (T*B, H) view
            if l == 0:
                np.take(p["Wxh.0"], x.T, axis=0, out=pre, mode="clip")  # (T, B, H) one-hot input is a row gather;
                # ids were checked above, and mode="raise" would copy through a temporary
            else:
                np.matmul(hs[l - 1][1:].reshape(a.shape), p[f"Wxh.{l}"], out=a)  # (T*B, H) all steps at once
            a += p[f"bh.{l}"]
            h[0] = state[l]
            if x.shape[0] == 1:
                _recur_one_stream(p[f"Whh.{l}"], h[:, 0], pre[:, 0])
                continue
            Whh = p[f"Whh.{l}"]
            for t in range(T):
                np.matmul(h[t], Whh, out=h[t + 1])  # (B, H) the recurrence
                h[t + 1] += pre[t]
                np.tanh(h[t + 1], out=h[t + 1])

    def forward(self, ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits (B, T, V) float32 for ids (B, T), and the new state; no gradients."""
        ids = np.asarray(ids)
        B, T = ids.shape
        H, L = self.config.hidden_size, self.config.num_layers
        logits = np.empty((B, T, self.config.vocab_size), dtype=np.float32)
        state = np.array(state, dtype=self.dtype)
        for start in range(0, T, FORWARD_CHUNK):  # chunks bound the memory a long text needs
            x = ids[:, start : start + FORWARD_CHUNK]  # (B, t)
            t = x.shape[1]
            hs = [np.empty((t + 1, B, H), dtype=self.dtype) for _ in range(L)]
            self._run_layers(x, state, hs, np.empty((t, B, H), dtype=self.dtype))
            out = (hs[-1][1:].reshape(t * B, H) @ self.params["Why"]).reshape(t, B, -1)  # (t, B, V): one matmul
            # over every row (numpy would run a (t, B, H) @ (H, V) product as t small ones, 9 times slower for words)
            out += self.params["by"]
            logits[:, start : start + t] = out.transpose(1, 0, 2)
            state = np.stack([h[t] for h in hs])  # (L, B, H)
        return logits, state

    def step(self, ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One character per stream: ids (B,) -> logits (B, V) float32 and the new state (L, B, H)."""
        p = self.params
        new = np.empty(state.shape, dtype=self.dtype)  # (L, B, H)
        for l in range(self.config.num_layers):
            h = new[l]  # (B, H)
            np.matmul(state[l], p[f"Whh.{l}"], out=h)
            h += p["Wxh.0"][ids] if l == 0 else new[l - 1] @ p[f"Wxh.{l}"]
            h += p[f"bh.{l}"]
            np.tanh(h, out=h)
        logits = new[-1] @ p["Why"]  # (B, V)
        logits += p["by"]
        return logits.astype(np.float32, copy=False), new

    # --- training ---------------------------------------------------------------------------

    def _scratch(self, B: int, T: int) -> dict[str, np.ndarray]:
        """Scratch arrays for a (B, T) window, reused while the window shape stays the same."""
        key = (B, T)
        if self._buffers.get("key") != key:
            H, V, L = self.config.hidden_size, self.config.vocab_size, self.config.num_layers
            self._buffers = {
                "key": key,
                "hs": [np.empty((T + 1, B, H), dtype=self.dtype) for _ in range(L)],
                "pre": np.empty((T, B, H), dtype=self.dtype),  # pre-activations; later dL/da
                "dh": np.empty((T, B, H), dtype=self.dtype),  # dL/dh of a layer's outputs
                "probs": np.empty((T * B, V), dtype=self.dtype),
                "dnext": np.empty((B, H), dtype=self.dtype),
            }
        return self._buffers

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, state: np.ndarray):
        """Mean cross-entropy (nats/char) of targets y given inputs x, both (B, T) int64, its gradient
        for every weight, and the last hidden state (L, B, H), detached."""
        p = self.params
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            raise ValueError(f"inputs {x.shape} and targets {y.shape} must have the same (B, T) shape")
        B, T = x.shape
        N = B * T
        buf = self._scratch(B, T)
        hs, da, dh, probs, dnext = buf["hs"], buf["pre"], buf["dh"], buf["probs"], buf["dnext"]
        grads: dict[str, np.ndarray] = {}

        # forward
        self._run_layers(x, state, hs, da)
        htop = hs[-1][1:].reshape(N, -1)  # (T*B, H) top layer outputs, time-major rows
        target = y.T.reshape(N)  # (T*B,) in the same row order
        rows = np.arange(N)
        logits = np.matmul(htop, p["Why"], out=probs)  # (T*B, V)
        logits += p["by"]
        logits -= logits.max(axis=1, keepdims=True)  # stable softmax: the largest logit becomes 0
        picked = logits[rows, target]  # (T*B,) target logit, shifted
        np.exp(logits, out=probs)  # (T*B, V) unnormalised probabilities, in place
        total = probs.sum(axis=1)  # (T*B,)
        loss = float(np.mean(np.log(total) - picked))  # -log softmax at the target, averaged

        # backward: output layer
        probs /= total[:, None]  # (T*B, V) softmax
        probs[rows, target] -= 1  # dL/dlogits = p - onehot(y), per row ...
        probs *= 1.0 / N  # ... divided by N for the mean
        dlogits = probs
        grads["Why"] = htop.T @ dlogits  # (H, V) dL/dWhy, summed over all rows
        grads["by"] = dlogits.sum(axis=0)  # (V,)
        np.matmul(dlogits, p["Why"].T, out=dh.reshape(N, -1))  # (T, B, H) dL/dh from the output layer

        # backward: layers, top to bottom; dh holds dL/dh_t coming from above, without the recurrence
        for l in reversed(range(len(hs))):
            h = hs[l]  # (T+1, B, H)
            WhhT = np.ascontiguousarray(p[f"Whh.{l}"].T)  # (H, H) contiguous: faster small matmuls
            np.square(h[1:], out=da)  # (T, B, H)
            np.subtract(1, da, out=da)  # tanh'(a_t) = 1 - h_t^2, for all t at once
            for t in reversed(range(T)):
                if t < T - 1:
                    dh[t] += dnext  # add the gradient flowing back from step t+1
                da[t] *= dh[t]  # (B, H) dL/da_t = dL/dh_t * tanh'(a_t)
                if t > 0:
                    np.matmul(da[t], WhhT, out=dnext)  # (B, H) dL/dh_{t-1} through Whh
            da_rows = da.reshape(N, -1)  # (T*B, H)
            grads[f"Whh.{l}"] = h[:-1].reshape(N, -1).T @ da_rows  # (H, H) sum_t h_{t-1}^T da_t
            grads[f"bh.{l}"] = da_rows.sum(axis=0)  # (H,)
            if l == 0:
                grads["Wxh.0"] = sum_rows_by_id(x.T.reshape(N), da_rows, self.config.vocab_size)  # (V, H)
            else:
                below = hs[l - 1][1:].reshape(N, -1)  # (T*B, H) this layer's inputs
                grads[f"Wxh.{l}"] = below.T @ da_rows  # (H, H)
                np.matmul(da_rows, p[f"Wxh.{l}"].T, out=dh.reshape(N, -1))  # dL/dh of the layer below
        new_state = np.stack([h[T] for h in hs])  # (L, B, H) a copy: the scratch arrays get reused
        return loss, {name: grads[name] for name in p}, new_state

    def trainer(self, cfg: TrainConfig) -> NumpyTrainer:
        """A trainer running cfg.optimizer ("adam" or "adagrad") with cfg.grad_clip on this model."""
        return NumpyTrainer(self, cfg)


def _recur_one_stream(Whh: np.ndarray, h: np.ndarray, pre: np.ndarray) -> None:
    """h[t + 1] = tanh(h[t] @ Whh + pre[t]) for one stream, h (T+1, H), pre (T, H).

    Written as Whh.T @ h[t], a matrix-vector product on a transposed view (no copy), with the functions
    bound locally: the same numbers as the batched loop, about 1.5x faster per step at batch 1.
    """
    w, mm, add, tanh = Whh.T, np.matmul, np.add, np.tanh
    for t in range(len(pre)):
        out = h[t + 1]
        mm(w, h[t], out=out)
        add(out, pre[t], out=out)
        tanh(out, out=out)


def _tanh_layer(gi_all: np.ndarray, w_rec: np.ndarray, b_rec, state: tuple) -> tuple[np.ndarray, tuple]:
    """The tanh layer as numpy_cells runs a cell's layer: gi_all (T, H[, B]) the input part, w_rec (H, H) Whh
    transposed (rows are units), state (h,) with h (H[, B]) -> outputs (T, H[, B]) and (h,)."""
    (h,) = state
    out = np.empty(gi_all.shape, dtype=np.float32)
    for t in range(len(gi_all)):
        h = out[t] = np.tanh(w_rec @ h + gi_all[t])
    return out, (np.array(h),)


TANH = Cell(name="rnn", gates=1, state_names=("h",), torch_module="",
            prepare=lambda w_ih, w_hh, b_ih, b_hh: (w_ih, b_ih + b_hh, w_hh, None), run_layer=_tanh_layer,
            compiled="rnnlm_rnn_layer")


class RNNRunner(NumpyRNN):
    """A trained RNN run for inference (sampling, scoring, the app): the same weights, files and outputs as
    NumpyRNN. One stream runs through layers.c where a C compiler is at hand (rnnlm.models.compiled), as the
    LSTM's and GRU's do: a whole chunk of tokens per call, float16 weights read as float16 where every weight
    is one (the bundled sets), and two layers on two threads; a token of sampling is one C call per layer
    (compiled.Stepper). Elsewhere, and for several streams side by side, NumpyRNN's numpy steps run.

    Inference only: the compiled layers hold copies of the weights, so training goes through NumpyRNN
    (rnnlm.load(folder)), whose weights change in place."""

    def __init__(self, config: ModelConfig, seed: int = 0, dtype=np.float32):
        super().__init__(config, seed=seed, dtype=dtype)
        self._stream = None  # run_stream's weights (None: not made yet; False: no compiled step), remade on load

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        super().load_tensors(tensors)
        self._stream = None

    def _weights(self):
        """(first, layers, head_w, head_b) as numpy_cells.run_stream takes them, or False without a compiled step."""
        if self._stream is None:
            self._stream = False
            if self.dtype == np.float32 and compiled.library() is not None:
                p, H = self.params, self.config.hidden_size
                layers = []
                for l in range(self.config.num_layers):
                    # views in torch's layout (compiled.Layer keeps its own copies); layer 0's input part is a row
                    # of `first` below, so its (V, H) input matrix is not copied again
                    w_in = p[f"Wxh.{l}"].T if l else np.empty((H, 0), np.float32)
                    step = compiled.Layer(TANH.compiled, w_in, p[f"Whh.{l}"].T, np.ones(H, np.float32), p[f"bh.{l}"],
                                          None)
                    layers.append((w_in, p[f"bh.{l}"], p[f"Whh.{l}"].T, None, step))
                first = p["Wxh.0"] + p["bh.0"]  # (V, H): a one-hot token's input part is its row of Wxh.0
                self._stream = (first, layers, p["Why"].T, p["by"])
        return self._stream

    def forward(self, ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids)
        weights = self._weights() if ids.ndim == 2 and ids.shape[0] == 1 else False
        if not weights:
            return super().forward(ids, state)
        self._check_ids(ids)
        logits, (h,) = run_stream(TANH, ids[0], (np.asarray(state)[:, 0],), *weights)
        return logits[None], h[:, None]

    def stepper(self, state: np.ndarray) -> compiled.Stepper | None:
        """One stream from state (L, 1, H), a token at a time, in place: what sampling runs per token. None without
        the compiled step (numpy runs step() instead)."""
        weights = self._weights()
        if not weights or np.shape(state)[1] != 1:
            return None
        first, layers, head_w, head_b = weights
        return compiled.Stepper([layer[4] for layer in layers], first, head_w, head_b, (np.asarray(state)[:, 0],))

    def trainer(self, cfg: TrainConfig):
        raise TypeError(f"this {self.config.model_type} was loaded for inference; load it with rnnlm.load(folder) "
                        "to train it")
