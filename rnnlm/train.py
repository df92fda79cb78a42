"""One training loop for every gradient-trained model: carried state, clipping, cosine schedule, eval, checkpoints, resume.

An output folder holds:
    config.json, model.safetensors   the best model so far (by validation loss), with its README.md card
    log.jsonl                        one JSON line per log point: step, chars, seconds, train_loss, val_loss, lr
    timelapse.jsonl                  samples from a fixed prompt and seed at milestones of the run
    resume/                          the latest state (weights, optimizer, carried state, data position, RNG)

Every file is written atomically and resume/ is swapped in whole (rnnlm.checkpoint), so a run killed at
any instant leaves a folder that samples and resumes exactly.
"""
from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checkpoint, distributed, store
from .config import ModelConfig, TrainConfig
from .data import Batches, read_text, split
from .models import build_model, spec_for
from .sample import generate
from .score import honest_bits_per_char, stream_logprobs
from .vocab import build_vocab, make_vocab

MILESTONES = (0.01, 0.05, 0.2, 0.5, 1.0)  # fractions of the run at which timelapse samples are taken
TIMELAPSE = dict(prompt="\n", length=200, temperature=0.8, seed=7)
RESUME, PROGRESS = "resume", "progress.json"  # progress.json is written last into a resume folder


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


def eval_grid(num_ids: int, streams: int) -> tuple[int, int]:
    """(S, n): evaluate() reads ids[: S * n] as S streams of n tokens and predicts ids[1 : S * n + 1]."""
    streams = max(1, min(streams, num_ids // 2))
    return streams, (num_ids - 1) // streams


def evaluate(model, ids: np.ndarray, streams: int = 16, chunk: int = 512,
             ranks: distributed.Ranks = distributed.Ranks()) -> float:
    """Mean nats/token over ids, run as `streams` contiguous streams in one batch with carried state; under
    torchrun each rank runs its share of the streams and the sums are added up."""
    streams, n = eval_grid(len(ids), streams)
    x = ids[: n * streams].reshape(streams, n)  # (S, n)
    y = ids[1 : n * streams + 1].reshape(streams, n)  # (S, n): next tokens
    if not ranks.many:
        logps, _, _ = stream_logprobs(model, x, y, model.init_state(streams), chunk)
        return float(-logps.mean())
    mine = ranks.share(streams)
    logps = np.zeros((0, n))
    if mine.stop > mine.start:
        logps, _, _ = stream_logprobs(model, x[mine], y[mine], model.init_state(mine.stop - mine.start), chunk)
    total, count = ranks.sum([float(-logps.sum()), float(logps.size)])
    return total / count


@dataclass
class ValText:
    """What the validation split costs a word model beyond its tokens' log-probabilities, per token."""

    spelling_bits: np.ndarray  # (N,) bits to spell each <unk> token (rnnlm.vocab.Spelling); 0 for the others
    chars: np.ndarray  # (N,) characters of the text each token covers: itself and the spaces before it

    @classmethod
    def of(cls, vocab, text: str) -> "ValText":
        enc = vocab.encode_text(text)
        return cls(vocab.spelling_bits(enc), np.diff(enc.ends, prepend=0))


def val_metrics(config: ModelConfig, val: float, val_ids: np.ndarray, streams: int, costs: ValText | None) -> dict:
    """The best-checkpoint figures for val nats/token: per character as well, and for words, per character of
    the text with each <unk>'s spelling paid for (so word and character models compare), perplexity, <unk> rate."""
    if costs is None or config.tokens.get("kind", "char") == "char":
        return dict(val_nats_per_char=val, val_bits_per_char=val / math.log(2))
    S, n = eval_grid(len(val_ids), streams)
    targets = slice(1, S * n + 1)  # the tokens evaluate() predicted
    bpc = honest_bits_per_char(np.full(S * n, -val), costs.spelling_bits[targets], int(costs.chars[targets].sum()))
    unk = make_vocab(config).unk_id
    return dict(val_nats_per_token=val, val_perplexity=math.exp(val),
                val_unk_rate=float((val_ids[targets] == unk).mean()),
                val_nats_per_char=bpc * math.log(2), val_bits_per_char=bpc)


class _StopFlag:
    """Ctrl-C or SIGTERM asks the loop to stop after the current step; another Ctrl-C a moment later interrupts
    at once. Signals that arrive together count as one request: under torchrun a Ctrl-C reaches each worker
    from the terminal and again forwarded by torchrun."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)
    AGAIN_AFTER = 1.0  # seconds: a Ctrl-C later than this after the first one interrupts at once

    def __init__(self):
        self.stop = False
        self._first = 0.0
        self._old = {}

    def __enter__(self):
        for sig in self.SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handler, plain KeyboardInterrupt
                pass
        return self

    def _handle(self, signum, frame):
        now = time.monotonic()
        if self.stop and signum == signal.SIGINT and now - self._first > self.AGAIN_AFTER:
            raise KeyboardInterrupt
        if not self.stop:
            self.stop, self._first = True, now

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


# --- the run's files -------------------------------------------------------------------------------


def save_resume(out: Path, model, optimizer: dict, carried: dict, progress: Progress, cfg: TrainConfig) -> None:
    """Write everything an exact resume needs to a new folder, then swap it in as out/resume/ in one step:
    the model, the trainer's tensors (optimizer), the carried state as named arrays, the progress."""
    staged = checkpoint.staging_folder(out / RESUME)
    store.save(model, staged, card=False)
    checkpoint.save_tensors(staged / "optimizer.safetensors", optimizer)
    checkpoint.save_tensors(staged / "carried.safetensors", carried)
    checkpoint.write_json(staged / PROGRESS, {"progress": vars(progress), "train": cfg.to_dict()})
    checkpoint.commit_folder(staged, out / RESUME)


def load_resume(out: Path):
    """(model, trainer tensors, carried-state tensors, progress, training settings) from out/resume/."""
    folder = checkpoint.read_folder_unit(out / RESUME, PROGRESS)
    if folder is None:
        raise FileNotFoundError(f"nothing to resume in {out}: {out / RESUME / PROGRESS} not found")
    saved = checkpoint.read_json(folder / PROGRESS)
    try:
        progress, settings = Progress(**saved["progress"]), saved["train"]
    except (KeyError, TypeError) as e:
        raise checkpoint.CheckpointError(f"{folder / PROGRESS}: not a progress file ({e})") from None
    model = store.load(folder)
    optimizer = checkpoint.load_tensors(folder / "optimizer.safetensors")
    carried = checkpoint.load_tensors(folder / "carried.safetensors")
    return model, optimizer, carried, progress, settings


def append_jsonl(path: Path, row: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def cut_jsonl(path: Path, step: int) -> None:
    """Keep the rows up to step (a killed run wrote some past its last resume point), and no torn line."""
    if not path.exists():
        return
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # half a line from a kill
        if isinstance(row, dict) and row.get("step", 0) <= step:
            rows.append(line)
    checkpoint.write_atomic(path, "".join(r + "\n" for r in rows))


def new_run_folder(out: Path) -> None:
    """Make out ready for a new run: created, any interrupted save finished, the last run's logs gone."""
    out.mkdir(parents=True, exist_ok=True)
    checkpoint.repair(out)
    for stale in ("log.jsonl", "timelapse.jsonl"):
        (out / stale).unlink(missing_ok=True)


def split_ids(text: str, config: ModelConfig, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation splits of text as the model's token ids; a clear error when too short."""
    train_text, val_text = split(text, cfg.val_fraction)
    vocab = make_vocab(config)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    if len(val_ids) < 2:
        raise ValueError(f"{cfg.data}: the validation split is empty; the corpus is too short")
    return train_ids, val_ids


def val_costs(text: str, config: ModelConfig, cfg: TrainConfig) -> ValText | None:
    """ValText of the validation split for a word model; None for characters (each one is a token)."""
    vocab = make_vocab(config)
    return ValText.of(vocab, split(text, cfg.val_fraction)[1]) if vocab.kind == "word" else None


def fill_vocab(config: ModelConfig, text: str, cfg: TrainConfig) -> None:
    """Give a new run's config its vocabulary, unless it has one: the kind config.tokens asks for, from text."""
    if not config.vocab:
        vocab = build_vocab(config.tokens, text, split(text, cfg.val_fraction)[0])
        config.vocab, config.tokens = vocab.tokens, vocab.settings()


def new_model_config(model_type: str, vocab: str | list = "", **overrides) -> ModelConfig:
    """A ModelConfig with the model type's defaults, overridden where given (None = default). tokens={"kind":
    "word", "max_size": N, "lowercase": False} asks for a word vocabulary, made when training starts."""
    fields = {k: v for k, v in spec_for(model_type).defaults.items() if k in ModelConfig.__dataclass_fields__}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return ModelConfig(model_type=model_type, vocab=vocab, **fields)


# --- the loop --------------------------------------------------------------------------------------


class Run:
    """One training session into a folder: the model, its trainer, the data walk and the progress so far.

    Under torchrun (ranks.many) every rank has a Run: each trains on its rows of the window, all agree on
    the loss, the clock and whether to stop after every step, and rank 0 alone writes files."""

    def __init__(self, out: Path, cfg: TrainConfig, model, progress: Progress, train_ids, val_ids,
                 val_text: ValText | None = None, ranks: distributed.Ranks = distributed.Ranks()):
        self.out, self.cfg, self.model, self.prog, self.ranks = out, cfg, model, progress, ranks
        self.val_ids, self.val_text = val_ids, val_text
        self.batches = Batches(train_ids, cfg.batch_size, cfg.seq_len)
        self.batches.position, self.batches.epoch = progress.position, progress.epoch
        self.rows = ranks.rows(cfg.batch_size)  # this rank's streams: all of them on one process
        model.config.training = cfg.to_dict() | {"seq_len": self.batches.seq_len}
        self.trainer = model.trainer(cfg)
        self.carried = self.fresh_state()
        self.budget = cfg.minutes * 60
        self.blowup = 3 * math.log(model.config.vocab_size) + 1  # far above a uniform guess: the run has diverged
        self.val = None

    def fresh_state(self):
        return self.model.init_state(self.rows.stop - self.rows.start)

    def fraction(self) -> float:
        """How far through the run: by steps or by time, whichever is further."""
        by_steps = self.prog.step / self.cfg.max_iters if self.cfg.max_iters else 0.0
        return max(by_steps, self.prog.seconds / self.budget) if self.budget else by_steps

    def done(self) -> bool:
        return ((self.cfg.max_iters is not None and self.prog.step >= self.cfg.max_iters)
                or bool(self.budget and self.prog.seconds >= self.budget))

    def step(self) -> float:
        """One optimizer step on the next window; returns its loss (the mean over all ranks)."""
        prog, cfg = self.prog, self.cfg
        x, y, new_pass = self.batches.next()
        if new_pass:
            self.carried = self.fresh_state()  # a new pass over the text: nothing to carry
        loss, self.carried = self.trainer.train_step(x[self.rows], y[self.rows], self.carried,
                                                     lr_at(cfg, self.fraction(), prog.step))
        if self.ranks.many:
            loss = self.ranks.sum([loss])[0] / self.ranks.world
        if not math.isfinite(loss) or loss > self.blowup:
            uniform = math.log(self.model.config.vocab_size)
            raise TrainingDiverged(
                f"loss became {loss:.4g} at step {prog.step + 1} (a uniform guess is {uniform:.2f}); "
                f"stopped. Try a lower --lr (now {cfg.lr:g}) or --grad-clip; the last good state is in {self.out}")
        prog.step += 1
        prog.chars += x.size
        prog.position, prog.epoch = self.batches.position, self.batches.epoch
        prog.loss_sum, prog.loss_n = prog.loss_sum + loss, prog.loss_n + 1
        return loss

    def agree(self, seconds: float, stop: bool) -> tuple[float, bool]:
        """The training clock and whether to stop, the same on every rank (mean clock; any rank's stop)."""
        if not self.ranks.many:
            return seconds, stop
        total, stops = self.ranks.sum([seconds, float(stop)])
        return total / self.ranks.world, stops > 0

    def log_train(self) -> float:
        """A train_loss row with the mean loss since the last one."""
        prog = self.prog
        mean = prog.loss_sum / prog.loss_n
        if self.ranks.main:
            append_jsonl(self.out / "log.jsonl", dict(step=prog.step, chars=prog.chars, seconds=round(prog.seconds, 2),
                                                      train_loss=mean, lr=lr_at(self.cfg, self.fraction(), prog.step)))
        prog.loss_sum, prog.loss_n = 0.0, 0
        return mean

    def evaluate_and_save(self) -> float:
        """Validation loss; the best model so far is saved with its card; a val_loss row; resume/ updated."""
        prog, config = self.prog, self.model.config
        self.val = val = evaluate(self.model, self.val_ids, self.cfg.eval_streams, ranks=self.ranks)
        if val < prog.best_val:
            prog.best_val, prog.best_step = val, prog.step
            config.metrics = dict(**val_metrics(config, val, self.val_ids, self.cfg.eval_streams, self.val_text),
                                  step=prog.step, chars_seen=prog.chars, train_seconds=round(prog.seconds, 1))
            if self.ranks.main:
                store.save(self.model, self.out)
        if self.ranks.main:
            append_jsonl(self.out / "log.jsonl", dict(step=prog.step, chars=prog.chars,
                                                      seconds=round(prog.seconds, 2), val_loss=val))
        self.save_resume()
        return val

    def save_resume(self) -> None:
        """out/resume/ from rank 0, with every rank's carried state (and the trainer's per-rank tensors)."""
        optimizer = self.trainer.optimizer_tensors()
        carried = self.ranks.gather(self.model.state_tensors(self.carried), axis=1)  # (L, B, H): all streams
        if self.ranks.main:
            save_resume(self.out, self.model, optimizer, carried, self.prog, self.cfg)

    def load_resume(self, optimizer: dict, carried: dict) -> None:
        """Continue from what save_resume wrote: the trainer's tensors, and this rank's rows of the carried state."""
        self.trainer.load_optimizer_tensors(optimizer)
        if self.ranks.many:
            carried = {name: v[:, self.rows] for name, v in carried.items()}  # (L, B, H) -> this rank's rows
        self.carried = self.model.state_from_tensors(carried)

    def timelapse(self) -> None:
        """A sample for every milestone of the run passed since the last one (written by rank 0)."""
        prog = self.prog
        while prog.milestone < len(MILESTONES) and self.fraction() >= MILESTONES[prog.milestone] - 1e-9:
            if self.ranks.main:
                append_jsonl(self.out / "timelapse.jsonl", dict(
                    fraction=MILESTONES[prog.milestone], step=prog.step, chars=prog.chars,
                    seconds=round(prog.seconds, 1), prompt=TIMELAPSE["prompt"], text=generate(self.model, **TIMELAPSE)))
            prog.milestone += 1

    def loop(self, progress_bar: bool, stop_at_step: int | None) -> bool:
        """Train until the run is done or stopped (Ctrl-C, SIGTERM, stop_at_step); returns whether it was
        interrupted. Under torchrun a stop on any rank stops every rank after the same step."""
        from tqdm.auto import tqdm

        prog, cfg = self.prog, self.cfg
        bar = tqdm(total=cfg.max_iters if not self.budget else None, initial=prog.step,
                   disable=not progress_bar or not self.ranks.main,
                   desc=f"train {self.model.config.model_type}", unit="step", dynamic_ncols=True)
        start, seconds_before = time.perf_counter(), prog.seconds
        try:
            with _StopFlag() as flag:
                while not self.done():
                    self.step()
                    prog.seconds, stop = self.agree(seconds_before + time.perf_counter() - start,
                                                    flag.stop or (stop_at_step is not None and prog.step >= stop_at_step))
                    if prog.step % cfg.log_every == 0:
                        mean = self.log_train()
                        bar.set_postfix(loss=f"{mean:.3f}", chars_s=f"{prog.chars / max(prog.seconds, 1e-9):,.0f}")
                    bar.update(1)
                    self.timelapse()  # before the save below, so that resume/ counts this step's samples
                    if prog.step % cfg.eval_every == 0:
                        val = self.evaluate_and_save()
                        bar.set_postfix(val=f"{val:.3f}", best=f"{prog.best_val:.3f}")
                    if stop:
                        break
        finally:
            bar.close()
        interrupted = not self.done()
        if prog.step % cfg.eval_every or prog.step == 0:
            self.evaluate_and_save()
        if not interrupted:
            self.timelapse()
            self.save_resume()
        return interrupted


def check_trainable(spec, cfg: TrainConfig, ranks: distributed.Ranks, device: str) -> None:
    """A clear error when the model type cannot train as asked: the numpy models run in float32 on one CPU process,
    and bf16 needs a CPU with bf16 instructions (or a GPU)."""
    if spec.framework == "pytorch":
        if cfg.dtype == "bf16":
            from .models.torch_rnn import bf16_missing

            why = bf16_missing(device)
            if why:
                raise ValueError(f"--dtype bf16: {why}; train with --dtype float32 (the default)")
        return
    asked = [f"--dtype {cfg.dtype}"] * (cfg.dtype != "float32") + [f"--device {device}"] * (device != "cpu")
    asked += [f"{ranks.world} processes (WORLD_SIZE={ranks.world}: torchrun)"] * ranks.many
    if asked:
        raise ValueError(f"the {spec.label} trains in {spec.framework} on one process, on the CPU, in float32; "
                         f"it cannot train with {' or '.join(asked)}")


def train(
    out: str | Path,
    cfg: TrainConfig | None = None,
    model_config: ModelConfig | None = None,
    resume: bool = False,
    overrides: dict | None = None,
    progress_bar: bool = True,
    stop_at_step: int | None = None,
    text: str | None = None,
    device: str = "cpu",
) -> dict:
    """Train into folder out, or continue the run saved there (resume=True, with overrides of its settings).

    A new run needs cfg and model_config (model_config.vocab empty: made from the text, of the kind
    model_config.tokens names: the sorted characters, or the training split's most frequent words);
    text, when given, is cfg.data's content already read. stop_at_step ends the session early as Ctrl-C
    would (for tests of exact resume). device: "cpu", "cuda" or "cuda:N" (the torch models); the saved
    files are the same from any device. Under torchrun (RANK, WORLD_SIZE set) every process calls this and
    they train together (rnnlm.distributed). Returns a summary: steps, chars, seconds, best and final val
    nats/char, and this process's rank.
    """
    out = Path(out)
    ranks = distributed.from_env()
    if not resume:
        if cfg is None or model_config is None:
            raise ValueError("a new run needs cfg and model_config")
        check_trainable(spec_for(model_config.model_type), cfg, ranks, device)
        if spec_for(model_config.model_type).fit is not None:
            return fit(out, cfg, model_config, text)
    with distributed.session(ranks, device) as ranks:
        if resume:
            if ranks.main:
                checkpoint.repair(out)
                checkpoint.repair_folder_unit(out / RESUME, PROGRESS)
            ranks.barrier()  # the others read resume/ once rank 0 has finished any interrupted save
            model, optimizer, carried, prog, saved_cfg = load_resume(out)
            cfg = TrainConfig.from_dict(saved_cfg | (overrides or {}))
            check_trainable(spec_for(model.config.model_type), cfg, ranks, device)
            if ranks.main:
                for name in ("log.jsonl", "timelapse.jsonl"):
                    cut_jsonl(out / name, prog.step)
        else:
            if text is None:
                text = read_text(cfg.data)
            model_config = ModelConfig.from_dict(model_config.to_dict())  # the run's own copy: it records metrics
            fill_vocab(model_config, text, cfg)
            if ranks.main:
                new_run_folder(out)
            model, optimizer, carried, prog = build_model(model_config, seed=cfg.seed), None, None, Progress()
        text = text if text is not None else read_text(cfg.data)
        train_ids, val_ids = split_ids(text, model.config, cfg)
        if ranks.device != "cpu":
            model.to(ranks.device)
        run = Run(out, cfg, model, prog, train_ids, val_ids, val_costs(text, model.config, cfg), ranks)
        if resume:
            run.load_resume(optimizer, carried)
        interrupted = run.loop(progress_bar, stop_at_step)
    return dict(steps=prog.step, chars=prog.chars, seconds=prog.seconds, final_val=run.val,
                best_val=prog.best_val, best_step=prog.best_step, interrupted=interrupted, out=str(out),
                tokens=model.config.tokens.get("kind", "char"), rank=ranks.rank)


def fit(out: str | Path, cfg: TrainConfig, model_config: ModelConfig, text: str | None = None) -> dict:
    """A model type that learns by counting (ModelSpec.fit): one pass over the training split, then the same
    files a stepped run leaves (best checkpoint and card, a val_loss row, a time-lapse sample)."""
    out = Path(out)
    text = read_text(cfg.data) if text is None else text
    config = ModelConfig.from_dict(model_config.to_dict())
    fill_vocab(config, text, cfg)
    train_ids, val_ids = split_ids(text, config, cfg)
    start = time.perf_counter()
    model, extra = spec_for(config.model_type).fitter()(config, train_ids, val_ids)
    val = evaluate(model, val_ids, cfg.eval_streams)
    seconds = time.perf_counter() - start
    model.config.training = {"data": cfg.data, "val_fraction": cfg.val_fraction, "eval_streams": cfg.eval_streams}
    model.config.metrics = dict(**val_metrics(model.config, val, val_ids, cfg.eval_streams, val_costs(text, config, cfg)),
                                step=0, chars_seen=len(train_ids), train_seconds=round(seconds, 1), **extra)
    new_run_folder(out)
    store.save(model, out)
    append_jsonl(out / "log.jsonl", dict(step=0, chars=len(train_ids), seconds=round(seconds, 2), val_loss=val))
    append_jsonl(out / "timelapse.jsonl", dict(fraction=1.0, step=0, chars=len(train_ids), seconds=round(seconds, 1),
                                               prompt=TIMELAPSE["prompt"], text=generate(model, **TIMELAPSE)))
    return dict(steps=0, chars=len(train_ids), seconds=seconds, final_val=val, best_val=val, best_step=0,
                interrupted=False, out=str(out), tokens=config.tokens.get("kind", "char"))
