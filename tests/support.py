"""What the tests share: a small corpus, tiny model configs, tiny trained checkpoints, a served app.

    python tests/support.py OUT [--iters 30]     writes the tiny checkpoints, to look at them

OUT/rnn, OUT/lstm and OUT/gru each get config.json, model.safetensors, README.md, log.jsonl and
timelapse.jsonl (written by rnnlm.train) and samples.json (the gallery's temperature grid), so
the app and its tests exercise every tab without the real checkpoints.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script

from rnnlm import checkpoint, generate, load_model  # noqa: E402
from rnnlm.config import ModelConfig, TrainConfig  # noqa: E402
from rnnlm.train import new_model_config, train  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data"
MODEL_TYPES = ("rnn", "lstm", "gru")  # the built-in types every contract test runs over

# A made-up play in the corpus' style, long enough for a 90/10 split and a few batches.
LINES = [
    "FIRST WATCHMAN:\nWho goes there? Stand, and unfold yourself.\n\n",
    "BRUTUS:\nThe night is long that never finds the day.\n\n",
    "PORTIA:\nI pray you, gentle sir, what news from Rome?\n\n",
    "SECOND WATCHMAN:\nNo news, my lord, but that the moon is down.\n\n",
]
TEXT = "".join(LINES) * 30
VOCAB = "".join(sorted(set(TEXT)))


# A word corpus in the same spirit: a few sentences in a fixed order, so that order is what a model learns.
SENTENCES = [
    "The cat sat on the mat.\n",
    "A dog slept by the door, and the cat didn't care.\n",
    "“Where is the mat?” asked the dog.\n\n",
]
WORD_TEXT = "".join(SENTENCES) * 40


def word_config(model_type: str, max_size: int = 30, lowercase: bool = False, **kw) -> ModelConfig:
    """A small ModelConfig over WORD_TEXT's words (the vocabulary made from its first 90%)."""
    from rnnlm.data import split
    from rnnlm.vocab import WordVocab

    vocab = WordVocab.build(split(WORD_TEXT)[0], max_size, lowercase)
    fields = dict(model_type=model_type, vocab=vocab.tokens, tokens=vocab.settings(), hidden_size=16, num_layers=1,
                  embed_size=8)
    fields.update(kw)
    return ModelConfig(**fields)


def word_folder(folder: Path, model_type: str = "rnn", iters: int = 60, **model) -> Path:
    """A word model of WORD_TEXT trained for a few steps into folder (rnnlm.train's files)."""
    corpus = folder.parent / f"{folder.name}-words.txt"
    folder.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text(WORD_TEXT, encoding="utf-8")
    cfg = TrainConfig(data=str(corpus), max_iters=iters, eval_every=max(1, iters // 2), log_every=5, batch_size=4,
                      seq_len=12, warmup_iters=2, lr=1e-2)
    config = new_model_config(model_type, "", tokens={"kind": "word", "max_size": 40}, hidden_size=32,
                              num_layers=1, embed_size=16, dropout=0.0, **model)
    train(folder, cfg, config, progress_bar=False)
    return folder


def tiny_config(model_type: str, **kw) -> ModelConfig:
    """A small ModelConfig over TEXT's characters."""
    fields = dict(model_type=model_type, vocab=VOCAB, hidden_size=24, num_layers=2, embed_size=8)
    fields.update(kw)
    return ModelConfig(**fields)

TEMPERATURES = ("0.2", "0.5", "0.8", "1.0", "1.2")
SAMPLE_PROMPT, SAMPLE_SEED, SAMPLE_LENGTH = "\n", 7, 120


def stepped_logits(model, ids):
    """Logits (B, T, V) of ids (B, T) fed one token at a time through model.step, as sampling feeds them."""
    import numpy as np

    state, steps = model.init_state(ids.shape[0]), []
    for t in range(ids.shape[1]):
        logits, state = model.step(ids[:, t], state)  # (B, V)
        steps.append(logits)
    return np.stack(steps, axis=1)


def write_samples(folder: Path) -> None:
    """samples.json in the format the gallery reads (see rnnlm.playground.gallery)."""
    model = load_model(folder)
    samples = {t: generate(model, SAMPLE_PROMPT, length=SAMPLE_LENGTH, temperature=float(t), seed=SAMPLE_SEED)
               for t in TEMPERATURES}
    doc = dict(prompt=SAMPLE_PROMPT, seed=SAMPLE_SEED, length=SAMPLE_LENGTH, samples=samples)
    (folder / "samples.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")


SAMPLES = {"prompt": "BRUTUS:", "seed": 7, "length": 12,
           "samples": {t: f" sample at {t}" for t in ("0.2", "0.5", "0.8", "1.0", "1.2")}}


def tiny(model_type: str, seed: int = 3, **kw):
    """A very small untrained model of model_type."""
    from rnnlm.models import build_model

    return build_model(tiny_config(model_type, hidden_size=8, num_layers=1, embed_size=4, **kw), seed=seed)


def trained_folder(folder: Path, model_type: str = "rnn", seed: int = 3) -> Path:
    """A folder laid out like a finished run: the checkpoint, its records, and resume/ (never pushed)."""
    import math

    from rnnlm import store

    model = tiny(model_type, seed)
    model.config.training = dict(data="/somewhere/tinyshakespeare.txt", seq_len=16, batch_size=4, lr=0.002,
                                 max_iters=8, minutes=0.0, seed=1, val_fraction=0.1)
    model.config.metrics = dict(val_nats_per_char=1.5, val_bits_per_char=1.5 / math.log(2), step=8, chars_seen=512,
                                train_seconds=2.5, hardware="a test CPU")
    folder.mkdir(parents=True)
    (folder / "samples.json").write_text(json.dumps(SAMPLES))
    (folder / "log.jsonl").write_text('{"step": 8, "val_loss": 1.5}\n')
    (folder / "timelapse.jsonl").write_text('{"step": 8, "text": "To be"}\n')
    store.save(model, folder)
    store.save(model, folder / "resume")
    return folder


def make_tiny_checkpoints(root: str | Path, iters: int = 30) -> dict[str, Path]:
    """Train (or reuse) OUT/<type> for every built-in model type; returns type -> folder."""
    import torch

    # Tiny matrices gain nothing from a second thread, and on a busy 2-core machine threads that
    # wait for each other make training several times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _make(Path(root), iters)
    finally:
        torch.set_num_threads(threads)


def _make(root: Path, iters: int) -> dict[str, Path]:
    """Train what is missing under root."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = root / "play.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    vocab = "".join(sorted(set(TEXT)))
    folders = {}
    for model_type in MODEL_TYPES:
        folder = root / model_type
        if not (folder / "samples.json").is_file():  # samples.json is written last: its presence means done
            cfg = TrainConfig(data=str(corpus), max_iters=iters, eval_every=max(1, iters // 3), log_every=2,
                              batch_size=8, seq_len=32, warmup_iters=2)
            config = new_model_config(model_type, vocab, hidden_size=32, num_layers=1, embed_size=16, dropout=0.0)
            train(folder, cfg, config, progress_bar=False)
            write_samples(folder)
        folders[model_type] = folder
    return folders


def make_tiny_sets(base: str | Path) -> Path:
    """A checkpoints/ folder laid out like the bundled one, tiny: the character models of make_tiny_checkpoints at
    the top (the Shakespeare set) and word models of WORD_TEXT in sherlock-words/ (no n-gram in either)."""
    import shutil

    base = Path(base)
    root = base / "checkpoints"
    for name, folder in make_tiny_checkpoints(base / "tiny-checkpoints").items():
        if not (root / name).exists():
            shutil.copytree(folder, root / name)
    for name in MODEL_TYPES:
        if not (root / "sherlock-words" / name / "config.json").exists():
            word_folder(root / "sherlock-words" / name, name, iters=60)
    return root


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served(folders: dict[str, Path]):
    """The app's Served records for folders (type -> checkpoint folder)."""
    from rnnlm.playground import load_folder

    return [load_folder(name, folder, f"test folder {folder}") for name, folder in folders.items()]


@contextlib.contextmanager
def serve_app(models):
    """Build the app for these Served models, serve it on a free port, yield (demo, url)."""
    import app

    demo = app.build_demo(models)
    _, url, _ = app.launch(demo, prevent_thread_lock=True, server_port=free_port(), quiet=True)
    try:
        yield demo, url
    finally:
        demo.close()


# --- the app through its API (gradio_client) ----------------------------------------------------------

PROMPT = "BRUTUS:\n"
OK = dict(length=40, temperature=0.8, top_k=0, top_p=1.0, seed="5")  # valid settings to vary one at a time


def api_generate(client, prompt=PROMPT, model="lstm", **changes):
    """(text, stats, notes) of /generate; the copies view is left out."""
    s = OK | changes
    return client.predict(model, prompt, s["length"], s["temperature"], s["top_k"], s["top_p"], s["seed"],
                          api_name="/generate")[:3]


def api_compare(client, prompt=PROMPT, **changes):
    s = OK | changes
    return client.predict(prompt, s["length"], s["temperature"], s["top_k"], s["top_p"], s["seed"], api_name="/compare")


# --- the command line in a subprocess, and crashes between file operations ---------------------------


def rnnlm(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "rnnlm", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)


class Crash(Exception):
    """Stands for a kill -9 before a file operation."""


def crash_before(monkeypatch, k: int) -> dict:
    """Make the k-th file operation of rnnlm.checkpoint (1-based) raise Crash; ops["n"] counts them."""
    ops = {"n": 0}
    for name in ("_write_new", "_replace", "_remove_tree"):
        real = getattr(checkpoint, name)

        def wrapped(*args, real=real):
            ops["n"] += 1
            if ops["n"] == k:
                raise Crash
            return real(*args)

        monkeypatch.setattr(checkpoint, name, wrapped)
    return ops


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="folder to write rnn/, lstm/ and gru/ into")
    p.add_argument("--iters", type=int, default=30, help="training steps per model")
    args = p.parse_args()
    for model_type, folder in make_tiny_checkpoints(args.out, args.iters).items():
        print(f"{model_type}: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
