"""bf16 training: the layered GRU against nn.GRU on the same weights, and bf16 steps against float32 steps."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rnnlm.config import TrainConfig
from rnnlm.models import build_model
from rnnlm.models.torch_layers import recurrence
from rnnlm.models.torch_rnn import bf16_missing
from rnnlm.train import new_model_config, train
from tests.support import TEXT, tiny_config

# oneDNN has no bf16 LSTM for a CPU without bf16 instructions, and training refuses bf16 there
needs_bf16 = pytest.mark.skipif(bf16_missing() is not None, reason=f"bf16 training: {bf16_missing()}")


def test_the_layered_gru_is_nn_gru_in_values_and_gradients():
    """In float64 the hand-written forward and backward agree with nn.GRU's to rounding."""
    torch.manual_seed(0)
    T, B, E, H = 7, 3, 5, 6
    gru = nn.GRU(E, H, 1).double()
    x = torch.randn(T, B, E, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=torch.float64, requires_grad=True)
    w_out, w_h = torch.randn(T, B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)

    def grads(out, h):
        ((out * w_out).sum() + (h * w_h).sum()).backward()  # every output and the final state matter
        got = [p.grad.clone() for p in gru.parameters()] + [x.grad.clone(), h0.grad.clone()]
        for t in [*gru.parameters(), x, h0]:
            t.grad = None
        return got

    ref_out, ref_h = gru(x, h0)
    ref = grads(ref_out, ref_h[0])
    gi = F.linear(x, gru.weight_ih_l0, gru.bias_ih_l0)  # (T, B, 3H)
    out, (h,) = recurrence("gru", gi, gru.weight_hh_l0, gru.bias_hh_l0, (h0[0],))
    ours = grads(out, h)
    np.testing.assert_allclose(out.detach(), ref_out.detach(), atol=1e-12)
    np.testing.assert_allclose(h.detach(), ref_h[0].detach(), atol=1e-12)
    for name, a, b in zip([n for n, _ in gru.named_parameters()] + ["x", "h0"], ours, ref):
        np.testing.assert_allclose(a, b, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("model_type", [pytest.param("lstm", marks=needs_bf16), "gru"])
def test_bf16_logits_and_gradients_stay_close_to_float32(model_type):
    model = build_model(tiny_config(model_type, hidden_size=32, num_layers=2, dropout=0.0), seed=1)
    ids = torch.randint(0, model.config.vocab_size, (4, 20), generator=torch.Generator().manual_seed(0))
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        model.zero_grad()
        logits, state = model.forward_logits(ids, model.init_state(4), dtype)
        assert logits.dtype == torch.float32 and all(s.dtype == torch.float32 for s in state)
        F.cross_entropy(logits.reshape(-1, logits.size(-1)), ids.roll(-1, 1).reshape(-1)).backward()
        results[dtype] = logits.detach(), torch.cat([p.grad.flatten() for p in model.parameters()])
    (l32, g32), (l16, g16) = results[torch.float32], results[torch.bfloat16]
    assert (l16 - l32).abs().max() < 0.05  # bf16 keeps 8 bits of mantissa: about 2 decimal digits
    assert F.cosine_similarity(g16, g32, dim=0) > 0.999
    assert not torch.equal(l16, l32)  # the products really ran in bf16


@needs_bf16
@pytest.mark.parametrize("model_type", ["lstm", "gru"])
def test_a_bf16_run_learns_as_float32_does_and_saves_float32(model_type, corpus, tmp_path):
    vals = {}
    for dtype in ("float32", "bf16"):
        cfg = TrainConfig(data=str(corpus), max_iters=15, eval_every=15, batch_size=4, seq_len=16, warmup_iters=2,
                          lr=1e-2, seed=3, dtype=dtype)
        mc = new_model_config(model_type, "".join(sorted(set(TEXT))), hidden_size=24, num_layers=2, embed_size=8,
                              dropout=0.0)
        vals[dtype] = train(tmp_path / dtype, cfg, mc, progress_bar=False)["final_val"]
    assert vals["bf16"] == pytest.approx(vals["float32"], abs=0.02)
    from rnnlm import checkpoint

    tensors = checkpoint.load_tensors(tmp_path / "bf16" / "model.safetensors")
    assert {v.dtype for v in tensors.values()} == {np.dtype(np.float32)}
    assert checkpoint.read_config(tmp_path / "bf16").training["dtype"] == "bf16"


def test_models_without_bf16_say_so(corpus, tmp_path):
    cfg = TrainConfig(data=str(corpus), max_iters=2, dtype="bf16")
    with pytest.raises(ValueError, match="vanilla RNN trains in numpy on one process, on the CPU, in float32; "
                                         "it cannot train with --dtype bf16"):
        train(tmp_path / "rnn", cfg, new_model_config("rnn", "", hidden_size=8), progress_bar=False)
    with pytest.raises(ValueError, match="--dtype bf16: the numpy RNN trains in float32 only"):
        build_model(tiny_config("rnn")).trainer(cfg)


@pytest.mark.parametrize("model_type", ["lstm", "gru"])
def test_bf16_on_a_cpu_without_bf16_instructions_is_refused_with_the_reason(model_type, corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    cfg = TrainConfig(data=str(corpus), max_iters=2, batch_size=4, seq_len=16, dtype="bf16")
    mc = new_model_config(model_type, "", hidden_size=8, num_layers=1, embed_size=4)
    with pytest.raises(ValueError, match=r"--dtype bf16: this CPU has no bf16 instructions \(AVX512-BF16 or AMX; "
                                         r"torch finds .*\).*train with --dtype float32"):
        train(tmp_path / "run", cfg, mc, progress_bar=False)
    assert not (tmp_path / "run").exists()  # refused before anything was written
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert bf16_missing("cpu") is None
