"""rnnlm: character-level language models (a numpy vanilla RNN, a torch LSTM and GRU) behind one interface."""
from __future__ import annotations

from .checkpoint import CheckpointError, load, save
from .config import MODEL_TYPES, ModelConfig, TrainConfig
from .hub import HubError, load_model
from .models import DESCRIPTIONS as MODELS
from .models import build_model
from .sample import SampleSettings, generate, stream
from .score import Score, score

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "HubError", "MODEL_TYPES", "MODELS", "ModelConfig", "TrainConfig", "SampleSettings",
    "Score", "build_model", "generate", "load", "load_model", "save", "score", "stream",
]
