"""rnnlm: small recurrent language models (a numpy vanilla RNN, a torch LSTM and GRU) behind one interface."""
from __future__ import annotations

from .checkpoint import CheckpointError
from .config import ModelConfig, TrainConfig
from .hub import HubError, load_model
from .models import MODELS, ModelSpec, build_model, register, runner
from .sample import SampleSettings, generate, stream
from .score import Score, score
from .store import load, save

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "HubError", "MODELS", "ModelConfig", "ModelSpec", "TrainConfig", "SampleSettings", "Score",
    "build_model", "generate", "load", "load_model", "register", "runner", "save", "score", "stream",
]
