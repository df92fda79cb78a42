"""How fast the memorization meter indexes a training text and checks generated text against it.

    python benchmarks/memorize_speed.py [--data FILE] [--chars 2000] [--repeats 20]

Times building the suffix array (cold, no cache), opening an Index from the in-process cache and from an
on-disk cache, and checking --chars generated characters (median of --repeats runs) for two texts: one
spliced from training passages of 5 to 60 characters (heavily copied), and one sampled from an order-7
Kneser-Ney n-gram fitted on the text (whose pieces are all seen, but mostly short).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere

from rnnlm import memorize  # noqa: E402
from rnnlm.data import read_text  # noqa: E402
from rnnlm.models.ngram import fit  # noqa: E402
from rnnlm.sample import generate  # noqa: E402
from rnnlm.vocab import Vocab  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_ms(fn, repeats: int) -> float:
    fn()  # warm up
    return 1e3 * float(np.median([seconds(fn) for _ in range(repeats)]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="UTF-8 training text")
    parser.add_argument("--chars", type=int, default=2000, help="generated characters to check")
    parser.add_argument("--repeats", type=int, default=20, help="timed checks per text (the median is shown)")
    args = parser.parse_args(argv)
    text = read_text(args.data)
    print(f"{args.data}: {len(text):,} characters")

    print(f"suffix array, built:          {seconds(lambda: memorize.suffix_array(memorize.codes_of(text))):7.3f} s")
    with tempfile.TemporaryDirectory() as cache_dir:
        memorize._cache.clear()
        print(f"Index, built and saved:       {seconds(lambda: memorize.Index(text, cache_dir)):7.3f} s")
        print(f"Index, from the memory cache: {seconds(lambda: memorize.Index(text)) * 1e3:7.1f} ms")
        memorize._cache.clear()
        print(f"Index, from the disk cache:   {seconds(lambda: memorize.Index(text, cache_dir)) * 1e3:7.1f} ms")
    index = memorize.Index(text)

    rng = random.Random(0)
    spliced = ""
    while len(spliced) < args.chars:
        start = rng.randrange(len(text) - 60)
        spliced += text[start : start + rng.randint(5, 60)]
    vocab = Vocab.from_text(text)
    sampled = generate(fit(vocab, vocab.encode(text), 7), "\n", length=args.chars, temperature=1.0, seed=0)

    for name, gen in (("spliced passages", spliced[: args.chars]), ("order-7 n-gram sample", sampled)):
        ms = median_ms(lambda: index.matching_statistics(gen), args.repeats)
        length, start, _ = index.longest_copied(gen)
        print(f"\n{name}: {len(gen):,} characters checked in {ms:.1f} ms (median of {args.repeats})")
        print(f"  copied 20-char windows {index.copied_fraction(gen, 20):6.1%}   "
              f"spans of 20+ chars {len(index.copied_spans(gen, 20)):4d}   "
              f"longest copy {length} chars: {gen[start : start + length]!r}")


if __name__ == "__main__":
    main()
