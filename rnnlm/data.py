"""Reading a corpus, the 90/10 split, and batches of B parallel streams.

batchify lays the training ids out as B contiguous streams, one row each:

    text:  a b c d e f g h i j k l m n o p q r s t u v w x      (N = 24, B = 4)
    rows:  a b c d e f      <- stream 0
           g h i j k l      <- stream 1
           m n o p q r      <- stream 2
           s t u v w x      <- stream 3

Window k takes columns [k*T, (k+1)*T) as inputs and the next column over as targets, so row b of
window k+1 continues exactly where row b of window k stopped: the hidden state carried from one
window to the next (and detached) is the state of the same stream (truncated BPTT).
"""
from __future__ import annotations

import functools
import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

# Known corpora, downloadable on a machine with internet (`python -m rnnlm download NAME`).
CORPORA = {
    "tinyshakespeare": dict(
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        gutenberg=False,
    ),
    "alice": dict(url="https://www.gutenberg.org/cache/epub/11/pg11.txt", sha256=None, gutenberg=True),
    "sherlock": dict(url="https://www.gutenberg.org/cache/epub/1661/pg1661.txt", sha256=None, gutenberg=True),
}


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file as a string, with a clear error when it is missing, empty or not UTF-8."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--data {path} is a folder; give a UTF-8 text file")
    if not path.is_file():
        raise FileNotFoundError(f"corpus not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text (a binary file?): {e}") from None
    if len(text) < 2:
        raise ValueError(f"{path} is too short to train on ({len(text)} characters)")
    return text


def find_corpus(recorded: str) -> Path | None:
    """The training text a checkpoint names (config.training["data"]) on this machine, or None.

    Looked for as recorded, then by its file name in $RNNLM_DATA_DIR, ./data (where `python -m rnnlm
    download` puts it) and ../shared/data beside the repository.
    """
    if not recorded:
        return None
    name = Path(recorded).name
    places = [Path(recorded), Path(os.environ.get("RNNLM_DATA_DIR", "data")) / name, Path("data") / name,
              Path(__file__).resolve().parents[2] / "shared" / "data" / name]
    return next((p for p in places if p.is_file()), None)


def corpus_split(training: dict) -> tuple[str, str] | None:
    """(training, validation) text of the corpus a checkpoint's training settings name (config.training), when
    that corpus is on this machine (find_corpus); None when it is not. Read once per corpus and split."""
    return _corpus_split(str(training.get("data", "")), float(training.get("val_fraction", 0.1)))


@functools.lru_cache(maxsize=4)
def _corpus_split(recorded: str, val_fraction: float) -> tuple[str, str] | None:
    path = find_corpus(recorded)
    return None if path is None else split(read_text(path), val_fraction)


def split(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """First (1 - val_fraction) of the characters train, the rest validate (contiguous)."""
    n = int(len(text) * (1 - val_fraction))
    return text[:n], text[n:]


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut ids into batch_size contiguous streams: (B, N // B); the remainder is dropped."""
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"{len(ids)} characters are too few for {batch_size} streams")
    return ids[: n * batch_size].reshape(batch_size, n)  # (B, N/B)


class Batches:
    """Windows of (x, y), each (B, T), walking the streams in order; wraps around at the end.

    `position` is the next window's first column: saving and restoring it resumes the walk exactly.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int):
        self.streams = batchify(ids, batch_size)  # (B, L)
        self.seq_len = min(seq_len, self.streams.shape[1] - 1)
        self.position = 0
        self.epoch = 0

    def next(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """The next (x, y) window and whether it starts a new pass (callers reset the carried state)."""
        T, L = self.seq_len, self.streams.shape[1]
        wrapped = False
        if self.position + T + 1 > L:
            self.position, self.epoch, wrapped = 0, self.epoch + 1, True
        p = self.position
        x = self.streams[:, p : p + T]  # (B, T)
        y = self.streams[:, p + 1 : p + T + 1]  # (B, T): each input's next character
        self.position = p + T
        return np.ascontiguousarray(x), np.ascontiguousarray(y), wrapped or p == 0


def download(name: str, dest: str | os.PathLike) -> Path:
    """Fetch a known corpus into dest (checking Tiny Shakespeare's sha256; cutting Gutenberg's header/footer)."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}")
    info = CORPORA[name]
    dest = Path(dest)
    try:
        with urllib.request.urlopen(info["url"], timeout=30) as r:
            raw = r.read()
    except OSError as e:
        raise ConnectionError(f"could not download {name} from {info['url']}: {e}") from None
    if info["sha256"] and hashlib.sha256(raw).hexdigest() != info["sha256"]:
        raise ValueError(f"{name}: sha256 mismatch, expected {info['sha256']}; not saved")
    text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    if info["gutenberg"]:
        text = strip_gutenberg(text)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    return dest


def strip_gutenberg(text: str) -> str:
    """The book between Project Gutenberg's '*** START OF' and '*** END OF' lines."""
    lines = text.split("\n")
    start = next((i for i, l in enumerate(lines) if l.startswith("*** START OF")), -1)
    end = next((i for i, l in enumerate(lines) if l.startswith("*** END OF")), len(lines))
    return "\n".join(lines[start + 1 : end]).strip() + "\n"
