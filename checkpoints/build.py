"""Train the bundled model sets (rnnlm.modelsets) and write their folders.

    python checkpoints/build.py                                         # Shakespeare: RNN, LSTM, GRU, n-gram
    python checkpoints/build.py --set sherlock-words                    # one set
    python checkpoints/build.py --set sherlock-words --only lstm        # one model of it
    python checkpoints/build.py --set sherlock-chars --minutes 20       # every network: 20 minutes
    python checkpoints/build.py --set alice-chars --figure              # docs/alice-dropout.png from the built set
    python checkpoints/build.py --compare                               # Sherlock: words against characters
    python checkpoints/build.py --refresh-only                          # figures only, no training
    python checkpoints/build.py --set alice-chars --minutes 0.2 --runs /tmp/runs --dest /tmp/sets   # a trial

Each model trains with the `python -m rnnlm train` command in RECIPES, on one thread (OMP, MKL and
OpenBLAS limited to one), into --runs/<set>/<name>/; so a recipe's `--minutes` is its CPU time on an idle
machine, and the models of a set (and the two Sherlock sets) get the same CPU time each. A run that was
stopped is continued with --resume, so the script can be run again until done. Then the set's folder
(rnnlm.modelsets: checkpoints/<name>/ for Shakespeare, checkpoints/<set>/<name>/ for the others) gets
config.json + model.safetensors (the best weights; float16 where that changes validation loss by less than
MAX_HALF_CHANGE nats per token, which the card states), README.md (the model card, with the novelty of 20
samples at temperatures 0.8 and 1.0: the share of their 20-character windows found nowhere in the training
text), log.jsonl (thinned), timelapse.jsonl and samples.json (samples at five temperatures from fixed seeds).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
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
from rnnlm.models import spec_for  # noqa: E402
from rnnlm.modelsets import MODEL_SETS, model_set  # noqa: E402

DATA_DIR = "../shared/data"
_WORDS = "--tokens word --vocab-size 5000 --seq-len 35 --batch-size 32"  # 5,000: the words seen twice or more, so
# the training text has <unk>s to learn from (2.5% of its tokens; 5.9% of the validation split's)
RECIPES = {
    "shakespeare-chars": {
        "rnn": "--model rnn --hidden-size 512 --num-layers 2 --seq-len 100 --batch-size 64 --lr 2e-3 --max-iters 3000 --eval-every 250",
        "lstm": "--model lstm --hidden-size 512 --num-layers 2 --dropout 0.25 --seq-len 100 --batch-size 32 --lr 2e-3 --max-iters 4000 --eval-every 500",
        "gru": "--model gru --hidden-size 512 --num-layers 2 --dropout 0.25 --seq-len 100 --batch-size 32 --lr 2e-3 --max-iters 3000 --eval-every 500",
        "ngram": "--model ngram --prune 6",  # the order is chosen on the validation split
    },
    # The Keras tutorial's LSTM (a 100-wide embedding, 150 units), the GRU at its size, and a numpy RNN whose
    # two V x H matrices fit 12 MB; 8 minutes each (the bundled runs shared the machine with other jobs). 126,246 training tokens, 8,095 distinct.
    "sherlock-words": {
        "rnn": f"--model rnn {_WORDS} --hidden-size 256 --num-layers 1 --lr 2e-3 --minutes 8 --eval-every 200",
        "lstm": f"--model lstm {_WORDS} --embed-size 100 --hidden-size 150 --num-layers 1 --dropout 0.3 --lr 3e-3 --minutes 8 --eval-every 200",
        "gru": f"--model gru {_WORDS} --embed-size 100 --hidden-size 150 --num-layers 1 --dropout 0.3 --lr 3e-3 --minutes 8 --eval-every 200",
        "ngram": "--model ngram --tokens word --vocab-size 5000 --prune 6",  # the baseline: counts, half a minute
    },
    # The same text and CPU time as sherlock-words, read one character at a time: the README's comparison.
    "sherlock-chars": {
        "rnn": "--model rnn --hidden-size 512 --num-layers 1 --seq-len 100 --batch-size 32 --lr 2e-3 --minutes 8 --eval-every 250",
        "lstm": "--model lstm --embed-size 64 --hidden-size 384 --num-layers 2 --dropout 0.25 --seq-len 100 --batch-size 32 --lr 2e-3 --minutes 8 --eval-every 250",
        "gru": "--model gru --embed-size 64 --hidden-size 384 --num-layers 2 --dropout 0.25 --seq-len 100 --batch-size 32 --lr 2e-3 --minutes 8 --eval-every 250",
        "ngram": "--model ngram --prune 6",
    },
    # 150 KB: small models, which a corpus this size can feed; the LSTM twice, to show what dropout does.
    "alice-chars": {
        "rnn": "--model rnn --hidden-size 256 --num-layers 1 --seq-len 100 --batch-size 32 --lr 2e-3 --minutes 6 --eval-every 100",
        "lstm": "--model lstm --embed-size 32 --hidden-size 256 --num-layers 2 --dropout 0.3 --seq-len 100 --batch-size 32 --lr 2e-3 --minutes 6 --eval-every 100",
        "lstm-nodropout": "--model lstm --embed-size 32 --hidden-size 256 --num-layers 2 --dropout 0 --seq-len 100 --batch-size 32 --lr 2e-3 --minutes 6 --eval-every 100",
        "gru": "--model gru --embed-size 32 --hidden-size 256 --num-layers 2 --dropout 0.3 --seq-len 100 --batch-size 32 --lr 2e-3 --minutes 6 --eval-every 100",
    },
}
# How the bundled runs deviated from a plain run of their recipe; shown on the card.
HISTORY = {
    ("shakespeare-chars", "lstm"): "started with --max-iters 6000 and resumed at step 1,040 with --max-iters 4000 "
                                   "(log.jsonl's lr column shows the schedule's step); the recipe runs the 4000-step "
                                   "schedule throughout",
}
TIME_NOTE = "wall time on the 2-core machine while it also ran other jobs, so it overstates an idle machine's time"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
TEMPERATURES = ("0.2", "0.5", "0.8", "1.0", "1.2")
SAMPLE_SEED = 7
SAMPLE_LENGTH = {"char": 400, "word": 80}  # tokens
MAX_LOG_ROWS = 400  # train-loss rows kept in the bundled log; every validation row is kept
VAL_PROBE = 5000  # characters of the validation split scored for the card (tests re-measure it)
NOVELTY = dict(temperatures=(0.8, 1.0), samples=20, length=500, window=20)  # the cards' novelty figures
MAX_BYTES = 12 * 10**6  # a bundled model's weights file
MAX_HALF_CHANGE = 0.002  # nats/token: float16 weights are kept only if validation loss moves less than this
MAX_TOTAL = 80 * 2**20  # all of checkpoints/
COMPARE = ("sherlock-words", "sherlock-chars")


def storage(model, val_text: str, prefer_half: bool) -> tuple[str | None, dict]:
    """("float16", its figure for the card) when the weights should be stored halved and may be, else (None, {}).

    Halved when float32 weights pass MAX_BYTES, or prefer_half (every set: it keeps checkpoints/ under 80 MB, and
    the compiled LSTM and GRU step reads float16 recurrent weights as they are, half the bytes per token); kept
    only when the validation loss (the whole split, nats per token) moves by less than MAX_HALF_CHANGE."""
    big = sum(t.nbytes for t in model.tensors().values()) > MAX_BYTES
    if not (big or prefer_half) or spec_for(model.config.model_type).integer_weights:  # counts stay integers
        return None, {}
    import numpy as np

    run = runner(model)
    unit = "char" if model.vocab.kind == "char" else "token"
    before = score(run, val_text).nats_per_token
    run.load_tensors({k: v.astype(np.float16).astype(np.float32) for k, v in run.tensors().items()})
    change = score(run, val_text).nats_per_token - before
    if abs(change) >= MAX_HALF_CHANGE:
        if big:
            raise SystemExit(f"float16 weights change validation loss by {change:+.1e} nats/{unit}, and float32 ones "
                             f"pass {MAX_BYTES:,} bytes: make the model smaller")
        return None, {"weights_stored_as": f"float32: float16 would change validation loss by {change:+.1e} "
                                           f"nats/{unit}, not under {MAX_HALF_CHANGE}"}
    return "float16", {"weights_stored_as": f"float16, which changes validation loss by {change:+.1e} nats/{unit} "
                                            "against the float32 weights (loading gives float32 again)"}


def novelty(model, train_text: str) -> dict[str, float]:
    """Per temperature, the mean fraction of a sample's 20-character windows found nowhere in the training text,
    over NOVELTY["samples"] samples of NOVELTY["length"] tokens from a newline (seeds 0, 1, ...)."""
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


def recipe(set_name: str, name: str, minutes: float | None = None) -> str:
    """The training flags of a model; minutes replaces its budget (--max-iters or --minutes) by that many minutes."""
    flags = RECIPES[set_name][name]
    if minutes is not None and "--model ngram" not in flags:
        flags = re.sub(r"\s*--(max-iters|minutes) \S+", "", flags) + f" --minutes {minutes:g}"
    return flags


def command(set_name: str, name: str, data: str, runs: Path, minutes: float | None = None) -> list[str]:
    """The training command for a model, or its --resume form when a stopped run exists."""
    out = runs / name
    if (out / "resume" / "progress.json").is_file():
        return [sys.executable, "-m", "rnnlm", "train", "--resume", str(out), "--no-progress"]
    return [sys.executable, "-m", "rnnlm", "train", *shlex.split(recipe(set_name, name, minutes)), "--data", data,
            "--out", str(out), "--no-progress"]


def thin(rows: list[dict]) -> list[dict]:
    """Every validation row, and at most MAX_LOG_ROWS evenly spaced training rows."""
    train_rows = [r for r in rows if "train_loss" in r]
    keep = set(range(0, len(train_rows), max(1, len(train_rows) // MAX_LOG_ROWS)))
    kept = {id(r) for i, r in enumerate(train_rows) if i in keep or i == len(train_rows) - 1}
    return [r for r in rows if "val_loss" in r or id(r) in kept]


def bundle(set_name: str, name: str, data: str, run: Path, dest: Path, minutes: float | None = None) -> None:
    """Write a set's model folder dest from the finished run."""
    s = model_set(set_name)
    model = store.load(run)
    train_text, val_text = split(read_text(data), model.config.training.get("val_fraction", 0.1))
    probe = score(model, val_text[:VAL_PROBE])
    model.config.training["data"] = s.corpus
    model.config.metrics |= dict(
        hardware=hardware(),
        val_first_5000_nats_per_char=probe.nats_per_char,
        command=f"python -m rnnlm train {recipe(set_name, name, minutes)} --data {DATA_DIR}/{s.corpus} "
                f"--out {Path('runs', s.folder, name).as_posix()}",
        training_time_note=TIME_NOTE,
        **novelty(model, train_text),
    )
    dtype, figures = storage(model, val_text, prefer_half=True)
    model.config.metrics |= figures
    if (set_name, name) in HISTORY:
        model.config.metrics["history"] = HISTORY[(set_name, name)]
    dest.mkdir(parents=True, exist_ok=True)
    length = SAMPLE_LENGTH[model.vocab.kind]
    samples = {t: generate(model, s.prompt, length=length, temperature=float(t), seed=SAMPLE_SEED) for t in TEMPERATURES}
    (dest / "samples.json").write_text(json.dumps(
        dict(prompt=s.prompt, seed=SAMPLE_SEED, length=length, samples=samples), indent=1, ensure_ascii=False) + "\n")
    rows = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l]
    (dest / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in thin(rows)))
    (dest / "timelapse.jsonl").write_text((run / "timelapse.jsonl").read_text())
    store.save(model, dest, dtype=dtype)  # config.json, model.safetensors and the card, which reads samples.json


def refresh(set_name: str, name: str, folder: Path, data: str) -> None:
    """Recompute a bundled folder's novelty figures and storage; the weights change only if stored smaller."""
    model = store.load(folder)
    train_text, val_text = split(read_text(data), model.config.training.get("val_fraction", 0.1))
    model.config.metrics |= novelty(model, train_text)
    dtype, figures = storage(model, val_text, prefer_half=True)
    model.config.metrics |= figures
    if dtype:
        store.save(model, folder, dtype=dtype)
    else:  # config.json and the card only: the weights stay byte for byte as they were
        checkpoint.write_atomic(folder / checkpoint.CONFIG_NAME, checkpoint.config_text(model.config))
        checkpoint.write_atomic(folder / checkpoint.CARD_NAME, render_card(model, folder))
    shown = {k: v for k, v in model.config.metrics.items() if k.startswith(("novelty", "weights"))}
    print(f"{set_name}/{name}: {shown}")


# --- what the README shows ---------------------------------------------------------------------------


def compare_table(root: Path, data: str) -> str:
    """Markdown: every model of the Sherlock word and character sets on the same validation text."""
    val_text = split(read_text(data))[1]
    lines = ["| set | model | tokens | val nats/token | perplexity/token | `<unk>` | val bits/char | training |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for set_name in COMPARE:
        s = model_set(set_name)
        for m, folder in s.folders(root).items():
            if not (folder / checkpoint.CONFIG_NAME).is_file():
                continue
            model = store.load(folder, inference=True)
            r = score(model, val_text)
            seconds = model.config.metrics.get("train_seconds", 0.0)
            lines.append(f"| {s.label} | {m} | {r.tokens_scored:,} | {r.nats_per_token:.4f} | {r.perplexity:.2f} | "
                         f"{r.unk_rate:.2%} | {r.bits_per_char:.4f} | {seconds / 60:.1f} min |")
    return "\n".join(lines) + "\n"


def curves_png(folders: dict[str, Path], labels: dict[str, str], title: str, train_chars: int) -> bytes:
    """Validation (solid) and training (faint) loss against passes over the training text (train_chars
    characters each), from each folder's log.jsonl: runs that shared the machine with others compare by the
    text they read, not by the seconds they took."""
    from rnnlm.playground.raceplot import race_png

    points = {}
    for name, folder in folders.items():
        rows = [json.loads(l) for l in (folder / "log.jsonl").read_text().splitlines() if l.strip()]
        train = [r for r in rows if "train_loss" in r]
        points[name] = [dict(seconds=r["chars"] / train_chars, val=r["val_loss"],
                             train=min(train, key=lambda t: abs(t["step"] - r["step"]))["train_loss"] if train else None)
                        for r in rows if "val_loss" in r]
    return race_png(points, labels, title, x_label="passes over the training text (epochs)")


def total_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", default="shakespeare-chars", choices=list(MODEL_SETS), help="the model set to build")
    p.add_argument("--data", help=f"the set's corpus (default: {DATA_DIR}/<its file>)")
    p.add_argument("--runs", default="runs/bundled", help="where the training runs go: <runs>/<model> for the "
                   "Shakespeare set, <runs>/<set>/<model> for the others")
    p.add_argument("--dest", default=str(HERE), help="where the set's folders go (default: checkpoints/)")
    p.add_argument("--only", action="append", help="build only this model of the set (repeatable)")
    p.add_argument("--minutes", type=float, help="train each network for this many minutes (one thread) instead of "
                   "its recipe's budget")
    p.add_argument("--skip-train", action="store_true", help="only rebuild the folders from finished runs")
    p.add_argument("--refresh-only", action="store_true",
                   help="only recompute the set's novelty figures (and float16 storage) and rewrite configs and cards")
    p.add_argument("--figure", action="store_true", help="alice-chars: draw docs/alice-dropout.png, the validation "
                   "curves of the built LSTM with and without dropout; no training")
    p.add_argument("--compare", action="store_true", help="print the table of the Sherlock word and character "
                   "models (under --dest) on the same validation text, and write it to docs/sherlock-words-vs-chars.md "
                   "(beside them for another --dest); no training")
    args = p.parse_args()
    s = model_set(args.set)
    dest = Path(args.dest).resolve()
    if args.compare:
        table = compare_table(dest, args.data or f"{DATA_DIR}/sherlock.txt")
        out = HERE.parent / "docs" if dest == HERE else dest  # a trial's table stays beside its folders
        (out / "sherlock-words-vs-chars.md").write_text(table, encoding="utf-8")
        print(table)
        return
    data = args.data or f"{DATA_DIR}/{s.corpus}"
    names = args.only or list(RECIPES[s.name])
    unknown = sorted(set(names) - set(RECIPES[s.name]))
    if unknown:
        p.error(f"the {s.name} set has no model {', '.join(unknown)}; it has {', '.join(RECIPES[s.name])}")
    folders = s.folders(dest)
    if args.figure:
        if s.name != "alice-chars":
            p.error("--figure draws the Alice set's dropout figure: give --set alice-chars")
        shown = {m: folders[m] for m in ("lstm", "lstm-nodropout")}
        train_chars = len(split(read_text(data), 0.1)[0])
        png = curves_png(shown, {"lstm": "LSTM, dropout 0.3", "lstm-nodropout": "LSTM, no dropout"},
                         "Alice, characters: validation (solid) and training (faint) loss, bits/char", train_chars)
        out = HERE.parent / "docs" / "alice-dropout.png" if dest == HERE else dest / "alice-dropout.png"  # a trial: beside it
        out.write_bytes(png)
        print(f"wrote {out}")
        return
    if args.refresh_only:
        for name in names:
            refresh(s.name, name, folders[name], data)
        return
    runs = Path(args.runs) / s.folder
    for name in names:
        if not args.skip_train:
            cmd = command(s.name, name, data, runs, args.minutes)
            print("$ python", " ".join(cmd[1:]), flush=True)
            env = dict(os.environ, PYTHONPATH=str(HERE.parent), **ONE_THREAD)
            subprocess.run(cmd, check=True, cwd=Path.cwd(), env=env)
        bundle(s.name, name, data, runs / name, folders[name], args.minutes)
        print(f"wrote {folders[name]}")
    size = total_size(dest)
    print(f"{dest} holds {size / 2**20:.1f} MB" + (f": more than {MAX_TOTAL / 2**20:.0f} MB" if size > MAX_TOTAL else ""))


if __name__ == "__main__":
    main()
