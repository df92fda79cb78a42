"""Inside the models: how far back gradients reach, what a prediction looked at, which units track which
features of the text, and how often the gates saturate. Numpy only, on the weights the models run with.

    gradient_flow(model, text)        ||d log p(target) / d input k steps back||, k = 1..200, averaged over targets
    influence(model, text, position)  gradient x input of every earlier character on one prediction, top-5 next
    neuron_ranking(model, text)       units (any layer; RNN h, LSTM c and h, GRU h) most correlated with features
    gate_saturation(model, text)      per unit, the share of steps each gate is < 0.1 and > 0.9 (LSTM, GRU)

"Input" means the vector the first layer reads: the RNN's one-hot character (V wide), the LSTM's and GRU's
embedding (embed_size wide). The backward passes are written out here for one stream of each cell, next to
its forward (the same equations as rnnlm.models.numpy_rnn and numpy_cells), and the tests check them against
finite differences and torch autograd. All targets of a passage share one forward trajectory, so one backward
sweep carries a (targets, H) adjoint: every step's Jacobian products become one small matrix product.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

import numpy as np

from .models import MODELS, runner
from .models.numpy_cells import CellLM
from .models.numpy_rnn import NumpyRNN
from .score import log_softmax

DEPTH = 200  # k = 1..DEPTH characters back in the gradient-flow curve
TARGETS = 12  # consecutive targets averaged per curve (see gradient_flow and benchmarks/bench_inspect.py)
DECAY = 1e-3  # the decay distance: where a curve falls below DECAY times its value at k = 1
MAX_PASSAGE = 1000  # characters of a passage the views read; longer ones are cut with a note
MAX_SAMPLE = 16_000  # characters of held-out text the neuron and gate statistics read
SAMPLE_STREAMS = 32  # the sample runs as this many parallel streams: one weight read serves 32 characters
WARMUP = 50  # steps at the start of each stream left out of the statistics (the state starts at zero)
TEMPERATURES = (0.5, 1.0, 1.5)
LOW, HIGH = 0.1, 0.9  # a gate below LOW is left-saturated (closed), above HIGH right-saturated (open)


class NoHiddenState(ValueError):
    """The model has no recurrent state to look inside (the n-gram baseline)."""


# --- the three cells: a forward that keeps what the backward needs, and one backward step -----------------


def _sig(a):
    return 0.5 * np.tanh(0.5 * a) + 0.5  # sigmoid without overflow warnings


class _RNN:
    """h_t = tanh(x_t Wxh + h_{t-1} Whh + bh) per layer; layer 0 reads a one-hot x_t."""

    state_names = ("h",)
    gate_names: tuple = ()

    def __init__(self, model: NumpyRNN, dtype):
        self.p = {k: v.astype(dtype) for k, v in model.params.items()}
        self.L, self.H, self.dtype = model.config.num_layers, model.config.hidden_size, dtype
        self.input_width = model.config.vocab_size

    def inputs(self, ids):
        """The first layer's input vectors of these ids: one-hot rows (n, V)."""
        return np.eye(self.input_width, dtype=self.dtype)[ids]

    def forward(self, ids: np.ndarray, state=None):
        """ids (T, B) -> logits (T, B, V) and the tape: per layer {"h": (T+1, B, H)}, index 0 the state before
        (zero, or state: per layer a tuple of (B, H) arrays, as final() gives)."""
        T, B = ids.shape
        tape, x = [], None
        for l in range(self.L):
            pre = (self.p["Wxh.0"][ids] if l == 0 else x @ self.p[f"Wxh.{l}"]) + self.p[f"bh.{l}"]  # (T, B, H)
            h = np.zeros((T + 1, B, self.H), dtype=self.dtype)
            if state is not None:
                h[0] = state[l][0]
            for t in range(T):
                h[t + 1] = np.tanh(h[t] @ self.p[f"Whh.{l}"] + pre[t])
            tape.append({"h": h})
            x = h[1:]
        return x @ self.p["Why"] + self.p["by"], tape

    def head(self):
        return self.p["Why"].T  # (V, H): dlogits @ head = dh_top

    def final(self, tape):
        """The state after the last step of a tape, to continue from."""
        return [tuple(layer[n][-1] for n in self.state_names) for layer in tape]

    def back(self, tape, t, adj, s, dx):
        """Step t backward for adjoint columns s: adj[l] = [dh (H, J)] from step t+1 in, to step t-1 out; returns
        the gradient for the first layer's input at t, (input width, J). Adjoints are stored transposed, (H, J):
        a weight matrix on the left of a few columns is a faster product than a few rows times a weight matrix."""
        for l in reversed(range(self.L)):
            dh = adj[l][0][:, s] + dx if dx is not None else adj[l][0][:, s]
            da = dh * (1 - tape[l]["h"][t + 1, 0, :, None] ** 2)  # (H, J) through tanh
            adj[l][0][:, s] = self.p[f"Whh.{l}"] @ da  # to h_{t-1}
            dx = self.p[f"Wxh.{l}"] @ da  # to this layer's input: the layer below, or the one-hot
        return dx

    def vectors(self, tape):
        return {f"layer {l + 1} h": tape[l]["h"][1:] for l in range(self.L)}

    def gates(self, tape):
        return {}


class _Cell:
    """The LSTM and GRU of numpy_cells, weights named as torch's state_dict; layer 0 reads the embedding."""

    def __init__(self, model: CellLM, dtype):
        self.p = {k: v.astype(dtype) for k, v in model.params.items()}
        c = model.config
        self.L, self.H, self.dtype, self.input_width = c.num_layers, c.hidden_size, dtype, c.embed_size

    def inputs(self, ids):
        return self.p["embed.weight"][ids]  # (n, E)

    def w(self, name, l):
        return self.p[f"rnn.{name}_l{l}"]

    def wT(self, name, l):
        """A weight transposed and contiguous, kept: the backward multiplies by it at every step."""
        key = f"{name}_l{l}.T"
        if key not in self.p:
            self.p[key] = np.ascontiguousarray(self.w(name, l).T)
        return self.p[key]

    def forward(self, ids, state=None):
        T, B = ids.shape
        x, tape = self.p["embed.weight"][ids], []  # (T, B, E)
        for l in range(self.L):
            gi = x @ self.w("weight_ih", l).T + self.w("bias_ih", l)  # (T, B, G) input part, all steps at once
            layer = self.run(gi, self.w("weight_hh", l), self.w("bias_hh", l), T, B, state and state[l])
            tape.append(layer)
            x = layer["h"][1:]
        return x @ self.p["head.weight"].T + self.p["head.bias"], tape

    def head(self):
        return self.p["head.weight"]  # (V, H)

    final = _RNN.final


class _LSTM(_Cell):
    state_names = ("h", "c")
    gate_names = ("input", "forget", "output")

    def run(self, gi, w_hh, b_hh, T, B, init=None):
        H = self.H
        z = lambda: np.zeros((T + 1, B, H), dtype=self.dtype)  # noqa: E731
        h, c, i, f, g, o = z(), z(), z(), z(), z(), z()
        if init:
            h[0], c[0] = init
        for t in range(T):
            a = gi[t] + h[t] @ w_hh.T + b_hh  # (B, 4H) gates i, f, g, o
            i[t + 1], f[t + 1], o[t + 1] = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 3 * H:])
            g[t + 1] = np.tanh(a[:, 2 * H:3 * H])
            c[t + 1] = f[t + 1] * c[t] + i[t + 1] * g[t + 1]
            h[t + 1] = o[t + 1] * np.tanh(c[t + 1])
        return dict(h=h, c=c, i=i, f=f, g=g, o=o)

    def back(self, tape, t, adj, s, dx):
        H = self.H
        for l in reversed(range(self.L)):
            k = tape[l]
            i, f, g, o, c = (k[n][t + 1, 0, :, None] for n in "ifgoc")  # (H, 1) each
            cp = k["c"][t, 0, :, None]
            dh = adj[l][0][:, s] + dx if dx is not None else adj[l][0][:, s]  # (H, J)
            tc = np.tanh(c)
            dc = adj[l][1][:, s] + dh * o * (1 - tc ** 2)  # h = o tanh(c), plus the cell's own path from t+1
            da = np.empty((4 * H, dh.shape[1]), dtype=dh.dtype)  # (4H, J) pre-activations of i, f, g, o
            da[:H], da[H:2 * H] = dc * g * i * (1 - i), dc * cp * f * (1 - f)
            da[2 * H:3 * H], da[3 * H:] = dc * i * (1 - g ** 2), dh * tc * o * (1 - o)
            adj[l][0][:, s] = self.wT("weight_hh", l) @ da  # to h_{t-1}
            adj[l][1][:, s] = dc * f  # to c_{t-1}: the additive path, scaled only by the forget gate
            dx = self.wT("weight_ih", l) @ da  # to the layer below, or the embedding
        return dx

    def vectors(self, tape):
        return {f"layer {l + 1} {n}": tape[l][n][1:] for l in range(self.L) for n in ("c", "h")}

    def gates(self, tape):
        return {f"layer {l + 1} {n}": tape[l][n[0]][1:] for l in range(self.L) for n in self.gate_names}


class _GRU(_Cell):
    state_names = ("h",)
    gate_names = ("reset", "update")

    def run(self, gi, w_hh, b_hh, T, B, init=None):
        H = self.H
        z = lambda: np.zeros((T + 1, B, H), dtype=self.dtype)  # noqa: E731
        h, r, u, n, hn = z(), z(), z(), z(), z()
        if init:
            (h[0],) = init
        for t in range(T):
            gh = h[t] @ w_hh.T + b_hh  # (B, 3H)
            r[t + 1] = _sig(gi[t][:, :H] + gh[:, :H])
            u[t + 1] = _sig(gi[t][:, H:2 * H] + gh[:, H:2 * H])
            hn[t + 1] = gh[:, 2 * H:]  # W_hn h + b_hn, which the reset gate scales
            n[t + 1] = np.tanh(gi[t][:, 2 * H:] + r[t + 1] * hn[t + 1])
            h[t + 1] = (1 - u[t + 1]) * n[t + 1] + u[t + 1] * h[t]
        return dict(h=h, r=r, u=u, n=n, hn=hn)

    def back(self, tape, t, adj, s, dx):
        H = self.H
        for l in reversed(range(self.L)):
            r, u, n, hn, hp = (tape[l][k][i, 0, :, None] for k, i in
                               (("r", t + 1), ("u", t + 1), ("n", t + 1), ("hn", t + 1), ("h", t)))  # (H, 1)
            dh = adj[l][0][:, s] + dx if dx is not None else adj[l][0][:, s]  # (H, J)
            da = np.empty((3 * H, dh.shape[1]), dtype=dh.dtype)  # (3H, J) r, z, n pre-activations (input side)
            da[2 * H:] = dh * (1 - u) * (1 - n ** 2)  # through n's tanh
            da[:H] = da[2 * H:] * hn * r * (1 - r)
            da[H:2 * H] = dh * (hp - n) * u * (1 - u)
            dx = self.wT("weight_ih", l) @ da  # to the layer below, or the embedding
            da[2 * H:] *= r  # the recurrent side of n is scaled by the reset gate
            adj[l][0][:, s] = dh * u + self.wT("weight_hh", l) @ da  # to h_{t-1}: z h_{t-1} directly, and the gates
        return dx

    def vectors(self, tape):
        return {f"layer {l + 1} h": tape[l]["h"][1:] for l in range(self.L)}

    def gates(self, tape):
        return {f"layer {l + 1} {n}": tape[l][n[0]][1:] for l in range(self.L) for n in self.gate_names}


_CELLS = {"lstm": _LSTM, "gru": _GRU}


def unfold(model, dtype=np.float32):
    """The model's equations for this module: a _RNN, _LSTM or _GRU on its weights; NoHiddenState for others."""
    name = getattr(model, "config", None) and model.config.model_type
    if name in MODELS and MODELS[name].baseline:
        raise NoHiddenState(f"the {MODELS[name].label} has no hidden state: it predicts from the last characters only")
    run = runner(model)
    if isinstance(run, NumpyRNN):
        return _RNN(run, dtype)
    if isinstance(run, CellLM) and run.cell.name in _CELLS:
        return _CELLS[run.cell.name](run, dtype)
    raise NoHiddenState(f"no inspector for a {name} model: rnnlm.inspect knows the RNN, LSTM and GRU")


def inspectable(model) -> bool:
    """Whether this module can look inside model (it has a hidden state and a known cell)."""
    try:
        unfold(model)
    except NoHiddenState:
        return False
    return True


def has_gates(model) -> bool:
    """Whether model has gates to count (the LSTM and GRU; not the vanilla RNN)."""
    return inspectable(model) and bool(unfold(model).gate_names)


# --- gradients -----------------------------------------------------------------------------------------


def input_gradients(net, ids: np.ndarray, targets, depth: int, tape=None, logits=None) -> np.ndarray:
    """d log p(ids[t + 1]) / d input at t - k + 1 for each target t and k = 1..depth: (J, depth, input width).

    Entries before the start of the text stay zero. One backward sweep from the last target down carries
    the adjoints of every target whose window covers the current step (rows lo:hi of the sorted targets).
    """
    targets = np.sort(np.asarray(targets, dtype=np.int64))
    if logits is None:
        logits, tape = net.forward(ids[:, None])
    J = len(targets)
    lp = log_softmax(logits[targets, 0].astype(np.float64))  # (J, V)
    dlogits = -np.exp(lp)
    dlogits[np.arange(J), ids[targets + 1]] += 1  # d log p(y) / d logits = onehot(y) - p
    seed = (dlogits @ net.head()).T.astype(net.dtype)  # (H, J) into the top layer's h at each target's step
    adj = [[np.zeros((net.H, J), dtype=net.dtype) for _ in net.state_names] for _ in range(net.L)]  # transposed
    out = np.zeros((J, depth, net.input_width), dtype=net.dtype)
    for t in range(int(targets[-1]), max(int(targets[0]) - depth + 1, 0) - 1, -1):
        lo, hi = np.searchsorted(targets, t, "left"), np.searchsorted(targets, t + depth - 1, "right")
        fresh = targets == t
        adj[-1][0][:, fresh] += seed[:, fresh]
        dx = net.back(tape, t, adj, slice(lo, hi), None)  # (input width, hi - lo)
        out[np.arange(lo, hi), targets[lo:hi] - t] = dx.T
    return out


def decay_distance(curve: np.ndarray, factor: float = DECAY) -> int | None:
    """The first k (1-based) where curve[k - 1] < factor * curve[0]; None when it stays above within the curve."""
    below = np.flatnonzero(np.asarray(curve) < factor * curve[0])
    return int(below[0]) + 1 if len(below) else None


@dataclass
class Flow:
    """The gradient-flow curve of one model over one passage."""

    label: str
    input: str  # which input vector the gradient is taken against, in words
    norms: np.ndarray  # (depth,) mean over targets of ||d log p / d input k back||, k = 1..depth
    targets: int
    decay: int | None  # decay_distance(norms)

    def sentence(self) -> str:
        at = f"falls below 1/{1 / DECAY:,.0f} of its k = 1 value at k = {self.decay}" if self.decay else \
            f"stays above 1/{1 / DECAY:,.0f} of its k = 1 value for all {len(self.norms)} steps " \
            f"(at k = {len(self.norms)} it is {self.norms[-1] / self.norms[0]:.1e} of it)"
        return f"{self.label}: the gradient with respect to the {self.input} {at}."


def passage_ids(net_vocab, text: str, notes: list[str]) -> np.ndarray:
    """A passage's known characters, at most MAX_PASSAGE of them, with notes on what was left out."""
    text = text if isinstance(text, str) else ""
    if len(text) > MAX_PASSAGE:
        notes.append(f"The passage has {len(text):,} characters; the views read its first {MAX_PASSAGE:,}.")
        text = text[:MAX_PASSAGE]
    ids, unknown = net_vocab.encode_known(text)
    if unknown:
        from .vocab import describe_unknown

        notes.append(f"Skipped characters the models never saw: {describe_unknown(net_vocab, unknown)}."
                     if net_vocab.kind == "char" else
                     f"Words the models never saw, read as <unk>: {describe_unknown(net_vocab, unknown)}.")
    return ids


def gradient_flow(model, ids: np.ndarray, depth: int = DEPTH, targets: int = TARGETS, dtype=np.float32) -> Flow:
    """The mean gradient-norm curve over the passage's last `targets` targets, each with depth steps behind it.

    The targets are consecutive: one backward sweep of depth + targets steps serves them all, and a sweep costs
    about one read of every recurrent weight per step whatever the number of targets it carries. A passage
    shorter than depth + targets + 1 characters gives a shorter curve; under 3 characters a ValueError.
    """
    net = unfold(model, dtype)
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < 3:
        raise ValueError("the gradient-flow view needs a passage of at least 3 known characters")
    targets = max(1, min(targets, (len(ids) - 1) // 4))  # a short passage keeps most of its length for the depth
    depth = min(depth, len(ids) - targets)
    where = np.arange(len(ids) - 1 - targets, len(ids) - 1)  # predicting the last `targets` characters
    logits, tape = forward(net, model, ids)
    grads = input_gradients(net, ids, where, depth, tape, logits)  # (J, depth, D)
    norms = np.linalg.norm(grads.astype(np.float64), axis=2).mean(axis=0)
    what = "one-hot input character" if isinstance(net, _RNN) else f"{net.input_width}-wide input embedding"
    return Flow(MODELS[model.config.model_type].label, what, norms, len(where), decay_distance(norms))


_TAPES: dict = {}  # (model id, dtype, ids) -> (model ref, logits, tape) of the last few passages: views share them


def forward(net, model, ids: np.ndarray):
    """net.forward over one stream of ids, kept for the next view of the same passage by the same model."""
    key = (id(model), np.dtype(net.dtype).str, ids.tobytes())
    kept = _TAPES.get(key)
    if kept is None or kept[0]() is not model:  # a weak reference: a new model at a reused id is not the old one
        while len(_TAPES) >= 6:
            _TAPES.pop(next(iter(_TAPES)))
        kept = _TAPES[key] = (weakref.ref(model), *net.forward(ids[:, None]))
    return kept[1:]


@dataclass
class Influence:
    """What one prediction looked at: gradient x input of every character up to it, and the next-char top 5."""

    label: str
    position: int  # the prediction made after reading ids[position]
    target: int  # the id whose log-probability is differentiated
    scores: np.ndarray  # (position + 1,) gradient x input per character read
    top: dict = field(default_factory=dict)  # temperature -> [(id, probability)] the five likeliest

    def share_recent(self, n: int = 10) -> float:
        """Share of the total |gradient x input| on the last n characters read."""
        a = np.abs(self.scores)
        return float(a[-n:].sum() / a.sum()) if a.sum() > 0 else 0.0


def influence(model, ids: np.ndarray, position: int, dtype=np.float32) -> Influence:
    """Gradient x input of every character read up to `position` on log p(next character), and the top 5 next
    characters at TEMPERATURES. The next character is the passage's own when there is one, else the likeliest.

    Gradient x input is the first-order change in log p if that character's input vector were set to zero.
    """
    net = unfold(model, dtype)
    ids = np.asarray(ids, dtype=np.int64)
    position = int(np.clip(position, 0, len(ids) - 1))
    logits, tape = forward(net, model, ids)  # steps after position do not change the gradients before it
    last = logits[position, 0].astype(np.float64)
    target = int(ids[position + 1]) if position + 1 < len(ids) else int(np.argmax(last))
    seq = np.append(ids[: position + 1], target)
    grads = input_gradients(net, seq, [position], position + 1, tape, logits)[0, ::-1]  # (position + 1, D) oldest first
    scores = (grads * net.inputs(seq[: position + 1])).sum(axis=1).astype(np.float64)
    top = {}
    for temp in TEMPERATURES:
        p = np.exp(log_softmax(last / temp))
        best = np.argsort(-p)[:5]
        top[temp] = [(int(i), float(p[i])) for i in best]
    return Influence(MODELS[model.config.model_type].label, position, target, scores, top)


# --- neurons and gates over a longer sample --------------------------------------------------------------

NAME_LINE = re.compile(r"^[A-Z][A-Za-z' ]{0,40}:$")  # "ROMEO:", "First Citizen:", "KING RICHARD III:"
FEATURES = {  # name -> what it measures at each character, in words
    "inside quotes": 'between an opening and a closing double quote (" or “ ”)',
    "inside brackets": "inside (), [] or {}",
    "line position": "characters since the last newline",
    "speaker name line": "on a line that is a speaker's name (e.g. ROMEO:)",
    "position in word": "letters since the word began (0 outside words)",
}


def text_features(text: str) -> dict[str, np.ndarray]:
    """Each FEATURES value at every character of text (the character just read): (N,) float arrays."""
    N = len(text)
    quote, bracket, line, speaker, word = (np.zeros(N) for _ in range(5))
    inside, depth, col, run = False, 0, 0, 0
    names = set()
    for m in re.finditer(r"[^\n]*\n?", text):  # mark every character of name lines, newline included
        if NAME_LINE.match(m.group().rstrip("\n")):
            names.update(range(m.start(), m.end()))
    for t, ch in enumerate(text):
        if ch in '"“”':
            inside = (not inside) if ch == '"' else ch == "“"
        depth = max(depth + (ch in "([{") - (ch in ")]}"), 0)
        col = 0 if ch == "\n" else col + 1
        run = run + 1 if ch.isalpha() or (ch == "'" and run) else 0
        quote[t], bracket[t], line[t], speaker[t], word[t] = inside, depth > 0, col, t in names, run
    return {"inside quotes": quote, "inside brackets": bracket, "line position": line, "speaker name line": speaker,
            "position in word": word}


class Correlator:
    """Pearson correlations of H units with F features, from running sums: a long text in pieces, little memory."""

    def __init__(self, H: int, F: int):
        self.n, self.sa, self.saa = 0, np.zeros(H), np.zeros(H)
        self.sf, self.sff, self.saf = np.zeros(F), np.zeros(F), np.zeros((F, H))

    def add(self, acts: np.ndarray, feats: np.ndarray) -> None:
        """acts (N, H), feats (N, F) at the same N characters."""
        a, f = np.asarray(acts, dtype=np.float64), np.asarray(feats, dtype=np.float64)
        self.n += len(a)
        self.sa += a.sum(axis=0)
        self.saa += (a * a).sum(axis=0)
        self.sf += f.sum(axis=0)
        self.sff += (f * f).sum(axis=0)
        self.saf += f.T @ a

    def r(self) -> np.ndarray:
        """(F, H) correlations; NaN where a unit or a feature is constant."""
        n = max(self.n, 1)
        ma, mf = self.sa / n, self.sf / n
        cov = self.saf / n - mf[:, None] * ma[None, :]
        va, vf = np.maximum(self.saa / n - ma ** 2, 0), np.maximum(self.sff / n - mf ** 2, 0)
        denom = np.sqrt(vf[:, None] * va[None, :])
        ok = denom > 1e-12 * (1 + np.abs(mf)[:, None]) * (1 + np.abs(ma)[None, :])
        return np.where(ok, cov / np.where(ok, denom, 1), np.nan)


def correlations_1d(a: np.ndarray, f: np.ndarray) -> float:
    """Pearson correlation of two (N,) arrays; NaN when either is constant."""
    c = Correlator(1, 1)
    c.add(np.asarray(a, dtype=np.float64)[:, None], np.asarray(f, dtype=np.float64)[:, None])
    return float(c.r()[0, 0])


@dataclass
class Unit:
    vector: str  # "layer 2 c"
    index: int
    r: float  # correlation with the feature

    def name(self) -> str:
        return f"{self.vector} #{self.index}"


def rank(correlators: dict[str, Correlator], features: list[str], top: int = 5) -> dict[str, list[Unit]]:
    """feature -> the `top` units over every state vector with the largest |correlation|; [] for a constant feature."""
    rs = {vec: c.r() for vec, c in correlators.items()}
    ranked = {}
    for k, name in enumerate(features):
        found = [Unit(vec, int(i), float(r[k, i])) for vec, r in rs.items() for i in np.flatnonzero(np.isfinite(r[k]))]
        ranked[name] = sorted(found, key=lambda u: (-abs(u.r), u.vector, u.index))[:top]
    return ranked


def rank_units(acts: dict[str, np.ndarray], features: dict[str, np.ndarray], top: int = 5) -> dict[str, list[Unit]]:
    """rank() over activations in memory: acts vector -> (N, H), features name -> (N,)."""
    F = np.stack(list(features.values()), axis=1)  # (N, F)
    correlators = {}
    for vec, a in acts.items():
        correlators[vec] = Correlator(a.shape[1], F.shape[1])
        correlators[vec].add(a, F)
    return rank(correlators, list(features), top)


def saturation(gates: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """gate name -> (share of steps below LOW, share above HIGH), per unit: each (H,). gates are (N, H)."""
    return {name: ((g < LOW).mean(axis=0), (g > HIGH).mean(axis=0)) for name, g in gates.items()}


@dataclass
class Sample:
    """What one model's states and gates do over a held-out sample: the neuron and gate views read this."""

    label: str
    chars: int  # characters in the statistics
    ranked: dict  # feature -> [Unit], rank()
    saturation: dict  # gate name -> (left (H,), right (H,)) shares; {} for the RNN
    constant: list  # features that never change on the sample (no quotes in it, say): nothing to rank


def run_sample(model, text: str, streams: int = SAMPLE_STREAMS, top: int = 5, chunk: int = 100) -> Sample:
    """Run text (at most MAX_SAMPLE characters) as `streams` parallel streams, `chunk` steps at a time, and keep
    running sums only; the first WARMUP steps of each stream, read from a zero state, are left out."""
    net = unfold(model)
    vocab = runner(model).vocab
    ids, _ = vocab.encode_known(text[:MAX_SAMPLE])
    streams = max(1, min(streams, len(ids) // (4 * WARMUP)))
    T = len(ids) // streams
    if T <= WARMUP + 1:
        raise ValueError(f"the sample needs more than {2 * WARMUP} known characters; it has {len(ids)}")
    grid = ids[: T * streams].reshape(streams, T).T  # (T, B): stream b reads characters b*T .. (b+1)*T
    # the features are of characters (quotes, line position, ...): a word model gets its gate statistics only
    feats = text_features(vocab.decode(ids[: T * streams])) if vocab.kind == "char" else {}
    names = list(feats)
    fgrid = (np.stack([feats[k] for k in names], axis=1) if names else np.zeros((T * streams, 0)))
    fgrid = fgrid.reshape(streams, T, -1).transpose(1, 0, 2)  # (T, B, F)
    corr, counts, state, n = {}, {}, None, 0
    for start in range(0, T, chunk):
        _, tape = net.forward(grid[start : start + chunk], state)
        state = net.final(tape)
        skip = max(0, WARMUP - start)
        f = fgrid[start + skip : start + chunk]
        f = f.reshape(f.shape[0] * f.shape[1], len(names))  # (steps * B, F); F may be 0 (a word model)
        n += len(f)
        for vec, a in net.vectors(tape).items():
            corr.setdefault(vec, Correlator(net.H, len(names))).add(a[skip:].reshape(-1, net.H), f)
        for gate, g in net.gates(tape).items():
            g = g[skip:].reshape(-1, net.H)
            c = counts.setdefault(gate, [np.zeros(net.H), np.zeros(net.H)])
            c[0] += (g < LOW).sum(axis=0)
            c[1] += (g > HIGH).sum(axis=0)
    constant = [k for k in names if np.ptp(feats[k]) == 0]
    return Sample(MODELS[model.config.model_type].label, n, rank(corr, names, top),
                  {gate: (lo / n, hi / n) for gate, (lo, hi) in counts.items()}, constant)


def unit_activations(model, ids: np.ndarray, vector: str, index: int) -> np.ndarray:
    """One unit's value after each character of a passage: (N,)."""
    net = unfold(model)
    _, tape = forward(net, model, np.asarray(ids, dtype=np.int64))
    return net.vectors(tape)[vector][:, 0, index].astype(np.float64)


def long_memory(sat: dict[str, tuple[np.ndarray, np.ndarray]], gate: str, share: float = 0.5) -> dict[str, np.ndarray]:
    """Per layer, the units whose `gate` ("forget", "update") is open (> HIGH) at least `share` of the time."""
    return {name: np.flatnonzero(right >= share) for name, (_, right) in sat.items() if name.endswith(gate)}
