"""The GRU recurrence in torch, one layer at a time, forward and backward written out, in bf16 (or any dtype).

On a CPU, nn.LSTM under torch.autocast switches to oneDNN's fused bf16 kernel; nn.GRU has no fused kernel
and runs its per-step products in bf16 through autocast one by one. Written out here the bf16 GRU trains
faster still: per training step of 2x512, B=64, T=128 on one core (CPU seconds, best of 4) float32 nn.GRU
1.53, nn.GRU under autocast 0.55, this 0.48; at 2x256, B=32, T=64: 0.119, 0.059, 0.055
(benchmarks/bench_bf16.py prints both beside float32). A layer runs as

    gi = x @ W_ih.T + b_ih                       all T steps in one matrix product (the caller's, under autocast)
    per step t: gh = h @ W_hh.T + b_hh, then the gates from gi[t] and gh

and its backward pass mirrors it: per step one (B, 3H) @ (3H, H) product carries the gradient to h[t - 1],
and the gradient of W_hh over all T steps is one product at the end. The products run in the input's
dtype (bf16 when the caller autocasts); the elementwise gate arithmetic, the hidden state (z near 1 keeps
it over many steps, which bf16 rounding would erase) and its gradient run in float32, as do the weights
(the bf16 copies are made per call) and their gradients. In float64 the result is nn.GRU's to rounding
(the tests check it). An LSTM written the same way measured 0.9x (2x256) to 1.4x (2x512) of float32 on
one core, below oneDNN's bf16 LSTM (1.5x to 1.8x), so the LSTM trains with that instead.

Tensors here are time-major: gi (T, B, 3H), outputs (T, B, H), state (B, H).
"""
from __future__ import annotations

import torch

F32 = torch.float32


def _wide(dt: torch.dtype) -> torch.dtype:
    """The dtype of the elementwise work and the state: float32, or float64 when the input is (the tests)."""
    return torch.promote_types(dt, F32)


# --- GRU: gates r, z, n (nn.GRU's order); n = tanh(gi_n + r * (W_hn h + b_hn)) ---------------------------------


def gru_forward(gi, w_hh, b_hh, state):
    """gi (T, B, 3H); w_hh (3H, H), b_hh (3H,), state (h,) float32 -> outputs (T, B, H), (h,), saved."""
    (h0,) = state
    T, B, G = gi.shape
    H, dt, acc, dev = G // 3, gi.dtype, _wide(gi.dtype), gi.device
    w_t, b = w_hh.to(dt).t(), b_hh.to(dt)  # (H, 3H), (3H,)
    gi = gi.to(acc)
    gh = torch.empty(T, B, G, dtype=acc, device=dev)  # W_hh h + b_hh per step
    rz = torch.empty(T, B, 2 * H, dtype=acc, device=dev)  # sigmoid(r), sigmoid(z)
    ns = torch.empty(T, B, H, dtype=acc, device=dev)
    hs = torch.empty(T, B, H, dtype=acc, device=dev)  # the state, kept wide: z near 1 keeps it over many steps
    out = torch.empty(T, B, H, dtype=dt, device=dev)  # the same in dt, for the products
    h, hd = h0, h0.to(dt)
    for t in range(T):
        g = gh[t].copy_(torch.addmm(b, hd, w_t))  # (B, 3H)
        s = torch.add(gi[t, :, : 2 * H], g[:, : 2 * H], out=rz[t]).sigmoid_()
        n = torch.addcmul(gi[t, :, 2 * H :], s[:, :H], g[:, 2 * H :], out=ns[t]).tanh_()
        h = torch.sub(h, n, out=hs[t]).mul_(s[:, H:]).add_(n)  # n + z * (h - n) = (1 - z) * n + z * h
        hd = out[t].copy_(h)
    return out, (hs[-1].clone(),), (gh, rz, ns, hs, out, h0, w_hh)


def gru_backward(saved, d_out, d_state):
    """Gradients of (gi, w_hh, b_hh, (h0,)) from those of the outputs (T, B, H) and the final h."""
    gh, rz, ns, hs, out, h0, w_hh = saved
    T, B, G = gh.shape
    H, dt, acc, dev = G // 3, out.dtype, gh.dtype, gh.device
    w = w_hh.to(dt)  # (3H, H)
    d_out = d_out.to(acc)
    d_gi = torch.empty(T, B, G, dtype=acc, device=dev)  # gradient of gi, the input side's gates
    d_gh = torch.empty(T, B, G, dtype=dt, device=dev)  # gradient of W_hh h + b_hh
    slope = torch.empty(B, 2 * H, dtype=acc, device=dev)
    dh = d_state[0].to(acc)
    for t in reversed(range(T)):
        s, n, dgi, dgh = rz[t], ns[t], d_gi[t], d_gh[t]
        r, z = s[:, :H], s[:, H:]
        dh = dh + d_out[t]  # (B, H): from the layer above and from step t + 1
        dh_z = dh * z  # the part of dh that reaches h[t - 1] directly
        torch.mul(dh - dh_z, 1 - n * n, out=dgi[:, 2 * H :])  # d n before tanh: dh (1 - z) (1 - n^2)
        torch.mul(dgi[:, 2 * H :], gh[t, :, 2 * H :], out=dgi[:, :H])  # d r
        torch.mul(dh, (hs[t - 1] if t else h0) - n, out=dgi[:, H : 2 * H])  # d z
        dgi[:, : 2 * H].mul_(torch.sub(s, torch.mul(s, s, out=slope), out=slope))  # through the sigmoids
        dgh[:, : 2 * H] = dgi[:, : 2 * H]
        torch.mul(dgi[:, 2 * H :], r, out=dgh[:, 2 * H :])
        dh = torch.mm(dgh, w).to(acc).add_(dh_z)  # (B, H): to h[t - 1]
    h_prev = torch.cat([h0.to(dt)[None], out[:-1]])  # (T, B, H)
    d_w = torch.mm(d_gh.reshape(T * B, G).t(), h_prev.reshape(T * B, H)).to(acc)  # (3H, H)
    d_b = d_gh.sum((0, 1), dtype=acc)
    return d_gi.to(dt), d_w, d_b, (dh,)


LAYERED = {"gru": (gru_forward, gru_backward)}  # by cell name: the cells whose bf16 training runs here


class Recurrence(torch.autograd.Function):
    """One layer's recurrence as an autograd function: apply(cell name, gi, w_hh, b_hh, *state) -> (out, *state)."""

    @staticmethod
    def forward(ctx, cell, gi, w_hh, b_hh, *state):
        forward, ctx.backward_fn = LAYERED[cell]
        out, new_state, ctx.saved = forward(gi, w_hh, b_hh, state)
        return (out, *new_state)

    @staticmethod
    def backward(ctx, d_out, *d_state):
        d_gi, d_w, d_b, d_state0 = ctx.backward_fn(ctx.saved, d_out, d_state)
        del ctx.saved
        return (None, d_gi, d_w, d_b, *d_state0)


def recurrence(cell: str, gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor, state: tuple):
    """One layer over gi (T, B, G) from state (each (B, H), float32): outputs (T, B, H) in gi's dtype, new state."""
    out, *new = Recurrence.apply(cell, gi, w_hh, b_hh, *state)
    return out, tuple(new)
