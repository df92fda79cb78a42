"""Training on several processes with torchrun: which process this is, and the few collective steps the loop takes.

    torchrun --nproc_per_node=2 -m rnnlm train --model lstm --data input.txt --out runs/lstm --batch-size 64

torchrun starts one process per rank and tells each who it is through RANK, WORLD_SIZE and LOCAL_RANK. The
--batch-size parallel streams of the text are shared out: rank r trains on rows [r b, (r + 1) b) of every
window, b = batch_size / WORLD_SIZE, and DistributedDataParallel averages the gradients, so N ranks take the
same steps as one process with the whole batch (to float rounding) and a run can resume on another number
of processes. Rank 0 alone writes files; the validation text is shared out the same way and its loss summed
over ranks.

Without torchrun (WORLD_SIZE unset or 1) this is Ranks() and every collective below returns its input
untouched, without importing torch.distributed.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (torchrun's RANK, WORLD_SIZE, LOCAL_RANK)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"  # where this rank trains; collectives run there too (gloo on the CPU, nccl on CUDA)

    @property
    def main(self) -> bool:
        """Whether this process writes the run's files."""
        return self.rank == 0

    @property
    def many(self) -> bool:
        return self.world > 1

    def rows(self, batch_size: int) -> slice:
        """This rank's share of batch_size parallel streams."""
        if batch_size % self.world:
            raise ValueError(f"--batch-size {batch_size} does not split evenly over {self.world} processes: "
                             f"give a multiple of {self.world} (it is the total over all processes)")
        share = batch_size // self.world
        return slice(self.rank * share, (self.rank + 1) * share)

    def share(self, n: int) -> slice:
        """This rank's share of n items when they need not split evenly (validation streams)."""
        bounds = np.linspace(0, n, self.world + 1).round().astype(int)
        return slice(int(bounds[self.rank]), int(bounds[self.rank + 1]))

    # --- collectives: every rank calls them at the same point -----------------------------------------

    def sum(self, values: list[float]) -> list[float]:
        """values summed over ranks, elementwise (float64)."""
        if not self.many:
            return list(values)
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, arrays: dict[str, np.ndarray], axis: int) -> dict[str, np.ndarray]:
        """Every rank's arrays (equal shapes) joined along axis, in rank order, on every rank."""
        if not self.many:
            return arrays
        import torch
        import torch.distributed as dist

        joined = {}
        for name, a in arrays.items():
            t = torch.as_tensor(np.ascontiguousarray(a), device=self.device)
            parts = [torch.empty_like(t) for _ in range(self.world)]
            dist.all_gather(parts, t)
            joined[name] = np.concatenate([p.cpu().numpy() for p in parts], axis=axis)
        return joined

    def barrier(self) -> None:
        if self.many:
            import torch.distributed as dist

            dist.barrier()


def from_env(env=None) -> Ranks:
    """The Ranks that torchrun's environment variables describe; Ranks() when they are absent."""
    env = os.environ if env is None else env
    values = {}
    for name, field in (("RANK", "rank"), ("WORLD_SIZE", "world"), ("LOCAL_RANK", "local_rank")):
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[field] = int(raw)
        except ValueError:
            raise ValueError(f"the environment variable {name} must be a whole number, got {raw!r}") from None
    ranks = Ranks(**values)
    if ranks.world < 1 or not 0 <= ranks.rank < ranks.world or ranks.local_rank < 0:
        raise ValueError(f"inconsistent torchrun environment: RANK={ranks.rank}, WORLD_SIZE={ranks.world}, "
                         f"LOCAL_RANK={ranks.local_rank}")
    return ranks


def torch_device(name: str, ranks: Ranks) -> str:
    """The torch device a rank trains on: "cpu", or "cuda" (each rank its LOCAL_RANK's GPU) / "cuda:N"."""
    kind, _, index = name.partition(":")
    if kind == "cpu" and not index:
        return "cpu"
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    import torch

    if not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available here (this torch: {torch.__version__}, "
                         f"built {'with' if torch.backends.cuda.is_built() else 'without'} CUDA)")
    if index and ranks.many:
        raise ValueError(f"--device {name}: under torchrun each process takes the GPU of its LOCAL_RANK; "
                         "give --device cuda")
    gpu = int(index) if index else (ranks.local_rank if ranks.many else 0)
    if gpu >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                         f"(process LOCAL_RANK {ranks.local_rank})")
    torch.cuda.set_device(gpu)
    return f"cuda:{gpu}"


@contextlib.contextmanager
def session(ranks: Ranks, device: str = "cpu"):
    """ranks with its torch device, for the length of a run, with the process group up when there are several."""
    ranks = replace(ranks, device=torch_device(device, ranks))
    if not ranks.many:
        yield ranks
        return
    import torch.distributed as dist

    dist.init_process_group("nccl" if ranks.device.startswith("cuda") else "gloo", rank=ranks.rank,
                            world_size=ranks.world)
    try:
        yield ranks
    finally:
        dist.destroy_process_group()
