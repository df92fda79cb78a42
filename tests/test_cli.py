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


def test_a_word_model_trains_samples_predicts_and_ranks_sentences_from_the_cli(tmp_path):
    from tests.support import WORD_TEXT

    corpus = tmp_path / "words.txt"
    corpus.write_text(WORD_TEXT, encoding="utf-8")
    out = tmp_path / "runs" / "words"
    r = rnnlm("train", "--model", "rnn", "--tokens", "word", "--vocab-size", 40, "--data", corpus, "--out", out,
              "--hidden-size", 32, "--max-iters", 120, "--eval-every", 60, "--batch-size", 4, "--seq-len", 12,
              "--lr", 0.01, "--seed", 1, "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "nats/token" in r.stdout
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["tokens"]["kind"] == "word" and config["vocab"][:2] == ["<unk>", "\n"]

    prompt = "A dog slept by the door, and the cat"
    r = rnnlm("sample", out, "--prompt", prompt, "--length", 3, "--temperature", 0, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(prompt + " did") and r.stdout.count(" ") == prompt.count(" ") + 2  # 3 tokens: did n't care

    r = rnnlm("sample", out, "--prompt", prompt, "--top", 5, "--json", cwd=tmp_path)
    top = json.loads(r.stdout)
    probs = [t["prob"] for t in top]
    assert top[0]["token"] == "did" and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9 and len(top) == 5
    r = rnnlm("sample", out, "--prompt", "zebra quagga", "--top", 3, cwd=tmp_path)
    assert r.returncode == 0 and "knows none of the prompt's words" in r.stderr and len(r.stdout.splitlines()) == 3

    r = rnnlm("score", out, "--text", "The cat sat on the zebra.", "--json", cwd=tmp_path)
    figures = json.loads(r.stdout)
    assert figures["tokens_scored"] == 7 and figures["unk_tokens"] == 1 and figures["unknown_words"] == ["zebra"]
    assert figures["chars_scored"] == len("The cat sat on the zebra.") and figures["bits_per_char"] > 0

    sentences = tmp_path / "sentences.txt"
    sentences.write_text("the mat on sat cat The.\n\nThe cat sat on the mat.\n", encoding="utf-8")
    r = rnnlm("score", out, "--sentences", sentences, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ranked = [line for line in r.stdout.splitlines()[1:]]
    assert len(ranked) == 2 and ranked[0].endswith("The cat sat on the mat.")  # the order it was trained on wins

    r = rnnlm("inspect", out, "--text-file", corpus, "--neurons", cwd=tmp_path)
    assert r.returncode != 0 and "reads words" in r.stderr and "Traceback" not in r.stderr


def test_bad_word_settings_and_sentence_files_get_a_message(corpus, tmp_path):
    r = rnnlm("train", "--model", "rnn", "--tokens", "word", "--vocab-size", 0, "--data", corpus, "--out", tmp_path / "o",
              cwd=tmp_path)
    assert r.returncode != 0 and "--vocab-size must be" in r.stderr and "Traceback" not in r.stderr
    r = rnnlm("train", "--model", "rnn", "--tokens", "syllables", "--data", corpus, "--out", tmp_path / "o", cwd=tmp_path)
    assert r.returncode != 0 and "--tokens" in r.stderr and "Traceback" not in r.stderr
    r = rnnlm("train", "--model", "rnn", "--vocab-size", 50, "--data", corpus, "--out", tmp_path / "o", cwd=tmp_path)
    assert r.returncode != 0 and "--tokens word" in r.stderr

    out = tmp_path / "m"
    assert rnnlm("train", "--model", "rnn", "--data", corpus, "--out", out, "--hidden-size", 8, "--max-iters", 2,
                 "--batch-size", 2, "--seq-len", 8, "--no-progress", cwd=tmp_path).returncode == 0
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    r = rnnlm("score", out, "--sentences", empty, cwd=tmp_path)
    assert r.returncode != 0 and "no sentences" in r.stderr and "Traceback" not in r.stderr
    big = tmp_path / "big.txt"
    big.write_text("BRUTUS speaks.\n" * 800_000, encoding="utf-8")  # 12 MB
    r = rnnlm("score", out, "--sentences", big, cwd=tmp_path)
    assert r.returncode != 0 and "bytes is more than" in r.stderr and "Traceback" not in r.stderr
    r = rnnlm("score", out, "--sentences", empty, "--text", "x", cwd=tmp_path)
    assert r.returncode != 0 and "exactly one of" in r.stderr
