"""An n-gram language model over token ids 0..V-1, with interpolated modified Kneser-Ney smoothing.

    p_n(w | h) = (c(hw) - D_n(c(hw))) / c(h.) + gamma(h) p_{n-1}(w | h')      h' = h without its first token
    gamma(h)   = (D_n1 N1(h.) + D_n2 N2(h.) + D_n3+ N3+(h.)) / c(h.)            the mass the discounts freed
    p_0(w)     = 1 / V

c is the raw count at the model's own order and, at lower orders, the continuation count N1+(. hw): how
many distinct tokens come before hw. A context never seen at an order passes the order below through
unchanged. Each order has three discounts, from its count-of-counts n1..n4 (Chen & Goodman 1998):

    Y = n1 / (n1 + 2 n2),   D1 = 1 - 2Y n2/n1,   D2 = 2 - 3Y n3/n2,   D3+ = 3 - 4Y n4/n3

A model of order N predicts from the last N-1 tokens; at the start of a stream, with k < N-1 tokens so
far, it uses the order k+1 distribution, continuation counts and all (as KenLM does for a short query).

Storage (what tensors() returns, every array plain integers, so a model is a safetensors file):

    context{L}.keys   sorted (C_L,) keys of the contexts of L tokens, each id(its last L-1 tokens) * V +
                      its first token, where id() is the index in context{L-1}.keys (the empty context
                      is id 0). Growing a context one token leftwards is one np.searchsorted per order.
    order{n}.offsets  (C_{n-1} + 1,) CSR row starts: the tokens seen after context id c are
    order{n}.tokens   tokens[offsets[c]:offsets[c + 1]], ascending, with their counts in
    order{n}.counts   counts[offsets[c]:offsets[c + 1]]
    order{n}.pruned   (C_{n-1},) the summed counts that pruning dropped after each context; they still
                      count in c(h.), and their discounted mass moves to gamma(h), so nothing leaks
    count_of_counts   (N, 4) n1..n4 per order, taken before pruning; the discounts derive from them

Pruning (prune=k) drops the n-grams of count 1 at orders k and above, then every context left without
entries that no longer kept context ends with. A dropped context backs off with weight 1, as a kept one
whose entries were all pruned would (gamma = pruned / pruned).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from safetensors.numpy import save as safetensors_bytes

from ..config import ModelConfig, TrainConfig
from ..vocab import Vocab, make_vocab

NO_TOKEN = -1  # in a state: no token yet; the context is what comes after the last NO_TOKEN
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # KenLM's --discount_fallback, for an order too sparse to estimate
BLOCK = 1 << 21  # probabilities per dense (P, V) block (16 MB of float64): bounds memory on long texts
FEW = 4  # up to this many positions, forward computes one at a time (sampling steps one stream)


def discounts(count_of_counts: np.ndarray) -> np.ndarray:
    """(N, 3) discounts D1, D2, D3+ per order from its count-of-counts (N, 4) n1..n4.

    An order whose n1, n2 or n3 is zero, or whose estimate falls outside 0 < D_k <= k (tiny corpora),
    takes FALLBACK_DISCOUNTS instead: D_k <= k keeps every discounted count non-negative and D_k > 0
    keeps every token's probability above zero.
    """
    coc = np.asarray(count_of_counts, dtype=np.float64).reshape(-1, 4)
    out = np.empty((len(coc), 3))
    for i, (n1, n2, n3, n4) in enumerate(coc):
        out[i] = FALLBACK_DISCOUNTS
        if min(n1, n2, n3) > 0:
            y = n1 / (n1 + 2 * n2)
            d = np.array([1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3])
            if np.all((d > 0) & (d <= np.array([1.0, 2.0, 3.0]))):
                out[i] = d
    return out


def ngram_config(vocab: Vocab | str, order: int, prune: int = 0) -> ModelConfig:
    """A ModelConfig for an n-gram of this order over vocab (a Vocab or its sorted characters); options
    hold the order, which the model reads, and prune, a record of how its counts were cut."""
    chars = vocab.chars if isinstance(vocab, Vocab) else str(vocab)
    return ModelConfig(model_type="ngram", vocab=chars, options={"order": int(order), "prune": int(prune)})


def _compact(a: np.ndarray) -> np.ndarray:
    """Non-negative integers in the smallest unsigned dtype that holds them (int64 past 32 bits)."""
    top = int(a.max()) if a.size else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return a.astype(dtype)
    return a.astype(np.int64)


# --- counting ----------------------------------------------------------------------------------


class NGramCounts:
    """Every n-gram of a token sequence up to max_order, counted once with whole-array sorts.

    Models of any order up to max_order, pruned or not, are cut from one NGramCounts (tensors()), which is
    how choose_order tries twelve orders for the price of one count.
    """

    def __init__(self, ids: np.ndarray, max_order: int, vocab_size: int):
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if max_order < 1:
            raise ValueError(f"order must be at least 1, got {max_order}")
        if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")
        V, T = vocab_size, len(ids)
        self.max_order, self.vocab_size = max_order, V
        self.entries = []  # per order n: (rows, tokens, raw counts, continuation counts) sorted by (row, token)
        self.contexts = []  # per length L = 1..max_order: the sorted context{L}.keys of every L-token string
        prev = np.zeros(T + 1, dtype=np.int64)  # id of the empty string at each position 0..T
        for n in range(1, max_order + 1):
            m = max(T - n + 1, 0)  # n-grams in the sequence
            # The n-grams at 0..m-1 as (id of their last n-1 tokens, first token): context{n}'s keys, each
            # position's id among them, and how often each occurs.
            strings, ids_n, raw = np.unique(prev[1 : m + 1] * V + ids[:m], return_inverse=True, return_counts=True)
            # The same n-grams as (id of their first n-1 tokens, last token), sorted: the order-n entries.
            where = np.empty(len(strings), dtype=np.int64)
            where[ids_n] = np.arange(m)  # a position of each
            keys = prev[where] * V + ids[where + n - 1]
            where = np.argsort(keys)  # now: the context{n} id of each entry
            keys = keys[where]
            if n > 1:  # order n-1's continuation counts: distinct left extensions of each (n-1)-gram
                rows, tokens, raw_1, at = self.entries[-1]
                left = np.bincount(strings // V, minlength=len(self.contexts[-1]))
                self.entries[-1] = (rows, tokens, raw_1, left[at].astype(np.int32))
            # The last slot becomes the continuation counts next round.
            self.entries.append(((keys // V).astype(np.int32), (keys % V).astype(np.int32),
                                 raw[where].astype(np.int32), where))
            self.contexts.append(strings)
            prev = ids_n.astype(np.int64)
        rows, tokens, raw, _ = self.entries[-1]
        self.entries[-1] = (rows, tokens, raw, None)  # the top order's continuation counts are never used

    def tensors(self, order: int, prune: int = 0) -> dict[str, np.ndarray]:
        """The tensors of an order-`order` model: raw counts at the top, continuation counts below; with
        prune=k, n-grams of count 1 at orders k and above are dropped (see the module docstring)."""
        if not 1 <= order <= self.max_order:
            raise ValueError(f"order must be in 1..{self.max_order}, got {order}")
        V = self.vocab_size
        levels, coc = [], np.zeros((order, 4), dtype=np.int64)
        for n in range(1, order + 1):
            rows, tokens, raw, cont = self.entries[n - 1]
            counts = raw if n == order else cont
            seen = counts > 0  # an n-gram seen only at the very start has no left extension
            rows, tokens, counts = rows[seen], tokens[seen], counts[seen]
            coc[n - 1] = [np.count_nonzero(counts == k) for k in (1, 2, 3, 4)]
            num_contexts = 1 if n == 1 else len(self.contexts[n - 2])
            pruned = np.zeros(num_contexts, dtype=np.int64)
            if prune and n >= prune:
                drop = counts == 1
                pruned = np.bincount(rows[drop], minlength=num_contexts)  # each dropped count is 1
                rows, tokens, counts = rows[~drop], tokens[~drop], counts[~drop]
            levels.append([rows, tokens, counts, pruned])

        # Keep a context of L tokens if order L+1 has entries after it, or a longer kept context ends with it
        # (lookups reach a context through all its suffixes). Then renumber the kept ones, shortest first.
        keep = {}
        for L in range(order - 1, 0, -1):
            k = np.zeros(len(self.contexts[L - 1]), dtype=bool)
            k[levels[L][0]] = True
            if L + 1 in keep:
                k[self.contexts[L][keep[L + 1]] // V] = True
            keep[L] = k
        out = {"count_of_counts": coc}
        new_id = np.zeros(1, dtype=np.int64)  # the empty context keeps id 0
        for L in range(1, order):
            keys = self.contexts[L - 1][keep[L]]
            out[f"context{L}.keys"] = _compact(new_id[keys // V] * V + keys % V)
            new_id = np.cumsum(keep[L]) - 1
            level = levels[L]  # order L+1, whose rows are contexts of L tokens
            level[0], level[3] = new_id[level[0]], level[3][keep[L]]
        for n, (rows, tokens, counts, pruned) in enumerate(levels, start=1):
            sizes = np.bincount(rows, minlength=len(pruned))
            out[f"order{n}.offsets"] = _compact(np.concatenate([[0], np.cumsum(sizes)]))
            out[f"order{n}.tokens"] = _compact(tokens)
            out[f"order{n}.counts"] = _compact(counts)
            out[f"order{n}.pruned"] = _compact(pruned)
        return out


# --- the model ---------------------------------------------------------------------------------


@dataclass
class _Level:
    """One order, ready for lookups (derived from its tensors on load)."""

    contexts: np.ndarray | None  # (C,) int64 sorted context keys; None at order 1 (only the empty context)
    offsets: np.ndarray  # (C + 1,) int64
    tokens: np.ndarray  # (E,) int64
    weights: np.ndarray  # (E,) float64: (c - D(c)) / c(h.), the discounted probability of each entry
    gamma: np.ndarray  # (C,) float64: the weight on the order below; 1 where c(h.) is 0


class NGramLM:
    """An interpolated modified Kneser-Ney n-gram; config.options["order"] is N.

    The state is an (B, N-1) int64 array: each stream's last N-1 token ids, oldest first, NO_TOKEN (-1)
    where the stream has none yet. forward returns log-probabilities as logits, so their softmax is the
    model's distribution. seed is accepted for the shared constructor and unused: counting is deterministic.
    A fresh model has no counts and predicts uniformly; fit() counts.
    """

    def __init__(self, config: ModelConfig, seed: int = 0):
        order = config.options.get("order")
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            raise ValueError(f'an n-gram needs config.options["order"], an integer >= 1; got {order!r}')
        self.config = config
        self.vocab = make_vocab(config)
        self.order = order
        self.load_tensors(NGramCounts(np.empty(0, np.int64), order, config.vocab_size).tensors(order))

    # --- counts as tensors ---

    def expected_names(self) -> list[str]:
        names = ["count_of_counts"] + [f"context{L}.keys" for L in range(1, self.order)]
        return names + [f"order{n}.{part}" for n in range(1, self.order + 1)
                        for part in ("offsets", "tokens", "counts", "pruned")]

    def num_params(self) -> int:
        """Number of stored n-gram counts, all orders together (an n-gram has counts, not weights)."""
        return sum(len(self._tensors[f"order{n}.counts"]) for n in range(1, self.order + 1))

    def tensors(self) -> dict[str, np.ndarray]:
        """All counts as plain integer arrays, for safetensors."""
        return {name: t.copy() for name, t in self._tensors.items()}

    def size_mb(self) -> float:
        """Size of the model's safetensors file in MB (10^6 bytes)."""
        return len(safetensors_bytes(self._tensors)) / 1e6

    def load_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Load counts; raises ValueError naming every missing, unexpected or inconsistent tensor."""
        tensors = {name: np.asarray(t) for name, t in tensors.items()}
        problems = _check_names(self.expected_names(), tensors)
        if problems:
            raise ValueError("; ".join(problems))
        V, as64 = self.config.vocab_size, (lambda name: tensors[name].astype(np.int64))
        coc = tensors["count_of_counts"]
        if coc.shape != (self.order, 4) or coc.dtype.kind not in "iu" or (coc < 0).any():
            raise ValueError(f"count_of_counts must be ({self.order}, 4) non-negative integers")
        D = discounts(coc)
        levels, num_contexts = [], 1
        for n in range(1, self.order + 1):
            contexts = None
            if n > 1:
                contexts = as64(f"context{n - 1}.keys")
                _check_keys(f"context{n - 1}.keys", contexts, num_contexts, V)
                num_contexts = len(contexts)
            offsets, tokens, counts, pruned = (as64(f"order{n}.{p}") for p in ("offsets", "tokens", "counts", "pruned"))
            rows = _check_order(n, offsets, tokens, counts, pruned, num_contexts, V)
            dc = D[n - 1][np.minimum(counts, 3) - 1]  # (E,) each entry's discount
            total = np.bincount(rows, weights=counts, minlength=num_contexts) + pruned  # c(h.)
            freed = np.bincount(rows, weights=dc, minlength=num_contexts) + pruned  # gamma(h) c(h.)
            seen = total > 0
            safe_total = np.where(seen, total, 1.0)
            levels.append(_Level(contexts, offsets, tokens, (counts - dc) / safe_total[rows],
                                 np.where(seen, freed / safe_total, 1.0)))
        self._tensors = {name: np.ascontiguousarray(t) for name, t in tensors.items()}
        self._levels = levels

    # --- probabilities ---

    def _probs(self, contexts: np.ndarray) -> np.ndarray:
        """(P, V) float64 distributions after contexts (P, N-1), NO_TOKEN-padded on the left."""
        P, V = len(contexts), self.config.vocab_size
        p = np.full((P, V), 1.0 / V)  # p_0: uniform
        rows = np.arange(P)  # positions whose context of n-1 tokens is known at this order
        ctx = np.zeros(P, dtype=np.int64)  # ... and its id
        for n, level in enumerate(self._levels, start=1):
            if n > 1:  # grow each context one token leftwards; drop positions where it was never seen
                if len(level.contexts) == 0:
                    break
                tok = contexts[rows, -(n - 1)]
                key = ctx * V + tok
                pos = np.minimum(np.searchsorted(level.contexts, key), len(level.contexts) - 1)
                hit = (tok >= 0) & (level.contexts[pos] == key)
                rows, ctx = rows[hit], pos[hit]
                if rows.size == 0:
                    break
            p[rows] *= level.gamma[ctx][:, None]
            start = level.offsets[ctx]
            sizes = level.offsets[ctx + 1] - start
            entry = np.repeat(start - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())  # (E',)
            p[np.repeat(rows, sizes), level.tokens[entry]] += level.weights[entry]
        return p

    def _probs_one(self, context: np.ndarray) -> np.ndarray:
        """_probs for one context (N-1,), in scalar steps: sampling steps one stream, where a dozen small-array
        operations per order would cost more than the arithmetic (about 4x)."""
        V = self.config.vocab_size
        chain = [(self._levels[0], 0)]  # (level, context id) for every order whose context was seen
        ctx = 0
        for n in range(2, self.order + 1):
            level, tok = self._levels[n - 1], int(context[-(n - 1)])
            key = ctx * V + tok
            ctx = int(level.contexts.searchsorted(key))
            if tok < 0 or ctx == len(level.contexts) or level.contexts[ctx] != key:
                break
            chain.append((level, ctx))
        # p = w_N + gamma_N (w_N-1 + gamma_N-1 (... + gamma_1 / V)): each order's entries scaled by the gammas above it
        scale, tokens, weights = 1.0, [], []
        for level, ctx in reversed(chain):
            a, b = level.offsets[ctx], level.offsets[ctx + 1]
            tokens.append(level.tokens[a:b])
            weights.append(level.weights[a:b] * scale)
            scale *= level.gamma[ctx]
        return np.bincount(np.concatenate(tokens), weights=np.concatenate(weights), minlength=V) + scale / V

    def probabilities(self, context) -> np.ndarray:
        """(V,) float64 distribution of the token after context (token ids; only the last N-1 count)."""
        k = self.order - 1
        ctx = np.asarray(context, dtype=np.int64).ravel()
        self._check_ids(ctx)
        padded = np.full(k, NO_TOKEN, dtype=np.int64)
        if k:
            tail = ctx[-k:]
            padded[k - len(tail) :] = tail
        return self._probs(padded[None])[0]

    def token_logprobs(self, ids) -> np.ndarray:
        """(T-1,) float64 log p(ids[t] | ids[:t]) for t = 1..T-1: a sequence scored from its first token."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        self._check_ids(ids)
        k = self.order - 1
        history = np.concatenate([np.full(k, NO_TOKEN, dtype=np.int64), ids[:-1]])  # (k + T - 1,)
        out, chunk = np.empty(max(len(ids) - 1, 0)), max(1, BLOCK // self.config.vocab_size)
        for s in range(0, len(out), chunk):
            t = np.arange(s, min(s + chunk, len(out)))
            contexts = history[t[:, None] + np.arange(1, k + 1)]  # (P, k): the k tokens up to ids[t]
            out[t] = np.log(self._probs(contexts)[np.arange(len(t)), ids[t + 1]])
        return out

    # --- the CharLM interface ---

    def init_state(self, batch_size: int) -> np.ndarray:
        return np.full((batch_size, self.order - 1), NO_TOKEN, dtype=np.int64)

    def forward(self, ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-probabilities (B, T, V) float32 of the token after each of ids (B, T), and the new state."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 2:
            raise ValueError(f"ids must be (B, T), got shape {ids.shape}")
        self._check_ids(ids)
        B, T = ids.shape
        k, V = self.order - 1, self.config.vocab_size
        history = np.concatenate([self._check_state(state, B), ids], axis=1)  # (B, k + T)
        new_state = history[:, history.shape[1] - k :].copy()
        logp = np.empty((B, T, V), dtype=np.float32)
        if B * T <= FEW:  # history[b, t + 1 : t + 1 + k]: the k tokens up to and including ids[b, t]
            for b in range(B):
                for t in range(T):
                    logp[b, t] = np.log(self._probs_one(history[b, t + 1 : t + 1 + k]))
            return logp, new_state
        if k:
            contexts = sliding_window_view(history, k, axis=1)[:, 1:].reshape(B * T, k)
        else:
            contexts = np.empty((B * T, 0), dtype=np.int64)
        flat, chunk = logp.reshape(B * T, V), max(1, BLOCK // V)
        for s in range(0, B * T, chunk):
            flat[s : s + chunk] = np.log(self._probs(contexts[s : s + chunk]))
        return logp, new_state

    def step(self, ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One token per stream: ids (B,) -> log-probabilities (B, V) float32 and the new state."""
        logits, state = self.forward(np.asarray(ids, dtype=np.int64).reshape(-1, 1), state)
        return logits[:, 0], state

    def state_tensors(self, state: np.ndarray) -> dict[str, np.ndarray]:
        return {"context": np.array(state, dtype=np.int64)}

    def state_from_tensors(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        state = np.array(tensors["context"], dtype=np.int64)
        return self._check_state(state, len(state)).copy()

    def trainer(self, cfg: TrainConfig):
        raise TypeError("an n-gram model is trained by counting, not by optimizer steps: "
                        "use rnnlm.models.ngram.fit(vocab, train_ids, order)")

    # --- checks ---

    def _check_ids(self, ids: np.ndarray) -> None:
        if ids.size and (ids.min() < 0 or ids.max() >= self.config.vocab_size):
            raise ValueError(f"token ids must lie in 0..{self.config.vocab_size - 1}")

    def _check_state(self, state: np.ndarray, batch_size: int) -> np.ndarray:
        state = np.asarray(state)
        if state.shape != (batch_size, self.order - 1) or (state.size and state.dtype.kind not in "iu"):
            raise ValueError(f"state must be ({batch_size}, {self.order - 1}) token ids, "
                             f"got {state.shape} {state.dtype}")
        if state.size and (state.min() < NO_TOKEN or state.max() >= self.config.vocab_size):
            raise ValueError(f"state holds ids outside {NO_TOKEN}..{self.config.vocab_size - 1}")
        return state.astype(np.int64)


def _check_names(expected: list[str], got: dict[str, np.ndarray]) -> list[str]:
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    problems = [f"missing tensors: {', '.join(missing)}"] if missing else []
    problems += [f"unexpected tensors: {', '.join(extra)}"] if extra else []
    problems += [f"{n} must be a 1-D integer array" for n in expected
                 if n in got and n != "count_of_counts" and (got[n].ndim != 1 or got[n].dtype.kind not in "iu")]
    return problems


def _check_keys(name: str, keys: np.ndarray, num_shorter: int, V: int) -> None:
    if (keys < 0).any() or (np.diff(keys) <= 0).any() or (keys.size and keys[-1] // V >= num_shorter):
        raise ValueError(f"{name} must be strictly increasing keys of known shorter contexts")


def _check_order(n: int, offsets, tokens, counts, pruned, num_contexts: int, V: int) -> np.ndarray:
    """Raise ValueError unless order n's arrays are a consistent CSR table; returns each entry's row."""
    name = f"order{n}"
    if len(offsets) != num_contexts + 1 or len(pruned) != num_contexts:
        raise ValueError(f"{name}.offsets / .pruned do not match the {num_contexts} contexts of order {n}")
    if offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != len(tokens) or len(counts) != len(tokens):
        raise ValueError(f"{name}.offsets must rise from 0 to the number of entries in .tokens and .counts")
    if (tokens < 0).any() or (tokens >= V).any() or (counts < 1).any() or (pruned < 0).any():
        raise ValueError(f"{name}: tokens must lie in 0..{V - 1}, counts be positive and pruned non-negative")
    rows = np.repeat(np.arange(num_contexts), np.diff(offsets))
    if (np.diff(rows * V + tokens) <= 0).any():
        raise ValueError(f"{name}.tokens must be strictly increasing within each context")
    return rows


# --- fitting and choosing an order -------------------------------------------------------------


def fit(config_or_vocab: ModelConfig | Vocab | str, train_ids, order: int, prune: int = 0,
        max_mb: float | None = None) -> NGramLM:
    """Count train_ids into an order-`order` model. prune=k drops n-grams seen once at orders k and above
    (0 keeps all); max_mb prunes further, from the top order down, until the safetensors file fits."""
    if isinstance(config_or_vocab, ModelConfig):
        config = copy.deepcopy(config_or_vocab)
        config.options = {**config.options, "order": int(order), "prune": int(prune)}
    else:
        config = ngram_config(config_or_vocab, order, prune)
    counts = NGramCounts(train_ids, order, config.vocab_size)
    model = NGramLM(config)
    # prune=0 (none) then k = order, order-1, ...: each step also drops the singletons one order lower.
    tries = [prune] if max_mb is None else [prune, *range((prune or order + 1) - 1, 0, -1)]
    for p in tries:
        model.load_tensors(counts.tensors(order, p))
        if max_mb is None or model.size_mb() <= max_mb:
            config.options["prune"] = p
            return model
    raise ValueError(f"an order-{order} model does not fit in {max_mb} MB even with every singleton pruned")


def choose_order(train_ids, val_ids, max_order: int = 12, vocab_size: int | None = None,
                 prune: int = 0) -> tuple[int, dict[int, float]]:
    """The order in 1..max_order with the lowest validation nats/token, and nats/token for every order."""
    train_ids, val_ids = (np.asarray(a, dtype=np.int64).ravel() for a in (train_ids, val_ids))
    if len(val_ids) < 2:
        raise ValueError("choose_order needs at least two validation tokens")
    V = vocab_size or int(max(train_ids.max(initial=0), val_ids.max(initial=0))) + 1
    counts = NGramCounts(train_ids, max_order, V)
    curve = {}
    for order in range(1, max_order + 1):
        model = NGramLM(ngram_config("".join(map(chr, range(V))), order))  # stand-in characters: only ids matter
        model.load_tensors(counts.tensors(order, prune))
        curve[order] = float(-model.token_logprobs(val_ids).mean())
    return min(curve, key=curve.get), curve


MAX_MB = 12.0  # a bundled model's size limit


def fit_for_training(config: ModelConfig, train_ids, val_ids, max_order: int = 12) -> tuple[NGramLM, dict]:
    """What `python -m rnnlm train --model ngram` runs: the order in options (0: the best on the validation
    split up to max_order), counted with options["prune"], pruned further if the file would pass MAX_MB.
    Returns the model and the figures for its card: validation nats/token of every order tried."""
    order, prune = int(config.options.get("order") or 0), int(config.options.get("prune") or 0)
    curve = {}
    if order == 0:
        order, curve = choose_order(train_ids, val_ids, max_order, config.vocab_size, prune)
    model = fit(config, train_ids, order, prune, max_mb=MAX_MB)
    extra = {"val_nats_per_char_by_order": {str(k): round(v, 4) for k, v in curve.items()}} if curve else {}
    return model, extra
