"""How many threads numpy's BLAS may use when models run one stream at a time.

OpenBLAS splits even a single matrix-vector product over every core, and its worker threads spin while
they wait for the next call. On an idle machine that helps a little; on a busy one the spinning threads
compete with the other processes for the cores and one product takes several times longer (a whole
sampling run on a machine with load 6 on 2 cores fell 70x). Sampling and scoring therefore use one
BLAS thread, and a long text uses the second core by running the LSTM's or GRU's layers on their own
threads (rnnlm.models.numpy_cells.run_stream), which block rather than spin when they wait.
Training keeps the library's default: its (B, T) matrix products are large enough to split.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController


@functools.cache
def _blas() -> ThreadpoolController:
    """The process' BLAS libraries, found once (the search reads every loaded library)."""
    return ThreadpoolController()


def single_stream() -> None:
    """From now on, one BLAS thread in this process: for processes that only sample and score."""
    _blas().limit(limits=1, user_api="blas")


@contextmanager
def one_blas_thread():
    """One BLAS thread inside the block, the previous setting after it."""
    with _blas().limit(limits=1, user_api="blas"):
        yield


def blas_threads() -> int:
    """The number of threads numpy's BLAS uses now (the largest, if several BLAS libraries are loaded)."""
    return max((lib.num_threads for lib in _blas().select(user_api="blas").lib_controllers), default=1)
