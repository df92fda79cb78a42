"""Races for the app's visitors: input checks, a one-at-a-time queue, per-session models, zip and Hub push.

    server = RaceServer()                      one per app process: one race trains at a time
    job = server.submit(session, text, 60)     checked first (InputError); queued; runs in a child process
    job.snapshot()                             state, queue position and wait, curve points, samples
    server.stop(session)                       within a second; the best checkpoints so far are kept
    server.sessions.get(session)               the finished race's models (Served), freed after SESSION_TTL

A race runs in its own process (race.py's worker): niced, one thread, so the server's other requests keep
answering; its memory is bounded by refusing, before training, a text whose estimated peak exceeds
Limits.memory_mb. Nothing here knows Gradio.
"""
from __future__ import annotations

import collections
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..hub import FOLDER_FILES, HubError, HubRef, hub_errors, redact
from .inputs import InputError
from .loading import Served, load_folder
from .race import PRESETS, Plan, plan_race, race_types

STARTUP_SECONDS = 4.0  # a race's process start (imports) before its first evaluation, for wait estimates


@dataclass(frozen=True)
class Limits:
    """What one race may ask for. The defaults are the app's; tests shorten the budgets."""

    min_seconds: float = 30
    max_seconds: float = 600
    default_seconds: float = 60
    min_chars: int = 500  # below this the last 10% is too short to say anything
    max_bytes: int = 5_000_000  # 5 MB of UTF-8
    memory_mb: int = 1536  # estimated peak of a race's process; a text that would need more is refused
    max_waiting: int = 8  # races queued behind the running one; more are refused
    session_ttl: float = 3600.0  # a session's models are freed this long after they were trained


# --- input checks ----------------------------------------------------------------------------------


def read_upload(path, max_bytes: int = Limits.max_bytes) -> str:
    """The text of an uploaded file: refused (InputError) when too large, binary or not UTF-8."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:g} MB of text. "
                         "Upload a part of it.")
    return decode(path.read_bytes(), path.name)


def decode(data: bytes, name: str = "the text") -> str:
    """UTF-8 bytes as text (a BOM dropped, Windows newlines made plain); InputError for binary data."""
    if b"\x00" in data[:1_000_000]:
        raise InputError(f"{name} looks binary (it holds NUL bytes), not text: upload a UTF-8 .txt file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{name} is not UTF-8 text (byte {e.start:,} cannot be read): save it as UTF-8 and "
                         "upload it again.") from None
    return text.replace("\r\n", "\n")


def check_text(text, limits: Limits) -> str:
    """text when a race can train on it; InputError naming the problem otherwise."""
    if text is None or not isinstance(text, str):
        raise InputError("Give a text to train on: paste it or upload a .txt file.")
    if not text.strip():
        raise InputError("The text is empty: paste some text or upload a .txt file.")
    if "\x00" in text:
        raise InputError("The text holds NUL characters, as binary files do: give plain UTF-8 text.")
    size = len(text.encode("utf-8"))
    if size > limits.max_bytes:
        raise InputError(f"The text is {size / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:g} MB.")
    if len(text) < limits.min_chars:
        raise InputError(f"The text has {len(text):,} characters; give at least {limits.min_chars:,} (a few "
                         "paragraphs), so that its last 10% can measure how well the models predict it.")
    return text


def check_seconds(seconds, limits: Limits) -> float:
    """The time budget in seconds, within the limits; InputError otherwise."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise InputError(f"The time budget must be a number of seconds, got {str(seconds)[:40]!r}.") from None
    if not math.isfinite(value) or not limits.min_seconds <= value <= limits.max_seconds:
        shown = f"{value / 3600:g} hours" if math.isfinite(value) and value >= 3600 else f"{value:g} s"
        raise InputError(f"The time budget must be from {limits.min_seconds:g} s to {limits.max_seconds / 60:g} min; "
                         f"got {shown}.")
    return value


def check_models(models) -> list[str]:
    """The chosen model types (names or labels), at least one; InputError otherwise."""
    from ..models import MODELS

    if isinstance(models, str):
        models = [m for m in re.split(r"[,\s]+", models) if m]
    known = {n: n for n in race_types()} | {MODELS[n].label.lower(): n for n in race_types()}
    chosen = []
    for m in models or []:
        name = known.get(str(m).strip().lower())
        if name is None:
            raise InputError(f"unknown model {str(m)[:40]!r}; choose from {', '.join(race_types())}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InputError("Choose at least one model to train.")
    return chosen


def estimate_mb(text: str, plan: Plan) -> float:
    """A race process' estimated peak memory in MB: the runtime, the text's copies, weights, optimizer and
    checkpoint copies, and one batch's activations (the output layer's grow with the vocabulary)."""
    vocab = len(set(text))
    total = 400e6  # python, numpy and torch loaded (measured 330 MB)
    total += 40 * len(text)  # the text as str (up to 4 bytes a char) and its id arrays (int64, a few copies)
    for e in plan.entries:
        h, layers = e.model["hidden_size"], e.model["num_layers"]
        params = 4 * h * (h + e.model.get("embed_size", h)) * layers + h * vocab * 2 + vocab * e.model.get("embed_size", 0)
        activations = e.train["batch_size"] * e.train["seq_len"] * (vocab * 4 + 8 * h * layers)
        total += 4 * (8 * params + 4 * activations)
    return total / 1e6


# --- jobs and the queue ----------------------------------------------------------------------------


@dataclass
class Job:
    """One visitor's race: queued, running, then done, stopped, failed or cancelled."""

    session: str
    folder: Path
    plan: Plan
    name: str  # a short name for the text (file stem or "text"), used in Hub repo names
    vocab_size: int = 0
    state: str = "queued"
    points: dict = field(default_factory=dict)  # model -> list of eval rows
    summary: list = field(default_factory=list)
    message: str = ""
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    first_point: float | None = None  # seconds from submit to the first curve point
    ended: float | None = None
    peak_rss_mb: float | None = None
    proc: subprocess.Popen | None = None
    stop_asked: bool = False
    settled: bool = False  # finished, and its models handed to its session (or its folder removed)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "failed", "cancelled")

    @property
    def models_folder(self) -> Path:
        return self.folder / "models"

    def remaining(self) -> float:
        """Seconds this job still needs, as far as a queue can tell."""
        if self.finished:
            return 0.0
        if self.started is None:
            return self.plan.seconds + STARTUP_SECONDS
        return max(0.0, self.plan.seconds + STARTUP_SECONDS - (time.monotonic() - self.started))


class RaceServer:
    """One race trains at a time; the others wait in order. Also the sessions' finished models."""

    def __init__(self, limits: Limits = Limits(), root: str | os.PathLike | None = None):
        self.limits = limits
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="rnnlm-races-"))
        self.sessions = Sessions(limits.session_ttl)
        self._lock = threading.Condition()
        self._queue: collections.deque[Job] = collections.deque()
        self._running: Job | None = None
        self._jobs: dict[str, Job] = {}  # session -> its latest job
        self._count = 0
        self._thread: threading.Thread | None = None
        self._spare: subprocess.Popen | None = None  # a race process loaded ahead, waiting for a job

    # the visitor's side

    def submit(self, session: str, text, seconds, models=None, size: str = "auto", name: str = "text") -> Job:
        """Check the inputs and queue a race for session; InputError when anything is wrong or it has one."""
        limits = self.limits
        seconds = check_seconds(seconds, limits)
        text = check_text(text, limits)
        models = check_models(models if models is not None else race_types())
        if size not in ("auto", *PRESETS):
            raise InputError(f"unknown size {str(size)[:20]!r}; choose auto, {', '.join(PRESETS)}")
        plan = plan_race(text, seconds, models, size, data=f"{slug(name)}.txt")
        need = estimate_mb(text, plan)
        if need > limits.memory_mb:
            raise InputError(f"This text would need about {need:,.0f} MB to train on ({len(set(text)):,} distinct "
                             f"characters, {len(text):,} in all); a race may use {limits.memory_mb:,} MB. "
                             "Use a shorter text, fewer distinct characters, or a smaller size.")
        self.sessions.sweep()
        with self._lock:
            mine = self._jobs.get(session)
            if mine is not None and not mine.finished:
                where = "is training now" if mine.state == "running" else f"is waiting (position {self.position(mine)})"
                raise InputError(f"Your race {where}: wait for it, or press Stop, before starting another.")
            if len(self._queue) >= limits.max_waiting:
                raise InputError(f"{len(self._queue)} races are waiting already; try again in a few minutes.")
            self._count += 1
            folder = self.root / f"job-{self._count}"
            folder.mkdir(parents=True)
            (folder / "text.txt").write_text(text, encoding="utf-8")
            (folder / "job.json").write_text(json.dumps({"plan": plan.to_dict()}), encoding="utf-8")
            job = Job(session, folder, plan, slug(name), len(set(text)))
            self._jobs[session] = job
            self._queue.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="races", daemon=True)
                self._thread.start()
            self._lock.notify_all()
        return job

    def job(self, session: str) -> Job | None:
        return self._jobs.get(session)

    def position(self, job: Job) -> int:
        """1 for the next race to start, 2 behind it...; 0 when it is not waiting."""
        with self._lock:
            return list(self._queue).index(job) + 1 if job in self._queue else 0

    def wait_seconds(self, job: Job) -> float:
        """Expected seconds until job starts: the running race's rest and every race ahead of it."""
        with self._lock:
            if job not in self._queue:
                return 0.0
            ahead = list(self._queue)[: list(self._queue).index(job)]
            return sum(j.remaining() for j in ([self._running] if self._running else []) + ahead)

    def stop(self, session: str) -> Job | None:
        """Stop session's race: a waiting one leaves the queue, a running one stops after its current step."""
        with self._lock:
            job = self._jobs.get(session)
            if job is None or job.finished:
                return job
            job.stop_asked = True
            if job in self._queue:
                self._queue.remove(job)
                job.state, job.ended, job.message = "cancelled", time.monotonic(), "Stopped before it started."
                job.settled = True
                shutil.rmtree(job.folder, ignore_errors=True)
            elif job.proc is not None and job.proc.poll() is None:
                # before its first evaluation a race has nothing to keep: end it at once (it may be loading torch)
                job.proc.send_signal(signal.SIGTERM if job.points else signal.SIGKILL)
            self._lock.notify_all()
        return job

    def end_session(self, session: str) -> None:
        """The visitor left: stop their race and free their models."""
        self.stop(session)
        self.sessions.free(session)

    def wait(self, job: Job, timeout: float) -> bool:
        """Block until job has finished and settled (its models handed over) or timeout; returns whether it has."""
        end = time.monotonic() + timeout
        with self._lock:
            while not job.settled and time.monotonic() < end:
                self._lock.wait(min(0.2, max(0.0, end - time.monotonic())))
            return job.settled

    # the queue's side

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    if not self._lock.wait(60):
                        self._thread = None
                        self._release_spare()
                        return  # idle a minute: the thread ends; the next submit starts another
                job = self._running = self._queue.popleft()
                job.state, job.started = "running", time.monotonic()
            try:
                self._run(job)
            except Exception as e:  # noqa: BLE001 - one race's failure must not stop the queue
                job.state, job.message = "failed", f"The race failed: {redact(e)}"
            finally:
                with self._lock:
                    self._running, job.ended = None, time.monotonic()
                    self._finish(job)
                    job.settled = True
                    self._lock.notify_all()
                self.warm()  # for the next race

    def _release_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None and spare.poll() is None:
            spare.stdin.close()  # an empty line: it exits
            try:
                spare.wait(5)
            except subprocess.TimeoutExpired:
                spare.kill()

    def close(self) -> None:
        """Stop every race and the spare process (tests, shutdown)."""
        with self._lock:
            sessions = list(self._jobs)
            for job in list(self._queue):
                self.stop(job.session)
            self._release_spare()
        for s in sessions:
            self.stop(s)

    def _spawn(self) -> subprocess.Popen:
        """A race process that loads its libraries, then waits for a job folder on stdin."""
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                            os.environ.get("PYTHONPATH")])))
        return subprocess.Popen([sys.executable, "-m", "rnnlm.playground.race", "--wait"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.PIPE, env=env, text=True, encoding="utf-8")

    def warm(self) -> None:
        """Start the spare race process now (the app does when the Train tab is used), so the first race's
        first point comes without waiting for torch to load."""
        with self._lock:
            if self._spare is None or self._spare.poll() is not None:
                self._spare = self._spawn()

    def _run(self, job: Job) -> None:
        """The race's child process (the spare, if one is ready), its events read into job as they come."""
        with self._lock:
            if job.stop_asked:
                job.state = "stopped"
                return
            spare, self._spare = self._spare, None
            job.proc = spare if spare is not None and spare.poll() is None else self._spawn()
            job.proc.stdin.write(str(job.folder) + "\n")
            job.proc.stdin.close()
        watchdog = threading.Timer(job.plan.seconds + 120, job.proc.kill)  # a hung race cannot hold the queue
        watchdog.daemon = True
        watchdog.start()
        errors: list[str] = []
        drain = threading.Thread(target=lambda: errors.extend(job.proc.stderr), daemon=True)
        drain.start()
        done = None
        for line in job.proc.stdout:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("event") == "eval":
                with self._lock:
                    job.points.setdefault(row["model"], []).append(row)
                    if job.first_point is None:
                        job.first_point = time.monotonic() - job.submitted
                    self._lock.notify_all()
            elif row.get("event") == "done":
                done = row
        job.proc.wait()
        watchdog.cancel()
        drain.join(5)
        if done is not None:
            job.summary, job.peak_rss_mb = done["summary"], done.get("peak_rss_mb")
            job.state = "stopped" if done["stopped"] else "done"
        elif job.stop_asked:
            job.state = "stopped"
        else:
            tail = "".join(errors).strip().splitlines()[-1:] or [f"exit status {job.proc.returncode}"]
            job.state, job.message = "failed", f"The race failed: {redact(tail[0])[:300]}"

    def _finish(self, job: Job) -> None:
        """The models a finished race left become its session's; a race that left none leaves no folder."""
        folders = {}
        if job.state in ("done", "stopped", "failed"):
            folders = {e.name: job.models_folder / e.name for e in job.plan.entries
                       if (job.models_folder / e.name / "config.json").is_file()}
        if not folders:
            shutil.rmtree(job.folder, ignore_errors=True)
            if job.state == "stopped":
                job.message = "Stopped before the first evaluation: nothing to keep."
            return
        served = [load_folder(name, folder, f"trained on your text in this session ({job.name}, "
                                            f"{job.plan.seconds:.0f} s race, preset {job.plan.size})")
                  for name, folder in folders.items()]
        self.sessions.put(job.session, job, [s for s in served if s.available])


# --- sessions --------------------------------------------------------------------------------------


@dataclass
class Session:
    """A visitor's trained models, with the race they came from."""

    job: Job
    served: list[Served]
    created: float = field(default_factory=time.monotonic)
    view: object = None  # the app's per-session view over served, made when first used


class Sessions:
    """session id -> Session; freed after ttl seconds or when the visitor leaves (their folders deleted)."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def put(self, session: str, job: Job, served: list[Served]) -> None:
        with self._lock:
            old = self._by_id.pop(session, None)
            self._by_id[session] = Session(job, served)
        if old is not None and old.job.folder != job.folder:
            shutil.rmtree(old.job.folder, ignore_errors=True)

    def get(self, session: str) -> Session | None:
        self.sweep()
        with self._lock:
            return self._by_id.get(session)

    def free(self, session: str) -> None:
        with self._lock:
            gone = self._by_id.pop(session, None)
        if gone is not None:
            shutil.rmtree(gone.job.folder, ignore_errors=True)

    def sweep(self) -> None:
        """Free every session older than ttl."""
        now = time.monotonic()
        with self._lock:
            old = [s for s, v in self._by_id.items() if now - v.created > self.ttl]
        for s in old:
            self.free(s)

    def __len__(self) -> int:
        return len(self._by_id)


# --- taking the models away ------------------------------------------------------------------------


def slug(name: str) -> str:
    """A name fit for a Hub repo: 'My Text (2).txt' -> 'my-text-2'."""
    stem = Path(str(name)).stem if "." in str(name) else str(name)
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40] or "text"


def zip_models(job: Job, extra: dict[str, bytes] | None = None) -> Path:
    """One zip of the race's checkpoint folders (the files push uploads: config, weights, card, logs) and
    extra files (the figure, the table), written under a temporary name and moved into place."""
    path = job.folder / f"rnnlm-{job.name}.zip"
    partial = path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
        for e in job.plan.entries:
            folder = job.models_folder / e.name
            for name in FOLDER_FILES:
                if (folder / name).is_file():
                    z.write(folder / name, f"{e.name}/{name}")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    os.replace(partial, path)
    return path


def proposed_repos(user: str, name: str, models) -> dict[str, str]:
    """model type -> 'user/rnnlm-<name>-<model>'."""
    return {m: f"{user}/rnnlm-{slug(name)}-{m}" for m in models}


def whoami(token: str) -> tuple[str, set[str], str]:
    """(user name, namespaces the token may write to, role) for a token; HubError when the Hub refuses it."""
    from huggingface_hub import HfApi

    with hub_errors(HubRef("whoami")):
        info = HfApi(token=token).whoami()
    role = ((info.get("auth") or {}).get("accessToken") or {}).get("role", "")
    orgs = {o.get("name") for o in info.get("orgs") or [] if o.get("name")}
    return info["name"], {info["name"], *orgs}, role


def push_models(job: Job, token: str, owner: str | None = None, private: bool = True) -> dict[str, str]:
    """Push each model folder of job to owner/rnnlm-<name>-<model>; model type -> commit URL.

    The token is checked first (whoami): a read-only token or an owner it cannot write to is refused before
    anything is created. It is passed to huggingface_hub and nowhere else; messages are redacted.
    """
    from ..hub import push

    if not token or not str(token).strip():
        raise InputError("Pushing needs a Hugging Face token with write access: sign in, paste one, or set HF_TOKEN.")
    token = str(token).strip()
    user, writable, role = whoami(token)
    if role == "read":
        raise HubError(f"This token (of {user}) can only read: make one with write access at "
                       "https://huggingface.co/settings/tokens.")
    owner = (owner or "").strip().strip("/") or user
    if owner not in writable:
        raise HubError(f"This token belongs to {user}, who cannot create repos under {owner!r}; "
                       f"use {', '.join(sorted(writable))}.")
    urls = {}
    for model, repo in proposed_repos(owner, job.name, [e.name for e in job.plan.entries]).items():
        folder = job.models_folder / model
        if (folder / "config.json").is_file():
            try:
                urls[model] = push(folder, repo, private=private, token=token)
            except (HubError, ValueError) as e:
                done = "; ".join(f"{m}: {u}" for m, u in urls.items())
                raise HubError(redact(f"pushing {repo} failed: {e}" + (f" (pushed before it: {done})" if done else ""))) from None
    return urls


_SERVER: RaceServer | None = None


def server() -> RaceServer:
    """The process' race server (made when first asked for): one race at a time for the whole app."""
    global _SERVER
    if _SERVER is None:
        _SERVER = RaceServer()
    return _SERVER


def set_server(new: RaceServer | None) -> RaceServer | None:
    """Replace the process' race server (tests: shorter limits); returns the old one."""
    global _SERVER
    old, _SERVER = _SERVER, new
    return old
