"""Tiny checkpoints of all three models, trained in seconds, laid out like the bundled ones.

    python tests/make_tiny_checkpoints.py OUT [--iters 30] [--full-size]

OUT/rnn, OUT/lstm and OUT/gru each get config.json, model.safetensors, README.md, log.jsonl and
timelapse.jsonl (written by rnnlm.train) and samples.json (the gallery's temperature grid), so
the app and its tests exercise every tab without the real checkpoints. With --full-size --iters 1
they have the bundled models' sizes (for timing the app, not for reading).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script

from rnnlm import generate, load_model  # noqa: E402
from rnnlm.config import MODEL_TYPES, TrainConfig  # noqa: E402
from rnnlm.train import new_model_config, train  # noqa: E402
from tests.conftest import TEXT  # noqa: E402

TEMPERATURES = ("0.2", "0.5", "0.8", "1.0", "1.2")
SAMPLE_PROMPT, SAMPLE_SEED, SAMPLE_LENGTH = "\n", 7, 120


def write_samples(folder: Path) -> None:
    """samples.json in the format the gallery reads (see rnnlm.playground.gallery)."""
    model = load_model(folder)
    samples = {t: generate(model, SAMPLE_PROMPT, length=SAMPLE_LENGTH, temperature=float(t), seed=SAMPLE_SEED)
               for t in TEMPERATURES}
    doc = dict(prompt=SAMPLE_PROMPT, seed=SAMPLE_SEED, length=SAMPLE_LENGTH, samples=samples)
    (folder / "samples.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")


def make_tiny_checkpoints(root: str | Path, iters: int = 30, full_size: bool = False) -> dict[str, Path]:
    """Train (or reuse) OUT/<type> for every model type; returns type -> folder."""
    import torch

    # Tiny matrices gain nothing from a second thread, and on a busy 2-core machine threads that
    # wait for each other make training several times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _make(Path(root), iters, full_size)
    finally:
        torch.set_num_threads(threads)


def _make(root: Path, iters: int, full_size: bool) -> dict[str, Path]:
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
            tiny = {} if full_size else dict(hidden_size=32, num_layers=1, embed_size=16, dropout=0.0)
            config = new_model_config(model_type, vocab, **tiny)
            train(folder, cfg, config, progress_bar=False)
            write_samples(folder)
        folders[model_type] = folder
    return folders


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(folders: dict[str, Path]):
    """Import app.py with RNNLM_RNN/LSTM/GRU pointing at folders, serve it on a free port, yield (app, url)."""
    env = {f"RNNLM_{name.upper()}": str(folder) for name, folder in folders.items()}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = sys.modules.get("app")
        # the models are read when app.py is imported: import it again if it was made with other folders
        if app is None or any(str(app.MODELS[n].folder) != str(f) for n, f in folders.items()):
            app = importlib.reload(app) if app is not None else importlib.import_module("app")
        _, url, _ = app.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True)
        try:
            yield app, url
        finally:
            app.demo.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="folder to write rnn/, lstm/ and gru/ into")
    p.add_argument("--iters", type=int, default=30, help="training steps per model")
    p.add_argument("--full-size", action="store_true", help="the bundled models' sizes instead of 32 units")
    args = p.parse_args()
    for model_type, folder in make_tiny_checkpoints(args.out, args.iters, args.full_size).items():
        print(f"{model_type}: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
