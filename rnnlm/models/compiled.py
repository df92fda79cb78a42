"""The LSTM, GRU and tanh RNN layer loops of layers.c, compiled on first use with the machine's C compiler,
through ctypes.

One stream's step reads the whole recurrent matrix for a single token, and in numpy it is about ten calls
(the product, then the gates), each taking and handing back Python's lock. Compiled, a layer runs a whole
chunk of tokens in one call that holds no lock, so run_stream's two layer threads really run side by side,
and the matrix stays in the precision the checkpoint stored: float16 weights (the bundled sets store
them where that moves validation loss by under 0.002 nats/token) are read as float16, half the bytes,
giving the same numbers. Measured per layer step of a 2x512 LSTM on a core with 2 MB of L2 (benchmarks/
bench_score.py has the whole picture): numpy 181 us, compiled float32 106 to 133 us, compiled float16 50 to
70 us (80 to 90 us when every step read the matrix in the same order; layers.c says why).

No compiler (the `cc` on PATH, or $CC), a failed build or RNNLM_COMPILED=0: everything runs in numpy as
before, with the same results to float rounding. The library is built once per machine into
$RNNLM_CACHE (default ~/.cache/rnnlm) under a name that carries the source's and the CPU's fingerprint,
written to a temporary name and moved into place, so a build killed half-way leaves nothing that loads.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("layers.c")
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-std=c11")
BUILD_SECONDS = 120  # a compiler that takes longer is given up on (numpy runs instead)

_reason = ""  # why there is no library, once library() has looked


def cache_dir() -> Path:
    return Path(os.environ.get("RNNLM_CACHE") or Path.home() / ".cache" / "rnnlm") / "compiled"


def _cpu_fingerprint() -> str:
    """What -march=native depends on: the CPU's model and feature flags (a shared home may see several CPUs)."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
        lines = [l for l in info.splitlines() if l.startswith(("model name", "flags", "Features", "CPU part"))]
        text = "\n".join(dict.fromkeys(lines))
    except OSError:
        text = ""
    return text + platform.machine() + platform.processor()


def _compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def _build(cc: str, target: Path) -> None:
    """Compile SOURCE into target atomically: a temporary file in target's folder, then os.replace."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        for flags in (FLAGS, tuple(f for f in FLAGS if f != "-march=native")):  # some compilers lack -march=native
            done = subprocess.run([cc, *flags, "-o", tmp, str(SOURCE)], capture_output=True, text=True,
                                  timeout=BUILD_SECONDS)
            if done.returncode == 0:
                os.replace(tmp, target)
                return
        raise RuntimeError(f"{cc} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    finally:
        Path(tmp).unlink(missing_ok=True)


# each: (T, H, gi, w, half, b_rec, h, c, out, scratch) -> 0
LAYERS = ("rnnlm_lstm_layer", "rnnlm_gru_layer", "rnnlm_rnn_layer")


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    for name in LAYERS:
        getattr(lib, name).argtypes = [i64, i64, p, p, i32, p, p, p, p, p]
        getattr(lib, name).restype = i32
    lib.rnnlm_gates_in.argtypes = [i64, i64, p, i32, p, p, p, p]  # G, K, w, half, x, scale, b, y
    lib.rnnlm_gates_in.restype = i32
    return lib


def library_path(cc: str) -> Path:
    """Where the library built by compiler cc from this source for this CPU lives."""
    key = hashlib.sha256(SOURCE.read_bytes() + repr((cc, FLAGS)).encode() + _cpu_fingerprint().encode())
    return cache_dir() / f"layers-{key.hexdigest()[:16]}{'.dll' if os.name == 'nt' else '.so'}"


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled layers (built on first use), or None: then reason() says why and numpy runs instead."""
    global _reason
    if os.environ.get("RNNLM_COMPILED", "1") == "0":
        _reason = "RNNLM_COMPILED=0"
        return None
    cc = _compiler()
    if cc is None:
        _reason = "no C compiler (cc, gcc or clang on PATH, or $CC)"
        return None
    target = library_path(cc)
    try:
        if not target.exists():
            _build(cc, target)
        try:
            return _bind(ctypes.CDLL(str(target)))
        except (OSError, AttributeError):  # a damaged or foreign file under our name: build it again, once
            _build(cc, target)
            return _bind(ctypes.CDLL(str(target)))
    except (OSError, RuntimeError, subprocess.SubprocessError, AttributeError) as e:
        _reason = f"building or loading {target} failed: {e}"
        return None


def reason() -> str:
    """Why library() is None ("" when it is not, or before it was asked)."""
    return _reason


def step_weights(w: np.ndarray) -> np.ndarray:
    """A weight matrix as the compiled step reads it: float16 when every weight is a float16 (the same numbers
    in half the bytes), else float32; contiguous rows."""
    half = w.astype(np.float16, order="C")
    if np.array_equal(half.astype(np.float32), w):
        return half
    return np.ascontiguousarray(w, dtype=np.float32)


def _ptr(a: np.ndarray | None) -> int | None:
    return None if a is None else a.ctypes.data


class Layer:
    """One trained layer as the compiled step runs it: weight_ih and weight_hh as trained (step_weights), the
    factors of the cell's prepared input rows, the prepared input bias and the recurrent bias (the GRU's b_hn).

    run() takes the prepared input gates of T tokens; gates_in() computes them for one token (sampling), from
    weight_ih in its stored precision, where a one-row numpy product would read float32 weights."""

    def __init__(self, function: str, w_ih: np.ndarray, w_hh: np.ndarray, scale: np.ndarray, b_in: np.ndarray,
                 b_rec: np.ndarray | None):
        self.function = function
        self.w_ih, self.w_hh = step_weights(w_ih), step_weights(w_hh)
        self.scale = np.ascontiguousarray(scale, dtype=np.float32)
        self.b_in = np.ascontiguousarray(b_in, dtype=np.float32)
        self.b_rec = None if b_rec is None else np.ascontiguousarray(b_rec, dtype=np.float32)
        (self.G, self.H), self.K = self.w_hh.shape, self.w_ih.shape[1]
        if self.w_ih.shape[0] != self.G or self.scale.shape != (self.G,) or self.b_in.shape != (self.G,) or (
                self.b_rec is not None and self.b_rec.shape != (self.H,)):
            raise ValueError(f"{function}: weights {self.w_ih.shape} and {self.w_hh.shape} do not fit together")
        # the functions and the arrays' addresses, found once (an address costs about a microsecond, and a
        # token's step needs several)
        self._run, self._gates_in = getattr(library(), function), library().rnnlm_gates_in
        self._w_ih, self._w_hh, self._scale, self._b_in, self._b_rec = (
            _ptr(self.w_ih), _ptr(self.w_hh), _ptr(self.scale), _ptr(self.b_in), _ptr(self.b_rec))

    def gates_in(self, x: np.ndarray) -> np.ndarray:
        """The prepared input gates (1, G) of one token whose input (K,) is x."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape != (self.K,):
            raise ValueError(f"gates_in: an input of {self.K} numbers expected, got shape {x.shape}")
        y = np.empty((1, self.G), dtype=np.float32)
        self._gates_in(self.G, self.K, self._w_ih, int(self.w_ih.dtype == np.float16), _ptr(x),
                       self._scale, self._b_in, _ptr(y))
        return y

    def run(self, gi_all: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
        """One stream through the layer, as the cell's numpy layer: gi_all (T, G) prepared by the cell, state
        a tuple of (H,) arrays -> outputs (T, H), new state."""
        gi_all = np.ascontiguousarray(gi_all, dtype=np.float32)
        T, H = len(gi_all), self.H
        state = tuple(np.array(s, dtype=np.float32) for s in state)  # (H,) each; the C code writes them in place
        if gi_all.shape != (T, self.G) or any(s.shape != (H,) for s in state):
            raise ValueError(f"{self.function}: gates {gi_all.shape}, weights {self.w_hh.shape}, state "
                             f"{[s.shape for s in state]} do not fit together")
        out = np.empty((T, H), dtype=np.float32)
        scratch = np.empty(self.G, dtype=np.float32)
        h, c = state if len(state) == 2 else (state[0], None)
        self._run(T, H, _ptr(gi_all), self._w_hh, int(self.w_hh.dtype == np.float16), self._b_rec, _ptr(h), _ptr(c),
                  _ptr(out), _ptr(scratch))
        return out, state


class Stepper:
    """One stream through a stack of compiled layers, a token at a time, its state kept in place: what sampling
    runs per token. Each token is a C call per layer (and one for each upper layer's input gates), with every
    array allocated and every address found once: through the general forward(), the same token spends more
    time in Python (copying the state, checking shapes, finding addresses) than the C calls take.

    first (V, G) holds every token's prepared first-layer input gates (numpy_cells.stream_weights), head_w (V, H)
    and head_b (V,) the output layer; state is a tuple of (L, H) arrays, (h, c) or (h,), copied in."""

    def __init__(self, layers: list[Layer], first: np.ndarray, head_w: np.ndarray, head_b: np.ndarray, state: tuple):
        H, G = layers[0].H, layers[0].G
        self.first = np.ascontiguousarray(first, dtype=np.float32)
        self.head_w, self.head_b = head_w, head_b
        self.states = tuple(np.array(s, dtype=np.float32) for s in state)  # (L, H) each, written in place
        L = len(layers)
        if any(l.H != H or l.G != G for l in layers) or self.first.shape[1] != G or any(
                s.shape != (L, H) for s in self.states) or head_w.shape[1] != H:
            raise ValueError(f"Stepper: layers, first {self.first.shape}, head {head_w.shape} and state "
                             f"{[s.shape for s in self.states]} do not fit together")
        self.layers = layers  # kept alive: the calls below hold their arrays' addresses
        self._gi = np.empty((L, G), dtype=np.float32)
        self._out = np.empty((L, H), dtype=np.float32)
        self._scratch = np.empty(G, dtype=np.float32)
        self._first, self._row = _ptr(self.first), G * 4
        rows = lambda a, l: a.ctypes.data + l * a.strides[0]  # noqa: E731 - the address of row l
        h, c = self.states if len(self.states) == 2 else (self.states[0], None)
        self._calls = []
        for l, layer in enumerate(layers):
            gates = None if l == 0 else (layer._gates_in, (layer.G, layer.K, layer._w_ih, int(layer.w_ih.dtype == np.float16),
                                                          rows(h, l - 1), layer._scale, layer._b_in, rows(self._gi, l)))
            run = (layer._run, [1, H, rows(self._gi, l), layer._w_hh, int(layer.w_hh.dtype == np.float16),
                                layer._b_rec, rows(h, l), None if c is None else rows(c, l), rows(self._out, l),
                                _ptr(self._scratch)])
            self._calls.append((gates, run))
        self._top = h[L - 1]

    def step(self, token: int) -> np.ndarray:
        """Read one token: the logits (V,) of the next."""
        if not 0 <= token < len(self.first):
            raise ValueError(f"token ids must be in [0, {len(self.first)}), got {token}")
        (_, (run, args)), *upper = self._calls
        args[2] = self._first + token * self._row  # the first layer's input gates: the token's row of first
        run(*args)
        for (gates_in, gates_args), (run, args) in upper:
            gates_in(*gates_args)
            run(*args)
        logits = self.head_w @ self._top
        logits += self.head_b
        return logits

    def state(self) -> tuple:
        """The state now, as a tuple of (L, 1, H) arrays (the model's state for one stream)."""
        return tuple(s[:, None].copy() for s in self.states)
