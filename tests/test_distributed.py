"""Training on several processes (torchrun): the share of each rank, the same steps as one process, a stop on
any rank, resume, and the clear errors for what cannot train that way."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlm import checkpoint
from rnnlm.config import TrainConfig
from rnnlm.distributed import Ranks, from_env, torch_device
from rnnlm.train import new_model_config, train
from tests.support import REPO, free_port, rnnlm

TINY = ["--hidden-size", "16", "--num-layers", "2", "--embed-size", "8", "--dropout", "0", "--seq-len", "16",
        "--warmup-iters", "2", "--seed", "5", "--no-progress"]


def torchrun(*args, nproc: int = 2, **popen):
    """`python -m torch.distributed.run --nproc_per_node=N -m rnnlm train ARGS` as a child process."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", f"--master_port={free_port()}",
           "-m", "rnnlm", "train", *map(str, args)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def tensors(folder: Path, name: str) -> dict[str, np.ndarray]:
    return checkpoint.load_tensors(folder / "resume" / name)


def test_each_rank_takes_an_even_share_of_the_streams():
    assert [Ranks(r, 4).rows(8) for r in range(4)] == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8)]
    assert Ranks().rows(8) == slice(0, 8)
    with pytest.raises(ValueError, match="--batch-size 6 does not split evenly over 4 processes"):
        Ranks(0, 4).rows(6)
    shares = [Ranks(r, 3).share(16) for r in range(3)]  # validation streams need not split evenly
    assert shares[0].start == 0 and shares[-1].stop == 16 and all(a.stop == b.start for a, b in zip(shares, shares[1:]))


def test_the_torchrun_environment_is_read_and_checked():
    assert from_env({}) == Ranks()
    assert from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == Ranks(1, 2, 1)
    with pytest.raises(ValueError, match="WORLD_SIZE must be a whole number, got 'two'"):
        from_env({"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match="RANK=2, WORLD_SIZE=2"):
        from_env({"RANK": "2", "WORLD_SIZE": "2"})


@pytest.mark.parametrize("model_type", ["rnn", "ngram"])
def test_the_numpy_models_say_they_train_on_one_process(model_type, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    cfg = TrainConfig(data=str(corpus), max_iters=2)
    with pytest.raises(ValueError, match="trains in numpy on one process.*2 processes \\(WORLD_SIZE=2: torchrun\\)"):
        train(tmp_path / model_type, cfg, new_model_config(model_type, "", hidden_size=8), progress_bar=False)
    assert not (tmp_path / model_type).exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_is_a_clear_error(corpus, tmp_path):
    with pytest.raises(ValueError, match="--device cuda: no CUDA device is available here"):
        torch_device("cuda", Ranks())
    r = rnnlm("train", "--model", "lstm", "--data", corpus, "--out", tmp_path / "run", "--device", "cuda",
              "--max-iters", 2, *TINY, cwd=tmp_path)
    assert r.returncode == 1 and "no CUDA device" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ValueError, match="--device must be cpu, cuda or cuda:N, got 'gpu'"):
        torch_device("gpu", Ranks())


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", ["float32", "bf16"])
def test_training_on_cuda_leaves_device_free_checkpoints_that_resume(dtype, corpus, tmp_path):
    from rnnlm import store

    cfg = TrainConfig(data=str(corpus), max_iters=6, eval_every=3, batch_size=4, seq_len=16, dtype=dtype)
    config = new_model_config("gru", "", hidden_size=16, num_layers=2, embed_size=8)
    first = train(tmp_path / "run", cfg, config, progress_bar=False, device="cuda", stop_at_step=3)
    assert first["interrupted"]
    assert train(tmp_path / "run", resume=True, progress_bar=False, device="cuda")["steps"] == 6
    model = store.load(tmp_path / "run")  # a CPU-only process can load it
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in model.tensors().values())
    assert "cuda" not in json.dumps(checkpoint.read_config(tmp_path / "run").to_dict())


def test_two_ranks_take_the_steps_of_one_process_with_their_whole_batch(corpus, tmp_path):
    common = ["--model", "lstm", "--data", corpus, "--batch-size", 4, "--max-iters", 5, "--eval-every", 5, *TINY]
    proc = torchrun(*common, "--out", tmp_path / "two")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert stdout.count("finished at step 5") == 1  # rank 0 reports; the other rank is silent
    one = rnnlm("train", *common, "--out", tmp_path / "one", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    for name in ("model.safetensors", "carried.safetensors"):
        a, b = tensors(tmp_path / "two", name), tensors(tmp_path / "one", name)
        assert a.keys() == b.keys()
        for k in a:
            # float rounding differs (two half-batch means averaged vs one mean), and Adam, which divides each
            # gradient by its own size, magnifies it where a gradient is near zero
            np.testing.assert_allclose(a[k], b[k], atol=1e-5, err_msg=f"{name}: {k}")
    val = {run: [json.loads(l)["val_loss"] for l in (tmp_path / run / "log.jsonl").read_text().splitlines()
                 if "val_loss" in l] for run in ("one", "two")}
    np.testing.assert_allclose(val["two"], val["one"], rtol=1e-6)  # evaluation summed over the two ranks
    assert len(tensors(tmp_path / "two", "optimizer.safetensors")["rng_ranks"]) == 2  # each rank's dropout RNG


def _workers(agent_pid: int) -> list[int]:
    """The processes torchrun started (Linux: /proc)."""
    kids = []
    for task in Path(f"/proc/{agent_pid}/task").iterdir():
        kids += [int(p) for p in (task / "children").read_text().split()]
    return kids


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds torchrun's workers through /proc")
def test_sigterm_to_one_rank_stops_every_rank_after_the_same_step_and_the_run_resumes(corpus, tmp_path):
    out = tmp_path / "run"
    proc = torchrun("--model", "gru", "--data", corpus, "--out", out, "--batch-size", 4, "--max-iters", 1_000_000,
                    "--eval-every", 1_000_000, "--log-every", 1, *TINY)
    deadline = time.monotonic() + 120
    while not (out / "log.jsonl").is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    workers = _workers(proc.pid)
    assert len(workers) == 2
    os.kill(workers[1], signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "stopped (resume with --resume)" in stdout and "Traceback" not in stderr
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    stopped_at = json.loads((out / "resume" / "progress.json").read_text())["progress"]["step"]
    assert stopped_at >= 1
    proc = torchrun("--resume", out, "--max-iters", stopped_at + 3, "--no-progress")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"finished at step {stopped_at + 3}" in stdout
    rows = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train_loss" in r] == list(range(1, stopped_at + 4))
