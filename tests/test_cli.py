"""The command line end to end, on a corpus the test writes itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import REPO, rnnlm


def test_train_sample_score_resume(corpus, tmp_path):
    for model in ("rnn", "lstm", "gru"):
        out = tmp_path / "runs" / model
        r = rnnlm("train", "--model", model, "--data", corpus, "--out", out, "--hidden-size", 16,
                  "--num-layers", 1, "--max-iters", 8, "--eval-every", 4, "--batch-size", 4, "--seq-len", 16,
                  "--seed", 1, "--no-progress", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "best val" in r.stdout and (out / "model.safetensors").is_file()

        r = rnnlm("sample", out, "--prompt", "BRUTUS:", "--length", 50, "--temperature", 0.8, "--seed", 7, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("BRUTUS:") and len(r.stdout.rstrip("\n")) >= len("BRUTUS:") + 40
        again = rnnlm("sample", out, "--prompt", "BRUTUS:", "--length", 50, "--temperature", 0.8, "--seed", 7, cwd=tmp_path)
        assert again.stdout == r.stdout

        r = rnnlm("score", out, "--text", "The night is long that never finds the day.", "--json", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        figures = json.loads(r.stdout)
        assert figures["chars_scored"] == len("The night is long that never finds the day.") and figures["chars_skipped"] == 0
        assert 0 < figures["nats_per_char"] < 10 and figures["perplexity"] > 1

    r = rnnlm("train", "--resume", tmp_path / "runs" / "gru", "--max-iters", 12, "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "at step 12" in r.stdout


def test_bad_input_gets_a_message_not_a_traceback(corpus, tmp_path):
    r = rnnlm("train", "--model", "lstm", "--data", tmp_path / "missing.txt", "--out", tmp_path / "o", cwd=tmp_path)
    assert r.returncode != 0 and "corpus not found" in r.stderr and "Traceback" not in r.stderr
    r = rnnlm("sample", tmp_path / "nothing", cwd=tmp_path)
    assert r.returncode != 0 and "config.json: file not found" in r.stderr and "Traceback" not in r.stderr

    out = tmp_path / "m"
    assert rnnlm("train", "--model", "rnn", "--data", corpus, "--out", out, "--hidden-size", 8, "--max-iters", 2,
                 "--batch-size", 2, "--seq-len", 8, "--no-progress", cwd=tmp_path).returncode == 0
    r = rnnlm("sample", out, "--prompt", "😀 BRUTUS", "--length", 5, "--seed", 1, cwd=tmp_path)
    assert r.returncode == 0 and "skipped" in r.stderr and "U+1F600" in r.stderr
    r = rnnlm("sample", out, "--temperature", "-1", cwd=tmp_path)
    assert r.returncode != 0 and "temperature" in r.stderr and "Traceback" not in r.stderr
    r = rnnlm("score", out, "--text", "😀", cwd=tmp_path)
    assert r.returncode != 0 and "nothing to score" in r.stderr
    (out / "model.safetensors").write_bytes(b"junk")
    r = rnnlm("score", out, "--text", "BRUTUS", cwd=tmp_path)
    assert r.returncode != 0 and "model.safetensors" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_saves_and_exits_cleanly(corpus, tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnlm", "train", "--model", "gru", "--data", str(corpus), "--out", str(out),
         "--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--seq-len", "16", "--max-iters", "1000000",
         "--eval-every", "1000000", "--log-every", "1", "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "log.jsonl").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "stopped (resume with --resume)" in stdout and "Traceback" not in stderr
    progress = json.loads((out / "resume" / "progress.json").read_text())["progress"]
    assert progress["step"] >= 1 and (out / "model.safetensors").is_file()
