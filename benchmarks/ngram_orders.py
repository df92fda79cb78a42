"""Kneser-Ney n-grams of orders 1..12 on a corpus: validation loss, size and fit time per order.

    python benchmarks/ngram_orders.py [--data FILE] [--max-order 12] [--prune 6] [--max-mb 12]

Fits on the first 90% of the characters and scores the last 10% (each character given the ones before
it in the validation text). Every order is fitted from scratch, so "fit s" is what one fit() costs:
counting, cutting the tables and loading them. The right-hand columns refit each order from --prune
up with its singletons dropped, and more if needed for the safetensors file to fit in --max-mb. On Tiny
Shakespeare pruning helps twice: the files shrink and validation loss drops (singletons at high orders
are mostly noise that KN would otherwise trust).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere

from rnnlm.data import read_text, split  # noqa: E402
from rnnlm.models.ngram import fit  # noqa: E402
from rnnlm.vocab import Vocab  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"


def timed_fit(vocab, train_ids, val_ids, order, prune=0, max_mb=None):
    """(model, fit seconds, validation nats/char)."""
    start = time.perf_counter()
    model = fit(vocab, train_ids, order, prune=prune, max_mb=max_mb)
    seconds = time.perf_counter() - start
    return model, seconds, float(-model.token_logprobs(val_ids).mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="UTF-8 text corpus")
    parser.add_argument("--max-order", type=int, default=12, help="highest order to fit")
    parser.add_argument("--prune", type=int, default=6, help="pruned models drop singletons from this order up")
    parser.add_argument("--max-mb", type=float, default=12.0, help="size budget of the pruned models, MB")
    args = parser.parse_args(argv)

    text = read_text(args.data)
    vocab = Vocab.from_text(text)
    train, val = split(text)
    train_ids, val_ids = vocab.encode(train), vocab.encode(val)
    print(f"{args.data}: {len(train):,} train / {len(val):,} val characters, vocabulary {len(vocab)}")
    print(f"{'':>5} {'--- all counts ':-<40} {f'--- pruned from order {args.prune}, within {args.max_mb:g} MB ':-<44}")
    print(f"{'order':>5} {'nats':>7} {'bits':>6} {'MB':>7} {'counts':>10} {'fit s':>6}"
          f" {'prune':>6} {'nats':>7} {'bits':>6} {'MB':>7} {'counts':>10} {'fit s':>6}")
    for order in range(1, args.max_order + 1):
        model, seconds, nats = timed_fit(vocab, train_ids, val_ids, order)
        row = f"{order:>5} {nats:7.4f} {nats / math.log(2):6.3f} {model.size_mb():7.2f} {model.num_params():10,} {seconds:6.2f}"
        if order >= args.prune or model.size_mb() > args.max_mb:
            model, seconds, nats = timed_fit(vocab, train_ids, val_ids, order, args.prune, args.max_mb)
            row += (f" {model.config.options['prune']:>6} {nats:7.4f} {nats / math.log(2):6.3f} {model.size_mb():7.2f}"
                    f" {model.num_params():10,} {seconds:6.2f}")
        print(row, flush=True)


if __name__ == "__main__":
    main()
