"""Does a race slow the other visitors down? Compare 3x300 through the API, idle and during a race, and the
time from pressing Train to the race's first curve point.

    python benchmarks/bench_race.py [--rounds 5] [--data FILE]

Serves the app on the bundled checkpoints with the real race server (niced one-thread race process).
On a machine shared with other work the figures are indicative only.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gradio_client import Client  # noqa: E402

from rnnlm import playground as pg  # noqa: E402
from rnnlm.playground import racejobs  # noqa: E402
from tests.support import serve_app  # noqa: E402


def compare_seconds(client: Client, rounds: int) -> list[float]:
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        client.predict("JULIET:\n", 300, 0.8, 0, 1.0, str(i), api_name="/compare")
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "alice.txt"))
    args = p.parse_args()
    text = Path(args.data).read_text(encoding="utf-8")
    races = racejobs.RaceServer()
    racejobs.set_server(races)
    with serve_app(pg.load_app_models()) as (_, url):
        client, trainer = Client(url, verbose=False), Client(url, verbose=False)
        compare_seconds(client, 1)  # warm up
        idle = compare_seconds(client, args.rounds)
        pressed = time.perf_counter()
        job = trainer.submit(None, text, 120, ["rnn", "lstm", "gru"], "auto", api_name="/train")
        while not (job.outputs() and job.outputs()[-1][2]["data"]):
            time.sleep(0.05)
        first_point = time.perf_counter() - pressed
        busy = compare_seconds(client, args.rounds)
        trainer.predict(api_name="/stop")
        job.result()
    races.close()
    i, b = statistics.median(idle), statistics.median(busy)
    print(f"Compare 3x300, median of {args.rounds}: idle {i:.2f} s, during a race {b:.2f} s: {b / i:.2f}x (target < 2x)")
    print(f"Train pressed -> first curve point: {first_point:.1f} s (cold: the race process loads torch first)")


if __name__ == "__main__":
    main()
