"""Train the bundled Tiny Shakespeare checkpoints (RNN, LSTM, GRU and the n-gram baseline) and write their folders.

    python checkpoints/build.py --data ../shared/data/tinyshakespeare.txt              # all four
    python checkpoints/build.py --data ../shared/data/tinyshakespeare.txt --only rnn   # one
    python checkpoints/build.py --data ../shared/data/tinyshakespeare.txt --refresh-only   # figures, no training

Each model trains with the `python -m rnnlm train` command in RECIPES, into --runs/<name>/; a run
that was stopped is continued with --resume, so the script can be run again until done. Then
checkpoints/<name>/ gets: config.json + model.safetensors (the best weights), README.md (the
model card, with the novelty of 20 samples at temperatures 0.8 and 1.0: the share of their 20-character
windows found nowhere in the training text), log.jsonl (thinned), timelapse.jsonl and samples.json (final
samples at five temperatures from fixed seeds).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rnnlm import checkpoint, generate, runner, score, store  # noqa: E402
from rnnlm.card import render_card  # noqa: E402
from rnnlm.data import read_text, split  # noqa: E402
from rnnlm.memorize import Index  # noqa: E402

DATA = "../shared/data/tinyshakespeare.txt"
RECIPES = {
    "rnn": "--model rnn --hidden-size 512 --num-layers 2 --seq-len 100 --batch-size 64 --lr 2e-3 --max-iters 3000 --eval-every 250",
    "lstm": "--model lstm --hidden-size 512 --num-layers 2 --dropout 0.25 --seq-len 100 --batch-size 32 --lr 2e-3 --max-iters 4000 --eval-every 500",
    "gru": "--model gru --hidden-size 512 --num-layers 2 --dropout 0.25 --seq-len 100 --batch-size 32 --lr 2e-3 --max-iters 3000 --eval-every 500",
    "ngram": "--model ngram --prune 6",  # the order is chosen on the validation split
}
# How the bundled runs deviated from a plain run of their recipe; shown on the card.
HISTORY = {
    "lstm": "started with --max-iters 6000 and resumed at step 1,040 with --max-iters 4000 "
            "(log.jsonl's lr column shows the schedule's step); the recipe runs the 4000-step schedule throughout",
}
TIME_NOTE = "wall time on the 2-core machine while it also ran other jobs, so it overstates an idle machine's time"
TEMPERATURES = ("0.2", "0.5", "0.8", "1.0", "1.2")
SAMPLE_PROMPT, SAMPLE_SEED, SAMPLE_LENGTH = "ROMEO:", 7, 400
MAX_LOG_ROWS = 400  # train-loss rows kept in the bundled log; every validation row is kept
VAL_PROBE = 5000  # characters of the validation split scored for the card (tests re-measure it)
NOVELTY = dict(temperatures=(0.8, 1.0), samples=20, length=500, window=20)  # the cards' novelty figures


MAX_BYTES = 12 * 10**6  # a bundled model's weights file; one that would be larger is stored as float16


def small_storage(model, val_text: str) -> tuple[str | None, dict]:
    """("float16", its figure for the card) when float32 weights pass MAX_BYTES, else (None, {}).

    The figure is the change in validation loss (the whole split) that rounding to float16 makes."""
    if sum(t.nbytes for t in model.tensors().values()) <= MAX_BYTES:
        return None, {}
    import numpy as np

    run = runner(model)
    before = score(run, val_text).nats_per_char
    run.load_tensors({k: v.astype(np.float16).astype(np.float32) for k, v in run.tensors().items()})
    change = score(run, val_text).nats_per_char - before
    return "float16", {"weights_stored_as": f"float16, which changes validation loss by {change:+.1e} nats/char "
                                            "against the float32 weights (loading gives float32 again)"}


def novelty(model, train_text: str) -> dict[str, float]:
    """Per temperature, the mean fraction of a sample's 20-character windows found nowhere in the training text,
    over NOVELTY["samples"] samples of NOVELTY["length"] characters from a newline (seeds 0, 1, ...)."""
    index = Index(train_text)
    figures = {}
    for t in NOVELTY["temperatures"]:
        copied = [index.copied_fraction(generate(model, "\n", length=NOVELTY["length"], temperature=t, seed=seed),
                                        NOVELTY["window"]) for seed in range(NOVELTY["samples"])]
        figures[f"novelty_T{t:g}"] = round(1 - sum(copied) / len(copied), 4)
    return figures


def hardware() -> str:
    """CPU model and core count, e.g. 'Intel Xeon ... (2 cores)'."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores, CPU only)"


def command(name: str, data: str, runs: Path) -> list[str]:
    """The training command for a model, or its --resume form when a stopped run exists."""
    out = runs / name
    if (out / "resume" / "progress.json").is_file():
        return [sys.executable, "-m", "rnnlm", "train", "--resume", str(out)]
    return [sys.executable, "-m", "rnnlm", "train", *shlex.split(RECIPES[name]), "--data", data, "--out", str(out)]


def thin(rows: list[dict]) -> list[dict]:
    """Every validation row, and at most MAX_LOG_ROWS evenly spaced training rows."""
    train_rows = [r for r in rows if "train_loss" in r]
    keep = set(range(0, len(train_rows), max(1, len(train_rows) // MAX_LOG_ROWS)))
    kept = {id(r) for i, r in enumerate(train_rows) if i in keep or i == len(train_rows) - 1}
    return [r for r in rows if "val_loss" in r or id(r) in kept]


def bundle(name: str, data: str, runs: Path, dest: Path) -> None:
    """Write checkpoints/<name>/ from the finished run."""
    run = runs / name
    model = store.load(run)
    val_text = split(read_text(data), model.config.training.get("val_fraction", 0.1))[1]
    probe = score(model, val_text[:VAL_PROBE])
    model.config.training["data"] = "tinyshakespeare.txt"
    model.config.metrics |= dict(
        hardware=hardware(),
        val_first_5000_nats_per_char=probe.nats_per_char,
        command=f"python -m rnnlm train {RECIPES[name]} --data {DATA} --out runs/{name}",
        training_time_note=TIME_NOTE,
        **novelty(model, split(read_text(data), model.config.training.get("val_fraction", 0.1))[0]),
    )
    dtype, figures = small_storage(model, val_text)
    model.config.metrics |= figures
    if name in HISTORY:
        model.config.metrics["history"] = HISTORY[name]
    dest.mkdir(parents=True, exist_ok=True)
    samples = {t: generate(model, SAMPLE_PROMPT, length=SAMPLE_LENGTH, temperature=float(t), seed=SAMPLE_SEED)
               for t in TEMPERATURES}
    (dest / "samples.json").write_text(json.dumps(
        dict(prompt=SAMPLE_PROMPT, seed=SAMPLE_SEED, length=SAMPLE_LENGTH, samples=samples), indent=1, ensure_ascii=False) + "\n")
    rows = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l]
    (dest / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in thin(rows)))
    (dest / "timelapse.jsonl").write_text((run / "timelapse.jsonl").read_text())
    store.save(model, dest, dtype=dtype)  # config.json, model.safetensors and the card, which reads samples.json


def refresh(name: str, data: str) -> None:
    """Recompute a bundled folder's novelty figures and storage; the weights change only if stored smaller."""
    model = store.load(HERE / name)
    train_text, val_text = split(read_text(data), model.config.training.get("val_fraction", 0.1))
    model.config.metrics |= novelty(model, train_text)
    dtype, figures = small_storage(model, val_text)
    model.config.metrics |= figures
    if dtype:
        store.save(model, HERE / name, dtype=dtype)
    else:  # config.json and the card only: the weights stay byte for byte as they were
        checkpoint.write_atomic(HERE / name / checkpoint.CONFIG_NAME, checkpoint.config_text(model.config))
        checkpoint.write_atomic(HERE / name / checkpoint.CARD_NAME, render_card(model, HERE / name))
    shown = {k: v for k, v in model.config.metrics.items() if k.startswith(("novelty", "weights"))}
    print(f"{name}: {shown}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=DATA, help="path to tinyshakespeare.txt")
    p.add_argument("--runs", default="runs/bundled", help="where the training runs go")
    p.add_argument("--only", choices=sorted(RECIPES), action="append", help="build only this model (repeatable)")
    p.add_argument("--skip-train", action="store_true", help="only rebuild the folders from finished runs")
    p.add_argument("--refresh-only", action="store_true",
                   help="only recompute the bundled folders' novelty figures (and float16 storage where a weights "
                        "file passes 12 MB) and rewrite their configs and cards, without training")
    args = p.parse_args()
    runs = Path(args.runs)
    if args.refresh_only:
        for name in args.only or list(RECIPES):
            refresh(name, args.data)
        return
    for name in args.only or list(RECIPES):
        if not args.skip_train:
            cmd = command(name, args.data, runs)
            print("$", " ".join(cmd[1:]).replace(sys.executable, "python"), flush=True)
            subprocess.run(cmd, check=True, cwd=Path.cwd(), env=dict(os.environ, PYTHONPATH=str(HERE.parent)))
        bundle(name, args.data, runs, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
