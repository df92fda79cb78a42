"""The app under load: start it, time one compare on an idle server, then 20 users comparing at once.

    python benchmarks/bench_app_load.py            # the bundled checkpoints/rnn, lstm, gru
    python benchmarks/bench_app_load.py --checkpoints DIR   # DIR/rnn, DIR/lstm, DIR/gru

Starts `python app.py` as a visitor's server would run, on a free port, and prints the time until
it answers, next to the time `import gradio` alone takes in the same run. Then it times compare, 500
characters from each model (targets in a browser on an idle machine: first characters < 0.15 s, all three complete < 0.8 s; the app ready < 4 s):
- in a browser (Debian's chromium through playwright, when both are installed): from the click on
  Compare until the first characters show, and until all three columns are complete,
  timed inside the page;
- through gradio_client, alone and with --users concurrent users (errors must be 0; p50 and p95).
  gradio_client polls for messages (every 1 to 50 ms) in the same two cores, so its figures run
  higher than a browser's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import socket
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere

PROMPT = "JULIET:\nO Romeo, Romeo! wherefore art thou"


def start_app(folders: dict[str, Path], port: int) -> tuple[subprocess.Popen, float]:
    """`python app.py` serving folders on port; returns the process and seconds until it answered."""
    env = os.environ | {f"RNNLM_{n.upper()}": str(f) for n, f in folders.items()} | {"GRADIO_SERVER_PORT": str(port)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return proc, time.perf_counter() - start
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited: {proc.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.05)


def import_gradio_seconds() -> float:
    """Seconds a fresh `python -c "import gradio"` takes: the floor under the app's start."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import gradio"], check=True)
    return time.perf_counter() - start


# In the page: clear the three columns, click compare, and poll the columns every 2 ms until all are complete.
CLICK_AND_TIME = """([columns, n]) => new Promise((resolve, reject) => {
  const boxes = columns.map(s => document.querySelector(s));
  boxes.forEach(b => { b.value = ""; });
  const start = performance.now();
  let first = null;
  document.querySelector("#compare-button").click();
  const timer = setInterval(() => {
    const lengths = boxes.map(b => b.value.length);
    const now = performance.now() - start;
    if (first === null && lengths.some(l => l > 0)) first = now;
    if (lengths.every(l => l === n)) { clearInterval(timer); resolve({first: first / 1000, total: now / 1000}); }
    if (now > 60000) { clearInterval(timer); reject(new Error("lengths " + lengths)); }
  }, 2);
})"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def browser_compares(url: str, length: int, runs: int) -> list[dict] | None:
    """Click-to-first-characters and click-to-complete of compare in chromium, timed in the page; None
    without chromium or playwright."""
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium.exists():
        return None

    columns = [f"#compare-{name} textarea" for name in ("rnn", "lstm", "gru")]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url, wait_until="load")  # never "networkidle": the page keeps a connection open
        page.get_by_role("tab", name="Compare").click(timeout=60_000)
        page.locator("#compare-prompt textarea").fill(PROMPT)
        box = page.locator("#compare-length input[type=number]")
        box.fill(str(length))
        box.press("Enter")
        page.locator("button:visible", has_text="more settings").first.click()  # the seed sits folded away
        page.locator("#compare-seed input, #compare-seed textarea").first.fill("1")
        page.locator("#compare-button").click()  # warm-up, once the page is ready
        page.wait_for_function(
            "([sels, n]) => sels.every(s => document.querySelector(s).value.length === n)",
            arg=[columns, length], timeout=60_000)
        results = []
        for _ in range(runs):
            page.wait_for_timeout(500)  # the click is ignored while the last compare is still finishing
            results.append(page.evaluate(CLICK_AND_TIME, [columns, length]))
        browser.close()
    return results


def one_compare(client, length: int, seed: int) -> dict:
    """Seconds to the first update holding generated characters, and to the complete three texts."""
    start = time.perf_counter()
    job = client.submit(PROMPT, length, 0.8, 0, 1.0, str(seed), api_name="/compare")
    first = None
    for out in job:
        if first is None and any(out[:3]):
            first = time.perf_counter() - start
    texts = job.result()[:3]
    total = time.perf_counter() - start
    if not all(len(t) == length for t in texts):
        raise RuntimeError(f"incomplete texts: lengths {[len(t) for t in texts]}")
    return dict(first=first if first is not None else total, total=total)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", help="a folder with rnn/, lstm/ and gru/ (default: the bundled checkpoints/)")
    p.add_argument("--users", type=int, default=20, help="concurrent gradio_client users (default 20)")
    p.add_argument("--length", type=int, default=500, help="characters per model per compare (default 500)")
    p.add_argument("--solo", type=int, default=5, help="compares timed one at a time on the idle server (default 5)")
    p.add_argument("--starts", type=int, default=3,
                   help="app starts timed, alternating with bare `import gradio` runs (default 3)")
    args = p.parse_args()

    from gradio_client import Client

    root = Path(args.checkpoints) if args.checkpoints else REPO / "checkpoints"
    folders = {n: root / n for n in ("rnn", "lstm", "gru")}
    missing = [str(f) for f in folders.values() if not (f / "config.json").is_file()]
    if missing:
        print(f"no checkpoint in {', '.join(missing)}; give --checkpoints DIR", file=sys.stderr)
        return 2
    print(f"checkpoints: {', '.join(str(f) for f in folders.values())}")
    # This machine's speed drifts by tens of percent from minute to minute: alternate the two, take medians.
    readies, gradios = [], []
    for i in range(args.starts):
        gradios.append(import_gradio_seconds())
        port = free_port()
        proc, ready = start_app(folders, port)
        readies.append(ready)
        if i + 1 < args.starts:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"app ready after {statistics.median(readies):.2f} s (median of {args.starts} starts of python app.py until "
          f"the page answers: {', '.join(f'{r:.2f}' for r in readies)}); `import gradio` alone "
          f"{statistics.median(gradios):.2f} s ({', '.join(f'{g:.2f}' for g in gradios)})")
    try:
        url = f"http://127.0.0.1:{port}/"

        clicks = browser_compares(url, args.length, args.solo)
        if clicks is None:
            print("browser: skipped (needs /usr/bin/chromium and playwright)")
        else:
            print(f"browser, {args.length} chars x 3 models, {args.solo} runs: click to first chars median "
                  f"{statistics.median(r['first'] for r in clicks):.3f} s, to complete median "
                  f"{statistics.median(r['total'] for r in clicks):.3f} s (best {min(r['total'] for r in clicks):.3f} s)")

        client = Client(url, verbose=False)
        one_compare(client, args.length, 0)  # warm-up: first-call costs are not what a visitor waits for
        solo = [one_compare(client, args.length, seed) for seed in range(1, args.solo + 1)]
        print(f"gradio_client, one user, {args.length} chars x 3 models, {args.solo} runs: first chars median "
              f"{statistics.median(r['first'] for r in solo):.3f} s, complete median "
              f"{statistics.median(r['total'] for r in solo):.3f} s (best {min(r['total'] for r in solo):.3f} s)")

        clients = [Client(url, verbose=False) for _ in range(args.users)]
        results, errors = [], []
        lock, go = threading.Lock(), threading.Event()

        def user(i: int) -> None:
            go.wait()
            try:
                r = one_compare(clients[i], args.length, 100 + i)
                with lock:
                    results.append(r)
            except Exception as e:  # every failure counts, whatever its kind
                with lock:
                    errors.append(f"user {i}: {type(e).__name__}: {e}")

        threads = [threading.Thread(target=user, args=(i,)) for i in range(args.users)]
        for t in threads:
            t.start()
        start = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        totals, firsts = [r["total"] for r in results], [r["first"] for r in results]
        print(f"{args.users} concurrent users, one compare each ({wall:.1f} s wall): errors {len(errors)}")
        for e in errors:
            print(f"  {e}")
        if results:
            print(f"  latency      p50 {pct(totals, 50):.2f} s   p95 {pct(totals, 95):.2f} s   max {max(totals):.2f} s")
            print(f"  first chars  p50 {pct(firsts, 50):.2f} s   p95 {pct(firsts, 95):.2f} s")
        return 1 if errors else 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
