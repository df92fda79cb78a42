"""A fourth model type in one class and one register() line, defined in this file alone, goes through the
whole shared contract: training from the command line, save, load, seeded sampling, scoring, and a
Compare of four models through the app's own functions."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn

import app
from rnnlm import cli, store
from rnnlm.config import ModelConfig
from rnnlm.models import MODELS, ModelSpec, register
from rnnlm.models.base import check_tensors
from rnnlm.models.torch_rnn import TorchTrainer
from rnnlm.vocab import Vocab
from tests.support import make_tiny_checkpoints, served


class ElmanRNN(nn.Module):
    """torch's nn.RNN (tanh) over an embedding: a model type rnnlm does not ship."""

    def __init__(self, config: ModelConfig, seed: int = 0):
        super().__init__()
        self.config, self.vocab = config, Vocab(config.vocab)
        V, E, H = config.vocab_size, config.embed_size, config.hidden_size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed, self.rnn, self.head = nn.Embedding(V, E), nn.RNN(E, H, config.num_layers, batch_first=True), nn.Linear(H, V)

    def init_state(self, batch_size):
        return (torch.zeros(self.config.num_layers, batch_size, self.config.hidden_size),)

    def forward_logits(self, ids, state):
        out, h = self.rnn(self.embed(ids), state[0])
        return self.head(out), (h,)

    @torch.inference_mode()
    def forward(self, ids, state):
        logits, state = self.forward_logits(torch.as_tensor(np.asarray(ids, dtype=np.int64)), state)
        return logits.numpy(), state

    def step(self, ids, state):
        logits, state = self.forward(np.asarray(ids)[:, None], state)
        return logits[:, 0], state

    def num_params(self):
        return sum(p.numel() for p in self.parameters())

    def tensors(self):
        return {k: v.detach().numpy().copy() for k, v in self.state_dict().items()}

    def load_tensors(self, tensors):
        check_tensors({k: tuple(v.shape) for k, v in self.state_dict().items()}, tensors)
        self.load_state_dict({k: torch.as_tensor(v) for k, v in tensors.items()})

    def state_tensors(self, state):
        return {"h": state[0].numpy()}

    def state_from_tensors(self, tensors):
        return (torch.as_tensor(tensors["h"]),)

    def trainer(self, cfg):
        return TorchTrainer(self, cfg)


@pytest.fixture
def elman():
    """The fourth type, registered with one line for the length of a test."""
    register(ModelSpec("elman", "Elman RNN", "pytorch", "An Elman RNN of {hidden_size} tanh units over {vocab_size} "
                       "tokens.", ElmanRNN, ElmanRNN, dict(hidden_size=16, num_layers=1, embed_size=8, batch_size=4)))
    yield MODELS["elman"]
    del MODELS["elman"]


def test_a_fourth_type_trains_saves_loads_samples_scores_and_compares(elman, corpus, tmp_path, capsys):
    out = tmp_path / "elman"
    assert cli.main(["train", "--model", "elman", "--data", str(corpus), "--out", str(out), "--max-iters", "6",
                     "--eval-every", "3", "--seq-len", "16", "--warmup-iters", "1", "--no-progress"]) == 0
    assert "best val" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "elman" and config["hidden_size"] == 16  # the spec's defaults
    assert "An Elman RNN of 16 tanh units" in (out / "README.md").read_text()  # the card reads the spec

    trained, running = store.load(out), store.load(out, inference=True)
    assert isinstance(trained, ElmanRNN) and isinstance(running, ElmanRNN)
    assert all(np.array_equal(a, running.tensors()[k]) for k, a in trained.tensors().items())

    texts = []
    for _ in range(2):
        assert cli.main(["sample", str(out), "--prompt", "BRUTUS:", "--length", "30", "--seed", "4"]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and len(texts[0]) == len("BRUTUS:") + 30 + 1
    assert cli.main(["score", str(out), "--text", "The night is long.", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["chars_scored"] == 18 and 0 < figures["bits_per_char"] < 10

    folders = make_tiny_checkpoints(tmp_path / "three") | {"elman": out}
    models = served(folders)
    view = app.build_demo(models).view
    assert [m.label for m in view.models] == ["vanilla RNN", "LSTM", "GRU", "Elman RNN"]
    *columns, notes, copies = list(view.compare("BRUTUS:\n", 25, 0.8, 0, 1.0, "11"))[-1]
    texts, stats = columns[:4], columns[4:]
    assert all(len(t) == 25 for t in texts)  # the continuations
    assert all("parameters" in s for s in stats)
