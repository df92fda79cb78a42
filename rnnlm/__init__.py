"""rnnlm: small recurrent language models (a numpy vanilla RNN, a torch LSTM and GRU) behind one interface."""
from __future__ import annotations

from .checkpoint import CheckpointError
from .config import ModelConfig, TrainConfig
from .hub import HubError, load_model
from .models import MODELS, ModelSpec, build_model, register, runner
from .sample import NextTokens, SampleSettings, generate, stream, top_next
from .score import Score, SentenceScore, score, score_sentences
from .store import load, save

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "HubError", "MODELS", "ModelConfig", "ModelSpec", "NextTokens", "TrainConfig", "SampleSettings",
    "Score", "SentenceScore", "build_model", "generate", "load", "load_model", "register", "runner", "save", "score",
    "score_sentences", "stream", "top_next",
]
