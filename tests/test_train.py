"""The training loop: logs, best checkpoint, exact resume, divergence, timelapse."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rnnlm import checkpoint, store
from rnnlm.config import TrainConfig
from rnnlm.data import split
from rnnlm.train import MILESTONES, TrainingDiverged, evaluate, lr_at, new_model_config, train
from tests.support import TEXT


def tiny_run(model_type, corpus, **kw):
    cfg = TrainConfig(data=str(corpus), max_iters=12, eval_every=5, log_every=2, batch_size=4, seq_len=16,
                      warmup_iters=3, lr=3e-3, seed=7, **kw)
    mc = new_model_config(model_type, "".join(sorted(set(TEXT))), hidden_size=16, num_layers=2, embed_size=8, dropout=0.2)
    return cfg, mc


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(lr=1.0, warmup_iters=10, min_lr_ratio=0.1)
    assert lr_at(cfg, 0.0, 0) == pytest.approx(0.1)
    assert lr_at(cfg, 0.1, 10) < 1.0 and lr_at(cfg, 0.5, 50) == pytest.approx(0.55)
    assert lr_at(cfg, 1.0, 100) == pytest.approx(0.1)


def test_run_writes_log_best_checkpoint_and_timelapse(model_type, corpus, tmp_path):
    cfg, mc = tiny_run(model_type, corpus)
    summary = train(tmp_path / "run", cfg, mc, progress_bar=False)
    out = tmp_path / "run"
    rows = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "train_loss" in r]
    val_rows = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in val_rows] == [5, 10, 12]
    assert all(set(r) >= {"step", "chars", "seconds", "train_loss"} for r in train_rows)
    assert rows[-1]["chars"] == 12 * 4 * 16
    best = min(r["val_loss"] for r in val_rows)
    config = checkpoint.read_config(out)
    assert config.metrics["val_nats_per_char"] == pytest.approx(best) == pytest.approx(summary["best_val"])
    assert config.metrics["val_bits_per_char"] == pytest.approx(best / math.log(2))
    assert config.training["max_iters"] == 12
    # the saved best model really scores `best` on the validation text
    model = store.load(out)
    val_ids = model.vocab.encode(split(TEXT)[1])
    assert evaluate(model, val_ids, cfg.eval_streams) == pytest.approx(best, rel=1e-5)
    lapse = [json.loads(l) for l in (out / "timelapse.jsonl").read_text().splitlines()]
    assert [r["fraction"] for r in lapse] == list(MILESTONES)
    assert all(len(r["text"]) == 200 for r in lapse)


def test_resume_ends_with_the_same_weights_as_an_uninterrupted_run(model_type, corpus, tmp_path):
    cfg, mc = tiny_run(model_type, corpus)
    train(tmp_path / "whole", cfg, mc, progress_bar=False)
    first = train(tmp_path / "split", cfg, mc, progress_bar=False, stop_at_step=7)
    assert first["interrupted"] and first["steps"] == 7
    second = train(tmp_path / "split", resume=True, progress_bar=False)
    assert second["steps"] == 12 and not second["interrupted"]
    a = store.load(tmp_path / "whole" / "resume").tensors()
    b = store.load(tmp_path / "split" / "resume").tensors()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)

    def train_rows(run):
        rows = [json.loads(l) for l in (tmp_path / run / "log.jsonl").read_text().splitlines()]
        return [(r["step"], r["chars"], r["train_loss"]) for r in rows if "train_loss" in r]

    assert train_rows("whole") == train_rows("split")


def test_nan_loss_stops_with_a_clear_message(corpus, tmp_path, monkeypatch):
    cfg, mc = tiny_run("gru", corpus)
    from rnnlm.models.torch_rnn import TorchTrainer

    real_step, calls = TorchTrainer.train_step, []

    def poisoned(self, x, y, state, lr):  # the fourth step's loss is NaN
        loss, state = real_step(self, x, y, state, lr)
        calls.append(1)
        return (float("nan") if len(calls) == 4 else loss), state

    monkeypatch.setattr(TorchTrainer, "train_step", poisoned)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 4.*--lr"):
        train(tmp_path / "run", cfg, mc, progress_bar=False)


def test_exploding_lr_is_caught(corpus, tmp_path):
    cfg, mc = tiny_run("rnn", corpus)
    cfg.lr, cfg.grad_clip, cfg.warmup_iters = 1e4, 0.0, 0
    with pytest.raises(TrainingDiverged, match="loss became"):
        train(tmp_path / "run", cfg, mc, progress_bar=False)


def test_resume_without_a_saved_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(tmp_path, resume=True, progress_bar=False)


def test_a_run_killed_at_any_file_operation_samples_and_resumes_exactly(corpus, tmp_path, monkeypatch, capsys):
    """kill -9 between any two file operations of the best-model save or of resume/: the folder samples, and
    --resume (or a fresh start, when no resume point was written yet) ends bit-identical."""
    from rnnlm import cli
    from tests.support import Crash, crash_before

    cfg = TrainConfig(data=str(corpus), max_iters=6, eval_every=3, log_every=1, batch_size=4, seq_len=16,
                      warmup_iters=1, seed=3)
    mc = new_model_config("rnn", "", hidden_size=8, num_layers=1)
    with monkeypatch.context() as m:
        ops = crash_before(m, 0)
        train(tmp_path / "whole", cfg, mc, progress_bar=False)
    whole = store.load(tmp_path / "whole" / "resume").tensors()

    def rows(out, kind):
        return [(r["step"], r[kind]) for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if kind in r]

    for k in range(1, ops["n"] + 1):
        out = tmp_path / f"k{k}"
        with monkeypatch.context() as m:
            crash_before(m, k)
            with pytest.raises(Crash):
                train(out, cfg, mc, progress_bar=False)
        if (out / "model.safetensors").is_file():
            assert cli.main(["sample", str(out), "--length", "5", "--seed", "1"]) == 0, f"crash before operation {k}"
        if checkpoint.read_folder_unit(out / "resume", "progress.json") is not None:
            train(out, resume=True, progress_bar=False)
        else:
            train(out, cfg, mc, progress_bar=False)
        again = store.load(out / "resume").tensors()
        for name in whole:
            np.testing.assert_array_equal(again[name], whole[name], err_msg=f"crash before operation {k}: {name}")
        assert rows(out, "train_loss") == rows(tmp_path / "whole", "train_loss")
        lapse = [json.loads(l)["fraction"] for l in (out / "timelapse.jsonl").read_text().splitlines()]
        assert lapse == list(MILESTONES), f"crash before operation {k}"
        assert not list(out.glob("*.tmp")) and not list(out.glob("resume.*"))
    capsys.readouterr()


def test_signals_that_arrive_together_ask_once_and_a_later_ctrl_c_interrupts(monkeypatch):
    """Under torchrun one Ctrl-C reaches a worker twice (from the terminal, and forwarded); SIGTERM also stops."""
    import os
    import signal

    from rnnlm.train import _StopFlag

    before = signal.getsignal(signal.SIGTERM)
    with _StopFlag() as flag:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # within a second of the first: the same request
        assert flag.stop
        monkeypatch.setattr(_StopFlag, "AGAIN_AFTER", 0.0)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) == before  # the handlers are put back
