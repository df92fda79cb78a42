"""A race: several model types trained on one text with equal CPU time, evaluated together every few seconds.

    plan = plan_race(text, seconds=60, models=["rnn", "lstm", "gru"])      sizes picked from budget and corpus
    result = run_race(text, plan, out)                                      out/rnn, out/lstm, out/gru

Each model is an ordinary training run (rnnlm.train.Run: best checkpoint and card, log.jsonl, resume/, every
file crash-safe) driven in turns: the model with the least CPU time so far trains next, for TURN_SECONDS of
its thread's CPU time, so all get the same share whatever their step costs. When every model has passed the
next evaluation mark, all are evaluated on the same validation text (the last 10%, its first
LIVE_VAL_CHARS characters, so an evaluation takes a fraction of a second) and sample from one fixed prompt
and seed. The x axis of the race is each model's own training CPU seconds.

The app runs a race in a child process (`python -m rnnlm.playground.race JOBDIR`, see racejobs.py): niced,
one thread, its events as JSON lines on stdout, SIGTERM to stop within a step.
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

TURN_SECONDS = 0.2  # CPU seconds a model trains before the next one takes over
LIVE_VAL_CHARS = 20_000  # validation characters scored at each evaluation: a few hundred ms for three models
SAMPLE = dict(length=160, temperature=0.8, seed=7)  # the fixed sample drawn at every evaluation
# Training settings per size preset, shared by every model; each model type's shape per preset is its
# ModelSpec.sizes. Sized so each model sees the text several times in its share of the budget on one core.
PRESETS = {
    "tiny": dict(train=dict(seq_len=32, batch_size=16, lr=4e-3)),
    "small": dict(train=dict(seq_len=64, batch_size=32, lr=3e-3)),
    "medium": dict(train=dict(seq_len=64, batch_size=32, lr=2e-3)),
}


def race_types() -> list[str]:
    """The registered model types that train by steps (not the counted n-gram)."""
    from ..models import MODELS

    return [name for name, spec in MODELS.items() if spec.fit is None]


def pick_size(seconds_each: float, chars: int) -> tuple[str, str]:
    """(preset, why): the largest preset that has the CPU time and the text to learn something."""
    if seconds_each < 40 or chars < 50_000:
        size = "tiny"
    elif seconds_each < 150 or chars < 500_000:
        size = "small"
    else:
        size = "medium"
    why = (f"{size}: {seconds_each:.0f} CPU seconds per model on {chars:,} characters "
           "(tiny below 40 s or 50k characters, small below 150 s or 500k, medium above)")
    return size, why


@dataclass
class Entry:
    """One model of a race: its type, shape and training settings."""

    name: str
    model: dict  # ModelConfig fields
    train: dict  # TrainConfig fields


@dataclass
class Plan:
    """A whole race: budget, preset, evaluation spacing, the fixed prompt, one Entry per model."""

    seconds: float  # wall-clock budget of the whole race
    size: str
    why: str
    eval_every: float  # CPU seconds of each model's training between evaluations
    prompt: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def seconds_each(self) -> float:
        return self.seconds / max(1, len(self.entries))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Plan":
        return cls(**{**d, "entries": [Entry(**e) for e in d["entries"]]})


def plan_race(text: str, seconds: float, models=None, size: str = "auto", data: str = "your text") -> Plan:
    """Sizes and settings for racing models (default: every type that trains by steps) on text for seconds."""
    from ..data import split
    from ..models import MODELS

    models = list(models or race_types())
    unknown = [m for m in models if m not in race_types()]
    if unknown or not models:
        raise ValueError(f"cannot race {', '.join(unknown) or 'nothing'}; choose from {', '.join(race_types())}")
    seconds_each = seconds / len(models)
    train_chars = len(split(text)[0])
    if size == "auto":
        size, why = pick_size(seconds_each, len(text))
    elif size in PRESETS:
        why = f"{size}: chosen by hand"
    else:
        raise ValueError(f"unknown size {size!r}; choose auto or one of {', '.join(PRESETS)}")
    preset = PRESETS[size]
    # evaluations: about 30 per race, at least 1.5 CPU seconds of training apart
    eval_every = max(1.5, seconds_each / 30)
    budget_each = seconds_each * 0.85  # the schedule's length: evaluations take the rest of the wall clock
    entries = []
    for name in models:
        shape = MODELS[name].sizes.get(size, {})
        batch = min(preset["train"]["batch_size"], max(1, train_chars // 40))  # a short text: fewer, longer streams
        train = dict(preset["train"], batch_size=batch, data=data, max_iters=None, minutes=budget_each / 60,
                     warmup_iters=20, eval_every=10**9, log_every=10**9, eval_streams=64, seed=1337)
        entries.append(Entry(name, dict(shape, dropout=0.0), train))
    return Plan(float(seconds), size, why, eval_every, fixed_prompt(text), entries)


def fixed_prompt(text: str) -> str:
    """The prompt every sample starts from: a newline, as at the start of a paragraph."""
    return "\n"


# --- running ---------------------------------------------------------------------------------------


class Racer:
    """The runs of one race and the turn-taking between them."""

    def __init__(self, text: str, plan: Plan, out: Path):
        from ..config import ModelConfig, TrainConfig
        from ..data import split
        from ..models import build_model
        from ..train import Progress, Run, new_model_config, new_run_folder
        from ..vocab import make_vocab

        self.plan, self.out = plan, Path(out)
        vocab_chars = "".join(sorted(set(text)))
        train_text, val_text = split(text)
        self.runs, self.cpu, self.points = {}, {}, {}
        for e in plan.entries:
            folder = self.out / e.name
            new_run_folder(folder)
            cfg = TrainConfig(**e.train)
            config: ModelConfig = new_model_config(e.name, vocab_chars, **e.model)
            model = build_model(config, seed=cfg.seed)
            vocab = make_vocab(model.config)
            val_ids = vocab.encode(val_text[:LIVE_VAL_CHARS])
            run = Run(folder, cfg, model, Progress(), vocab.encode(train_text), val_ids)
            run.model.config.training.update(
                race=f"trained in an rnnlm race against {', '.join(x.name for x in plan.entries if x is not e) or 'nothing'}: "
                     f"equal CPU time ({plan.seconds_each:.0f} s of a {plan.seconds:.0f} s budget each, one thread), "
                     f"preset {plan.size}",
                val_chars=len(val_ids))
            self.runs[e.name], self.cpu[e.name], self.points[e.name] = run, 0.0, []
        self.evaluations = 0

    def train_turn(self, name: str, should_stop) -> None:
        """Train one model for TURN_SECONDS of this thread's CPU time (or until asked to stop)."""
        run = self.runs[name]
        start = time.thread_time()
        while time.thread_time() - start < TURN_SECONDS and not should_stop():
            run.step()
            run.prog.seconds = self.cpu[name] + time.thread_time() - start
        self.cpu[name] = run.prog.seconds
        run.timelapse()

    def evaluate(self) -> list[dict]:
        """Every model's validation loss, mean training loss since the last evaluation and fixed sample."""
        from ..sample import generate

        rows = []
        for name, run in self.runs.items():
            train = run.log_train() if run.prog.loss_n else None
            val = run.evaluate_and_save()  # the best so far is saved with its card; resume/ is updated
            sample = generate(run.model, self.plan.prompt, **SAMPLE)
            row = dict(event="eval", model=name, seconds=round(run.prog.seconds, 2), steps=run.prog.step,
                       chars=run.prog.chars, val=val, best=run.prog.best_val, train=train, sample=sample,
                       params=run.model.num_params())
            self.points[name].append(row)
            rows.append(row)
        self.evaluations += 1
        return rows

    def run(self, on_event=lambda row: None, should_stop=lambda: False) -> bool:
        """Race until the wall-clock budget is spent or should_stop(); returns whether it was stopped."""
        deadline = time.monotonic() + self.plan.seconds
        next_mark, eval_cost = 0.0, 0.0
        while True:
            if should_stop():
                return True
            if min(self.cpu.values()) >= next_mark:
                start = time.monotonic()
                for row in self.evaluate():
                    on_event(row)
                next_mark, eval_cost = next_mark + self.plan.eval_every, time.monotonic() - start
            if time.monotonic() >= deadline - eval_cost:  # leave time for the last evaluation
                break
            behind = min(self.cpu, key=self.cpu.get)  # the model with the least CPU time so far goes next
            self.train_turn(behind, should_stop)
        if self.evaluations and any(run.prog.loss_n for run in self.runs.values()):
            for row in self.evaluate():  # the state at the end of the budget
                on_event(row)
        return False

    def summary(self) -> list[dict]:
        """One row per model: what it reached and how."""
        rows = []
        for name, run in self.runs.items():
            best = min(self.points[name], key=lambda p: p["val"]) if self.points[name] else {}
            rows.append(dict(model=name, params=run.model.num_params(), size=self.plan.size,
                             cpu_seconds=round(self.cpu[name], 1), steps=run.prog.step, chars=run.prog.chars,
                             best_val=run.prog.best_val, best_at_seconds=best.get("seconds"),
                             folder=str(run.out)))
        return rows


def run_race(text: str, plan: Plan, out, on_event=lambda row: None, should_stop=lambda: False) -> dict:
    """Race plan's models on text into out/<type>; returns {stopped, summary, points}."""
    racer = Racer(text, plan, Path(out))
    stopped = racer.run(on_event, should_stop)
    return dict(stopped=stopped, summary=racer.summary(), points=racer.points)


# --- what a race leaves: a table and a figure ----------------------------------------------------------


def table_markdown(summary: list[dict], plan: Plan) -> str:
    """The race as a Markdown table, best model first."""
    from ..models import MODELS

    lines = [f"Race: {len(summary)} models, {plan.seconds:.0f} s budget, preset {plan.why}.", "",
             "| model | parameters | CPU seconds | steps | characters seen | best val nats/char | bits/char | best at (s) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in sorted(summary, key=lambda r: r["best_val"]):
        label = MODELS[r["model"]].label if r["model"] in MODELS else r["model"]
        val = r["best_val"]
        shown = f"{val:.4f} | {val / math.log(2):.4f}" if math.isfinite(val) else "none | none"
        lines.append(f"| {label} | {r['params']:,} | {r['cpu_seconds']:.1f} | {r['steps']:,} | {r['chars']:,} | "
                     f"{shown} | {r['best_at_seconds'] if r['best_at_seconds'] is not None else ''} |")
    return "\n".join(lines) + "\n"


# --- the child process the app runs -------------------------------------------------------------------


def worker(job_dir: str) -> int:
    """Run JOBDIR/job.json's race, printing its events as JSON lines; SIGTERM stops it after the current step.

    With "--wait" for JOBDIR the process loads everything first and then reads the folder from stdin: a spare
    started ahead of time, so a race's first point does not wait for torch to load.
    """
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))  # first: a Stop during the imports is honoured too
    os.nice(10)  # other visitors' requests come first
    import torch

    from ..models import build_model  # noqa: F401 - loaded now, not in the race's time
    from ..train import Run  # noqa: F401

    torch.set_num_threads(1)
    if job_dir == "--wait":
        job_dir = sys.stdin.readline().strip()
        if not job_dir:
            return 0  # released unused
    job_dir = Path(job_dir)
    job = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))

    def emit(row: dict) -> None:
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()

    text = (job_dir / "text.txt").read_text(encoding="utf-8")
    plan = Plan.from_dict(job["plan"])
    emit(dict(event="start", pid=os.getpid()))
    result = run_race(text, plan, job_dir / "models", emit, lambda: bool(stop))
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    emit(dict(event="done", stopped=result["stopped"], summary=result["summary"], peak_rss_mb=round(peak, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1]))
