"""One training loop for all three models: carried state, clipping, cosine schedule, eval, checkpoints, resume.

An output folder holds:
    config.json, model.safetensors   the best model so far (by validation loss)
    log.jsonl                        one JSON line per log point: step, chars, seconds, train_loss, val_loss, lr
    timelapse.jsonl                  samples from a fixed prompt and seed at milestones of the run
    resume/                          the latest state (weights, optimizer, carried state, data position, RNG)
"""
from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checkpoint
from .config import DEFAULTS, ModelConfig, TrainConfig
from .data import Batches, read_text, split
from .models import build_model
from .sample import generate
from .score import log_softmax
from .vocab import Vocab

MILESTONES = (0.01, 0.05, 0.2, 0.5, 1.0)  # fractions of the run at which timelapse samples are taken
TIMELAPSE = dict(prompt="\n", length=200, temperature=0.8, seed=7)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or blew up."""


@dataclass
class Progress:
    """Everything besides tensors that an exact resume needs."""

    step: int = 0
    chars: int = 0
    seconds: float = 0.0  # training wall time so far, summed over resumed sessions
    position: int = 0  # data position (next window's first column)
    epoch: int = 0
    best_val: float = math.inf
    best_step: int = 0
    milestone: int = 0  # index into MILESTONES of the next timelapse sample
    loss_sum: float = 0.0  # training losses since the last log row
    loss_n: int = 0


def lr_at(cfg: TrainConfig, fraction: float, step: int) -> float:
    """Linear warmup, then cosine decay from lr to lr * min_lr_ratio over the run."""
    if step < cfg.warmup_iters:
        return cfg.lr * (step + 1) / cfg.warmup_iters
    cos = 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cos)


def evaluate(model, ids: np.ndarray, streams: int = 16, chunk: int = 512) -> float:
    """Mean nats/char over ids, run as `streams` contiguous streams in one batch with carried state."""
    streams = max(1, min(streams, len(ids) // 2))
    n = (len(ids) - 1) // streams
    x = ids[: n * streams].reshape(streams, n)  # (S, n)
    y = ids[1 : n * streams + 1].reshape(streams, n)  # (S, n): next characters
    state, total = model.init_state(streams), 0.0
    for p in range(0, n, chunk):
        logits, state = model.forward(x[:, p : p + chunk], state)  # (S, t, V)
        lp = log_softmax(logits.astype(np.float64))  # (S, t, V)
        total -= np.take_along_axis(lp, y[:, p : p + chunk, None], axis=-1).sum()
    return float(total / (n * streams))


class _StopFlag:
    """Ctrl-C asks the loop to stop after the current step; a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.stop = False
        self._old = None

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no handler, plain KeyboardInterrupt
            self._old = None
        return self

    def _handle(self, signum, frame):
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def save_resume(out: Path, model, trainer, carried, progress: Progress, cfg: TrainConfig) -> None:
    """Write everything an exact resume needs to out/resume/."""
    d = out / "resume"
    d.mkdir(parents=True, exist_ok=True)
    checkpoint.save(model, d)
    checkpoint.save_tensors(d / "optimizer.safetensors", trainer.optimizer_tensors())
    checkpoint.save_tensors(d / "carried.safetensors", model.state_tensors(carried))
    (d / "progress.json").write_text(json.dumps({"progress": vars(progress), "train": cfg.to_dict()}, indent=1))


def load_resume(out: Path):
    """The model, progress, carried-state tensors and training settings saved in out/resume/."""
    d = out / "resume"
    if not (d / "progress.json").is_file():
        raise FileNotFoundError(f"nothing to resume in {out}: {d / 'progress.json'} not found")
    saved = json.loads((d / "progress.json").read_text())
    model = checkpoint.load(d)
    return model, Progress(**saved["progress"]), checkpoint.load_tensors(d / "carried.safetensors"), saved["train"]


def _append_log(path: Path, row: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows past step (written after the last resume point by a run that was killed)."""
    if path.exists():
        rows = [l for l in path.read_text(encoding="utf-8").splitlines() if l and json.loads(l)["step"] <= step]
        path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")


def new_model_config(model_type: str, vocab: str, **overrides) -> ModelConfig:
    """A ModelConfig with the per-model defaults, overridden where given (None = default)."""
    fields = {k: v for k, v in DEFAULTS[model_type].items() if k in ModelConfig.__dataclass_fields__}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return ModelConfig(model_type=model_type, vocab=vocab, **fields)


def train(
    out: str | Path,
    cfg: TrainConfig | None = None,
    model_config: ModelConfig | None = None,
    resume: bool = False,
    overrides: dict | None = None,
    progress_bar: bool = True,
    stop_at_step: int | None = None,
) -> dict:
    """Train into folder out, or continue the run saved there (resume=True, with overrides of its settings).

    stop_at_step ends the session early as Ctrl-C would (for tests of exact resume).
    Returns a summary: steps, chars, seconds, best and final val nats/char.
    """
    out = Path(out)
    if resume:
        model, prog, carried_tensors, saved_cfg = load_resume(out)
        cfg = TrainConfig.from_dict(saved_cfg | (overrides or {}))
        _truncate_log(out / "log.jsonl", prog.step)
    else:
        if cfg is None or model_config is None:
            raise ValueError("a new run needs cfg and model_config")
        out.mkdir(parents=True, exist_ok=True)
        for stale in ("log.jsonl", "timelapse.jsonl"):
            (out / stale).unlink(missing_ok=True)
        model, prog, carried_tensors = build_model(model_config, seed=cfg.seed), Progress(), None
    config = model.config
    text = read_text(cfg.data)
    train_text, val_text = split(text, cfg.val_fraction)
    vocab = Vocab(config.vocab)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    if len(val_ids) < 2:
        raise ValueError(f"{cfg.data}: the validation split is empty; the corpus is too short")
    batches = Batches(train_ids, cfg.batch_size, cfg.seq_len)
    batches.position, batches.epoch = prog.position, prog.epoch
    config.training = cfg.to_dict() | {"seq_len": batches.seq_len}
    trainer = model.trainer(cfg)
    if resume:
        trainer.load_optimizer_tensors(checkpoint.load_tensors(out / "resume" / "optimizer.safetensors"))
        carried = model.state_from_tensors(carried_tensors)
    else:
        carried = model.init_state(cfg.batch_size)

    budget = cfg.minutes * 60
    chars_per_step = cfg.batch_size * batches.seq_len
    blowup = 3 * math.log(len(vocab)) + 1  # far above a uniform guess: the run has diverged
    log_path, lapse_path = out / "log.jsonl", out / "timelapse.jsonl"

    def fraction() -> float:
        f = prog.step / cfg.max_iters
        return max(f, prog.seconds / budget) if budget else f

    def evaluate_and_save(final: bool = False) -> float:
        val = evaluate(model, val_ids, cfg.eval_streams)
        if val < prog.best_val:
            prog.best_val, prog.best_step = val, prog.step
            config.metrics = dict(
                val_nats_per_char=val, val_bits_per_char=val / math.log(2),
                step=prog.step, chars_seen=prog.chars, train_seconds=round(prog.seconds, 1),
            )
            checkpoint.save(model, out)
        _append_log(log_path, dict(step=prog.step, chars=prog.chars, seconds=round(prog.seconds, 2), val_loss=val))
        save_resume(out, model, trainer, carried, prog, cfg)
        return val

    def timelapse() -> None:
        while prog.milestone < len(MILESTONES) and fraction() >= MILESTONES[prog.milestone] - 1e-9:
            sample = generate(model, **TIMELAPSE)
            _append_log(lapse_path, dict(
                fraction=MILESTONES[prog.milestone], step=prog.step, chars=prog.chars,
                seconds=round(prog.seconds, 1), prompt=TIMELAPSE["prompt"], text=sample,
            ))
            prog.milestone += 1

    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.max_iters if not budget else None, initial=prog.step, disable=not progress_bar,
               desc=f"train {config.model_type}", unit="step", dynamic_ncols=True)
    val = None
    session_start, seconds_before = time.perf_counter(), prog.seconds
    with _StopFlag() as flag:
        while prog.step < cfg.max_iters and not (budget and prog.seconds >= budget):
            x, y, new_pass = batches.next()
            if new_pass:
                carried = model.init_state(cfg.batch_size)  # a new pass over the text: nothing to carry
            loss, carried = trainer.train_step(x, y, carried, lr_at(cfg, fraction(), prog.step))
            if not math.isfinite(loss) or loss > blowup:
                bar.close()
                raise TrainingDiverged(
                    f"loss became {loss:.4g} at step {prog.step + 1} (a uniform guess is {math.log(len(vocab)):.2f}); "
                    f"stopped. Try a lower --lr (now {cfg.lr:g}) or --grad-clip; the last good state is in {out}"
                )
            prog.step += 1
            prog.chars += chars_per_step
            prog.position, prog.epoch = batches.position, batches.epoch
            prog.seconds = seconds_before + time.perf_counter() - session_start
            prog.loss_sum, prog.loss_n = prog.loss_sum + loss, prog.loss_n + 1
            if prog.step % cfg.log_every == 0:
                mean = prog.loss_sum / prog.loss_n
                _append_log(log_path, dict(step=prog.step, chars=prog.chars, seconds=round(prog.seconds, 2),
                                           train_loss=mean, lr=lr_at(cfg, fraction(), prog.step)))
                bar.set_postfix(loss=f"{mean:.3f}", chars_s=f"{prog.chars / max(prog.seconds, 1e-9):,.0f}")
                prog.loss_sum, prog.loss_n = 0.0, 0
            bar.update(1)
            if prog.step % cfg.eval_every == 0:
                val = evaluate_and_save()
                bar.set_postfix(val=f"{val:.3f}", best=f"{prog.best_val:.3f}")
            timelapse()
            if flag.stop or (stop_at_step is not None and prog.step >= stop_at_step):
                break
        bar.close()
        interrupted = prog.step < cfg.max_iters and not (budget and prog.seconds >= budget)
        if prog.step % cfg.eval_every or prog.step == 0:
            val = evaluate_and_save()
        if not interrupted:
            timelapse()
            save_resume(out, model, trainer, carried, prog, cfg)
    return dict(
        steps=prog.step, chars=prog.chars, seconds=prog.seconds, final_val=val,
        best_val=prog.best_val, best_step=prog.best_step, interrupted=interrupted, out=str(out),
    )
