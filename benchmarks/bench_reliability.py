"""The app's memory and fairness under abuse: RSS over many sessions of the largest requests, and light users'
latency while one client floods.

    python benchmarks/bench_reliability.py                 # the bundled checkpoints/rnn, lstm, gru
    python benchmarks/bench_reliability.py --checkpoints DIR --requests 500 --sessions 50   # a shorter run

Starts `python app.py` on 127.0.0.1 (a free port; nothing else is contacted) and stops it at the end, or after
--deadline seconds whatever happens. Two measurements:
- memory: --requests generate calls spread over --sessions sessions (each its own session hash), every body just
  under the request cap (a prompt of ~256 KB, which the app cuts to its last 2,000 characters), plus a few
  oversized bodies that must be refused unread. Prints the server's RSS before and after, its peak, and the
  bound: RSS after below --bound MB.
- fairness: --light users each make --light-calls short generate calls in turn, first alone, then while one
  client floods the models' queue with 5,000-character score calls from 4 threads. Prints light users' p50 and
  p95 in both runs, and how many of the flood's calls were taken and refused (at most 2 waiting per visitor).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere

from rnnlm.playground.guard import MAX_REQUEST_BYTES, MAX_WAITING_PER_SESSION, SESSION_CAPACITY  # noqa: E402
from tests.support import free_port  # noqa: E402

SCORE_TEXT = ("ROMEO:\nBut soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n"
              * 60)[:5000]


def start_app(checkpoints: Path, port: int) -> subprocess.Popen:
    """`python app.py` serving checkpoints/<type> on 127.0.0.1:port, once it answers."""
    env = os.environ | {f"RNNLM_{n.upper()}": str(checkpoints / n) for n in ("rnn", "lstm", "gru")} | {
        "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(1200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError("app.py exited before serving") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("app.py did not answer within 60 s")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def call(http: httpx.Client, base: str, api: str, data: list, session: str | None) -> tuple[int, str]:
    """One API call the way /gradio_api/call/ works: POST the inputs, then read the event's stream to its end."""
    body = {"data": data} | ({"session_hash": session} if session else {})
    r = http.post(f"{base}gradio_api/call/{api}", json=body)
    if r.status_code != 200:
        return r.status_code, r.text
    with http.stream("GET", f"{base}gradio_api/call/{api}/{r.json()['event_id']}") as s:
        text = "".join(s.iter_text())
    return (200 if "event: complete" in text else 500), text[-300:]


def generate_data(prompt: str, length: int) -> list:
    return ["lstm", prompt, length, 0.8, 0, 1.0, "7"]


# --- memory ----------------------------------------------------------------------------------------


def memory(base: str, pid: int, requests: int, sessions: int, workers: int) -> dict:
    """RSS before and after `requests` maximal generate calls over `sessions` sessions."""
    envelope = len(json.dumps({"data": generate_data("", 1), "session_hash": uuid.uuid4().hex}))
    line = "To be, or not to be, that is the question.\n"  # JSON writes the newline as 2 bytes
    prompt = line * ((MAX_REQUEST_BYTES - envelope - 64) // len(json.dumps(line)[1:-1]))
    body_bytes = len(json.dumps({"data": generate_data(prompt, 1), "session_hash": uuid.uuid4().hex}))
    per_session = [requests // sessions + (i < requests % sessions) for i in range(sessions)]
    before = rss_mb(pid)[0]
    codes: dict[int, int] = {}
    lock = threading.Lock()

    def one_session(n: int) -> None:
        session = uuid.uuid4().hex
        with httpx.Client(timeout=60) as http:
            for _ in range(n):  # one after another, as a visitor would: never over the per-session cap
                code, _ = call(http, base, "generate", generate_data(prompt, 1), session)
                with lock:
                    codes[code] = codes.get(code, 0) + 1

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one_session, per_session))
    oversized = [httpx.post(f"{base}gradio_api/call/generate", timeout=60,
                            json={"data": generate_data("x" * 2_000_000, 1)}).status_code for _ in range(20)]
    seconds = time.perf_counter() - start
    after, peak = rss_mb(pid)
    return dict(before=before, after=after, peak=peak, body_bytes=body_bytes, codes=codes, seconds=seconds,
                oversized=oversized)


# --- fairness --------------------------------------------------------------------------------------


def light_users(base: str, users: int, calls: int) -> tuple[list[float], int]:
    """Latencies of `users` users each making `calls` short generate calls in turn; and how many failed."""
    latencies, failures, lock = [], [0], threading.Lock()

    def user(_):
        session = uuid.uuid4().hex
        with httpx.Client(timeout=120) as http:
            for _ in range(calls):
                t = time.perf_counter()
                code, _ = call(http, base, "generate", generate_data("JULIET:\n", 60), session)
                with lock:
                    latencies.append(time.perf_counter() - t)
                    failures[0] += code != 200
                time.sleep(0.2)  # a person reads before clicking again

    with ThreadPoolExecutor(users) as pool:
        list(pool.map(user, range(users)))
    return latencies, failures[0]


def flood(base: str, stop: threading.Event, counts: dict) -> None:
    """One client (one gradio_client session) sending score calls from 4 threads as fast as it is let."""
    from gradio_client import Client
    from gradio_client.exceptions import ValidationError

    client, lock = Client(base, verbose=False), threading.Lock()

    def sender():
        while not stop.is_set():
            try:
                client.predict(SCORE_TEXT, api_name="/score")
                outcome = "taken"
            except ValidationError:
                outcome = "refused"
                time.sleep(0.01)
            except Exception as e:  # noqa: BLE001 - counted and shown, the run goes on
                outcome = type(e).__name__
            with lock:
                counts[outcome] = counts.get(outcome, 0) + 1

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(130)


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values or [float("nan")])[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", type=Path, default=REPO / "checkpoints", help="folder holding rnn/, lstm/, gru/")
    ap.add_argument("--requests", type=int, default=2000, help="maximal calls in the memory run")
    ap.add_argument("--sessions", type=int, default=200, help="sessions they are spread over")
    ap.add_argument("--workers", type=int, default=8, help="sessions sending at once")
    ap.add_argument("--light", type=int, default=10, help="light users in the fairness run")
    ap.add_argument("--light-calls", type=int, default=5, help="calls per light user")
    ap.add_argument("--bound", type=float, default=600, help="RSS bound to check, MB")
    ap.add_argument("--deadline", type=float, default=900, help="seconds after which the run stops, finished or not")
    args = ap.parse_args()

    port = free_port()
    proc = start_app(args.checkpoints, port)
    watchdog = threading.Timer(args.deadline, lambda: (print("deadline reached: stopping", flush=True), proc.kill(),
                                                       os._exit(2)))
    watchdog.daemon = True
    watchdog.start()
    base = f"http://127.0.0.1:{port}/"
    try:
        print(f"app on {base} (pid {proc.pid}), checkpoints {args.checkpoints}; limits: {MAX_REQUEST_BYTES:,} bytes "
              f"per request, {SESSION_CAPACITY} sessions kept, {MAX_WAITING_PER_SESSION} waiting per visitor")
        m = memory(base, proc.pid, args.requests, args.sessions, args.workers)
        print(f"\nmemory: {sum(m['codes'].values())} generate calls of {m['body_bytes']:,} bytes over {args.sessions} "
              f"sessions in {m['seconds']:.0f} s; answers {m['codes']}; 20 bodies of 2 MB answered {set(m['oversized'])}")
        print(f"  RSS before {m['before']:.0f} MB, after {m['after']:.0f} MB (+{m['after'] - m['before']:.0f}), "
              f"peak {m['peak']:.0f} MB; bound {args.bound:.0f} MB: {'within' if m['peak'] < args.bound else 'OVER'}")

        alone, failed_alone = light_users(base, args.light, args.light_calls)
        stop, counts = threading.Event(), {}
        flooder = threading.Thread(target=flood, args=(base, stop, counts), daemon=True)
        flooder.start()
        time.sleep(1.0)  # the flood is under way
        loaded, failed_loaded = light_users(base, args.light, args.light_calls)
        stop.set()
        flooder.join(130)
        print(f"\nfairness: {args.light} light users x {args.light_calls} generate calls (60 chars)")
        print(f"  alone:                p50 {p(alone, 50):.2f} s, p95 {p(alone, 95):.2f} s, failed {failed_alone}")
        print(f"  while one client floods: p50 {p(loaded, 50):.2f} s, p95 {p(loaded, 95):.2f} s, failed {failed_loaded}")
        print(f"  the flood's score calls (5,000 characters): {counts}")
        print(f"  server RSS now {rss_mb(proc.pid)[0]:.0f} MB")
    finally:
        proc.kill()
        proc.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
